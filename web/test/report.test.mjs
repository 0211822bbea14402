// The HTML report in a real browser: Debian's Chromium driven by
// playwright-core (which never downloads a browser). For each page given:
//  - no console errors and no uncaught exceptions;
//  - every chart drew its series, with as many points as the JSON embedded
//    in the page says, and painted them on its canvas;
//  - the tooltip shows the JSON's value at a known point;
//  - sorting and filtering a table work;
//  - a link opens the right explanation;
// and each chart's screenshot is saved under --out. The checks are in
// checks.mjs; the dashboard served by `polycloud serve` has its own driver
// (dashboard.test.mjs) that uses them too.
//
//   node web/test/report.test.mjs --modules build/release/web-deps/node_modules \
//     --out build/release/browser report.html contracts.html ...
//
// Exit code 0 when every check passed, 1 otherwise (each failure is printed).
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve, extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { check, checkPage, setOut, summary } from './checks.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const web = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const modules = resolve(opt('--modules', join(web, 'node_modules')));
const out = resolve(opt('--out', 'browser-out'));
const chromiumPath = opt('--chromium', process.env.CHROMIUM || '/usr/bin/chromium');
const pages = args.map((p) => resolve(p));
const require = createRequire(join(modules, 'noop.js'));
const { chromium } = require('playwright-core');

setOut(out);

async function testPage(browser, file) {
  const name = basename(file, extname(file));
  console.log(name + ' (' + file + ')');
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push('console: ' + m.text()); });
  page.on('pageerror', (e) => errors.push('pageerror: ' + e.message));
  page.on('request', (r) => { if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) errors.push('network request: ' + r.url()); });
  await page.goto('file://' + file);
  try {
    await page.waitForFunction(() => window.PolycloudReport && window.PolycloudReport.ready === true, null, { timeout: 30000 });
  } catch (e) {
    await check('the page finishes drawing', () => assert.fail('not ready after 30 s; errors: ' + JSON.stringify(errors)));
    await page.close();
    return;
  }
  const d = await page.evaluate(() => JSON.parse(document.getElementById('polycloud-data').textContent));
  await checkPage(page, d, name, errors);
  await page.close();
}


const browser = await chromium.launch({
  executablePath: chromiumPath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic'],
});
try {
  for (const file of pages) await testPage(browser, file);
} finally {
  await browser.close();
}
process.exit(summary());

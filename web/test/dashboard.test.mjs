// The broker's dashboard in a real browser, against a running `polycloud
// serve` (tests/browser/dashboard_test.sh starts it): Debian's Chromium
// driven by playwright-core, which never downloads a browser. It
//  - makes an operator's and two tenants' tokens (POST /v1/tokens, as admin)
//    and submits jobs for both tenants through the API;
//  - opens the dashboard with the operator's token: no console errors, the
//    page and its files only from the broker, every chart drawn with the
//    points of the report the page fetched from /v1/report (the checks of
//    checks.mjs, shared with the HTML report's test), the queue and running
//    tables list the jobs /v1/jobs lists, a job submitted meanwhile appears
//    without a reload (the event stream), and clicking a job opens its
//    explanation (/v1/jobs/{id}/explain);
//  - opens it with a tenant's token: its own jobs only, no charts, sites or
//    events (the API refuses them), and another tenant's job unreadable;
//  - opens it with a bad token: a clear error and the login form, which then
//    takes the operator's token;
// and saves screenshots under --out/screenshots/dashboard/.
//
//   node web/test/dashboard.test.mjs --modules build/release/web-deps/node_modules \
//     --out build/release/browser --base http://127.0.0.1:PORT --admin TOKEN
//
// Exit code 0 when every check passed, 1 otherwise (each failure is printed).
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import assert from 'node:assert/strict';
import { check, checkPage, setOut, summary } from './checks.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i < 0 ? fallback : args[i + 1];
};
const modules = resolve(opt('--modules', 'node_modules'));
const out = resolve(opt('--out', 'browser-out'));
const base = opt('--base', 'http://127.0.0.1:8080');
const admin = opt('--admin', '');
const chromiumPath = opt('--chromium', process.env.CHROMIUM || '/usr/bin/chromium');
const require = createRequire(join(modules, 'noop.js'));
const { chromium } = require('playwright-core');
setOut(out);
const shots = join(out, 'screenshots', 'dashboard');
mkdirSync(shots, { recursive: true });

async function call(token, method, path, body) {
  const r = await fetch(base + path, {
    method: method,
    headers: Object.assign({ Authorization: 'Bearer ' + token }, body ? { 'Content-Type': 'application/json' } : {}),
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, headers: r.headers, body: text ? JSON.parse(text) : null };
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, fn, ms = 15000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await sleep(200);
  }
}

// Tokens and work, through the API as a client would.
const tokens = {};
for (const [name, body] of [['operator', { role: 'operator' }], ['research', { role: 'tenant', tenant: 'research' }],
  ['product', { role: 'tenant', tenant: 'product' }]]) {
  const r = await call(admin, 'POST', '/v1/tokens', body);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  tokens[name] = r.body.token;
}
const submitted = { research: [], product: [] };
const cancelled = [];
// Ten training jobs of 8 GPUs, the tenants' in turn: the fleet has 40 GPUs
// free beside the service, so five run and five wait (one priority: none
// preempts another).
for (let i = 1; i <= 5; i++) {
  for (const [tenant, job] of [['research', { id: 'train-' + i, class: 'research' }], ['product', { id: 'eval-' + i, class: 'eval' }]]) {
    const r = await call(tokens[tenant], 'POST', '/v1/jobs', Object.assign({ gpus: 8, work_gpu_hours: 2000 }, job));
    assert.equal(r.status, 201, JSON.stringify(r.body));
    submitted[tenant].push(job.id);
  }
}
// The next pass places what fits; the rest waits.
await until('a pass', async () => (await call(tokens.operator, 'GET', '/v1/jobs?status=running')).body.jobs.length > 0);
// Then three running jobs are cancelled a second and a half apart, so three
// waiting ones start in later buckets with waits of a few seconds (the
// queue-wait chart has points), and the time series gather buckets.
for (let k = 0; k < 3; k++) {
  await sleep(1500);
  const running = (await call(tokens.operator, 'GET', '/v1/jobs?status=running')).body.jobs;
  const r = await call(tokens.operator, 'DELETE', '/v1/jobs/' + running[0].id);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  cancelled.push(running[0].id);
}
await sleep(2500);
const live = (tenant) => submitted[tenant].filter((id) => !cancelled.includes(id));

const browser = await chromium.launch({
  executablePath: chromiumPath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic'],
});

// A page that records console errors, uncaught exceptions, requests that
// leave the broker and any request carrying a token in its address.
async function openPage(hash, search = '?every=0') {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const seen = { errors: [], refused: [], requests: [] };
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // Chromium logs each 4xx the page fetched; which it expects is checked per page.
    const refused = /Failed to load resource: the server responded with a status of (\d+)/.exec(m.text());
    if (refused) seen.refused.push(Number(refused[1]));
    else seen.errors.push('console: ' + m.text());
  });
  page.on('pageerror', (e) => seen.errors.push('pageerror: ' + e.message));
  page.on('request', (r) => seen.requests.push(r.url()));
  await page.goto(base + '/' + search + hash);
  await page.waitForFunction(() => window.PolycloudDashboard && window.PolycloudDashboard.ready === true, null, { timeout: 30000 });
  return { page, seen };
}

function checkRequests(seen) {
  const foreign = seen.requests.filter((u) => !u.startsWith(base + '/'));
  assert.deepEqual(foreign, [], 'every request goes to the broker');
  for (const t of Object.values(tokens).concat([admin])) {
    assert.ok(!seen.requests.some((u) => u.includes(t)), 'no token in a request\'s address');
  }
}

const idsIn = (page, panel) => page.evaluate((p) => [...document.querySelectorAll('#' + p + ' tbody tr')].map((tr) => tr.dataset.id), panel);
const apiIds = async (token, status) => (await call(token, 'GET', '/v1/jobs?status=' + status + '&limit=1000')).body.jobs.map((j) => j.id);

try {
  // ---------------------------------------------------------------- operator
  console.log('dashboard: operator (' + base + ')');
  {
    const { page, seen } = await openPage('#token=' + tokens.operator);
    await page.waitForFunction(() => window.PolycloudReport && window.PolycloudReport.ready === true && window.PolycloudDashboard.report, null, { timeout: 30000 });
    await check('the token left the address bar for the session', async () => {
      assert.equal(new URL(page.url()).hash, '');
      assert.equal(await page.evaluate(() => sessionStorage.getItem('polycloud-token')), tokens.operator);
      assert.match(await page.locator('#pc-who').textContent(), /operator/);
    });
    await check('the page, its scripts and styles come from the binary with a strict policy', async () => {
      const r = await fetch(base + '/');
      const csp = r.headers.get('content-security-policy');
      assert.match(csp, /default-src 'none'/);
      assert.match(csp, /script-src 'self'/);
      assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
      const js = await fetch(base + '/assets/report.js');
      assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
      const etag = js.headers.get('etag');
      assert.ok(etag);
      assert.equal((await fetch(base + '/assets/report.js', { headers: { 'If-None-Match': etag } })).status, 304);
    });
    // The report the page mounted is the one the checks read: every chart's
    // points come from it (they are fetched once: ?every=0).
    const d = await page.evaluate(() => window.PolycloudDashboard.report);
    await check('/v1/report is the simulate JSON of the run so far', async () => {
      assert.equal(d.schema, 'polycloud.report/1');
      assert.equal(d.scenario, 'dashboard-test');
      assert.ok(d.timeseries.buckets >= 3, 'buckets: ' + d.timeseries.buckets);
      assert.equal(d.timeseries.bucket_seconds, 1);
      assert.ok(d.workloads.jobs.some((j) => j.id === 'train-1'));
      assert.equal(d.jobs.find((j) => j.class === 'all').total, 10);
    });
    await checkPage(page, d, 'dashboard', seen.errors);
    await check('no console errors or exceptions; only the admins\' tenants panel refused; nothing leaves the broker', async () => {
      assert.deepEqual(seen.errors, []);
      assert.deepEqual(seen.refused, [403]);
      assert.deepEqual(await page.evaluate(() => window.PolycloudDashboard.refused), { '/v1/tenants': 403 });
      assert.ok(await page.locator('#pc-panel-tenants').isHidden());
      checkRequests(seen);
    });
    await check('the queue and running tables list the jobs /v1/jobs lists', async () => {
      const q = await apiIds(tokens.operator, 'queued'), r = await apiIds(tokens.operator, 'running');
      assert.ok(q.length >= 1 && r.length >= 1, 'queued ' + q + ', running ' + r);
      assert.deepEqual((await idsIn(page, 'pc-queue')).sort(), q.sort());
      assert.deepEqual((await idsIn(page, 'pc-running')).sort(), r.sort());
      assert.deepEqual([...q, ...r].sort(), [...live('research'), ...live('product')].sort());
      const sites = await page.evaluate(() => [...document.querySelectorAll('#pc-running-sites tbody tr')].map((tr) => tr.children[0].textContent));
      const runningSites = (await call(tokens.operator, 'GET', '/v1/jobs?status=running')).body.jobs.map((j) => j.site);
      assert.deepEqual(sites.sort(), [...new Set(runningSites)].sort());
    });
    await check('site health lists both sites up, with their last answer', async () => {
      const rows = await page.evaluate(() => [...document.querySelectorAll('#pc-sites tbody tr')].map((tr) => [...tr.children].map((td) => td.textContent)));
      assert.deepEqual(rows.map((r) => r[0]).sort(), ['aws-west', 'az-east']);
      for (const r of rows) {
        assert.equal(r[2], 'up');
        assert.match(r[3], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      }
    });
    await check('a job submitted now appears without a reload (the event stream)', async () => {
      await page.evaluate(() => { window.notReloaded = true; });
      await until('the event stream', () => page.evaluate(() => window.PolycloudDashboard.streaming));
      const seenBefore = await page.evaluate(() => window.PolycloudDashboard.eventsSeen);
      const r = await call(tokens.research, 'POST', '/v1/jobs', { id: 'late-1', gpus: 8, work_gpu_hours: 2000, class: 'research' });
      assert.equal(r.status, 201);
      submitted.research.push('late-1');
      await page.locator('#pc-queue tr[data-id="late-1"], #pc-running tr[data-id="late-1"]').first().waitFor({ timeout: 10000 });
      assert.equal(await page.evaluate(() => window.notReloaded), true);
      assert.ok(await page.evaluate(() => window.PolycloudDashboard.eventsSeen) > seenBefore);
      const lines = await page.locator('#pc-events li').allTextContents();
      assert.ok(lines.some((l) => l.includes('job-arrived') && l.includes('late-1')), lines.slice(0, 5).join('\n'));
    });
    await check('clicking a queued job opens its explanation', async () => {
      const id = (await idsIn(page, 'pc-queue'))[0];
      await page.locator('#pc-queue button.pc-job[data-id="' + id + '"]').click();
      await page.locator('#pc-explain').waitFor({ state: 'visible', timeout: 5000 });
      assert.equal(await page.locator('#pc-explain-id').textContent(), id);
      const shown = await page.locator('#pc-explain-text').textContent();
      const api = (await call(tokens.operator, 'GET', '/v1/jobs/' + id + '/explain')).body.explanation;
      assert.ok(shown.includes(id), shown.slice(0, 200));
      // The same first line but for its instant ("At <now>: job ... is queued since ...").
      const first = (t) => t.split('\n')[0].replace(/^At \S+ /, '');
      assert.equal(first(shown), first(api));
    });
    await check('clicking a running job opens its explanation', async () => {
      const id = (await idsIn(page, 'pc-running'))[0];
      await page.locator('#pc-running button.pc-job[data-id="' + id + '"]').click();
      await until('its explanation', async () => (await page.locator('#pc-explain-id').textContent()) === id, 5000);
      const shown = await page.locator('#pc-explain-text').textContent();
      assert.ok(shown.includes(id), shown.slice(0, 200));
    });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(shots, 'operator.png'), fullPage: true });
    await page.locator('#pc-live').screenshot({ path: join(shots, 'operator-live.png') });
    await check('still no console errors after the live updates', () => assert.deepEqual(seen.errors, []));
    await page.close();
  }

  // ---------------------------------------------------------------- a tenant
  console.log('dashboard: tenant research');
  {
    const { page, seen } = await openPage('#token=' + tokens.research, '?every=0&poll=1');
    await check('a tenant sees its own jobs only', async () => {
      const q = await idsIn(page, 'pc-queue'), r = await idsIn(page, 'pc-running');
      assert.deepEqual([...q, ...r].sort(), [...live('research')].sort());
      assert.ok(!submitted.product.some((id) => q.includes(id) || r.includes(id)));
      assert.match(await page.locator('#pc-who').textContent(), /signed in: tenant research/);
    });
    await check('a tenant gets no charts, sites or events: the API refuses them', async () => {
      assert.equal(await page.evaluate(() => window.PolycloudReport.charts.length), 0);
      assert.equal(await page.locator('#polycloud-report .pc-chart').count(), 0);
      assert.ok(await page.locator('#pc-report-note').isVisible());
      assert.ok(await page.locator('#pc-panel-sites').isHidden());
      assert.ok(await page.locator('#pc-panel-events').isHidden());
      await until('the refused event stream', () => page.evaluate(() => window.PolycloudDashboard.refused['/v1/events']));
      assert.deepEqual(await page.evaluate(() => window.PolycloudDashboard.refused),
        { '/v1/report': 403, '/v1/sites': 403, '/v1/tenants': 403, '/v1/events': 403 });
      // The server says so whatever the page does.
      for (const path of ['/v1/report', '/v1/sites', '/v1/events', '/v1/contracts', '/v1/pools']) {
        assert.equal((await call(tokens.research, 'GET', path)).status, 403, path);
      }
      assert.equal((await call(tokens.research, 'GET', '/v1/jobs/' + submitted.product[0] + '/explain')).status, 404);
      // Asking for another tenant's jobs lists its own.
      const other = (await call(tokens.research, 'GET', '/v1/jobs?tenant=product')).body.jobs;
      assert.ok(other.length > 0 && other.every((j) => j.tenant === 'research'), JSON.stringify(other.map((j) => j.tenant)));
    });
    await check('a tenant\'s own job opens its explanation', async () => {
      const id = (await idsIn(page, 'pc-queue')).concat(await idsIn(page, 'pc-running'))[0];
      await page.locator('button.pc-job[data-id="' + id + '"]').first().click();
      await until('its explanation', async () => (await page.locator('#pc-explain-id').textContent()) === id, 5000);
      assert.ok((await page.locator('#pc-explain-text').textContent()).includes(id));
    });
    await check('a tenant\'s page polls: a new job of its own appears without a reload', async () => {
      const r = await call(tokens.research, 'POST', '/v1/jobs', { id: 'late-2', gpus: 8, work_gpu_hours: 2000, class: 'research' });
      assert.equal(r.status, 201);
      submitted.research.push('late-2');
      await page.locator('#pc-queue tr[data-id="late-2"], #pc-running tr[data-id="late-2"]').first().waitFor({ timeout: 10000 });
    });
    await check('a tenant\'s page logs nothing but the four refusals', async () => {
      assert.deepEqual(seen.errors, []);
      assert.deepEqual([...new Set(seen.refused)], [403]);
      checkRequests(seen);
    });
    await page.screenshot({ path: join(shots, 'tenant-research.png'), fullPage: true });
    await page.close();
  }

  // ---------------------------------------------------------------- a viewer and an admin
  console.log('dashboard: a viewer, then an admin');
  {
    const viewer = (await call(admin, 'POST', '/v1/tokens', { role: 'viewer' })).body.token;
    tokens.viewer = viewer;
    const { page, seen } = await openPage('#token=' + viewer);
    await page.waitForFunction(() => window.PolycloudReport.ready === true && window.PolycloudReport.charts.length > 0, null, { timeout: 30000 });
    await check('a viewer sees every tenant\'s jobs and the charts, and cannot submit', async () => {
      const q = await idsIn(page, 'pc-queue'), r = await idsIn(page, 'pc-running');
      assert.deepEqual([...q, ...r].sort(), [...live('research'), ...live('product')].sort());
      assert.ok(await page.locator('#pc-panel-sites').isVisible());
      assert.ok(await page.locator('#pc-panel-tenants').isHidden());
      assert.equal((await call(viewer, 'POST', '/v1/jobs', { gpus: 8, work_gpu_hours: 1 })).status, 403);
      assert.equal((await call(viewer, 'DELETE', '/v1/jobs/' + q[0])).status, 403);
      assert.deepEqual(seen.errors, []);
      checkRequests(seen);
    });
    await page.close();
  }
  {
    const { page, seen } = await openPage('#token=' + admin);
    await check('an admin also sees the tenants against their quotas', async () => {
      await page.locator('#pc-panel-tenants').waitFor({ state: 'visible', timeout: 5000 });
      const rows = await page.evaluate(() => [...document.querySelectorAll('#pc-tenants tbody tr')].map((tr) => [tr.children[0].textContent, Number(tr.children[1].textContent)]));
      const api = (await call(admin, 'GET', '/v1/tenants')).body.tenants.map((t) => [t.id, t.gpus_in_use]);
      assert.deepEqual(rows, api);
      assert.deepEqual(seen.errors, []);
      assert.deepEqual(seen.refused, []);
    });
    await page.locator('#pc-live').screenshot({ path: join(shots, 'admin-live.png') });
    await page.close();
  }

  // ---------------------------------------------------------------- a bad token
  console.log('dashboard: a bad token, then the login form');
  {
    const { page, seen } = await openPage('#token=pc_not-a-valid-token');
    await check('a bad token shows a clear error and the login form, and draws nothing', async () => {
      const status = await page.locator('#pc-status').textContent();
      assert.match(status, /token was refused/);
      assert.match(status, /401/);
      assert.ok(await page.locator('#pc-status.pc-error').isVisible());
      assert.ok(await page.locator('#pc-login').isVisible());
      assert.ok(await page.locator('#pc-live').isHidden());
      assert.equal(await page.locator('.pc-chart').count(), 0);
      assert.equal(await page.evaluate(() => sessionStorage.getItem('polycloud-token')), null);
      assert.deepEqual(seen.errors, []);
      assert.deepEqual(seen.refused, [401]);
    });
    await page.screenshot({ path: join(shots, 'bad-token.png'), fullPage: true });
    await check('the login form takes a good token and opens the dashboard', async () => {
      await page.locator('#pc-token').fill(tokens.operator);
      await page.locator('#pc-login button[type=submit]').click();
      await page.waitForFunction(() => window.PolycloudDashboard.report && window.PolycloudReport.charts.length > 0, null, { timeout: 30000 });
      assert.ok(await page.locator('#pc-login').isHidden());
      assert.match(await page.locator('#pc-who').textContent(), /operator/);
      assert.deepEqual(seen.errors, []);
      checkRequests(seen);
    });
    await page.close();
  }
  // No page on the way: the server refuses a token in the query string's place.
  await check('the API takes tokens from the Authorization header only', async () => {
    const r = await fetch(base + '/v1/report?token=' + tokens.operator);
    assert.ok(r.status === 400 || r.status === 401, String(r.status));
  });
} finally {
  await browser.close();
}
console.log('  screenshots: ' + shots);
process.exit(summary());

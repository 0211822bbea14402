// The checks the HTML report's browser tests share (report.test.mjs for the
// files simulate/contracts/replay write, dashboard.test.mjs for the
// dashboard `polycloud serve` serves): what a page of the report must show
// for its JSON, checked in the page itself.
//
//   import { check, checkPage, setOut, summary } from './checks.mjs';
//   setOut('build/release/browser');                 // screenshots go under it
//   await checkPage(page, json, 'name', errors);     // errors: console errors seen
//   process.exit(summary());                         // prints the count; 0 or 1
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';

let out = 'browser-out';
export function setOut(dir) {
  out = dir;
}

const DAY = 86400;
let failures = 0;
let checks = 0;
export async function check(name, fn) {
  checks++;
  try {
    await fn();
    console.log('  ok  ' + name);
  } catch (e) {
    failures++;
    console.log('  FAIL ' + name + '\n       ' + String(e && e.stack ? e.stack : e).split('\n').slice(0, 6).join('\n       '));
  }
}

const parseTime = (s) => Date.parse(s) / 1000;
const nonNull = (a) => a.filter((v) => v != null).length;

// The points each chart must draw, from the JSON alone.
export function expectedCharts(d) {
  const want = {};
  if (d.schema === 'polycloud.report/1' || d.schema === 'polycloud.contracts/1') {
    const runStart = parseTime(d.start), runEnd = parseTime(d.end);
    d.contracts.forEach((c, i) => {
      const spent = c.spent.micros;
      if (c.commitment === 'none' && !(Number(spent) > 0)) return;
      // One point at the start of the contract in the run, then one per day
      // of the run that ends inside the term.
      let first, n;
      if (d.schema === 'polycloud.report/1') {
        first = parseTime(c.cumulative_spend_by_day.first_day + 'T00:00:00Z');
        n = c.cumulative_spend_by_day.micros.length;
      } else {
        first = c.days.length ? parseTime(c.days[0].date + 'T00:00:00Z') : runStart;
        n = c.days.length;
      }
      const from = Math.max(parseTime(c.start), runStart), end = parseTime(c.end);
      let days = 0;
      for (let k = 0; k < n; k++) {
        const t = Math.min(first + (k + 1) * DAY, runEnd);
        if (t > from && t - DAY < end) days++;
      }
      want['burn-down-' + i] = { 'spent (run)': days + 1 };
    });
  }
  if (d.schema === 'polycloud.report/1') {
    if ((d.cost_by_policy || []).length > 1) want['cost-by-policy'] = { 'lifetime cost': d.cost_by_policy.length, 'spend in the run': d.cost_by_policy.length };
    const ts = d.timeseries;
    const b = ts.buckets;
    if (ts.providers.length <= 8) for (const p of ts.providers) want['fleet-' + p.id] = { installed: b, usable: b, used: b };
    if (ts.pools.series.length) want['fleet-pool'] = { installed: b, usable: b, used: b };
    if (ts.sites.series.length) want['power-site'] = { 'peak drawn': b, 'mean drawn': b };
    if (ts.classes.length) {
      want['queue-length'] = Object.fromEntries(ts.classes.map((c) => [c.class, b]));
      want['queue-wait'] = null;  // depends on the class shown: checked below
    }
    ts.services.forEach((s, k) => {
      want['replicas-' + k] = Object.fromEntries(Object.keys(s.replicas_by_provider).map((p) => [p, b]));
      want['demand-' + k] = { demand: b, served: b };
    });
    if ((d.capacity_requests || []).length) want['rofr-timeline'] = null;  // markers: checked below
  }
  if (d.schema === 'polycloud.contracts/1' && (d.no_contract || []).length) {
    want['no-contract'] = Object.fromEntries(d.no_contract.map((p) => [p.provider, p.days.length + 1]));
  }
  if (d.schema === 'polycloud.replay.philly/1') {
    const n = d.virtual_clusters.length + 1;
    want['philly-jct'] = { p50: n, p90: n, p99: n };
    want['philly-queueing'] = { mean: n, p90: n, p99: n };
  }
  if (d.schema === 'polycloud.replay.fidelity/1') {
    const n = d.utilisation.buckets.length;
    want['fidelity-utilisation'] = { recorded: n, simulated: n };
  }
  if (d.schema === 'polycloud.fragmentation/1') {
    // One point per step of arrived workload, 0..target, for every policy.
    const n = d.target_pct + 1;
    assert.equal(d.arrived_pct.length, n);
    want['fragmentation-allocation'] = Object.fromEntries(d.policies.map((p) => [p.policy, n]));
  }
  return want;
}

// Markers of the ROFR timeline: one per step of each request, as the JSON says.
function rofrMarkers(d) {
  let n = 0;
  for (const q of d.capacity_requests.slice(0, 60)) {
    n++;  // raised (or offered)
    if (q.rofr && (q.rofr.answer === 'matched' || q.rofr.answer === 'declined' || q.rofr.answer === 'expired')) n++;
    if (q.award) n += q.award.arrived ? 2 : 1;
    if (q.outcome === 'unavailable') n++;
  }
  return n;
}

export async function chartState(page) {
  return page.evaluate(() => PolycloudReport.charts.map((c) => {
    const u = c.chart;
    // Pixels painted in each opaque series colour (anti-aliasing aside).
    const ctx = u.ctx, { width, height } = ctx.canvas;
    const img = ctx.getImageData(0, 0, width, height).data;
    const painted = u.series.slice(1).map((s) => {
      const m = /^#([0-9a-f]{6})$/i.exec(typeof s.stroke === 'function' ? s._stroke || '' : s.stroke || '');
      const hex = m ? m[1] : null;
      if (!hex) return null;
      const r = parseInt(hex.slice(0, 2), 16), g = parseInt(hex.slice(2, 4), 16), b = parseInt(hex.slice(4, 6), 16);
      let n = 0;
      for (let i = 0; i < img.length; i += 4) {
        if (img[i + 3] > 200 && Math.abs(img[i] - r) < 24 && Math.abs(img[i + 1] - g) < 24 && Math.abs(img[i + 2] - b) < 24) n++;
      }
      return n;
    });
    // Every series on the y scale lies inside it (the axis says what is drawn).
    let yOk = true;
    u.series.slice(1).forEach((s, k) => {
      // A drawn series is on the y axis's scale (helpers, width 0, may not be).
      const axis = u.axes[1].scale;
      if (s.width > 0 && s.scale !== axis) { yOk = false; return; }
      const sc = u.scales[s.scale];
      const vals = u.data[k + 1].filter((v) => v != null);
      if (vals.length && (Math.max(...vals) > sc.max + 1e-9 * Math.abs(sc.max) || Math.min(...vals) < sc.min - 1e-9 * Math.abs(sc.min))) yOk = false;
    });
    return {
      id: c.id,
      yOk: yOk,
      labels: u.series.slice(1).map((s) => s.label),
      points: u.data.slice(1).map((s) => s.filter((v) => v != null).length),
      // A series drawn as a line or bars has its paths built (points-only
      // and hidden helper series have width 0).
      built: u.series.slice(1).map((s) => s.width === 0 || !!s._paths),
      painted: painted,
    };
  }));
}

export async function hoverChart(page, id, xValue) {
  const pos = await page.evaluate(([id, x]) => {
    const c = PolycloudReport.charts.find((e) => e.id === id);
    const r = c.chart.over.getBoundingClientRect();
    return { x: r.left + c.chart.valToPos(x, 'x'), y: r.top + r.height / 2 };
  }, [id, xValue]);
  await page.locator('#chart-' + id).scrollIntoViewIfNeeded();
  const again = await page.evaluate(([id, x]) => {
    const c = PolycloudReport.charts.find((e) => e.id === id);
    const r = c.chart.over.getBoundingClientRect();
    return { x: r.left + c.chart.valToPos(x, 'x'), y: r.top + r.height / 2 };
  }, [id, xValue]);
  await page.mouse.move(again.x - 3, again.y);
  await page.mouse.move(again.x, again.y);
  return page.evaluate((id) => {
    const tip = document.querySelector('#chart-' + id + ' .pc-tooltip');
    if (!tip || tip.style.display === 'none') return null;
    return {
      idx: PolycloudReport.charts.find((e) => e.id === id).chart.cursor.idx,
      title: tip.querySelector('.t').textContent,
      rows: [...tip.querySelectorAll('.row')].map((r) => ({ series: r.dataset.series, raw: Number(r.dataset.raw), text: r.textContent })),
    };
  }, id);
}

export async function tableColumn(page, id, col) {
  return page.evaluate(([id, col]) => {
    const t = document.querySelector('#table-' + id + ' table');
    const k = [...t.querySelectorAll('thead th')].findIndex((th) => th.dataset.col === col);
    return [...t.querySelectorAll('tbody tr')].map((tr) => tr.children[k].textContent);
  }, [id, col]);
}


export async function checkPage(page, d, name, errors) {
  await check('no console errors, exceptions or network requests', () => assert.deepEqual(errors, []));
  const state = await chartState(page);
  const want = expectedCharts(d);
  await check('every expected chart is drawn (' + Object.keys(want).length + ')', () => {
    assert.deepEqual(state.map((c) => c.id).sort(), Object.keys(want).sort());
  });
  for (const c of state) {
    await check('chart ' + c.id + ': series drawn with the JSON\'s number of points', () => {
      const w = want[c.id];
      if (w) {
        for (const [label, n] of Object.entries(w)) {
          const k = c.labels.indexOf(label);
          assert.ok(k >= 0, 'series ' + label + ' missing from ' + c.labels.join(', '));
          assert.equal(c.points[k], n, 'points of ' + label);
        }
      }
      assert.ok(c.built.every((b) => b), 'every series has its paths built');
      assert.ok(c.yOk, 'every series lies inside the y axis\'s range');
      const painted = c.painted.filter((n) => n != null);
      assert.ok(painted.length === 0 || Math.max(...painted) > 30, 'some series is painted: ' + JSON.stringify(c.painted));
    });
  }
  if (want['rofr-timeline'] === null) {
    await check('ROFR timeline: one marker per step of each request', () => {
      const c = state.find((s) => s.id === 'rofr-timeline');
      const markers = c.labels.map((l, k) => (l.startsWith('req-') ? 0 : c.points[k])).reduce((a, b) => a + b, 0);
      assert.equal(markers, rofrMarkers(d));
      assert.equal(c.labels.filter((l) => l.startsWith('req-')).length, Math.min(60, d.capacity_requests.length));
    });
  }
  if (want['queue-wait'] === null) {
    await check('queue wait: points where the class had starts', async () => {
      const cls = await page.locator('select[data-select="queue-wait"]').inputValue();
      const c = d.timeseries.classes.find((x) => x.class === cls);
      const s = state.find((x) => x.id === 'queue-wait');
      assert.equal(s.points[s.labels.indexOf('p50')], nonNull(c.wait_p50_s));
      assert.equal(s.points[s.labels.indexOf('p99')], nonNull(c.wait_p99_s));
    });
  }

  // Tooltips: a known point of a time series, and a day of a burn-down.
  if (d.schema === 'polycloud.report/1') {
    const ts = d.timeseries;
    const p = ts.providers.find((x) => Math.max(...x.used_gpus) > 0) || ts.providers[0];
    const i = p.used_gpus.indexOf(Math.max(...p.used_gpus));
    const start = parseTime(ts.start), end = parseTime(ts.end);
    const mid = (start + i * ts.bucket_seconds + Math.min(start + (i + 1) * ts.bucket_seconds, end)) / 2;
    const id = ts.providers.length <= 8 ? 'fleet-' + p.id : 'fleet-provider';
    await check('tooltip on ' + id + ' shows the JSON\'s mean GPUs used at bucket ' + i, async () => {
      const tip = await hoverChart(page, id, mid);
      assert.ok(tip, 'a tooltip is shown');
      // Buckets can be narrower than a pixel: the cursor lands on the bucket
      // at the mouse, within a pixel of the one aimed at.
      const j = tip.idx;
      assert.ok(Math.abs(j - i) <= 2, 'cursor at bucket ' + j + ', aimed at ' + i);
      const row = tip.rows.find((r) => r.series === 'used');
      assert.ok(row, 'a "used" row in ' + JSON.stringify(tip));
      assert.equal(row.raw, p.used_gpus[j]);
      const shown = Number(row.text.replace(/^used/, '').replace(/[^0-9.]/g, ''));
      assert.ok(Math.abs(shown - p.used_gpus[j]) <= 0.051, row.text + ' vs ' + p.used_gpus[j]);
      const from = new Date((start + j * ts.bucket_seconds) * 1000).toISOString().slice(0, 10);
      assert.ok(tip.title.startsWith(from), tip.title + ' should start with ' + from);
    });
  }
  if (d.contracts && d.contracts.length) {
    const k = d.contracts.findIndex((c) => Number(c.spent.micros) > 0);
    if (k >= 0 && (await page.locator('#chart-burn-down-' + k).count())) {
      const c = d.contracts[k];
      const runStart = parseTime(d.start);
      let first, values;
      if (d.schema === 'polycloud.report/1') {
        first = parseTime(c.cumulative_spend_by_day.first_day + 'T00:00:00Z');
        values = c.cumulative_spend_by_day.micros;
      } else {
        first = parseTime(c.days[0].date + 'T00:00:00Z');
        values = c.days.map((x) => x.cumulative.micros);
      }
      const day = Math.floor(values.length / 2);
      const t = Math.min(first + (day + 1) * DAY, parseTime(d.end));
      await check('tooltip on burn-down-' + k + ' shows the cumulative spend of day ' + day, async () => {
        if (t <= Math.max(parseTime(c.start), runStart)) return;
        const tip = await hoverChart(page, 'burn-down-' + k, t);
        assert.ok(tip, 'a tooltip is shown');
        const row = tip.rows.find((r) => r.series === 'spent (run)');
        assert.ok(row, JSON.stringify(tip));
        // The cursor's day (within a pixel of the one aimed at).
        const got = tip.idx;
        const at = await page.evaluate(([id, i]) => PolycloudReport.charts.find((e) => e.id === id).chart.data[0][i], ['burn-down-' + k, got]);
        // Each point closes its day (the last one at the run's end, which
        // may be early in its day): the day whose end is at or after it.
        const dayAt = Math.min(values.length - 1, Math.max(0, Math.ceil((at - first) / DAY - 1e-9) - 1));
        assert.ok(Math.abs(dayAt - day) <= 3, 'day ' + dayAt + ' vs ' + day);
        const want = Number(values[dayAt]) / 1e6;
        assert.ok(Math.abs(row.raw - want) <= 1e-6 * Math.max(1, want), row.raw + ' vs ' + want);
      });
    }
  }

  // Sorting and filtering a table.
  const sortable = {
    'polycloud.report/1': ['pools', 'gpus_at_end', (r) => r.gpus_at_end, d.pools],
    'polycloud.contracts/1': ['periods-0', 'spend', (r) => Number(r.spend.micros), d.contracts && d.contracts[0] && d.contracts[0].periods],
    'polycloud.replay.philly/1': ['virtual-clusters', 'jobs', (r) => r.jobs, d.virtual_clusters && d.virtual_clusters.concat([d.overall])],
    'polycloud.fragmentation/1': ['fragmentation-policies', 'unallocated_gpus', (r) => r.unallocated_gpus, d.policies],
  }[d.schema];
  if (sortable && sortable[3] && sortable[3].length > 1) {
    const [table, col, value, rows] = sortable;
    await check('table ' + table + ': sorting by ' + col + ' orders the rows, both ways', async () => {
      const header = page.locator('#table-' + table + ' thead th[data-col="' + col + '"]');
      await header.click();
      const desc = rows.map(value).sort((a, b) => b - a);
      const num = (s) => Number(String(s).replace(/[^0-9.]/g, ''));
      const firstDesc = (await tableColumn(page, table, col)).map(num);
      assert.equal(await header.getAttribute('aria-sort'), 'descending');
      await header.click();
      const firstAsc = (await tableColumn(page, table, col)).map(num);
      assert.equal(await header.getAttribute('aria-sort'), 'ascending');
      const sortedDesc = [...firstDesc].sort((a, b) => b - a);
      assert.deepEqual(firstDesc, sortedDesc);
      assert.deepEqual(firstAsc, [...firstAsc].sort((a, b) => a - b));
      assert.equal(firstDesc.length, Math.min(500, rows.length));
      // The top of the descending order is the JSON's largest value.
      if (d.schema === 'polycloud.report/1') assert.equal(firstDesc[0], desc[0]);
    });
  }
  if (d.schema === 'polycloud.report/1' && d.pools.length > 1) {
    await check('table pools: filtering by a pool\'s id keeps its row', async () => {
      const target = d.pools[d.pools.length - 1].id;
      await page.locator('#table-pools input').fill(target);
      const ids = await tableColumn(page, 'pools', 'id');
      assert.ok(ids.length >= 1 && ids.every((x) => x.includes(target)), JSON.stringify(ids.slice(0, 5)));
      await page.locator('#table-pools input').fill('');
    });
  }

  // A link opens the right explanation.
  if (d.schema === 'polycloud.report/1' && d.workloads && d.workloads.jobs.length) {
    const job = d.workloads.jobs.find((j) => j.preemptions + j.interruptions > 0) || d.workloads.jobs[0];
    await check('link to job ' + job.id + ' opens its explanation', async () => {
      await page.locator('#table-jobs input').fill(job.id);
      const a = page.locator('#table-jobs tbody a', { hasText: job.id }).first();
      await a.click();
      const article = page.locator('article.pc-explain[data-id="' + job.id.replace(/"/g, '\\"') + '"]');
      await article.waitFor({ state: 'visible', timeout: 5000 });
      assert.equal(await page.locator('article.pc-explain:visible').count(), 1);
      assert.ok((await article.locator('h3').textContent()).includes(job.id));
      const firstRow = await article.locator('tbody tr').first().textContent();
      assert.ok(firstRow.includes(job.timeline[0].event), firstRow);
      await page.locator('#table-jobs input').fill('');
    });
  }
  if (d.schema === 'polycloud.report/1' && (d.services || []).length) {
    const svc = d.services[d.services.length - 1];
    await check('link to service ' + svc.id + ' opens its explanation', async () => {
      await page.locator('#table-services tbody a', { hasText: svc.id }).first().click();
      const article = page.locator('article.pc-explain[data-id="' + svc.id + '"]');
      await article.waitFor({ state: 'visible', timeout: 5000 });
      assert.ok((await article.textContent()).includes(String(svc.replicas_lost)));
    });
  }
  if (d.schema === 'polycloud.report/1' && (d.capacity_requests || []).length) {
    const q = d.capacity_requests[0];
    await check('link to ' + q.id + ' opens its explanation', async () => {
      await page.locator('#table-requests tbody a', { hasText: new RegExp('^' + q.id + '$') }).first().click();
      const article = page.locator('article.pc-explain[data-id="' + q.id + '"]');
      await article.waitFor({ state: 'visible', timeout: 5000 });
      assert.ok((await article.textContent()).includes(q.class));
    });
  }

  // Screenshots of every chart, and of the whole page.
  const dir = join(out, 'screenshots', name);
  mkdirSync(dir, { recursive: true });
  await page.evaluate(() => { window.location.hash = ''; window.scrollTo(0, 0); });
  await page.mouse.move(0, 0);
  for (const c of state) {
    await page.locator('#chart-' + c.id).screenshot({ path: join(dir, c.id + '.png') });
  }
  await page.screenshot({ path: join(dir, 'page.png'), fullPage: true });
  console.log('  screenshots: ' + dir + ' (' + state.length + ' charts)');
}


// Prints the tally; the exit code (0 when every check passed).
export function summary() {
  console.log((failures ? 'FAILED: ' + failures + ' of ' : 'passed: all ') + checks + ' checks');
  return failures ? 1 : 0;
}

/* polycloud's report page: builds the charts, tables and explanations of the
 * HTML report from the JSON that `polycloud simulate --json` writes (schema
 * polycloud.report/1), and likewise from `contracts --json`
 * (polycloud.contracts/1) and the replays' JSON. The same code serves the
 * broker's dashboard, which fetches that JSON from the API (web/dashboard.html).
 *
 *   PolycloudReport.mount(document.getElementById('app'), json);
 *
 * Charts are uPlot (dense time series, canvas, ~50 KB); this file only
 * shapes the data and the page. Each chart is registered in
 * PolycloudReport.charts ({id, title, chart}) for the browser tests.
 */
(function (global) {
  'use strict';

  const uPlot = global.uPlot;
  const DAY = 86400;

  // ---------------------------------------------------------------- formatting

  function parseTime(s) {
    return s == null ? null : Date.parse(s) / 1000;
  }
  function pad2(n) {
    return (n < 10 ? '0' : '') + n;
  }
  function fmtTime(t) {
    if (t == null) return '–';
    const d = new Date(t * 1000);
    const date = d.getUTCFullYear() + '-' + pad2(d.getUTCMonth() + 1) + '-' + pad2(d.getUTCDate());
    const hm = pad2(d.getUTCHours()) + ':' + pad2(d.getUTCMinutes());
    return hm === '00:00' ? date : date + ' ' + hm;
  }
  function fmtTimeIso(s) {
    return s == null ? '–' : fmtTime(parseTime(s));
  }
  function fmtNum(v, digits) {
    if (v == null || Number.isNaN(v)) return '–';
    return v.toLocaleString('en-US', { maximumFractionDigits: digits == null ? 1 : digits });
  }
  function fmtShort(v) {
    if (v == null) return '–';
    const a = Math.abs(v);
    if (a >= 1e12) return fmtNum(v / 1e12, 2) + 'T';
    if (a >= 1e9) return fmtNum(v / 1e9, 2) + 'B';
    if (a >= 1e6) return fmtNum(v / 1e6, 2) + 'M';
    if (a >= 1e4) return fmtNum(v / 1e3, 1) + 'k';
    return fmtNum(v, 1);
  }
  function fmtUsd(v) {
    if (v == null) return '–';
    return (v < 0 ? '−$' : '$') + fmtShort(Math.abs(v));
  }
  function usdOf(money) {
    return money == null ? null : Number(money.micros) / 1e6;
  }
  function fmtMoney(money) {
    return money == null ? '–' : fmtUsd(usdOf(money));
  }
  function fmtDur(s) {
    if (s == null) return '–';
    s = Math.round(s);
    if (s < 60) return s + 's';
    const d = Math.floor(s / DAY), h = Math.floor((s % DAY) / 3600), m = Math.floor((s % 3600) / 60);
    if (d > 0) return d + 'd' + (h ? ' ' + h + 'h' : '');
    if (h > 0) return h + 'h' + (m ? ' ' + m + 'm' : '');
    return m + 'm' + (s % 60 ? ' ' + (s % 60) + 's' : '');
  }
  function fmtPct(ratio) {
    return ratio == null ? '–' : fmtNum(ratio * 100, 1) + '%';
  }
  function fmtPower(w) {
    if (w == null) return '–';
    const a = Math.abs(w);
    if (a >= 1e9) return fmtNum(w / 1e9, 2) + ' GW';
    if (a >= 1e6) return fmtNum(w / 1e6, 1) + ' MW';
    if (a >= 1e3) return fmtNum(w / 1e3, 1) + ' kW';
    return fmtNum(w, 0) + ' W';
  }

  // Axis labels that share one unit and show as many decimals as the step
  // between ticks needs. units: [threshold, divisor, suffix], largest first.
  const NUMBER_UNITS = [[1e12, 1e12, 'T'], [1e9, 1e9, 'B'], [1e6, 1e6, 'M'], [1e4, 1e3, 'k'], [0, 1, '']];
  const POWER_UNITS = [[1e9, 1e9, ' GW'], [1e6, 1e6, ' MW'], [1e3, 1e3, ' kW'], [0, 1, ' W']];
  function axisValues(prefix, units, suffix) {
    return (u, splits, axisIdx, space, incr) => {
      const top = Math.max(0, ...splits.map((v) => Math.abs(v)));
      const [, div, sfx] = units.find(([t]) => top >= t) || units[units.length - 1];
      // As many decimals as the step needs to be exact (2.5k steps: one).
      const step = incr > 0 ? incr / div : 1;
      let dec = 0;
      while (dec < 3 && Math.abs(step * 10 ** dec - Math.round(step * 10 ** dec)) > 1e-6 * Math.max(1, step * 10 ** dec)) dec++;
      return splits.map((v) => (v === 0 ? prefix + '0' + (suffix || '') : (v < 0 ? '−' : '') + prefix + fmtNum(Math.abs(v) / div, dec) + sfx + (suffix || '')));
    };
  }
  const AXES = {
    num: axisValues('', NUMBER_UNITS),
    usd: axisValues('$', NUMBER_UNITS),
    power: axisValues('', POWER_UNITS),
    pct: axisValues('', [[0, 1, '']], '%'),
  };

  // ---------------------------------------------------------------- DOM

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      // Through the CSSOM: the dashboard's Content-Security-Policy refuses style attributes.
      else if (k === 'style') e.style.cssText = v;
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat(Infinity)) {
      if (c == null || c === false) continue;
      e.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
    return e;
  }
  function section(root, id, title, intro) {
    const s = el('section', { id: id }, el('h2', { text: title }));
    if (intro) s.appendChild(el('p', { class: 'pc-note', text: intro }));
    root.appendChild(s);
    return s;
  }
  function slug(kind, index) {
    return 'explain-' + kind + '-' + index;
  }

  // ---------------------------------------------------------------- charts

  const PALETTE = ['#1f6feb', '#e8590c', '#2f9e44', '#ae3ec9', '#c92a2a', '#0c8599', '#e67700',
    '#5c7cfa', '#862e9c', '#5f3dc4', '#087f5b', '#d6336c', '#495057'];
  const registry = [];

  // Shades time ranges (outages, cuts) behind the series: rectangles at the
  // ranges' x positions, in the plot area, through uPlot's scale.
  function rangesPlugin(ranges) {
    return {
      hooks: {
        drawClear: (u) => {
          if (!ranges.length) return;
          const ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
          const left = u.bbox.left, right = u.bbox.left + u.bbox.width;
          ctx.save();
          for (const r of ranges) {
            let x0 = Math.max(left, u.valToPos(r.from, 'x', true));
            let x1 = Math.min(right, u.valToPos(r.to, 'x', true));
            if (x1 < x0) continue;
            // A short fault stays visible: at least 4 px wide.
            const min = 4 * (global.devicePixelRatio || 1);
            if (x1 - x0 < min) { const mid = (x0 + x1) / 2; x0 = mid - min / 2; x1 = mid + min / 2; }
            ctx.fillStyle = r.color;
            ctx.fillRect(x0, top, x1 - x0, height);
          }
          ctx.restore();
        },
      },
    };
  }

  // A tooltip at the cursor: the x (a time, a bucket or a category) and every
  // visible series' value there. Each value row carries data-series and
  // data-raw (the number plotted) for tests.
  function tooltipPlugin(spec) {
    let tip = null;
    return {
      hooks: {
        init: (u) => {
          tip = el('div', { class: 'pc-tooltip' });
          u.over.appendChild(tip);
        },
        setCursor: (u) => {
          const i = u.cursor.idx;
          if (i == null || u.cursor.left == null || u.cursor.left < 0) {
            tip.style.display = 'none';
            return;
          }
          const rows = [];
          for (let k = 1; k < u.series.length; k++) {
            const s = u.series[k], v = u.data[k][i];
            if (!s.show || v == null || spec.series[k - 1].tip === false) continue;
            const sp = spec.series[k - 1];
            const shown = sp.tipValue ? sp.tipValue(v, i) : (sp.fmt || spec.yFmt || fmtNum)(v);
            if (shown == null) continue;
            rows.push(el('div', { class: 'row', 'data-series': s.label, 'data-raw': String(v) },
              el('span', {}, el('span', { class: 'sw', style: 'background:' + (sp.color || '#888') }), s.label),
              el('b', { text: shown })));
          }
          if (!rows.length) {
            tip.style.display = 'none';
            return;
          }
          tip.replaceChildren(el('div', { class: 't', text: spec.xTitle ? spec.xTitle(i, u.data[0][i]) : fmtTime(u.data[0][i]) }), ...rows);
          tip.style.display = 'block';
          const w = tip.offsetWidth, h = tip.offsetHeight;
          let left = u.cursor.left + 14, top = u.cursor.top + 14;
          if (left + w > u.over.clientWidth) left = u.cursor.left - w - 14;
          if (top + h > u.over.clientHeight) top = Math.max(0, u.over.clientHeight - h);
          tip.style.left = Math.max(0, left) + 'px';
          tip.style.top = top + 'px';
        },
      },
    };
  }

  function timeAxis() {
    return { stroke: '#5b6475', grid: { stroke: '#eef0f4' }, ticks: { stroke: '#d9dde5' } };
  }

  // spec: {id, title, sub, x, series: [{label, values, color, dash, width, fill,
  // points, paths, class, fmt, tipValue, tip}], yLabel, yFmt, axis ('num',
  // 'usd', 'power', 'pct': how the y axis labels its ticks),
  // bands, ranges, xTime (default true), xTitle, xAxis, yAxis, height,
  // controls, scales}
  function chart(parent, spec) {
    const box = el('div', { class: 'pc-chart', id: 'chart-' + spec.id, 'data-chart': spec.id });
    box.appendChild(el('div', { class: 'pc-chart-title', text: spec.title }));
    if (spec.sub) box.appendChild(el('div', { class: 'pc-chart-sub', text: spec.sub }));
    if (spec.controls) box.appendChild(spec.controls);
    const plot = el('div', { class: 'pc-plot' });
    box.appendChild(plot);
    parent.appendChild(box);
    const entry = { id: spec.id, title: spec.title, chart: null, spec: spec, box: box };
    registry.push(entry);
    draw(entry, plot);
    return entry;
  }

  function draw(entry, plot) {
    const spec = entry.spec;
    if (entry.chart) entry.chart.destroy();
    const xTime = spec.xTime !== false;
    const series = [{ label: spec.xLabel || 'time' }];
    for (const s of spec.series) {
      // uPlot merges its defaults with Object.assign: a key present but
      // undefined (say `scale`) would replace the default.
      series.push(defined({
        label: s.label,
        stroke: s.color || '#888',
        width: s.width == null ? 1.6 : s.width,
        dash: s.dash,
        fill: s.fill,
        class: s.class,
        spanGaps: s.spanGaps || false,
        scale: s.scale,
        paths: s.paths,
        points: s.points || { show: false },
        value: (u, v) => (v == null ? '–' : (s.fmt || spec.yFmt || fmtNum)(v)),
      }));
    }
    const width = Math.max(320, (plot.clientWidth || entry.box.clientWidth || 900) - 2);
    const opts = {
      width: width,
      height: spec.height || 260,
      series: series,
      bands: spec.bands || [],
      // y from 0 (or below, for negative data) to a little above the top.
      scales: Object.assign({ x: { time: xTime }, y: { range: (u, min, max) => [Math.min(0, min), max > 0 ? max * 1.08 : 1] } }, spec.scales || {}),
      axes: [
        Object.assign(timeAxis(), xTime ? {} : { values: spec.xValues }, spec.xAxis || {}),
        Object.assign({
          stroke: '#5b6475', grid: { stroke: '#eef0f4' }, ticks: { stroke: '#d9dde5' },
          label: spec.yLabel, labelSize: 18, size: 62,
          values: AXES[spec.axis || 'num'],
        }, spec.yAxis || {}),
      ],
      legend: { live: false },
      cursor: { points: { show: false }, drag: { x: false, y: false } },
      plugins: [tooltipPlugin(spec), rangesPlugin(spec.ranges || [])],
    };
    if (xTime) opts.tzDate = (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC');
    const data = [spec.x].concat(spec.series.map((s) => s.values));
    entry.chart = new uPlot(opts, data, plot);
  }

  function defined(o) {
    for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
    return o;
  }

  function resizeAll() {
    for (const e of registry) {
      if (!e.chart) continue;
      const w = Math.max(320, e.box.clientWidth - 26);
      if (Math.abs(w - e.chart.width) > 2) e.chart.setSize({ width: w, height: e.chart.height });
    }
  }

  // A chart whose data depends on a <select>: `build(value)` returns the
  // chart's spec fields (title, series, ...) for the chosen option.
  function selectChart(parent, id, label, options, initial, build) {
    const select = el('select', { 'aria-label': label, 'data-select': id });
    for (const o of options) select.appendChild(el('option', { value: o.value, text: o.label }));
    select.value = initial;
    const controls = el('div', { class: 'pc-chart-controls' }, el('label', {}, label + ' ', select));
    const entry = chart(parent, Object.assign({ id: id, controls: controls }, build(initial)));
    select.addEventListener('change', () => {
      const spec = Object.assign({ id: id, controls: controls }, build(select.value));
      entry.spec = spec;
      entry.box.querySelector('.pc-chart-title').textContent = spec.title;
      const sub = entry.box.querySelector('.pc-chart-sub');
      if (sub) sub.textContent = spec.sub || '';
      draw(entry, entry.box.querySelector('.pc-plot'));
    });
    return entry;
  }

  const line = () => uPlot.paths.linear();
  const noPath = () => null;

  // ---------------------------------------------------------------- tables

  // spec: {id, columns: [{key, label, num, fmt(row) -> text|Node, sort(row) -> value}],
  //        rows, limit, caption, plain}
  function table(parent, spec) {
    const wrap = el('div', { class: 'pc-table-wrap', id: 'table-' + spec.id, 'data-table': spec.id });
    const limit = spec.limit || 500;
    const count = el('span', {});
    const filter = el('input', { type: 'search', placeholder: 'filter rows…', 'aria-label': 'filter ' + spec.id });
    if (!spec.plain) wrap.appendChild(el('div', { class: 'pc-table-tools' }, filter, count));
    const thead = el('thead');
    const tbody = el('tbody');
    const t = el('table', { class: 'pc-table' + (spec.plain ? ' pc-plain' : '') }, thead, tbody);
    wrap.appendChild(el('div', { class: 'pc-table-scroll' }, t));
    parent.appendChild(wrap);
    let sortKey = null, sortDir = 1;
    const headRow = el('tr');
    spec.columns.forEach((c, ci) => {
      const th = el('th', { class: c.num ? 'num' : null, 'data-col': c.key, text: c.label });
      if (!spec.plain) {
        th.addEventListener('click', () => {
          if (sortKey === ci) sortDir = -sortDir;
          else { sortKey = ci; sortDir = c.num ? -1 : 1; }
          render();
        });
      }
      headRow.appendChild(th);
    });
    thead.appendChild(headRow);
    const valueOf = (c, r) => (c.sort ? c.sort(r) : r[c.key]);
    const textOf = (c, r) => {
      const v = c.fmt ? c.fmt(r) : r[c.key];
      return v == null ? '' : typeof v === 'object' && v.textContent != null ? v.textContent : String(v);
    };
    function render() {
      const q = filter.value.trim().toLowerCase();
      let rows = spec.rows;
      if (q) rows = rows.filter((r) => spec.columns.some((c) => textOf(c, r).toLowerCase().includes(q)));
      if (sortKey != null) {
        const c = spec.columns[sortKey];
        rows = rows.map((r, i) => [r, i]).sort((a, b) => {
          const va = valueOf(c, a[0]), vb = valueOf(c, b[0]);
          if (va == null && vb == null) return a[1] - b[1];
          if (va == null) return 1;
          if (vb == null) return -1;
          const d = typeof va === 'number' && typeof vb === 'number' ? va - vb : String(va).localeCompare(String(vb));
          return d !== 0 ? d * sortDir : a[1] - b[1];
        }).map((p) => p[0]);
      }
      headRow.querySelectorAll('th').forEach((th, i) => {
        if (i === sortKey) th.setAttribute('aria-sort', sortDir > 0 ? 'ascending' : 'descending');
        else th.removeAttribute('aria-sort');
      });
      const shown = rows.slice(0, limit);
      tbody.replaceChildren(...shown.map((r) => el('tr', {}, spec.columns.map((c) => {
        const v = c.fmt ? c.fmt(r) : r[c.key];
        return el('td', { class: c.num ? 'num' : null }, v == null ? '' : v);
      }))));
      count.textContent = rows.length > shown.length
        ? 'showing ' + shown.length + ' of ' + rows.length + ' rows (filter to narrow)'
        : rows.length + ' row' + (rows.length === 1 ? '' : 's');
    }
    filter.addEventListener('input', render);
    render();
    return wrap;
  }

  function link(href, text) {
    return el('a', { href: '#' + href, 'data-explain': href, text: text });
  }

  // ---------------------------------------------------------------- report: contracts

  // One contract's burn-down: cumulative spend in the run, the ledger's
  // projection after it to the end of the term (exact at each year's end,
  // docs/contracts.md "After the run"; straight between), the commitment and
  // each minimum's target, and the gap shaded where an obligation ends short.
  function burnDown(parent, c, run, days, chartId) {
    const runStart = run.start, runEnd = run.end;
    const cStart = parseTime(c.start), cEnd = parseTime(c.end);
    const from = Math.max(cStart, runStart);
    const to = Math.max(cEnd, from + DAY);
    const rate = usdOf(c.rate_per_day_at_end);
    const xs = new Set([from]);
    // In the run: the cumulative spend at the end of each day in the term.
    const spent = new Map([[from, 0]]);
    for (let d = 0; d < days.values.length; d++) {
      const t = Math.min(days.first + (d + 1) * DAY, runEnd);
      if (t <= from || t - DAY >= cEnd) continue;
      xs.add(t);
      spent.set(t, days.values[d]);
    }
    const spentEnd = spent.get(Math.min(runEnd, cEnd)) != null ? spent.get(Math.min(runEnd, cEnd)) : days.values.length ? days.values[days.values.length - 1] : 0;
    const obligations = c.obligations || [];
    for (const o of obligations) {
      for (const t of [parseTime(o.from), parseTime(o.due), parseTime(o.due) + 1]) if (t > from && t <= to) xs.add(t);
    }
    // After the run: the cumulative projection at the end of each year of
    // the term (the ledger's years), from the spend at the run's end.
    const knots = [[runEnd, spentEnd]];
    if (c.years) {
      let acc = spentEnd;
      for (const y of c.years) {
        const proj = usdOf(y.projected);
        if (!proj) continue;
        acc += proj;
        const t = Math.min(Date.UTC(y.year + 1, 0, 1) / 1000, cEnd);
        if (t > runEnd) knots.push([t, acc]);
      }
    } else if (cEnd > runEnd) {
      knots.push([cEnd, spentEnd + (rate * (cEnd - runEnd)) / DAY]);  // older JSON: the end rate
    }
    if (cEnd > runEnd) {
      xs.add(runEnd);
      xs.add(cEnd - 1);  // so a payment due with the term steps at its end
      xs.add(cEnd);
      for (let t = runEnd + 30 * DAY; t < cEnd; t += 30 * DAY) xs.add(t);
      for (const [t] of knots) if (t > runEnd && t <= cEnd) xs.add(t);
    }
    const x = Array.from(xs).sort((a, b) => a - b);
    const cumAt = (t) => {
      if (t <= runEnd) {
        let best = 0;
        for (const [tt, v] of spent) if (tt <= t && v != null) best = Math.max(best, v);
        return best;
      }
      for (let k = 1; k < knots.length; k++) {
        const [t0, v0] = knots[k - 1], [t1, v1] = knots[k];
        if (t <= t1) return v0 + ((v1 - v0) * (t - t0)) / Math.max(1, t1 - t0);
      }
      return knots[knots.length - 1][1];
    };
    const sSpent = x.map((t) => (spent.has(t) ? spent.get(t) : null));
    const sProj = x.map((t) => (cEnd > runEnd && t >= runEnd ? cumAt(t) : null));
    const series = [
      { label: 'spent (run)', values: sSpent, color: '#1f6feb', width: 2.2, fmt: fmtUsd, spanGaps: true },
      { label: 'projected after the run', values: sProj, color: '#1f6feb', dash: [7, 5], width: 2, fmt: fmtUsd },
    ];
    const bands = [];
    const shortfallFill = 'rgba(198, 40, 40, 0.13)';
    const term = obligations.find((o) => o.kind === 'term');
    // A take-or-pay minimum's shortfall is paid at its due date and counts
    // toward the term (docs/contracts.md): the term's gap is measured from
    // spend plus those payments, a line of its own when there are any.
    const paid = c.take_or_pay ? obligations.filter((o) => o.kind === 'minimum' && usdOf(o.shortfall) > 0) : [];
    let termLower = [1, 2];
    if (term && c.commitment !== 'none' && paid.length) {
      // Paid just after its due date; the last one, due with the term, counts at its end.
      const paidBy = (t) => paid.reduce((sum, o) => sum + (parseTime(o.due) < t || (t >= cEnd && parseTime(o.due) >= cEnd) ? usdOf(o.shortfall) : 0), 0);
      series.push({
        label: 'counted toward the commitment (spend + minimum shortfalls paid)', values: x.map((t) => cumAt(t) + paidBy(t)),
        color: '#7048e8', dash: [2, 4], width: 1.5, fmt: fmtUsd,
      });
      termLower = [series.length];
    }
    if (term && c.commitment !== 'none') {
      const req = usdOf(term.required);
      series.push({ label: 'commitment' + (term.prorated ? ' (pro-rated to the run)' : ''), values: x.map(() => req), color: '#c62828', dash: [3, 3], width: 1.8, fmt: fmtUsd });
      if (usdOf(term.shortfall) > 0) {
        for (const lower of termLower) {
          if (lower !== 2 || sProj.some((v) => v != null)) bands.push({ series: [series.length, lower], fill: shortfallFill });
        }
      }
    }
    obligations.forEach((o) => {
      if (o.kind !== 'minimum') return;
      const f = Math.max(parseTime(o.from), from), due = parseTime(o.due);
      if (due <= from) return;
      const target = cumAt(f) + usdOf(o.required);
      series.push({
        label: 'minimum due ' + fmtTimeIso(o.due) + (o.prorated ? ' (pro-rated)' : ''),
        values: x.map((t) => (t >= f && t <= due ? target : null)),
        color: '#e8590c', width: 2, fmt: fmtUsd, class: 'pc-minimum',
      });
      if (usdOf(o.shortfall) > 0) {
        bands.push({ series: [series.length, 1], fill: shortfallFill });
        if (sProj.some((v) => v != null)) bands.push({ series: [series.length, 2], fill: shortfallFill });
      }
    });
    const short = usdOf(c.shortfall_due) + usdOf(c.shortfall_projected);
    const title = c.id + ' (' + c.provider + '): spend against ' +
      (c.commitment === 'none' ? 'no commitment' : fmtMoney(c.committed) + ' ' + c.commitment) +
      (short > 0 ? ' — ' + fmtUsd(short) + ' shortfall' : c.commitment === 'none' ? '' : ' — on track');
    const hasMinimums = series.some((x) => x.class === 'pc-minimum');
    let sub = 'Cumulative spend under the contract from ' + fmtTime(from) + ' (US$)' +
      (cEnd > runEnd ? '; dashed: projected after the run to the end of the term (' + fmtTimeIso(c.end) + ') — ' + (c.projected_after ? fmtMoney(c.projected_after.total) + ': reserved per schedule, awards to their ends, on-demand at the last 28 days\' mean' : 'at the run-end rate of ' + fmtMoney(c.rate_per_day_at_end) + '/day') : '') +
      (term && c.commitment !== 'none' ? '; red: the commitment' : '') +
      (hasMinimums ? '; orange: each minimum\'s target (spend at the start of its period + the minimum) up to its due date' : '') +
      (paid.length ? '; purple: spend plus the minimum shortfalls paid, which count toward the commitment' : '');
    if (bands.length) sub += '; shaded: the gap to an obligation that ends short (ledger: ' + fmtMoney(c.shortfall_due) + ' due in the run, ' + fmtMoney(c.shortfall_projected) + ' projected after it)';
    sub += '.';
    return chart(parent, {
      id: chartId, title: title, sub: sub, x: x, series: series, bands: bands, yFmt: fmtUsd, axis: 'usd', height: 300,
      scales: { y: { range: (u, min, max) => [0, Math.max(max, 1) * 1.05] } },
    });
  }

  function daysOfReport(c) {
    const d = c.cumulative_spend_by_day;
    if (!d) return { first: 0, values: [] };
    return { first: parseTime(d.first_day + 'T00:00:00Z'), values: d.micros.map((m) => Number(m) / 1e6) };
  }

  function contractsSection(root, d, run, daysOf) {
    const s = section(root, 'contracts', 'Contracts: spend against commitments',
      'Each contract\'s cumulative spend in the run and its projection to the end of the term, against the commitment and its minimums. A shortfall is what a take-or-pay contract pays although unspent (docs/contracts.md).');
    let n = 0;
    d.contracts.forEach((c, i) => {
      const hasSpend = usdOf(c.spent) > 0;
      if (c.commitment === 'none' && !hasSpend) return;
      burnDown(s, c, run, daysOf(c, i), 'burn-down-' + i);
      n++;
    });
    if (!n) s.appendChild(el('p', { class: 'pc-empty', text: 'No contract has a commitment or spend in the run.' }));
    const rows = [];
    d.contracts.forEach((c) => (c.obligations || []).forEach((o) => rows.push(Object.assign({ contract: c.id, take_or_pay: c.take_or_pay }, o))));
    if (rows.length) {
      s.appendChild(el('h3', { text: 'Obligations (minimums and terms; after the run, projected: docs/contracts.md)' }));
      table(s, {
        id: 'obligations', rows: rows, columns: [
          { key: 'contract', label: 'contract' },
          { key: 'kind', label: 'kind' },
          { key: 'from', label: 'from', fmt: (r) => fmtTimeIso(r.from) },
          { key: 'due', label: 'due', fmt: (r) => fmtTimeIso(r.due) + (r.prorated ? ' *' : '') },
          { key: 'required', label: 'required', num: true, fmt: (r) => fmtMoney(r.required), sort: (r) => usdOf(r.required) },
          { key: 'spent', label: 'spent', num: true, fmt: (r) => fmtMoney(r.spent), sort: (r) => usdOf(r.spent) },
          { key: 'projected', label: 'projected', num: true, fmt: (r) => fmtMoney(r.projected), sort: (r) => usdOf(r.projected) },
          { key: 'shortfall', label: 'shortfall', num: true, fmt: (r) => fmtMoney(r.shortfall), sort: (r) => usdOf(r.shortfall) },
          { key: 'status', label: 'status', fmt: (r) => (usdOf(r.shortfall) > 0 ? (r.due_in_run ? 'missed' : 'short') : r.due_in_run ? 'met' : 'on track') + (usdOf(r.shortfall) > 0 && !r.take_or_pay ? ' (not payable)' : '') },
        ],
      });
      s.appendChild(el('p', { class: 'pc-note', text: '* pro-rated: the period began before the run; only the share inside it is asked of the run.' }));
    }
  }

  function costSection(root, d) {
    const cmp = d.cost_by_policy || [];
    if (cmp.length < 2) return;
    const s = section(root, 'cost-by-policy', 'Cost by policy');
    const total = cmp.map((c) => usdOf(c.lifetime_total || c.total)), spend = cmp.map((c) => usdOf(c.spend));
    const diff = total[1] - total[0];
    groupedBars(s, {
      id: 'cost-by-policy', cats: cmp.map((c) => c.policy), xLabel: 'cost model', axis: 'usd', fmt: fmtUsd, height: 240,
      title: 'Lifetime cost (spend to the end of every term + take-or-pay shortfall) under each cost model: ' + cmp[1].policy + ' costs ' +
        fmtUsd(Math.abs(diff)) + (diff >= 0 ? ' more' : ' less') + ' than ' + cmp[0].policy + ' (this run)',
      sub: 'The same scenario and seed placed under each cost model (docs/contracts.md); US$.',
      series: [
        { label: 'lifetime cost', values: total, color: '#c62828', fill: 'rgba(198,40,40,0.55)' },
        { label: 'spend in the run', values: spend, color: '#1f6feb', fill: 'rgba(31,111,235,0.55)' },
      ],
    });
    table(s, {
      id: 'cost-by-policy', plain: true, rows: cmp, columns: [
        { key: 'policy', label: 'policy' },
        { key: 'spend', label: 'spend', num: true, fmt: (r) => fmtMoney(r.spend) },
        { key: 'take_or_pay_shortfall', label: 'take-or-pay shortfall', num: true, fmt: (r) => fmtMoney(r.take_or_pay_shortfall) },
        { key: 'total', label: 'spend + all shortfall', num: true, fmt: (r) => fmtMoney(r.total) },
        { key: 'in_run_total', label: 'total (run)', num: true, fmt: (r) => (r.in_run_total ? fmtMoney(r.in_run_total) : '') },
        { key: 'lifetime_total', label: 'total (lifetime)', num: true, fmt: (r) => (r.lifetime_total ? fmtMoney(r.lifetime_total) : '') },
        { key: 'exact', label: 'lifetime (exact US$)', num: true, fmt: (r) => (r.lifetime_total || r.total).usd },
      ],
    });
  }

  // Cost over two horizons: in the run, and to the end of the latest term
  // (docs/report.md, "Cost by horizon"); every total is the sum of the
  // figures beside it.
  function horizonSection(root, d) {
    const h = d.horizon;
    if (!h) return;
    const s = section(root, 'horizon', 'Cost by horizon',
      'In the run = to ' + fmtTimeIso(h.run_end) + '; lifetime = to ' + fmtTimeIso(h.lifetime_end) +
      ', the end of the latest term. After the run, spend is projected: reserved capacity per its schedule and awards to their ends (exact), ' +
      'on-demand and spot at the mean of the run\'s last ' + h.projection_days + ' days. Total = spend + take-or-pay shortfall.');
    const rows = [
      { part: 'spend', run: h.in_run.spend, after: h.after_run.spend.total, life: h.lifetime.spend },
      { part: '  on-demand and spot (projected at the last weeks\' mean)', run: null, after: h.after_run.spend.usage, life: null },
      { part: '  reserved (per schedule)', run: null, after: h.after_run.spend.reserved, life: null },
      { part: '  procured (awards to their ends)', run: null, after: h.after_run.spend.procured, life: null },
      { part: 'take-or-pay shortfall', run: h.in_run.take_or_pay_shortfall, after: h.after_run.take_or_pay_shortfall, life: h.lifetime.take_or_pay_shortfall },
      { part: 'total', run: h.in_run.total, after: h.after_run.total, life: h.lifetime.total },
    ];
    const m = (v) => (v == null ? '' : fmtMoney(v));
    table(s, {
      id: 'horizon', plain: true, rows: rows, columns: [
        { key: 'part', label: '' },
        { key: 'run', label: 'in the run', num: true, fmt: (r) => m(r.run) },
        { key: 'after', label: 'after the run (projected)', num: true, fmt: (r) => m(r.after) },
        { key: 'life', label: 'lifetime', num: true, fmt: (r) => m(r.life) },
      ],
    });
    const byContract = (d.contracts || []).map((c) => ({
      id: c.id, ends: fmtTimeIso(c.end), spent: c.spent, after: c.projected_after.total,
      sf_run: c.take_or_pay ? c.shortfall_due : null, sf_after: c.take_or_pay ? c.shortfall_projected : null, life: c.lifetime_cost,
    })).concat((h.uncontracted || []).map((u) => ({
      id: '(no contract) ' + u.provider, ends: '', spent: u.spent, after: u.projected_after.total, sf_run: null, sf_after: null, life: u.lifetime,
    })));
    if (byContract.length) {
      s.appendChild(el('h3', { text: 'Lifetime cost by contract' }));
      table(s, {
        id: 'horizon-contracts', plain: true, rows: byContract, columns: [
          { key: 'id', label: 'contract' },
          { key: 'ends', label: 'term ends' },
          { key: 'spent', label: 'spent (run)', num: true, fmt: (r) => m(r.spent) },
          { key: 'after', label: 'projected after', num: true, fmt: (r) => m(r.after) },
          { key: 'sf_run', label: 'shortfall (run)', num: true, fmt: (r) => m(r.sf_run) },
          { key: 'sf_after', label: 'shortfall after', num: true, fmt: (r) => m(r.sf_after) },
          { key: 'life', label: 'lifetime', num: true, fmt: (r) => m(r.life) },
        ],
      });
    }
    if ((h.by_year || []).length) {
      s.appendChild(el('h3', { text: 'Lifetime cost by year (shortfall in the year its period ends)' }));
      table(s, {
        id: 'horizon-years', plain: true, rows: h.by_year, columns: [
          { key: 'year', label: 'year' },
          { key: 'spent', label: 'spent (run)', num: true, fmt: (r) => m(r.spent) },
          { key: 'projected', label: 'projected', num: true, fmt: (r) => m(r.projected) },
          { key: 'shortfall', label: 'take-or-pay shortfall', num: true, fmt: (r) => m(r.shortfall) },
          { key: 'total', label: 'total', num: true, fmt: (r) => m(r.total) },
        ],
      });
    }
  }

  // ---------------------------------------------------------------- report: time series

  function bucketAxis(ts) {
    const start = parseTime(ts.start), end = parseTime(ts.end), w = ts.bucket_seconds;
    const mids = [], froms = [];
    for (let i = 0; i < ts.buckets; i++) {
      const a = start + i * w, b = Math.min(a + w, end);
      froms.push(a);
      mids.push((a + b) / 2);
    }
    const title = (i) => fmtTime(froms[i]) + ' – ' + fmtTime(Math.min(froms[i] + w, end)) + ' UTC (mean)';
    return { x: mids, title: title };
  }

  // Faults as shaded ranges: outages red, capacity cuts orange; `hits(f)`
  // says whether a fault touches what the chart shows.
  function faultRanges(d, hits) {
    return (d.faults || []).filter(hits).map((f) => ({
      from: parseTime(f.start), to: parseTime(f.end),
      color: f.kind === 'outage' ? 'rgba(198, 40, 40, 0.16)' : 'rgba(232, 89, 12, 0.12)', fault: f,
    }));
  }
  function faultNote(ranges) {
    if (!ranges.length) return '';
    return ' Shaded: ' + ranges.map((r) => r.fault.id + ' (' + (r.fault.kind === 'outage' ? 'outage' : 'capacity cut ' + fmtPct(r.fault.fraction)) + ' of ' + r.fault.target_kind + ' ' + r.fault.target + ')').join('; ') + '.';
  }

  function fleetSeries(f) {
    return [
      { label: 'installed', values: f.installed_gpus, color: 'rgba(134,142,150,0.45)', width: 5, fmt: (v) => fmtNum(v) + ' GPUs' },
      { label: 'usable', values: f.usable_gpus, color: '#2f9e44', width: 1.5, fmt: (v) => fmtNum(v) + ' GPUs' },
      { label: 'used', values: f.used_gpus, color: '#1f6feb', width: 2, fill: 'rgba(31,111,235,0.12)', fmt: (v) => fmtNum(v) + ' GPUs' },
    ];
  }

  function fleetSection(root, d, maps) {
    const ts = d.timeseries;
    const ax = bucketAxis(ts);
    const s = section(root, 'fleet', 'Fleet: GPUs installed, usable and in use',
      'Means over buckets of ' + fmtDur(ts.bucket_seconds) + '. Usable excludes outages, capacity cuts and time outside a pool\'s contract; the gap between installed and usable is capacity lost, the gap between usable and used is idle.');
    const grid = el('div', { class: 'pc-grid' });
    s.appendChild(grid);
    const providers = ts.providers.slice().sort((a, b) => Math.max(...b.installed_gpus, 0) - Math.max(...a.installed_gpus, 0));
    const fleetChart = (parent, f, id, hits, what) => {
      const ranges = faultRanges(d, hits);
      const peakUsed = Math.max(0, ...f.used_gpus), peakInst = Math.max(0, ...f.installed_gpus);
      return {
        id: id, x: ax.x, xTitle: ax.title, series: fleetSeries(f), ranges: ranges,
        title: what + ': up to ' + fmtShort(peakInst) + ' GPUs installed, peak mean use ' + fmtShort(peakUsed),
        sub: 'GPUs (mean per bucket); installed is the wide grey line under usable.' + faultNote(ranges), yLabel: 'GPUs',
        scales: { y: { range: (u, min, max) => [0, Math.max(1, max) * 1.05] } },
      };
    };
    if (providers.length <= 8) {
      providers.forEach((f) => {
        chart(grid, fleetChart(grid, f, 'fleet-' + f.id, (x) => maps.faultProvider(x) === f.id, 'Provider ' + f.id));
      });
    } else {
      selectChart(s, 'fleet-provider', 'Provider', providers.map((f) => ({ value: f.id, label: f.id })), providers[0].id,
        (id) => { const f = providers.find((p) => p.id === id); return fleetChart(s, f, 'fleet-provider', (x) => maps.faultProvider(x) === f.id, 'Provider ' + f.id); });
    }
    const pools = ts.pools.series;
    if (pools.length) {
      const biggest = pools.slice().sort((a, b) => Math.max(0, ...b.installed_gpus) - Math.max(0, ...a.installed_gpus))[0];
      s.appendChild(el('p', { class: 'pc-note', text: 'Pools: the ' + ts.pools.shown + ' of ' + ts.pools.total + ' with ' + ts.pools.chosen_by + '.' }));
      selectChart(s, 'fleet-pool', 'Pool', pools.map((p) => ({ value: p.id, label: p.id + ' (' + p.accelerator + ', ' + p.provider + ')' })), biggest.id, (id) => {
        const p = pools.find((q) => q.id === id);
        return fleetChart(s, p, 'fleet-pool', (f) => maps.faultHitsPool(f, p), 'Pool ' + p.id + ' (' + p.accelerator + ' at ' + p.site + ')');
      });
    }
  }

  function powerSection(root, d, maps) {
    const ts = d.timeseries;
    const sites = ts.sites.series;
    if (!sites.length) return;
    const ax = bucketAxis(ts);
    const s = section(root, 'power', 'Power per site against its limit',
      'Facility power drawn by allocated GPUs (board watts × PUE): the peak and the mean of each bucket, against the site\'s limit (its lowest in the bucket). The sites shown: ' + ts.sites.shown + ' of ' + ts.sites.total + ', ' + ts.sites.chosen_by + '.');
    // The closest approach to the limit, at one instant (the recorder's
    // peak of drawn ÷ limit), not the bucket's peak draw over its lowest
    // limit, which can fall at different instants when the limit changes.
    const ratio = (x) => (x.limited && x.drawn_peak_share_of_limit ? Math.max(0, ...x.drawn_peak_share_of_limit) : -1);
    const first = sites.slice().sort((a, b) => ratio(b) - ratio(a))[0];
    selectChart(s, 'power-site', 'Site', sites.map((x) => ({ value: x.id, label: x.id + (x.limited ? '' : ' (no limit)') })), first.id, (id) => {
      const x = sites.find((q) => q.id === id);
      const ranges = faultRanges(d, (f) => maps.faultHitsSite(f, x));
      const r = ratio(x);
      const series = [
        { label: 'peak drawn', values: x.drawn_peak_watts, color: '#e8590c', width: 2, fmt: fmtPower },
        { label: 'mean drawn', values: x.drawn_mean_watts, color: '#1f6feb', width: 1.5, fmt: fmtPower },
      ];
      if (x.limited) series.push({ label: 'limit', values: x.limit_watts, color: '#c62828', dash: [5, 4], width: 2, fmt: fmtPower });
      return {
        x: ax.x, xTitle: ax.title, series: series, ranges: ranges, yFmt: fmtPower, axis: 'power', yLabel: 'facility power',
        title: 'Site ' + x.id + ' (' + x.provider + '): ' + (x.limited ? 'its draw comes within ' + fmtPct(Math.max(0, 1 - r)) + ' of its limit (' + fmtPct(r) + ' at the closest)' : 'no power limit'),
        sub: 'Facility power (watts drawn by allocated GPUs × PUE): each bucket\'s peak and mean' + (x.limited ? ', and the limit (its lowest in the bucket; where it rises inside a bucket, the peak drawn after the rise can sit above the line)' : '') + '.' + faultNote(ranges),
      };
    });
  }

  function queueSection(root, d) {
    const ts = d.timeseries;
    if (!ts.classes.length) return;
    const ax = bucketAxis(ts);
    const s = section(root, 'queues', 'Queues: jobs waiting and how long they waited',
      'Jobs waiting per workload class (the mean of each bucket), and the queue wait (first start − arrival) of the jobs that started in each bucket: nearest-rank percentiles.');
    const peak = ts.classes.map((c) => Math.max(0, ...c.queued_peak));
    const worst = ts.classes[peak.indexOf(Math.max(...peak))];
    chart(s, {
      id: 'queue-length', x: ax.x, xTitle: ax.title, yLabel: 'jobs',
      title: 'Jobs waiting by class — the longest queue: ' + worst.class + ', up to ' + fmtNum(Math.max(...worst.queued_peak), 0) + ' jobs',
      sub: 'Jobs queued per workload class: the mean of each bucket (solid) and its peak (dotted).',
      series: ts.classes.flatMap((c, i) => [
        { label: c.class, values: c.queued_mean, color: PALETTE[i % PALETTE.length], width: 2, fmt: (v) => fmtNum(v) + ' jobs (mean)' },
        { label: c.class + ' (peak)', values: c.queued_peak, color: PALETTE[i % PALETTE.length], width: 1, dash: [3, 3], class: 'pc-nolegend', fmt: (v) => fmtNum(v, 0) + ' jobs (peak)' },
      ]),
    });
    const busiest = ts.classes.slice().sort((a, b) => b.started.reduce((x, y) => x + y, 0) - a.started.reduce((x, y) => x + y, 0))[0];
    selectChart(s, 'queue-wait', 'Class', ts.classes.map((c) => ({ value: c.class, label: c.class })), busiest.class, (name) => {
      const c = ts.classes.find((q) => q.class === name);
      const p99 = Math.max(0, ...c.wait_p99_s.filter((v) => v != null));
      // Points a little larger when there are few (a live broker's first minutes).
      const starts = c.wait_p50_s.filter((v) => v != null).length;
      const pts = { show: true, size: starts < 60 ? 7 : 3 };
      // Hours, unless the worst wait is short (the live broker's first minutes).
      const [unit, per] = p99 >= 7200 ? ['hours', 3600] : p99 >= 120 ? ['minutes', 60] : ['seconds', 1];
      const scaled = (v) => (v == null ? null : v / per);
      return {
        x: ax.x, xTitle: ax.title, yLabel: unit,
        title: 'Queue wait of ' + name + ' jobs as they start — worst p99 ' + fmtDur(p99),
        sub: unit[0].toUpperCase() + unit.slice(1) + ' from arrival to first start, of the jobs starting in each bucket (none started: no point).',
        series: [
          { label: 'p50', values: c.wait_p50_s.map(scaled), color: '#2f9e44', points: pts, fmt: (v) => fmtDur(v * per) },
          { label: 'p90', values: c.wait_p90_s.map(scaled), color: '#e8590c', points: pts, fmt: (v) => fmtDur(v * per) },
          { label: 'p99', values: c.wait_p99_s.map(scaled), color: '#c62828', points: pts, fmt: (v) => fmtDur(v * per) },
          { label: 'jobs started', values: c.started, color: '#868e96', width: 0, paths: noPath, scale: 'count', fmt: (v) => fmtNum(v, 0), class: 'pc-nolegend' },
        ],
        scales: { y: { range: (u, min, max) => [0, Math.max(0.1, max) * 1.08] } },
      };
    });
  }

  function servicesSection(root, d, maps) {
    const ts = d.timeseries;
    if (!ts.services.length) return;
    const ax = bucketAxis(ts);
    const s = section(root, 'services', 'Services: replicas per provider and demand served',
      'Where each service\'s replicas ran (the mean of each bucket) — a failover shows as replicas moving from one provider to others — and its demand against what was served.');
    ts.services.forEach((svc, k) => {
      const row = (d.services || []).find((r) => r.id === svc.id) || {};
      const providers = Object.keys(svc.replicas_by_provider);
      const ranges = faultRanges(d, (f) => providers.includes(maps.faultProvider(f)));
      const grid = el('div', { class: 'pc-grid' });
      s.appendChild(grid);
      chart(grid, {
        id: 'replicas-' + k, x: ax.x, xTitle: ax.title, yLabel: 'replicas', ranges: ranges,
        title: svc.id + ': replicas by provider — ' + (row.failovers || 0) + ' failovers, ' + (row.replicas_lost || 0) + ' replicas lost',
        sub: 'Replicas (mean per bucket).' + faultNote(ranges),
        series: providers.map((p, i) => ({ label: p, values: svc.replicas_by_provider[p], color: PALETTE[i % PALETTE.length], fmt: (v) => fmtNum(v) + ' replicas' })),
      });
      chart(grid, {
        id: 'demand-' + k, x: ax.x, xTitle: ax.title, yLabel: 'tokens/s', ranges: ranges,
        title: svc.id + ': ' + fmtPct(row.demand_served) + ' of demand served, short for ' + fmtDur(row.short_seconds),
        sub: 'Tokens/s (mean per bucket); shaded between the lines: demand not served.' + faultNote(ranges),
        bands: [{ series: [1, 2], fill: 'rgba(198, 40, 40, 0.25)' }],
        series: [
          { label: 'demand', values: svc.demand_tokens_per_s, color: '#495057', width: 1.5, fmt: (v) => fmtShort(v) + ' tokens/s' },
          { label: 'served', values: svc.served_tokens_per_s, color: '#2f9e44', width: 2, fmt: (v) => fmtShort(v) + ' tokens/s' },
        ],
      });
    });
  }

  // ROFR and procurement requests on a timeline: one row per request, a
  // line from when it was raised to the end of the capacity's term (or the
  // run), and a marker for each step: offered, answered, awarded, arrived.
  function rofrSection(root, d, run) {
    const reqs = (d.capacity_requests || []).slice(0, 60);
    if (!reqs.length) return;
    const s = section(root, 'procurement', 'Procurement: capacity requests and rights of first refusal',
      'Each capacity request the planner raised, on a timeline: offered to the holder of a right of first refusal (who may match the market\'s terms within its window), its answer, the award (via the ROFR or on the market) and the capacity\'s arrival.');
    // Steps at one instant (declined, then awarded on the market) overlap:
    // later steps are drawn smaller, on top, so each shows as a ring.
    const kinds = [
      { key: 'raised', label: 'raised (no ROFR)', color: '#868e96', size: 13 },
      { key: 'offered', label: 'offered to the ROFR holder', color: '#1f6feb', size: 13 },
      { key: 'matched', label: 'matched', color: '#40c057', size: 13 },
      { key: 'declined', label: 'declined', color: '#c62828', size: 13 },
      { key: 'expired', label: 'expired (no answer)', color: '#e67700', size: 13 },
      { key: 'arrived', label: 'capacity arrived', color: '#212529', size: 10 },
      { key: 'market', label: 'awarded on the market', color: '#ae3ec9', size: 7 },
      { key: 'rofr', label: 'awarded via the ROFR', color: '#0b7285', size: 7 },
      { key: 'unavailable', label: 'unavailable', color: '#495057', size: 7 },
    ];
    const events = [];  // {t, row, kind}
    const spans = [];
    reqs.forEach((q, i) => {
      const row = i + 1;
      const raised = parseTime(q.raised);
      let last = raised;
      const add = (t, kind) => { if (t != null) { events.push({ t: t, row: row, kind: kind, q: q }); last = Math.max(last, t); } };
      add(raised, q.rofr ? 'offered' : 'raised');
      if (q.rofr) {
        if (q.rofr.answer === 'matched' || q.rofr.answer === 'declined') add(parseTime(q.rofr.answered) || parseTime(q.rofr.window_closes), q.rofr.answer);
        if (q.rofr.answer === 'expired') add(parseTime(q.rofr.window_closes), 'expired');
      }
      if (q.award) {
        add(parseTime(q.award.awarded), q.award.via === 'rofr' ? 'rofr' : 'market');
        if (q.award.arrived) add(parseTime(q.award.arrives), 'arrived');
        last = Math.max(last, Math.min(parseTime(q.award.ends), run.end));
      }
      if (q.outcome === 'unavailable') add(raised, 'unavailable');
      spans.push({ row: row, from: raised, to: Math.max(last, raised + 1) });
    });
    // One x per event: simultaneous events move apart by a second, which no
    // chart can show, so each x holds one marker per kind.
    const points = events.concat(spans.map((sp) => ({ t: sp.to, row: sp.row, kind: 'end' })));
    points.sort((a, b) => a.t - b.t || a.row - b.row);
    const x = [], real = [];
    for (const p of points) {
      const xt = x.length && p.t <= x[x.length - 1] ? x[x.length - 1] + 1 : p.t;
      p.x = xt;
      x.push(xt);
      real.push(p);
    }
    const series = [];
    spans.forEach((sp) => {
      series.push({
        label: reqs[sp.row - 1].id, values: x.map((t) => (t >= sp.from && t <= sp.to ? sp.row : null)),
        color: '#adb5bd', width: 3, class: 'pc-nolegend', tip: false,
      });
    });
    for (const k of kinds) {
      const values = x.map(() => null);
      let any = false;
      real.forEach((p, i) => { if (p.kind === k.key) { values[i] = p.row; any = true; } });
      if (!any) continue;
      series.push({
        label: k.label, values: values, color: k.color, width: 0, paths: noPath,
        points: { show: true, size: k.size, fill: k.color, stroke: k.color },
        tipValue: (v) => reqs[v - 1].id + ' — ' + reqs[v - 1].class,
      });
    }
    const offered = reqs.filter((q) => q.rofr).length;
    const matched = reqs.filter((q) => q.rofr && q.rofr.answer === 'matched').length;
    chart(s, {
      id: 'rofr-timeline', x: x, series: series, height: Math.max(200, 60 + 26 * reqs.length),
      xTitle: (i) => fmtTime(real[i].t) + ' UTC',
      title: reqs.length + ' capacity requests: ' + offered + ' offered under a right of first refusal, ' + matched + ' matched by the holder',
      sub: 'One row per request (y), from when it was raised to the end of the capacity\'s term or the run; markers for each step.',
      yAxis: { splits: () => reqs.map((_, i) => i + 1), values: (u, splits) => splits.map((v) => (reqs[v - 1] ? reqs[v - 1].id : '')), size: 60 },
      scales: { y: { range: [0.5, reqs.length + 0.5] } },
    });
  }

  // ---------------------------------------------------------------- report: tables and explanations

  function jobTables(root, d, ids) {
    const w = d.workloads;
    const s = section(root, 'tables', 'Tables', 'Click a column to sort (again to reverse); type to filter. Names link to their explanation.');
    if (w) {
      s.appendChild(el('h3', { text: 'Jobs (' + fmtNum(w.jobs_listed, 0) + ' of ' + fmtNum(w.jobs_total, 0) + ': ' + w.selection + ')' }));
      table(s, {
        id: 'jobs', rows: w.jobs, columns: [
          { key: 'id', label: 'job', fmt: (r) => link(ids.job.get(r.id), r.id) },
          { key: 'class', label: 'class' },
          { key: 'gpus', label: 'GPUs', num: true },
          { key: 'priority', label: 'priority', num: true },
          { key: 'arrival', label: 'arrival', fmt: (r) => fmtTimeIso(r.arrival) },
          { key: 'status', label: 'status' },
          { key: 'wait_s', label: 'queue wait', num: true, fmt: (r) => fmtDur(r.wait_s) },
          { key: 'completion_s', label: 'completion time', num: true, fmt: (r) => fmtDur(r.completion_s) },
          { key: 'preemptions', label: 'preempted', num: true },
          { key: 'interruptions', label: 'interrupted', num: true },
          { key: 'providers', label: 'ran at', fmt: (r) => r.providers.join(', '), sort: (r) => r.providers.join(',') },
          { key: 'spend', label: 'spend', num: true, fmt: (r) => fmtMoney(r.spend), sort: (r) => usdOf(r.spend) },
          { key: 'listed_for', label: 'listed for', fmt: (r) => r.listed_for.join(', ') },
        ],
      });
    }
    s.appendChild(el('h3', { text: 'Job classes' }));
    table(s, {
      id: 'job-classes', rows: d.jobs || [], columns: [
        { key: 'class', label: 'class' },
        { key: 'total', label: 'jobs', num: true },
        { key: 'completed', label: 'done', num: true },
        { key: 'running', label: 'running', num: true },
        { key: 'queued', label: 'queued', num: true, sort: (r) => r.queued + r.not_arrived, fmt: (r) => r.queued + r.not_arrived },
        { key: 'wait_p50', label: 'wait p50', num: true, sort: (r) => r.queue_wait.p50_s, fmt: (r) => fmtDur(r.queue_wait.p50_s) },
        { key: 'wait_p90', label: 'wait p90', num: true, sort: (r) => r.queue_wait.p90_s, fmt: (r) => fmtDur(r.queue_wait.p90_s) },
        { key: 'wait_p99', label: 'wait p99', num: true, sort: (r) => r.queue_wait.p99_s, fmt: (r) => fmtDur(r.queue_wait.p99_s) },
        { key: 'jct_p50', label: 'JCT p50', num: true, sort: (r) => r.completion_time.p50_s, fmt: (r) => fmtDur(r.completion_time.p50_s) },
        { key: 'jct_p99', label: 'JCT p99', num: true, sort: (r) => r.completion_time.p99_s, fmt: (r) => fmtDur(r.completion_time.p99_s) },
        { key: 'preemptions', label: 'preempted', num: true },
        { key: 'interruptions', label: 'interrupted', num: true },
        { key: 'moved_provider', label: 'moved', num: true },
      ],
    });
    s.appendChild(el('h3', { text: 'Pools' }));
    table(s, {
      id: 'pools', rows: d.pools || [], columns: [
        { key: 'id', label: 'pool' },
        { key: 'provider', label: 'provider' },
        { key: 'site', label: 'site' },
        { key: 'accelerator', label: 'type' },
        { key: 'pricing', label: 'pricing' },
        { key: 'contract', label: 'contract', fmt: (r) => r.contract || '–' },
        { key: 'price', label: '$/GPU-h', num: true, sort: (r) => usdOf(r.price_per_gpu_hour), fmt: (r) => '$' + fmtNum(usdOf(r.price_per_gpu_hour), 2) },
        { key: 'gpus_at_end', label: 'GPUs at end', num: true, fmt: (r) => fmtNum(r.gpus_at_end, 0) },
        { key: 'used_gpu_hours', label: 'GPU-hours used', num: true, fmt: (r) => fmtNum(r.used_gpu_hours, 0) },
        { key: 'utilisation', label: 'utilisation', num: true, fmt: (r) => fmtPct(r.utilisation) },
        { key: 'spend', label: 'spend', num: true, sort: (r) => usdOf(r.spend), fmt: (r) => fmtMoney(r.spend) },
      ],
    });
    if (w) {
      const decisions = [];
      w.jobs.forEach((j) => j.timeline.forEach((e) => {
        if (e.event !== 'job-started') return;
        decisions.push({ at: e.at, who: j.id, kind: 'job', href: ids.job.get(j.id), decision: 'start ' + j.gpus + ' GPUs', e: e });
      }));
      w.services.forEach((sv) => sv.timeline.forEach((e) => {
        if (e.event !== 'replica-started') return;
        decisions.push({ at: e.at, who: sv.id, kind: 'service', href: ids.service.get(sv.id), decision: e.count + ' replica' + (e.count === 1 ? '' : 's'), e: e });
      }));
      decisions.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
      s.appendChild(el('h3', { text: 'Decisions (every start of a listed job, and each service\'s replica starts grouped by instant and pool)' }));
      table(s, {
        id: 'decisions', rows: decisions, columns: [
          { key: 'at', label: 'time', fmt: (r) => fmtTimeIso(r.at) },
          { key: 'who', label: 'workload', fmt: (r) => link(r.href, r.who) },
          { key: 'kind', label: 'kind' },
          { key: 'decision', label: 'decision' },
          { key: 'pool', label: 'pool', sort: (r) => r.e.pool, fmt: (r) => r.e.pool },
          { key: 'provider', label: 'provider', sort: (r) => r.e.provider, fmt: (r) => r.e.provider },
          { key: 'gpus', label: 'GPUs', num: true, sort: (r) => r.e.gpus, fmt: (r) => fmtNum(r.e.gpus, 0) },
          { key: 'detail', label: 'why / note', sort: (r) => r.e.detail, fmt: (r) => r.e.detail },
        ],
      });
    }
    if ((d.services || []).length) {
      s.appendChild(el('h3', { text: 'Services' }));
      table(s, {
        id: 'services', rows: d.services, columns: [
          { key: 'id', label: 'service', fmt: (r) => link(ids.service.get(r.id), r.id) },
          { key: 'class', label: 'class' },
          { key: 'demand_served', label: 'demand served', num: true, fmt: (r) => fmtPct(r.demand_served) },
          { key: 'short_seconds', label: 'short for', num: true, fmt: (r) => fmtDur(r.short_seconds) },
          { key: 'peak_replicas', label: 'peak replicas', num: true },
          { key: 'replicas_lost', label: 'lost', num: true },
          { key: 'replaced', label: 'replaced', num: true },
          { key: 'failovers', label: 'failovers', num: true },
        ],
      });
    }
    if ((d.capacity_requests || []).length) {
      s.appendChild(el('h3', { text: 'Capacity requests' }));
      table(s, {
        id: 'requests', rows: d.capacity_requests, columns: [
          { key: 'id', label: 'request', fmt: (r) => link(ids.request.get(r.id), r.id), sort: (r) => Number(r.id.slice(4)) },
          { key: 'raised', label: 'raised', fmt: (r) => fmtTimeIso(r.raised) },
          { key: 'class', label: 'class' },
          { key: 'gpus', label: 'GPUs asked', num: true },
          { key: 'holder', label: 'first refusal', sort: (r) => (r.rofr ? r.rofr.holder : ''), fmt: (r) => (r.rofr ? r.rofr.holder + ' (' + r.rofr.contract + ')' : '–') },
          { key: 'answer', label: 'answer', sort: (r) => (r.rofr ? r.rofr.answer : ''), fmt: (r) => (r.rofr && r.rofr.answer) || '–' },
          { key: 'outcome', label: 'outcome' },
          { key: 'award', label: 'awarded to', sort: (r) => (r.award ? r.award.provider : ''), fmt: (r) => (r.award ? r.award.provider + ' via ' + r.award.via : '–') },
          { key: 'arrives', label: 'arrives', sort: (r) => (r.award ? r.award.arrives : ''), fmt: (r) => (r.award ? fmtTimeIso(r.award.arrives) : '–') },
        ],
      });
    }
  }

  function facts(pairs) {
    const dl = el('dl');
    for (const [k, v] of pairs) {
      if (v == null || v === '') continue;
      dl.appendChild(el('dt', { text: k }));
      dl.appendChild(el('dd', {}, v));
    }
    return dl;
  }

  function timelineTable(entries, omitted, service) {
    const rows = entries.map((e) => el('tr', {},
      el('td', { text: fmtTimeIso(e.at) }), el('td', { text: e.event }),
      service ? el('td', { class: 'num', text: String(e.count) }) : null,
      el('td', { text: e.pool ? e.pool + ' (' + e.provider + ')' : '' }),
      el('td', { class: 'num', text: e.gpus ? fmtNum(e.gpus, 0) : '' }),
      el('td', { text: e.detail })));
    const head = el('tr', {}, el('th', { text: 'time' }), el('th', { text: 'event' }), service ? el('th', { class: 'num', text: 'count' }) : null,
      el('th', { text: 'pool' }), el('th', { class: 'num', text: 'GPUs' }), el('th', { text: 'detail' }));
    const wrap = el('div', { class: 'pc-table-scroll' }, el('table', { class: 'pc-table pc-plain' }, el('thead', {}, head), el('tbody', {}, rows)));
    const out = el('div', {}, wrap);
    if (omitted > 0) out.appendChild(el('p', { class: 'pc-note', text: omitted + ' more event' + (omitted === 1 ? '' : 's') + ' not kept in this report (its timeline keeps the first and the last).' }));
    return out;
  }

  function explanations(root, d, ids) {
    const s = section(root, 'explanations', 'Explanations',
      'Why each listed job, service and capacity request is where it is. Links elsewhere in the report open one; ');
    const all = el('input', { type: 'checkbox', id: 'pc-show-all' });
    s.querySelector('.pc-note').appendChild(el('label', {}, all, ' show all'));
    const box = el('div', { class: 'pc-explanations' });
    all.addEventListener('change', () => box.classList.toggle('pc-all', all.checked));
    s.appendChild(box);
    const w = d.workloads;
    if (w) {
      w.jobs.forEach((j) => {
        const a = el('article', { class: 'pc-explain', id: ids.job.get(j.id), 'data-kind': 'job', 'data-id': j.id });
        a.appendChild(el('h3', { text: 'Job ' + j.id }));
        let summary;
        if (j.status === 'done') summary = 'Arrived ' + fmtTimeIso(j.arrival) + ', waited ' + fmtDur(j.wait_s) + ', finished ' + fmtTimeIso(j.end) + ' (' + fmtDur(j.completion_s) + ' after arrival)';
        else if (j.status === 'running') summary = 'Arrived ' + fmtTimeIso(j.arrival) + ', started after ' + fmtDur(j.wait_s) + ', still running at the end of the run';
        else if (j.status === 'queued') summary = 'Arrived ' + fmtTimeIso(j.arrival) + ' and still waits at the end of the run' + (j.starts ? ' (it ran before and was stopped)' : '');
        else summary = 'Status: ' + j.status;
        if (j.preemptions || j.interruptions) summary += '; preempted ' + j.preemptions + '×, interrupted ' + j.interruptions + '×, losing ' + fmtNum(j.lost_work_gpu_seconds / 3600, 0) + ' reference GPU-hours';
        a.appendChild(el('p', { text: summary + '.' }));
        a.appendChild(facts([
          ['class', j.class + (j.model_family ? ' / ' + j.model_family : '')],
          ['gang', j.gpus + ' GPUs on ' + j.accelerators],
          ['priority', j.priority + (j.preemptible ? ', preemptible' : '')],
          ['work', fmtNum(j.work_gpu_seconds / 3600, 0) + ' reference GPU-hours'],
          ['ran at', j.providers.join(', ') || 'nowhere'],
          ['spend', fmtMoney(j.spend)],
          ['listed for', j.listed_for.join(', ')],
          ['capacity requests', j.capacity_requests.length ? el('span', {}, j.capacity_requests.map((r, i) => [i ? ', ' : '', link(ids.request.get(r), r)])) : null],
        ]));
        a.appendChild(timelineTable(j.timeline, j.timeline_omitted, false));
        if (j.why_waiting) {
          a.appendChild(el('p', { text: 'Why it waits at the end (every pool\'s verdict for its gang now):' }));
          a.appendChild(el('pre', { text: j.why_waiting }));
        }
        a.appendChild(el('p', { class: 'pc-note', text: 'Every placement decision with each pool\'s verdict and scores: polycloud explain SCENARIO.yaml ' + j.id + ' --at TIME' }));
        box.appendChild(a);
      });
    }
    (d.services || []).forEach((r) => {
      const a = el('article', { class: 'pc-explain', id: ids.service.get(r.id), 'data-kind': 'service', 'data-id': r.id });
      a.appendChild(el('h3', { text: 'Service ' + r.id }));
      const at = Object.entries(r.replicas_by_provider_at_end || {}).map(([p, n]) => p + ' ' + n).join(', ');
      const to = Object.entries(r.failovers_by_provider || {}).map(([p, n]) => p + ' ' + n).join(', ');
      a.appendChild(el('p', { text: 'Served ' + fmtPct(r.demand_served) + ' of its demand; short of it for ' + fmtDur(r.short_seconds) + '. ' +
        r.replicas_lost + ' replicas were lost to faults, ' + r.replaced + ' replaced, ' + r.failovers + ' of them at another provider' + (to ? ' (' + to + ')' : '') + '.' }));
      a.appendChild(facts([['model', r.model], ['class', r.class], ['peak replicas', fmtNum(r.peak_replicas, 0)], ['replicas at the end', at || 'none']]));
      const listed = w && w.services.find((x) => x.id === r.id);
      if (listed) a.appendChild(timelineTable(listed.timeline, listed.timeline_omitted, true));
      a.appendChild(el('p', { class: 'pc-note', text: 'Its placement decisions in full: polycloud explain SCENARIO.yaml ' + r.id + ' --at TIME' }));
      box.appendChild(a);
    });
    (d.capacity_requests || []).forEach((q) => {
      const a = el('article', { class: 'pc-explain', id: ids.request.get(q.id), 'data-kind': 'request', 'data-id': q.id });
      a.appendChild(el('h3', { text: 'Capacity request ' + q.id }));
      a.appendChild(el('p', { text: 'Raised ' + fmtTimeIso(q.raised) + ' for ' + q.class + ': ' + fmtNum(q.gpus, 0) + ' GPUs, after ' + q.waiting_jobs + ' job(s) waited too long (the oldest, ' + q.oldest_job + '). Outcome: ' + q.outcome + '.' }));
      const pairs = [];
      if (q.rofr) {
        pairs.push(['first refusal', q.rofr.holder + ' under ' + q.rofr.contract + ', window closes ' + fmtTimeIso(q.rofr.window_closes)]);
        pairs.push(['answer', (q.rofr.answer || 'none yet') + (q.rofr.answered ? ' at ' + fmtTimeIso(q.rofr.answered) : '') + (q.rofr.decline_reason ? ' — ' + q.rofr.decline_reason : '')]);
      }
      if (q.award) {
        pairs.push(['awarded', fmtNum(q.award.gpus, 0) + ' GPUs at ' + q.award.provider + ' (' + q.award.pool + ') via ' + q.award.via + ', $' + fmtNum(usdOf(q.award.price_per_gpu_hour), 2) + '/GPU-h, ' + fmtTimeIso(q.award.awarded)]);
        pairs.push(['arrives', fmtTimeIso(q.award.arrives) + (q.award.arrived ? ' (arrived)' : ''), ]);
        pairs.push(['held until', fmtTimeIso(q.award.ends)]);
        pairs.push(['spend in the run', fmtMoney(q.award.spend)]);
      }
      a.appendChild(facts(pairs));
      a.appendChild(el('p', { class: 'pc-note', text: 'In full: polycloud explain SCENARIO.yaml ' + q.id }));
      box.appendChild(a);
    });
    if (!box.children.length) box.appendChild(el('p', { class: 'pc-empty', text: 'Nothing is listed by name in this report.' }));
    box.classList.toggle('pc-empty-box', !box.children.length);
  }

  function idMaps(d) {
    const ids = { job: new Map(), service: new Map(), request: new Map() };
    ((d.workloads && d.workloads.jobs) || []).forEach((j, i) => ids.job.set(j.id, slug('job', i)));
    (d.services || []).forEach((s, i) => ids.service.set(s.id, slug('service', i)));
    (d.capacity_requests || []).forEach((q, i) => ids.request.set(q.id, slug('request', i)));
    return ids;
  }

  function worldMaps(d) {
    const siteProvider = new Map((d.sites || []).map((s) => [s.id, s.provider]));
    const poolOf = new Map((d.pools || []).map((p) => [p.id, p]));
    const faultProvider = (f) => (f.target_kind === 'provider' ? f.target : f.target_kind === 'site' ? siteProvider.get(f.target) : poolOf.has(f.target) ? poolOf.get(f.target).provider : null);
    return {
      faultProvider: faultProvider,
      faultHitsPool: (f, p) => (f.target_kind === 'provider' && f.target === p.provider) || (f.target_kind === 'site' && f.target === p.site) || (f.target_kind === 'pool' && f.target === p.id),
      faultHitsSite: (f, s) => (f.target_kind === 'provider' && f.target === s.provider) || (f.target_kind === 'site' && f.target === s.id) || (f.target_kind === 'pool' && poolOf.has(f.target) && poolOf.get(f.target).site === s.id),
    };
  }

  function header(root, title, sub, links) {
    root.appendChild(el('h1', { text: title }));
    root.appendChild(el('p', { class: 'pc-sub', text: sub }));
    const nav = el('nav', { class: 'pc-nav' });
    for (const [href, label] of links) nav.appendChild(el('a', { href: '#' + href, text: label }));
    root.appendChild(nav);
  }

  function card(k, v, bad) {
    return el('div', { class: 'pc-card' }, el('div', { class: 'k', text: k }), el('div', { class: 'v' + (bad ? ' bad' : ''), text: v }));
  }

  function mountReport(root, d) {
    const run = { start: parseTime(d.start), end: parseTime(d.end) };
    const links = [['contracts', 'Contracts'], ['horizon', 'Cost by horizon'], ['cost-by-policy', 'Cost by policy'], ['fleet', 'Fleet'], ['power', 'Power'], ['queues', 'Queues'],
      ['services', 'Services'], ['procurement', 'Procurement'], ['tables', 'Tables'], ['explanations', 'Explanations']];
    header(root, 'polycloud report: ' + d.scenario,
      fmtTimeIso(d.start) + ' to ' + fmtTimeIso(d.end) + ' (UTC) · policy ' + d.policy + ' · seed ' + d.seed + ' · ' +
      fmtNum(d.events.simulator, 0) + ' simulator events, ' + fmtNum(d.events.placement_decisions, 0) + ' placement decisions',
      links.filter(([id]) => (id !== 'cost-by-policy' || (d.cost_by_policy || []).length > 1) && (id !== 'horizon' || d.horizon)));
    const all = (d.jobs || []).find((j) => j.class === 'all');
    const served = (d.services || []).map((s) => s.demand_served);
    const cards = el('div', { class: 'pc-cards' },
      card('spend', fmtMoney(d.cost.spend)),
      card('take-or-pay shortfall', fmtMoney(d.cost.take_or_pay_shortfall), usdOf(d.cost.take_or_pay_shortfall) > 0),
      d.horizon ? card('total in the run', fmtMoney(d.horizon.in_run.total)) : card('total cost', fmtMoney(d.cost.total)),
      d.horizon ? card('lifetime total (to ' + fmtTimeIso(d.horizon.lifetime_end).slice(0, 10) + ')', fmtMoney(d.horizon.lifetime.total)) : null,
      card('fleet utilisation', fmtPct(d.total.utilisation)),
      all ? card('jobs done', fmtNum(all.completed, 0) + ' of ' + fmtNum(all.total, 0)) : null,
      served.length ? card('least demand served', fmtPct(Math.min(...served))) : null,
      card('exclusivity violations', String(d.compliance.exclusivity_violations), d.compliance.exclusivity_violations > 0));
    root.appendChild(cards);
    const ids = idMaps(d);
    const maps = worldMaps(d);
    contractsSection(root, d, run, (c) => daysOfReport(c));
    horizonSection(root, d);
    costSection(root, d);
    if (d.timeseries) {
      fleetSection(root, d, maps);
      powerSection(root, d, maps);
      queueSection(root, d);
      servicesSection(root, d, maps);
    } else {
      root.appendChild(el('p', { class: 'pc-empty', text: 'This JSON has no time series (write it with simulate --json or --html).' }));
    }
    rofrSection(root, d, run);
    jobTables(root, d, ids);
    explanations(root, d, ids);
  }

  // ---------------------------------------------------------------- contracts view

  function mountContracts(root, d) {
    const run = { start: parseTime(d.start), end: parseTime(d.end) };
    header(root, 'polycloud contracts: ' + d.scenario,
      fmtTimeIso(d.start) + ' to ' + fmtTimeIso(d.end) + ' (UTC) · policy ' + d.policy + ' · seed ' + d.seed + ' · periods by ' + d.by,
      [['contracts', 'Contracts'], ['no-contract', 'Spend under no contract'], ['tables', 'Tables']]);
    const daysOf = (c) => {
      const values = (c.days || []).map((x) => usdOf(x.cumulative));
      return { first: c.days && c.days.length ? parseTime(c.days[0].date + 'T00:00:00Z') : run.start, values: values };
    };
    contractsSection(root, d, run, daysOf);
    const nc = d.no_contract || [];
    if (nc.length) {
      const s = section(root, 'no-contract', 'Spend under no contract', 'On-demand and spot pools outside any contract, and capacity procured outside one: cumulative per provider.');
      const x = [run.start];
      const first = parseTime(nc[0].days[0].date + 'T00:00:00Z');
      nc[0].days.forEach((_, i) => x.push(Math.min(first + (i + 1) * DAY, run.end)));
      chart(s, {
        id: 'no-contract', x: x, yFmt: fmtUsd, axis: 'usd',
        title: 'Spend under no contract: ' + nc.map((p) => p.provider + ' ' + fmtMoney(p.spent)).join(', '),
        sub: 'Cumulative US$ since the run\'s start.',
        series: nc.map((p, i) => ({ label: p.provider, values: [0].concat(p.days.map((x) => usdOf(x.cumulative))), color: PALETTE[i % PALETTE.length], fmt: fmtUsd })),
      });
    }
    const s = section(root, 'tables', 'Tables', 'Click a column to sort; type to filter.');
    d.contracts.forEach((c, i) => {
      s.appendChild(el('h3', { text: c.id + ': spend per ' + d.by }));
      table(s, {
        id: 'periods-' + i, rows: c.periods || [], columns: [
          { key: 'period', label: d.by },
          { key: 'spend', label: 'spend', num: true, sort: (r) => usdOf(r.spend), fmt: (r) => fmtMoney(r.spend) },
          { key: 'cumulative', label: 'cumulative', num: true, sort: (r) => usdOf(r.cumulative), fmt: (r) => fmtMoney(r.cumulative) },
          { key: 'obligations_due', label: 'obligations due', fmt: (r) => r.obligations_due.map((k) => c.obligations[k].kind + ' ' + fmtMoney(c.obligations[k].required)).join(', ') },
          { key: 'offers', label: 'ROFR offers', fmt: (r) => r.offers.join(', ') },
        ],
      });
    });
  }

  // ---------------------------------------------------------------- replays

  // Grouped bars: per category, one bar per series side by side. Each bar
  // has an x of its own (the category ± an offset) and the other series are
  // null there, so uPlot's bar paths draw the groups with no overlap.
  // spec: {id, title, sub, cats, series: [{label, values, color}], fmt, yLabel, yLog, xLabel, height}
  function groupedBars(parent, spec) {
    const n = spec.series.length, gap = 0.8 / n;
    const x = [];
    spec.cats.forEach((_, i) => spec.series.forEach((__, k) => x.push(i - 0.4 + gap * (k + 0.5))));
    const where = (k) => x.map((_, j) => (j % n === k ? spec.series[k].values[Math.floor(j / n)] : null));
    const ticks = spec.cats.map((_, i) => i);
    const scales = { x: { time: false, range: [-0.6, spec.cats.length - 0.4] } };
    if (spec.yLog) scales.y = { distr: 3, log: 10 };
    return chart(parent, {
      id: spec.id, title: spec.title, sub: spec.sub, x: x, xTime: false, xLabel: spec.xLabel || 'category',
      xValues: (u, splits) => splits.map((v) => (Number.isInteger(v) && spec.cats[v] != null ? spec.cats[v] : '')),
      xAxis: { splits: () => ticks },
      xTitle: (j) => spec.cats[Math.floor(j / n)],
      scales: scales,
      yAxis: spec.yLog ? { values: (u, splits) => splits.map((v) => fmtNum(v, v < 1 ? 2 : 0)) } : undefined,
      series: spec.series.map((s, k) => Object.assign({}, s, {
        values: where(k), paths: uPlot.paths.bars({ size: [0.92] }),
        fill: s.fill || s.color, fmt: spec.fmt,
      })),
      yFmt: spec.fmt, axis: spec.axis, yLabel: spec.yLabel, height: spec.height || 280,
    });
  }

  function mountPhilly(root, d) {
    header(root, 'polycloud replay: Philly, per virtual cluster', 'policy ' + d.policy + (d.consolidated_placement ? ', consolidated placement' : '') + ' · times in seconds', [['replay', 'Charts'], ['tables', 'Tables']]);
    const s = section(root, 'replay', 'Job completion time and queueing delay per virtual cluster');
    const vcs = d.virtual_clusters.concat([d.overall]);
    const cats = vcs.map((c) => c.id);
    const hours = (v) => v / 3600;
    groupedBars(s, {
      id: 'philly-jct', cats: cats, xLabel: 'virtual cluster', yLabel: 'hours (log scale)', yLog: true,
      title: 'Job completion time per virtual cluster — overall p50 ' + fmtDur(d.overall.completion_time_s.p50) + ', p99 ' + fmtDur(d.overall.completion_time_s.p99),
      sub: 'Hours from submission to the end, percentiles (nearest rank), on a log scale: the p99 is hundreds of times the median.',
      series: [
        { label: 'p50', values: vcs.map((c) => hours(Math.max(1, c.completion_time_s.p50))), color: '#2f9e44' },
        { label: 'p90', values: vcs.map((c) => hours(Math.max(1, c.completion_time_s.p90))), color: '#e8590c' },
        { label: 'p99', values: vcs.map((c) => hours(Math.max(1, c.completion_time_s.p99))), color: '#c62828' },
      ],
      fmt: (v) => fmtDur(v * 3600),
    });
    groupedBars(s, {
      id: 'philly-queueing', cats: cats, xLabel: 'virtual cluster', yLabel: 'hours',
      title: 'Queueing delay per virtual cluster — overall mean ' + fmtDur(d.overall.queueing_delay_s.mean) + ', p99 ' + fmtDur(d.overall.queueing_delay_s.p99),
      sub: 'Hours not running (completion time − recorded duration): mean and percentiles.',
      series: [
        { label: 'mean', values: vcs.map((c) => hours(c.queueing_delay_s.mean)), color: '#1f6feb' },
        { label: 'p90', values: vcs.map((c) => hours(c.queueing_delay_s.p90)), color: '#e8590c' },
        { label: 'p99', values: vcs.map((c) => hours(c.queueing_delay_s.p99)), color: '#c62828' },
      ],
      fmt: (v) => fmtDur(v * 3600),
    });
    const t = section(root, 'tables', 'Tables', 'Click a column to sort; type to filter.');
    table(t, {
      id: 'virtual-clusters', rows: vcs, columns: [
        { key: 'id', label: 'virtual cluster' },
        { key: 'nodes', label: 'nodes', num: true },
        { key: 'gpus', label: 'GPUs', num: true },
        { key: 'jobs', label: 'jobs', num: true },
        { key: 'jct_mean', label: 'JCT mean', num: true, sort: (r) => r.completion_time_s.mean, fmt: (r) => fmtDur(r.completion_time_s.mean) },
        { key: 'jct_p50', label: 'JCT p50', num: true, sort: (r) => r.completion_time_s.p50, fmt: (r) => fmtDur(r.completion_time_s.p50) },
        { key: 'jct_p99', label: 'JCT p99', num: true, sort: (r) => r.completion_time_s.p99, fmt: (r) => fmtDur(r.completion_time_s.p99) },
        { key: 'q_mean', label: 'queueing mean', num: true, sort: (r) => r.queueing_delay_s.mean, fmt: (r) => fmtDur(r.queueing_delay_s.mean) },
        { key: 'q_p99', label: 'queueing p99', num: true, sort: (r) => r.queueing_delay_s.p99, fmt: (r) => fmtDur(r.queueing_delay_s.p99) },
        { key: 'preemptions', label: 'preemptions', num: true },
      ],
    });
  }

  function mountFidelity(root, d) {
    header(root, 'polycloud replay: Alibaba GPU fidelity', 'policy ' + d.policy + ' · ' + fmtNum(d.pods, 0) + ' pods on ' + fmtNum(d.fleet.gpus, 0) + ' GPUs in ' + d.fleet.pools + ' pools', [['replay', 'Charts'], ['tables', 'Tables']]);
    const s = section(root, 'replay', 'Recorded against simulated');
    const b = d.utilisation.buckets;
    const x = b.map((q) => q.start_s / DAY);
    chart(s, {
      id: 'fidelity-utilisation', x: x, xTime: false, xLabel: 'day',
      xValues: (u, splits) => splits.map((v) => 'day ' + fmtNum(v, 0)), xTitle: (i) => 'from day ' + fmtNum(x[i], 1),
      title: 'GPU utilisation per bucket: recorded mean ' + fmtNum(d.utilisation.recorded_mean_milli / 10, 1) + '%, simulated ' + fmtNum(d.utilisation.simulated_mean_milli / 10, 1) + '%',
      sub: 'Share of installed GPUs occupied (%), from the trace\'s timestamps and from the replay.',
      series: [
        { label: 'recorded', values: b.map((q) => q.recorded_milli / 10), color: '#495057', fmt: (v) => fmtNum(v, 1) + '%' },
        { label: 'simulated', values: b.map((q) => q.simulated_milli / 10), color: '#1f6feb', fmt: (v) => fmtNum(v, 1) + '%' },
      ],
      yFmt: (v) => fmtNum(v, 1) + '%', axis: 'pct',
    });
    const t = section(root, 'tables', 'Tables');
    const q = d.queueing_delay_s;
    table(t, {
      id: 'queueing', plain: true, rows: [Object.assign({ what: 'recorded' }, q.recorded), Object.assign({ what: 'simulated' }, q.simulated)], columns: [
        { key: 'what', label: 'queueing delay' },
        { key: 'count', label: 'pods', num: true },
        { key: 'mean', label: 'mean', num: true, fmt: (r) => fmtDur(r.mean) },
        { key: 'p50', label: 'p50', num: true, fmt: (r) => fmtDur(r.p50) },
        { key: 'p90', label: 'p90', num: true, fmt: (r) => fmtDur(r.p90) },
        { key: 'p99', label: 'p99', num: true, fmt: (r) => fmtDur(r.p99) },
        { key: 'max', label: 'max', num: true, fmt: (r) => fmtDur(r.max) },
      ],
    });
  }

  // `polycloud fragmentation` (docs/traces.md, "The fragmentation experiment").
  function mountFragmentation(root, d) {
    const colors = ['#868e96', '#f59f00', '#7048e8', '#0ca678', '#1f6feb', '#e03131', '#c2255c', '#495057'];
    header(root, 'polycloud fragmentation: GPU allocation against arrived workload',
      fmtNum(d.workload.pods, 0) + ' pods on ' + fmtNum(d.cluster.gpus, 0) + ' GPUs in ' + fmtNum(d.cluster.nodes, 0) + ' nodes · mean of ' + d.seeds.count + ' seeds from ' + d.seeds.first + ' · arrivals until ' + d.target_pct + '%',
      [['fragmentation', 'Chart'], ['tables', 'Tables']]);
    const s = section(root, 'fragmentation', 'Allocation ratio');
    const x = d.arrived_pct;
    chart(s, {
      id: 'fragmentation-allocation', x: x, xTime: false, xLabel: 'arrived %',
      xValues: (u, splits) => splits.map((v) => fmtNum(v, 0) + '%'), xTitle: (i) => 'arrived ' + x[i] + '% of GPUs',
      title: 'GPU allocation ratio against arrived workload, per node-choice policy',
      sub: 'Allocated GPU share ÷ the cluster\'s (%), as pods arrive and never leave; the ideal follows the diagonal until 100%.',
      series: d.policies.map((p, i) => ({ label: p.policy, values: p.alloc_pct, color: colors[i % colors.length], fmt: (v) => fmtNum(v, 2) + '%' })),
      yFmt: (v) => fmtNum(v, 0) + '%', axis: 'pct',
    });
    const t = section(root, 'tables', 'Tables');
    table(t, {
      id: 'fragmentation-policies', rows: d.policies, columns: [
        { key: 'policy', label: 'policy' },
        { key: 'alloc_pct_at_target', label: 'allocated at ' + d.target_pct + '% (%)', num: true, fmt: (r) => fmtNum(r.alloc_pct_at_target, 2) },
        { key: 'unallocated_gpus', label: 'GPUs unallocated', num: true, fmt: (r) => fmtNum(r.unallocated_gpus, 1) },
        { key: 'failed_pods', label: 'failed pods', num: true, fmt: (r) => fmtNum(r.failed_pods, 1) },
        { key: 'arrived_pods', label: 'arrivals', num: true, fmt: (r) => fmtNum(r.arrived_pods, 1) },
      ],
    });
  }

  // ---------------------------------------------------------------- entry

  function openTarget() {
    const id = decodeURIComponent((global.location.hash || '').slice(1));
    document.querySelectorAll('.pc-explain.pc-open').forEach((a) => a.classList.remove('pc-open'));
    if (!id) return;
    const target = document.getElementById(id);
    if (target && target.classList.contains('pc-explain')) {
      target.classList.add('pc-open');
      target.scrollIntoView({ block: 'start' });
    }
  }

  let listening = false;

  function mount(root, data) {
    for (const e of registry) if (e.chart) e.chart.destroy();
    registry.length = 0;
    root.replaceChildren();
    const page = el('div', { class: 'pc-page' });
    root.appendChild(page);
    const schema = data && data.schema;
    if (schema === 'polycloud.report/1') mountReport(page, data);
    else if (schema === 'polycloud.contracts/1') mountContracts(page, data);
    else if (schema === 'polycloud.replay.philly/1') mountPhilly(page, data);
    else if (schema === 'polycloud.replay.fidelity/1') mountFidelity(page, data);
    else if (schema === 'polycloud.fragmentation/1') mountFragmentation(page, data);
    else page.appendChild(el('p', { class: 'pc-error', text: 'Unknown document: schema ' + JSON.stringify(schema) }));
    if (!listening) {  // a dashboard mounts again on every refresh
      listening = true;
      global.addEventListener('hashchange', openTarget);
      let pending = null;
      global.addEventListener('resize', () => { clearTimeout(pending); pending = setTimeout(resizeAll, 100); });
    }
    openTarget();
    PolycloudReport.ready = true;
    return PolycloudReport;
  }

  // `el` builds DOM elements for the dashboard's panels too (web/src/dashboard.js).
  const PolycloudReport = { mount: mount, charts: registry, ready: false, el: el, format: { time: fmtTime, usd: fmtUsd, num: fmtNum, dur: fmtDur } };
  global.PolycloudReport = PolycloudReport;
})(typeof window !== 'undefined' ? window : this);

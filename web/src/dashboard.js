/* The broker's dashboard (web/dashboard.html, served by `polycloud serve` at
 * /): asks for a bearer token, then shows what the API lets that token see.
 *
 *   - the live panels: site health (GET /v1/sites), running work per site,
 *     the tenants against their quotas (GET /v1/tenants, admins only),
 *     the queue and the running jobs (GET /v1/jobs), each job's explanation
 *     on a click (GET /v1/jobs/{id}/explain), and the recent events
 *     (GET /v1/events, Server-Sent Events read through fetch so that the
 *     token goes in a header); an event refreshes the tables at once;
 *   - the report's charts and tables (GET /v1/report, the same JSON as
 *     `simulate --json`, mounted by PolycloudReport from report.js),
 *     refreshed every `every` seconds.
 *
 * A panel whose endpoint answers 403 is hidden: the server decides what a
 * role sees (a tenant's token lists its own jobs only and gets no report,
 * sites or events); the page only leaves out what it was refused.
 *
 *   /?every=30&poll=5#token=TOKEN
 *
 * The token comes from the login form or the address's fragment (which
 * browsers never send to servers or write in logs), is kept in
 * sessionStorage (this tab only) and removed from the address at once.
 * `every`: the report's refresh in seconds (0: never); `poll`: how often the
 * tables are fetched when there is no event stream (a tenant's token).
 *
 * For the browser tests: window.PolycloudDashboard holds the state (the
 * report JSON last mounted, events seen, which panels were refused).
 */
(function (global) {
  'use strict';
  const doc = global.document;
  const params = new URLSearchParams(global.location.search);
  const every = Number(params.get('every') || 30);
  const poll = Number(params.get('poll') || 5);
  const KEY = 'polycloud-token';
  const $ = (id) => doc.getElementById(id);
  const status = $('pc-status');
  const state = {
    who: null,
    report: null,        // the report JSON last mounted
    reportLoads: 0,
    refused: {},          // endpoint -> status (401/403) the API answered
    events: [],           // the latest events, newest first
    eventsSeen: 0,
    streaming: false,
    tablesLoads: 0,
    explained: null,      // {id, text} of the open explanation
    ready: false,
  };
  global.PolycloudDashboard = state;
  const timers = [];
  let streamAbort = null;

  const el = global.PolycloudReport.el;  // report.js's element builder

  function say(text, error) {
    status.textContent = text;
    status.className = error ? 'pc-error' : 'pc-note';
  }

  // ---------------------------------------------------------------- the token

  const fragment = new URLSearchParams(global.location.hash.slice(1));
  if (fragment.get('token')) {
    global.sessionStorage.setItem(KEY, fragment.get('token'));
    global.history.replaceState(null, '', global.location.pathname + global.location.search);
  }
  const token = () => global.sessionStorage.getItem(KEY);

  function showLogin(message) {
    for (const t of timers) global.clearInterval(t);
    timers.length = 0;
    if (streamAbort) streamAbort.abort();
    $('pc-live').hidden = true;
    $('pc-signout').hidden = true;
    $('pc-who').textContent = '';
    $('polycloud-report').replaceChildren();
    $('pc-login').hidden = false;
    say(message, /refused|cannot/i.test(message));
    state.ready = true;
  }

  $('pc-login').addEventListener('submit', (e) => {
    e.preventDefault();
    const t = $('pc-token').value.trim();
    if (!t) return;
    global.sessionStorage.setItem(KEY, t);
    $('pc-token').value = '';
    start();
  });
  $('pc-signout').addEventListener('click', () => {
    global.sessionStorage.removeItem(KEY);
    showLogin('Signed out. Enter a token to open the dashboard.');
  });

  // A GET of the API with the token: the JSON, or {status} when refused.
  async function api(path) {
    let r;
    try {
      r = await fetch(path, { headers: { Authorization: 'Bearer ' + token(), Accept: 'application/json' } });
    } catch (e) {
      return { status: 0, error: 'cannot reach the broker (' + e.message + ')' };
    }
    if (r.ok) return { status: r.status, body: await r.json() };
    let message = r.status + ' ' + r.statusText;
    try {
      const b = await r.json();
      if (b && b.error) message = r.status + ' ' + b.error.code + ': ' + b.error.message;
    } catch (e) { /* not JSON */ }
    return { status: r.status, error: message };
  }

  // 401 anywhere: the token is not (or no longer) valid.
  function refusedToken(res) {
    if (res.status !== 401) return false;
    global.sessionStorage.removeItem(KEY);
    showLogin('The token was refused (' + res.error + '). Enter a valid token.');
    return true;
  }

  // ---------------------------------------------------------------- tables

  function jobButton(id) {
    return el('button', { type: 'button', class: 'pc-job', 'data-id': id, onclick: () => explain(id), text: id });
  }

  function table(columns, rows, empty) {
    if (!rows.length) return el('p', { class: 'pc-empty', text: empty });
    return el('div', { class: 'pc-table-scroll' },
      el('table', { class: 'pc-table pc-plain' },
        el('thead', {}, el('tr', {}, columns.map(([label, , num]) => el('th', { class: num ? 'num' : null, text: label })))),
        el('tbody', {}, rows.map((row) => el('tr', { 'data-id': row.id }, columns.map(([, cell, num]) => {
          const v = cell(row);
          return el('td', { class: num ? 'num' : null }, v == null ? '–' : v);
        }))))));
  }

  const when = (s) => (s ? s.replace('T', ' ').replace('Z', '') : '–');

  async function loadTables() {
    const [queued, running] = await Promise.all([api('/v1/jobs?status=queued&limit=1000'), api('/v1/jobs?status=running&limit=1000')]);
    if (refusedToken(queued) || refusedToken(running)) return;
    if (queued.error || running.error) {
      say('The job lists failed: ' + (queued.error || running.error), true);
      return;
    }
    const q = queued.body.jobs, r = running.body.jobs;
    $('pc-queue-count').textContent = '(' + q.length + (queued.body.next ? '+' : '') + ')';
    $('pc-running-count').textContent = '(' + r.length + (running.body.next ? '+' : '') + ')';
    $('pc-queue').replaceChildren(table([
      ['job', (j) => jobButton(j.id)], ['tenant', (j) => j.tenant || '–'], ['class', (j) => j.class],
      ['GPUs', (j) => j.gpus, true], ['priority', (j) => j.priority, true], ['submitted', (j) => when(j.submitted)],
      ['starts', (j) => j.starts, true]], q, 'Nothing is waiting.'));
    $('pc-running').replaceChildren(table([
      ['job', (j) => jobButton(j.id)], ['tenant', (j) => j.tenant || '–'], ['class', (j) => j.class],
      ['GPUs', (j) => j.gpus, true], ['site', (j) => j.site], ['pool', (j) => j.pool],
      ['since', (j) => when(j.first_start)], ['site job', (j) => j.site_job], ['spend', (j) => '$' + j.spend_usd, true]],
    r, 'Nothing is running.'));
    // Running work per site, from the running jobs this token may see.
    const bySite = new Map();
    for (const j of r) {
      const s = bySite.get(j.site) || { id: j.site, jobs: 0, gpus: 0 };
      s.jobs++;
      s.gpus += j.gpus;
      bySite.set(j.site, s);
    }
    $('pc-running-sites').replaceChildren(table([
      ['site', (s) => s.id], ['jobs', (s) => s.jobs, true], ['GPUs', (s) => s.gpus, true]],
    [...bySite.values()].sort((a, b) => b.gpus - a.gpus), 'Nothing is running.'));
    state.tablesLoads++;
  }

  // A panel fed by one endpoint: shown with what `render` makes of its JSON,
  // hidden when the API refuses this token (403).
  async function loadPanel(path, panel, into, render) {
    const res = await api(path);
    if (refusedToken(res)) return;
    if (res.status === 403) {
      state.refused[path] = 403;
      $(panel).hidden = true;
      return;
    }
    if (res.error) return;
    $(panel).hidden = false;
    $(into).replaceChildren(render(res.body));
  }

  const loadSites = () => loadPanel('/v1/sites', 'pc-panel-sites', 'pc-sites', (body) => table([
    ['site', (s) => s.id], ['back end', (s) => s.backend],
    ['state', (s) => el('span', { class: s.down ? 'pc-down' : 'pc-up', text: s.down ? 'down since ' + when(s.down_since) : 'up' })],
    ['last answer', (s) => when(s.last_answer)], ['failures', (s) => s.consecutive_failures, true],
    ['last error', (s) => s.last_error || '']], body.sites, 'No sites.'));

  // Admins only: usage against quota per tenant.
  const loadTenants = () => loadPanel('/v1/tenants', 'pc-panel-tenants', 'pc-tenants', (body) => table([
    ['tenant', (t) => t.id], ['GPUs in use', (t) => t.gpus_in_use, true], ['max GPUs', (t) => t.max_gpus, true],
    ['jobs held by the quota', (t) => t.jobs_held_by_quota, true],
    ['per class', (t) => t.classes.map((c) => c.class + ' ' + c.gpus_in_use + '/' + c.max_gpus).join(', ')]],
  body.tenants, 'The scenario has no tenants.'));

  async function explain(id) {
    const res = await api('/v1/jobs/' + encodeURIComponent(id) + '/explain');
    if (refusedToken(res)) return;
    $('pc-explain').hidden = false;
    $('pc-explain-id').textContent = id;
    $('pc-explain-text').textContent = res.error ? 'No explanation: ' + res.error : res.body.explanation;
    state.explained = { id: id, text: $('pc-explain-text').textContent };
    $('pc-explain').scrollIntoView({ block: 'nearest' });
  }

  // ---------------------------------------------------------------- the report

  async function loadReport() {
    const res = await api('/v1/report');
    if (refusedToken(res)) return;
    const note = $('pc-report-note');
    if (res.status === 403) {
      state.refused['/v1/report'] = 403;
      note.hidden = false;
      note.textContent = 'The charts (GET /v1/report) need a viewer, operator or admin token: ' +
        'this token sees its own tenant\u2019s jobs only.';
      $('polycloud-report').replaceChildren();
      return;
    }
    if (res.error) {
      note.hidden = false;
      note.textContent = 'The report failed: ' + res.error;
      return;
    }
    note.hidden = true;
    state.report = res.body;
    state.reportLoads++;
    global.PolycloudReport.mount($('polycloud-report'), res.body);
  }

  // ---------------------------------------------------------------- events

  function eventLine(e) {
    const who = e.job || e.service || e.site || e.pool || e.contract || '';
    const extra = [e.pool && (e.job || e.service) ? 'pool=' + e.pool : null, e.gpus ? 'gpus=' + e.gpus : null,
      e.reason ? 'reason=' + e.reason : null].filter(Boolean).join(' ');
    return when(e.at) + '  ' + e.type + '  ' + who + (extra ? '  ' + extra : '');
  }

  let refreshPending = null;
  function refreshSoon() {
    if (refreshPending) return;
    refreshPending = global.setTimeout(() => {
      refreshPending = null;
      loadTables();
      loadSites();
      if (!state.refused['/v1/tenants']) loadTenants();
    }, 200);
  }

  function onEvent(data) {
    let e;
    try { e = JSON.parse(data); } catch (err) { return; }
    state.events.unshift(e);
    if (state.events.length > 200) state.events.length = 200;
    state.eventsSeen++;
    const list = $('pc-events');
    for (const old of list.querySelectorAll('li.pc-new')) old.classList.remove('pc-new');
    list.insertBefore(el('li', { class: 'pc-new', 'data-type': e.type, text: eventLine(e) }), list.firstChild);
    while (list.children.length > 200) list.removeChild(list.lastChild);
    refreshSoon();
  }

  // Server-Sent Events through fetch (EventSource cannot send a header).
  async function stream(lastId) {
    streamAbort = new AbortController();
    let r;
    try {
      const headers = { Authorization: 'Bearer ' + token(), Accept: 'text/event-stream' };
      if (lastId) headers['Last-Event-ID'] = lastId;
      r = await fetch('/v1/events', { headers: headers, signal: streamAbort.signal });
    } catch (e) {
      return retry(lastId);
    }
    if (r.status === 401) return refusedToken({ status: 401, error: '401 unauthorized' });
    if (r.status === 403) {
      state.refused['/v1/events'] = 403;
      $('pc-panel-events').hidden = true;
      timers.push(global.setInterval(() => { loadTables(); }, poll * 1000));  // no stream: poll
      return;
    }
    if (!r.ok || !r.body) return retry(lastId);
    $('pc-panel-events').hidden = false;
    $('pc-events-state').textContent = '(live)';
    state.streaming = true;
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let data = '', id = null;
          for (const line of block.split('\n')) {
            if (line.startsWith('data:')) data += line.slice(5).trimStart();
            else if (line.startsWith('id:')) id = line.slice(3).trim();
          }
          if (id) lastId = id;
          if (data) onEvent(data);
        }
      }
    } catch (e) {
      if (streamAbort.signal.aborted) return;
    }
    state.streaming = false;
    return retry(lastId);
  }

  function retry(lastId) {
    if (!token()) return;
    $('pc-events-state').textContent = '(reconnecting)';
    global.setTimeout(() => stream(lastId), 3000);
  }

  // ---------------------------------------------------------------- start

  async function start() {
    if (!token()) {
      showLogin('Enter a bearer token to open the dashboard.');
      return;
    }
    $('pc-login').hidden = true;
    say('Connecting…');
    const who = await api('/v1/whoami');
    if (refusedToken(who)) return;
    if (who.error) {
      showLogin('Cannot reach the broker: ' + who.error);
      return;
    }
    state.who = who.body;
    state.refused = {};
    $('pc-who').textContent = 'signed in: ' + (who.body.tenant ? 'tenant ' + who.body.tenant : who.body.role) + ' · ' + who.body.id;
    $('pc-signout').hidden = false;
    $('pc-live').hidden = false;
    await Promise.all([loadTables(), loadSites(), loadTenants(), loadReport()]);
    if (!token()) return;  // refused meanwhile
    say('Live from this broker' + (every > 0 ? '; the charts refresh every ' + every + ' s' : '') + '.');
    stream(null);
    if (every > 0) timers.push(global.setInterval(loadReport, every * 1000));
    state.ready = true;
  }

  start();
})(window);

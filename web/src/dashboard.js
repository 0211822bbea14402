/* The dashboard shell: fetches the report JSON from the broker's API with the
 * client's token and mounts it with PolycloudReport, refreshing it at an
 * interval. What the page shows is what the API returns for the token's role.
 *
 *   dashboard.html?api=/v1/report&every=30#token=TOKEN
 *
 * `api` (default /v1/report) is the JSON's URL, `every` the refresh in
 * seconds (0: never). The token is read from the fragment (which is not sent
 * to servers) and kept in sessionStorage.
 */
(function (global) {
  'use strict';
  const params = new URLSearchParams(global.location.search);
  const api = params.get('api') || '/v1/report';
  const every = Number(params.get('every') || 30);
  const status = document.getElementById('pc-status');
  const root = document.getElementById('polycloud-report');

  const fragment = new URLSearchParams(global.location.hash.slice(1));
  if (fragment.get('token')) {
    global.sessionStorage.setItem('polycloud-token', fragment.get('token'));
    global.history.replaceState(null, '', global.location.pathname + global.location.search);
  }

  async function load() {
    const token = global.sessionStorage.getItem('polycloud-token');
    if (!token) {
      status.textContent = 'No token: open this page as dashboard.html#token=YOUR_TOKEN.';
      status.className = 'pc-error';
      return;
    }
    let response;
    try {
      response = await fetch(api, { headers: { Authorization: 'Bearer ' + token, Accept: 'application/json' } });
    } catch (e) {
      status.textContent = 'Cannot reach ' + api + ': ' + e.message;
      status.className = 'pc-error';
      return;
    }
    if (response.status === 401 || response.status === 403) {
      status.textContent = 'The token was refused (' + response.status + '): it may have expired, or its role may not see this report.';
      status.className = 'pc-error';
      return;
    }
    if (!response.ok) {
      status.textContent = api + ' answered ' + response.status + ' ' + response.statusText;
      status.className = 'pc-error';
      return;
    }
    const data = await response.json();
    status.textContent = 'Live from ' + api + ', ' + new Date().toISOString().slice(0, 19).replace('T', ' ') + ' UTC' +
      (every > 0 ? '; refreshes every ' + every + ' s' : '');
    status.className = 'pc-note';
    global.PolycloudReport.mount(root, data);
  }

  load();
  if (every > 0) global.setInterval(load, every * 1000);
})(window);

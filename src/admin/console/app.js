// Ward console: a small single-page app over /api/v1 (same origin, session cookie + X-CSRF-Token).
// Every element is built node by node with text nodes (no markup parsed from strings), every control is a native
// button, link or input so the whole console works from the keyboard, and nothing is loaded from
// outside the appliance.
'use strict';

(function () {
  const API = '/api/v1';
  const app = document.getElementById('app');
  const state = { session: null, available: {}, flash: null };

  // ---- DOM building

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');
  const statusBadge = (compliant) =>
    compliant === true ? h('span', { class: 'status ok' }, 'compliant')
      : compliant === false ? h('span', { class: 'status bad' }, 'not compliant')
        : h('span', { class: 'status unknown' }, 'not evaluated');

  // ---- API

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.reason) || `HTTP ${status}`);
      this.status = status;
      this.code = body && body.error;
    }
  }

  async function api(method, path, body, opts = {}) {
    const headers = { Accept: opts.accept || 'application/json' };
    if (method !== 'GET' && state.session && state.session.csrfToken) headers['X-CSRF-Token'] = state.session.csrfToken;
    let payload;
    if (body instanceof Blob || body instanceof ArrayBuffer) {
      headers['Content-Type'] = 'application/x-tar';
      payload = body;
    } else if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const res = await fetch(API + path, { method, headers, body: payload, credentials: 'same-origin', cache: 'no-store' });
    if (res.status === 401 && path !== '/session') {
      const info = await res.json().catch(() => ({}));
      state.session = null;
      state.flash = info.error === 'session_expired' ? info.reason : 'Your session ended; sign in again.';
      renderSignIn();
      throw new ApiError(401, info);
    }
    if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
    if (opts.blob) return res;
    if (res.status === 204) return null;
    return res.json();
  }

  function errorBox(e) {
    return h('p', { class: 'error', role: 'alert' }, e instanceof ApiError ? e.message : 'Something went wrong: ' + e.message);
  }

  // ---- sign-in

  function renderSignIn() {
    const err = h('div', { id: 'signin-error' });
    if (state.flash) err.append(h('p', { class: 'notice', role: 'status' }, state.flash));
    state.flash = null;
    const form = h('form', { id: 'signin', novalidate: true },
      h('label', { for: 'username' }, 'User name'),
      h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' }),
      h('label', { for: 'password' }, 'Password'),
      h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
      h('label', { for: 'code' }, 'Code from your authenticator app'),
      h('input', { id: 'code', name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}', maxlength: '6', required: true }),
      h('button', { type: 'submit' }, 'Sign in'),
    );
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      err.replaceChildren();
      const fd = new FormData(form);
      const button = form.querySelector('button');
      button.disabled = true;
      try {
        const res = await fetch(API + '/session', {
          method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
          body: JSON.stringify({ username: String(fd.get('username')).trim(), password: String(fd.get('password')), code: String(fd.get('code')).trim() }),
        });
        const body = await res.json().catch(() => ({}));
        if (!res.ok) {
          err.append(h('p', { class: 'error', role: 'alert' }, res.status === 400 ? 'Fill in user name, password and the 6-digit code.' : body.reason || 'Sign-in failed.'));
          form.querySelector('#code').value = '';
          form.querySelector('#password').focus();
          return;
        }
        state.session = body;
        if (!location.hash || location.hash === '#/') location.hash = '#/dashboard';
        await route();
      } catch (e) {
        err.append(errorBox(e));
      } finally {
        button.disabled = false;
      }
    });
    app.replaceChildren(h('main', { id: 'main', class: 'signin' },
      h('h1', {}, 'Ward'),
      h('p', { class: 'muted' }, 'Device management for this hospital. Sign in with your password and authenticator code.'),
      err, form));
    form.querySelector('#username').focus();
  }

  // ---- shell

  const PAGES = [
    { hash: '#/dashboard', label: 'Dashboard', roles: ['admin', 'operator', 'auditor'] },
    { hash: '#/devices', label: 'Devices', roles: ['admin', 'operator', 'auditor'] },
    { hash: '#/enrollment', label: 'Enrollment', roles: ['admin', 'operator'] },
    { hash: '#/policies', label: 'Policies', roles: ['admin', 'operator', 'auditor'] },
    { hash: '#/audit', label: 'Audit', roles: ['admin', 'auditor'] },
    { hash: '#/certificates', label: 'Certificates', roles: ['admin', 'operator', 'auditor'] },
    { hash: '#/access', label: 'Users & tokens', roles: ['admin'] },
  ];

  function shell(title, ...body) {
    const current = location.hash.split('/').slice(0, 2).join('/');
    const nav = h('nav', { class: 'nav', 'aria-label': 'Ward' },
      h('div', { class: 'brand' }, 'Ward'),
      h('ul', {}, PAGES.filter((p) => p.roles.includes(state.session.role)).map((p) =>
        h('li', {}, h('a', { href: p.hash, 'aria-current': current === p.hash ? 'page' : null }, p.label)))),
      h('div', { class: 'who' },
        h('div', {}, 'Signed in as ', h('strong', { id: 'whoami' }, state.session.username), ` (${state.session.role})`),
        h('button', { class: 'secondary', type: 'button', id: 'signout', onclick: signOut }, 'Sign out')));
    const heading = h('h1', { tabindex: '-1' }, title);
    app.replaceChildren(h('div', { class: 'shell' }, nav, h('main', { id: 'main', class: 'content' }, heading, ...body)));
    heading.focus();
  }

  async function signOut() {
    try {
      await api('DELETE', '/session');
    } catch (e) {
      // signed out either way
    }
    state.session = null;
    location.hash = '';
    renderSignIn();
  }

  // ---- pages

  async function dashboard() {
    const d = await api('GET', '/dashboard');
    state.available = d.available;
    const cards = h('div', { class: 'card-row' },
      h('div', { class: 'card' }, h('div', { class: 'label' }, 'Devices'), h('div', { class: 'big', id: 'device-total' }, d.devices ? d.devices.total : '—'),
        h('div', { class: 'label' }, d.devices ? Object.entries(d.devices.byPlatform).map(([p, n]) => `${p}: ${n}`).join(' · ') : 'no device platform attached')),
      h('div', { class: 'card' }, h('div', { class: 'label' }, 'Compliance'),
        h('div', { class: 'big' }, d.compliance && d.compliance.total ? Math.round((100 * d.compliance.compliant) / d.compliance.total) + ' %' : '—'),
        h('div', { class: 'label' }, d.compliance ? `${d.compliance.nonCompliant} not compliant, ${d.compliance.unknown} unknown` : 'compliance not available')),
      h('div', { class: 'card' }, h('div', { class: 'label' }, 'Wipes awaiting approval'), h('div', { class: 'big' }, d.pendingWipeRequests)),
      h('div', { class: 'card' }, h('div', { class: 'label' }, 'Alarms'), h('div', { class: 'big', id: 'alarm-count' }, d.alarms.length)),
      d.pushCertificate || d.available.appleEnrollment
        ? h('div', { class: 'card', id: 'push-certificate' }, h('div', { class: 'label' }, 'Apple push certificate'),
          d.pushCertificate
            ? [h('div', { class: 'big' }, `${d.pushCertificate.daysLeft} days`),
              h('div', { class: 'label' }, `expires ${when(d.pushCertificate.notAfter)}`), h('div', { class: 'label mono' }, d.pushCertificate.topic)]
            : h('div', { class: 'label' }, 'none imported (wardctl apple push-cert import)'))
        : null);
    const alarms = d.alarms.length
      ? h('ul', { id: 'alarms' }, d.alarms.map((a) => h('li', {}, h('strong', {}, a.check), ' ', h('code', {}, JSON.stringify(a.details).slice(0, 300)))))
      : h('p', { class: 'muted' }, 'No alarms.');
    const checkins = d.recentCheckins.length
      ? h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Device'), h('th', {}, 'Platform'), h('th', {}, 'Last check-in'), h('th', {}, 'Compliance'))),
        h('tbody', {}, d.recentCheckins.map((x) => h('tr', {}, h('td', {}, h('a', { href: '#/devices/' + encodeURIComponent(x.id) }, x.name)), h('td', {}, x.platform), h('td', {}, when(x.lastSeenAt)), h('td', {}, statusBadge(x.compliant))))))
      : h('p', { class: 'muted' }, 'No check-ins yet.');
    const parts = [cards, h('h2', {}, 'Alarms'), alarms, h('h2', {}, 'Last check-ins'), checkins];
    if (d.available.devices && d.pendingWipeRequests > 0) parts.push(h('h2', {}, 'Wipe requests'), await wipeRequests());
    shell('Dashboard', ...parts);
  }

  async function wipeRequests() {
    const { wipeRequests: list } = await api('GET', '/wipe-requests?status=pending');
    const mine = (r) => r.requestedBy === 'admin:' + state.session.username;
    return h('table', { id: 'wipe-requests' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Device'), h('th', {}, 'Mode'), h('th', {}, 'Reason'), h('th', {}, 'Asked by'), h('th', {}, 'Expires'), h('th', {}, ''))),
      h('tbody', {}, list.map((r) => h('tr', {},
        h('td', {}, h('a', { href: '#/devices/' + encodeURIComponent(r.deviceId) }, r.deviceName)), h('td', {}, r.mode), h('td', {}, r.reason),
        h('td', {}, r.requestedBy), h('td', {}, when(r.expiresAt)),
        h('td', {}, state.session.role === 'admin' && state.session.kind === 'session' && !mine(r)
          ? h('span', { class: 'actions' },
            h('button', { class: 'danger', type: 'button', onclick: () => decideWipe(r, 'approve') }, `Approve wipe of ${r.deviceName}`),
            h('button', { class: 'secondary', type: 'button', onclick: () => decideWipe(r, 'reject') }, 'Reject'))
          : h('span', { class: 'muted' }, mine(r) ? 'needs another admin' : ''))))));
  }

  async function decideWipe(r, verb) {
    const ok = await confirmDialog(verb === 'approve' ? `Approve the wipe of ${r.deviceName}?` : `Reject the wipe of ${r.deviceName}?`,
      verb === 'approve' ? `The device will be erased (${r.mode}). Reason given: ${r.reason}` : 'The request ends and nothing is sent to the device.',
      verb === 'approve' ? `Approve wipe of ${r.deviceName}` : 'Reject', verb === 'approve');
    if (!ok) return;
    try {
      await api('POST', `/wipe-requests/${r.id}/${verb}`, verb === 'reject' ? {} : undefined);
    } catch (e) {
      if (e.status !== 401) alert(e.message);
    }
    await route();
  }

  async function devices(params) {
    if (!state.available.devices) {
      const d = await api('GET', '/dashboard');
      state.available = d.available;
    }
    if (!state.available.devices) {
      return shell('Devices', h('p', { class: 'notice', id: 'no-devices' }, 'No device platform (Apple MDM, Android) is attached to this Ward yet.'));
    }
    const q = params.get('q') || '';
    const offset = Number(params.get('offset') || 0);
    const input = h('input', { id: 'device-search', type: 'search', name: 'q', value: q, placeholder: 'name, serial number, model' });
    const form = h('form', { class: 'search', role: 'search', onsubmit: (ev) => {
      ev.preventDefault();
      location.hash = '#/devices?q=' + encodeURIComponent(input.value.trim());
    } }, h('div', {}, h('label', { for: 'device-search' }, 'Search devices'), input), h('button', { type: 'submit' }, 'Search'));
    const page = await api('GET', `/devices?limit=50&offset=${offset}${q ? '&q=' + encodeURIComponent(q) : ''}`);
    const table = page.devices.length
      ? h('table', { id: 'device-list' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Platform'), h('th', {}, 'Model'), h('th', {}, 'Serial'), h('th', {}, 'OS'), h('th', {}, 'Last check-in'), h('th', {}, 'Compliance'))),
        h('tbody', {}, page.devices.map((x) => h('tr', {},
          h('td', {}, h('a', { href: '#/devices/' + encodeURIComponent(x.id) }, x.name)), h('td', {}, x.platform), h('td', {}, x.model || '—'),
          h('td', { class: 'mono' }, x.serialNumber || '—'), h('td', {}, x.osVersion || '—'), h('td', {}, when(x.lastSeenAt)), h('td', {}, statusBadge(x.compliant))))))
      : h('p', { class: 'muted', id: 'no-match' }, q ? `No device matches “${q}”.` : 'No devices enrolled yet.');
    const pager = h('p', { class: 'actions' },
      offset > 0 ? h('a', { class: 'button secondary', href: `#/devices?q=${encodeURIComponent(q)}&offset=${Math.max(0, offset - 50)}` }, 'Previous') : null,
      h('span', { class: 'muted' }, `${page.total} device${page.total === 1 ? '' : 's'}`),
      offset + 50 < page.total ? h('a', { class: 'button secondary', href: `#/devices?q=${encodeURIComponent(q)}&offset=${offset + 50}` }, 'Next') : null);
    shell('Devices', form, table, pager);
  }

  // met / not_met / in_grace / configured / not_addressed (docs/policy.md): badge class and words.
  const SAFEGUARD_STATUS = { met: ['ok', 'met'], not_met: ['bad', 'not met'], in_grace: ['pending', 'in grace'], configured: ['unknown', 'configured'], not_addressed: ['unknown', 'not addressed'] };

  /** The device's HIPAA report: each 45 CFR safeguard, its status, the settings serving it and the evidence (null: not served here). */
  async function hipaaReport(id) {
    const path = `/devices/${encodeURIComponent(id)}/hipaa-report`;
    let r;
    try {
      r = await api('GET', path);
    } catch (e) {
      if (e.status === 401) throw e;
      if (e.code === 'no_such_device') return h('p', { class: 'muted', id: 'no-hipaa-report' }, 'No HIPAA report yet: the device has not reported its facts to Ward.');
      if (e.status === 404 || e.status === 503) return null;
      return errorBox(e);
    }
    const count = (status) => r.safeguards.filter((g) => g.status === status).length;
    const summary = Object.entries(SAFEGUARD_STATUS).map(([k, [, words]]) => `${count(k)} ${words}`).join(', ');
    return h('div', { id: 'hipaa' },
      h('p', { class: 'muted' }, `${r.safeguards.length} safeguards: ${summary}. Policy ${r.policy.hash.slice(0, 12)}, evaluated ${when(r.generatedAt)}. `,
        h('a', { href: API + path + '?format=text', download: `hipaa-report-${r.deviceId}.txt`, id: 'hipaa-text' }, 'Plain text')),
      h('table', { id: 'hipaa-report' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Safeguard (45 CFR)'), h('th', {}, 'Status'), h('th', {}, 'Policy settings'), h('th', {}, 'Evidence'))),
        h('tbody', {}, r.safeguards.map((g) => {
          const [cls, words] = SAFEGUARD_STATUS[g.status] || ['unknown', g.status];
          return h('tr', { 'data-safeguard': g.id },
            h('td', {}, h('span', { class: 'mono' }, g.id), h('br'), g.title),
            h('td', {}, h('span', { class: 'status ' + cls }, words)),
            h('td', {}, g.settings.length ? h('ul', { class: 'plain' }, g.settings.map((x) => h('li', {}, h('code', {}, x.path), ' = ', JSON.stringify(x.value)))) : '—'),
            h('td', {}, g.evidence.length ? h('ul', { class: 'plain' }, g.evidence.map((x) => h('li', {}, x))) : '—'));
        }))));
  }

  async function device(id) {
    const [d, { commands }, hipaa] = await Promise.all([
      api('GET', '/devices/' + encodeURIComponent(id)), api('GET', '/devices/' + encodeURIComponent(id) + '/commands?limit=50'), hipaaReport(id)]);
    const canAct = ['admin', 'operator'].includes(state.session.role);
    const facts = h('dl', { class: 'facts' },
      [['Platform', d.platform], ['Model', d.model], ['Serial number', d.serialNumber], ['OS version', d.osVersion], ['Mode', d.mode], ['Enrolled', when(d.enrolledAt)],
        ['Last check-in', when(d.lastSeenAt)], ['Identity certificates', d.certificates.join(', ') || '—'], ['Device id', d.id]]
        .flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v || '—')]),
      Object.entries(d.facts).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, typeof v === 'object' ? JSON.stringify(v) : String(v))]));
    const compliance = d.compliance
      ? h('div', {}, statusBadge(d.compliance.compliant), d.compliance.reasons.length ? h('ul', { id: 'reasons' }, d.compliance.reasons.map((r) => h('li', {}, r))) : null,
        h('p', { class: 'muted' }, 'Evaluated ' + when(d.compliance.evaluatedAt)))
      : h('p', { class: 'muted' }, 'Not evaluated yet.');
    const cmds = commands.length
      ? h('table', { id: 'commands' }, h('thead', {}, h('tr', {}, h('th', {}, 'Command'), h('th', {}, 'Status'), h('th', {}, 'Queued'), h('th', {}, 'Updated'), h('th', {}, 'By'))),
        h('tbody', {}, commands.map((c) => h('tr', {}, h('td', {}, c.type), h('td', {}, h('span', { class: 'status ' + c.status }, c.status)),
          h('td', {}, when(c.queuedAt)), h('td', {}, when(c.updatedAt)), h('td', {}, c.requestedBy || '—')))))
      : h('p', { class: 'muted', id: 'no-commands' }, 'No commands yet.');
    const result = h('div', { id: 'action-result', role: 'status' });
    const actions = canAct
      ? h('div', { class: 'actions' },
        h('button', { type: 'button', id: 'lock', onclick: () => lockDevice(d, result) }, 'Lock'),
        h('button', { type: 'button', class: 'secondary', id: 'restart', onclick: () => simpleAction(d, 'restart', 'Restart', result) }, 'Restart'),
        h('button', { type: 'button', class: 'secondary', id: 'refresh', onclick: () => simpleAction(d, 'refresh', 'Refresh inventory of', result) }, 'Refresh inventory'),
        h('button', { type: 'button', class: 'danger', id: 'wipe', disabled: !!d.pendingWipe || d.wipeModes.length === 0, onclick: () => wipeDevice(d, result) }, 'Wipe…'))
      : null;
    const pending = d.pendingWipe ? h('p', { class: 'notice' }, `A ${d.pendingWipe.mode} wipe asked by ${d.pendingWipe.requestedBy} is waiting for a second admin (until ${when(d.pendingWipe.expiresAt)}).`) : null;
    shell(d.name, actions, result, pending, h('h2', {}, 'Compliance'), compliance, h('h2', {}, 'Commands'), cmds,
      hipaa ? h('h2', {}, 'HIPAA report') : null, hipaa, h('h2', {}, 'Facts'), h('div', { class: 'panel' }, facts));
  }

  /** A modal <dialog> (native focus trap, Esc cancels) naming what is about to happen. */
  function confirmDialog(title, text, confirmLabel, danger, extra) {
    return new Promise((resolve) => {
      const confirm = h('button', { type: 'submit', class: danger ? 'danger' : '', value: 'yes', id: 'confirm' }, confirmLabel);
      const form = h('form', { method: 'dialog' }, h('h2', { id: 'dialog-title' }, title), h('p', {}, text), extra ? extra.fields : null,
        h('div', { class: 'actions' }, confirm, h('button', { type: 'submit', class: 'secondary', value: 'no', formnovalidate: true }, 'Cancel')));
      const dialog = h('dialog', { 'aria-labelledby': 'dialog-title' }, form);
      if (extra && extra.bind) extra.bind(confirm);
      dialog.addEventListener('close', () => {
        const yes = dialog.returnValue === 'yes';
        const values = yes && extra ? extra.values() : undefined;
        dialog.remove();
        resolve(yes ? values || true : false);
      });
      document.body.append(dialog);
      dialog.showModal();
      const first = form.querySelector('input, textarea, select');
      (first || confirm).focus();
    });
  }

  async function lockDevice(d, result) {
    const message = h('input', { id: 'lock-message', maxlength: '200' });
    const phone = h('input', { id: 'lock-phone', maxlength: '40', inputmode: 'tel' });
    const answer = await confirmDialog(`Lock ${d.name}?`, `${d.name} (${d.platform}, serial ${d.serialNumber || 'unknown'}) will lock at its next check-in.`, `Lock ${d.name}`, false, {
      fields: h('div', {}, h('label', { for: 'lock-message' }, 'Message on the lock screen (optional)'), message, h('label', { for: 'lock-phone' }, 'Phone number to show (optional)'), phone),
      values: () => ({ message: message.value.trim() || undefined, phoneNumber: phone.value.trim() || undefined }),
    });
    if (!answer) return;
    await runAction(d, 'lock', answer, result, (c) => `Lock queued for ${d.name} (${c.type}, ${c.status}).`);
  }

  async function simpleAction(d, verb, label, result) {
    if (!(await confirmDialog(`${label} ${d.name}?`, `The command is queued for ${d.name} and sent at its next check-in.`, `${label} ${d.name}`, false))) return;
    await runAction(d, verb, undefined, result, (c) => `${c.type} queued for ${d.name}.`);
  }

  async function runAction(d, verb, body, result, say) {
    try {
      const c = await api('POST', `/devices/${encodeURIComponent(d.id)}/${verb}`, body);
      state.flash = say(c);
      await device(d.id);
      const fresh = document.getElementById('action-result');
      fresh.replaceChildren(h('p', { class: 'notice' }, state.flash));
      state.flash = null;
    } catch (e) {
      if (e.status !== 401) result.replaceChildren(errorBox(e));
    }
  }

  async function wipeDevice(d, result) {
    const modes = d.wipeModes.map((m, i) => h('span', {}, h('input', { type: 'radio', name: 'wipe-mode', id: 'wipe-' + m, value: m, checked: i === 0 }),
      h('label', { for: 'wipe-' + m }, m === 'full' ? 'Full wipe (factory reset)' : 'Selective (managed data only)')));
    const reason = h('textarea', { id: 'wipe-reason', rows: '3', required: true, minlength: '3', maxlength: '500' });
    const typed = h('input', { id: 'wipe-confirm-name', autocomplete: 'off', required: true });
    const answer = await confirmDialog(`Wipe ${d.name}?`,
      `This erases ${d.name} (${d.platform}, serial ${d.serialNumber || 'unknown'}). It cannot be undone.` +
        (state.available.twoPersonWipe ? ' A full wipe waits for a second admin to approve it.' : ''),
      `Wipe ${d.name}`, true, {
        fields: h('div', {}, h('div', { class: 'radio', role: 'radiogroup', 'aria-label': 'Wipe mode' }, modes),
          h('label', { for: 'wipe-reason' }, 'Reason (recorded in the audit log)'), reason,
          h('label', { for: 'wipe-confirm-name' }, `Type the device name (${d.name}) to confirm`), typed),
        bind: (button) => {
          const check = () => { button.disabled = typed.value.trim() !== d.name || reason.value.trim().length < 3; };
          typed.addEventListener('input', check);
          reason.addEventListener('input', check);
          check();
        },
        values: () => ({ mode: (document.querySelector('input[name="wipe-mode"]:checked') || {}).value, reason: reason.value.trim() }),
      });
    if (!answer) return;
    try {
      const r = await api('POST', `/devices/${encodeURIComponent(d.id)}/wipe`, answer);
      await device(d.id);
      document.getElementById('action-result').replaceChildren(h('p', { class: 'notice' },
        r.status === 'pending' ? `Wipe of ${d.name} is waiting for a second admin to approve it.` : `Wipe queued for ${d.name}.`));
    } catch (e) {
      if (e.status !== 401) result.replaceChildren(errorBox(e));
    }
  }

  async function enrollment() {
    const e = await api('GET', '/enrollment');
    const out = h('div', { id: 'enrollment-result', role: 'status' });
    const parts = [
      h('div', { class: 'panel' }, h('dl', { class: 'facts' },
        h('dt', {}, 'CA fingerprint (SHA-256)'), h('dd', { class: 'mono', id: 'ca-fingerprint' }, e.caFingerprint.match(/../g).join(':')),
        h('dt', {}, 'CA certificates'), h('dd', {}, h('span', { class: 'mono' }, e.caUrl)),
        h('dt', {}, 'SCEP'), h('dd', {}, h('span', { class: 'mono' }, e.scepUrl)))),
    ];
    const buttons = h('div', { class: 'actions' });
    if (e.available.challenges) {
      buttons.append(h('button', { type: 'button', id: 'issue-challenge', onclick: async () => {
        try {
          const c = await api('POST', '/enrollment/challenges', {});
          out.replaceChildren(h('div', { class: 'once' }, h('p', {}, h('strong', {}, 'One-time SCEP challenge (shown once): ')), h('p', { class: 'mono', id: 'challenge' }, c.challenge),
            h('p', { class: 'muted' }, `Expires ${when(c.expiresAt)}. Id ${c.id}.`)));
        } catch (err) { if (err.status !== 401) out.replaceChildren(errorBox(err)); }
      } }, 'Issue a SCEP challenge'));
    }
    if (e.available.apple) {
      buttons.append(h('button', { type: 'button', id: 'apple-link', onclick: async () => {
        try {
          const l = await api('POST', '/enrollment/apple', { singleUse: true });
          out.replaceChildren(h('div', { class: 'once' }, h('p', {}, 'Apple enrollment link (one device): '), h('p', {}, h('a', { href: l.url, class: 'mono' }, l.url)),
            h('p', { class: 'muted' }, 'Expires ' + when(l.expiresAt))));
        } catch (err) { if (err.status !== 401) out.replaceChildren(errorBox(err)); }
      } }, 'Apple enrollment link'));
    }
    if (e.available.android) {
      buttons.append(h('button', { type: 'button', id: 'android-qr', onclick: async () => {
        try {
          const q = await api('POST', '/enrollment/android', { mode: 'fullyManaged' });
          out.replaceChildren(h('div', { class: 'panel' }, h('p', {}, 'Scan on the Android welcome screen (tap six times):'),
            h('img', { class: 'qr', id: 'android-qr-image', alt: 'Android provisioning QR code', src: 'data:image/png;base64,' + q.png }),
            h('p', { class: 'muted' }, 'Expires ' + when(q.expiresAt)), h('pre', {}, JSON.stringify(q.payload, null, 2))));
        } catch (err) { if (err.status !== 401) out.replaceChildren(errorBox(err)); }
      } }, 'Android QR code'));
    }
    if (!buttons.childElementCount) parts.push(h('p', { class: 'notice' }, 'No enrollment path (SCEP challenges, Apple, Android) is attached to this Ward yet.'));
    parts.push(buttons, out);
    shell('Enrollment', ...parts);
  }

  async function policies() {
    const d = await api('GET', '/dashboard');
    if (!d.available.policies) return shell('Policies', h('p', { class: 'notice', id: 'no-policies' }, 'The policy module is not attached to this Ward yet.'));
    const { policies: list } = await api('GET', '/policies');
    shell('Policies', list.length
      ? h('table', { id: 'policy-list' }, h('thead', {}, h('tr', {}, h('th', {}, 'Policy'), h('th', {}, 'Mode'), h('th', {}, 'Platforms'), h('th', {}, 'Version'), h('th', {}, 'Assigned to'), h('th', {}, 'Changed'))),
        h('tbody', {}, list.map((p) => h('tr', {}, h('td', {}, p.name), h('td', {}, p.mode || '—'), h('td', {}, p.platforms.join(', ')), h('td', {}, p.version),
          h('td', {}, p.groups.join(', ') || '—'), h('td', {}, when(p.updatedAt))))))
      : h('p', { class: 'muted' }, 'No policies yet.'));
  }

  async function audit() {
    const d = await api('GET', '/dashboard');
    if (!d.available.auditBundles) return shell('Audit', h('p', { class: 'notice' }, 'Audit export is not attached to this Ward yet.'));
    const since = h('input', { id: 'audit-since', type: 'datetime-local' });
    const until = h('input', { id: 'audit-until', type: 'datetime-local' });
    const out = h('div', { id: 'audit-result', role: 'status' });
    const exportForm = h('form', { id: 'audit-export', onsubmit: async (ev) => {
      ev.preventDefault();
      const body = {};
      if (since.value) body.since = new Date(since.value).toISOString();
      if (until.value) body.until = new Date(until.value).toISOString();
      try {
        const res = await api('POST', '/audit/bundle', body, { blob: true, accept: 'application/x-tar' });
        const blob = await res.blob();
        const name = (/filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') || '') || [])[1] || 'ward-audit.tar';
        const a = h('a', { href: URL.createObjectURL(blob), download: name, id: 'audit-download' }, `Download ${name} (${blob.size} bytes)`);
        out.replaceChildren(h('p', { class: 'notice' }, 'Bundle signed and ready: ', a));
        a.click();
      } catch (e) { if (e.status !== 401) out.replaceChildren(errorBox(e)); }
    } },
    h('label', { for: 'audit-since' }, 'From (optional)'), since, h('label', { for: 'audit-until' }, 'Until (optional)'), until,
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'export-bundle' }, 'Export signed bundle')));
    const file = h('input', { id: 'audit-file', type: 'file', accept: '.tar,application/x-tar' });
    const verifyOut = h('div', { id: 'verify-result', role: 'status' });
    const verifyForm = h('form', { id: 'audit-verify', onsubmit: async (ev) => {
      ev.preventDefault();
      if (!file.files.length) return;
      try {
        const r = await api('POST', '/audit/verify', await file.files[0].arrayBuffer());
        verifyOut.replaceChildren(h('p', { class: r.ok ? 'notice' : 'error' }, r.ok ? `Valid: ${r.lines} events, signature and Merkle root check out.` : 'NOT valid:'),
          r.failures.length ? h('ul', {}, r.failures.map((f) => h('li', {}, `${f.check}: ${f.message}`))) : null);
      } catch (e) { if (e.status !== 401) verifyOut.replaceChildren(errorBox(e)); }
    } }, h('label', { for: 'audit-file' }, 'Bundle file'), file, h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'secondary' }, 'Verify')));
    shell('Audit', h('p', { class: 'muted' }, 'A bundle is a tar file an auditor can check without Ward (openssl and the commands in its VERIFY.txt).'),
      h('h2', {}, 'Export'), exportForm, out, h('h2', {}, 'Verify a bundle'), verifyForm, verifyOut);
  }

  async function certificates() {
    const { certificates: list } = await api('GET', '/certificates?limit=100');
    shell('Certificates', h('table', { id: 'certificate-list' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Serial'), h('th', {}, 'Profile'), h('th', {}, 'Subject'), h('th', {}, 'Until'), h('th', {}, 'Status'))),
      h('tbody', {}, list.map((c) => h('tr', {}, h('td', { class: 'mono' }, c.serial.slice(0, 16) + (c.serial.length > 16 ? '…' : '')), h('td', {}, c.profile), h('td', {}, c.subject),
        h('td', {}, when(c.notAfter)), h('td', {}, h('span', { class: 'status ' + (c.status === 'valid' || c.status === 'ca' ? 'ok' : 'bad') }, c.status)))))));
  }

  async function access() {
    const [{ users }, { tokens }] = await Promise.all([api('GET', '/users'), api('GET', '/tokens')]);
    const out = h('div', { id: 'access-result', role: 'status' });
    const uname = h('input', { id: 'new-username', autocomplete: 'off' });
    const urole = h('select', { id: 'new-role' }, ['operator', 'auditor', 'admin', 'nac'].map((r) => h('option', { value: r }, r)));
    const upass = h('input', { id: 'new-password', type: 'password', autocomplete: 'new-password' });
    const userForm = h('form', { onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        const r = await api('POST', '/users', { username: uname.value.trim(), role: urole.value, password: upass.value });
        await access();
        document.getElementById('access-result').replaceChildren(h('div', { class: 'once' }, h('p', {}, `${r.user.username} created. TOTP secret (shown once), for their authenticator app:`), h('p', { class: 'mono' }, r.otpauthUri)));
      } catch (e) { if (e.status !== 401) out.replaceChildren(errorBox(e)); }
    } }, h('label', { for: 'new-username' }, 'User name'), uname, h('label', { for: 'new-role' }, 'Role'), urole, h('label', { for: 'new-password' }, 'Initial password'), upass,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Create user')));
    const tname = h('input', { id: 'token-name', autocomplete: 'off' });
    const trole = h('select', { id: 'token-role' }, ['nac', 'auditor', 'operator', 'admin'].map((r) => h('option', { value: r }, r)));
    const tokenForm = h('form', { onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        const t = await api('POST', '/tokens', { name: tname.value.trim(), role: trole.value });
        await access();
        document.getElementById('access-result').replaceChildren(h('div', { class: 'once' }, h('p', {}, `Token for ${t.name} (shown once):`), h('p', { class: 'mono' }, t.token)));
      } catch (e) { if (e.status !== 401) out.replaceChildren(errorBox(e)); }
    } }, h('label', { for: 'token-name' }, 'Token name'), tname, h('label', { for: 'token-role' }, 'Role'), trole, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Create token')));
    shell('Users & tokens', out,
      h('h2', {}, 'Users'),
      h('table', { id: 'user-list' }, h('thead', {}, h('tr', {}, h('th', {}, 'User'), h('th', {}, 'Role'), h('th', {}, 'State'), h('th', {}, 'Last sign-in'))),
        h('tbody', {}, users.map((u) => h('tr', {}, h('td', {}, u.username), h('td', {}, u.role), h('td', {}, u.disabled ? 'disabled' : u.lockedUntil ? 'locked until ' + when(u.lockedUntil) : 'active'), h('td', {}, when(u.lastLoginAt)))))),
      h('details', {}, h('summary', {}, 'New user'), userForm),
      h('h2', {}, 'API tokens'),
      h('table', { id: 'token-list' }, h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Role'), h('th', {}, 'Status'), h('th', {}, 'Expires'), h('th', {}, 'Last used'), h('th', {}, ''))),
        h('tbody', {}, tokens.map((t) => h('tr', {}, h('td', {}, t.name), h('td', {}, t.role), h('td', {}, t.status), h('td', {}, when(t.expiresAt)), h('td', {}, when(t.lastUsedAt)),
          h('td', {}, t.status === 'active' ? h('button', { type: 'button', class: 'secondary', onclick: async () => {
            if (!(await confirmDialog(`Revoke the token ${t.name}?`, 'Scripts using it stop working at once.', `Revoke ${t.name}`, true))) return;
            try { await api('DELETE', '/tokens/' + t.id); await access(); } catch (e) { if (e.status !== 401) out.replaceChildren(errorBox(e)); }
          } }, 'Revoke') : null))))),
      h('details', {}, h('summary', {}, 'New API token'), tokenForm));
  }

  // ---- router

  async function route() {
    if (!state.session) {
      try {
        const res = await fetch(API + '/session', { credentials: 'same-origin', headers: { Accept: 'application/json' }, cache: 'no-store' });
        if (!res.ok) return renderSignIn();
        state.session = await res.json();
      } catch (e) {
        return renderSignIn();
      }
    }
    const [path, qs] = (location.hash.slice(1) || '/dashboard').split('?');
    const params = new URLSearchParams(qs || '');
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    const allowed = PAGES.find((p) => p.hash === '#/' + (parts[0] || 'dashboard'));
    try {
      if (!allowed || !allowed.roles.includes(state.session.role)) {
        return shell('Not available', h('p', { class: 'notice' }, `The ${state.session.role} role has no page here.`));
      }
      if (parts[0] === 'devices' && parts[1]) return await device(parts[1]);
      const page = { dashboard, devices, enrollment, policies, audit, certificates, access }[parts[0] || 'dashboard'];
      return await page(params);
    } catch (e) {
      if (e.status === 401) return undefined;
      shell('Problem', errorBox(e));
    }
  }

  window.addEventListener('hashchange', route);
  route();
})();

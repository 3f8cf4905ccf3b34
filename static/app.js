// The dashboard shell: sign-in, the signed-in header, and the pages. All user-supplied
// text is set with textContent, never as HTML.

import { api, ApiError, setCsrfToken } from './api.js';

const $ = (id) => document.getElementById(id);
const show = (el, on = true) => { el.hidden = !on; };

function showError(el, err) {
  el.textContent = err instanceof ApiError ? err.describe() : String(err);
  show(el, true);
}

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text ?? '—';
  return td;
}

function formatDuration(seconds) {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (d) return `${d} d ${h} h`;
  if (h) return `${h} h ${m} min`;
  return `${m} min ${seconds % 60} s`;
}

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function formatTime(iso) {
  return iso ? new Date(iso).toLocaleString() : 'never';
}

async function loadBanners() {
  try {
    const info = await api('GET', '/api/info');
    show($('sandbox-banner'), info.sandbox);
    show($('insecure-banner'), info.twilioSignatureCheckDisabled);
  } catch (e) {
    // The banners are informative; sign-in still works without them.
  }
}

function showLogin() {
  show($('app-view'), false);
  show($('login-view'), true);
  $('login-email').focus();
}

async function onLogin(event) {
  event.preventDefault();
  const errorEl = $('login-error');
  show(errorEl, false);
  const email = $('login-email').value.trim();
  const password = $('login-password').value;
  if (!email || !password) {
    errorEl.textContent = 'Enter your email and password.';
    show(errorEl, true);
    return;
  }
  const button = $('login-submit');
  button.disabled = true;
  button.textContent = 'Signing in…';
  try {
    const result = await api('POST', '/api/auth/login', { email, password });
    setCsrfToken(result.csrfToken);
    $('login-password').value = '';
    await enterApp();
  } catch (e) {
    if (e instanceof ApiError && e.code === 'invalid_credentials') {
      errorEl.textContent = 'That email and password do not match. Check them and try again.';
      show(errorEl, true);
    } else {
      showError(errorEl, e);
    }
  } finally {
    button.disabled = false;
    button.textContent = 'Sign in';
  }
}

let me = null;

async function enterApp() {
  me = await api('GET', '/api/me');
  setCsrfToken(me.csrfToken);
  $('org-name').textContent = me.org.name;
  $('user-email').textContent = `${me.user.email} (${me.user.role})`;
  show($('token-form'), me.user.role !== 'viewer');
  show($('login-view'), false);
  show($('app-view'), true);
  route();
}

const pages = {
  overview: loadOverview,
  numbers: loadNumbers,
  settings: loadSettings,
};

function route() {
  if (!me) return;
  const name = (location.hash || '#overview').slice(1);
  const page = pages[name] ? name : 'overview';
  for (const key of Object.keys(pages)) show($(`page-${key}`), key === page);
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('active', a.dataset.page === page);
  }
  show($('app-error'), false);
  pages[page]().catch(handleAppError);
}

function handleAppError(e) {
  if (e instanceof ApiError && e.status === 401) {
    me = null;
    showLogin();
    const errorEl = $('login-error');
    errorEl.textContent = 'Your session has ended. Sign in again.';
    show(errorEl, true);
    return;
  }
  showError($('app-error'), e);
}

async function loadOverview() {
  show($('health-loading'), true);
  const h = await api('GET', '/api/health');
  $('health-version').textContent = h.version;
  $('health-uptime').textContent = formatDuration(h.uptimeSeconds);
  $('health-url').textContent = h.publicUrl;
  $('health-db').textContent = `${formatBytes(h.database.sizeBytes)}, schema v${h.database.schemaVersion}`;
  $('health-twilio').textContent = formatTime(h.lastWebhook.twilio);
  $('health-vapi').textContent = formatTime(h.lastWebhook.vapi);
  const list = $('health-warnings');
  list.replaceChildren();
  for (const w of h.warnings.length ? h.warnings : ['None.']) {
    const li = document.createElement('li');
    li.textContent = w;
    list.append(li);
  }
  show($('health-loading'), false);
  show($('health'), true);
}

async function loadNumbers() {
  const { numbers } = await api('GET', '/api/numbers');
  const body = $('numbers-table').querySelector('tbody');
  body.replaceChildren();
  for (const n of numbers) {
    const tr = document.createElement('tr');
    tr.append(
      cell(n.e164), cell(n.friendlyName), cell(n.role),
      cell(n.handler === 'vapi' ? 'AI agent (Vapi)' : 'Call menu (IVR)'),
      cell(n.agentName), cell(n.origin),
    );
    body.append(tr);
  }
  show($('numbers-empty'), numbers.length === 0);
  show($('numbers-table'), numbers.length > 0);
}

async function loadSettings() {
  const [{ users }, { tokens }] = await Promise.all([api('GET', '/api/users'), api('GET', '/api/tokens')]);
  const usersBody = $('users-table').querySelector('tbody');
  usersBody.replaceChildren();
  for (const u of users) {
    const tr = document.createElement('tr');
    tr.append(cell(u.email), cell(u.role), cell(formatTime(u.lastLoginAt)));
    usersBody.append(tr);
  }
  const tokensBody = $('tokens-table').querySelector('tbody');
  tokensBody.replaceChildren();
  for (const t of tokens) {
    const tr = document.createElement('tr');
    const actions = document.createElement('td');
    if (t.revokedAt) {
      actions.textContent = `revoked ${formatTime(t.revokedAt)}`;
    } else if (me.user.role !== 'viewer') {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'secondary';
      b.textContent = 'Revoke';
      b.addEventListener('click', () => revokeToken(t.id, b));
      actions.append(b);
    }
    tr.append(cell(t.name), cell(t.prefix + '…'), cell(formatTime(t.createdAt)), cell(formatTime(t.lastUsedAt)), actions);
    tokensBody.append(tr);
  }
}

async function onCreateToken(event) {
  event.preventDefault();
  const errorEl = $('token-error');
  show(errorEl, false);
  try {
    const created = await api('POST', '/api/tokens', { name: $('token-name').value });
    $('token-secret').textContent = created.token;
    show($('token-created'), true);
    $('token-name').value = '';
    await loadSettings();
  } catch (e) {
    showError(errorEl, e);
  }
}

async function revokeToken(id, button) {
  button.disabled = true;
  try {
    await api('DELETE', `/api/tokens/${id}`);
    await loadSettings();
  } catch (e) {
    button.disabled = false;
    showError($('token-error'), e);
  }
}

async function onLogout() {
  try {
    await api('POST', '/api/auth/logout');
  } catch (e) {
    // Signed out either way from the user's point of view.
  }
  me = null;
  setCsrfToken(null);
  showLogin();
}

async function start() {
  $('login-form').addEventListener('submit', onLogin);
  $('logout').addEventListener('click', onLogout);
  $('token-form').addEventListener('submit', onCreateToken);
  window.addEventListener('hashchange', route);
  await loadBanners();
  try {
    await enterApp();
  } catch (e) {
    showLogin();
  }
}

start();

// The dashboard shell: sign-in, the signed-in header, and the pages. All user-supplied
// text is set with textContent, never as HTML.

import { api, ApiError, setCsrfToken } from './api.js';
import { $, show, showError, cell, formatTime, watchTables, contactLinks, inboxChanged } from './ui.js';
import { loadNumbers, loadAgents, loadOrg, initNumbers } from './numbers.js';
import { loadUsers, initUsers } from './users.js';
import { loadLeads, initLeads } from './leads.js';
import { openCalls, initCalls } from './calls.js';
import { loadDay, initOverview } from './overview.js';
import { loadCallFlow, initCallFlow } from './callflow.js';

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
  for (const node of document.querySelectorAll('.writer-only')) show(node, me.user.role !== 'viewer');
  show($('login-view'), false);
  show($('app-view'), true);
  route();
}

const pages = {
  overview: loadOverview,
  calls: openCalls,
  voicemail: loadVoicemail,
  leads: () => loadLeads(me),
  callflow: () => loadCallFlow(me),
  numbers: () => loadNumbers(me),
  agents: () => loadAgents(me),
  features: loadFeatures,
  settings: loadSettings,
};

async function loadFeatures() {
  renderFeatures((await api('GET', '/api/feature-flags')).flags);
}

function renderFeatures(flags) {
  const body = $('features-table').querySelector('tbody');
  body.replaceChildren();
  for (const f of flags) {
    const tr = document.createElement('tr');
    tr.dataset.flag = f.key;
    const name = document.createElement('td');
    const strong = document.createElement('strong');
    strong.textContent = f.name;
    const desc = document.createElement('div');
    desc.className = 'muted small';
    desc.textContent = f.description;
    name.append(strong, desc);
    const actions = document.createElement('td');
    if (me.user.role !== 'viewer') {
      const toggle = document.createElement('button');
      toggle.type = 'button';
      toggle.className = 'secondary toggle';
      toggle.textContent = f.effective ? 'Turn off' : 'Turn on';
      toggle.addEventListener('click', () =>
        changeFeature('PUT', `/api/feature-flags/${f.key}/override`, { enabled: !f.effective }));
      actions.append(toggle);
      if (f.orgOverride !== null) {
        const reset = document.createElement('button');
        reset.type = 'button';
        reset.className = 'secondary';
        reset.textContent = 'Use default';
        reset.addEventListener('click', () => changeFeature('DELETE', `/api/feature-flags/${f.key}/override`));
        actions.append(' ', reset);
      }
    }
    tr.append(name, cell(f.effective ? 'On' : 'Off'), cell(f.orgOverride === null ? 'Default' : 'Your business'), actions);
    body.append(tr);
  }
}

async function changeFeature(method, path, body) {
  show($('features-error'), false);
  try {
    renderFeatures((await api(method, path, body)).flags);
  } catch (e) {
    showError($('features-error'), e);
  }
}

async function loadVoicemail() {
  const { voicemails } = await api('GET', '/api/voicemails?limit=100');
  const list = $('voicemail-list');
  list.replaceChildren();
  for (const v of voicemails) {
    const card = document.createElement('div');
    card.className = 'card voicemail' + (v.handled ? ' handled' : '');
    const head = document.createElement('p');
    head.className = 'vm-head';
    head.textContent = `${v.fromNumber || 'Unknown caller'} · ${formatTime(v.createdAt)}` +
      (v.durationSeconds == null ? '' : ` · ${v.durationSeconds} s`);
    const text = document.createElement('p');
    text.className = 'vm-transcript';
    // Twilio transcribes recordings of 2 to 120 seconds only.
    text.textContent = v.transcriptionText
      || (v.transcriptionStatus === 'pending' ? 'Transcript on its way…'
        : v.durationSeconds > 120 ? 'Longer than 2 minutes, so not transcribed: listen to the recording.'
          : 'No transcript for this message.');
    card.append(head, contactLinks(v.fromNumber), text);
    if (v.recordingSid) {
      const audio = document.createElement('audio');
      audio.controls = true;
      audio.preload = 'none';
      audio.src = `/api/voicemails/${v.id}/recording`;
      card.append(audio);
    }
    if (me.user.role !== 'viewer') {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'secondary';
      b.textContent = v.handled ? 'Mark as new' : 'Mark handled';
      b.addEventListener('click', async () => {
        b.disabled = true;
        try {
          await api('PATCH', `/api/voicemails/${v.id}`, { handled: !v.handled });
          inboxChanged();
          await loadVoicemail();
        } catch (e) {
          b.disabled = false;
          handleAppError(e);
        }
      });
      card.append(b);
    }
    list.append(card);
  }
  show($('voicemail-empty'), voicemails.length === 0);
}


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
  updateCounts();
}

// New voicemails and open leads, counted in the navigation (and refreshed every 30 s).
async function updateCounts() {
  if (!me) return;
  try {
    const c = await api('GET', '/api/inbox');
    for (const [id, n, what] of [['nav-voicemails', c.voicemailsWaiting, 'new voicemails'], ['nav-leads', c.leadsOpen, 'open leads']]) {
      const badge = $(id);
      badge.textContent = String(n);
      badge.setAttribute('aria-label', `${n} ${what}`);
      show(badge, n > 0);
    }
  } catch (e) {
    // The counts are a convenience; the pages say what failed.
  }
}
setInterval(updateCounts, 30000);
document.addEventListener('inbox-changed', updateCounts);

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
  await loadDay();
  show($('health-loading'), true);
  const h = await api('GET', '/api/health');
  $('health-version').textContent = h.version;
  $('health-uptime').textContent = formatDuration(h.uptimeSeconds);
  $('health-url').textContent = h.publicUrl;
  $('health-db').textContent = `${formatBytes(h.database.sizeBytes)}, schema v${h.database.schemaVersion}`;
  $('health-twilio').textContent = formatTime(h.lastWebhook.twilio);
  $('health-vapi').textContent = formatTime(h.lastWebhook.vapi);
  show($('health-loading'), false);
  show($('health'), true);
}

async function loadSettings() {
  await loadOrg(me);
  const [{ tokens }] = await Promise.all([api('GET', '/api/tokens'), loadUsers(me)]);
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
  initCalls(handleAppError);
  initNumbers(handleAppError);
  initUsers();
  initLeads();
  initOverview();
  initCallFlow();
  watchTables();
  window.addEventListener('hashchange', route);
  await loadBanners();
  try {
    await enterApp();
  } catch (e) {
    showLogin();
  }
}

start();

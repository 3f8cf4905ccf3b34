// The dashboard shell: sign-in, the signed-in header, and the pages. All user-supplied
// text is set with textContent, never as HTML.

import { api, ApiError, setCsrfToken } from './api.js';
import { $, show, showError, watchTables, setCanCallBack } from './ui.js';
import { loadNumbers, loadAgents, initNumbers } from './numbers.js';
import { initUsers } from './users.js';
import { loadFeatures } from './features.js';
import { loadVoicemail } from './voicemail.js';
import { loadSettings, initSettings } from './settings.js';
import { loadLeads, initLeads } from './leads.js';
import { loadContacts, initContacts } from './contacts.js';
import { openCalls, initCalls } from './calls.js';
import { loadOverview, initOverview } from './overview.js';
import { loadCallFlow, initCallFlow, hasUnsavedFlow } from './callflow.js';
import { loadHealth, initHealth } from './health.js';
import { loadTwoFactor, initTwoFactor } from './twofactor.js';

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
  const totpField = $('login-totp-field');
  const body = { email, password };
  if (!totpField.hidden && $('login-totp').value.trim()) body.totp = $('login-totp').value;
  try {
    const result = await api('POST', '/api/auth/login', body);
    setCsrfToken(result.csrfToken);
    $('login-password').value = '';
    $('login-totp').value = '';
    show(totpField, false);
    await enterApp();
  } catch (e) {
    const words = {
      invalid_credentials: 'That email and password do not match. Check them and try again.',
      totp_required: 'Two-factor sign-in is on for this account: enter the code your authenticator app shows.',
      totp_invalid: 'That code is wrong or was already used. Enter the code your app shows now.',
    };
    if (e instanceof ApiError && words[e.code]) {
      errorEl.textContent = words[e.code];
      show(errorEl, true);
      if (e.code !== 'invalid_credentials') {
        show(totpField, true);
        $('login-totp').value = '';
        $('login-totp').setAttribute('aria-invalid', String(e.code === 'totp_invalid'));
        $('login-totp').focus();
      }
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
  $('user-email').title = $('user-email').textContent;
  show($('token-form'), me.user.role !== 'viewer');
  for (const node of document.querySelectorAll('.writer-only')) show(node, me.user.role !== 'viewer');
  setCanCallBack(me.user.role !== 'viewer');
  show($('login-view'), false);
  show($('app-view'), true);
  connectLive();
  route();
}

const pages = {
  overview: () => loadOverview(me),
  calls: (id) => openCalls(id),
  voicemail: (id) => loadVoicemail(me, handleAppError, id),
  leads: (id) => loadLeads(me, id ?? null),
  contacts: (number) => loadContacts(me, number),
  callflow: () => loadCallFlow(me),
  numbers: () => loadNumbers(me),
  agents: () => loadAgents(me),
  features: () => loadFeatures(me),
  health: () => loadHealth(me),
  settings: () => loadSettings(me),
};


// `#page`, or `#page/id` for one thing on it (a call: `#calls/42`), so a reload or the
// back button comes back to it.
let currentPage = null;

function route() {
  if (!me) return;
  // Leaving call-flow edits that are not saved asks first; staying puts the URL back.
  const wanted = (location.hash || '#overview').slice(1).split('/')[0];
  if (currentPage === 'callflow' && wanted !== 'callflow' && hasUnsavedFlow()
      && !window.confirm('Your call-flow changes are not saved. Leave this page and lose them?')) {
    history.replaceState(null, '', '#callflow');
    return;
  }
  // An owner or admin whose org requires two-factor sign-in sees only its enrolment.
  document.body.classList.toggle('setup-only', me.twoFactorSetupRequired);
  if (me.twoFactorSetupRequired) {
    for (const key of Object.keys(pages)) show($(`page-${key}`), key === 'settings');
    show($('app-error'), false);
    const enrolled = async () => {
      await enterApp();
      location.hash = '#overview';
    };
    loadTwoFactor(me, () => enrolled().catch(handleAppError)).catch(handleAppError);
    return;
  }
  const [name, arg] = (location.hash || '#overview').slice(1).split('/');
  const page = pages[name] ? name : 'overview';
  currentPage = page;
  for (const key of Object.keys(pages)) show($(`page-${key}`), key === page);
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('active', a.dataset.page === page);
  }
  show($('app-error'), false);
  pages[page](arg).catch(handleAppError);
  updateCounts();
}

// New voicemails and open leads, counted in the navigation (and refreshed every 30 s).
async function updateCounts() {
  if (!me) return;
  try {
    const c = await api('GET', '/api/inbox');
    // The Menu button on a phone carries the to-do count, as Overview does on a laptop.
    for (const [id, n, what] of [['nav-todo', c.todo, 'things to do'], ['nav-toggle-todo', c.todo, 'things to do'], ['nav-voicemails', c.voicemailsWaiting, 'new voicemails'], ['nav-leads', c.leadsOpen, 'open leads']]) {
      const badge = $(id);
      badge.textContent = String(n);
      badge.setAttribute('aria-label', `${n} ${what}`);
      show(badge, n > 0);
    }
  } catch (e) {
    // The counts are a convenience; the pages say what failed.
  }
}
document.addEventListener('inbox-changed', updateCounts);

// Live updates: the server's events (GET /api/events) say what changed for this business;
// the counts follow and the page shown reads again what it shows. EventSource reconnects
// by itself (after a restart too) and resumes from the last event it saw.
let live = null;
let liveTimer = null;
const ALL_KINDS = ['calls', 'messages', 'voicemails', 'leads'];
const LIVE_PAGES = { overview: ALL_KINDS, voicemail: ['voicemails'], leads: ['leads', 'messages'] };

function tell(kinds) {
  document.dispatchEvent(new CustomEvent('live', { detail: { kinds } }));
  updateCounts();
  const wants = LIVE_PAGES[currentPage];
  if (!wants || !kinds.some((k) => wants.includes(k))) return;
  clearTimeout(liveTimer);
  liveTimer = setTimeout(() => {
    const [name, arg] = (location.hash || '#overview').slice(1).split('/');
    if (name === currentPage || (!pages[name] && currentPage === 'overview')) pages[currentPage](arg).catch(() => {});
  }, 200);
}

function connectLive() {
  if (live) return;
  live = new EventSource('/api/events');
  live.addEventListener('change', (e) => tell(JSON.parse(e.data).kinds));
  live.addEventListener('reset', () => tell(ALL_KINDS));
  // Back after a break (a restart, a network change): read everything again.
  live.addEventListener('open', () => { if (live.wasOpen) tell(ALL_KINDS); live.wasOpen = true; });
}

function disconnectLive() {
  if (live) live.close();
  live = null;
}

function handleAppError(e) {
  if (e instanceof ApiError && e.status === 401) {
    me = null;
    disconnectLive();
    showLogin();
    const errorEl = $('login-error');
    errorEl.textContent = 'Your session has ended. Sign in again.';
    show(errorEl, true);
    return;
  }
  showError($('app-error'), e);
}

async function onLogout() {
  try {
    await api('POST', '/api/auth/logout');
  } catch (e) {
    // Signed out either way from the user's point of view.
  }
  me = null;
  disconnectLive();
  setCsrfToken(null);
  showLogin();
}

// On a phone the pages are behind a Menu button; choosing one closes the menu.
function initMenu() {
  const toggle = $('nav-toggle');
  const setOpen = (open) => {
    $('nav').classList.toggle('open', open);
    toggle.setAttribute('aria-expanded', String(open));
  };
  toggle.addEventListener('click', () => setOpen(!$('nav').classList.contains('open')));
  for (const a of document.querySelectorAll('#nav a')) a.addEventListener('click', () => setOpen(false));
}

// The service worker shows pushed notifications and makes the dashboard installable as an
// app (SPEC §12). It caches nothing, so registering it changes nothing else.
function registerServiceWorker() {
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => {});
}

async function start() {
  registerServiceWorker();
  initMenu();
  $('login-form').addEventListener('submit', onLogin);
  $('logout').addEventListener('click', onLogout);
  initSettings();
  initCalls(handleAppError);
  initNumbers(handleAppError);
  initUsers();
  initLeads();
  initContacts();
  initOverview();
  initCallFlow();
  initHealth();
  initTwoFactor();
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

// Settings: the business (numbers to text and fall back to, time zone), what reaches each
// user and how (email, texts, push to this device), two-factor sign-in,
// the installation's checks (`switchboard doctor`), its users, and API tokens (a new token
// is shown once).

import { api, ApiError } from './api.js';
import { $, show, showError, cell, el, button, option, formatTime, once } from './ui.js';
import { loadOrg } from './numbers.js';
import { loadUsers } from './users.js';
import { loadTwoFactor } from './twofactor.js';
import { loadWebhooks, initWebhooks } from './webhooks.js';

let me = null;

// What reaches me, and how: each user chooses for themselves (SPEC §12).
const CHANNELS = { email: 'notify-email', sms: 'notify-sms', push: 'notify-push' };
let prefs = null;

async function loadNotifications() {
  prefs = await api('GET', '/api/me/notifications');
  $('notify-status').textContent = prefs.emailConfigured
    ? `Emails go to ${prefs.address}.`
    : `Emails would go to ${prefs.address}, but this appliance has no mail server yet (SWITCHBOARD_SMTP_URL).`;
  for (const [channel, id] of Object.entries(CHANNELS)) {
    for (const box of $(id).querySelectorAll('input[data-event]')) box.checked = Boolean(prefs[channel][box.dataset.event]);
  }
  $('notify-mobile').value = prefs.mobileDisplay || prefs.mobile || '';
  $('quiet-on').checked = Boolean(prefs.quietHours);
  $('quiet-start').value = prefs.quietHours ? prefs.quietHours.start : '21:00';
  $('quiet-end').value = prefs.quietHours ? prefs.quietHours.end : '07:00';
  show($('quiet-times'), $('quiet-on').checked);
  const hour = $('summary-hour');
  if (!hour.options.length) {
    for (let h = 0; h < 24; h++) hour.append(option(String(h), `${String(h).padStart(2, '0')}:00`));
  }
  hour.value = String(prefs.summaryHour);
  show($('notify-saved'), false);
  show($('notify-error'), false);
  show($('reach-saved'), false);
  await showDevices();
}

async function saveNotification(event) {
  const box = event.target;
  const channel = Object.keys(CHANNELS).find((c) => CHANNELS[c] === event.currentTarget.id);
  box.disabled = true;
  show($('notify-saved'), false);
  show($('notify-error'), false);
  try {
    await api('PUT', '/api/me/notifications', { [channel]: { [box.dataset.event]: box.checked } });
    show($('notify-saved'), true);
  } catch (e) {
    box.checked = !box.checked;
    showError($('notify-error'), e);
  } finally {
    box.disabled = false;
  }
}

async function saveReach(event) {
  event.preventDefault();
  show($('reach-saved'), false);
  await once($('reach-form'), async () => {
    try {
      const mobile = $('notify-mobile').value.trim();
      prefs = await api('PATCH', '/api/me', {
        mobile: mobile || null,
        quietHours: $('quiet-on').checked ? { start: $('quiet-start').value, end: $('quiet-end').value } : null,
        summaryHour: Number($('summary-hour').value),
      });
      $('notify-mobile').value = prefs.mobileDisplay || prefs.mobile || '';
      show($('reach-saved'), true);
    } catch (e) {
      showError($('reach-error'), e);
    }
  });
}

// Push needs a service worker and the browser's permission; the page says which is missing.
const pushSupported = () => 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;

function keyBytes(base64url) {
  const b64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(raw, (ch) => ch.charCodeAt(0));
}

function deviceName() {
  const ua = navigator.userAgent;
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrome\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'Browser';
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac OS/.test(ua) ? 'macOS' : /Windows/.test(ua) ? 'Windows' : /Linux/.test(ua) ? 'Linux' : 'a device';
  return `${browser} on ${os}`;
}

async function currentSubscription() {
  if (!pushSupported()) return null;
  const reg = await navigator.serviceWorker.getRegistration('/');
  return reg ? reg.pushManager.getSubscription() : null;
}

async function showDevices() {
  const list = $('push-devices');
  list.replaceChildren();
  const mine = await currentSubscription().catch(() => null);
  const here = mine ? mine.endpoint : null;
  for (const d of prefs.devices) {
    const item = el('li', `${d.device || 'A device'}${d.endpoint === here ? ' (this one)' : ''} — since ${formatTime(d.createdAt)}`);
    item.append(button('Remove', async () => {
      await api('DELETE', `/api/me/push/${d.id}`).catch((e) => showError($('notify-error'), e));
      await loadNotifications();
    }));
    list.append(item);
  }
  const subscribed = Boolean(here) && prefs.devices.some((d) => d.endpoint === here);
  show($('push-subscribe'), !subscribed);
  show($('push-unsubscribe'), subscribed);
  $('push-status').textContent = !pushSupported()
    ? 'This browser cannot receive notifications. On a phone, add the dashboard to the home screen first.'
    : subscribed ? 'This device gets your notifications.' : 'This device does not get notifications yet.';
}

async function subscribeDevice() {
  const status = $('push-status');
  if (!pushSupported()) return showDevices();
  $('push-subscribe').disabled = true;
  try {
    const permission = await Notification.requestPermission();
    if (permission !== 'granted') {
      status.textContent = 'Notifications are blocked for this site: allow them in the browser\'s site settings, then try again.';
      return;
    }
    const reg = await navigator.serviceWorker.ready;
    const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(prefs.pushPublicKey) });
    await api('POST', '/api/me/push', { ...sub.toJSON(), device: deviceName() });
    await loadNotifications();
  } catch (e) {
    status.textContent = `This device could not subscribe: ${e instanceof ApiError ? e.describe() : e.message || e}`;
  } finally {
    $('push-subscribe').disabled = false;
  }
}

async function unsubscribeDevice() {
  $('push-unsubscribe').disabled = true;
  try {
    const sub = await currentSubscription();
    if (sub) {
      await api('DELETE', '/api/me/push', { endpoint: sub.endpoint }).catch(() => {});
      await sub.unsubscribe();
    }
    await loadNotifications();
  } catch (e) {
    showError($('notify-error'), e);
  } finally {
    $('push-unsubscribe').disabled = false;
  }
}

export async function loadSettings(current) {
  me = current;
  await Promise.all([loadTwoFactor(me, null), loadNotifications(), me.user.role === 'viewer' ? null : loadWebhooks()]);
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
  await once($('token-form'), async () => {
    try {
      const created = await api('POST', '/api/tokens', { name: $('token-name').value });
      $('token-secret').textContent = created.token;
      show($('token-created'), true);
      $('token-name').value = '';
      await loadSettings(me);
    } catch (e) {
      showError(errorEl, e);
    }
  });
}

async function revokeToken(id, button) {
  button.disabled = true;
  try {
    await api('DELETE', `/api/tokens/${id}`);
    await loadSettings(me);
  } catch (e) {
    button.disabled = false;
    showError($('token-error'), e);
  }
}

const VERDICTS = { pass: '✓ Passed', fail: '✗ Failed', skip: '– Skipped' };

// Runs the checks on demand: they call Twilio, Vapi and the public URL, so they take a moment.
async function runChecks() {
  const button = $('checks-run');
  const errorEl = $('checks-error');
  show(errorEl, false);
  button.disabled = true;
  $('checks-summary').textContent = 'Checking…';
  try {
    const { ok, checks } = await api('GET', '/api/doctor');
    const body = $('checks-table').querySelector('tbody');
    body.replaceChildren();
    for (const c of checks) {
      const tr = document.createElement('tr');
      tr.className = `check-${c.verdict}`;
      tr.append(cell(c.name), cell(`${VERDICTS[c.verdict]}: ${c.detail}`), cell(c.fix || ''));
      body.append(tr);
    }
    show($('checks-table'), true);
    const failed = checks.filter((c) => c.verdict === 'fail').length;
    $('checks-summary').textContent = ok
      ? 'All checks passed.'
      : `${failed} of ${checks.length} checks failed: each says what to do.`;
  } catch (e) {
    $('checks-summary').textContent = '';
    showError(errorEl, e);
  } finally {
    button.disabled = false;
  }
}

export function initSettings() {
  for (const id of Object.values(CHANNELS)) $(id).addEventListener('change', saveNotification);
  $('reach-form').addEventListener('submit', saveReach);
  $('quiet-on').addEventListener('change', () => show($('quiet-times'), $('quiet-on').checked));
  $('push-subscribe').addEventListener('click', subscribeDevice);
  $('push-unsubscribe').addEventListener('click', unsubscribeDevice);
  $('token-form').addEventListener('submit', onCreateToken);
  initWebhooks();
  $('checks-run').addEventListener('click', runChecks);
}

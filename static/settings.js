// Settings: the business (numbers to text and fall back to, time zone), two-factor sign-in,
// the installation's checks (`switchboard doctor`), its users, and API tokens (a new token
// is shown once).

import { api } from './api.js';
import { $, show, showError, cell, formatTime, once } from './ui.js';
import { loadOrg } from './numbers.js';
import { loadUsers } from './users.js';
import { loadTwoFactor } from './twofactor.js';

let me = null;

// Which events reach me by email (each user chooses for themselves).
async function loadNotifications() {
  const prefs = await api('GET', '/api/me/notifications');
  $('notify-status').textContent = prefs.emailConfigured
    ? `Emails go to ${prefs.address}.`
    : `Emails would go to ${prefs.address}, but this appliance has no mail server yet (SWITCHBOARD_SMTP_URL).`;
  for (const box of $('notify-email').querySelectorAll('input[data-event]')) box.checked = Boolean(prefs.email[box.dataset.event]);
  show($('notify-saved'), false);
  show($('notify-error'), false);
}

async function saveNotification(event) {
  const box = event.target;
  box.disabled = true;
  show($('notify-saved'), false);
  show($('notify-error'), false);
  try {
    await api('PUT', '/api/me/notifications', { email: { [box.dataset.event]: box.checked } });
    show($('notify-saved'), true);
  } catch (e) {
    box.checked = !box.checked;
    showError($('notify-error'), e);
  } finally {
    box.disabled = false;
  }
}

export async function loadSettings(current) {
  me = current;
  await Promise.all([loadTwoFactor(me, null), loadNotifications()]);
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
  $('notify-email').addEventListener('change', saveNotification);
  $('token-form').addEventListener('submit', onCreateToken);
  $('checks-run').addEventListener('click', runChecks);
}

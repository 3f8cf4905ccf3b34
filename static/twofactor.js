// Settings → Two-factor sign-in (SPEC §14): turn it on (scan the QR code the appliance drew,
// confirm a code, keep the recovery codes), turn it off with a code, and, for owners and
// admins, require it of everyone who can change things.

import { api } from './api.js';
import { $, show, showError, el, once } from './ui.js';

let me = null;
let onEnrolled = null;

export async function loadTwoFactor(current, enrolled) {
  me = current;
  onEnrolled = enrolled;
  show($('twofactor-error'), false);
  show($('twofactor-required-note'), me.twoFactorSetupRequired);
  show($('twofactor-org'), me.user.role !== 'viewer' && !me.twoFactorSetupRequired);
  $('twofactor-require').checked = me.requireTwoFactor;
  show($('twofactor-enrol'), false);
  show($('twofactor-codes'), false);
  render();
}

function render() {
  const on = me.user.twoFactor;
  $('twofactor-status').textContent = on
    ? 'On: signing in takes your password and a code from your authenticator app.'
    : 'Off: signing in takes only your password.';
  show($('twofactor-start'), !on && $('twofactor-enrol').hidden);
  show($('twofactor-off-form'), on && !(me.requireTwoFactor && me.user.role !== 'viewer'));
}

async function start() {
  show($('twofactor-error'), false);
  try {
    const enrolment = await api('POST', '/api/me/totp', {});
    const svg = enrolment.qrSvg;
    // The appliance drew this SVG itself; it carries no text of anyone's.
    $('twofactor-qr').innerHTML = svg.slice(svg.indexOf('<svg'));
    $('twofactor-secret').textContent = enrolment.secret.replace(/(.{4})/g, '$1 ').trim();
    show($('twofactor-codes'), false);
    show($('twofactor-enrol'), true);
    show($('twofactor-start'), false);
    $('twofactor-code').value = '';
    $('twofactor-code').focus();
  } catch (e) {
    showError($('twofactor-error'), e);
  }
}

async function confirm(event) {
  event.preventDefault();
  show($('twofactor-error'), false);
  await once($('twofactor-confirm-form'), async () => {
    try {
      const result = await api('POST', '/api/me/totp/confirm', { code: $('twofactor-code').value });
      const list = $('twofactor-code-list');
      list.replaceChildren(...result.recoveryCodes.map((c) => el('li', c)));
      show($('twofactor-enrol'), false);
      show($('twofactor-codes'), true);
      const wasRequired = me.twoFactorSetupRequired;
      me.user.twoFactor = true;
      me.twoFactorSetupRequired = false;
      show($('twofactor-continue'), wasRequired);
      show($('twofactor-required-note'), false);
      render();
    } catch (e) {
      showError($('twofactor-error'), e);
    }
  });
}

async function turnOff(event) {
  event.preventDefault();
  show($('twofactor-error'), false);
  await once($('twofactor-off-form'), async () => {
    try {
      await api('DELETE', '/api/me/totp', { code: $('twofactor-off-code').value });
      $('twofactor-off-code').value = '';
      me.user.twoFactor = false;
      show($('twofactor-codes'), false);
      render();
    } catch (e) {
      showError($('twofactor-error'), e);
    }
  });
}

async function setRequired() {
  const box = $('twofactor-require');
  const saved = $('twofactor-require-saved');
  show($('twofactor-error'), false);
  show(saved, false);
  box.disabled = true;
  try {
    const { required } = await api('PUT', '/api/org/two-factor', { required: box.checked });
    me.requireTwoFactor = required;
    saved.textContent = required
      ? 'Saved: owners and admins without two-factor are led through turning it on when they next use the dashboard.'
      : 'Saved: two-factor sign-in is no longer required.';
    show(saved, true);
    render();
  } catch (e) {
    box.checked = !box.checked;
    showError($('twofactor-error'), e);
  } finally {
    box.disabled = false;
  }
}

export function initTwoFactor() {
  $('twofactor-start').addEventListener('click', start);
  $('twofactor-confirm-form').addEventListener('submit', confirm);
  $('twofactor-off-form').addEventListener('submit', turnOff);
  $('twofactor-require').addEventListener('change', setRequired);
  $('twofactor-continue').addEventListener('click', () => onEnrolled && onEnrolled());
}

// Calls: filters (number, caller, call id, outcome, dates), paging, rows reachable by
// keyboard, new calls appearing while the page is open, and a call's timeline in words —
// what happened on the call, the texts it caused and the webhooks Twilio or Vapi sent for
// it (route, status, time taken, signature verdict) — merged in time order.

import { api } from './api.js';
import { $, show, showError, cell, el, option, formatTime, clearFieldErrors, shown, contactLinks } from './ui.js';

const OUTCOMES = {
  connected: 'Connected', voicemail: 'Voicemail', missed: 'Missed', abandoned: 'Abandoned',
  rejected: 'Rejected', ai_handled: 'AI handled', failed: 'Failed', blocked: 'Blocked',
};
const TEXTBACK = {
  scheduled: 'Scheduled', processing: 'Sending', sent: 'Sent', blocked: 'Not sent', skipped: 'Not needed',
  cancelled: 'Cancelled',
};
const CANCELLED = {
  answered_later: 'they called again and someone answered', texted_in: 'they texted in first',
  opted_out: 'they opted out (texted STOP)',
};
const PAGE = 50;

const DIAL = {
  completed: 'answered', answered: 'answered', busy: 'busy', 'no-answer': 'no answer',
  failed: 'could not ring through', canceled: 'canceled',
};
const BLOCKED = {
  opted_out: 'the caller opted out (texted STOP)', anonymous_caller: 'the caller ID is withheld',
  invalid_number: 'the caller ID is not a phone number', cooldown: 'they were texted recently (cooldown)',
  quiet_hours: 'it is quiet hours', provider_refused: 'Twilio refused it',
  caller_unverified: 'the caller ID failed verification (likely spoofed)', blocklisted: 'the caller is blocked',
};
const REJECTED = {
  unknown_number: 'the number is not set up here', system_number: 'the number is not for customers',
  blocked: 'the caller is blocked (they heard a busy signal)',
};

// Twilio's StirVerstat in words.
function verification(v) {
  if (!v) return '';
  if (v.startsWith('TN-Validation-Passed-')) return `Caller ID verified (${v.slice(-1)})`;
  if (v.startsWith('TN-Validation-Failed')) return 'Caller ID not verified: the number may be spoofed';
  return 'Caller ID not checked by the carrier';
}

function localTime(iso) {
  return iso ? new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : '';
}

let menuLabels = {};
let nextBefore = null;
let newest = null;
let shownCall = null;
let onError = (e) => { throw e; };

function filterParams() {
  const params = new URLSearchParams({ limit: String(PAGE) });
  const add = (key, id) => {
    const v = $(id).value.trim();
    if (v) params.set(key, v);
  };
  add('outcome', 'calls-outcome');
  add('caller', 'calls-caller');
  add('number', 'calls-number');
  add('callSid', 'calls-sid');
  add('from', 'calls-from');
  add('to', 'calls-to');
  return params;
}

const USER_SIDE = {
  requested: 'placing the call', ringing: 'ringing their phone', answered: 'connecting',
  machine: 'their voicemail answered', 'no-answer': 'they did not answer', busy: 'their phone was busy',
  failed: 'Twilio could not place it', canceled: 'cancelled', completed: 'ended',
};

// A callback in words: who placed it and how far it got.
function callbackWords(cb) {
  const who = cb.placedBy || 'a user';
  if (cb.customerStatus === 'answered') return `Called back by ${who}`;
  if (cb.customerStatus) return `Called back by ${who}: no answer`;
  return `Call back by ${who}: ${USER_SIDE[cb.userStatus] || cb.userStatus}`;
}

function row(c) {
  const tr = el('tr', null, 'clickable');
  tr.dataset.callId = String(c.id);
  tr.tabIndex = 0;
  const what = c.direction === 'outbound'
    ? `Call to ${shown(c, 'toNumber') || 'a customer'}` : `Call from ${shown(c, 'fromNumber') || 'an unknown caller'}`;
  tr.setAttribute('aria-label', `${what} at ${formatTime(c.startedAt)}: open its timeline`);
  tr.append(
    cell(formatTime(c.startedAt)), cell(shown(c, 'fromNumber')), cell(shown(c, 'toNumber')),
    cell(c.callback ? callbackWords(c.callback) : (OUTCOMES[c.outcome] || (c.endedAt ? '—' : 'In progress'))),
    cell(c.durationSeconds == null ? '—' : `${c.durationSeconds} s`),
    cell(c.menuChoices || '—'),
    cell(c.textbackState === 'scheduled' && c.textbackDeferred
      ? `Scheduled for ${localTime(c.textbackDueAt)}` : (TEXTBACK[c.textbackState] || '—')),
  );
  // The call gets its own address (#calls/42): reload and back keep it open.
  const open = () => {
    if (location.hash === `#calls/${c.id}`) showCall(c.id).catch(onError);
    else location.hash = `#calls/${c.id}`;
  };
  tr.addEventListener('click', open);
  tr.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      open();
    }
  });
  return tr;
}

// Loads the first page (or, with `more`, the next one after the last row shown).
export async function loadCalls(more = false) {
  show($('calls-error'), false);
  const params = filterParams();
  if (more && nextBefore) params.set('before', String(nextBefore));
  const { calls } = await api('GET', `/api/calls?${params}`);
  const body = $('calls-table').querySelector('tbody');
  if (!more) {
    body.replaceChildren();
    newest = calls.length ? calls[0].id : null;
  }
  for (const c of calls) body.append(row(c));
  nextBefore = calls.length === PAGE ? calls[calls.length - 1].id : null;
  show($('calls-loading'), false);
  const any = body.children.length > 0;
  show($('calls-empty'), !any);
  show($('calls-table'), any);
  show($('calls-more'), nextBefore !== null);
}

// New calls and changes appear on their own while the page is open: the server's live
// events (app.js) say when calls or texts changed, and the list (and an open timeline)
// are read again.
let liveTimer = null;
function onLive(event) {
  const { kinds } = event.detail;
  if ($('page-calls').hidden || !(kinds.includes('calls') || kinds.includes('messages'))) return;
  clearTimeout(liveTimer);
  liveTimer = setTimeout(async () => {
    try {
      await loadCalls();
      if (shownCall !== null && !$('call-detail').hidden) await showCall(shownCall, true);
    } catch (e) {
      // The next change tries again; a failure here is not the user's doing.
    }
  }, 150);
}

function say(e) {
  const d = e.detail || {};
  switch (e.kind) {
    case 'call.started':
      if (d.closedUntil) {
        const until = d.closedUntil.startsWith('9999-') ? 'until reopened' : `until ${localTime(d.closedUntil)}`;
        return `Call came in while closed by ${d.closedBy || 'hand'} ${until}: the after-hours action played`;
      }
      return d.open === false ? 'Call came in after hours' : 'Call came in; the menu answered';
    case 'after_hours': return 'After hours: the after-hours action played';
    case 'rejected': return `Rejected: ${REJECTED[d.reason] || d.reason}`;
    case 'invariant': return `Needs attention: ${d.name}`;
    case 'consent': return d.outcome === 'granted' ? 'Caller agreed to recording' : 'Caller declined recording';
    case 'menu':
      if (!d.digits) return `No key pressed (try ${d.attempt})`;
      return menuLabels[d.digits] ? `Pressed ${d.digits} — ${menuLabels[d.digits]}` : `Pressed ${d.digits} (not on the menu)`;
    case 'dial.started': {
      const who = (d.targetsDisplay || d.targets || []).join(', ');
      const screened = d.screened ? '; whoever answers must press 1' : '';
      return `Rang ${who} for ${d.ringSecs ?? '?'} s${screened}`;
    }
    case 'leg.answered': return `${shown(d, 'target') || 'A phone'} picked up and heard who is calling`;
    case 'leg.accepted': return `${shown(d, 'target') || 'Someone'} pressed 1 and took the call${d.afterSecs == null ? '' : ` after ${d.afterSecs} s`}`;
    case 'leg.declined': return `${shown(d, 'target') || 'A phone'} declined (pressed another key)`;
    case 'leg.silent': return `${shown(d, 'target') || 'A phone'}: a voicemail or machine picked up, not accepted`;
    case 'dial.result':
      if (d.screened) return d.taken ? 'The call was taken' : 'Nobody took the call';
      return `Rang through: ${DIAL[d.status] || d.status}`;
    case 'textback.scheduled': return `Text-back scheduled for ${d.localTime || localTime(d.dueAt)}, when quiet hours end`;
    case 'textback.cancelled': return `Text-back cancelled: ${CANCELLED[d.reason] || d.reason}`;
    case 'voicemail.recording':
      return d.status === 'completed' || d.status == null
        ? `Left a ${d.duration ?? '?'} s voicemail` : `Voicemail recording ${d.status}`;
    case 'voicemail.transcription': return d.status === 'completed' ? 'Voicemail transcribed' : 'Voicemail could not be transcribed';
    case 'call.ended': return `Call ended (${d.status || 'completed'}${d.duration == null ? '' : `, ${d.duration} s`})`;
    case 'textback.sent': return 'Text-back sent';
    case 'textback.blocked':
      return `Text-back blocked: ${BLOCKED[d.reason] || d.reason}${d.providerCode ? ` (Twilio ${d.providerCode})` : ''}`;
    case 'textback.skipped':
      return d.reason === 'flag_off' ? 'No text-back: turned off in Features' : `No text-back: the call was ${OUTCOMES[d.outcome] || d.outcome}`;
    case 'notify.voicemail': return 'The people who asked were told of the voicemail (Settings → Notifications)';
    case 'notify.skipped': return 'Nobody was told of the voicemail: nobody chose to be, or has a mobile or email to reach (Settings → Notifications)';
    case 'callback.placed': return `${d.by || 'Someone'} called back from the business line: their own phone rang first`;
    case 'callback.user_answered':
      return d.connected ? 'They answered and heard who is called; the customer was dialled'
        : 'A voicemail or machine answered their phone, so the customer was not dialled';
    case 'callback.customer':
      return d.status === 'answered' ? `The customer answered${d.seconds == null ? '' : ` (${d.seconds} s)`}`
        : `The customer did not answer (${DIAL[d.status] || d.status})`;
    case 'vapi.take_message': return 'The AI agent took a message';
    case 'vapi.callback_requested': return 'The caller asked to be called back: it is in their conversation on the Leads page';
    case 'vapi.failed': return `The AI agent failed: ${d.endedReason || 'no reason given'}`;
    case 'vapi.transfer-destination-request': return `The AI agent passed the caller to ${shown(d, 'fallback') || 'a person'}`;
    case 'vapi.status-update': return `AI call ${d.status || 'updated'}${d.endedReason ? ` (${d.endedReason})` : ''}`;
    case 'vapi.end-of-call-report': return `AI call report${d.endedReason ? `: ${d.endedReason}` : ''}`;
    default: return e.kind.startsWith('vapi.') ? `AI agent: ${e.kind.slice(5)}` : e.kind;
  }
}

// What happened to the caller, in words; the webhooks behind it are listed apart.
function timelineItems(d) {
  const items = d.events.map((e) => ({ at: e.at, text: say(e), kind: 'event' }));
  for (const m of d.messages) {
    const who = m.direction === 'inbound' ? `Text from ${shown(m, 'fromNumber')}` : `Text to ${shown(m, 'toNumber')}`;
    const why = m.blockedReason ? `, not sent: ${BLOCKED[m.blockedReason] || m.blockedReason}` : `, ${m.status}`;
    items.push({ at: m.createdAt, text: `${who}: “${m.body}”${why}`, kind: 'message' });
  }
  return items.sort(byTime);
}

function byTime(a, b) {
  return a.at < b.at ? -1 : a.at > b.at ? 1 : 0;
}

function webhookItems(d) {
  return d.webhooks.map((w) => {
    const ms = w.latencyMs == null ? '' : ` in ${Math.round(w.latencyMs)} ms`;
    const err = w.error ? ` — ${w.error}` : '';
    return {
      at: w.receivedAt,
      text: `Webhook ${w.route} → HTTP ${w.httpStatus}${ms}, signature ${w.signature}${err}`,
      kind: 'webhook',
    };
  }).sort(byTime);
}

function fill(list, items) {
  list.replaceChildren();
  for (const item of items) {
    const li = el('li', null, item.kind);
    li.append(el('span', new Date(item.at).toLocaleTimeString(), 'muted small'), document.createTextNode(' '), el('span', item.text));
    list.append(li);
  }
}

let blockedEntry = null;

// "Block this caller", and its undo, for the caller of the open call.
async function block(caller) {
  const status = $('call-block-status');
  $('call-block').disabled = true;
  try {
    const { entry } = await api('POST', '/api/blocklist', { number: caller, note: 'Blocked from a call' });
    blockedEntry = entry;
    status.textContent = `${detailCallerShown} is blocked: their calls hear a busy signal and get no text-back.`;
    show(status, true);
    show($('call-block'), false);
    show($('call-unblock'), true);
  } catch (e) {
    showError(status, e);
  } finally {
    $('call-block').disabled = false;
  }
}

async function unblock(caller) {
  if (!blockedEntry) return;
  const status = $('call-block-status');
  $('call-unblock').disabled = true;
  try {
    await api('DELETE', `/api/blocklist/${blockedEntry.id}`);
    blockedEntry = null;
    status.textContent = `${detailCallerShown} is no longer blocked.`;
    show($('call-unblock'), false);
    show($('call-block'), true);
  } catch (e) {
    showError(status, e);
  } finally {
    $('call-unblock').disabled = false;
  }
}

let detailCaller = null;
let detailCallerShown = null;

// `refresh`: the same call read again after a live change: what the owner just did (a
// block's status) stays, and the page does not jump.
export async function showCall(id, refresh = false) {
  shownCall = id;
  const [d, blocklist] = await Promise.all([
    api('GET', `/api/calls/${id}`),
    api('GET', '/api/blocklist').catch(() => ({ entries: [] })),
  ]);
  const c = d.call;
  detailCaller = c.fromNumber && c.fromNumber.startsWith('+') ? c.fromNumber : null;
  detailCallerShown = shown(c, 'fromNumber');
  blockedEntry = (blocklist.entries || []).find((e) => e.number && e.number === detailCaller) || null;
  if (!refresh) show($('call-block-status'), false);
  show($('call-block'), Boolean(detailCaller) && !blockedEntry);
  show($('call-unblock'), Boolean(detailCaller) && Boolean(blockedEntry));
  // The customer: who called in, or who a callback went to.
  const customer = c.direction === 'outbound' ? c.toNumber : c.fromNumber;
  const customerShown = shown(c, c.direction === 'outbound' ? 'toNumber' : 'fromNumber');
  if (!refresh) $('call-contact').replaceChildren(contactLinks(customer, customerShown, c.id));
  const verified = verification(c.stirVerstat);
  $('call-detail-verified').textContent = verified;
  show($('call-detail-verified'), Boolean(verified));
  $('call-detail-summary').textContent =
    `${shown(c, 'fromNumber') || 'Unknown caller'} → ${shown(c, 'toNumber') || '?'} · ${OUTCOMES[c.outcome] || c.status}` +
    (c.summary ? ` · ${c.summary}` : '');
  $('call-detail-transcript').textContent = c.transcript || '';
  show($('call-detail-transcript'), Boolean(c.transcript));
  fill($('call-events'), timelineItems(d));
  const hooks = webhookItems(d);
  fill($('call-webhook-list'), hooks);
  $('call-webhooks-summary').textContent = `Technical details: the ${hooks.length} webhook${hooks.length === 1 ? '' : 's'} Twilio or Vapi sent`;
  show($('call-webhooks'), hooks.length > 0);
  show($('call-detail'), true);
  if (!refresh) $('call-detail').scrollIntoView({ block: 'nearest' });
}

// The filters' number menu and the menu's labels, loaded when the page opens.
export async function openCalls(id) {
  const [{ numbers }, flow] = await Promise.all([
    api('GET', '/api/numbers'),
    api('GET', '/api/call-flow').catch(() => null),
  ]);
  const select = $('calls-number');
  const chosen = select.value;
  select.replaceChildren(option('', 'All numbers', chosen === ''));
  for (const n of numbers) select.append(option(n.e164, n.friendlyName ? `${n.friendlyName} (${n.e164})` : n.e164, chosen === n.e164));
  menuLabels = {};
  for (const o of (flow && flow.callFlow && flow.callFlow.menu) || []) menuLabels[o.digit] = o.label || '';
  await loadCalls();
  if (id && /^\d+$/.test(id)) await showCall(Number(id));
  else show($('call-detail'), false);
}

// The CSV link follows the date filters (the export is every call in that range).
function updateCsvLink() {
  const params = new URLSearchParams({ format: 'csv' });
  if ($('calls-from').value) params.set('from', $('calls-from').value);
  if ($('calls-to').value) params.set('to', $('calls-to').value);
  $('calls-csv').href = `/api/calls?${params}`;
}

export function initCalls(handleError) {
  for (const id of ['calls-from', 'calls-to']) $(id).addEventListener('change', updateCsvLink);
  onError = handleError;
  $('calls-filter').addEventListener('submit', (event) => {
    event.preventDefault();
    show($('call-detail'), false);
    clearFieldErrors($('calls-filter'));
    show($('calls-error'), false);
    updateCsvLink();
    loadCalls().catch((e) => showError($('calls-error'), e));
  });
  $('calls-more').addEventListener('click', () => loadCalls(true).catch((e) => showError($('calls-error'), e)));
  $('call-block').addEventListener('click', () => { if (detailCaller) block(detailCaller); });
  $('call-unblock').addEventListener('click', () => { if (detailCaller) unblock(detailCaller); });
  document.addEventListener('live', onLive);
}

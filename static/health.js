// Health (SPEC §8.2): the monitoring views, each a table of its columns with what to do on
// every error row, and the webhook ledger searched by call or message id. Owners and
// admins see it; the views are read when the page opens.

import { api } from './api.js';
import { $, show, showError, el, cell, formatTime } from './ui.js';

const VIEWS = [
  ['active_calls', 'Active calls', 'Calls that have not ended. One older than a few hours lost its status callback.'],
  ['recent_errors', 'Recent errors', 'Webhooks answered with an error and texts Twilio refused (24 hours); invariant violations (7 days).'],
  ['call_volume_hourly', 'Calls per hour', 'The last 24 hours, by what became of them.'],
  ['call_success_metrics', 'Call success', 'The last 7 days, a row a day.'],
  ['voicemail_backlog', 'Voicemail backlog', 'Voicemails nobody marked handled yet.'],
  ['consent_metrics', 'Recording consent', 'How callers answered the recording question, the last 7 days.'],
  ['rate_limit_violations', 'Rate-limit violations', 'Requests refused by a limiter, by key, the last 24 hours.'],
  ['failed_transactions', 'Failed number work', 'Buying, importing or releasing a number that failed, was undone or is stuck (30 days).'],
  ['number_provisioning_status', 'Number status', 'Every number, and provider work on it still under way.'],
];

// Column names in words; others lose their underscores and gain a capital.
const HEADINGS = {
  fix: 'What to do', e164: 'Number', twilio_sid: 'Twilio number ID', vapi_phone_number_id: 'Vapi number ID',
  call_id: 'Call ID', from_number: 'Caller', to_number: 'Number called', started_at: 'Started', at: 'When',
  age_seconds: 'Age', answer_rate_percent: 'Answered (%)', ai_handled: 'AI handled', org_id: 'Organization',
  first_minute: 'First seen', last_minute: 'Last seen', owner_not_texted: 'Owner not told', oldest: 'Oldest',
  awaiting_transcript: 'Awaiting transcript', failed_step: 'Failed step', in_progress: 'In progress',
  consent_outcome: 'Consent', not_asked: 'Not asked',
};
// Columns in the order a person reads them; the rest follow alphabetically.
const FIRST = [
  'e164', 'role', 'handler', 'status', 'at', 'hour', 'day', 'started_at', 'call_id', 'from_number', 'to_number',
  'what', 'source', 'error', 'code', 'detail', 'limiter', 'key', 'rejected', 'calls', 'answered', 'missed',
  'voicemail', 'waiting', 'oldest', 'age_seconds',
];

const heading = (key) => HEADINGS[key] || (key.charAt(0).toUpperCase() + key.slice(1)).replaceAll('_', ' ');

// Values for people: times in the browser's zone, enum values in words, durations in units.
function value(key, v) {
  if (v === null || v === undefined || v === '') return '—';
  if (typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(v)) return formatTime(v);
  if (key === 'age_seconds' && typeof v === 'number') {
    return v >= 3600 ? `${Math.floor(v / 3600)} h ${Math.floor((v % 3600) / 60)} min` : `${Math.max(1, Math.round(v / 60))} min`;
  }
  if (typeof v === 'string' && /^[a-z]+(_[a-z]+)+$/.test(v)) return v.replaceAll('_', ' ');
  return String(v);
}

function viewCard(name, title, about) {
  let card = $(`mon-${name}`);
  if (card) return card;
  card = el('div', null, 'card');
  card.id = `mon-${name}`;
  card.append(el('h3', title), el('p', about, 'muted small'));
  $('health-views').append(card);
  return card;
}

// Views with rows that belong to no organization: callers, addresses and sign-in emails of
// every organization on the appliance. With several organizations only a system
// administrator sees those rows.
const APPLIANCE_ROWS = new Set(['recent_errors', 'rate_limit_violations', 'failed_transactions']);
const APPLIANCE_NOTE = 'Rows that belong to no organization (rate limits, webhooks no number answered) are shown to the appliance\'s system administrators only: `switchboard user system-admin --email …` makes one.';

function fill(card, rows, applianceWide) {
  card.querySelector('.mon-body')?.remove();
  card.querySelector('.mon-note')?.remove();
  if (!applianceWide && APPLIANCE_ROWS.has(card.id.slice('mon-'.length))) {
    card.append(el('p', APPLIANCE_NOTE, 'muted small mon-note'));
  }
  let body;
  if (rows.length === 0) {
    body = el('p', 'Nothing here.', 'muted mon-body');
  } else {
    body = el('div', null, 'mon-body table-scroll');
    const table = el('table');
    body.append(table);
    // What a person looks for first leads; what to do comes last; the organization's id is
    // not for people.
    const rank = (k) => {
      const i = FIRST.indexOf(k);
      return i === -1 ? FIRST.length : i;
    };
    const keys = Object.keys(rows[0])
      .filter((k) => k !== 'org_id' && k !== 'fix')
      .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
    if ('fix' in rows[0]) keys.push('fix');
    const tr = document.createElement('tr');
    for (const k of keys) tr.append(el('th', heading(k)));
    table.append(el('thead'));
    table.querySelector('thead').append(tr);
    const tbody = document.createElement('tbody');
    for (const row of rows) {
      const r = document.createElement('tr');
      for (const k of keys) r.append(cell(value(k, row[k])));
      tbody.append(r);
    }
    table.append(tbody);
  }
  card.append(body);
}

export async function loadHealth(me) {
  const writer = me.user.role !== 'viewer';
  show($('health-viewer-note'), !writer);
  if (!writer) return;
  await Promise.all(VIEWS.map(async ([name, title, about]) => {
    const card = viewCard(name, title, about);
    try {
      const { rows, applianceWide } = await api('GET', `/api/monitoring/${name}`);
      fill(card, rows, applianceWide);
    } catch (e) {
      card.querySelector('.mon-body')?.remove();
      const p = el('p', null, 'error mon-body');
      p.setAttribute('role', 'alert');
      showError(p, e);
      card.append(p);
    }
  }));
}

async function onLedgerSearch(event) {
  event.preventDefault();
  const errorEl = $('ledger-error');
  show(errorEl, false);
  const reference = $('ledger-reference').value.trim();
  try {
    const { rows } = await api('GET', `/api/monitoring/webhook_ledger?reference=${encodeURIComponent(reference)}`);
    const tbody = $('ledger-table').querySelector('tbody');
    tbody.replaceChildren();
    for (const w of rows) {
      const tr = document.createElement('tr');
      tr.append(
        cell(formatTime(w.receivedAt)), cell(w.route), cell(String(w.httpStatus)), cell(w.signature),
        cell(w.latencyMs == null ? '—' : `${w.latencyMs.toFixed(1)} ms`), cell(w.error || ''),
      );
      tbody.append(tr);
    }
    show($('ledger-table'), rows.length > 0);
    show($('ledger-empty'), rows.length === 0);
  } catch (e) {
    showError(errorEl, e);
  }
}

export function initHealth() {
  $('ledger-form').addEventListener('submit', onLedgerSearch);
}

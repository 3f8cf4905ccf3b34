// Call flow: the owner edits the greeting, the menu, hours, after-hours, recording
// consent, voicemail and text-back in a form (no JSON), previews what a caller hears at a
// chosen time pressing chosen keys (the server walks the flow with the webhooks' own
// decisions), and saves. A dead end is shown at the field it concerns, in words.

import { api, ApiError } from './api.js';
import { $, show, showError, el, button, option } from './ui.js';

const DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
const ACTIONS = {
  dial: 'Ring phone numbers', voicemail: 'Voicemail', agent: 'AI agent', message: 'Say a message and hang up', repeat: 'Repeat the menu',
};

let flow = null;
let agents = [];
let me = null;
let uid = 0;

// A labelled control; `path` ties it to the server's problem paths for inline errors.
function field(labelText, control, path) {
  const id = `cf-${++uid}`;
  control.id = id;
  const wrap = el('div', null, 'cf-field');
  const l = el('label', labelText);
  l.htmlFor = id;
  wrap.append(l, control);
  if (path) {
    wrap.dataset.path = path;
    const err = el('p', null, 'error field-error');
    err.hidden = true;
    err.setAttribute('role', 'alert');
    wrap.append(err);
  }
  return wrap;
}

function input(value, attrs = {}) {
  const i = el('input');
  i.value = value ?? '';
  for (const [k, v] of Object.entries(attrs)) i.setAttribute(k, v);
  return i;
}

function textarea(value) {
  const t = el('textarea');
  t.rows = 2;
  t.value = value ?? '';
  return t;
}

function checkbox(checked) {
  const c = input('', { type: 'checkbox' });
  c.checked = Boolean(checked);
  return c;
}

function select(options, value) {
  const s = el('select');
  for (const [v, text] of Object.entries(options)) s.append(option(v, text, v === value));
  return s;
}

// Names a scalar control so collect() can read it back.
function nm(name, control) {
  control.dataset.name = name;
  return control;
}

const numbers = (text) => text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);

function menuRow(o, i) {
  const row = el('fieldset', null, 'cf-option');
  const path = `menu[${i}]`;
  row.dataset.path = path;
  row.append(el('legend', `Option ${i + 1}`));
  const digit = input(o.digit, { maxlength: '1', size: '2', 'data-k': 'digit' });
  const label = input(o.label, { 'data-k': 'label', placeholder: 'sales' });
  const type = select(ACTIONS, o.action.type);
  type.dataset.k = 'type';
  const targets = input((o.action.targets || []).join(', '), { 'data-k': 'targets', placeholder: '+14155550123', inputmode: 'tel' });
  const ring = input(o.action.ringTimeoutSecs ?? 20, { type: 'number', min: '5', max: '120', 'data-k': 'ring' });
  const screen = input('', { type: 'checkbox', 'data-k': 'screen' });
  screen.checked = o.action.screen !== false;
  const strategy = select({ simultaneous: 'All at once', sequential: 'One after another, in this order' }, o.action.strategy || 'simultaneous');
  strategy.dataset.k = 'strategy';
  const callerId = select({ caller: "The caller's number", business: 'This business number' }, o.action.callerId || 'caller');
  callerId.dataset.k = 'callerId';
  const agent = select(Object.fromEntries(agents.map((a) => [String(a.id), a.name])), String(o.action.agentId ?? ''));
  agent.dataset.k = 'agent';
  const text = input(o.action.text ?? '', { 'data-k': 'text' });
  const details = {
    dial: [
      field('Numbers to ring', targets, `${path}.action`),
      field('Ring them', strategy, `${path}.action.strategy`),
      field('Ring each phone for (seconds)', ring, `${path}.action.ringTimeoutSecs`),
      field('Ask whoever answers to press 1 before the caller is put through (a voicemail never does)', screen, `${path}.action.screen`),
      field('Ringing phones show', callerId, `${path}.action.callerId`),
    ],
    agent: [field('Agent', agent, `${path}.action.agentId`)],
    message: [field('Message', text, `${path}.action.text`)],
  };
  const box = el('div', null, 'cf-details');
  const showDetails = () => box.replaceChildren(...(details[type.value] || []));
  type.addEventListener('change', showDetails);
  showDetails();
  const remove = button('Remove option', () => {
    collect();
    flow.menu.splice(i, 1);
    render();
  });
  row.append(field('Key', digit, path), field('Label (spoken: "For …, press …")', label), field('Then', type), box, remove);
  return row;
}

function section(title, ...children) {
  const s = el('fieldset', null, 'cf-section');
  s.append(el('legend', title), ...children);
  return s;
}

function render() {
  uid = 0;
  const form = $('flow-form');
  const f = flow;
  const hours = f.hours || { weekly: {}, holidays: [] };
  const days = DAYS.map((d) => {
    const ranges = (hours.weekly[d] || []).map((r) => `${r.open}-${r.close}`).join(', ');
    const row = el('div', null, 'cf-day');
    row.dataset.day = d;
    row.dataset.path = `hours.weekly.${d}`;
    const name = d[0].toUpperCase() + d.slice(1);
    row.append(field(`${name} (e.g. 09:00-12:00, 13:00-17:00; empty: closed)`, input(ranges, { 'data-k': 'ranges', placeholder: 'closed' })));
    const err = el('p', null, 'error field-error');
    err.hidden = true;
    row.append(err);
    return row;
  });
  const allDay = input('', { type: 'checkbox', 'data-k': 'always' });
  allDay.checked = !f.hours;
  const quiet = f.textback.quietHours || { open: '', close: '' };
  form.replaceChildren(
    section('Greeting and menu',
      field('Greeting', nm('greeting', textarea(f.greeting)), 'greeting'),
      ...f.menu.map(menuRow),
      button('Add an option', () => {
        collect();
        flow.menu.push({ digit: '', label: '', action: { type: 'voicemail' } });
        render();
      }),
      field('When a caller presses nothing or a wrong key, say', nm('invalid', input(f.invalidInputMessage)), 'invalidInputMessage'),
      field('Tries before voicemail', nm('retries', input(f.retries, { type: 'number', min: '0', max: '3' })), 'retries'),
      field('Seconds to wait for a key', nm('timeout', input(f.gatherTimeoutSecs, { type: 'number', min: '1', max: '30' })), 'gatherTimeoutSecs'),
    ),
    section('Business hours (your time zone)',
      field('Open 24/7', nm('always', allDay)),
      ...days,
      field('Closed all day on (one date a line, 2026-12-25)', nm('holidays', textarea((hours.holidays || []).join('\n'))), 'hours.holidays'),
    ),
    section('After hours',
      field('Callers get', nm('ahAction', select({ voicemail: 'Voicemail', message: 'A message, then goodbye', dial: 'Ring phone numbers' }, f.afterHours.action)), 'afterHours'),
      field('Message said first', nm('ahMessage', input(f.afterHours.message)), 'afterHours.message'),
      field('Numbers to ring', nm('ahTargets', input(f.afterHours.targets.join(', '), { inputmode: 'tel' })), 'afterHours.targets'),
    ),
    section('Recording',
      field('Recording', nm('recMode', select({ off: 'Off', announce: 'On, announced to the caller', opt_in: 'Only if the caller presses 1' }, f.recording.mode)), 'recording'),
      field('Disclosure', nm('recDisclosure', input(f.recording.disclosure)), 'recording.disclosure'),
    ),
    section('Voicemail',
      field('Prompt', nm('vmPrompt', input(f.voicemail.prompt)), 'voicemail.prompt'),
      field('Goodbye', nm('vmGoodbye', input(f.voicemail.goodbye)), 'voicemail.goodbye'),
    ),
    section('Missed-call text-back',
      field('Text', nm('tbMessage', textarea(f.textback.message)), 'textback.message'),
      field('At most one text per caller every (hours)', nm('tbCooldown', input(f.textback.cooldownHours, { type: 'number', min: '0' })), 'textback.cooldownHours'),
      field('Quiet hours from', nm('quietFrom', input(quiet.open, { type: 'time' })), 'textback.quietHours'),
      field('Quiet hours until', nm('quietTo', input(quiet.close, { type: 'time' })), 'textback.quietHours'),
      field('Text sent when quiet hours end, for a call missed during them', nm('tbDeferred', textarea(f.textback.deferredMessage)), 'textback.deferredMessage'),
      field('Also text callers whose caller ID failed verification (often spoofed numbers)', nm('tbUnverified', checkbox(f.textback.textUnverifiedCallers)), 'textback.textUnverifiedCallers'),
    ),
    section('Voice',
      field('Voice (e.g. Polly.Joanna; empty: Twilio\'s default)', nm('voice', input((f.speech && f.speech.voice) || '', { placeholder: 'Polly.Joanna' })), 'speech.voice'),
      field('Language (e.g. en-US, es-MX; empty: Twilio\'s default)', nm('language', input((f.speech && f.speech.language) || '', { placeholder: 'en-US' })), 'speech.language'),
    ),
  );
  for (const c of form.querySelectorAll('input, textarea, select, button')) c.disabled = me.user.role === 'viewer';
}

const named = (name) => $('flow-form').querySelector(`[data-name="${name}"]`);

// The form back into the flow (fields the form does not show are kept as loaded).
function collect() {
  const f = flow;
  f.greeting = named('greeting').value;
  f.invalidInputMessage = named('invalid').value;
  f.retries = Number(named('retries').value);
  f.gatherTimeoutSecs = Number(named('timeout').value);
  f.menu = [...$('flow-form').querySelectorAll('.cf-option')].map((row) => {
    const k = (key) => row.querySelector(`[data-k="${key}"]`);
    const type = k('type').value;
    const action = { type };
    if (type === 'dial') {
      action.targets = numbers(k('targets').value);
      action.ringTimeoutSecs = Number(k('ring').value || 20);
      action.screen = k('screen').checked;
      action.strategy = k('strategy').value;
      action.callerId = k('callerId').value;
    }
    if (type === 'agent') action.agentId = Number(k('agent').value);
    if (type === 'message') action.text = k('text').value;
    return { digit: k('digit').value.trim(), label: k('label').value, action };
  });
  if (named('always').checked) {
    f.hours = null;
  } else {
    const weekly = {};
    for (const row of $('flow-form').querySelectorAll('.cf-day')) {
      // "09:00-12:00, 13:00-17:00"; a malformed part goes to the server as is, which names
      // it at this day.
      const parts = row.querySelector('[data-k="ranges"]').value.split(',').map((p) => p.trim()).filter(Boolean);
      if (parts.length) {
        weekly[row.dataset.day] = parts.map((p) => {
          const [open, close = ''] = p.split(/\s*[-–]\s*/);
          return { open, close };
        });
      }
    }
    f.hours = { weekly, holidays: named('holidays').value.split('\n').map((s) => s.trim()).filter(Boolean) };
  }
  f.afterHours = { action: named('ahAction').value, message: named('ahMessage').value, targets: numbers(named('ahTargets').value) };
  f.recording = { ...f.recording, mode: named('recMode').value, disclosure: named('recDisclosure').value };
  f.voicemail = { ...f.voicemail, prompt: named('vmPrompt').value, goodbye: named('vmGoodbye').value };
  const from = named('quietFrom').value;
  const to = named('quietTo').value;
  f.textback = {
    ...f.textback,
    message: named('tbMessage').value,
    cooldownHours: Number(named('tbCooldown').value),
    quietHours: from && to ? { open: from, close: to } : null,
    deferredMessage: named('tbDeferred').value,
    textUnverifiedCallers: named('tbUnverified').checked,
  };
  const blank = (v) => (v.trim() ? v.trim() : null);
  f.speech = { voice: blank(named('voice').value), language: blank(named('language').value) };
  return f;
}

function clearProblems() {
  for (const e of $('flow-form').querySelectorAll('.field-error')) {
    e.hidden = true;
    e.textContent = '';
  }
}

// Each problem under the field whose path is the longest prefix of the problem's path
// ("menu[0] (key 1).action" goes to option 1's numbers); the summary lists them all.
function showProblems(problems) {
  const holders = [...$('flow-form').querySelectorAll('[data-path]')];
  for (const p of problems) {
    const path = p.path.replace(/ \(key [^)]*\)/, '');
    const best = holders
      .filter((h) => path === h.dataset.path || path.startsWith(`${h.dataset.path}.`) || path.startsWith(`${h.dataset.path}[`))
      .sort((a, b) => b.dataset.path.length - a.dataset.path.length)[0];
    const err = best && best.querySelector(':scope > .field-error');
    if (err) {
      err.textContent = err.textContent ? `${err.textContent} ${p.message}` : p.message;
      err.hidden = false;
    }
  }
}

function failed(e, summaryEl) {
  clearProblems();
  if (e instanceof ApiError && e.problems) showProblems(e.problems);
  showError(summaryEl, e);
}

async function onPreview(event) {
  event.preventDefault();
  const out = $('flow-preview');
  show($('flow-error'), false);
  try {
    const keys = $('flow-preview-keys').value.split(/[\s,]+/).filter(Boolean).map((k) => (k === '-' ? null : k));
    const r = await api('POST', '/api/call-flow/preview', { callFlow: collect(), at: $('flow-preview-at').value || null, keys });
    clearProblems();
    const state = r.closedNow ? 'closed now (closed by hand on the Overview)' : (r.open ? 'open' : 'closed');
    out.replaceChildren(el('p', `${r.at} (${r.timezone}): ${state}`, 'muted small'));
    for (const hop of r.hops) {
      const li = el('li');
      li.append(...hop.heard.map((line) => el('p', line, line.startsWith('[') ? 'muted' : '')));
      if (hop.pressed) li.append(el('p', `Caller presses ${hop.pressed}`, 'cf-pressed'));
      out.append(li);
    }
  } catch (e) {
    out.replaceChildren();
    failed(e, $('flow-error'));
  }
}

async function onSave() {
  show($('flow-saved'), false);
  show($('flow-error'), false);
  try {
    await api('PUT', '/api/call-flow', collect());
    clearProblems();
    show($('flow-saved'), true);
  } catch (e) {
    failed(e, $('flow-error'));
  }
}

export async function loadCallFlow(current) {
  me = current;
  const [got, agentList] = await Promise.all([api('GET', '/api/call-flow'), api('GET', '/api/agents')]);
  flow = got.callFlow;
  agents = agentList.agents || [];
  show($('flow-saved'), false);
  show($('flow-error'), false);
  $('flow-preview').replaceChildren();
  render();
  show($('flow-save'), me.user.role !== 'viewer');
}

export function initCallFlow() {
  $('flow-preview-form').addEventListener('submit', onPreview);
  $('flow-save').addEventListener('click', onSave);
}

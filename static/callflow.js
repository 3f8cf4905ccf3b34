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
    setDirty(true);
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
        setDirty(true);
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
  for (const c of $('flow-form').querySelectorAll('[aria-invalid]')) c.removeAttribute('aria-invalid');
  $('flow-summary')?.remove();
}

// Each problem under the field whose path is the longest prefix of the problem's path
// ("menu[0] (key 1).action" goes to option 1's numbers); the summary lists them all.
function showProblems(problems) {
  const holders = [...$('flow-form').querySelectorAll('[data-path]')];
  const found = [];
  for (const p of problems) {
    const path = p.path.replace(/ \(key [^)]*\)/, '');
    const best = holders
      .filter((h) => path === h.dataset.path || path.startsWith(`${h.dataset.path}.`) || path.startsWith(`${h.dataset.path}[`))
      .sort((a, b) => b.dataset.path.length - a.dataset.path.length)[0];
    const err = best && best.querySelector(':scope > .field-error');
    if (err) {
      const message = sentence(p.message);
      err.textContent = err.textContent ? `${err.textContent} ${message}` : message;
      err.hidden = false;
      const control = best.querySelector(':scope > input, :scope > select, :scope > textarea');
      if (control) {
        err.id = `${control.id}-error`;
        control.setAttribute('aria-invalid', 'true');
        control.setAttribute('aria-describedby', err.id);
      }
      found.push({ holder: best, control, message });
    }
  }
  return found;
}

const sentence = (m) => `${m.charAt(0).toUpperCase()}${m.slice(1)}`.replace(/([^.])$/, '$1.');

// Where a problem is, in the owner's words: "Option 1 (Sales)", "Greeting", "Monday".
function placeOf(holder) {
  const option = holder.closest('.cf-option');
  const section = holder.closest('.cf-section');
  const label = holder.querySelector(':scope > label')?.textContent || '';
  const where = option ? option.querySelector('legend, .cf-option-title')?.textContent : section?.querySelector('legend')?.textContent;
  return [where, label].filter(Boolean).join(' — ');
}

// GOV.UK's pattern: a summary at the top of the form, each problem a link to its field.
function summarize(found) {
  const box = el('div', null, 'error-summary');
  box.id = 'flow-summary';
  box.setAttribute('role', 'alert');
  box.tabIndex = -1;
  box.append(el('p', found.length === 1 ? 'There is a problem' : `There are ${found.length} problems`, 'error-summary-title'));
  const list = el('ul');
  for (const f of found) {
    const a = el('a', `${placeOf(f.holder)}: ${f.message}`);
    a.href = f.control ? `#${f.control.id}` : '#flow-form';
    a.addEventListener('click', (event) => {
      event.preventDefault();
      (f.control || f.holder).scrollIntoView({ block: 'center' });
      f.control?.focus();
    });
    const li = el('li');
    li.append(a);
    list.append(li);
  }
  box.append(list);
  $('flow-form').prepend(box);
  box.focus();
}

// A problem with the flow itself goes to its fields (and a summary at the top); anything
// else is said at `summaryEl`.
function failed(e, summaryEl, where = 'above') {
  clearProblems();
  let problems = e instanceof ApiError ? e.problems : null;
  if (!problems && e instanceof ApiError && e.field) problems = [{ path: e.field, message: e.message.replace(/^[^ ]+: /, '') }];
  const found = problems ? showProblems(problems) : [];
  if (found.length) {
    summarize(found);
    summaryEl.textContent = found.length === 1
      ? `Not saved: the call flow has a problem, marked at its field ${where}.`
      : `Not saved: the call flow has ${found.length} problems, each marked at its field ${where}.`;
    show(summaryEl, true);
  } else {
    showError(summaryEl, e);
  }
}

async function onPreview(event) {
  event.preventDefault();
  const out = $('flow-preview');
  show($('flow-error'), false);
  show($('flow-preview-error'), false);
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
    // The problem is said next to the preview; the last preview stays, marked as old.
    for (const li of out.children) li.classList.add('stale');
    if (e instanceof ApiError && (e.field === 'at' || e.field === 'keys')) showError($('flow-preview-error'), e);
    else failed(e, $('flow-preview-error'), 'below');
  }
}

// Edits not saved yet: the page says so, and leaving it asks first.
let dirty = false;

function setDirty(on) {
  dirty = on;
  show($('flow-unsaved'), on);
  if (on) show($('flow-saved'), false);
}

export const hasUnsavedFlow = () => dirty;

async function onSave() {
  show($('flow-saved'), false);
  show($('flow-error'), false);
  try {
    await api('PUT', '/api/call-flow', collect());
    clearProblems();
    setDirty(false);
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
  show($('flow-preview-error'), false);
  render();
  setDirty(false);
  show($('flow-save'), me.user.role !== 'viewer');
}

export function initCallFlow() {
  $('flow-preview-form').addEventListener('submit', onPreview);
  $('flow-save').addEventListener('click', onSave);
  for (const type of ['input', 'change']) $('flow-form').addEventListener(type, () => setDirty(true));
  window.addEventListener('beforeunload', (event) => {
    if (dirty) event.preventDefault();
  });
}

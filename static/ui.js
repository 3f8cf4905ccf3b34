// Small DOM helpers shared by the dashboard's modules. Text is always set as text.

import { api, ApiError } from './api.js';

export const $ = (id) => document.getElementById(id);
export const show = (el, on = true) => { el.hidden = !on; };

// Shows what went wrong. An error about one field of a form (the API's `field`) is shown
// the GOV.UK way: the field is marked (aria-invalid, aria-describedby) with the message in
// words under it, and a summary at the top of the form links to it.
export function showError(target, err) {
  const form = target.closest('form') || (target.dataset.form && $(target.dataset.form));
  if (form) clearFieldErrors(form);
  const input = form && err instanceof ApiError && err.field ? fieldInput(form, err.field) : null;
  if (!input) {
    target.textContent = err instanceof ApiError ? err.describe() : String(err);
    show(target, true);
    return;
  }
  show(target, false);
  const message = inWords(input, err);
  const note = el('p', message, 'error field-error');
  note.id = `${input.id}-error`;
  input.after(note);
  input.setAttribute('aria-invalid', 'true');
  input.setAttribute('aria-describedby', [input.getAttribute('aria-describedby'), note.id].filter(Boolean).join(' '));
  input.addEventListener('input', () => clearFieldErrors(form), { once: true });
  const summary = el('div', null, 'error-summary');
  summary.setAttribute('role', 'alert');
  summary.tabIndex = -1;
  const link = el('a', message);
  link.href = `#${input.id}`;
  link.addEventListener('click', (event) => {
    event.preventDefault();
    input.focus();
  });
  summary.append(el('p', 'There is a problem', 'error-summary-title'), link);
  form.prepend(summary);
  summary.focus();
}

// The input a field path belongs to: `data-field` equal to the path or to its first part
// (`menu[0].action` → `menu`).
function fieldInput(form, field) {
  const inputs = [...form.querySelectorAll('[data-field]')];
  return inputs.find((i) => i.dataset.field === field)
    || inputs.find((i) => field.startsWith(`${i.dataset.field}.`) || field.startsWith(`${i.dataset.field}[`));
}

// "'555' is too short for a US number. Enter your mobile number, like 415 555 0123."
function inWords(input, err) {
  const reason = err.message.replace(/^[A-Za-z][\w.[\]]*: /, '');
  const sentence = reason.charAt(0).toUpperCase() + reason.slice(1).replace(/[.]$/, '');
  const what = input.dataset.what;
  if (!what) return `${sentence}.`;
  const example = input.dataset.example ? `, like ${input.dataset.example}` : '';
  return `${sentence}. Enter ${what}${example}.`;
}

export function clearFieldErrors(form) {
  for (const s of form.querySelectorAll(':scope > .error-summary')) s.remove();
  for (const n of form.querySelectorAll('.field-error[id$="-error"]')) n.remove();
  for (const i of form.querySelectorAll('[aria-invalid="true"]')) {
    i.removeAttribute('aria-invalid');
    const rest = (i.getAttribute('aria-describedby') || '').split(' ').filter((d) => d && d !== `${i.id}-error`);
    if (rest.length) i.setAttribute('aria-describedby', rest.join(' '));
    else i.removeAttribute('aria-describedby');
  }
}

// A number as the business reads it: the API sends `<key>Name` beside a number that is a
// contact ("Jane Smith") and `<key>Display` beside each E.164 number, nationally formatted
// for the business's country ("(415) 555-0123").
export const shown = (obj, key) => (obj && (obj[`${key}Name`] || obj[`${key}Display`] || obj[key])) || null;

export function cell(text) {
  const td = document.createElement('td');
  td.textContent = text ?? '—';
  return td;
}

export function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (className) node.className = className;
  return node;
}

export function button(text, onClick, className = 'secondary') {
  const b = el('button', text, className);
  b.type = 'button';
  b.addEventListener('click', onClick);
  return b;
}

export function option(value, text, selected = false) {
  const o = el('option', text);
  o.value = value;
  o.selected = selected;
  return o;
}

export function formatTime(iso) {
  return iso ? new Date(iso).toLocaleString() : 'never';
}

// Names every body cell after its column (td[data-label]), so a table stacked into rows on
// a phone still says what each value is. Runs on tables as their rows change.
function labelCells(tables) {
  for (const table of tables) {
    const names = [...table.querySelectorAll('thead th')].map((th) => th.textContent.trim());
    for (const tr of table.querySelectorAll('tbody tr')) {
      [...tr.children].forEach((td, i) => {
        if (names[i]) td.dataset.label = names[i];
      });
    }
  }
}

export function watchTables() {
  labelCells(document.querySelectorAll('table'));
  // Only the tables whose rows changed are labelled again.
  new MutationObserver((changes) => {
    const tables = new Set();
    for (const change of changes) {
      const table = change.target.closest && change.target.closest('table');
      if (table) tables.add(table);
    }
    labelCells(tables);
  }).observe(document.body, { childList: true, subtree: true });
}

// Whether the signed-in user may place callbacks (owners and admins; a viewer looks only).
let canCallBack = false;
export const setCanCallBack = (on) => { canCallBack = on; };

// "Call back" from the business line (SPEC §12: the customer sees the number they called),
// and links that open the user's own phone app instead. `callId`: the call this answers.
export function contactLinks(number, name = number, callId = null) {
  const box = el('div', null, 'contact-links');
  if (!number || !/^\+\d{7,15}$/.test(number)) return box;
  const status = el('p', null, 'muted callback-status');
  status.setAttribute('role', 'status');
  show(status, false);
  const call = button('Call back from the business line', () => callBack(number, name, callId, call, status), 'callback');
  call.setAttribute('aria-label', `Call back from the business line ${name}`);
  const links = el('p', null, 'contact-apps');
  // Who they are: name them (or open their contact page, with everything they did).
  const contact = el('a', name && !/^[+(\d]/.test(name) ? `Contact: ${name}` : 'Name this caller');
  contact.href = `#contacts/${encodeURIComponent(number)}`;
  contact.className = 'contact-page';
  links.append(contact);
  // These open the user's own phone app: the customer sees their personal number.
  for (const [scheme, text] of [['tel', 'Call from my phone'], ['sms', 'Text from my phone']]) {
    const a = el('a', text);
    a.href = `${scheme}:${number}`;
    a.setAttribute('aria-label', `${text} ${name}`);
    links.append(a);
  }
  if (canCallBack) box.append(call);
  box.append(links, status);
  return box;
}

async function callBack(number, name, callId, buttonEl, status) {
  buttonEl.disabled = true;
  status.className = 'muted callback-status';
  status.textContent = 'Asking Twilio to ring your phone…';
  show(status, true);
  try {
    const body = { to: number };
    if (callId) body.callId = callId;
    const { callback } = await api('POST', '/api/callbacks', body);
    status.textContent = `Your phone is ringing from ${callback.businessNumberDisplay || callback.businessNumber}. Answer it and you are put through to ${name}, who sees the business number.`;
  } catch (e) {
    status.className = 'error callback-status';
    if (e instanceof ApiError && e.code === 'mobile_required') {
      status.replaceChildren('Add your mobile number first: a callback rings your phone, then the customer. ');
      const a = el('a', 'Add it in Settings → Notifications');
      a.href = '#settings';
      status.append(a);
    } else {
      status.textContent = e instanceof ApiError ? e.describe() : String(e);
    }
  } finally {
    buttonEl.disabled = false;
  }
}

// Tells the navigation's counts that a voicemail or lead changed.
export const inboxChanged = () => document.dispatchEvent(new Event('inbox-changed'));

// Runs a form's request once at a time: its submit buttons are disabled until the request
// ends, and a second submit meanwhile (a double click, Enter twice) does nothing.
export async function once(form, run) {
  if (form.dataset.busy === '1') return;
  form.dataset.busy = '1';
  clearFieldErrors(form);
  const buttons = [...form.querySelectorAll('button[type="submit"], button:not([type])')];
  for (const b of buttons) b.disabled = true;
  try {
    await run();
  } finally {
    delete form.dataset.busy;
    for (const b of buttons) b.disabled = false;
  }
}

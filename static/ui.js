// Small DOM helpers shared by the dashboard's modules. Text is always set as text.

import { ApiError } from './api.js';

export const $ = (id) => document.getElementById(id);
export const show = (el, on = true) => { el.hidden = !on; };

export function showError(el, err) {
  el.textContent = err instanceof ApiError ? err.describe() : String(err);
  show(el, true);
}

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

// "Call back" and "Text back" links for a caller's number (none for a withheld one).
export function contactLinks(number, name = number) {
  const box = el('p', null, 'contact-links');
  if (!number || !/^\+\d{7,15}$/.test(number)) return box;
  // These open the owner's own phone app: the customer sees the owner's personal number.
  for (const [scheme, text] of [['tel', 'Call from my phone'], ['sms', 'Text from my phone']]) {
    const a = el('a', text);
    a.href = `${scheme}:${number}`;
    a.setAttribute('aria-label', `${text} ${name}`);
    box.append(a);
  }
  return box;
}

// Tells the navigation's counts that a voicemail or lead changed.
export const inboxChanged = () => document.dispatchEvent(new Event('inbox-changed'));

// Runs a form's request once at a time: its submit buttons are disabled until the request
// ends, and a second submit meanwhile (a double click, Enter twice) does nothing.
export async function once(form, run) {
  if (form.dataset.busy === '1') return;
  form.dataset.busy = '1';
  const buttons = [...form.querySelectorAll('button[type="submit"], button:not([type])')];
  for (const b of buttons) b.disabled = true;
  try {
    await run();
  } finally {
    delete form.dataset.busy;
    for (const b of buttons) b.disabled = false;
  }
}

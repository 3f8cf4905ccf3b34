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

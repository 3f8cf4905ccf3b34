// Contacts (SPEC §13): who a number is. The list with search, import and export; a
// contact's page (`#contacts/+14155550123`) to name them, keep notes and tags, call them
// back, and see everything with them — calls, texts, voicemails, leads — newest first.

import { api, ApiError } from './api.js';
import { $, show, showError, cell, el, formatTime, contactLinks, once, shown } from './ui.js';

let me = null;
let number = null;
let nextBefore = null;

const KINDS = { call: 'Call', text: 'Text', voicemail: 'Voicemail', lead: 'Conversation' };
const PAGE_OF = { call: 'calls', voicemail: 'voicemail', lead: 'leads' };

export async function loadContacts(current, arg) {
  me = current;
  number = arg ? decodeURIComponent(arg) : null;
  show($('contacts-list-card'), !number);
  show($('contact-card'), Boolean(number));
  if (number) return openContact();
  return loadList();
}

async function loadList() {
  const q = $('contacts-search').value.trim();
  const { contacts } = await api('GET', `/api/contacts${q ? `?q=${encodeURIComponent(q)}` : ''}`);
  const body = $('contacts-table').querySelector('tbody');
  body.replaceChildren();
  for (const c of contacts) {
    const tr = el('tr');
    const link = el('a', c.name);
    link.href = `#contacts/${encodeURIComponent(c.number)}`;
    const name = el('td');
    name.append(link);
    tr.append(name, cell(shown(c, 'number')), cell(c.tags.join(', ') || '—'), cell(c.notes || '—'));
    body.append(tr);
  }
  show($('contacts-table'), contacts.length > 0);
  show($('contacts-empty'), contacts.length === 0 && !q);
}

function entry(e) {
  const li = el('li');
  const what = `${KINDS[e.kind] || e.kind} ${e.direction === 'outbound' ? 'to them' : 'from them'}`;
  const page = PAGE_OF[e.kind];
  if (page) {
    const a = el('a', what);
    a.href = `#${page}/${e.id}`;
    li.append(a);
  } else {
    li.append(what);
  }
  li.append(` · ${formatTime(e.at)}${e.summary ? ` · ${e.summary}` : ''}`);
  return li;
}

async function openContact(more = false) {
  const query = more && nextBefore ? `?before=${encodeURIComponent(nextBefore)}` : '';
  const d = await api('GET', `/api/contacts/${encodeURIComponent(number)}${query}`);
  number = d.number;
  nextBefore = d.nextBefore;
  const c = d.contact;
  if (!more) {
    $('contact-title').textContent = c ? `${c.name} · ${d.numberDisplay || d.number}` : `${d.numberDisplay || d.number}: not named yet`;
    $('contact-name').value = c ? c.name : '';
    $('contact-tags').value = c ? c.tags.join(', ') : '';
    $('contact-notes').value = c ? c.notes : '';
    show($('contact-delete'), Boolean(c) && me.user.role !== 'viewer');
    show($('contact-saved'), false);
    show($('contact-error'), false);
    $('contact-actions').replaceChildren(contactLinks(d.number, c ? c.name : (d.numberDisplay || d.number)));
    $('contact-history').replaceChildren();
  }
  for (const e of d.history) $('contact-history').append(entry(e));
  show($('contact-history-empty'), !more && d.history.length === 0);
  show($('contact-more'), Boolean(nextBefore));
  for (const input of $('contact-form').querySelectorAll('input, textarea, button')) input.disabled = me.user.role === 'viewer';
}

async function save(event) {
  event.preventDefault();
  show($('contact-saved'), false);
  await once($('contact-form'), async () => {
    try {
      const tags = $('contact-tags').value.split(',').map((t) => t.trim()).filter(Boolean);
      await api('PUT', `/api/contacts/${encodeURIComponent(number)}`, {
        name: $('contact-name').value, notes: $('contact-notes').value, tags,
      });
      await openContact();
      show($('contact-saved'), true);
    } catch (e) {
      showError($('contact-error'), e);
    }
  });
}

async function remove() {
  if (!window.confirm('Remove this contact? Their calls and texts stay; only the name goes.')) return;
  try {
    await api('DELETE', `/api/contacts/${encodeURIComponent(number)}`);
    await openContact();
  } catch (e) {
    showError($('contact-error'), e);
  }
}

async function importFile(event) {
  event.preventDefault();
  show($('contacts-import-status'), false);
  show($('contacts-import-error'), false);
  await once($('contacts-import-form'), async () => {
    const file = $('contacts-import-file').files[0];
    if (!file) return;
    try {
      const text = await file.text();
      const r = await api('POST', '/api/contacts/import', text, { 'Content-Type': 'text/csv' });
      $('contacts-import-status').textContent = `Imported ${r.imported}: ${r.created} new, ${r.updated} updated.`;
      show($('contacts-import-status'), true);
      await loadList();
    } catch (e) {
      const err = $('contacts-import-error');
      err.textContent = e instanceof ApiError ? e.describe() : String(e);
      show(err, true);
    }
  });
}

export function initContacts() {
  $('contact-form').addEventListener('submit', save);
  $('contact-delete').addEventListener('click', remove);
  $('contact-more').addEventListener('click', () => openContact(true).catch((e) => showError($('contact-error'), e)));
  $('contacts-search-form').addEventListener('submit', (e) => { e.preventDefault(); loadList().catch(() => {}); });
  $('contacts-import-form').addEventListener('submit', importFile);
}

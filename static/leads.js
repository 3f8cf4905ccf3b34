// Leads: each customer who wrote (or left a message with the AI agent) opens as a
// conversation — their texts and ours, oldest first — with a reply sent by SMS from the
// business number they wrote to, and a button to mark it handled (or reopen it). An open
// conversation has its own address (`#leads/7`), and a half-written reply is kept in this
// browser until it is sent.

import { api } from './api.js';
import { $, show, showError, cell, el, button, formatTime, contactLinks, inboxChanged, shown } from './ui.js';

const SOURCES = { sms: 'Text', vapi: 'AI agent', textback: 'Missed-call text' };
const MAX_REPLY = 1600;

let me = null;
let openLead = null;

const draftKey = (id) => `switchboard.reply-draft.${id}`;

export async function loadLeads(current, selected) {
  me = current;
  if (selected !== undefined) openLead = selected ? Number(selected) : null;
  const { leads } = await api('GET', '/api/leads?limit=100');
  const body = $('leads-table').querySelector('tbody');
  body.replaceChildren();
  for (const l of leads) {
    const tr = el('tr');
    tr.dataset.lead = String(l.id);
    const open = button('Open', () => { location.hash = `#leads/${l.id}`; });
    open.setAttribute('aria-label', `Open the conversation with ${shown(l, 'customerNumber')}`);
    const actions = el('td');
    actions.append(open);
    tr.append(
      cell(shown(l, 'customerNumber')), cell(SOURCES[l.source] || l.source),
      cell(l.lastMessage || l.summary), cell(String(l.messageCount)),
      cell(l.status === 'handled' ? 'Handled' : 'Open'), cell(formatTime(l.lastMessageAt || l.createdAt)), actions,
    );
    body.append(tr);
  }
  show($('leads-empty'), leads.length === 0);
  show($('leads-table'), leads.length > 0);
  if (openLead !== null) await openConversation(openLead);
  else show($('lead-detail'), false);
}

function bubble(m) {
  const li = el('li', null, `bubble ${m.direction === 'inbound' ? 'in' : 'out'}`);
  li.append(el('p', m.body));
  let meta = `${m.direction === 'inbound' ? 'Customer' : 'You'} · ${formatTime(m.createdAt)}`;
  if (m.direction === 'outbound') {
    meta += ` · ${m.status}`;
    if (m.blockedReason === 'opted_out') meta += ' (they texted STOP)';
    else if (m.errorMessage) meta += ` (${m.errorMessage})`;
  }
  li.append(el('p', meta, 'muted small'));
  return li;
}

// The voicemail left on the call that started the lead: its transcript and recording.
function voicemailNote(v) {
  const box = el('div', null, 'notice');
  box.append(el('p', `Voicemail (${v.durationSeconds ?? '?'} s): ${v.transcriptionText || 'no transcript'}`));
  if (v.recordingSid) {
    const audio = el('audio');
    audio.controls = true;
    audio.preload = 'none';
    audio.src = `/api/voicemails/${v.id}/recording`;
    box.append(audio);
  }
  return box;
}

async function openConversation(id) {
  const [{ lead, voicemails }, { messages }] = await Promise.all([
    api('GET', `/api/leads/${id}`),
    api('GET', `/api/messages?leadId=${id}&limit=200`),
  ]);
  openLead = id;
  $('lead-title').textContent = `${shown(lead, 'customerNumber')} → ${shown(lead, 'businessNumber') || 'a released number'}`;
  const origin = $('lead-call');
  origin.replaceChildren();
  if (lead.callId) {
    const link = el('a', 'This conversation started with a missed call: see the call');
    link.href = `#calls/${lead.callId}`;
    origin.append(link);
  }
  $('lead-contact').replaceChildren(contactLinks(lead.customerNumber, shown(lead, 'customerNumber'), lead.callId), ...voicemails.map(voicemailNote));
  const list = $('lead-messages');
  list.replaceChildren(...messages.slice().reverse().map(bubble));
  const writer = me.user.role !== 'viewer';
  show($('lead-reply-form'), writer && lead.status === 'open');
  show($('lead-handled-note'), writer && lead.status !== 'open');
  const toggle = $('lead-status');
  toggle.textContent = lead.status === 'open' ? 'Mark handled' : 'Reopen';
  show(toggle, writer);
  show($('lead-error'), false);
  show($('lead-detail'), true);
  $('lead-reply').value = localStorage.getItem(draftKey(id)) || '';
  updateCount();
}

async function onReply(event) {
  event.preventDefault();
  const errorEl = $('lead-error');
  show(errorEl, false);
  const text = $('lead-reply').value;
  const submit = $('lead-reply-send');
  submit.disabled = true;
  try {
    await api('POST', `/api/leads/${openLead}/messages`, { body: text });
    localStorage.removeItem(draftKey(openLead));
    $('lead-reply').value = '';
    updateCount();
    await loadLeads(me);
  } catch (e) {
    showError(errorEl, e);
    // A blocked reply is stored with its reason: show it in the conversation too.
    await openConversation(openLead).catch(() => {});
    show(errorEl, true);
  } finally {
    submit.disabled = false;
  }
}

async function onToggleStatus() {
  const errorEl = $('lead-error');
  show(errorEl, false);
  const status = $('lead-status').textContent === 'Mark handled' ? 'handled' : 'open';
  try {
    await api('PATCH', `/api/leads/${openLead}`, { status });
    inboxChanged();
    await loadLeads(me);
  } catch (e) {
    showError(errorEl, e);
  }
}

function updateCount() {
  const n = $('lead-reply').value.length;
  $('lead-reply-count').textContent = `${n} / ${MAX_REPLY}`;
}

export function initLeads() {
  $('lead-reply-form').addEventListener('submit', onReply);
  $('lead-reply').addEventListener('input', () => {
    updateCount();
    const text = $('lead-reply').value;
    if (openLead === null) return;
    if (text) localStorage.setItem(draftKey(openLead), text);
    else localStorage.removeItem(draftKey(openLead));
  });
  $('lead-status').addEventListener('click', onToggleStatus);
  $('lead-close').addEventListener('click', () => {
    location.hash = '#leads';
  });
}

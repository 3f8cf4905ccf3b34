// Overview: the business day at a glance — today's calls and what became of them, what is
// waiting (voicemails, leads), text-backs sent and blocked (with what to do), call volume
// for 24 hours or 7 days drawn as an inline SVG, and a "needs attention" list whose items
// link to the page where each is fixed.

import { api } from './api.js';
import { $, show, el, formatTime, showError, button, inboxChanged, once, shown } from './ui.js';

const TODO = {
  missed_call: (i) => `Missed call from ${shown(i, 'caller') || 'a withheld number'}: call them back`,
  ai_callback: (i) => `${shown(i, 'caller') || 'A caller'} asked the AI agent to be called back`,
  voicemail: (i) => `Voicemail from ${shown(i, 'caller') || 'a withheld number'} to listen to`,
  lead: (i) => `${shown(i, 'caller') || 'A customer'} is waiting for an answer${i.text ? '' : ' (a missed call or a call-back request)'}`,
};

// Marks one item done the way its own page would.
function done(item) {
  switch (item.kind) {
    case 'voicemail': return api('PATCH', `/api/voicemails/${item.id}`, { handled: true });
    case 'lead': return api('PATCH', `/api/leads/${item.id}`, { status: 'handled' });
    default: return api('POST', `/api/calls/${item.id}/follow-up`);
  }
}

function todoItem(item, writer) {
  const li = el('li', null, 'todo-item');
  li.dataset.kind = item.kind;
  li.dataset.id = String(item.id);
  const what = el('p', (TODO[item.kind] || ((i) => i.kind))(item));
  const when = el('span', formatTime(item.at), 'muted small');
  li.append(what, when);
  if (item.text) li.append(el('p', `“${item.text}”`, 'muted'));
  const actions = el('p', null, 'todo-actions');
  const open = el('a', 'Open');
  open.href = item.link;
  open.setAttribute('aria-label', `Open: ${(TODO[item.kind] || ((i) => i.kind))(item)}`);
  actions.append(open);
  // A conversation is answered by text from the business number, on its own page.
  if (item.kind === 'lead') {
    const text = el('a', 'Text them');
    text.href = item.link;
    text.setAttribute('aria-label', `Text them (${shown(item, 'caller') || 'the customer'}) from the business number`);
    actions.append(text);
  }
  if (item.caller && /^\+\d{7,15}$/.test(item.caller)) {
    // This opens the owner's own phone: the customer sees the owner's personal number.
    const call = el('a', 'Call from my phone');
    call.href = `tel:${item.caller}`;
    call.setAttribute('aria-label', `Call from my phone: ${shown(item, 'caller')}`);
    actions.append(call);
  }
  li.append(actions);
  if (writer) {
    const b = button('Done', async () => {
      b.disabled = true;
      try {
        await done(item);
        li.remove();
        inboxChanged();
        show($('todo-none'), $('todo-list').children.length === 0);
      } catch (e) {
        b.disabled = false;
        showError($('todo-error'), e);
      }
    });
    b.setAttribute('aria-label', `Done: ${what.textContent}`);
    actions.append(b);
  }
  return li;
}

// "Closed now": calls get the after-hours action until the chosen time.
function showClosing(state, writer) {
  const until = state.closedUntil
    ? new Date(state.closedUntil).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : '';
  $('closing-state').textContent = !state.closed
    ? 'Open: calls get the menu during business hours.'
    : `Closed ${state.untilReopened ? 'until someone reopens' : `until ${until}`}${state.closedBy ? ` (by ${state.closedBy})` : ''}: callers get the after-hours action.`;
  show($('closing-form'), writer && !state.closed);
  show($('closing-reopen'), writer && state.closed);
}

async function loadClosing(me) {
  const writer = !me || me.user.role !== 'viewer';
  showClosing(await api('GET', '/api/org/closed'), writer);
  show($('closing-error'), false);
}

async function changeClosing(request) {
  try {
    showClosing(await request(), true);
    show($('closing-error'), false);
  } catch (e) {
    showError($('closing-error'), e);
  }
}

async function loadTodo(me) {
  const { items } = await api('GET', '/api/todo');
  const writer = !me || me.user.role !== 'viewer';
  $('todo-list').replaceChildren(...items.map((i) => todoItem(i, writer)));
  show($('todo-none'), items.length === 0);
  show($('todo-error'), false);
}

const SVG = 'http://www.w3.org/2000/svg';
let overview = null;
let range = 'hours';

function tile(label, value, note, link) {
  const box = el('div', null, 'tile');
  box.append(el('p', String(value), 'tile-value'), el('p', label, 'tile-label'));
  if (note) box.append(el('p', note, 'muted small'));
  if (link) {
    const a = el('a', 'See them', 'small');
    a.href = link;
    a.setAttribute('aria-label', `See them: ${label}`);
    box.append(a);
  }
  return box;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

function label(bucket) {
  if (range === 'days') {
    return new Date(`${bucket.start}T12:00:00`).toLocaleDateString(undefined, { weekday: 'short', day: 'numeric' });
  }
  return new Date(bucket.start).toLocaleTimeString(undefined, { hour: 'numeric' });
}

// "the 24 hours to 14:00 on 6 Dec" / "the 7 days to Sun 6 Dec": the chart's dates in words.
function period(buckets) {
  const last = buckets[buckets.length - 1];
  if (!last) return '';
  if (range === 'days') {
    const day = new Date(`${last.start}T12:00:00`).toLocaleDateString(undefined, { weekday: 'short', day: 'numeric', month: 'short' });
    return `the 7 days to ${day}`;
  }
  const end = new Date(new Date(last.start).getTime() + 3600 * 1000);
  const time = end.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  const day = end.toLocaleDateString(undefined, { day: 'numeric', month: 'short' });
  return `the 24 hours to ${time} on ${day}`;
}

// Bars of all calls, their missed part darker; every bar has a text equivalent.
function drawChart() {
  const buckets = overview.volume[range];
  const max = Math.max(1, ...buckets.map((b) => b.calls));
  const width = 600;
  const height = 160;
  const barW = width / buckets.length;
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height + 20}`, role: 'img', class: 'chart' });
  const total = buckets.reduce((n, b) => n + b.calls, 0);
  const missed = buckets.reduce((n, b) => n + b.missed, 0);
  const title = svg('title', {});
  title.textContent = `${total} calls, ${missed} missed, in ${period(buckets)}`;
  chart.append(title);
  buckets.forEach((b, i) => {
    const h = (b.calls / max) * height;
    const m = (b.missed / max) * height;
    const x = i * barW + barW * 0.15;
    const w = barW * 0.7;
    const bar = svg('rect', { x, y: height - h, width: w, height: h, class: 'bar' });
    const tip = svg('title', {});
    tip.textContent = `${label(b)}: ${b.calls} calls, ${b.missed} missed`;
    bar.append(tip);
    chart.append(bar, svg('rect', { x, y: height - m, width: w, height: m, class: 'bar-missed' }));
    const every = range === 'days' ? 1 : 4;
    if (i % every === 0 || i === buckets.length - 1) {
      const t = svg('text', { x: x + w / 2, y: height + 15, 'text-anchor': 'middle', class: 'axis' });
      t.textContent = label(b);
      chart.append(t);
    }
  });
  $('overview-chart').replaceChildren(chart);
  $('overview-chart-summary').textContent = title.textContent;
  $('overview-range-hours').setAttribute('aria-pressed', String(range === 'hours'));
  $('overview-range-days').setAttribute('aria-pressed', String(range === 'days'));
}

export async function loadOverview(me) {
  await Promise.all([loadDay(), loadHealth(), loadTodo(me), loadClosing(me)]);
}

async function loadDay() {
  overview = await api('GET', '/api/overview');
  const t = overview.today;
  const rate = t.answerRate == null ? '—' : `${Math.round(t.answerRate * 100)} %`;
  $('overview-tiles').replaceChildren(
    tile('calls today', t.calls, null, '#calls'),
    tile('answered', t.answered, `answer rate ${rate}`, '#calls'),
    tile('missed', t.missed, null, '#calls'),
    tile('voicemails waiting', overview.voicemailsWaiting, null, '#voicemail'),
    tile('open leads', overview.leads.open, `${overview.leads.newToday} new today`, '#leads'),
    tile('text-backs sent today', overview.textbacks.sent, null, '#leads'),
  );
  const blocked = $('overview-blocked');
  blocked.replaceChildren(...overview.textbacks.blocked.map((b) => {
    const li = el('li');
    li.append(el('strong', `${b.count} text-back${b.count === 1 ? '' : 's'} blocked`), document.createTextNode(` — ${b.advice}`));
    return li;
  }));
  show($('overview-blocked-box'), overview.textbacks.blocked.length > 0);
  const waiting = overview.textbacks.scheduled || { count: 0 };
  const when = waiting.nextAt ? new Date(waiting.nextAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : '';
  $('overview-scheduled').textContent = waiting.count
    ? `${waiting.count} text-back${waiting.count === 1 ? '' : 's'} to callers missed in quiet hours scheduled for ${when}.`
    : '';
  show($('overview-scheduled'), waiting.count > 0);
  const list = $('overview-attention');
  list.replaceChildren();
  for (const a of overview.attention) {
    const li = el('li');
    const text = a.kind === 'invariant' ? `${a.message} (${a.count} in the last 7 days)` : a.message;
    const link = el('a', 'Fix it');
    link.href = a.link;
    li.append(document.createTextNode(`${text} `), link);
    list.append(li);
  }
  show($('overview-all-good'), overview.attention.length === 0);
  drawChart();
}

export function initOverview() {
  $('closing-form').addEventListener('submit', (event) => {
    event.preventDefault();
    once($('closing-form'), () => changeClosing(() => api('PUT', '/api/org/closed', { for: $('closing-for').value })));
  });
  $('closing-reopen').addEventListener('click', async () => {
    $('closing-reopen').disabled = true;
    await changeClosing(() => api('DELETE', '/api/org/closed'));
    $('closing-reopen').disabled = false;
  });
  for (const which of ['hours', 'days']) {
    $(`overview-range-${which}`).addEventListener('click', () => {
      range = which;
      if (overview) drawChart();
    });
  }
}

function formatDuration(seconds) {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (d) return `${d} d ${h} h`;
  if (h) return `${h} h ${m} min`;
  return `${m} min ${seconds % 60} s`;
}

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

// The appliance itself: version, uptime, public URL, database, last webhooks, and the
// certificate of the built-in HTTPS when it is on.
async function loadHealth() {
  show($('health-loading'), true);
  const h = await api('GET', '/api/health');
  $('health-version').textContent = h.version;
  $('health-uptime').textContent = formatDuration(h.uptimeSeconds);
  $('health-url').textContent = h.publicUrl;
  $('health-db').textContent = `${formatBytes(h.database.sizeBytes)}, schema v${h.database.schemaVersion}`;
  $('health-twilio').textContent = formatTime(h.lastWebhook.twilio);
  $('health-vapi').textContent = formatTime(h.lastWebhook.vapi);
  // Built-in HTTPS: who issued the certificate and until when, or why there is none.
  show($('health-https-label'), Boolean(h.https));
  show($('health-https'), Boolean(h.https));
  if (h.https) {
    const { certificate: c, renewal: r } = h.https;
    const parts = [];
    if (c) parts.push(`${c.names.join(', ')}, issued by ${c.issuer}, valid until ${formatTime(c.notAfter)}`);
    else parts.push('none yet');
    if (r.lastError) parts.push(`renewal failing: ${r.lastError}; next try ${formatTime(r.nextAttempt)}`);
    else if (r.nextAttempt) parts.push(`next renewal check ${formatTime(r.nextAttempt)}`);
    $('health-https').textContent = parts.join('; ');
    $('health-https').classList.toggle('error', Boolean(r.lastError));
  }
  // Email, texts and pushes to the people of the business: what went, what waits, and the
  // server's answer when something does not get through.
  const channels = [['Email', h.email], ['Texts', h.notifications.sms], ['Push', h.notifications.push]];
  const notices = channels.filter(([, n]) => n).map(([name, n]) => {
    const waiting = n.retrying ? `, ${n.retrying} retrying` : '';
    const failed = n.failed ? `, ${n.failed} not delivered` : '';
    const said = (n.retrying || n.failed) && n.lastError ? ` (${n.lastError})` : '';
    return `${name}: ${n.sent} sent${waiting}${failed}${said}`;
  });
  if (!h.email) notices.push('Email: no mail server set (SWITCHBOARD_SMTP_URL)');
  $('health-notices').textContent = notices.join('; ');
  $('health-notices').classList.toggle('error', channels.some(([, n]) => n && (n.retrying || n.failed)));
  show($('health-loading'), false);
  show($('health'), true);
}

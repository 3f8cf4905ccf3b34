// Settings → Webhooks (SPEC §13): the org's endpoints, each with the events it takes, on
// or off, a test event, a new secret (shown once) and its delivery log.

import { api } from './api.js';
import { $, show, showError, el, button, formatTime, once } from './ui.js';

function attemptLine(a) {
  const status = a.status == null ? (a.error || 'no answer') : `HTTP ${a.status}`;
  return el('li', `${formatTime(a.at)} · ${a.event} · attempt ${a.attempt} · ${status} · ${a.latencyMs} ms`);
}

function showSecret(secret) {
  $('webhook-secret').textContent = secret;
  show($('webhook-secret-box'), true);
}

function endpointItem(ep) {
  const li = el('li', null, 'webhook');
  li.dataset.endpoint = String(ep.id);
  li.append(el('p', `${ep.url}${ep.enabled ? '' : ' (off)'}`, 'webhook-url'));
  li.append(el('p', `Events: ${ep.events.join(', ')}`, 'muted small'));
  const status = el('p', null, 'muted small');
  status.setAttribute('role', 'status');
  const log = el('ol', null, 'timeline');
  const act = async (b, run) => {
    b.disabled = true;
    try {
      await run();
    } catch (e) {
      showError(status, e);
    } finally {
      b.disabled = false;
    }
  };
  const test = button('Send a test event', () => act(test, async () => {
    await api('POST', `/api/webhooks/${ep.id}/test`, {});
    status.textContent = 'Test event queued; its delivery shows below.';
    setTimeout(() => loadLog(), 1500);
  }));
  const toggle = button(ep.enabled ? 'Turn off' : 'Turn on', () => act(toggle, async () => {
    await api('PATCH', `/api/webhooks/${ep.id}`, { enabled: !ep.enabled });
    await loadWebhooks();
  }));
  const rotate = button('New secret', () => act(rotate, async () => {
    if (!window.confirm('Make a new secret? The old one stops working at once: the receiving tool needs the new one.')) return;
    const { secret } = await api('POST', `/api/webhooks/${ep.id}/rotate`, {});
    showSecret(secret);
  }));
  const remove = button('Remove', () => act(remove, async () => {
    if (!window.confirm(`Remove the endpoint ${ep.url}? Deliveries waiting for it are dropped.`)) return;
    await api('DELETE', `/api/webhooks/${ep.id}`);
    await loadWebhooks();
  }));
  const loadLog = async () => {
    const { attempts } = await api('GET', `/api/webhooks/${ep.id}/deliveries`);
    log.replaceChildren(...attempts.slice(0, 10).map(attemptLine));
  };
  const actions = el('p', null, 'actions');
  actions.append(test, toggle, rotate, remove);
  li.append(actions, status, el('p', 'Latest deliveries', 'small'), log);
  loadLog().catch(() => {});
  return li;
}

export async function loadWebhooks() {
  const { endpoints } = await api('GET', '/api/webhooks');
  $('webhooks-list').replaceChildren(...endpoints.map(endpointItem));
}

async function addEndpoint(event) {
  event.preventDefault();
  show($('webhook-secret-box'), false);
  await once($('webhook-form'), async () => {
    try {
      const events = [...$('webhook-events').querySelectorAll('input:checked')].map((b) => b.dataset.event);
      const { secret } = await api('POST', '/api/webhooks', { url: $('webhook-url').value.trim(), events });
      showSecret(secret);
      $('webhook-url').value = '';
      await loadWebhooks();
    } catch (e) {
      showError($('webhook-error'), e);
    }
  });
}

export function initWebhooks() {
  $('webhook-form').addEventListener('submit', addEndpoint);
}

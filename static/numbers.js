// Numbers (import, buy with per-step progress, change, release), Agents, sign-ups by
// text, and the business settings. Every failure is shown with what to do.

import { api, ApiError } from './api.js';
import { $, show, showError, cell, el, button, option, clearFieldErrors, shown } from './ui.js';

let me = null;
let agents = [];

const ROLES = {
  operational: 'Customers (call menu and texts)',
  onboarding: 'Sign-ups by text only',
  system: 'Not for customers (rejects calls)',
};
const HANDLERS = { ivr: 'Call menu (IVR)', vapi: 'AI agent (Vapi)' };
const STEP_NAMES = {
  ensure_subaccount: 'Prepare your Twilio subaccount',
  buy_number: 'Buy the number',
  vapi_import: 'Connect it to the AI agent',
  write_number: 'Save it',
};

const newKey = () => (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`);

// Role, handler, agent and name fields inside `.number-settings[data-prefix]`.
function settingsFields(prefix, current = {}) {
  const box = document.querySelector(`.number-settings[data-prefix="${prefix}"]`);
  box.replaceChildren();
  const field = (id, label, control) => {
    const l = el('label', label);
    l.htmlFor = id;
    control.id = id;
    box.append(l, control);
  };
  const role = el('select');
  for (const [value, text] of Object.entries(ROLES)) role.append(option(value, text, value === (current.role || 'operational')));
  field(`${prefix}-role`, 'Used for', role);
  const handler = el('select');
  for (const [value, text] of Object.entries(HANDLERS)) handler.append(option(value, text, value === (current.handler || 'ivr')));
  field(`${prefix}-handler`, 'Calls answered by', handler);
  const agent = el('select');
  agent.append(option('', 'No agent', !current.agentId));
  for (const a of agents) agent.append(option(String(a.id), a.name, a.id === current.agentId));
  field(`${prefix}-agent`, 'AI agent', agent);
  // The agent applies only to a number the AI answers.
  const agentLabel = box.querySelector(`label[for="${prefix}-agent"]`);
  const showAgent = () => {
    const ai = handler.value === 'vapi';
    show(agent, ai);
    show(agentLabel, ai);
  };
  handler.addEventListener('change', showAgent);
  showAgent();
  const name = el('input');
  name.maxLength = 64;
  name.placeholder = 'e.g. Main line';
  name.value = current.friendlyName || '';
  field(`${prefix}-name`, 'Name (optional)', name);
}

function readSettings(prefix) {
  const agent = $(`${prefix}-handler`).value === 'vapi' ? $(`${prefix}-agent`).value : '';
  return {
    role: $(`${prefix}-role`).value,
    handler: $(`${prefix}-handler`).value,
    agentId: agent ? Number(agent) : null,
    friendlyName: $(`${prefix}-name`).value.trim() || null,
  };
}

// What the last change did, said on the Numbers page once its dialog closes.
function done(text) {
  $('numbers-done').textContent = text;
  show($('numbers-done'), true);
}

async function refreshAgents() {
  agents = (await api('GET', '/api/agents')).agents;
}

export async function loadNumbers(user) {
  me = user;
  show($('numbers-done'), false);
  await refreshAgents();
  const [{ numbers }, flags] = await Promise.all([api('GET', '/api/numbers'), api('GET', '/api/feature-flags')]);
  const managedOn = flags.flags.some((f) => f.key === 'managed_telephony' && f.effective);
  show($('managed-banner'), !managedOn);
  $('buy-open').disabled = !managedOn;
  const body = $('numbers-table').querySelector('tbody');
  body.replaceChildren();
  for (const n of numbers) {
    const tr = document.createElement('tr');
    tr.dataset.number = n.e164;
    const actions = el('td', null, 'actions');
    if (me.user.role !== 'viewer') {
      actions.append(
        button('Change', () => openEdit(n)),
        button('Release', () => openRelease(n)),
      );
    }
    tr.append(
      cell(shown(n, 'e164')), cell(n.friendlyName), cell(ROLES[n.role] || n.role),
      cell(HANDLERS[n.handler] || n.handler), cell(n.agentName), cell(n.origin), actions,
    );
    body.append(tr);
  }
  show($('numbers-empty'), numbers.length === 0);
  show($('numbers-table'), numbers.length > 0);
  await loadSignups();
}

async function loadSignups() {
  const { requests } = await api('GET', '/api/onboarding-requests?limit=50');
  // Waiting for a decision, or approved while their number could not be bought.
  const open = requests.filter((r) => r.state === 'pending_approval'
    || (r.state === 'approved' && !r.approvedLine));
  const list = $('signups');
  list.replaceChildren();
  for (const r of open) {
    const li = el('li');
    li.dataset.signup = r.id;
    li.append(el('strong', r.businessName || '(no name yet)'), el('span', r.sender, 'muted'));
    if (r.state === 'approved') li.append(el('span', 'Approved · no number yet', 'muted'));
    if (me.user.role !== 'viewer') {
      if (r.state === 'pending_approval') {
        li.append(
          button('Approve', () => decide(r.id, 'approve')),
          button('Reject', () => decide(r.id, 'reject')),
        );
      } else {
        li.append(button('Buy their number', () => decide(r.id, 'provision')));
      }
    }
    list.append(li);
  }
  show($('signups-empty'), open.length === 0);
}

async function decide(id, verb) {
  show($('signups-error'), false);
  show($('signups-result'), false);
  try {
    const out = await api('POST', `/api/onboarding-requests/${id}/${verb}`);
    const name = out.request.businessName;
    const p = out.provisioning;
    if (verb === 'reject') {
      showNote(`Rejected "${name}"; the sender was told by text.`);
    } else if (out.number) {
      showNote(`"${name}" has its line: ${out.number.e164}. The sender was texted the number.`);
    } else if (p && p.state === 'failed') {
      showError($('signups-error'), new ApiError(502, p.error.code,
        `Approved "${name}", but buying its number failed: ${p.error.message}`, p.error.hint));
    } else if (p && p.state === 'skipped') {
      showNote(`Approved "${name}". ${p.reason}`);
    }
    await loadSignups();
  } catch (e) {
    showError($('signups-error'), e);
  }
}

function showNote(text) {
  const note = $('signups-result');
  note.textContent = text;
  show(note, true);
}

function closeOnCancel(dialog) {
  for (const b of dialog.querySelectorAll('[data-close]')) b.addEventListener('click', () => dialog.close());
}

async function openImport() {
  const dialog = $('import-dialog');
  show($('import-error'), false);
  show($('import-loading'), true);
  settingsFields('import');
  const select = $('import-number');
  select.replaceChildren();
  $('import-submit').disabled = true;
  dialog.showModal();
  try {
    const { numbers, hint } = await api('GET', '/api/numbers/importable');
    for (const n of numbers) {
      select.append(option(n.phoneNumber, `${n.phoneNumber}${n.friendlyName ? ' — ' + n.friendlyName : ''}`));
    }
    if (numbers.length === 0) {
      $('import-error').textContent = hint;
      show($('import-error'), true);
    }
    $('import-submit').disabled = numbers.length === 0;
  } catch (e) {
    showError($('import-error'), e);
  } finally {
    show($('import-loading'), false);
  }
}

async function submitImport(event) {
  event.preventDefault();
  const submit = $('import-submit');
  submit.disabled = true;
  submit.textContent = 'Importing…';
  show($('import-error'), false);
  try {
    const s = readSettings('import');
    const e164 = $('import-number').value;
    await api('POST', '/api/numbers/import', { e164, ...s }, { 'Idempotency-Key': newKey() });
    $('import-dialog').close();
    await loadNumbers(me);
    done(`Imported ${e164}: its calls and texts now come to switchboard.`);
  } catch (e) {
    showError($('import-error'), e);
  } finally {
    submit.disabled = false;
    submit.textContent = 'Import';
  }
}

function openBuy() {
  show($('buy-error'), false);
  show($('buy-hint'), false);
  show($('buy-results'), false);
  show($('buy-progress'), false);
  $('buy-submit').disabled = true;
  settingsFields('buy');
  $('buy-dialog').showModal();
}

async function searchNumbers(event) {
  event.preventDefault();
  show($('buy-error'), false);
  const params = new URLSearchParams({ numberType: $('buy-type').value });
  const area = $('buy-area').value.trim();
  const contains = $('buy-contains').value.trim();
  if (area) params.set('areaCode', area);
  if (contains) params.set('contains', contains);
  const submit = $('buy-search-submit');
  submit.disabled = true;
  submit.textContent = 'Searching…';
  try {
    const { numbers, hint } = await api('GET', `/api/managed-telephony/available-numbers?${params}`);
    const results = $('buy-results');
    results.replaceChildren(el('legend', 'Pick a number'));
    numbers.forEach((n, i) => {
      const label = el('label');
      const radio = el('input');
      radio.type = 'radio';
      radio.name = 'buy-number';
      radio.value = n.phoneNumber;
      radio.checked = i === 0;
      const where = [n.locality, n.region].filter(Boolean).join(', ');
      label.append(radio, ` ${n.friendlyName || n.phoneNumber}${where ? ' — ' + where : ''}`);
      results.append(label);
    });
    show(results, numbers.length > 0);
    $('buy-hint').textContent = hint || '';
    show($('buy-hint'), Boolean(hint));
    $('buy-submit').disabled = numbers.length === 0;
  } catch (e) {
    showError($('buy-error'), e);
  } finally {
    submit.disabled = false;
    submit.textContent = 'Search';
  }
}

function renderProgress(steps, failedStep) {
  const list = $('buy-progress');
  list.replaceChildren();
  const actions = new Map();
  for (const s of steps) if (s.phase === 'action') actions.set(s.name, s.state);
  for (const [name, text] of Object.entries(STEP_NAMES)) {
    const li = el('li', text);
    li.dataset.step = name;
    const state = name === failedStep ? 'failed' : actions.get(name);
    if (state) li.dataset.state = state;
    list.append(li);
  }
  const undone = steps.filter((s) => s.phase === 'compensation' && s.state === 'succeeded');
  if (undone.length) list.append(el('li', `Undone: ${undone.map((s) => STEP_NAMES[s.name] || s.name).join(', ')}`, 'muted'));
  show(list, true);
}

async function submitBuy(event) {
  event.preventDefault();
  const picked = document.querySelector('input[name="buy-number"]:checked');
  if (!picked) return;
  const submit = $('buy-submit');
  submit.disabled = true;
  submit.textContent = 'Buying…';
  show($('buy-error'), false);
  renderProgress([]);
  let running = true;
  const poll = async () => {
    while (running) {
      try {
        const p = await api('GET', '/api/managed-telephony/provisioning');
        if (running && p.saga && p.saga.phoneNumber === picked.value) renderProgress(p.steps);
      } catch (e) {
        // Progress is informative; the purchase itself reports its outcome.
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  };
  poll();
  try {
    await api('POST', '/api/managed-telephony/numbers', { phoneNumber: picked.value, ...readSettings('buy') }, { 'Idempotency-Key': newKey() });
    running = false;
    renderProgress(Object.keys(STEP_NAMES).map((name) => ({ name, phase: 'action', state: 'succeeded' })));
    $('buy-dialog').close();
    await loadNumbers(me);
    done(`Bought ${picked.value}: it answers calls and texts now.`);
  } catch (e) {
    running = false;
    if (e instanceof ApiError && e.code === 'provider_error' && e.step) {
      try {
        const p = await api('GET', '/api/managed-telephony/provisioning');
        renderProgress(p.steps, e.step);
      } catch (ignored) {
        renderProgress([], e.step);
      }
    }
    showError($('buy-error'), e);
  } finally {
    running = false;
    submit.disabled = false;
    submit.textContent = 'Buy';
  }
}

let editing = null;

function openEdit(n) {
  editing = n;
  $('edit-title').textContent = `Change ${shown(n, 'e164')}`;
  show($('edit-error'), false);
  settingsFields('edit', n);
  $('edit-dialog').showModal();
}

async function submitEdit(event) {
  event.preventDefault();
  const submit = $('edit-submit');
  submit.disabled = true;
  show($('edit-error'), false);
  try {
    await api('PATCH', `/api/numbers/${encodeURIComponent(editing.e164)}`, readSettings('edit'));
    $('edit-dialog').close();
    await loadNumbers(me);
    done(`Saved the changes to ${editing.e164}.`);
  } catch (e) {
    showError($('edit-error'), e);
  } finally {
    submit.disabled = false;
  }
}

let releasing = null;

async function openRelease(n) {
  releasing = n;
  $('release-title').textContent = `Release ${shown(n, 'e164')}?`;
  show($('release-error'), false);
  show($('release-agents'), false);
  show($('release-loading'), true);
  $('release-steps').replaceChildren();
  $('release-submit').disabled = true;
  $('release-dialog').showModal();
  try {
    const { plan } = await api('DELETE', `/api/numbers/${encodeURIComponent(n.e164)}?dryRun=true`);
    for (const s of plan.steps) $('release-steps').append(el('li', s.description));
    if (plan.agentsToUnlink.length) {
      $('release-agents').textContent = `These agents will be unlinked from it: ${plan.agentsToUnlink.map((a) => a.name).join(', ')}.`;
      show($('release-agents'), true);
    }
    $('release-submit').disabled = false;
  } catch (e) {
    showError($('release-error'), e);
  } finally {
    show($('release-loading'), false);
  }
}

async function submitRelease(event) {
  event.preventDefault();
  const submit = $('release-submit');
  submit.disabled = true;
  submit.textContent = 'Releasing…';
  show($('release-error'), false);
  try {
    await api('DELETE', `/api/numbers/${encodeURIComponent(releasing.e164)}`, undefined, { 'Idempotency-Key': newKey() });
    $('release-dialog').close();
    await loadNumbers(me);
    done(`Released ${releasing.e164}: switchboard no longer answers it.`);
  } catch (e) {
    showError($('release-error'), e);
  } finally {
    submit.disabled = false;
    submit.textContent = 'Release';
  }
}

export async function loadAgents(user) {
  me = user;
  await refreshAgents();
  const body = $('agents-table').querySelector('tbody');
  body.replaceChildren();
  for (const a of agents) {
    const tr = document.createElement('tr');
    tr.dataset.agent = a.name;
    const actions = el('td', null, 'actions');
    if (me.user.role !== 'viewer') {
      actions.append(
        button('Rename', () => renameAgent(a)),
        button('Remove', () => removeAgent(a)),
      );
    }
    tr.append(cell(a.name), cell(a.vapiAssistantId), cell(a.sipUri), cell(a.numbers.join(', ') || 'No number'), actions);
    body.append(tr);
  }
  show($('agents-empty'), agents.length === 0);
  show($('agents-table'), agents.length > 0);
}

async function agentChange(method, path, body) {
  show($('agents-error'), false);
  try {
    await api(method, path, body);
    await loadAgents(me);
    return true;
  } catch (e) {
    showError($('agents-error'), e);
    return false;
  }
}

async function renameAgent(a) {
  const name = window.prompt(`New name for ${a.name}`, a.name);
  if (name && name.trim() !== a.name) await agentChange('PATCH', `/api/agents/${a.id}`, { name: name.trim() });
}

async function removeAgent(a) {
  if (window.confirm(`Remove the agent ${a.name}?`)) await agentChange('DELETE', `/api/agents/${a.id}`);
}

async function addAgent(event) {
  event.preventDefault();
  const ok = await agentChange('POST', '/api/agents', {
    name: $('agent-name').value.trim(),
    vapiAssistantId: $('agent-assistant').value.trim() || null,
    sipUri: $('agent-sip').value.trim() || null,
  });
  if (ok) $('agent-form').reset();
}

function renderOrg(org, warnings) {
  $('org-name-input').value = org.name;
  $('org-timezone').value = org.timezone;
  $('org-country').value = org.country || 'US';
  $('org-notification').value = shown(org, 'notificationNumber') || '';
  $('org-fallback').value = shown(org, 'fallbackNumber') || '';
  $('org-delete-recordings').checked = org.deleteRecordingsAtTwilio;
  $('org-retention').value = org.recordingRetentionDays ?? '';
  const list = $('org-warnings');
  list.replaceChildren();
  for (const w of warnings) list.append(el('li', w));
}

export async function loadOrg(user) {
  me = user;
  const { org, warnings } = await api('GET', '/api/org');
  renderOrg(org, warnings);
  for (const id of ['org-name-input', 'org-timezone', 'org-country', 'org-notification', 'org-fallback', 'org-delete-recordings', 'org-retention']) $(id).disabled = me.user.role === 'viewer';
}

async function saveOrg(event) {
  event.preventDefault();
  clearFieldErrors($('org-form'));
  show($('org-error'), false);
  show($('org-saved'), false);
  try {
    const { org, warnings } = await api('PATCH', '/api/org', {
      name: $('org-name-input').value.trim(),
      timezone: $('org-timezone').value.trim(),
      country: $('org-country').value.trim() || 'US',
      notificationNumber: $('org-notification').value.trim() || null,
      fallbackNumber: $('org-fallback').value.trim() || null,
      deleteRecordingsAtTwilio: $('org-delete-recordings').checked,
      recordingRetentionDays: $('org-retention').value.trim() ? Number($('org-retention').value) : null,
    });
    renderOrg(org, warnings);
    show($('org-saved'), true);
  } catch (e) {
    showError($('org-error'), e);
  }
}

export function initNumbers(handleAppError) {
  for (const id of ['import-dialog', 'buy-dialog', 'edit-dialog', 'release-dialog']) closeOnCancel($(id));
  $('import-open').addEventListener('click', () => openImport().catch(handleAppError));
  $('buy-open').addEventListener('click', openBuy);
  $('import-form').addEventListener('submit', submitImport);
  $('buy-search').addEventListener('submit', searchNumbers);
  $('buy-form').addEventListener('submit', submitBuy);
  $('edit-form').addEventListener('submit', submitEdit);
  $('release-form').addEventListener('submit', submitRelease);
  $('agent-form').addEventListener('submit', addAgent);
  $('org-form').addEventListener('submit', saveOrg);
}

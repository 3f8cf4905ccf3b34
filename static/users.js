// Settings → Users: add a user (the one-time password is shown once), change a role,
// remove a user (their sessions and API tokens stop at once). Owners and admins only;
// the server enforces the rules (only an owner touches an owner, one owner always stays).

import { api } from './api.js';
import { $, show, showError, cell, el, button, option, formatTime, once } from './ui.js';

const ROLE_NAMES = { owner: 'Owner', admin: 'Admin', viewer: 'Viewer (read only)' };

let me = null;

function roleControl(user) {
  if (me.user.role === 'viewer' || user.id === me.user.id) return cell(ROLE_NAMES[user.role]);
  const select = el('select');
  select.setAttribute('aria-label', `Role of ${user.email}`);
  for (const [value, text] of Object.entries(ROLE_NAMES)) {
    select.append(option(value, text, value === user.role));
  }
  select.addEventListener('change', () => changeRole(user, select));
  const td = el('td');
  td.append(select);
  return td;
}

function actions(user) {
  const td = el('td');
  if (me.user.role === 'viewer') return td;
  if (user.id === me.user.id) {
    td.textContent = 'you';
    return td;
  }
  const remove = button('Remove', () => removeUser(user, remove));
  remove.setAttribute('aria-label', `Remove ${user.email}`);
  td.append(remove);
  return td;
}

export async function loadUsers(current) {
  me = current;
  const { users } = await api('GET', '/api/users');
  const body = $('users-table').querySelector('tbody');
  body.replaceChildren();
  for (const u of users) {
    const tr = el('tr');
    tr.dataset.email = u.email;
    tr.append(cell(u.email), roleControl(u), cell(formatTime(u.lastLoginAt)), actions(u));
    body.append(tr);
  }
}

async function changeRole(user, select) {
  const errorEl = $('user-error');
  show(errorEl, false);
  select.disabled = true;
  try {
    await api('PATCH', `/api/users/${user.id}`, { role: select.value });
    await loadUsers(me);
  } catch (e) {
    select.value = user.role;
    select.disabled = false;
    showError(errorEl, e);
  }
}

async function removeUser(user, b) {
  const errorEl = $('user-error');
  show(errorEl, false);
  if (!window.confirm(`Remove ${user.email}? They are signed out and their API tokens stop working at once.`)) return;
  b.disabled = true;
  try {
    await api('DELETE', `/api/users/${user.id}`);
    await loadUsers(me);
  } catch (e) {
    b.disabled = false;
    showError(errorEl, e);
  }
}

async function onAddUser(event) {
  event.preventDefault();
  const errorEl = $('user-error');
  show(errorEl, false);
  show($('user-created'), false);
  await once($('user-form'), async () => {
    try {
      const created = await api('POST', '/api/users', { email: $('new-user-email').value, role: $('new-user-role').value });
      $('user-created-email').textContent = created.user.email;
      $('user-password').textContent = created.password;
      show($('user-created'), true);
      $('new-user-email').value = '';
      await loadUsers(me);
    } catch (e) {
      showError(errorEl, e);
    }
  });
}

export function initUsers() {
  $('user-form').addEventListener('submit', onAddUser);
}

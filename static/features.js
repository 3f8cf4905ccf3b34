// Features: each feature flag of the business with what it does, on or off, and whether
// it follows the appliance's default or the business's own choice.

import { api } from './api.js';
import { $, show, showError, cell } from './ui.js';

let me = null;

export async function loadFeatures(current) {
  me = current;
  renderFeatures((await api('GET', '/api/feature-flags')).flags);
}

function renderFeatures(flags) {
  const body = $('features-table').querySelector('tbody');
  body.replaceChildren();
  for (const f of flags) {
    const tr = document.createElement('tr');
    tr.dataset.flag = f.key;
    const name = document.createElement('td');
    const strong = document.createElement('strong');
    strong.textContent = f.name;
    const desc = document.createElement('div');
    desc.className = 'muted small';
    desc.textContent = f.description;
    name.append(strong, desc);
    const actions = document.createElement('td');
    if (me.user.role !== 'viewer') {
      const toggle = document.createElement('button');
      toggle.type = 'button';
      toggle.className = 'secondary toggle';
      toggle.textContent = f.effective ? 'Turn off' : 'Turn on';
      toggle.addEventListener('click', () =>
        changeFeature('PUT', `/api/feature-flags/${f.key}/override`, { enabled: !f.effective }));
      actions.append(toggle);
      if (f.orgOverride !== null) {
        const reset = document.createElement('button');
        reset.type = 'button';
        reset.className = 'secondary';
        reset.textContent = 'Use default';
        reset.addEventListener('click', () => changeFeature('DELETE', `/api/feature-flags/${f.key}/override`));
        actions.append(' ', reset);
      }
    }
    tr.append(name, cell(f.effective ? 'On' : 'Off'), cell(f.orgOverride === null ? 'Default' : 'Your business'), actions);
    body.append(tr);
  }
}

async function changeFeature(method, path, body) {
  show($('features-error'), false);
  try {
    renderFeatures((await api(method, path, body)).flags);
  } catch (e) {
    showError($('features-error'), e);
  }
}

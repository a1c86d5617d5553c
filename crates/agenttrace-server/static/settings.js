// Settings: password, projects, members and API keys, through the JSON API.
import { api, problemText } from './common.js';

const errorBox = document.getElementById('settings-error');

function fail(answer) {
  errorBox.hidden = false;
  errorBox.textContent = problemText(answer.status, answer.body);
  errorBox.scrollIntoView({ block: 'nearest' });
}

async function call(method, path, body) {
  errorBox.hidden = true;
  const answer = await api(method, path, body);
  if (!answer.ok) fail(answer);
  return answer;
}

const fields = (form) => Object.fromEntries(new FormData(form).entries());

document.getElementById('password-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const answer = await call('POST', '/api/v1/auth/password', fields(event.target));
  if (answer.ok) location.href = '/login';
});

document.getElementById('project-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const answer = await call('POST', '/api/v1/projects', fields(event.target));
  if (answer.ok) location.reload();
});

for (const project of document.querySelectorAll('article.project')) {
  const id = encodeURIComponent(project.dataset.projectId);
  const memberForm = project.querySelector('.member-form');
  if (memberForm) {
    memberForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      const answer = await call('POST', `/api/v1/projects/${id}/members`, fields(memberForm));
      if (answer.ok) location.reload();
    });
  }
  for (const select of project.querySelectorAll('select.member-role')) {
    select.addEventListener('change', async () => {
      const user = encodeURIComponent(select.closest('tr').dataset.userId);
      const answer = await call('PATCH', `/api/v1/projects/${id}/members/${user}`, { role: select.value });
      if (!answer.ok) location.reload();
    });
  }
  for (const button of project.querySelectorAll('button.member-remove')) {
    button.addEventListener('click', async () => {
      const row = button.closest('tr');
      if (!confirm(`Remove ${row.cells[0].textContent} from this project?`)) return;
      const answer = await call('DELETE', `/api/v1/projects/${id}/members/${encodeURIComponent(row.dataset.userId)}`);
      if (answer.ok) row.remove();
    });
  }
  const keyForm = project.querySelector('.key-form');
  if (keyForm) {
    keyForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      const answer = await call('POST', `/api/v1/projects/${id}/api-keys`, fields(keyForm));
      if (!answer.ok) return;
      const box = project.querySelector('.new-key');
      const value = box.querySelector('.new-key-value');
      value.value = answer.body.key;
      box.hidden = false;
      value.select();
      keyForm.reset();
    });
    const copy = project.querySelector('.copy-key');
    copy.addEventListener('click', async () => {
      const value = project.querySelector('.new-key-value');
      try {
        await navigator.clipboard.writeText(value.value);
        copy.textContent = 'Copied';
      } catch {
        value.select();
      }
    });
  }
  for (const button of project.querySelectorAll('button.key-revoke')) {
    button.addEventListener('click', async () => {
      const row = button.closest('tr');
      if (!confirm(`Revoke the key "${row.cells[0].textContent}"? Agents using it will be refused.`)) return;
      const answer = await call('DELETE', `/api/v1/projects/${id}/api-keys/${encodeURIComponent(row.dataset.keyId)}`);
      if (answer.ok) button.replaceWith(Object.assign(document.createElement('span'), { className: 'muted', textContent: 'revoked' }));
    });
  }
}

for (const button of document.querySelectorAll('button.share-revoke')) {
  button.addEventListener('click', async () => {
    const row = button.closest('tr');
    if (!confirm(`Revoke the share link of "${row.cells[0].textContent}"? It stops working at once.`)) return;
    const trace = encodeURIComponent(row.dataset.traceId);
    const answer = await call('DELETE', `/api/v1/traces/${trace}/shares/${encodeURIComponent(row.dataset.shareId)}`);
    if (answer.ok) row.remove();
  });
}

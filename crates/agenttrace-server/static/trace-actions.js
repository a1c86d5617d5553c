// The trace page's actions: share (a read-only link) and delete.
import { api, problemText } from './common.js';

const page = document.getElementById('trace');
const id = page.dataset.traceId;
const shareButton = document.getElementById('share-trace');
const shareResult = document.getElementById('share-result');
const deleteButton = document.getElementById('delete-trace');

shareButton?.addEventListener('click', async () => {
  shareButton.disabled = true;
  const answer = await api('POST', `/api/v1/traces/${encodeURIComponent(id)}/share`);
  shareButton.disabled = false;
  shareResult.hidden = false;
  if (!answer.ok) {
    shareResult.textContent = problemText(answer.status, answer.body);
    return;
  }
  const url = new URL(answer.body.url, location.origin).href;
  const field = document.createElement('input');
  field.type = 'text';
  field.readOnly = true;
  field.value = url;
  field.className = 'share-url';
  field.setAttribute('aria-label', 'Share link');
  const copy = document.createElement('button');
  copy.type = 'button';
  copy.textContent = 'Copy';
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(url);
      copy.textContent = 'Copied';
    } catch {
      field.select();
    }
  });
  const note = document.createElement('span');
  note.className = 'muted small';
  note.textContent = ' Anyone with this link can read this trace (not your other traces).';
  shareResult.replaceChildren(field, copy, note);
  field.select();
});

deleteButton?.addEventListener('click', async () => {
  if (!confirm('Delete this trace? This cannot be undone.')) return;
  const answer = await api('DELETE', `/api/v1/traces/${encodeURIComponent(id)}`);
  if (answer.ok) {
    location.href = '/';
  } else {
    alert(problemText(answer.status, answer.body));
  }
});

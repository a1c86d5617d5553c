// Upload: drop files, pick them, or paste JSON. Each upload shows its progress, then a link to
// the new trace or what was wrong and where.
import { csrfToken, problemText } from './common.js';

const zone = document.getElementById('dropzone');
const input = document.getElementById('file-input');
const list = document.getElementById('uploads');
const paste = document.getElementById('paste');
const pasteButton = document.getElementById('paste-upload');
const project = document.getElementById('project');

function send(name, body) {
  const item = document.createElement('li');
  const title = document.createElement('div');
  title.className = 'file';
  title.textContent = name;
  const bar = document.createElement('progress');
  bar.max = 1;
  bar.value = 0;
  const status = document.createElement('div');
  status.className = 'status';
  item.append(title, bar, status);
  list.prepend(item);

  const url = project ? `/api/v1/traces?project_id=${encodeURIComponent(project.value)}` : '/api/v1/traces';
  const request = new XMLHttpRequest();
  request.open('POST', url);
  request.withCredentials = true;
  request.setRequestHeader('content-type', 'application/json');
  request.setRequestHeader('x-csrf-token', csrfToken());
  request.upload.addEventListener('progress', (event) => {
    if (event.lengthComputable) bar.value = event.loaded / event.total;
  });
  request.addEventListener('load', () => {
    bar.remove();
    let body = null;
    try { body = JSON.parse(request.responseText); } catch { body = null; }
    if (request.status === 201 && body) {
      item.classList.add('done');
      const link = document.createElement('a');
      link.href = `/traces/${encodeURIComponent(body.id)}`;
      link.textContent = body.name || 'Open the trace';
      const facts = document.createElement('span');
      facts.className = 'muted';
      const parts = [` · ${body.steps} steps`];
      if (body.errors) parts.push(`${body.errors} errors`);
      if (body.redactions) parts.push(`${body.redactions} secrets removed`);
      facts.textContent = parts.join(' · ');
      status.replaceChildren(link, facts);
      for (const warning of body.warnings || []) {
        const note = document.createElement('div');
        note.className = 'muted small';
        note.textContent = typeof warning === 'string' ? warning : JSON.stringify(warning);
        item.append(note);
      }
    } else {
      item.classList.add('failed');
      status.textContent = problemText(request.status, body);
      if (body && body.pointer) {
        const where = document.createElement('div');
        where.className = 'where';
        where.textContent = `JSON path: ${body.pointer}`;
        item.append(where);
      }
    }
  });
  request.addEventListener('error', () => {
    bar.remove();
    item.classList.add('failed');
    status.textContent = 'The upload did not reach the server; check the connection and try again.';
  });
  request.send(body);
}

function sendFiles(files) {
  for (const file of files) send(file.name, file);
}

zone.addEventListener('dragover', (event) => {
  event.preventDefault();
  zone.classList.add('over');
});
zone.addEventListener('dragleave', () => zone.classList.remove('over'));
zone.addEventListener('drop', (event) => {
  event.preventDefault();
  zone.classList.remove('over');
  sendFiles(event.dataTransfer.files);
});
zone.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' || event.key === ' ') {
    event.preventDefault();
    input.click();
  }
});
input.addEventListener('change', () => {
  sendFiles(input.files);
  input.value = '';
});
pasteButton.addEventListener('click', () => {
  const text = paste.value.trim();
  if (!text) return;
  send('Pasted JSON', text);
});
// Pasting a file or JSON anywhere on the page uploads it too.
document.addEventListener('paste', (event) => {
  if (event.target === paste) return;
  const files = event.clipboardData ? [...event.clipboardData.files] : [];
  if (files.length) {
    sendFiles(files);
  }
});

// The trace list: select rows to compare or delete. (Sorting is by links the server answers.)
import { api, problemText } from './common.js';

const table = document.getElementById('traces');
if (table) {
  const tbody = table.tBodies[0];
  const bulk = document.getElementById('bulk');
  const count = document.getElementById('bulk-count');
  const compare = document.getElementById('bulk-compare');
  const remove = document.getElementById('bulk-delete');
  const all = document.getElementById('select-all');

  const picked = () => [...tbody.querySelectorAll('input.pick:checked')].map((box) => box.closest('tr'));

  const refresh = () => {
    const rows = picked();
    bulk.hidden = rows.length === 0;
    count.textContent = `${rows.length} selected`;
    compare.disabled = rows.length !== 2;
    all.checked = rows.length > 0 && rows.length === tbody.rows.length;
  };

  tbody.addEventListener('change', (event) => {
    if (event.target.classList.contains('pick')) refresh();
  });
  all.addEventListener('change', () => {
    for (const box of tbody.querySelectorAll('input.pick')) box.checked = all.checked;
    refresh();
  });
  compare.addEventListener('click', () => {
    const [a, b] = picked();
    if (a && b) {
      location.href = `/compare?a=${encodeURIComponent(a.dataset.id)}&b=${encodeURIComponent(b.dataset.id)}`;
    }
  });
  remove.addEventListener('click', async () => {
    const rows = picked();
    if (!rows.length || !confirm(`Delete ${rows.length} trace${rows.length === 1 ? '' : 's'}? This cannot be undone.`)) return;
    for (const row of rows) {
      const answer = await api('DELETE', `/api/v1/traces/${encodeURIComponent(row.dataset.id)}`);
      if (answer.ok) {
        row.remove();
      } else {
        alert(problemText(answer.status, answer.body));
        break;
      }
    }
    refresh();
  });
}

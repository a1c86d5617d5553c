// The trace list: sort the page by a column, select rows to compare or delete.
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

  // Sorting the rows of this page by a column; the server's order (newest first) is the default.
  let sortKey = null;
  let ascending = true;
  for (const th of table.tHead.querySelectorAll('th[data-sort]')) {
    th.tabIndex = 0;
    const sort = () => {
      const key = th.dataset.sort;
      ascending = sortKey === key ? !ascending : key === 'name';
      sortKey = key;
      for (const other of table.tHead.querySelectorAll('th')) other.removeAttribute('aria-sort');
      th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
      const rows = [...tbody.rows];
      rows.sort((x, y) => {
        const a = x.dataset[key];
        const b = y.dataset[key];
        const order = key === 'name' ? a.localeCompare(b) : Number(a) - Number(b);
        return ascending ? order : -order;
      });
      for (const row of rows) tbody.appendChild(row);
    };
    th.addEventListener('click', sort);
    th.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        sort();
      }
    });
  }
}

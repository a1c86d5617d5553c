// Compare: select an aligned row to see both steps side by side, with a line diff of their
// outputs. Everything from the traces reaches the page through textContent.
import { api, problemText } from './common.js';

const root = document.getElementById('compare');
const detail = document.getElementById('compare-detail');
const list = root.querySelector('.compare-rows');
const rows = [...root.querySelectorAll('.crow')];
const traces = { a: root.dataset.a, b: root.dataset.b };
const MAX_LINES = 1500;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A value as text: strings as they are, other JSON pretty-printed. */
function asText(value) {
  if (value === null || value === undefined) return '';
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}

/** Line diff by longest common subsequence: [[' '|'-'|'+', line], ...]. */
export function diffLines(left, right) {
  const a = left.split('\n').slice(0, MAX_LINES);
  const b = right.split('\n').slice(0, MAX_LINES);
  const n = a.length;
  const m = b.length;
  const width = m + 1;
  const best = new Uint16Array((n + 1) * width);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      best[i * width + j] = a[i] === b[j]
        ? best[(i + 1) * width + j + 1] + 1
        : Math.max(best[(i + 1) * width + j], best[i * width + j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.push([' ', a[i]]);
      i++;
      j++;
    } else if (best[(i + 1) * width + j] >= best[i * width + j + 1]) {
      out.push(['-', a[i++]]);
    } else {
      out.push(['+', b[j++]]);
    }
  }
  while (i < n) out.push(['-', a[i++]]);
  while (j < m) out.push(['+', b[j++]]);
  return out;
}

async function fetchStep(side, id) {
  if (!id) return null;
  const answer = await api('GET', `/api/v1/traces/${encodeURIComponent(traces[side])}/steps/${encodeURIComponent(id)}`);
  if (!answer.ok) return { failed: problemText(answer.status, answer.body) };
  return answer.body;
}

function stepColumn(label, step) {
  const column = el('div', 'ccol');
  column.append(el('h3', '', label));
  if (!step) {
    column.append(el('p', 'muted', 'Not in this run.'));
    return column;
  }
  if (step.failed) {
    column.append(el('p', 'alert', step.failed));
    return column;
  }
  const head = el('p', 'cstep-name');
  head.append(el('span', `badge k-${step.kind}`, step.kind), document.createTextNode(` ${step.name}`));
  column.append(head);
  const facts = [];
  if (step.duration_ms != null) facts.push(`${step.duration_ms.toFixed(1)} ms`);
  if (step.model) facts.push(step.model);
  if (step.usage && step.usage.total_tokens != null) facts.push(`${step.usage.total_tokens} tokens`);
  if (step.cost != null) facts.push(`$${step.cost}`);
  column.append(el('p', 'muted small', facts.join(' · ')));
  if (step.error) {
    column.append(el('pre', 'cerror', `${step.error.type ? `${step.error.type}: ` : ''}${step.error.message}`));
  }
  column.append(el('h4', '', 'Input'));
  column.append(el('pre', 'cblock cinput', asText(step.input) || '(none)'));
  return column;
}

let current = 0;
async function show(row) {
  const ticket = ++current;
  for (const other of rows) other.setAttribute('aria-selected', other === row ? 'true' : 'false');
  detail.replaceChildren(el('p', 'muted', 'Loading…'));
  const [a, b] = await Promise.all([fetchStep('a', row.dataset.aStep), fetchStep('b', row.dataset.bStep)]);
  if (ticket !== current) return;
  const columns = el('div', 'ccols');
  columns.append(stepColumn('A', a), stepColumn('B', b));
  const diff = el('div', 'cdiff');
  diff.append(el('h4', '', 'Output: A → B'));
  const lines = diffLines(asText(a && !a.failed ? a.output : ''), asText(b && !b.failed ? b.output : ''));
  const pre = el('pre', 'diff');
  for (const [mark, line] of lines) {
    pre.append(el('span', mark === '+' ? 'add' : mark === '-' ? 'del' : 'same', `${mark} ${line}\n`));
  }
  if (!lines.some(([mark]) => mark !== ' ')) diff.append(el('p', 'muted small', 'The outputs are the same.'));
  diff.append(pre);
  detail.replaceChildren(columns, diff);
}

list.addEventListener('click', (event) => {
  const row = event.target.closest('.crow');
  if (row) {
    row.focus();
    show(row);
  }
});
list.addEventListener('keydown', (event) => {
  const at = rows.indexOf(document.activeElement);
  let next = -1;
  if (event.key === 'ArrowDown' || event.key === 'j') next = Math.min(rows.length - 1, at + 1);
  if (event.key === 'ArrowUp' || event.key === 'k') next = Math.max(0, at - 1);
  if (event.key === 'Enter' && at >= 0) {
    show(rows[at]);
    return;
  }
  if (next >= 0 && rows[next]) {
    event.preventDefault();
    rows[next].focus();
    show(rows[next]);
  }
});

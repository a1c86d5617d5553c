// AgentTrace: the trace page. One list that is both tree and waterfall (virtualized, fixed row
// height), a detail pane fetched per selected step, kind/error filters, in-trace search, keyboard
// navigation and URL state. No dependencies, no build step.
//
// Safety: every string that comes from a trace reaches the DOM as text (textContent, text nodes,
// `append(string)`) or through dataset/setAttribute on inert attributes. Nothing here uses
// innerHTML, and dynamic geometry goes through the CSSOM only (the page runs under a strict CSP).

const ROW_H = 24; // px; the CSS reads it from --row-h, set below
const BUFFER = 10; // rows rendered above and below the viewport
const BIG_TRACE = 2000; // above this many steps, deep subtrees start collapsed
const AUTO_COLLAPSE_DEPTH = 2; // 0-based depth from which subtrees start collapsed on big traces
const TEXT_LIMIT = 20000; // characters shown before "show all"
const CHILD_CHUNK = 200; // JSON tree children rendered per chunk
const SEARCH_DEBOUNCE = 200;
const DETAIL_DEBOUNCE = 110; // when moving with the keyboard
const DETAIL_CACHE = 64;

const KIND_ORDER = ['agent', 'chain', 'llm', 'tool', 'retrieval', 'embedding', 'thought', 'action',
  'observation', 'message', 'guardrail', 'handoff', 'error', 'custom'];
const KIND_LABEL = {
  llm: 'LLM', tool: 'TOOL', agent: 'AGENT', chain: 'CHAIN', retrieval: 'RETR', embedding: 'EMBED',
  thought: 'THOUGHT', action: 'ACTION', observation: 'OBS', message: 'MSG', guardrail: 'GUARD',
  handoff: 'HANDOFF', error: 'ERROR', custom: 'CUSTOM',
};
const F_ERROR = 1;
const F_RUNNING = 2;

/* ------------------------------------------------------------------ small helpers */

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = String(text);
  return e;
}

function button(cls, text, title) {
  const b = el('button', cls, text);
  b.type = 'button';
  if (title) b.title = title;
  return b;
}

const intFmt = new Intl.NumberFormat('en-US');
function fmtInt(v) {
  return intFmt.format(Math.round(v));
}

function fmtMs(ms) {
  if (ms == null || !Number.isFinite(ms)) return '';
  const a = Math.abs(ms);
  const sign = ms < 0 ? '-' : '';
  if (a < 1) return sign + (a === 0 ? '0 ms' : a.toFixed(2) + ' ms');
  if (a < 10) return sign + a.toFixed(1) + ' ms';
  if (a < 1000) return sign + Math.round(a) + ' ms';
  if (a < 10000) return sign + (a / 1000).toFixed(2) + ' s';
  if (a < 60000) return sign + (a / 1000).toFixed(1) + ' s';
  if (a < 3600000) {
    const m = Math.floor(a / 60000);
    return `${sign}${m}m ${Math.round((a - m * 60000) / 1000)}s`;
  }
  const h = Math.floor(a / 3600000);
  return `${sign}${h}h ${Math.round((a - h * 3600000) / 60000)}m`;
}

function fmtOffset(ms) {
  if (ms == null || !Number.isFinite(ms)) return '';
  if (Math.abs(ms) < 1000) return (ms < 0 ? '' : '+') + fmtMs(ms);
  return (ms < 0 ? '-' : '+') + (Math.abs(ms) / 1000).toFixed(2) + ' s';
}

function fmtCost(c) {
  if (c == null || !Number.isFinite(c)) return '';
  if (c === 0) return '$0';
  if (c < 0.0001) return '$' + c.toFixed(Math.min(12, 1 - Math.floor(Math.log10(c)))).replace(/0+$/, '');
  if (c < 1) return '$' + c.toFixed(4);
  return '$' + c.toFixed(2);
}

function num(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : NaN;
}

function isObj(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function plural(n, word) {
  return `${fmtInt(n)} ${word}${n === 1 ? '' : 's'}`;
}

function stringify(v) {
  if (typeof v === 'string') return v;
  try {
    return JSON.stringify(v, null, 2) ?? String(v);
  } catch {
    return String(v);
  }
}

/** The in-trace search, lower-cased: its matches are marked in the step detail too. */
let highlight = '';

/** Appends `s` as text, with the matches of the in-trace search marked. */
function appendMarked(parent, s) {
  if (!highlight) {
    parent.append(s);
    return;
  }
  const lower = s.toLowerCase();
  let last = 0;
  let at = lower.indexOf(highlight);
  while (at >= 0 && highlight) {
    if (at > last) parent.append(s.slice(last, at));
    parent.append(el('mark', 'hit', s.slice(at, at + highlight.length)));
    last = at + highlight.length;
    at = lower.indexOf(highlight, last);
  }
  if (last < s.length) parent.append(s.slice(last));
}

/** Appends `s` to `parent` as text, with redaction markers turned into small badges. */
const REDACT_RE = /\[REDACTED(?::([^\]\s]{1,80}))?\]/g;
function richText(parent, s) {
  if (s.indexOf('[REDACTED') < 0) {
    appendMarked(parent, s);
    return;
  }
  REDACT_RE.lastIndex = 0;
  let last = 0;
  let m;
  while ((m = REDACT_RE.exec(s)) !== null) {
    if (m.index > last) appendMarked(parent, s.slice(last, m.index));
    const what = m[1] || 'secret';
    const badge = el('span', 'redacted');
    badge.title = `A value was removed here (${what})`;
    badge.append(el('span', 'redacted-label', 'redacted'), what);
    parent.append(badge);
    last = m.index + m[0].length;
  }
  if (last < s.length) appendMarked(parent, s.slice(last));
}

/** A wrapped block of text; very long text is cut with a "show all" button. */
function textBlock(s, cls = 'text') {
  const box = el('div', cls);
  if (s.length <= TEXT_LIMIT) {
    richText(box, s);
    return box;
  }
  richText(box, s.slice(0, TEXT_LIMIT));
  const cut = el('span', 'cut', '…');
  const more = button('show-all', `Show all ${fmtInt(s.length)} characters`);
  more.addEventListener('click', () => {
    box.textContent = '';
    richText(box, s);
  });
  cut.append(' ', more);
  box.append(cut);
  return box;
}

async function copyText(text, btn) {
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch {
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.className = 'offscreen';
    document.body.append(ta);
    ta.select();
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    ta.remove();
  }
  if (btn) {
    if (!btn.dataset.label) btn.dataset.label = btn.textContent;
    btn.textContent = ok ? 'Copied' : 'Copy failed';
    btn.classList.add('flash');
    clearTimeout(btn._flashT);
    btn._flashT = setTimeout(() => {
      btn.textContent = btn.dataset.label;
      btn.classList.remove('flash');
    }, 1200);
  }
  return ok;
}

function isEditable(t) {
  if (!t || t === document.body) return false;
  const tag = t.tagName;
  return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || t.isContentEditable;
}

/* ------------------------------------------------------------------ value rendering by shape */

function isMsg(m) {
  return isObj(m) && typeof m.role === 'string' &&
    ('content' in m || 'tool_calls' in m || 'function_call' in m);
}

function omit(obj, keys) {
  const rest = {};
  let any = false;
  for (const k of Object.keys(obj)) {
    if (!keys.includes(k)) {
      rest[k] = obj[k];
      any = true;
    }
  }
  return any ? rest : null;
}

/** `{messages, rest}` when the value is a chat conversation, else null. */
function chatShape(v) {
  if (Array.isArray(v)) return v.length && v.every(isMsg) ? { messages: v, rest: null } : null;
  if (!isObj(v)) return null;
  if (Array.isArray(v.messages) && v.messages.length && v.messages.every(isMsg)) {
    let messages = v.messages;
    const skip = ['messages'];
    if (typeof v.system === 'string' && !messages.some((m) => m.role === 'system')) {
      messages = [{ role: 'system', content: v.system }, ...messages];
      skip.push('system');
    }
    return { messages, rest: omit(v, skip) };
  }
  if (Array.isArray(v.choices) && v.choices.length && v.choices.every((c) => isObj(c) && isMsg(c.message))) {
    return { messages: v.choices.map((c) => c.message), rest: omit(v, ['choices']) };
  }
  if (isMsg(v)) return { messages: [v], rest: omit(v, ['role', 'content', 'tool_calls', 'function_call', 'name', 'tool_call_id']) };
  return null;
}

function parseMaybeJson(s) {
  if (typeof s !== 'string') return s;
  const t = s.trim();
  if (!t || (t[0] !== '{' && t[0] !== '[') || t.length > 2000000) return s;
  try {
    return JSON.parse(t);
  } catch {
    return s;
  }
}

function toolCallBox(name, id, args) {
  const box = el('div', 'tool-call');
  const head = el('div', 'tc-head');
  head.append(el('span', 'tc-icon', 'ƒ'), el('span', 'tc-name', name || '(unnamed tool)'));
  if (id != null && id !== '') head.append(el('span', 'tc-id', String(id)));
  box.append(head);
  if (args !== undefined && args !== null && args !== '') {
    const parsed = parseMaybeJson(args);
    box.append(textBlock(typeof parsed === 'string' ? parsed : stringify(parsed), 'tc-args'));
  }
  const result = el('div', 'tc-result');
  result.hidden = true;
  box.append(result);
  return { box, result };
}

function fillToolResult(result, content) {
  result.hidden = false;
  result.append(el('div', 'tc-result-label', 'result'));
  renderContent(content, result, null);
}

/** Message content: a string, a list of parts (text, tool use, tool result, image), or JSON. */
function renderContent(content, into, calls) {
  if (content == null) return 0;
  if (typeof content === 'string') {
    if (content === '') return 0;
    const parsed = parseMaybeJson(content);
    into.append(typeof parsed === 'string' ? textBlock(content) : jsonView(parsed));
    return 1;
  }
  if (!Array.isArray(content)) {
    into.append(jsonView(content));
    return 1;
  }
  let count = 0;
  for (const part of content) {
    if (typeof part === 'string') {
      into.append(textBlock(part));
      count++;
    } else if (isObj(part) && typeof part.text === 'string' && (part.type === 'text' || part.type === 'output_text' || part.type === 'input_text' || part.type == null)) {
      into.append(textBlock(part.text));
      count++;
    } else if (isObj(part) && part.type === 'tool_use') {
      const tc = toolCallBox(part.name, part.id, part.input);
      if (calls && part.id != null) calls.set(String(part.id), tc.result);
      into.append(tc.box);
      count++;
    } else if (isObj(part) && part.type === 'tool_result') {
      const target = calls && part.tool_use_id != null ? calls.get(String(part.tool_use_id)) : null;
      if (target && target.hidden) {
        fillToolResult(target, part.content);
      } else {
        const box = el('div', 'tc-result loose');
        box.append(el('div', 'tc-result-label', `result${part.tool_use_id ? ' · ' + part.tool_use_id : ''}`));
        renderContent(part.content, box, null);
        into.append(box);
        count++;
      }
    } else if (isObj(part) && (part.type === 'image_url' || part.type === 'image' || part.type === 'input_image')) {
      const url = isObj(part.image_url) ? part.image_url.url : part.image_url || part.url;
      let label = '[image]';
      if (typeof url === 'string') label += ' ' + (url.startsWith('data:') ? url.slice(0, 40) + '…' : url);
      into.append(el('div', 'part-note', label));
      count++;
    } else {
      into.append(jsonView(part));
      count++;
    }
  }
  return count;
}

function renderConversation(messages) {
  const conv = el('div', 'conv');
  const calls = new Map(); // tool call id -> its result box
  for (const m of messages) {
    const role = m.role;
    if ((role === 'tool' || role === 'function') && m.tool_call_id != null) {
      const target = calls.get(String(m.tool_call_id));
      if (target && target.hidden) {
        fillToolResult(target, m.content);
        continue;
      }
    }
    const box = el('div', 'msg');
    box.dataset.role = role;
    const head = el('div', 'msg-head');
    head.append(el('span', 'msg-role', role));
    if (typeof m.name === 'string' && m.name) head.append(el('span', 'msg-name', m.name));
    if (m.tool_call_id != null) head.append(el('span', 'tc-id', String(m.tool_call_id)));
    box.append(head);
    const body = el('div', 'msg-body');
    let count = renderContent(m.content, body, calls);
    const toolCalls = Array.isArray(m.tool_calls) ? m.tool_calls : [];
    for (const tc of toolCalls) {
      if (!isObj(tc)) continue;
      const fn = isObj(tc.function) ? tc.function : tc;
      const made = toolCallBox(fn.name, tc.id, fn.arguments !== undefined ? fn.arguments : fn.args !== undefined ? fn.args : fn.input);
      if (tc.id != null) calls.set(String(tc.id), made.result);
      body.append(made.box);
      count++;
    }
    if (isObj(m.function_call)) {
      body.append(toolCallBox(m.function_call.name, null, m.function_call.arguments).box);
      count++;
    }
    if (count === 0) {
      // A message whose parts all went under earlier tool calls says nothing on its own.
      if (Array.isArray(m.content) && m.content.length) continue;
      body.append(el('span', 'none', '(empty)'));
    }
    box.append(body);
    conv.append(box);
  }
  return conv;
}

/** Collapsible JSON tree made of nested <details>; children are built when first opened. */
function jsonView(value, openDepth = 2) {
  const tree = el('div', 'jtree');
  if (value !== null && typeof value === 'object') {
    const isArr = Array.isArray(value);
    const keys = isArr ? null : Object.keys(value);
    const size = isArr ? value.length : keys.length;
    if (size === 0) {
      tree.append(el('span', 'j-empty', isArr ? '[ ]' : '{ }'));
    } else {
      appendChildren(tree, value, isArr, keys, 0, 0, openDepth);
    }
  } else {
    tree.append(jleaf(null, value));
  }
  return tree;
}

function jkey(key, isIndex) {
  return el('span', isIndex ? 'j-key j-idx' : 'j-key', String(key));
}

function preview(v) {
  let out = '';
  const isArr = Array.isArray(v);
  const keys = isArr ? null : Object.keys(v);
  const size = isArr ? v.length : keys.length;
  for (let i = 0; i < size && out.length < 90; i++) {
    const item = isArr ? v[i] : v[keys[i]];
    let s;
    if (item === null) s = 'null';
    else if (typeof item === 'string') s = JSON.stringify(item.length > 40 ? item.slice(0, 40) + '…' : item);
    else if (typeof item === 'object') s = Array.isArray(item) ? `[${item.length}]` : '{…}';
    else s = String(item);
    out += (i ? ', ' : '') + (isArr ? s : `${keys[i]}: ${s}`);
  }
  if (out.length > 100) out = out.slice(0, 100) + '…';
  return isArr ? `[ ${out} ]` : `{ ${out} }`;
}

function jnode(key, isIndex, v, depth, openDepth) {
  if (v === null || typeof v !== 'object') return jleaf(key, v, isIndex);
  const isArr = Array.isArray(v);
  const keys = isArr ? null : Object.keys(v);
  const size = isArr ? v.length : keys.length;
  if (size === 0) {
    const row = el('div', 'jl');
    if (key != null) row.append(jkey(key, isIndex));
    row.append(el('span', 'j-empty', isArr ? '[ ]' : '{ }'));
    return row;
  }
  const d = el('details', 'jn');
  const s = el('summary');
  if (key != null) s.append(jkey(key, isIndex));
  s.append(el('span', 'j-count', isArr ? `[${size}]` : `{${size}}`));
  s.append(el('span', 'j-prev', preview(v)));
  d.append(s);
  let built = false;
  const build = () => {
    if (built) return;
    built = true;
    const kids = el('div', 'j-kids');
    appendChildren(kids, v, isArr, keys, depth + 1, 0, openDepth);
    d.append(kids);
  };
  if (depth + 1 < openDepth && size <= 40) {
    d.open = true;
    build();
  }
  d.addEventListener('toggle', () => {
    if (d.open) build();
  });
  return d;
}

function appendChildren(into, v, isArr, keys, depth, from, openDepth) {
  const size = isArr ? v.length : keys.length;
  const to = Math.min(size, from + CHILD_CHUNK);
  for (let i = from; i < to; i++) {
    into.append(isArr ? jnode(i, true, v[i], depth, openDepth) : jnode(keys[i], false, v[keys[i]], depth, openDepth));
  }
  if (to < size) {
    const more = button('show-more', `Show ${fmtInt(Math.min(CHILD_CHUNK, size - to))} more of ${fmtInt(size - to)}`);
    more.addEventListener('click', () => {
      more.remove();
      appendChildren(into, v, isArr, keys, depth, to, openDepth);
    });
    into.append(more);
  }
}

function jleaf(key, v, isIndex) {
  const row = el('div', 'jl');
  if (key != null) row.append(jkey(key, isIndex));
  if (typeof v === 'string') {
    const s = textBlock(v, 'j-str');
    row.append(s);
  } else if (typeof v === 'number' || typeof v === 'bigint') {
    row.append(el('span', 'j-num', String(v)));
  } else if (typeof v === 'boolean') {
    row.append(el('span', 'j-bool', String(v)));
  } else {
    row.append(el('span', 'j-null', 'null'));
  }
  return row;
}

/** A value rendered by its shape: conversation, text, or JSON tree. */
function renderValue(v) {
  if (v === null || v === undefined || v === '') return el('p', 'none', '(none)');
  if (typeof v === 'string') {
    const parsed = parseMaybeJson(v);
    if (typeof parsed !== 'string') return renderValue(parsed);
    return textBlock(v);
  }
  if (typeof v !== 'object') return el('div', 'text mono', String(v));
  const chat = chatShape(v);
  if (chat) {
    const wrap = el('div', 'shape-chat');
    wrap.append(renderConversation(chat.messages));
    if (chat.rest) {
      const more = el('details', 'rest');
      more.append(el('summary', null, `Other fields (${Object.keys(chat.rest).length})`));
      more.append(jsonView(chat.rest, 1));
      wrap.append(more);
    }
    return wrap;
  }
  return jsonView(v);
}

/* ------------------------------------------------------------------ the page */

const page = document.getElementById('trace');
if (page) {
  try {
    init(page);
  } catch (err) {
    console.error(err);
    document.body.dataset.ready = 'error';
  }
}

function init(page) {
  const apiBase = (page.dataset.apiBase || '').replace(/\/+$/, '');
  const rowsEl = document.getElementById('rows');
  const toolbarEl = document.getElementById('toolbar');
  const rulerEl = document.getElementById('ruler');
  const detailEl = document.getElementById('detail');
  const paneEl = page.querySelector('.steps-pane');
  const bodyEl = page.querySelector('.trace-body');

  /* ---------------- data */
  let data = {};
  const dataEl = document.getElementById('trace-data');
  try {
    data = JSON.parse(dataEl ? dataEl.textContent : '{}') || {};
  } catch (err) {
    console.error('trace data', err);
    rowsEl.replaceChildren(el('p', 'rows-empty', 'The trace data on this page could not be read.'));
    document.body.dataset.ready = '1';
    return;
  }
  const raw = Array.isArray(data.steps) ? data.steps : [];
  const n = raw.length;
  const ids = new Array(n);
  const kinds = new Array(n);
  const names = new Array(n);
  const models = new Array(n);
  const parent = new Int32Array(n);
  const start = new Float64Array(n);
  const dur = new Float64Array(n);
  const flags = new Uint8Array(n);
  const tokens = new Float64Array(n);
  const costs = new Float64Array(n);
  const depth = new Uint16Array(n);
  const size = new Int32Array(n); // subtree size, self included
  const pos = new Int32Array(n); // preorder position
  const order = new Int32Array(n); // preorder position -> step index
  const posInSet = new Int32Array(n);
  const childCount = new Int32Array(n);
  const idIndex = new Map();
  const kindCounts = new Map();
  let errorCount = 0;
  let rootCount = 0;

  for (let i = 0; i < n; i++) {
    const r = Array.isArray(raw[i]) ? raw[i] : [];
    const id = r[0] == null ? `#${i}` : String(r[0]);
    ids[i] = id;
    if (!idIndex.has(id)) idIndex.set(id, i);
    const p = Number.isInteger(r[1]) && r[1] >= 0 && r[1] < n && r[1] !== i ? r[1] : -1;
    parent[i] = p;
    const k = typeof r[2] === 'string' && r[2] ? r[2].toLowerCase() : 'custom';
    kinds[i] = k;
    kindCounts.set(k, (kindCounts.get(k) || 0) + 1);
    names[i] = r[3] == null ? '' : String(r[3]);
    start[i] = num(r[4]);
    dur[i] = num(r[5]);
    flags[i] = Number.isInteger(r[6]) ? r[6] : 0;
    if (flags[i] & F_ERROR) errorCount++;
    models[i] = typeof r[7] === 'string' && r[7] ? r[7] : '';
    tokens[i] = num(r[8]);
    costs[i] = num(r[9]);
  }
  {
    // The tree in O(n). The contract sends parents before children, but nothing below relies on
    // it: child lists keep document order, a preorder walk gives every subtree a contiguous range
    // of positions (so collapsed subtrees are skipped in O(1)), and a step caught in a parent
    // cycle becomes a root instead of hanging the page.
    const firstChild = new Int32Array(n).fill(-1);
    const lastChild = new Int32Array(n).fill(-1);
    const nextSib = new Int32Array(n).fill(-1);
    for (let i = 0; i < n; i++) {
      const p = parent[i];
      if (p < 0) continue;
      if (lastChild[p] < 0) firstChild[p] = i;
      else nextSib[lastChild[p]] = i;
      lastChild[p] = i;
    }
    const seen = new Uint8Array(n);
    let c = 0;
    const walk = (r) => {
      let v = r;
      for (;;) {
        seen[v] = 1;
        pos[v] = c;
        order[c++] = v;
        let ch = firstChild[v];
        while (ch >= 0 && seen[ch]) ch = nextSib[ch];
        if (ch >= 0) {
          v = ch;
          continue;
        }
        for (;;) {
          if (v === r) return;
          let sib = nextSib[v];
          while (sib >= 0 && seen[sib]) sib = nextSib[sib];
          if (sib >= 0) {
            v = sib;
            break;
          }
          v = parent[v];
        }
      }
    };
    for (let i = 0; i < n; i++) if (parent[i] < 0) walk(i);
    for (let i = 0; i < n && c < n; i++) {
      if (!seen[i]) {
        parent[i] = -1;
        walk(i);
      }
    }
    for (let q = 0; q < n; q++) {
      const v = order[q];
      const p = parent[v];
      size[v] = 1;
      if (p >= 0) {
        depth[v] = Math.min(depth[p] + 1, 65535);
        posInSet[v] = ++childCount[p];
      } else {
        posInSet[v] = ++rootCount;
      }
    }
    for (let q = n - 1; q >= 0; q--) {
      const v = order[q];
      if (parent[v] >= 0) size[parent[v]] += size[v];
    }
  }
  const isErr = (i) => (flags[i] & F_ERROR) !== 0;
  const hasKids = (i) => size[i] > 1;
  const setSize = (i) => (parent[i] >= 0 ? childCount[parent[i]] : rootCount);

  /* ---------------- time axis */
  let known = 0;
  for (let i = 0; i < n; i++) if (!Number.isNaN(start[i])) known++;
  const seqMode = n > 0 && known === 0;
  const partial = known > 0 && known < n;
  const barL = new Float32Array(n);
  const barW = new Float32Array(n);
  const approx = new Uint8Array(n);
  let t0 = 0;
  let t1 = 0;
  let axisTotal = 1;
  if (seqMode) {
    axisTotal = n;
    for (let i = 0; i < n; i++) {
      barL[i] = (pos[i] / n) * 100;
      barW[i] = (size[i] / n) * 100;
    }
  } else {
    const est = new Float64Array(n);
    t1 = Number.isFinite(num(data.duration_ms)) ? data.duration_ms : 0;
    for (let q = 0; q < n; q++) {
      const i = order[q]; // parents first, so a missing start can borrow the parent's
      let s = start[i];
      if (Number.isNaN(s)) {
        s = parent[i] >= 0 ? est[parent[i]] : 0;
        approx[i] = 1;
      }
      est[i] = s;
      if (s < t0) t0 = s;
      const e = s + (Number.isNaN(dur[i]) ? 0 : dur[i]);
      if (e > t1) t1 = e;
    }
    if (!(t1 > t0)) t1 = t0 + 1;
    axisTotal = t1 - t0;
    for (let i = 0; i < n; i++) {
      let w = dur[i];
      if (Number.isNaN(w)) w = flags[i] & F_RUNNING ? t1 - est[i] : 0;
      barL[i] = ((est[i] - t0) / axisTotal) * 100;
      barW[i] = Math.max(0, Math.min(100 - barL[i], (w / axisTotal) * 100));
    }
  }

  /* ---------------- view state */
  const collapsed = new Uint8Array(n);
  if (n > BIG_TRACE) {
    for (let i = 0; i < n; i++) if (depth[i] >= AUTO_COLLAPSE_DEPTH && size[i] > 1) collapsed[i] = 1;
  }
  const direct = new Uint8Array(n); // passes the filters itself
  const keep = new Uint8Array(n); // passes, or has a descendant that does
  const hit = new Uint8Array(n); // search match
  let kindSel = new Set();
  let errorsOnly = false;
  let filterOn = false;
  let query = '';
  let qNorm = '';
  let hitList = null; // search hits in preorder, lazily computed
  let hitTotal = 0;
  let sel = -1;
  let pinned = -1; // a step shown despite the filters, because it was asked for (link, search, parent)
  const vis = new Int32Array(n);
  let visCount = 0;
  const visIdx = new Int32Array(n).fill(-1);
  let lowerNames = null;

  /* ---------------- URL state in */
  const params = new URLSearchParams(location.search);
  const kindParam = (params.get('kind') || '').split(',').map((s) => s.trim().toLowerCase()).filter((k) => kindCounts.has(k));
  kindSel = new Set(kindParam);
  errorsOnly = params.get('errors') === '1' || params.get('errors') === 'true';
  query = (params.get('q') || '').slice(0, 200);
  const stepParam = params.get('step');

  /* ---------------- layout scaffolding */
  rowsEl.style.setProperty('--row-h', ROW_H + 'px');
  rulerEl.style.setProperty('--row-h', ROW_H + 'px');
  const inner = el('div', 'rows-inner');
  inner.setAttribute('role', 'none');
  const emptyMsg = el('div', 'rows-empty');
  emptyMsg.hidden = true;
  rowsEl.replaceChildren(inner, emptyMsg);

  /* ---------------- toolbar */
  const chipsEl = el('div', 'chips');
  chipsEl.setAttribute('role', 'group');
  chipsEl.setAttribute('aria-label', 'Filter by kind');
  const chips = new Map();
  const presentKinds = [...kindCounts.keys()].sort((a, b) => {
    const ia = KIND_ORDER.indexOf(a);
    const ib = KIND_ORDER.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
  });
  for (const k of presentKinds) {
    const chip = button('kind-chip');
    chip.dataset.kind = k;
    chip.setAttribute('aria-pressed', 'false');
    chip.title = `Show only ${k} steps (and their parents)`;
    chip.append(el('span', 'swatch'), el('span', 'chip-label', KIND_LABEL[k] ? KIND_LABEL[k].toLowerCase() : k), el('span', 'chip-count', fmtInt(kindCounts.get(k))));
    chip.addEventListener('click', () => {
      if (kindSel.has(k)) kindSel.delete(k);
      else kindSel.add(k);
      applyFilters();
    });
    chips.set(k, chip);
    chipsEl.append(chip);
  }
  const errBtn = button('errors-toggle');
  errBtn.id = 'errors-only';
  errBtn.setAttribute('aria-pressed', 'false');
  errBtn.title = 'Show only failed steps (and their parents)';
  errBtn.append(el('span', 'emark', '✖'), el('span', null, 'errors only'), el('span', 'chip-count', fmtInt(errorCount)));
  errBtn.addEventListener('click', () => {
    errorsOnly = !errorsOnly;
    applyFilters();
  });

  const searchWrap = el('div', 'search');
  searchWrap.setAttribute('role', 'search');
  const searchInput = el('input');
  searchInput.type = 'search';
  searchInput.id = 'step-search';
  searchInput.placeholder = 'Search steps';
  searchInput.autocomplete = 'off';
  searchInput.spellcheck = false;
  searchInput.setAttribute('aria-label', 'Search steps (names, inputs, outputs, errors, metadata)');
  searchInput.setAttribute('aria-keyshortcuts', '/');
  searchInput.value = query;
  const kbd = el('kbd', 'kbd-hint', '/');
  kbd.setAttribute('aria-hidden', 'true');
  const countEl = el('span', 'search-count');
  countEl.setAttribute('aria-live', 'polite');
  const prevBtn = button('search-nav', '‹', 'Previous match (Shift+Enter)');
  const nextBtn = button('search-nav', '›', 'Next match (Enter)');
  prevBtn.setAttribute('aria-label', 'Previous match');
  nextBtn.setAttribute('aria-label', 'Next match');
  searchWrap.append(searchInput, kbd, countEl, prevBtn, nextBtn);
  const clearBtn = button('clear-filters', 'Clear', 'Clear search and filters (Esc)');
  clearBtn.hidden = true;
  clearBtn.addEventListener('click', () => clearAll());
  toolbarEl.replaceChildren(chipsEl, errBtn, searchWrap, clearBtn);

  /* ---------------- ruler */
  const rulerName = el('div', 'ruler-name');
  const rulerLane = el('div', 'ruler-lane');
  rulerLane.setAttribute('aria-hidden', 'true');
  rulerEl.replaceChildren(rulerName, rulerLane);
  const expandAll = button('tree-all', '⊞', 'Expand all');
  const collapseAll = button('tree-all', '⊟', 'Collapse all');
  expandAll.setAttribute('aria-label', 'Expand all');
  collapseAll.setAttribute('aria-label', 'Collapse all');
  expandAll.addEventListener('click', () => {
    collapsed.fill(0);
    rebuild();
  });
  collapseAll.addEventListener('click', () => {
    for (let i = 0; i < n; i++) collapsed[i] = size[i] > 1 ? 1 : 0;
    rebuild();
  });
  const rulerLabel = el('span', 'ruler-label', plural(n, 'step'));
  rulerName.append(expandAll, collapseAll, rulerLabel);
  if (seqMode || partial) {
    const note = el('span', 'axis-note', seqMode ? 'no timestamps · bars in step order' : 'some timestamps missing · estimated');
    note.title = seqMode
      ? 'This trace has no start times, so bars are placed by sequence order, not by time.'
      : 'Steps without a start time are drawn at their parent\'s start (dashed).';
    rulerName.append(note);
  }

  function niceStep(total, target) {
    const rawStep = total / Math.max(1, target);
    const mag = Math.pow(10, Math.floor(Math.log10(rawStep)));
    const f = rawStep / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
  }

  function tickLabel(v, step) {
    if (seqMode) return `#${fmtInt(v)}`;
    if (v === 0) return '0 ms';
    if (axisTotal < 2000 || step < 100) {
      const dec = step >= 1 ? 0 : Math.min(3, Math.ceil(-Math.log10(step)));
      return `${(v).toFixed(dec)} ms`;
    }
    const sec = v / 1000;
    const dec = Math.max(0, Math.min(3, Math.ceil(-Math.log10(step / 1000))));
    return `${sec.toFixed(dec)} s`;
  }

  let lastLaneW = -1;
  function drawRuler() {
    const laneW = rulerLane.clientWidth;
    if (laneW === lastLaneW || n === 0) return;
    lastLaneW = laneW;
    const target = Math.max(2, Math.min(10, Math.floor(laneW / 90)));
    let step = niceStep(axisTotal, target);
    if (seqMode) step = Math.max(1, Math.round(step));
    const lo = seqMode ? 0 : t0;
    const first = Math.ceil(lo / step) * step;
    const ticks = [];
    for (let v = first, guard = 0; v <= lo + axisTotal + 1e-9 && guard < 50; v += step, guard++) {
      const x = ((v - lo) / axisTotal) * 100;
      const t = el('span', 'tick');
      t.style.left = x + '%';
      const lab = el('span', 'tick-label', tickLabel(Math.round(v * 1000) / 1000, step));
      if (x > 88) t.classList.add('end');
      t.append(lab);
      ticks.push(t);
    }
    rulerLane.replaceChildren(...ticks);
    // Faint grid lines in the rows, one per tick.
    rowsEl.style.setProperty('--tick-w', (step / axisTotal) * laneW + 'px');
    rowsEl.style.setProperty('--tick-x', ((first - lo) / axisTotal) * laneW + 'px');
  }

  // Keep the ruler's lane aligned with the rows' lane when the list shows a scrollbar.
  let lastSbw = -1;
  function syncScrollbar() {
    const sbw = rowsEl.offsetWidth - rowsEl.clientWidth;
    if (sbw === lastSbw) return;
    lastSbw = sbw;
    rulerEl.style.setProperty('--sbw', sbw + 'px');
    drawRuler();
  }

  /* ---------------- filters, visibility */
  function computeFilters() {
    filterOn = kindSel.size > 0 || errorsOnly;
    if (!filterOn) return;
    for (let i = 0; i < n; i++) {
      direct[i] = (kindSel.size === 0 || kindSel.has(kinds[i])) && (!errorsOnly || isErr(i)) ? 1 : 0;
    }
    keep.set(direct);
    for (let p = n - 1; p >= 0; p--) {
      const i = order[p];
      if (keep[i] && parent[i] >= 0) keep[parent[i]] = 1;
    }
    if (pinned >= 0) pin(pinned);
    // Open the way to every match: a filter is useless if its results sit in collapsed subtrees.
    for (let i = 0; i < n; i++) {
      if (!direct[i]) continue;
      for (let p = parent[i]; p >= 0 && collapsed[p]; p = parent[p]) collapsed[p] = 0;
    }
  }

  function pin(i) {
    pinned = i;
    for (let p = i; p >= 0 && !keep[p]; p = parent[p]) keep[p] = 1;
  }

  function computeVisible() {
    let c = 0;
    let p = 0;
    visIdx.fill(-1);
    while (p < n) {
      const i = order[p];
      if (filterOn && !keep[i]) {
        p += size[i];
        continue;
      }
      visIdx[i] = c;
      vis[c++] = i;
      p += collapsed[i] ? size[i] : 1;
    }
    visCount = c;
    inner.style.height = c * ROW_H + 'px';
    emptyMsg.hidden = c > 0;
    if (c === 0) {
      emptyMsg.textContent = n === 0 ? 'This trace has no steps.' : 'No steps match these filters. ';
      if (n > 0) {
        const b = button('link', 'Clear filters');
        b.addEventListener('click', () => clearAll());
        emptyMsg.append(b);
      }
    }
  }

  function expandTo(i) {
    let changed = false;
    for (let p = parent[i]; p >= 0; p = parent[p]) {
      if (collapsed[p]) {
        collapsed[p] = 0;
        changed = true;
      }
    }
    return changed;
  }

  /* ---------------- rows (virtualized) */
  const rendered = new Map(); // step index -> row element
  const pool = [];

  function makeRow() {
    const row = el('div', 'row');
    row.setAttribute('role', 'treeitem');
    const name = el('div', 'cell-name');
    const tog = el('span', 'tog');
    tog.setAttribute('aria-hidden', 'true');
    const badge = el('span', 'badge');
    const nm = el('span', 'nm');
    const sub = el('span', 'sub');
    const more = el('span', 'more');
    const emark = el('span', 'emark', '✖');
    emark.setAttribute('aria-label', 'error');
    const run = el('span', 'run-dot');
    run.setAttribute('aria-label', 'running');
    name.append(tog, badge, nm, emark, run, more, sub);
    const lane = el('div', 'lane');
    const bar = el('span', 'bar');
    const durEl = el('span', 'dur');
    lane.append(bar, durEl);
    row.append(name, lane);
    row._p = { tog, badge, nm, sub, more, emark, run, bar, dur: durEl };
    row._i = -1;
    inner.append(row);
    return row;
  }

  function fillName(nmEl, i) {
    const name = names[i] || '(unnamed)';
    if (qNorm && hit[i] && lowerNames) {
      const at = lowerNames[i].indexOf(qNorm);
      if (at >= 0) {
        const mark = el('mark', null, name.slice(at, at + qNorm.length));
        nmEl.replaceChildren(name.slice(0, at), mark, name.slice(at + qNorm.length));
        return;
      }
    }
    nmEl.textContent = name;
  }

  function fill(row, i, vi) {
    const p = row._p;
    row._i = i;
    row.id = 'step-row-' + i;
    row.dataset.stepId = ids[i];
    row.dataset.kind = kinds[i];
    row.setAttribute('aria-level', String(depth[i] + 1));
    row.setAttribute('aria-setsize', String(setSize(i)));
    row.setAttribute('aria-posinset', String(posInSet[i]));
    const kids = hasKids(i);
    if (kids) row.setAttribute('aria-expanded', collapsed[i] ? 'false' : 'true');
    else row.removeAttribute('aria-expanded');
    row.setAttribute('aria-selected', i === sel ? 'true' : 'false');
    let cls = 'row';
    if (isErr(i)) cls += ' error';
    if (flags[i] & F_RUNNING) cls += ' running';
    if (i === sel) cls += ' selected';
    if (hit[i]) cls += ' match';
    if (filterOn && !direct[i]) cls += ' ctx';
    if (approx[i]) cls += ' approx';
    if (barW[i] < 0.3) cls += ' thin';
    row.className = cls;
    row.style.setProperty('--d', String(Math.min(depth[i], 40)));
    row.style.transform = `translateY(${vi * ROW_H}px)`;
    p.tog.textContent = kids ? (collapsed[i] ? '▸' : '▾') : '';
    p.badge.textContent = KIND_LABEL[kinds[i]] || kinds[i].slice(0, 7).toUpperCase();
    fillName(p.nm, i);
    p.sub.textContent = models[i];
    p.more.textContent = kids && collapsed[i] ? `+${fmtInt(size[i] - 1)}` : '';
    p.bar.style.left = barL[i] + '%';
    p.bar.style.width = barW[i] + '%';
    const d = fmtMs(dur[i]);
    p.dur.textContent = d;
    const end = barL[i] + barW[i];
    if (end <= 80) {
      p.dur.className = 'dur after';
      p.dur.style.left = end + '%';
      p.dur.style.right = '';
    } else if (barL[i] >= 20) {
      p.dur.className = 'dur before';
      p.dur.style.left = '';
      p.dur.style.right = 100 - barL[i] + '%';
    } else {
      p.dur.className = 'dur inside';
      p.dur.style.left = '';
      p.dur.style.right = 100 - end + '%';
    }
    let title = `${kinds[i]} · ${names[i]}`;
    if (d) title += ` · ${d}`;
    if (!Number.isNaN(start[i])) title += ` · starts ${fmtOffset(start[i])}`;
    if (isErr(i)) title += ' · error';
    row.title = title;
  }

  let renderQueued = false;
  function queueRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => {
      renderQueued = false;
      render(false);
    });
  }

  function render(full) {
    const top = rowsEl.scrollTop;
    const h = rowsEl.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW_H) - BUFFER);
    const last = Math.min(visCount, Math.ceil((top + h) / ROW_H) + BUFFER);
    for (const [i, row] of rendered) {
      const vi = visIdx[i];
      if (vi < first || vi >= last) {
        rendered.delete(i);
        row.hidden = true;
        row.removeAttribute('id');
        pool.push(row);
      }
    }
    for (let vi = first; vi < last; vi++) {
      const i = vis[vi];
      let row = rendered.get(i);
      if (!row) {
        row = pool.pop() || makeRow();
        row.hidden = false;
        rendered.set(i, row);
        fill(row, i, vi);
      } else if (full) {
        fill(row, i, vi);
      }
    }
    if (sel >= 0 && rendered.has(sel)) rowsEl.setAttribute('aria-activedescendant', 'step-row-' + sel);
    else rowsEl.removeAttribute('aria-activedescendant');
  }

  /** After any change to collapse state or filters. */
  function rebuild() {
    computeVisible();
    syncScrollbar();
    hitList = null;
    render(true);
    updateSearchCount();
  }

  function scrollToVisible(i, how) {
    const vi = visIdx[i];
    if (vi < 0) return;
    const h = rowsEl.clientHeight;
    const y = vi * ROW_H;
    if (how === 'center') {
      rowsEl.scrollTop = Math.max(0, y - h / 2 + ROW_H);
    } else if (y < rowsEl.scrollTop) {
      rowsEl.scrollTop = y;
    } else if (y + ROW_H > rowsEl.scrollTop + h) {
      rowsEl.scrollTop = y + ROW_H - h;
    }
  }

  function toggle(i, open, deep) {
    if (!hasKids(i)) return;
    const want = open === undefined ? !collapsed[i] : !open;
    if (deep) {
      for (let p = pos[i]; p < pos[i] + size[i]; p++) {
        const j = order[p];
        collapsed[j] = want && size[j] > 1 ? 1 : 0;
      }
    } else {
      if ((collapsed[i] === 1) === want) return;
      collapsed[i] = want ? 1 : 0;
    }
    rebuild();
  }

  /* ---------------- selection */
  function select(i, opts = {}) {
    if (i < 0 || i >= n) return;
    let changed = expandTo(i);
    if (filterOn && !keep[i]) {
      // Hidden by the filters: keep them, but show this step (dimmed) rather than select something invisible.
      pin(i);
      changed = true;
    }
    if (changed) {
      computeVisible();
      hitList = null;
    }
    const prev = sel;
    sel = i;
    scrollToVisible(i, opts.scroll || 'nearest');
    render(true);
    updateSearchCount();
    if (prev !== i || opts.force) showDetail(i, opts.immediate !== false);
    writeURL();
  }

  function moveBy(delta) {
    if (visCount === 0) return;
    let from = sel;
    while (from >= 0 && visIdx[from] < 0) from = parent[from]; // inside a collapsed subtree
    let vi = from >= 0 ? visIdx[from] : -1;
    if (vi < 0) vi = delta > 0 ? -1 : visCount;
    else if (from !== sel && delta < 0) vi += 1; // k lands on the collapsed ancestor itself
    vi = Math.max(0, Math.min(visCount - 1, vi + delta));
    select(vis[vi], { immediate: false });
  }

  function nextError(dir = 1) {
    if (errorCount === 0 || n === 0) return;
    const from = sel >= 0 ? pos[sel] : dir > 0 ? -1 : n;
    for (let k = 1; k <= n; k++) {
      const p = (((from + dir * k) % n) + n) % n;
      const i = order[p];
      if (isErr(i) && (!filterOn || keep[i])) {
        select(i, { scroll: 'center' });
        return;
      }
    }
  }

  /* ---------------- filters: apply, URL */
  function syncFilterButtons() {
    for (const [k, chip] of chips) chip.setAttribute('aria-pressed', kindSel.has(k) ? 'true' : 'false');
    errBtn.setAttribute('aria-pressed', errorsOnly ? 'true' : 'false');
    clearBtn.hidden = !(kindSel.size || errorsOnly || query);
  }

  function applyFilters() {
    pinned = -1;
    computeFilters();
    syncFilterButtons();
    computeVisible();
    hitList = null;
    if (sel >= 0 && visIdx[sel] >= 0) scrollToVisible(sel, 'nearest');
    else rowsEl.scrollTop = Math.min(rowsEl.scrollTop, Math.max(0, visCount * ROW_H - rowsEl.clientHeight));
    render(true);
    updateSearchCount();
    writeURL();
  }

  function clearAll() {
    const had = kindSel.size || errorsOnly || query;
    kindSel.clear();
    errorsOnly = false;
    if (query) {
      searchInput.value = '';
      setQuery('');
    }
    if (had) applyFilters();
  }

  let urlTimer = 0;
  let urlLast = 0;
  function writeURL() {
    const now = performance.now();
    clearTimeout(urlTimer);
    if (now - urlLast > 250) {
      urlLast = now;
      writeURLNow();
    } else {
      urlTimer = setTimeout(() => {
        urlLast = performance.now();
        writeURLNow();
      }, 260);
    }
  }
  function writeURLNow() {
    const sp = new URLSearchParams(location.search);
    for (const k of ['step', 'kind', 'errors', 'q']) sp.delete(k);
    const parts = [];
    if (sel >= 0) parts.push('step=' + encodeURIComponent(ids[sel]));
    if (kindSel.size) parts.push('kind=' + [...kindSel].map(encodeURIComponent).join(','));
    if (errorsOnly) parts.push('errors=1');
    if (query) parts.push('q=' + encodeURIComponent(query));
    const other = sp.toString();
    if (other) parts.push(other);
    const url = location.pathname + (parts.length ? '?' + parts.join('&') : '') + location.hash;
    try {
      history.replaceState(history.state, '', url);
    } catch {
      /* too many updates; the next one will catch up */
    }
  }

  function stepLink(i) {
    return location.origin + location.pathname + '?step=' + encodeURIComponent(ids[i]);
  }

  /* ---------------- search */
  let searchTimer = 0;
  let searchSeq = 0;
  let searchCtl = null;
  let serverNote = '';

  function setQuery(q) {
    query = q.trim() ? q : '';
    qNorm = query.trim().toLowerCase();
    highlight = qNorm;
    hit.fill(0);
    hitList = null;
    serverNote = '';
    clearTimeout(searchTimer);
    if (searchCtl) searchCtl.abort();
    if (query) {
      if (!lowerNames) lowerNames = names.map((s) => s.toLowerCase());
      for (let i = 0; i < n; i++) {
        if (lowerNames[i].includes(qNorm) || (models[i] && models[i].toLowerCase().includes(qNorm))) hit[i] = 1;
      }
      const mySeq = ++searchSeq;
      searchTimer = setTimeout(() => serverSearch(query.trim(), mySeq), SEARCH_DEBOUNCE);
    }
    syncFilterButtons();
    render(true);
    updateSearchCount();
    writeURL();
  }

  async function serverSearch(q, mySeq) {
    if (!apiBase || !q) return;
    searchCtl = new AbortController();
    countEl.classList.add('busy');
    try {
      const r = await fetch(`${apiBase}/search?q=${encodeURIComponent(q)}`, {
        credentials: 'same-origin',
        headers: { Accept: 'application/json' },
        signal: searchCtl.signal,
      });
      if (mySeq !== searchSeq) return;
      if (!r.ok) throw new Error(await problemDetail(r));
      const body = await r.json();
      if (mySeq !== searchSeq) return;
      const found = body && Array.isArray(body.step_ids) ? body.step_ids : [];
      for (const id of found) {
        const i = idIndex.get(String(id));
        if (i !== undefined) hit[i] = 1;
      }
      hitList = null;
      render(true);
    } catch (err) {
      if (err && err.name === 'AbortError') return;
      if (mySeq !== searchSeq) return;
      serverNote = 'names only';
      countEl.title = `Full-text search failed: ${err && err.message ? err.message : err}`;
    } finally {
      if (mySeq === searchSeq) countEl.classList.remove('busy');
    }
    updateSearchCount();
  }

  function hits() {
    if (hitList) return hitList;
    hitList = [];
    if (!query) return hitList;
    for (let p = 0; p < n; p++) {
      const i = order[p];
      if (hit[i] && (!filterOn || keep[i])) hitList.push(i);
    }
    hitTotal = hitList.length;
    return hitList;
  }

  function updateSearchCount() {
    if (!query) {
      countEl.textContent = '';
      searchWrap.classList.remove('active', 'none');
      return;
    }
    const list = hits();
    searchWrap.classList.add('active');
    searchWrap.classList.toggle('none', list.length === 0);
    let text;
    if (list.length === 0) text = 'no matches';
    else {
      const at = sel >= 0 && hit[sel] ? list.indexOf(sel) : -1;
      text = at >= 0 ? `${at + 1} / ${fmtInt(hitTotal)}` : `${fmtInt(hitTotal)} found`;
    }
    if (serverNote) text += ` · ${serverNote}`;
    countEl.textContent = text;
  }

  function stepHit(dir) {
    const list = hits();
    if (!list.length) return;
    let target;
    if (sel < 0) target = dir > 0 ? list[0] : list[list.length - 1];
    else {
      const here = pos[sel];
      if (dir > 0) target = list.find((i) => pos[i] > here) ?? list[0];
      else {
        target = list[list.length - 1];
        for (let k = list.length - 1; k >= 0; k--) {
          if (pos[list[k]] < here) {
            target = list[k];
            break;
          }
        }
      }
    }
    select(target, { scroll: 'center' });
  }

  searchInput.addEventListener('input', () => setQuery(searchInput.value));
  searchInput.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      stepHit(e.shiftKey ? -1 : 1);
    } else if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      if (searchInput.value) {
        searchInput.value = '';
        setQuery('');
      } else {
        rowsEl.focus({ preventScroll: true });
      }
    } else if (e.key === 'ArrowDown' && !e.altKey) {
      e.preventDefault();
      rowsEl.focus({ preventScroll: true });
    }
  });
  prevBtn.addEventListener('click', () => stepHit(-1));
  nextBtn.addEventListener('click', () => stepHit(1));

  /* ---------------- detail pane */
  const cache = new Map();
  let detailSeq = 0;
  let detailCtl = null;
  let detailTimer = 0;
  let pendingLoad = null;

  async function problemDetail(r) {
    let msg = '';
    try {
      const text = await r.text();
      try {
        const j = JSON.parse(text);
        msg = (j && (j.detail || j.title)) || '';
      } catch {
        msg = text.slice(0, 300);
      }
    } catch {
      /* no body */
    }
    return msg ? `${msg} (HTTP ${r.status})` : `The server answered ${r.status}.`;
  }

  function showDetail(i, immediate) {
    const id = ids[i];
    const head = detailHead(i, cache.get(id) || null);
    const body = el('div', 'detail-body');
    detailEl.replaceChildren(head, body);
    detailEl.scrollTop = 0;
    detailEl.dataset.stepId = id;
    clearTimeout(detailTimer);
    pendingLoad = null;
    if (detailCtl) detailCtl.abort();
    const mySeq = ++detailSeq;
    const cached = cache.get(id);
    if (cached) {
      fillDetail(i, body, cached);
      return;
    }
    body.append(skeleton());
    detailEl.setAttribute('aria-busy', 'true');
    const go = () => {
      pendingLoad = null;
      loadDetail(i, body, mySeq);
    };
    if (immediate) go();
    else {
      pendingLoad = go;
      detailTimer = setTimeout(go, DETAIL_DEBOUNCE);
    }
  }

  async function loadDetail(i, body, mySeq) {
    const id = ids[i];
    detailCtl = new AbortController();
    try {
      const r = await fetch(`${apiBase}/steps/${encodeURIComponent(id)}`, {
        credentials: 'same-origin',
        headers: { Accept: 'application/json' },
        signal: detailCtl.signal,
      });
      if (!r.ok) throw new Error(await problemDetail(r));
      const d = await r.json();
      if (mySeq !== detailSeq) return;
      cache.set(id, d);
      if (cache.size > DETAIL_CACHE) cache.delete(cache.keys().next().value);
      // Refresh the header with what the server knows (status, usage) and fill the body.
      detailEl.replaceChildren(detailHead(i, d), body);
      fillDetail(i, body, d);
    } catch (err) {
      if (err && err.name === 'AbortError') return;
      if (mySeq !== detailSeq) return;
      const box = el('div', 'fetch-error');
      box.setAttribute('role', 'alert');
      box.append(el('strong', null, 'Could not load this step. '));
      const msg = err && err.message && err.message !== 'Failed to fetch' ? err.message : 'The server could not be reached.';
      box.append(el('span', null, msg));
      const retry = button('retry', 'Retry');
      retry.addEventListener('click', () => showDetail(i, true));
      box.append(' ', retry);
      body.replaceChildren(box);
    } finally {
      if (mySeq === detailSeq) detailEl.removeAttribute('aria-busy');
    }
  }

  function skeleton() {
    const s = el('div', 'skeleton');
    s.setAttribute('aria-label', 'Loading');
    for (const w of ['w30', 'w90', 'w70', 'w20', 'w80', 'w60', 'w40']) s.append(el('div', 'skel ' + w));
    return s;
  }

  function statusOf(i, d) {
    if (d && typeof d.status === 'string') return d.status;
    if (isErr(i)) return 'error';
    if (flags[i] & F_RUNNING) return 'running';
    return 'ok';
  }

  function detailHead(i, d) {
    const head = el('header', 'detail-head');
    const top = el('div', 'dh-top');
    const kind = (d && typeof d.kind === 'string' && d.kind) || kinds[i];
    const badge = el('span', 'badge', KIND_LABEL[kind] || kind.toUpperCase());
    badge.dataset.kind = kind;
    const name = el('h2', 'detail-name', (d && typeof d.name === 'string' ? d.name : names[i]) || '(unnamed)');
    const status = statusOf(i, d);
    const st = el('span', 'status ' + (status === 'error' || status === 'running' || status === 'ok' ? status : 'other'));
    st.append(el('span', 'status-dot'), status === 'error' ? 'error' : status);
    const link = button('copy-link', 'Copy link', 'Copy a link to this step');
    link.addEventListener('click', () => copyText(stepLink(i), link));
    top.append(badge, name, st, link);
    head.append(top);

    const meta = el('div', 'dh-meta');
    const item = (label, value, cls) => {
      if (value === '' || value == null) return;
      const it = el('span', 'mi' + (cls ? ' ' + cls : ''));
      if (label) it.append(el('span', 'mi-l', label + ' '));
      it.append(el('span', 'mi-v', value));
      meta.append(it);
    };
    if (!Number.isNaN(start[i])) item('started', fmtOffset(start[i]));
    else if (d && d.start) item('started', String(d.start));
    const dms = d && Number.isFinite(num(d.duration_ms)) ? d.duration_ms : dur[i];
    item('took', fmtMs(dms));
    item('', (d && typeof d.model === 'string' && d.model) || models[i], 'model');
    const u = d && isObj(d.usage) ? d.usage : null;
    if (u && (Number.isFinite(num(u.input_tokens)) || Number.isFinite(num(u.output_tokens)))) {
      const bits = [];
      if (Number.isFinite(num(u.input_tokens))) bits.push(`${fmtInt(u.input_tokens)} in`);
      if (Number.isFinite(num(u.output_tokens))) bits.push(`${fmtInt(u.output_tokens)} out`);
      item('tokens', bits.join(' / '));
    } else {
      const t = u && Number.isFinite(num(u.total_tokens)) ? u.total_tokens : tokens[i];
      if (Number.isFinite(t)) item('tokens', fmtInt(t));
    }
    const c = d && Number.isFinite(num(d.cost)) ? d.cost : costs[i];
    item('cost', fmtCost(c));
    if (parent[i] >= 0) {
      const it = el('span', 'mi');
      it.append(el('span', 'mi-l', 'in '));
      const up = button('link parent-link', names[parent[i]] || '(unnamed)', 'Select the parent step');
      up.addEventListener('click', () => select(parent[i], { scroll: 'center' }));
      it.append(up);
      meta.append(it);
    }
    head.append(meta);
    return head;
  }

  function section(title, cls, value, opts = {}) {
    const sec = el('section', 'dsec ' + cls);
    const head = el('div', 'dsec-head');
    head.append(el('h3', null, title));
    const body = el('div', 'dsec-body');
    const empty = value === null || value === undefined || value === '';
    if (!empty && !opts.noActions) {
      const actions = el('div', 'dsec-actions');
      const rawBtn = button('raw-toggle', 'raw', 'Show the raw JSON');
      rawBtn.setAttribute('aria-pressed', 'false');
      let pretty = null;
      rawBtn.addEventListener('click', () => {
        const on = rawBtn.getAttribute('aria-pressed') !== 'true';
        rawBtn.setAttribute('aria-pressed', on ? 'true' : 'false');
        if (on) {
          pretty = [...body.childNodes];
          body.replaceChildren(textBlock(stringify(value), 'pre'));
        } else if (pretty) {
          body.replaceChildren(...pretty);
        }
      });
      const copy = button('copy', 'copy', `Copy the ${title.toLowerCase()}`);
      copy.addEventListener('click', () => copyText(stringify(value), copy));
      actions.append(rawBtn, copy);
      head.append(actions);
    }
    body.append(opts.render ? opts.render(value) : renderValue(value));
    sec.append(head, body);
    return sec;
  }

  function errorSection(err) {
    const sec = el('section', 'dsec detail-error');
    const head = el('div', 'dsec-head');
    head.append(el('h3', null, 'Error'));
    const body = el('div', 'dsec-body');
    if (typeof err === 'string') {
      body.append(textBlock(err, 'err-msg'));
    } else {
      const type = isObj(err) && err.type != null ? String(err.type) : '';
      const message = isObj(err) && err.message != null ? (typeof err.message === 'string' ? err.message : stringify(err.message)) : '';
      if (type) body.append(el('div', 'err-type', type));
      if (message) body.append(textBlock(message, 'err-msg'));
      const stack = isObj(err) && err.stack != null ? (typeof err.stack === 'string' ? err.stack : stringify(err.stack)) : '';
      if (stack) {
        const det = el('details', 'stack');
        const lines = stack.split('\n').length;
        det.append(el('summary', null, `stack (${plural(lines, 'line')})`));
        det.append(textBlock(stack, 'pre'));
        body.append(det);
      }
      if (!type && !message && !stack) body.append(jsonView(err));
      const copy = button('copy', 'copy', 'Copy the error');
      copy.addEventListener('click', () => copyText([type, message, stack].filter(Boolean).join('\n'), copy));
      const actions = el('div', 'dsec-actions');
      actions.append(copy);
      head.append(actions);
    }
    sec.append(head, body);
    return sec;
  }

  function metadataView(md) {
    if (!isObj(md)) return renderValue(md);
    const keys = Object.keys(md);
    if (!keys.length) return el('p', 'none', '(none)');
    const dl = el('dl', 'kv');
    for (const k of keys.slice(0, 500)) {
      const v = md[k];
      dl.append(el('dt', null, k));
      const dd = el('dd');
      if (v !== null && typeof v === 'object') dd.append(jsonView(v, 1));
      else if (typeof v === 'string') dd.append(textBlock(v, 'kv-str'));
      else dd.append(el('span', v === null ? 'j-null' : typeof v === 'boolean' ? 'j-bool' : 'j-num', String(v)));
      dl.append(dd);
    }
    if (keys.length > 500) dl.append(el('dt', 'none', `… ${fmtInt(keys.length - 500)} more (see raw JSON)`));
    return dl;
  }

  function fillDetail(i, body, d) {
    const parts = [];
    if (!isObj(d)) {
      body.replaceChildren(el('p', 'fetch-error', 'The server sent an unexpected answer for this step.'));
      return;
    }
    if (d.error != null && d.error !== '') parts.push(errorSection(d.error));
    else if (statusOf(i, d) === 'error') {
      const note = el('section', 'dsec detail-error');
      const head = el('div', 'dsec-head');
      head.append(el('h3', null, 'Error'));
      note.append(head, el('p', 'none', 'This step failed without an error message.'));
      parts.push(note);
    }
    parts.push(section('Input', 'detail-input', d.input));
    const running = statusOf(i, d) === 'running';
    if (running && (d.output === null || d.output === undefined)) {
      const sec = section('Output', 'detail-output', null);
      sec.querySelector('.none').textContent = '(none yet: the step is still running)';
      parts.push(sec);
    } else {
      parts.push(section('Output', 'detail-output', d.output));
    }
    if (isObj(d.metadata) ? Object.keys(d.metadata).length : d.metadata != null) {
      parts.push(section('Metadata', 'detail-metadata', d.metadata, { render: metadataView }));
    }
    const rawDet = el('details', 'dsec raw-json');
    const sum = el('summary', null, 'Raw JSON');
    rawDet.append(sum);
    rawDet.addEventListener('toggle', () => {
      if (!rawDet.open || rawDet._built) return;
      rawDet._built = true;
      const copy = button('copy', 'copy', 'Copy the raw JSON');
      const text = stringify(d);
      copy.addEventListener('click', () => copyText(text, copy));
      const bar = el('div', 'raw-actions');
      bar.append(copy);
      rawDet.append(bar, textBlock(text, 'pre'));
    });
    parts.push(rawDet);
    const idLine = el('p', 'step-id');
    idLine.append('step id ', el('code', null, ids[i]));
    parts.push(idLine);
    body.replaceChildren(...parts);
  }

  /* ---------------- events: rows */
  rowsEl.addEventListener('scroll', queueRender, { passive: true });
  rowsEl.addEventListener('click', (e) => {
    const row = e.target.closest('.row');
    if (!row || row._i < 0) return;
    const i = row._i;
    if (e.target.closest('.tog')) {
      toggle(i, undefined, e.shiftKey || e.altKey);
    } else {
      select(i);
    }
    rowsEl.focus({ preventScroll: true });
  });
  rowsEl.addEventListener('dblclick', (e) => {
    const row = e.target.closest('.row');
    if (row && row._i >= 0 && !e.target.closest('.tog')) toggle(row._i);
  });

  function pageRows() {
    return Math.max(1, Math.floor(rowsEl.clientHeight / ROW_H) - 1);
  }

  function onListKey(e) {
    const k = e.key;
    switch (k) {
      case 'ArrowDown':
        moveBy(1);
        break;
      case 'ArrowUp':
        moveBy(-1);
        break;
      case 'PageDown':
        moveBy(pageRows());
        break;
      case 'PageUp':
        moveBy(-pageRows());
        break;
      case 'Home':
        if (visCount) select(vis[0], { immediate: false });
        break;
      case 'End':
        if (visCount) select(vis[visCount - 1], { immediate: false });
        break;
      case 'ArrowLeft':
        if (sel < 0) moveBy(1);
        else if (hasKids(sel) && !collapsed[sel]) toggle(sel, false, e.shiftKey);
        else if (parent[sel] >= 0) select(parent[sel], { immediate: false });
        break;
      case 'ArrowRight':
        if (sel < 0) moveBy(1);
        else if (hasKids(sel) && collapsed[sel]) toggle(sel, true, e.shiftKey);
        else if (hasKids(sel)) moveBy(1);
        break;
      case 'Enter':
        if (sel < 0) moveBy(1);
        else if (detailEl.dataset.stepId !== ids[sel]) showDetail(sel, true);
        else if (pendingLoad) {
          clearTimeout(detailTimer);
          pendingLoad();
        }
        break;
      case ' ':
        if (sel >= 0 && hasKids(sel)) toggle(sel);
        else return false;
        break;
      case '*':
        if (sel >= 0) toggle(sel, true, true);
        break;
      default:
        return false;
    }
    return true;
  }

  document.addEventListener('keydown', (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (isEditable(t)) return;
    const k = e.key;
    const inList = t === rowsEl || t === document.body || t === document.documentElement;
    let handled = true;
    if (k === '/') {
      searchInput.focus();
      searchInput.select();
    } else if (k === 'j') {
      moveBy(1);
      if (!inList) rowsEl.focus({ preventScroll: true });
    } else if (k === 'k') {
      moveBy(-1);
      if (!inList) rowsEl.focus({ preventScroll: true });
    } else if (k === 'e' || k === 'E') {
      nextError(e.shiftKey ? -1 : 1);
    } else if (k === 'Escape') {
      if (kindSel.size || errorsOnly || query) clearAll();
      else handled = false;
    } else if (inList) {
      handled = onListKey(e);
      if (handled && t !== rowsEl) rowsEl.focus({ preventScroll: true });
    } else {
      handled = false;
    }
    if (handled) e.preventDefault();
  });

  /* ---------------- layout: fill the window, splitter */
  const narrowMq = window.matchMedia('(max-width: 860px)');
  function fitHeight() {
    if (narrowMq.matches) {
      bodyEl.style.height = '';
    } else {
      const top = bodyEl.getBoundingClientRect().top + window.scrollY;
      bodyEl.style.height = Math.max(360, Math.floor(window.innerHeight - top)) + 'px';
    }
  }

  const splitter = el('div', 'splitter');
  splitter.setAttribute('role', 'separator');
  splitter.setAttribute('aria-orientation', 'vertical');
  splitter.setAttribute('aria-label', 'Resize the step list');
  splitter.tabIndex = 0;
  paneEl.after(splitter);
  let split = 0;
  try {
    split = parseFloat(localStorage.getItem('agenttrace.split') || '0') || 0;
  } catch {
    split = 0;
  }
  function applySplit() {
    if (split > 0 && !narrowMq.matches) {
      const w = bodyEl.clientWidth;
      const px = Math.max(320, Math.min(w - 300, split * w));
      paneEl.style.flexBasis = px + 'px';
    } else {
      paneEl.style.flexBasis = '';
    }
  }
  function setSplitPx(px) {
    const w = bodyEl.clientWidth || 1;
    split = Math.max(0.2, Math.min(0.85, px / w));
    applySplit();
    try {
      localStorage.setItem('agenttrace.split', split.toFixed(3));
    } catch {
      /* private mode */
    }
  }
  splitter.addEventListener('pointerdown', (e) => {
    e.preventDefault();
    splitter.setPointerCapture(e.pointerId);
    splitter.classList.add('dragging');
    const left = bodyEl.getBoundingClientRect().left;
    const move = (ev) => setSplitPx(ev.clientX - left);
    const up = () => {
      splitter.classList.remove('dragging');
      splitter.removeEventListener('pointermove', move);
      splitter.removeEventListener('pointerup', up);
      splitter.removeEventListener('pointercancel', up);
    };
    splitter.addEventListener('pointermove', move);
    splitter.addEventListener('pointerup', up);
    splitter.addEventListener('pointercancel', up);
  });
  splitter.addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
    e.preventDefault();
    e.stopPropagation();
    setSplitPx(paneEl.getBoundingClientRect().width + (e.key === 'ArrowLeft' ? -32 : 32));
  });
  splitter.addEventListener('dblclick', () => {
    split = 0;
    applySplit();
    try {
      localStorage.removeItem('agenttrace.split');
    } catch {
      /* ignore */
    }
  });

  const onResize = () => {
    fitHeight();
    applySplit();
    syncScrollbar();
    drawRuler();
    queueRender();
  };
  window.addEventListener('resize', onResize);
  if (typeof ResizeObserver === 'function') {
    const ro = new ResizeObserver(() => {
      syncScrollbar();
      drawRuler();
      queueRender();
    });
    ro.observe(rowsEl);
    const head = page.querySelector('.trace-head');
    if (head) new ResizeObserver(() => fitHeight()).observe(head);
  }

  /* ---------------- first render */
  fitHeight();
  applySplit();
  computeFilters();
  syncFilterButtons();
  computeVisible();
  if (query) setQuery(query);
  syncScrollbar();
  drawRuler();
  const initial = stepParam != null ? idIndex.get(stepParam) : undefined;
  if (initial !== undefined) {
    select(initial, { scroll: 'center' });
  } else {
    render(true);
    if (stepParam != null) {
      const note = el('p', 'fetch-error', 'The step in this link is not part of this trace.');
      detailEl.replaceChildren(note);
    }
  }
  updateSearchCount();
  if (sel < 0 && n > 0 && detailEl.querySelector('.hint')) {
    const keys = el('p', 'keys');
    for (const [k, what] of [['j k', 'move'], ['← →', 'fold'], ['/', 'search'], ['e', 'next error'], ['Esc', 'clear']]) {
      const item = el('span', 'key-item');
      for (const part of k.split(' ')) item.append(el('kbd', null, part));
      item.append(' ' + what);
      keys.append(item);
    }
    detailEl.append(keys);
  }
  document.body.dataset.ready = '1';
}

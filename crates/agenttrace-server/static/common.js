// Shared by the pages' scripts: API calls with the session's CSRF token, and problem details.

/** The session's CSRF token, rendered into the page by the server. */
export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute('content') : '';
}

/**
 * Calls the API with the session cookie; changes carry the CSRF token. Resolves to
 * `{ok, status, body}` where body is the parsed JSON (or null).
 */
export async function api(method, path, body, headers = {}) {
  const init = { method, credentials: 'same-origin', headers: { ...headers } };
  if (method !== 'GET' && method !== 'HEAD') {
    init.headers['x-csrf-token'] = csrfToken();
  }
  if (body !== undefined) {
    if (typeof body === 'string' || body instanceof Blob || body instanceof FormData) {
      init.body = body;
    } else {
      init.body = JSON.stringify(body);
      init.headers['content-type'] = 'application/json';
    }
  }
  const response = await fetch(path, init);
  let parsed = null;
  const text = await response.text();
  if (text) {
    try { parsed = JSON.parse(text); } catch { parsed = { detail: text }; }
  }
  return { ok: response.ok, status: response.status, body: parsed };
}

/** A problem document as one line a person can act on. */
export function problemText(status, problem) {
  if (!problem) return `The server answered ${status}.`;
  let text = problem.detail || problem.title || `The server answered ${status}.`;
  const where = [];
  if (problem.pointer) where.push(`at ${problem.pointer}`);
  if (problem.line) where.push(`line ${problem.line}${problem.column ? `, column ${problem.column}` : ''}`);
  if (where.length) text += ` (${where.join('; ')})`;
  return text;
}

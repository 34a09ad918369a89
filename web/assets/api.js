// The HTTP API, with the session cookie. Requests that change state echo the
// pretnum_csrf cookie in X-CSRF-Token, as the server asks of cookie sessions.

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

function csrf() {
  const m = document.cookie.match(/(?:^|;\s*)pretnum_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : '';
}

export async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrf();
  let payload;
  if (body instanceof FormData) {
    payload = body;
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  if (opts.idempotencyKey) headers['Idempotency-Key'] = opts.idempotencyKey;
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', signal: opts.signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', '');
  }
  if (res.status === 204) return null;
  let data = null;
  const type = res.headers.get('Content-Type') || '';
  if (type.startsWith('application/json')) data = await res.json().catch(() => null);
  if (!res.ok) {
    const e = data && data.error ? data.error : { code: `http_${res.status}`, message: res.statusText };
    throw new ApiError(res.status, e.code, e.message, Number(res.headers.get('Retry-After')) || 0);
  }
  return data;
}

export const get = (path, opts) => api('GET', path, undefined, opts);
export const post = (path, body, opts) => api('POST', path, body === undefined ? {} : body, opts);
export const patch = (path, body) => api('PATCH', path, body);
export const del = (path) => api('DELETE', path);

export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '' && v !== false) u.set(k, v);
  const s = u.toString();
  return s ? `?${s}` : '';
}

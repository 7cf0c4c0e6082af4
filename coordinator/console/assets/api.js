/** The REST API as the console calls it: the session's bearer token on every request, JSON in and out, errors with their codes. */

const KEY = 'cohort.console.token';

export const session = {
  get token() {
    return sessionStorage.getItem(KEY);
  },
  set(token) {
    sessionStorage.setItem(KEY, token);
  },
  clear() {
    sessionStorage.removeItem(KEY);
  },
};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Called when the server refuses the token (401): the app goes back to the sign-in form. */
let onUnauthorized = () => undefined;
export const whenUnauthorized = (fn) => {
  onUnauthorized = fn;
};

/**
 * GET (or POST with a body) a JSON route with the session's token.
 * @example const fed = await api(`/api/federations/${id}`)
 */
export async function api(path, { method = 'GET', body, token = session.token } = {}) {
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json().catch(() => null);
  if (!res.ok) {
    if (res.status === 401) onUnauthorized();
    throw new ApiError(res.status, json?.error?.code ?? 'HTTP', json?.error?.message ?? `${res.status} ${res.statusText}`);
  }
  return json;
}

/** The rows of a list answer, whether paged (`{ items, total }`) or named (`{ rounds: [...] }`). */
export function rows(body, name) {
  const list = body?.items ?? body?.[name] ?? (Array.isArray(body) ? body : []);
  return { items: list, total: typeof body?.total === 'number' ? body.total : list.length };
}

export const fedPath = (federation, rest = '') => `/api/federations/${encodeURIComponent(federation)}${rest}`;

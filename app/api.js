// The cancellation API, as the app calls it. Every request names the app
// (X-Dropship-Client: app) so cancellations made here are attributed to it.

const KEY_ITEM = 'dropship.apiKey';

/** The API origin from <meta name="dropship-api-base">; empty means this origin. */
function apiBase() {
  const meta = document.querySelector('meta[name="dropship-api-base"]');
  return (meta?.content ?? '').trim().replace(/\/+$/, '');
}

export const session = {
  key: () => sessionStorage.getItem(KEY_ITEM),
  set: (key) => sessionStorage.setItem(KEY_ITEM, key),
  clear: () => sessionStorage.removeItem(KEY_ITEM),
};

/** A refused or failed request: `status` 0 means the server was not reached. */
export class ApiError extends Error {
  constructor(status, problem) {
    const detail = typeof problem?.detail === 'string' && problem.detail.trim()
      ? problem.detail
      : (problem?.title || `The server answered with status ${status}.`);
    super(detail);
    this.status = status;
    this.code = typeof problem?.code === 'string' ? problem.code : null;
    this.detail = detail;
  }
}

/** A fresh Idempotency-Key (works outside secure contexts too). */
export function newIdempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return 'app-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** `accept` other than JSON: the answer's body comes back as a Blob. */
async function request(method, path, { body, idempotencyKey, key, accept } = {}) {
  const headers = {
    Accept: accept ?? 'application/json',
    Authorization: `Bearer ${key ?? session.key() ?? ''}`,
    'X-Dropship-Client': 'app',
  };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
  let res;
  try {
    res = await fetch(apiBase() + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch {
    throw new ApiError(0, { detail: 'Could not reach the server. Check your connection and try again.' });
  }
  if (accept && res.ok) return res.blob();
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

const orderPath = (id) => `/v1/orders/${encodeURIComponent(id)}`;

export const api = {
  me: (key) => request('GET', '/v1/me', { key }),
  orders({ status, cursor, limit } = {}) {
    const q = new URLSearchParams();
    if (status) q.set('status', status);
    if (limit) q.set('limit', String(limit));
    if (cursor) q.set('cursor', cursor);
    const qs = q.toString();
    return request('GET', '/v1/orders' + (qs ? `?${qs}` : ''));
  },
  order: (id) => request('GET', orderPath(id)),
  /** What a whole-order cancellation would cancel now (nothing is written). */
  previewOrderCancellation: (id, reason) =>
    request('POST', `${orderPath(id)}/cancellations?preview=true`, { body: { reason } }),
  /** `body` is `{reason}` or `{items: [{line_item_id, quantity, reason}]}`. */
  cancel: (id, body, idempotencyKey) =>
    request('POST', `${orderPath(id)}/cancellations`, { body, idempotencyKey }),
  /** Cancellation figures per partner over the last `days` (7, 30 or 90). */
  scorecard: (days) => request('GET', `/v1/scorecard?days=${days}`),
  scorecardCsv: (days) => request('GET', `/v1/scorecard?days=${days}&format=csv`, { accept: 'text/csv' }),
};

/** Codes meaning the order changed under us: reload and show its new state. */
export const STALE_CODES = new Set(['conflict', 'quantity_exceeds_open', 'nothing_to_cancel']);

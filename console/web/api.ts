/** The page's calls to its server. Every call but login carries the session's CSRF token. */
export interface Session {
  name: string;
  role: string;
  csrf: string;
  canCommand: boolean;
}

let csrf = '';

export function setCsrf(token: string): void {
  csrf = token;
}

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export async function api<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(method !== 'GET' ? { 'x-csrf-token': csrf } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : method === 'POST' ? { body: '{}', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf } } : {}),
  });
  const text = await res.text();
  const data = text ? (JSON.parse(text) as unknown) : undefined;
  if (!res.ok) throw new ApiError(res.status, (data as { error?: string } | undefined)?.error ?? `${res.status} ${res.statusText}`);
  return data as T;
}

/** A GET whose answer is binary (an error still comes as JSON). */
export async function apiBytes(path: string): Promise<ArrayBuffer> {
  const res = await fetch(path, { credentials: 'same-origin' });
  if (!res.ok) {
    const text = await res.text();
    let error: string | undefined;
    try {
      error = (JSON.parse(text) as { error?: string }).error;
    } catch {
      // not JSON: the status says it
    }
    throw new ApiError(res.status, error ?? `${res.status} ${res.statusText}`);
  }
  return res.arrayBuffer();
}

/** Creates an element with text content only: device strings are never parsed as HTML. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

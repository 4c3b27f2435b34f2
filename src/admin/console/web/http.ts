/// <reference lib="dom" />
/** Calls to the console's JSON API on the admin server that served this page. */

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** Fired when the API answers 401: the app shows the login form. */
export const loginNeeded = new EventTarget();

async function parse<T>(res: Response): Promise<T> {
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (res.ok) return body as T;
  if (res.status === 401) loginNeeded.dispatchEvent(new Event('login'));
  throw new ApiFailure(res.status, String(body.error ?? res.status), String(body.message ?? res.statusText), body);
}

export async function apiGet<T = Record<string, unknown>>(name: string, params: Record<string, string | number> = {}): Promise<T> {
  const query = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString();
  return parse<T>(await fetch(`/console/api/${name}${query ? `?${query}` : ''}`, { credentials: 'same-origin' }));
}

export async function apiPost<T = Record<string, unknown>>(name: string, body: Record<string, unknown>): Promise<T> {
  const res = await fetch(`/console/api/${name}`, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-Paddock-Console': '1' },
    body: JSON.stringify(body),
  });
  return parse<T>(res);
}

export function feedUrl(path: string): string {
  return `/console/api/feed?${new URLSearchParams({ path }).toString()}`;
}

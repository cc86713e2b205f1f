/**
 * The signed-in session, as the unit sent it, and the one way to call its API: JSON in and out, the session's CSRF
 * token on every call that changes something, and sign-in again when the session has ended.
 */

export interface Session {
  user: string;
  agency: string;
  role: string;
  unit: string;
  csrf: string;
  permissions: string[];
  home: string;
  screens: Array<{ path: string; title: string }>;
}

export let session: Session | null = null;

export function setSession(s: Session): void {
  session = s;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function api<T>(method: string, url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && session) headers['X-CSRF-Token'] = session.csrf;
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  const data = (await res.json().catch(() => ({}))) as { error?: string };
  if (res.status === 401 && !url.startsWith('/api/login')) {
    location.assign('/login');
    throw new ApiError(401, data.error ?? 'not signed in');
  }
  if (!res.ok) throw new ApiError(res.status, data.error ?? `${res.status} ${res.statusText}`);
  return data as T;
}

/** Whether the session's role holds `permission` (what to offer; the unit decides). */
export function can(permission: string): boolean {
  return session?.permissions.includes(permission) ?? false;
}

import type Database from 'better-sqlite3';
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AccessLog } from '../access/access-log.js';
import { AccessDenied, type Permission, type Principal } from '../access/roles.js';
import { requireSession, tokenHash } from '../access/session.js';

/**
 * Sessions of the screens: the same session records as the command line's (src/access/session.ts), the token
 * kept by the browser in an HttpOnly, SameSite=Strict cookie (Secure, and __Host- prefixed, over HTTPS). The
 * CSRF token is derived from the session token, so a page can only learn it from /api/session (which the
 * cookie, not the page, authenticates) and it outlives a restart of the unit as the session does.
 */

export function cookieName(tls: boolean): string {
  return tls ? '__Host-alpr-session' : 'alpr-session';
}

export function sessionCookie(token: string, tls: boolean, maxAgeS: number): string {
  return `${cookieName(tls)}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.max(0, Math.floor(maxAgeS))}${tls ? '; Secure' : ''}`;
}

export function clearedCookie(tls: boolean): string {
  return `${cookieName(tls)}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${tls ? '; Secure' : ''}`;
}

/** The session token in a Cookie header, if any. */
export function tokenOf(cookieHeader: string | undefined, tls: boolean): string | undefined {
  if (!cookieHeader) return undefined;
  const name = cookieName(tls);
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const v = part.slice(eq + 1).trim();
      return /^[A-Za-z0-9_-]{20,100}$/.test(v) ? v : undefined;
    }
  }
  return undefined;
}

export function csrfOf(token: string): string {
  return createHmac('sha256', token).update('alpr-edge ui csrf').digest('base64url');
}

export function csrfMatches(token: string, given: string | undefined): boolean {
  if (!given) return false;
  const want = Buffer.from(csrfOf(token));
  const got = Buffer.from(given);
  return want.length === got.length && timingSafeEqual(want, got);
}

/** An answer that ends a request: HTTP status and the text shown to the person. */
export class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The person behind a request's cookie if they may do `permission` (null: anyone signed in); otherwise the
 * refusal is written to the access log (by requireSession) and an HttpRefusal thrown: 401 without a live
 * session, 403 for a role that may not.
 */
export function principalOf(db: Database.Database, log: AccessLog, token: string | undefined, permission: Permission | null): Principal {
  try {
    return requireSession(db, log, token, permission);
  } catch (err) {
    if (err instanceof AccessDenied) {
      if (/^role /.test(err.message)) throw new HttpRefusal(403, err.message);
      if (/^account /.test(err.message)) throw new HttpRefusal(401, err.message);
      throw new HttpRefusal(401, 'not signed in, or the session has ended: sign in again');
    }
    throw err;
  }
}

/**
 * Whether a session is still live, without touching its idle timer (an open alert stream is not a person using
 * the unit: it must not keep a session alive for ever).
 */
export function sessionLive(db: Database.Database, sessionId: string, now: number): boolean {
  const row = db
    .prepare(
      `SELECT s.revoked_at, s.expires_at, s.last_used_at, s.idle_ms, u.state FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.id = ?`,
    )
    .get(sessionId) as { revoked_at: number | null; expires_at: number; last_used_at: number; idle_ms: number; state: string } | undefined;
  return !!row && row.revoked_at === null && now < row.expires_at && now - row.last_used_at < row.idle_ms && row.state === 'active';
}

/** The session id of a token (for a refusal record that names the session), if the token is known. */
export function sessionIdOf(db: Database.Database, token: string): { id: string; user: string; agency: string; role: string } | undefined {
  return db
    .prepare('SELECT s.id, s.user_name AS user, u.agency, u.role FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.token_hash = ?')
    .get(tokenHash(token)) as { id: string; user: string; agency: string; role: string } | undefined;
}

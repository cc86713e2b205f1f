import type Database from 'better-sqlite3';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { AccessLog } from './access-log.js';
import { AccessDenied, can, type Permission, type Principal, type Role } from './roles.js';
import { accessDefaults, type AccessConfig } from './schema.js';

/**
 * Sessions: what a sign-in gives. The token is 32 random bytes handed to the person once (kept by the command
 * line in a 0600 file); the database keeps only its SHA-256, so a copy of the database cannot be used to act as
 * anyone. A session ends when unused for `access.sessionMinutes`, `access.sessionMaxHours` after sign-in, at
 * sign-out, or when an admin disables the user, resets their password or second factor.
 */

/** What each permission allows, in the words of the refusal ("role officer may not search stored reads"). */
export const PERMISSION_WORDS: Record<Permission, string> = {
  'reads.search': 'search stored reads',
  'reads.images': 'view the images of stored reads',
  'reads.export': 'export stored reads',
  'reads.deleted': 'see logically deleted reads',
  'hits.history': 'see the history of hot list hits',
  'hotlist.edit': 'change hot lists',
  'alerts.ack': 'acknowledge alerts',
  'users.manage': 'manage users',
  'holds.manage': 'place or release evidence holds',
  'releases.approve': 'approve releases',
  'unit.operate': 'operate the unit (health, config, cameras)',
  'audit.read': 'read the access log and audit reports',
};

export const SESSION_ENV = 'ALPR_EDGE_SESSION';

export interface NewSession {
  /** Give it to the person once; it is not stored. */
  token: string;
  id: string;
  expiresAt: number;
  idleMs: number;
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Creates a session for a user who has just signed in; call it inside the sign-in's transaction. */
export function createSession(db: Database.Database, user: string, now: number, policy: Pick<AccessConfig, 'sessionMinutes' | 'sessionMaxHours'>): NewSession {
  const token = randomBytes(32).toString('base64url');
  const id = randomUUID();
  const idleMs = policy.sessionMinutes * 60_000;
  const expiresAt = now + Math.round(policy.sessionMaxHours * 3_600_000);
  db.prepare(
    'INSERT INTO sessions (id, token_hash, user_name, created_at, last_used_at, idle_ms, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  ).run(id, tokenHash(token), user, now, now, idleMs, expiresAt);
  return { token, id, expiresAt, idleMs };
}

interface SessionRow {
  id: string;
  user_name: string;
  created_at: number;
  last_used_at: number;
  idle_ms: number;
  expires_at: number;
  revoked_at: number | null;
  agency: string;
  role: Role;
  state: string;
}

export interface SessionInfo {
  principal: Principal;
  createdAt: number;
  lastUsedAt: number;
  /** When it ends if not used before then (idle timeout), or at its maximum age, whichever is first. */
  endsAt: number;
}

/**
 * The person behind a session token, if they may do `permission` (any of several, if a list; any signed-in
 * person, if null). Otherwise the refusal is written to the access log (action: the permission, outcome
 * 'refused') and AccessDenied is thrown with what to do. On success the session's idle timer restarts.
 *
 * Call it outside the transaction of the access itself: a refusal must be committed, not rolled back with it.
 */
export function requireSession(...args: Parameters<typeof checkSession>): Principal {
  return checkSession(...args).principal;
}

/** requireSession, with the session's times (for `alpr-edge whoami`). */
export function checkSession(
  db: Database.Database,
  log: AccessLog,
  token: string | undefined,
  permission: Permission | readonly Permission[] | null,
  now: number = log.clock(),
): SessionInfo {
  if (db.inTransaction) throw new Error('requireSession must run outside a transaction: a refusal it records would be rolled back');
  const wanted = permission === null ? [] : typeof permission === 'string' ? [permission] : [...permission];
  const action = wanted.length > 0 ? wanted.join('|') : 'session';
  const refuse = (who: { user: string; agency: string; role: Role | null }, reason: string, message: string, sessionId?: string): never => {
    db.transaction(() => {
      log.append({ ...who, action, outcome: 'refused', query: sessionId ? { session: sessionId } : undefined, result: { reason } });
    }).immediate();
    throw new AccessDenied(message);
  };
  const anonymous = { user: '(not signed in)', agency: '', role: null };
  if (token === undefined || token.trim() === '') {
    return refuse(anonymous, 'not signed in', 'not signed in: run `alpr-edge login`');
  }
  const row = db
    .prepare(
      `SELECT s.id, s.user_name, s.created_at, s.last_used_at, s.idle_ms, s.expires_at, s.revoked_at, u.agency, u.role, u.state
       FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.token_hash = ?`,
    )
    .get(tokenHash(token.trim())) as SessionRow | undefined;
  if (!row) return refuse(anonymous, 'unknown session token', 'not signed in (the session is unknown): run `alpr-edge login`');
  const who = { user: row.user_name, agency: row.agency, role: row.role };
  if (row.revoked_at !== null) {
    return refuse(who, 'session ended', 'session ended (signed out, or ended by an admin): run `alpr-edge login`', row.id);
  }
  if (now >= row.expires_at || now - row.last_used_at >= row.idle_ms) {
    const why = now >= row.expires_at ? 'maximum session length reached' : 'idle too long';
    return refuse(who, `session expired: ${why}`, `session expired (${why}): run \`alpr-edge login\``, row.id);
  }
  if (row.state !== 'active') {
    return refuse(who, `account ${row.state}`, `account ${row.user_name} is ${row.state}: ask an administrator`, row.id);
  }
  if (wanted.length > 0 && !wanted.some((p) => can(row.role, p))) {
    const words = wanted.map((p) => PERMISSION_WORDS[p]).join(' or ');
    return refuse(who, 'permission denied', `role ${row.role} may not ${words}`, row.id);
  }
  db.prepare('UPDATE sessions SET last_used_at = ? WHERE id = ?').run(now, row.id);
  return {
    principal: { user: row.user_name, agency: row.agency, role: row.role, sessionId: row.id },
    createdAt: row.created_at,
    lastUsedAt: now,
    endsAt: Math.min(row.expires_at, now + row.idle_ms),
  };
}

/** Ends the session of a token (sign-out), recording it. Returns false if there was no live session. */
export function revokeSession(db: Database.Database, log: AccessLog, token: string, now: number = log.clock()): boolean {
  return db
    .transaction(() => {
      const row = db
        .prepare('SELECT s.id, s.user_name, s.revoked_at, u.agency, u.role FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.token_hash = ?')
        .get(tokenHash(token.trim())) as { id: string; user_name: string; revoked_at: number | null; agency: string; role: Role } | undefined;
      if (!row || row.revoked_at !== null) return false;
      db.prepare('UPDATE sessions SET revoked_at = ? WHERE id = ?').run(now, row.id);
      log.append({ user: row.user_name, agency: row.agency, role: row.role, action: 'logout', outcome: 'ok', query: { session: row.id } });
      return true;
    })
    .immediate();
}

/** Ends every live session of a user (disabled, deleted, password or second factor reset). */
export function revokeUserSessions(db: Database.Database, user: string, now: number): number {
  return db.prepare('UPDATE sessions SET revoked_at = ? WHERE user_name = ? AND revoked_at IS NULL').run(now, user).changes;
}

/** Deletes sessions that ended more than a day ago (they have no further use; sign-ins are in the access log). */
export function purgeSessions(db: Database.Database, now: number): number {
  const dayAgo = now - 86_400_000;
  return db
    .prepare('DELETE FROM sessions WHERE revoked_at < ? OR expires_at < ? OR last_used_at + idle_ms < ?')
    .run(dayAgo, dayAgo, dayAgo).changes;
}

// ---- the command line's session file ----

/** The config keys the session file needs; `access` is optional until it is part of the unit's config. */
export interface SessionConfig {
  access?: AccessConfig;
}

export function accessConfigOf(config: SessionConfig): AccessConfig {
  return config.access ?? accessDefaults();
}

export function sessionFilePath(config: SessionConfig, env: NodeJS.ProcessEnv = process.env): string {
  const file = accessConfigOf(config).sessionFile;
  if (file !== '') return path.resolve(file);
  return path.join(env.HOME && env.HOME !== '' ? env.HOME : homedir(), '.alpr-edge', 'session');
}

/** The token of the current session: $ALPR_EDGE_SESSION if set, else the session file's; undefined if neither. */
export function currentSession(config: SessionConfig, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const fromEnv = env[SESSION_ENV]?.trim();
  if (fromEnv) return fromEnv;
  const file = sessionFilePath(config, env);
  let st;
  try {
    st = lstatSync(file);
  } catch {
    return undefined;
  }
  if (!st.isFile()) throw new AccessDenied(`the session file ${file} is not a plain file: remove it and run \`alpr-edge login\``);
  if ((st.mode & 0o077) !== 0) {
    throw new AccessDenied(`the session file ${file} can be read by other users (mode ${(st.mode & 0o777).toString(8)}): remove it and run \`alpr-edge login\``);
  }
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
    throw new AccessDenied(`the session file ${file} belongs to another user: run \`alpr-edge login\` as yourself`);
  }
  const token = readFileSync(file, 'utf8').trim();
  return token === '' ? undefined : token;
}

/**
 * Writes the token to the session file, 0600 from its first byte, in a folder of mode 0700. The default folder
 * ($HOME/.alpr-edge) is created or tightened; a configured folder that others can enter is refused.
 */
export function writeSessionFile(config: SessionConfig, token: string, env: NodeJS.ProcessEnv = process.env): string {
  const file = sessionFilePath(config, env);
  const dir = path.dirname(file);
  const isDefault = accessConfigOf(config).sessionFile === '';
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new AccessDenied(`${dir} is not a folder; cannot keep the session file there`);
  if ((st.mode & 0o077) !== 0) {
    if (isDefault) chmodSync(dir, 0o700);
    else {
      throw new AccessDenied(
        `the folder ${dir} can be entered by other users (mode ${(st.mode & 0o777).toString(8)}); access.sessionFile must be in a folder of mode 0700`,
      );
    }
  }
  rmSync(file, { force: true });
  writeFileSync(file, token + '\n', { mode: 0o600, flag: 'wx' });
  return file;
}

export function removeSessionFile(config: SessionConfig, env: NodeJS.ProcessEnv = process.env): boolean {
  const file = sessionFilePath(config, env);
  try {
    lstatSync(file);
  } catch {
    return false;
  }
  rmSync(file, { force: true });
  return true;
}

/**
 * For data commands: the signed-in person, if they may do `permission`; else AccessDenied (the refusal logged).
 * No session file, no access, whatever the operating-system user is.
 */
export function requirePrincipal(
  config: SessionConfig,
  db: Database.Database,
  log: AccessLog,
  permission: Permission | readonly Permission[] | null,
  now: number = log.clock(),
): Principal {
  let token: string | undefined;
  try {
    token = currentSession(config);
  } catch (err) {
    // an unusable session file is still an attempt at access: record it before refusing
    if (err instanceof AccessDenied) {
      try {
        requireSession(db, log, undefined, permission, now);
      } catch {
        // the refusal is recorded; the file's problem is the clearer message
      }
    }
    throw err;
  }
  return requireSession(db, log, token, permission, now);
}

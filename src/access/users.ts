import * as argon2 from 'argon2';
import type Database from 'better-sqlite3';
import type { AccessLog } from './access-log.js';
import { AccessDenied, can, ROLES, TWO_FACTOR_ROLES, type Principal, type Role } from './roles.js';
import { accessDefaults, type AccessConfig } from './schema.js';
import { createSession, revokeUserSessions } from './session.js';
import { generateTotpSecret, otpauthUrl, verifyTotp } from './totp.js';
import { recordChange } from './user-changes.js';
import { rowMap } from '../util/rows.js';

export { accountTies, userChanges, type UserChange } from './user-changes.js';

/**
 * Users of the unit's data (LAPD 3/568.53, CA DOJ 429.4): named accounts with one role each, an argon2id password
 * hash, a TOTP second factor for the roles that reach stored reads, lock-out after repeated failures, suspension
 * after a year unused, and leavers marked deleted (never removed, so the access log keeps naming them). Every
 * sign-in attempt and every change to a user is written to the access log in the transaction that makes it.
 */

export type UserState = 'active' | 'suspended' | 'deactivated' | 'deleted';

export const MIN_PASSWORD_LENGTH = 12;
const MAX_PASSWORD_LENGTH = 1024;
const NAME = /^[a-z0-9][a-z0-9._@-]{0,63}$/;

/** argon2id at the library's defaults (64 MiB, 3 passes, 4 lanes): about half a second on a Raspberry Pi 4. */
const HASH_OPTIONS = { type: argon2.argon2id } as const;

export class UserError extends Error {
  override name = 'UserError';
}

export interface UserRecord {
  name: string;
  agency: string;
  role: Role;
  state: UserState;
  stateReason: string | null;
  stateChangedAt: number;
  stateChangedBy: string;
  createdAt: number;
  createdBy: string;
  lastLoginAt: number | null;
  failedLogins: number;
  lockedUntil: number | null;
  /** Enrolled in a one-time code. */
  twoFactor: boolean;
}

/** Shown once, when a user is created or their second factor reset; not retrievable afterwards. */
export interface TotpEnrolment {
  secret: string;
  url: string;
}

interface UserRow {
  name: string;
  agency: string;
  role: Role;
  password_hash: string | null;
  totp_secret: string | null;
  totp_last_step: number;
  state: UserState;
  state_reason: string | null;
  state_changed_at: number;
  state_changed_by: string;
  created_at: number;
  created_by: string;
  last_login_at: number | null;
  failed_logins: number;
  locked_until: number | null;
}

const USER = rowMap<UserRecord>()(
  `name agency role state state_reason state_changed_at state_changed_by created_at created_by last_login_at failed_logins
   locked_until twoFactor=totp_secret:nonnull`,
);
const toRecord = (r: UserRow): UserRecord => USER.toObject(r);

export function normaliseName(name: string): string {
  const n = name.trim().toLowerCase();
  if (!NAME.test(n)) throw new UserError(`user name ${JSON.stringify(name)} is not valid: 1-64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit`);
  return n;
}

/** The password policy: at least 12 characters, and not the user's name. */
export function checkPassword(password: string, name: string): void {
  if ([...password].length < MIN_PASSWORD_LENGTH) throw new UserError(`the password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  if (password.length > MAX_PASSWORD_LENGTH) throw new UserError(`the password must have at most ${MAX_PASSWORD_LENGTH} characters`);
  if (password.toLowerCase().includes(name.toLowerCase())) throw new UserError('the password must not contain the user name');
}

function getRow(db: Database.Database, name: string): UserRow | undefined {
  return db.prepare('SELECT * FROM users WHERE name = ?').get(name) as UserRow | undefined;
}

export function getUser(db: Database.Database, name: string): UserRecord | undefined {
  const row = getRow(db, name.trim().toLowerCase());
  return row && toRecord(row);
}

/** Every user, deleted ones included, without password hashes or secrets. */
export function listUsers(db: Database.Database): UserRecord[] {
  return (db.prepare('SELECT * FROM users ORDER BY name').all() as UserRow[]).map(toRecord);
}

function needsTwoFactor(role: Role, policy: Pick<AccessConfig, 'twoFactorAllRoles'>): boolean {
  return TWO_FACTOR_ROLES.includes(role) || policy.twoFactorAllRoles;
}

function enrolment(name: string, issuer: string): TotpEnrolment {
  const secret = generateTotpSecret();
  return { secret, url: otpauthUrl({ issuer, account: name, secret }) };
}

export interface ManageOptions {
  now?: number;
  policy?: AccessConfig;
  /** Shown by the authenticator app next to the code (e.g. "alpr-edge unit-01"). */
  issuer?: string;
}

/**
 * Checks that `actor` is a signed-in person (a live session of theirs) allowed to manage users; otherwise records
 * the refusal and throws AccessDenied. Runs in its own transaction, before the change.
 */
function requireManager(db: Database.Database, log: AccessLog, actor: Principal, action: string, target: string, now: number): void {
  const row = db
    .prepare(
      `SELECT u.role, u.state FROM sessions s JOIN users u ON u.name = s.user_name
       WHERE s.id = ? AND s.user_name = ? AND s.revoked_at IS NULL AND s.expires_at > ? AND s.last_used_at + s.idle_ms > ?`,
    )
    .get(actor.sessionId, actor.user, now, now) as { role: Role; state: UserState } | undefined;
  let reason: string | null = null;
  if (!row || row.state !== 'active') reason = 'no live session';
  else if (!can(row.role, 'users.manage')) reason = 'permission denied';
  if (reason === null) return;
  db.transaction(() => {
    log.append({ user: actor.user, agency: actor.agency, role: row?.role ?? actor.role, action, outcome: 'refused', query: { user: target }, result: { reason } });
  }).immediate();
  throw new AccessDenied(reason === 'permission denied' ? `role ${row!.role} may not manage users` : 'not signed in (no live session): run `alpr-edge login`');
}

export interface NewUser {
  name: string;
  agency: string;
  role: Role;
  password: string;
}

/**
 * Creates a user. `actor` must be allowed to manage users, or be 'bootstrap' to create the first admin of a unit
 * that has no user at all. Returns the TOTP enrolment (null for a role without a second factor): show it once.
 */
export async function addUser(
  db: Database.Database,
  log: AccessLog,
  actor: Principal | 'bootstrap',
  input: NewUser,
  opts: ManageOptions = {},
): Promise<{ user: UserRecord; totp: TotpEnrolment | null }> {
  const now = opts.now ?? log.clock();
  const policy = opts.policy ?? accessDefaults();
  const name = normaliseName(input.name);
  const agency = input.agency.trim();
  const action = actor === 'bootstrap' ? 'user.bootstrap' : 'user.add';
  if (!ROLES.includes(input.role)) throw new UserError(`role ${JSON.stringify(input.role)} is not one of ${ROLES.join(', ')}`);
  if (agency === '') throw new UserError('the agency is required (ORI or name)');
  if (actor !== 'bootstrap') requireManager(db, log, actor, action, name, now);
  else if (input.role !== 'admin') throw new UserError('bootstrap creates the first admin only');
  checkPassword(input.password, name);
  const hash = await argon2.hash(input.password, HASH_OPTIONS);
  const totp = needsTwoFactor(input.role, policy) ? enrolment(name, opts.issuer ?? 'alpr-edge') : null;
  const by = actor === 'bootstrap' ? '(bootstrap)' : actor.user;
  // the check and the insert in one write transaction: two bootstraps at once cannot both succeed
  const outcome = db
    .transaction(() => {
      if (actor === 'bootstrap') {
        const users = (db.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n;
        if (users > 0) {
          log.append({ user: '(bootstrap)', agency, role: null, action, outcome: 'refused', query: { user: name }, result: { reason: 'users exist already' } });
          return 'bootstrap-refused' as const;
        }
      }
      if (getRow(db, name)) return 'exists' as const;
      db.prepare(
        `INSERT INTO users (name, agency, role, password_hash, totp_secret, state, state_changed_at, state_changed_by, created_at, created_by)
         VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?, ?)`,
      ).run(name, agency, input.role, hash, totp?.secret ?? null, now, by, now, by);
      recordChange(db, name, action, by, now);
      log.append({
        user: by,
        agency: actor === 'bootstrap' ? agency : actor.agency,
        role: actor === 'bootstrap' ? null : actor.role,
        action,
        outcome: 'ok',
        query: { user: name },
        result: { role: input.role, agency, twoFactor: totp !== null },
      });
      return 'ok' as const;
    })
    .immediate();
  if (outcome === 'bootstrap-refused') throw new AccessDenied('this unit has users already: an admin adds users with `alpr-edge user add`');
  if (outcome === 'exists') throw new UserError(`user ${name} exists already (names of deleted users are not reused)`);
  return { user: toRecord(getRow(db, name)!), totp };
}

/** A change of state by an admin: the row updated and the change logged in one transaction. */
function changeState(
  db: Database.Database,
  log: AccessLog,
  actor: Principal,
  nameIn: string,
  to: UserState,
  action: string,
  reason: string | undefined,
  now: number,
): UserRecord {
  const name = normaliseName(nameIn);
  requireManager(db, log, actor, action, name, now);
  db.transaction(() => {
    const row = getRow(db, name);
    if (!row) throw new UserError(`no user ${name}`);
    if (row.state === 'deleted') throw new UserError(`user ${name} is deleted; a deleted account is not changed again (add a new user)`);
    if (row.state === to) throw new UserError(`user ${name} is ${to} already`);
    if (row.role === 'admin' && to !== 'active') {
      const admins = (db.prepare(`SELECT count(*) AS n FROM users WHERE role = 'admin' AND state = 'active' AND name <> ?`).get(name) as { n: number }).n;
      if (admins === 0) throw new UserError(`${name} is the last active admin; add another admin first`);
    }
    if (to === 'deleted') {
      db.prepare(
        `UPDATE users SET state = 'deleted', password_hash = NULL, totp_secret = NULL, state_reason = ?, state_changed_at = ?, state_changed_by = ? WHERE name = ?`,
      ).run(reason ?? null, now, actor.user, name);
    } else {
      // enabling restarts the inactivity count and clears a lock-out
      db.prepare(
        `UPDATE users SET state = ?, state_reason = ?, state_changed_at = ?, state_changed_by = ?,
         failed_logins = CASE WHEN ? = 'active' THEN 0 ELSE failed_logins END,
         locked_until = CASE WHEN ? = 'active' THEN NULL ELSE locked_until END
         WHERE name = ?`,
      ).run(to, reason ?? null, now, actor.user, to, to, name);
    }
    if (to !== 'active') revokeUserSessions(db, name, now);
    recordChange(db, name, action, actor.user, now);
    log.append({ user: actor.user, agency: actor.agency, role: actor.role, action, outcome: 'ok', query: { user: name }, result: { from: row.state, to, reason: reason ?? null } });
  }).immediate();
  return toRecord(getRow(db, name)!);
}

/** Deactivates an account (it cannot sign in; attempts are logged as such); `enableUser` undoes it. */
export function disableUser(db: Database.Database, log: AccessLog, actor: Principal, name: string, reason?: string, now = log.clock()): UserRecord {
  return changeState(db, log, actor, name, 'deactivated', 'user.disable', reason, now);
}

/** Makes a suspended or deactivated account active again (the inactivity count restarts). */
export function enableUser(db: Database.Database, log: AccessLog, actor: Principal, name: string, reason?: string, now = log.clock()): UserRecord {
  return changeState(db, log, actor, name, 'active', 'user.enable', reason, now);
}

/** A leaver: cannot sign in again, password and second factor erased; the row stays for the access log. */
export function deleteUser(db: Database.Database, log: AccessLog, actor: Principal, name: string, reason?: string, now = log.clock()): UserRecord {
  return changeState(db, log, actor, name, 'deleted', 'user.delete', reason, now);
}

/** Sets a new password (clearing a lock-out) and ends the user's sessions. */
export async function resetPassword(db: Database.Database, log: AccessLog, actor: Principal, nameIn: string, password: string, now = log.clock()): Promise<UserRecord> {
  const name = normaliseName(nameIn);
  requireManager(db, log, actor, 'user.reset-password', name, now);
  checkPassword(password, name);
  const hash = await argon2.hash(password, HASH_OPTIONS);
  db.transaction(() => {
    const row = getRow(db, name);
    if (!row) throw new UserError(`no user ${name}`);
    if (row.state === 'deleted') throw new UserError(`user ${name} is deleted`);
    db.prepare('UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = NULL WHERE name = ?').run(hash, name);
    revokeUserSessions(db, name, now);
    recordChange(db, name, 'user.reset-password', actor.user, now);
    log.append({ user: actor.user, agency: actor.agency, role: actor.role, action: 'user.reset-password', outcome: 'ok', query: { user: name } });
  }).immediate();
  return toRecord(getRow(db, name)!);
}

/**
 * A signed-in user changes their own password, giving the current one (a session left open on a laptop is not
 * enough to take the account). Their other sessions end; the one in use stays. Logged, refusals too.
 */
export async function changeOwnPassword(
  db: Database.Database,
  log: AccessLog,
  actor: Principal,
  current: string,
  password: string,
  now = log.clock(),
): Promise<UserRecord> {
  const name = actor.user;
  const row = getRow(db, name);
  if (!row || row.password_hash === null) throw new UserError(`no user ${name}`);
  if (!(await argon2.verify(row.password_hash, current))) {
    log.append({ user: name, agency: actor.agency, role: actor.role, action: 'user.passwd', outcome: 'refused', result: { reason: 'wrong current password' } });
    throw new UserError('the current password is wrong; nothing was changed');
  }
  if (current === password) throw new UserError('the new password is the current one; nothing was changed');
  checkPassword(password, name);
  const hash = await argon2.hash(password, HASH_OPTIONS);
  db.transaction(() => {
    db.prepare('UPDATE users SET password_hash = ? WHERE name = ?').run(hash, name);
    db.prepare('UPDATE sessions SET revoked_at = ? WHERE user_name = ? AND revoked_at IS NULL AND id != ?').run(now, name, actor.sessionId);
    recordChange(db, name, 'user.passwd', name, now);
    log.append({ user: name, agency: actor.agency, role: actor.role, action: 'user.passwd', outcome: 'ok' });
  }).immediate();
  return toRecord(getRow(db, name)!);
}

/** Enrols a new TOTP secret (the old one stops working) and ends the user's sessions. Show the result once. */
export function resetTotp(db: Database.Database, log: AccessLog, actor: Principal, nameIn: string, opts: ManageOptions = {}): TotpEnrolment {
  const now = opts.now ?? log.clock();
  const name = normaliseName(nameIn);
  requireManager(db, log, actor, 'user.reset-totp', name, now);
  const totp = enrolment(name, opts.issuer ?? 'alpr-edge');
  db.transaction(() => {
    const row = getRow(db, name);
    if (!row) throw new UserError(`no user ${name}`);
    if (row.state === 'deleted') throw new UserError(`user ${name} is deleted`);
    db.prepare('UPDATE users SET totp_secret = ?, totp_last_step = 0 WHERE name = ?').run(totp.secret, name);
    revokeUserSessions(db, name, now);
    recordChange(db, name, 'user.reset-totp', actor.user, now);
    log.append({ user: actor.user, agency: actor.agency, role: actor.role, action: 'user.reset-totp', outcome: 'ok', query: { user: name } });
  }).immediate();
  return totp;
}

/**
 * Suspends every active account with no sign-in (and no enabling by an admin) for `inactivityDays` (CA DOJ 429.4:
 * 12 months), each suspension logged. Runs at every sign-in and should run on a schedule (daily). Call it inside a
 * transaction or alone; it opens none of its own.
 */
export function suspendInactive(db: Database.Database, log: AccessLog, inactivityDays: number, now: number = log.clock()): string[] {
  const before = now - inactivityDays * 86_400_000;
  const run = () => {
    const rows = db
      .prepare(`SELECT * FROM users WHERE state = 'active' AND max(coalesce(last_login_at, 0), created_at, state_changed_at) < ?`)
      .all(before) as UserRow[];
    for (const r of rows) {
      const since = Math.max(r.last_login_at ?? 0, r.created_at, r.state_changed_at);
      const reason = `no sign-in for ${inactivityDays} days (last activity ${new Date(since).toISOString()})`;
      db.prepare(`UPDATE users SET state = 'suspended', state_reason = ?, state_changed_at = ?, state_changed_by = '(inactivity)' WHERE name = ?`).run(reason, now, r.name);
      revokeUserSessions(db, r.name, now);
      recordChange(db, r.name, 'user.suspend', '(inactivity)', now);
      log.append({ user: '(inactivity)', agency: r.agency, role: null, action: 'user.suspend', outcome: 'ok', query: { user: r.name }, result: { reason } });
    }
    return rows.map((r) => r.name);
  };
  return db.inTransaction ? run() : db.transaction(run).immediate();
}

// ---- sign-in ----

export interface Credentials {
  name: string;
  password: string;
  /** The 6-digit code of the authenticator app; required for admins and data users. */
  totp?: string;
}

export type RefusalReason =
  | 'unknown user'
  | 'wrong password'
  | 'missing one-time code'
  | 'wrong one-time code'
  | 'reused one-time code'
  | 'no second factor enrolled'
  | 'locked'
  | 'suspended'
  | 'deactivated'
  | 'deleted';

export type SignInResult =
  | { ok: true; token: string; principal: Principal; expiresAt: number; idleMs: number }
  | {
      ok: false;
      /** What really happened, as written to the access log. */
      reason: RefusalReason;
      /**
       * What to tell the person at the terminal: a wrong name, password or code all read the same, so a guesser
       * learns nothing about which part was right.
       */
      message: string;
    };

let dummyHash: Promise<string> | undefined;

const CREDENTIAL_FAILURES: ReadonlySet<RefusalReason> = new Set(['wrong password', 'missing one-time code', 'wrong one-time code', 'reused one-time code']);

/**
 * Signs a person in. Every attempt, accepted or refused, is one access log record (action 'login', query
 * { user }, result { reason }) written in the same transaction as the user row's update (failure count,
 * lock-out, last sign-in, last code used) and the new session.
 */
export async function signIn(
  db: Database.Database,
  log: AccessLog,
  credentials: Credentials,
  now: number = log.clock(),
  policy: AccessConfig = accessDefaults(),
): Promise<SignInResult> {
  const name = credentials.name.trim().toLowerCase();
  // argon2 is slow on purpose, so it runs before the transaction (which must not span an await). An unknown name
  // costs the same time as a known one.
  const before = getRow(db, name);
  let passwordOk = false;
  if (before?.password_hash) {
    passwordOk = await argon2.verify(before.password_hash, credentials.password);
  } else {
    dummyHash ??= argon2.hash('not a password of anyone', HASH_OPTIONS);
    await argon2.verify(await dummyHash, credentials.password);
  }

  return db
    .transaction((): SignInResult => {
      suspendInactive(db, log, policy.inactivityDays, now);
      const row = getRow(db, name);
      const record = (reason: RefusalReason | null, sessionId?: string) =>
        log.append({
          user: row?.name ?? (name === '' ? '(empty)' : name.slice(0, 128)),
          agency: row?.agency ?? '',
          role: row?.role ?? null,
          action: 'login',
          outcome: reason === null ? 'ok' : 'refused',
          query: { user: name.slice(0, 128) },
          result: reason === null ? { session: sessionId } : { reason, ...(row && reason !== 'locked' && !CREDENTIAL_FAILURES.has(reason) ? { passwordOk } : {}) },
        });
      // One answer for every refusal that could tell whether the name exists (unknown, deleted, locked, a wrong
      // password, the attempt that locks the account): the access log keeps the real reason. Only someone who gave
      // the account's right password hears more (deactivated, suspended, no second factor enrolled).
      const generic = 'sign-in refused: wrong user name, password or one-time code';
      const refuse = (reason: RefusalReason, message = generic): SignInResult => {
        record(reason);
        return { ok: false, reason, message };
      };

      // the password may have changed between the check and this transaction: then it counts as wrong
      const samePassword = row !== undefined && before !== undefined && row.password_hash === before.password_hash;
      if (!row) return refuse('unknown user');
      if (row.state === 'deleted') return refuse('deleted');
      if (row.state === 'deactivated' || row.state === 'suspended') {
        // the state is told only to someone who knows the password
        return refuse(row.state, passwordOk && samePassword ? `sign-in refused: account ${row.name} is ${row.state}${row.state === 'suspended' ? ' (unused too long)' : ''}: ask an administrator` : undefined);
      }
      if (row.locked_until !== null && row.locked_until > now) return refuse('locked');

      let reason: RefusalReason | null = null;
      let step = row.totp_last_step;
      if (!passwordOk || !samePassword) reason = 'wrong password';
      else if (row.totp_secret === null) {
        if (needsTwoFactor(row.role, policy)) reason = 'no second factor enrolled';
      } else if (credentials.totp === undefined || credentials.totp.trim() === '') reason = 'missing one-time code';
      else {
        const check = verifyTotp(row.totp_secret, credentials.totp, now, row.totp_last_step);
        if (check.ok) step = check.step;
        else reason = check.reason === 'reused' ? 'reused one-time code' : 'wrong one-time code';
      }

      if (reason === 'no second factor enrolled') {
        return refuse(reason, `sign-in refused: role ${row.role} needs a one-time code and ${row.name} has none enrolled: ask an administrator (alpr-edge user reset-totp ${row.name})`);
      }
      if (reason !== null) {
        const failures = row.failed_logins + 1;
        if (failures >= policy.maxFailedLogins) {
          const until = now + policy.lockoutMinutes * 60_000;
          db.prepare('UPDATE users SET failed_logins = 0, locked_until = ? WHERE name = ?').run(until, row.name);
          record(reason);
          return { ok: false, reason, message: generic };
        }
        db.prepare('UPDATE users SET failed_logins = ? WHERE name = ?').run(failures, row.name);
        return refuse(reason);
      }

      db.prepare('UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = ?, totp_last_step = ? WHERE name = ?').run(now, step, row.name);
      const session = createSession(db, row.name, now, policy);
      record(null, session.id);
      return {
        ok: true,
        token: session.token,
        principal: { user: row.name, agency: row.agency, role: row.role, sessionId: session.id },
        expiresAt: session.expiresAt,
        idleMs: session.idleMs,
      };
    })
    .immediate();
}

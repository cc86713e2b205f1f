import type Database from 'better-sqlite3';
import { z } from 'zod';
import { ACCESS_LOG_SQL } from './access-log.js';

/**
 * Users and sessions. A user row is never deleted (a trigger refuses it): a leaver's row is marked `deleted`, its
 * password hash and TOTP secret are cleared, and the name stays so that the access log's records keep meaning.
 * Sessions keep only the SHA-256 of their token: a copy of the database does not give a usable session.
 * Written with IF NOT EXISTS so that it can run both from `ensureAccessTables` and as a numbered migration.
 */
export const USERS_SQL = `
CREATE TABLE IF NOT EXISTS users (
  name             TEXT    PRIMARY KEY,        -- lower case
  agency           TEXT    NOT NULL,
  role             TEXT    NOT NULL,           -- a Role of src/access/roles.ts
  password_hash    TEXT,                       -- argon2id PHC string; NULL once deleted
  totp_secret      TEXT,                       -- base32; NULL: no second factor enrolled
  totp_last_step   INTEGER NOT NULL DEFAULT 0, -- 30 s step of the last code accepted: no code is accepted twice
  state            TEXT    NOT NULL DEFAULT 'active'
                   CHECK (state IN ('active', 'suspended', 'deactivated', 'deleted')),
  state_reason     TEXT,
  state_changed_at INTEGER NOT NULL,           -- ms since the epoch, UTC; inactivity counts from here too
  state_changed_by TEXT    NOT NULL,
  created_at       INTEGER NOT NULL,
  created_by       TEXT    NOT NULL,
  last_login_at    INTEGER,
  failed_logins    INTEGER NOT NULL DEFAULT 0, -- consecutive failures since the last success or lock-out
  locked_until     INTEGER
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS users_no_delete BEFORE DELETE ON users
BEGIN SELECT RAISE(ABORT, 'users are never deleted: mark them deleted (alpr-edge user delete NAME)'); END;
CREATE TABLE IF NOT EXISTS sessions (
  id           TEXT    PRIMARY KEY,
  token_hash   TEXT    NOT NULL UNIQUE,        -- hex SHA-256 of the token; the token itself is never stored
  user_name    TEXT    NOT NULL REFERENCES users (name),
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL,
  idle_ms      INTEGER NOT NULL,               -- unused this long, the session has expired
  expires_at   INTEGER NOT NULL,               -- its end however much it is used
  revoked_at   INTEGER                         -- signed out, or ended by an admin
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_name);
`;

/**
 * Until the users tables have their numbered migration: creates them (and the access log, if it is missing) in
 * one transaction.
 */
export function ensureAccessTables(db: Database.Database): void {
  db.transaction(() => {
    const hasLog = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'access_log'`).get();
    if (!hasLog) db.exec(ACCESS_LOG_SQL);
    db.exec(USERS_SQL);
  })();
}

export const accessSchema = z
  .strictObject({
    inactivityDays: z
      .int()
      .min(1)
      .max(3650)
      .default(365)
      .describe('An account not signed in to for this many days is suspended (CA DOJ 429.4: 12 months); an admin can enable it again.'),
    maxFailedLogins: z
      .int()
      .min(1)
      .max(100)
      .default(5)
      .describe('Consecutive failed sign-ins (password or one-time code) after which the account is locked.'),
    lockoutMinutes: z
      .int()
      .min(1)
      .max(10_080)
      .default(15)
      .describe('How long a locked account refuses every sign-in, even with the right password.'),
    sessionMinutes: z
      .int()
      .min(1)
      .max(1440)
      .default(30)
      .describe('A session not used for this many minutes has expired: sign in again with `alpr-edge login`.'),
    sessionMaxHours: z
      .number()
      .min(0.1)
      .max(168)
      .default(8)
      .describe('A session ends this many hours after sign-in, however much it is used.'),
    sessionFile: z
      .string()
      .default('')
      .describe(
        'File where `alpr-edge login` keeps the session token (mode 0600, in a folder of mode 0700). Empty: $HOME/.alpr-edge/session. $ALPR_EDGE_SESSION, if set, is used as the token instead.',
      ),
    twoFactorAllRoles: z
      .boolean()
      .default(false)
      .describe('Also enrol officers, technicians and auditors in a one-time code (admins and data users always need one).'),
  })
  .describe('Users, sign-in and sessions: who may see the stored data (see docs/access.md).');

export type AccessConfig = z.infer<typeof accessSchema>;

/** The defaults, for callers and tests that have no config. */
export function accessDefaults(): AccessConfig {
  return accessSchema.parse({});
}

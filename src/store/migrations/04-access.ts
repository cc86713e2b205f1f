import type { Migration } from '../migrations.js';

export const migration: Migration = {
  version: 4,
  name: 'access control: users, sessions, the hash-chained access log, releases',
  sql: `
CREATE TABLE access_log (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  at          INTEGER NOT NULL,                 -- ms since the epoch, UTC
  user_name   TEXT    NOT NULL,
  agency      TEXT    NOT NULL,
  role        TEXT,
  action      TEXT    NOT NULL,                 -- login, search, show, image, export, release, hold, ...
  purpose     TEXT,
  case_number TEXT,
  query       TEXT,                             -- JSON: the plate or other fields used
  result      TEXT,                             -- JSON: what came back (count, ids)
  outcome     TEXT    NOT NULL CHECK (outcome IN ('ok', 'refused', 'failed')),
  prev_mac    TEXT    NOT NULL,
  mac         TEXT    NOT NULL
);
CREATE INDEX access_log_at ON access_log (at);
CREATE INDEX access_log_user ON access_log (user_name, at);
-- a row may be removed only by the retention purge, which sets this flag inside its own transaction
CREATE TABLE access_log_purge (allowed INTEGER NOT NULL);
CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log
BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;
CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log
WHEN NOT EXISTS (SELECT 1 FROM access_log_purge WHERE allowed = 1)
BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;

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

CREATE TABLE releases (
  id            INTEGER PRIMARY KEY,
  mode          TEXT    NOT NULL CHECK (mode IN ('full', 'aggregate')),
  agency        TEXT    NOT NULL,             -- the receiving agency
  requester     TEXT    NOT NULL,             -- the person at that agency who asked
  purpose       TEXT    NOT NULL,
  case_number   TEXT    NOT NULL,
  selector      TEXT    NOT NULL,             -- JSON: the search that defines what is released
  requested_by  TEXT    NOT NULL,             -- the user who entered the request
  requested_at  INTEGER NOT NULL,
  approved_by   TEXT,
  approved_at   INTEGER,
  exported_at   INTEGER,
  released      TEXT                          -- JSON: what left (read ids, or the counts)
);
`,
};

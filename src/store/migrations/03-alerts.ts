import type { Migration } from '../migrations.js';

export const migration: Migration = {
  version: 3,
  name: 'alerts: outbox, deliveries per channel, audit events',
  sql: `
CREATE TABLE alerts (
  id          TEXT    PRIMARY KEY,
  seq         INTEGER NOT NULL UNIQUE,
  read_id     INTEGER NOT NULL REFERENCES reads (id),
  hit_id      INTEGER,                          -- hotlist_hits.id
  raised_at   INTEGER NOT NULL,
  dedup_key   TEXT    NOT NULL,                 -- the vehicle (canonical plate) and the entry
  priority    INTEGER NOT NULL,
  suppressed  TEXT CHECK (suppressed IN ('covert', 'duplicate', 'cap')),  -- null: sent to the terminal
  payload     TEXT    NOT NULL,                 -- JSON AlertMessage: exactly what the terminal was given
  ack_at      INTEGER,
  ack_accepted INTEGER,
  ack_reason  TEXT,
  ack_by      TEXT,
  ack_channel TEXT
);
CREATE INDEX alerts_dedup ON alerts (dedup_key, raised_at);
CREATE INDEX alerts_open ON alerts (ack_at, suppressed, raised_at);

CREATE TABLE alert_deliveries (
  alert_id     TEXT    NOT NULL REFERENCES alerts (id),
  channel      TEXT    NOT NULL,
  seq          INTEGER NOT NULL,
  state        TEXT    NOT NULL CHECK (state IN ('pending', 'delivered')),
  attempts     INTEGER NOT NULL DEFAULT 0,
  last_attempt_at INTEGER,
  last_error   TEXT,
  delivered_at INTEGER,
  late_ms      INTEGER,
  expired      INTEGER,
  PRIMARY KEY (alert_id, channel)
);
CREATE INDEX alert_deliveries_pending ON alert_deliveries (channel, state, seq);

-- The audit trail of alerts: who or what was notified, when, over which channel, and the officer's answer.
CREATE TABLE alert_events (
  id       INTEGER PRIMARY KEY AUTOINCREMENT,
  at       INTEGER NOT NULL,
  alert_id TEXT    NOT NULL,
  channel  TEXT,
  kind     TEXT    NOT NULL CHECK (kind IN ('raised', 'suppressed', 'attempt-failed', 'delivered', 'ack', 'ack-unknown')),
  detail   TEXT                                 -- JSON
);
CREATE INDEX alert_events_alert ON alert_events (alert_id, id);
`,
};

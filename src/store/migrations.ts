/**
 * Numbered migrations of the read store. A migration, once released, is never edited: a change is a new
 * number. Each runs in a transaction with the row that records it, so a crash leaves the database either
 * before or after it.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'reads, images, directory files',
    sql: `
CREATE TABLE reads (
  id             INTEGER PRIMARY KEY,
  uuid           TEXT    NOT NULL UNIQUE,
  unit_id        TEXT    NOT NULL,
  camera_id      TEXT    NOT NULL,
  plate          TEXT    NOT NULL,
  confidence     REAL    NOT NULL,
  candidates     TEXT    NOT NULL,            -- JSON: [{ "text", "confidence" }], best first
  region         TEXT,                        -- plate layout family used: us | eu | br
  box            TEXT    NOT NULL,            -- JSON: the plate's box in the best frame
  first_seen     INTEGER NOT NULL,            -- ms since the epoch, UTC
  last_seen      INTEGER NOT NULL,
  best_seen      INTEGER NOT NULL,            -- time of the frame the crop was cut from
  frame_count    INTEGER NOT NULL,
  clock_source   TEXT    NOT NULL,            -- what set the unit's clock: system | gps
  latitude       REAL,
  longitude      REAL,
  position_valid INTEGER NOT NULL,
  position_source TEXT   NOT NULL,            -- gps | fixed | none
  speed_kmh      REAL,
  heading_deg    REAL,
  fix_time       INTEGER,
  closed         INTEGER NOT NULL DEFAULT 0,  -- 1 once the plate has left view: the read no longer changes
  sync_state     TEXT    NOT NULL DEFAULT 'pending' CHECK (sync_state IN ('pending', 'synced')),
  synced_at      INTEGER,
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL
);
CREATE INDEX reads_first_seen ON reads (first_seen);
CREATE INDEX reads_plate ON reads (plate);
CREATE INDEX reads_sync ON reads (sync_state, id);

CREATE TABLE images (
  id         INTEGER PRIMARY KEY,
  read_id    INTEGER NOT NULL REFERENCES reads (id),
  kind       TEXT    NOT NULL CHECK (kind IN ('crop', 'frame')),
  path       TEXT    NOT NULL,                -- relative to the images folder
  format     TEXT    NOT NULL,                -- jpeg | png
  bytes      INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  evicted_at INTEGER                          -- set when the file was deleted to keep the image budget
);
CREATE INDEX images_read ON images (read_id);
CREATE INDEX images_live ON images (kind, evicted_at, id);

CREATE TABLE directory_files (
  camera_id    TEXT    NOT NULL,
  name         TEXT    NOT NULL,
  size         INTEGER NOT NULL,
  mtime_ms     INTEGER NOT NULL,
  outcome      TEXT    NOT NULL,              -- processed | failed
  processed_at INTEGER NOT NULL,
  PRIMARY KEY (camera_id, name, size, mtime_ms)
);
`,
  },
  {
    version: 2,
    name: 'hot lists: lists, versions, entries, hits, changes',
    sql: `
CREATE TABLE hotlists (
  id           INTEGER PRIMARY KEY,
  name         TEXT    NOT NULL UNIQUE,
  source       TEXT    NOT NULL DEFAULT '',   -- where the list comes from (agency, URL, path)
  format       TEXT    NOT NULL,              -- ncic | ca-doj | csv | lines | manual
  category     TEXT    NOT NULL DEFAULT '',   -- what its entries are wanted for (shown in the alert)
  priority     INTEGER NOT NULL,              -- alert level, 1 = most urgent
  covert       INTEGER NOT NULL DEFAULT 0,    -- 1: hits are recorded, the officer is not alerted
  match_policy TEXT    NOT NULL CHECK (match_policy IN ('exact', 'equivalent', 'distance')),
  max_distance INTEGER NOT NULL DEFAULT 0,
  retention_ms INTEGER,                       -- an imported version expires this long after its import; null: never
  version_id   INTEGER,                       -- the version in use (hotlist_versions.id); null: none imported
  expires_at   INTEGER,                       -- the list stops matching, and is purged, at this time
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);

-- Every import of a file into a list. Entries of a version become visible all at once, when the list's
-- version_id is switched to it; until then (state importing) nobody matches them.
CREATE TABLE hotlist_versions (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  list_id     INTEGER NOT NULL REFERENCES hotlists (id) ON DELETE CASCADE,
  state       TEXT    NOT NULL CHECK (state IN ('importing', 'active', 'replaced', 'rejected')),
  file        TEXT    NOT NULL,
  checksum    TEXT    NOT NULL,               -- sha256 of the file
  settings    TEXT    NOT NULL,               -- JSON: how it was parsed (format, columns, states, skip list)
  entries     INTEGER NOT NULL DEFAULT 0,
  skipped     TEXT,                           -- JSON: { junk, state } records left out on purpose
  problems    TEXT,                           -- JSON: the first problems of a rejected file
  user_name   TEXT    NOT NULL,
  started_at  INTEGER NOT NULL,
  finished_at INTEGER
);
CREATE INDEX hotlist_versions_list ON hotlist_versions (list_id, state);

CREATE TABLE hotlist_entries (
  id            INTEGER PRIMARY KEY,
  list_id       INTEGER NOT NULL REFERENCES hotlists (id),
  version_id    INTEGER,                      -- imported: its version; null: entered by hand
  origin        TEXT    NOT NULL CHECK (origin IN ('import', 'manual')),
  plate         TEXT    NOT NULL,             -- normalised A-Z 0-9; ? and * in a partial plate
  state         TEXT,
  code          TEXT,                         -- NCIC list code, CLEW file kind
  reason        TEXT,
  case_number   TEXT,
  listed_at     INTEGER,                      -- date of the want, from the file
  details       TEXT,                         -- JSON: the record's other fields (vehicle, county)
  line          INTEGER,                      -- line of the file it came from
  added_by      TEXT,
  added_at      INTEGER NOT NULL,
  expires_at    INTEGER,
  cancelled_at  INTEGER,
  cancelled_by  TEXT,
  cancel_reason TEXT
);
CREATE INDEX hotlist_entries_list ON hotlist_entries (list_id, version_id);
CREATE INDEX hotlist_entries_expiry ON hotlist_entries (expires_at) WHERE expires_at IS NOT NULL;

-- A read that matched an entry. What the alert needs is copied here: entries and lists are purged on their own
-- schedule, hits are kept as long as their read. One row per read, list and plate: a read matched again (a
-- later frame, a re-import of the list) is the same hit.
CREATE TABLE hotlist_hits (
  id             INTEGER PRIMARY KEY,
  read_id        INTEGER NOT NULL REFERENCES reads (id),
  list_id        INTEGER NOT NULL,
  list_name      TEXT    NOT NULL,
  entry_id       INTEGER NOT NULL,
  entry_plate    TEXT    NOT NULL,
  entry_state    TEXT    NOT NULL DEFAULT '',
  how            TEXT    NOT NULL CHECK (how IN ('exact', 'equivalent', 'distance', 'wildcard')),
  distance       INTEGER NOT NULL DEFAULT 0,
  matched_text   TEXT    NOT NULL,
  candidate      INTEGER NOT NULL,            -- 0: the read's best text matched; n: its n-th OCR candidate
  category       TEXT    NOT NULL,
  priority       INTEGER NOT NULL,
  covert         INTEGER NOT NULL,
  code           TEXT,
  reason         TEXT,
  case_number    TEXT,
  created_at     INTEGER NOT NULL,
  UNIQUE (read_id, list_id, entry_plate, entry_state)
);
CREATE INDEX hotlist_hits_created ON hotlist_hits (created_at);

-- Every change to the hot lists, in order: the audit record of who changed what (imports, entries added and
-- cancelled, purges), and the feed by which a running unit picks up changes made by another process.
CREATE TABLE hotlist_changes (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  at          INTEGER NOT NULL,
  user_name   TEXT    NOT NULL,
  action      TEXT    NOT NULL CHECK (action IN ('list', 'import', 'import-rejected', 'add', 'cancel', 'purge-entries', 'purge-list')),
  list_id     INTEGER,
  list_name   TEXT    NOT NULL,
  entry_id    INTEGER,
  version_id  INTEGER,
  plate       TEXT,
  case_number TEXT,
  reason      TEXT,
  detail      TEXT                            -- JSON
);
`,
  },
  {
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
  },
  {
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
  },
  {
    version: 5,
    name: 'retention: logical deletion of reads, evidence holds',
    sql: `
-- Logical deletion: a read past its logical-deletion age is hidden from data users and visible only to
-- administrators (who give a reason); it is deleted for good later.
ALTER TABLE reads ADD COLUMN deleted_at INTEGER;
ALTER TABLE reads ADD COLUMN deleted_reason TEXT;
-- Reads not yet logically deleted, oldest first: what the logical stage walks.
CREATE INDEX reads_live_first_seen ON reads (first_seen) WHERE deleted_at IS NULL;
-- Deleting a read deletes its alerts, and the foreign key check on reads looks them up by read.
CREATE INDEX alerts_read ON alerts (read_id);

-- An evidence hold (CA 427.5, LAPD "Retaining ALPR data beyond..."): reads of a case kept past retention until an
-- administrator releases the hold. Holds are never deleted: they are the record of who kept what, and why.
CREATE TABLE holds (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  case_number    TEXT    NOT NULL,
  reason         TEXT    NOT NULL,
  contact        TEXT    NOT NULL,              -- the investigator to ask at each review
  selector       TEXT    NOT NULL,              -- JSON: { readIds?, plate?, from?, to?, cameraId? } as placed
  placed_by      TEXT    NOT NULL,
  placed_at      INTEGER NOT NULL,
  review_at      INTEGER NOT NULL,              -- when the investigator must confirm the data is still needed
  reviewed_at    INTEGER,
  reviewed_by    TEXT,
  released_at    INTEGER,
  released_by    TEXT,
  release_reason TEXT
);
CREATE INDEX holds_open ON holds (released_at, review_at);

-- The reads a hold covers, fixed when it is placed: a hold is on existing evidence, later reads of the same
-- plate are not covered. No foreign key to reads: the rows stay as the record of a released hold after its reads
-- are purged (read_uuid identifies them for good).
CREATE TABLE hold_reads (
  hold_id   INTEGER NOT NULL REFERENCES holds (id),
  read_id   INTEGER NOT NULL,
  read_uuid TEXT    NOT NULL,
  PRIMARY KEY (hold_id, read_id)
);
CREATE INDEX hold_reads_read ON hold_reads (read_id, hold_id);
`,
  },
  {
    version: 6,
    name: 'upstream sync: change sequence of reads, stream cursors, applied server changes, faults',
    sql: `
-- Every insert or change of a read gives it the next change sequence number: push and pull walk reads in this
-- order, so a read changed after it was sent is sent again (the server keeps the highest sequence it got). The
-- numbers come from a counter, never from MAX(): a purge that empties the table must not make them start again
-- below the cursors. Hits get numbers the same way (their row ids can be reused after a purge).
CREATE TABLE sync_counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
ALTER TABLE reads ADD COLUMN sync_seq INTEGER;
UPDATE reads SET sync_seq = id;
INSERT INTO sync_counters (name, value) VALUES ('reads', (SELECT COALESCE(MAX(id), 0) FROM reads));
CREATE UNIQUE INDEX reads_sync_seq ON reads (sync_seq);
CREATE TRIGGER reads_sync_seq_insert AFTER INSERT ON reads WHEN NEW.sync_seq IS NULL
BEGIN
  UPDATE sync_counters SET value = value + 1 WHERE name = 'reads';
  UPDATE reads SET sync_seq = (SELECT value FROM sync_counters WHERE name = 'reads') WHERE id = NEW.id;
END;
CREATE TRIGGER reads_sync_seq_update AFTER UPDATE OF updated_at ON reads
BEGIN
  UPDATE sync_counters SET value = value + 1 WHERE name = 'reads';
  UPDATE reads SET sync_seq = (SELECT value FROM sync_counters WHERE name = 'reads'), sync_state = 'pending', synced_at = NULL
  WHERE id = NEW.id;
END;
ALTER TABLE hotlist_hits ADD COLUMN sync_seq INTEGER;
UPDATE hotlist_hits SET sync_seq = id;
INSERT INTO sync_counters (name, value) VALUES ('hits', (SELECT COALESCE(MAX(id), 0) FROM hotlist_hits));
CREATE UNIQUE INDEX hotlist_hits_sync_seq ON hotlist_hits (sync_seq);
CREATE TRIGGER hotlist_hits_sync_seq_insert AFTER INSERT ON hotlist_hits WHEN NEW.sync_seq IS NULL
BEGIN
  UPDATE sync_counters SET value = value + 1 WHERE name = 'hits';
  UPDATE hotlist_hits SET sync_seq = (SELECT value FROM sync_counters WHERE name = 'hits') WHERE id = NEW.id;
END;

-- Images go up on their own (a resumable step): each row is marked once the server has it whole, or once it is
-- found gone. A replaced image is a new row, so it goes up again.
ALTER TABLE images ADD COLUMN synced_at INTEGER;
CREATE INDEX images_unsynced ON images (id) WHERE synced_at IS NULL;

-- Where each push stream stands: everything up to the cursor (sync_seq for reads and hits, row id for the others) has been
-- acknowledged by the server. Moved only in the transaction that records the server's acknowledgement.
CREATE TABLE sync_cursors (
  stream      TEXT    PRIMARY KEY,
  cursor      INTEGER NOT NULL DEFAULT 0,
  sent        INTEGER NOT NULL DEFAULT 0,       -- items acknowledged since the cursor was created
  updated_at  INTEGER NOT NULL
);

-- Hot list entries and cancellations published by the server (or sent over MQTT), each applied once.
CREATE TABLE sync_applied (
  kind        TEXT    NOT NULL CHECK (kind IN ('entry', 'cancellation')),
  server_id   TEXT    NOT NULL,
  applied_at  INTEGER NOT NULL,
  via         TEXT    NOT NULL,                 -- sync | mqtt
  outcome     TEXT    NOT NULL,                 -- JSON: what it did (entry id, entries cancelled, or why not)
  PRIMARY KEY (kind, server_id)
);

-- The unit's own faults (P16): raised when a part stops working, cleared when it works again. Sent upstream.
CREATE TABLE unit_faults (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  at          INTEGER NOT NULL,
  code        TEXT    NOT NULL,                 -- camera | recognition | storage | gps | clock | uplink
  subject     TEXT    NOT NULL DEFAULT '',      -- which camera, which disk
  state       TEXT    NOT NULL CHECK (state IN ('raised', 'cleared')),
  message     TEXT    NOT NULL
);
`,
  },
  {
    version: 7,
    name: "the plate's state: read from its printed name or slogan; hot list hits whose entry names another state",
    sql: `
-- The US state whose name or slogan was read on the plate (two-letter code), and how sure that reading is (0-1);
-- NULL where no row of the plate named a state legibly.
ALTER TABLE reads ADD COLUMN state TEXT;
ALTER TABLE reads ADD COLUMN state_confidence REAL;
-- 1 when the read's state was read confidently and differs from the hot list entry's: the hit is kept and shown,
-- marked, for the officer to weigh (a misread state name is rarer than a plate of the same number elsewhere).
ALTER TABLE hotlist_hits ADD COLUMN state_mismatch INTEGER NOT NULL DEFAULT 0;
`,
  },
  {
    version: 8,
    name: 'upstream sync per destination: recorded destinations and their changes, cursors and image marks per destination',
    sql: `
-- Every server the unit has pushed to (by its normalised URL). agency = 1 for the agency's configured server (a URL
-- from the config file, not an environment override): only its acknowledgements mark reads synced (reads.sync_state,
-- which retention's purgeUnsynced relies on). At most one row has agency = 1.
CREATE TABLE sync_destinations (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  url              TEXT    NOT NULL UNIQUE,
  agency           INTEGER NOT NULL DEFAULT 0 CHECK (agency IN (0, 1)),
  first_at         INTEGER NOT NULL,
  last_attempt_at  INTEGER,
  last_success_at  INTEGER,
  last_error       TEXT
);
-- Each time a push goes to a destination other than the last one recorded (or the agency's server changes): when,
-- from where to where, where the URL came from (config file, environment variable, the demo) and who (a signed-in
-- user, or the unit). The same change is in the access log. The current destination is the last row's to_id.
CREATE TABLE sync_destination_changes (
  id       INTEGER PRIMARY KEY AUTOINCREMENT,
  at       INTEGER NOT NULL,
  from_id  INTEGER,
  to_id    INTEGER NOT NULL,
  agency   INTEGER NOT NULL,
  source   TEXT    NOT NULL,
  by_user  TEXT    NOT NULL
);
-- Cursors per destination: a new destination does not inherit another's. The cursors kept so far belong to the
-- server configured before this migration (destination_id 0, adopted by the first agency destination recorded).
CREATE TABLE sync_cursors_v8 (
  destination_id INTEGER NOT NULL,
  stream         TEXT    NOT NULL,
  cursor         INTEGER NOT NULL DEFAULT 0,
  sent           INTEGER NOT NULL DEFAULT 0,
  updated_at     INTEGER NOT NULL,
  PRIMARY KEY (destination_id, stream)
);
INSERT INTO sync_cursors_v8 (destination_id, stream, cursor, sent, updated_at) SELECT 0, stream, cursor, sent, updated_at FROM sync_cursors;
DROP TABLE sync_cursors;
ALTER TABLE sync_cursors_v8 RENAME TO sync_cursors;
-- Images each destination has whole (images.synced_at stays the agency server's mark). Removed with the image, so a
-- reused image id is never taken for one already sent.
CREATE TABLE image_syncs (
  destination_id INTEGER NOT NULL,
  image_id       INTEGER NOT NULL,
  at             INTEGER NOT NULL,
  PRIMARY KEY (destination_id, image_id)
) WITHOUT ROWID;
CREATE INDEX image_syncs_image ON image_syncs (image_id);
CREATE TRIGGER images_delete_syncs AFTER DELETE ON images
BEGIN
  DELETE FROM image_syncs WHERE image_id = OLD.id;
END;
`,
  },
  {
    version: 9,
    name: 'who created or changed each user account; releases frozen at approval and exported once',
    sql: `
-- Every creation of or change to a user account, with who made it (a signed-in user's name; '(bootstrap)' for the
-- first admin, '(inactivity)' for a suspension; the user themselves for their own password). Appended in the
-- transaction of the change (src/access/users.ts), never updated or deleted: the approval of a release reads it to
-- refuse an approver who is not independent of the requester (src/access/releases.ts).
CREATE TABLE user_changes (
  id        INTEGER PRIMARY KEY AUTOINCREMENT,
  user_name TEXT    NOT NULL,
  action    TEXT    NOT NULL,                 -- user.bootstrap, user.add, user.enable, user.disable, user.delete, ...
  by_user   TEXT    NOT NULL,
  at        INTEGER NOT NULL
);
CREATE INDEX user_changes_user ON user_changes (user_name, at);
CREATE INDEX user_changes_by ON user_changes (by_user, at);
CREATE TRIGGER user_changes_no_update BEFORE UPDATE ON user_changes
BEGIN SELECT RAISE(ABORT, 'user_changes is append-only'); END;
CREATE TRIGGER user_changes_no_delete BEFORE DELETE ON user_changes
BEGIN SELECT RAISE(ABORT, 'user_changes is append-only'); END;
-- what is known of accounts made before this migration: their creation (users.created_by) and, from the access
-- log, each change an admin made since
INSERT INTO user_changes (user_name, action, by_user, at)
  SELECT name, CASE created_by WHEN '(bootstrap)' THEN 'user.bootstrap' ELSE 'user.add' END, created_by, created_at FROM users;
INSERT INTO user_changes (user_name, action, by_user, at)
  SELECT json_extract(query, '$.user'), action, user_name, at FROM access_log
  WHERE outcome = 'ok' AND action IN ('user.enable', 'user.disable', 'user.delete', 'user.reset-password', 'user.reset-totp', 'user.suspend')
    AND json_valid(query) AND json_extract(query, '$.user') IS NOT NULL
  ORDER BY id;

-- A release's contents are fixed when it is approved: frozen holds what the approver saw and what the export
-- writes (full: the read ids and image references; aggregate: the cells), digest the SHA-256 of the released data.
-- export_count: how many times it was written out (the first by the requester or an admin, further ones by an
-- admin with a reason), each also in the access log.
ALTER TABLE releases ADD COLUMN frozen TEXT;
ALTER TABLE releases ADD COLUMN digest TEXT;
ALTER TABLE releases ADD COLUMN exported_by TEXT;
ALTER TABLE releases ADD COLUMN export_count INTEGER NOT NULL DEFAULT 0;
UPDATE releases SET export_count = 1 WHERE exported_at IS NOT NULL;
`,
  },
  {
    version: 10,
    name: "the access log's head as acknowledged by each upstream destination; the access log by action",
    sql: `
-- The head of the access log (its last record's number and MAC) that each destination of upstream sync acknowledged
-- having received (POST .../access-log/head, docs/sync-protocol.md). audit verify checks that the log still holds
-- every head acknowledged here: newest records removed after a sync are caught, and the server keeps its own copy.
-- A head only moves forward; rows are never deleted.
CREATE TABLE access_log_acks (
  destination_id INTEGER PRIMARY KEY,           -- sync_destinations.id
  head_id        INTEGER NOT NULL,
  head_mac       TEXT    NOT NULL,
  head_at        INTEGER NOT NULL,              -- the record's time
  acked_at       INTEGER NOT NULL               -- when the unit got the acknowledgement
);
CREATE TRIGGER access_log_acks_no_delete BEFORE DELETE ON access_log_acks
BEGIN SELECT RAISE(ABORT, 'acknowledged access log heads are kept'); END;
CREATE TRIGGER access_log_acks_forward BEFORE UPDATE ON access_log_acks WHEN NEW.head_id < OLD.head_id
BEGIN SELECT RAISE(ABORT, 'an acknowledged access log head never goes back'); END;
-- A retention purge looks up the anchors of earlier purges (records of action 'access-log-purge') in the log.
CREATE INDEX access_log_action ON access_log (action, id);
`,
  },
];

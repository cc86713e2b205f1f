import type { Migration } from '../migrations.js';

export const migration: Migration = {
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
};

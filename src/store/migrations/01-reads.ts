import type { Migration } from '../migrations.js';

export const migration: Migration = {
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
};

import type { Migration } from '../migrations.js';

export const migration: Migration = {
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
};

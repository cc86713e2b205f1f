import type { Migration } from '../migrations.js';

/** A change sequence column for `table`, numbered by the counter `counter`: existing rows first, then each insert. */
function changeSequence(table: string, counter: string): string {
  return `ALTER TABLE ${table} ADD COLUMN sync_seq INTEGER;
UPDATE ${table} SET sync_seq = id;
INSERT INTO sync_counters (name, value) VALUES ('${counter}', (SELECT COALESCE(MAX(id), 0) FROM ${table}));
CREATE UNIQUE INDEX ${table}_sync_seq ON ${table} (sync_seq);
CREATE TRIGGER ${table}_sync_seq_insert AFTER INSERT ON ${table} WHEN NEW.sync_seq IS NULL
BEGIN
  UPDATE sync_counters SET value = value + 1 WHERE name = '${counter}';
  UPDATE ${table} SET sync_seq = (SELECT value FROM sync_counters WHERE name = '${counter}') WHERE id = NEW.id;
END;`;
}

export const migration: Migration = {
  version: 6,
  name: 'upstream sync: change sequence of reads, stream cursors, applied server changes, faults',
  sql: `
-- Every insert or change of a read gives it the next change sequence number: push and pull walk reads in this
-- order, so a read changed after it was sent is sent again (the server keeps the highest sequence it got). The
-- numbers come from a counter, never from MAX(): a purge that empties the table must not make them start again
-- below the cursors. Hits get numbers the same way (their row ids can be reused after a purge).
CREATE TABLE sync_counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
${changeSequence('reads', 'reads')}
CREATE TRIGGER reads_sync_seq_update AFTER UPDATE OF updated_at ON reads
BEGIN
  UPDATE sync_counters SET value = value + 1 WHERE name = 'reads';
  UPDATE reads SET sync_seq = (SELECT value FROM sync_counters WHERE name = 'reads'), sync_state = 'pending', synced_at = NULL
  WHERE id = NEW.id;
END;
${changeSequence('hotlist_hits', 'hits')}

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
};

import type { Migration } from '../migrations.js';

export const migration: Migration = {
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
};

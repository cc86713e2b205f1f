import type { Migration } from '../migrations.js';

export const migration: Migration = {
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
};

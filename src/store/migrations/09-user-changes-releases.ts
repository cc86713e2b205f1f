import type { Migration } from '../migrations.js';

export const migration: Migration = {
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
};

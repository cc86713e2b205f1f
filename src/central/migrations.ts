/** The central database's schema, one step per version (PRAGMA user_version); forward only. */
export const MIGRATIONS: string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE items (
     unit TEXT NOT NULL, stream TEXT NOT NULL, key TEXT NOT NULL, rev INTEGER NOT NULL,
     body TEXT NOT NULL, received_at INTEGER NOT NULL,
     PRIMARY KEY (unit, stream, key)
   ) WITHOUT ROWID;
   CREATE TABLE images (
     unit TEXT NOT NULL, read_uuid TEXT NOT NULL, kind TEXT NOT NULL, format TEXT, sha256 TEXT, total INTEGER,
     received INTEGER NOT NULL DEFAULT 0, complete INTEGER NOT NULL DEFAULT 0, path TEXT, updated_at INTEGER NOT NULL,
     PRIMARY KEY (unit, read_uuid, kind)
   );
   CREATE TABLE health (unit TEXT PRIMARY KEY, body TEXT NOT NULL, received_at INTEGER NOT NULL);
   CREATE TABLE published_entries (
     id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, list TEXT NOT NULL, plate TEXT NOT NULL, state TEXT,
     reason TEXT NOT NULL, case_number TEXT NOT NULL, expires_at INTEGER, by TEXT, created_at INTEGER NOT NULL
   );
   CREATE TABLE published_cancellations (
     id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, list TEXT NOT NULL, plate TEXT NOT NULL, state TEXT,
     reason TEXT NOT NULL, by TEXT, at INTEGER NOT NULL
   );
   CREATE TABLE pull_cursors (
     unit TEXT NOT NULL, stream TEXT NOT NULL, cursor INTEGER NOT NULL, updated_at INTEGER NOT NULL,
     PRIMARY KEY (unit, stream)
   );`,
  // the head of each unit's access log (its last record's number and MAC) as last acknowledged, and every head
  // refused because the log went back (shorter, or another MAC at a number acknowledged, or a gap in the chain)
  `CREATE TABLE access_log_heads (
     unit TEXT PRIMARY KEY, head_id INTEGER NOT NULL, head_mac TEXT NOT NULL, head_at INTEGER NOT NULL, received_at INTEGER NOT NULL
   );
   CREATE TABLE access_log_regressions (
     id INTEGER PRIMARY KEY AUTOINCREMENT, unit TEXT NOT NULL, at INTEGER NOT NULL,
     acknowledged_id INTEGER, acknowledged_mac TEXT, claimed_id INTEGER NOT NULL, claimed_mac TEXT NOT NULL, problem TEXT NOT NULL
   );
   CREATE INDEX access_log_regressions_unit ON access_log_regressions (unit, id);`,
];

import Database from 'better-sqlite3-multiple-ciphers';
import type { Clock } from '../util/clock.js';
import { MIGRATIONS } from './migrations.js';

/** The store's SQLite file: opened (keyed when encrypted), its transactions immediate, its schema migrated. */

export class StoreError extends Error {
  override name = 'StoreError';
}

/** Opens the database file, keying it first when a key is given; a missing or wrong key is a StoreError. */
export function openDatabase(dbPath: string, key: Buffer | null): Database.Database {
  let db: Database.Database;
  try {
    db = new Database(dbPath);
  } catch (err) {
    throw new StoreError(`cannot open the database ${dbPath}: ${(err as Error).message}`);
  }
  try {
    // The key must come before anything reads a page.
    if (key) keyDatabase(db, key, 'key');
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    immediateByDefault(db);
    return db;
  } catch (err) {
    db.close();
    const e = err as Error & { code?: string };
    if (e.code !== 'SQLITE_NOTADB') throw new StoreError(`cannot open the database ${dbPath}: ${e.message}`);
    if (key && isPlainDatabase(dbPath)) {
      throw new StoreError(
        `the database ${dbPath} is not encrypted but a data key is configured: encrypt it once with the unit stopped ` +
          `(ReadStore.encryptExisting, see docs/data-at-rest.md), or remove the key`,
      );
    }
    throw new StoreError(
      `cannot open the database ${dbPath}: the database is encrypted and the key is missing or wrong ` +
        `(or the file is not an alpr-edge database: ${e.message})`,
    );
  }
}

/**
 * Makes `db.transaction(fn)()` begin with BEGIN IMMEDIATE (`.deferred()` is still there for a read-only one).
 * Several connections write this file: the unit, its hot list import worker, a technician's command. A deferred
 * transaction that reads first and writes later fails at once with SQLITE_BUSY_SNAPSHOT when another connection
 * committed in between; an immediate one takes the write lock first and waits for it (busy_timeout) instead.
 */
function immediateByDefault(db: Database.Database): void {
  const make = db.transaction.bind(db);
  db.transaction = ((fn: (...args: never[]) => unknown) => {
    const t = make(fn);
    return Object.assign((...args: never[]) => t.immediate(...args), {
      default: t.default,
      deferred: t.deferred,
      immediate: t.immediate,
      exclusive: t.exclusive,
    });
  }) as typeof db.transaction;
}

/** PRAGMA key / rekey with a raw 256-bit key (no passphrase stretching: the key is random already). */
export function keyDatabase(db: Database.Database, key: Buffer, pragma: 'key' | 'rekey'): void {
  const result = db.pragma(`${pragma}="x'${key.toString('hex')}'"`, { simple: true });
  if (result !== 'ok') throw new StoreError(`PRAGMA ${pragma} was refused: ${String(result)}`);
}

/** Whether the database file opens as plain SQLite (false: encrypted, or not a database at all). */
export function isPlainDatabase(dbPath: string): boolean {
  const db = new Database(dbPath, { fileMustExist: true });
  try {
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    return true;
  } catch {
    return false;
  } finally {
    db.close();
  }
}

/** The schema version the database is at. */
export function schemaVersion(db: Database.Database): number {
  return (db.prepare('SELECT coalesce(max(version), 0) AS v FROM schema_migrations').get() as { v: number }).v;
}

/** Applies the migrations the database has not had yet, each in its own transaction; a newer database is refused. */
export function migrate(db: Database.Database, dbPath: string, clock: Clock): void {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
  );
  const current = schemaVersion(db);
  const known = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
  if (current > known) {
    throw new StoreError(
      `the database ${dbPath} is at schema version ${current}, newer than this alpr-edge knows (${known}); run a newer alpr-edge`,
    );
  }
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, clock());
    })();
  }
}

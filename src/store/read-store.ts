import Database from 'better-sqlite3-multiple-ciphers';
import { mkdirSync, chmodSync, statSync, existsSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import { isPlainDatabase, keyDatabase, migrate, openDatabase, schemaVersion, StoreError } from './database.js';
import { ImageBudget, type BudgetOptions } from './eviction.js';
import { ImageFiles, isNoSpace, type WrittenImage } from './image-files.js';
import { databaseKey, imageKey } from './keys.js';
import { READ, READ_SELECT, updatedColumns, type ImageData, type NewRead, type ReadUpdate, type StoredRead } from './reads.js';
import type { Clock } from '../util/clock.js';

export { StoreError } from './database.js';
export type { DiskSpace, Eviction } from './eviction.js';
export { isNoSpace } from './image-files.js';
export type { CandidateText, ImageData, NewRead, ReadUpdate, StoredRead } from './reads.js';

/**
 * The read store: one SQLite database (WAL, synchronous=FULL) and a folder of image files.
 *
 * Images are files referenced from rows, not blobs: the database stays small enough to back up, vacuum and
 * query quickly on an SD card; evicting a frame image to keep the budget is an unlink, not a rewrite of database
 * pages; the write-ahead log is not pushed through megabytes of image data on every read; and the upload of a
 * read can stream its files. The price is two places to keep consistent: a read's image files are written and
 * fsynced before its row is committed, so a row never points at a missing file (a crash in between leaves only an
 * unreferenced file).
 *
 * With a data key (docs/data-at-rest.md) the database is encrypted by SQLite3 Multiple Ciphers (the WAL too) and
 * every image file with AES-256-GCM bound to its path; image files are then only readable through readImage.
 */

export interface StoreStats {
  reads: number;
  pendingSync: number;
  lastReadAt: number | null;
  imageBytes: number;
  frameImages: number;
  evictedFrames: number;
  /** Plate crops deleted to keep free space on the disk (store.diskReserveMB). */
  evictedCrops: number;
  /** Images of reads stored without them since the store was opened: no room on the disk for the file. */
  imagesNotWritten: number;
  databaseBytes: number;
}

export interface StoreOptions extends BudgetOptions {
  /** The unit's clock: stamps reads, image evictions, seen files and migrations. */
  clock: Clock;
  /**
   * The unit's data key (keys.ts loadDataKey). Given: the database and the image files are encrypted with keys
   * derived from it. Absent or null: both are plain, as a store created without a key must stay.
   */
  dataKey?: Buffer | null;
}

/** What ReadStore.encryptExisting did. */
export interface EncryptExistingReport {
  database: 'encrypted' | 'already encrypted';
  imagesEncrypted: number;
  imagesAlreadyEncrypted: number;
}

const DB_FILE = 'alpr-edge.db';

export class ReadStore {
  readonly dbPath: string;
  readonly imagesDir: string;
  private readonly db: Database.Database;
  private readonly files: ImageFiles;
  private readonly budget: ImageBudget;
  private closed = false;
  private imagesNotWritten = 0;
  /** Statements prepared once (a read's insert and update), by their SQL. */
  private readonly statements = new Map<string, Database.Statement>();

  /** The clock the store stamps with; the parts that work on the store (sync, retention) decide by it too. */
  readonly clock: Clock;

  private constructor(
    readonly dataDir: string,
    options: StoreOptions,
  ) {
    this.clock = options.clock;
    this.dbPath = path.join(dataDir, DB_FILE);
    this.imagesDir = path.join(dataDir, 'images');
    for (const dir of [dataDir, this.imagesDir]) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chmodSync(dir, 0o700);
    }
    const dataKey = options.dataKey ?? null;
    this.db = openDatabase(this.dbPath, dataKey && databaseKey(dataKey));
    try {
      // WAL: readers (status, sync, queries) never block the writer. synchronous=FULL: a committed read survives a
      // power cut, not only a crash of the process.
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.pragma('foreign_keys = ON');
      this.db.pragma('busy_timeout = 5000');
      migrate(this.db, this.dbPath, this.clock);
    } catch (err) {
      this.db.close();
      throw err;
    }
    for (const suffix of ['', '-wal', '-shm']) {
      if (existsSync(this.dbPath + suffix)) chmodSync(this.dbPath + suffix, 0o600);
    }
    this.files = new ImageFiles(this.imagesDir, dataKey && imageKey(dataKey));
    this.budget = new ImageBudget(this.db, this.imagesDir, dataDir, options, this.clock);
  }

  /**
   * Opens (creating if needed) the store under `dataDir` (folders 0700, files 0600) and applies migrations. With
   * `options.dataKey` the database must be encrypted with it (a new one is); without, it must be plain.
   */
  static open(dataDir: string, options: StoreOptions): ReadStore {
    return new ReadStore(dataDir, options);
  }

  /**
   * Encrypts an existing plain store in place, once, with the unit stopped: the database is rekeyed (its WAL
   * folded in first) and every plain image file is replaced by its encrypted form. Safe to run again after an
   * interruption: what is encrypted already is left as it is.
   */
  static async encryptExisting(dataDir: string, dataKey: Buffer, clock: Clock): Promise<EncryptExistingReport> {
    const dbPath = path.join(dataDir, DB_FILE);
    if (!existsSync(dbPath)) throw new StoreError(`there is no read store in ${dataDir} (no ${DB_FILE})`);
    let database: EncryptExistingReport['database'] = 'already encrypted';
    if (isPlainDatabase(dbPath)) {
      const db = new Database(dbPath);
      try {
        // Rekeying rewrites the main file page by page; it is not done through a WAL, so the WAL is folded in
        // and switched off for it. Leaving WAL needs the only connection: a running unit makes this fail (busy).
        db.pragma('wal_checkpoint(TRUNCATE)');
        db.pragma('journal_mode = DELETE');
        keyDatabase(db, databaseKey(dataKey), 'rekey');
        db.pragma('journal_mode = WAL');
      } catch (err) {
        throw new StoreError(`cannot encrypt the database ${dbPath} (is the unit still running? stop it first): ${(err as Error).message}`);
      } finally {
        db.close();
      }
      database = 'encrypted';
    }
    // Opening with the key proves the database took it.
    const store = new ReadStore(dataDir, { clock, imageBudgetBytes: Number.POSITIVE_INFINITY, dataKey });
    try {
      return { database, ...(await store.files.encryptPlain(store.db)) };
    } finally {
      store.close();
    }
  }

  /** The database handle, for parts of the unit that keep their own tables in it (hot lists). */
  get database(): Database.Database {
    return this.db;
  }

  /** The schema version the database is at. */
  get schemaVersion(): number {
    return schemaVersion(this.db);
  }

  /**
   * Stores a new read: its image files are written and fsynced, then its row and image rows are committed in one
   * transaction. When this resolves the read is on disk; only then may anything be told it exists.
   */
  async insertRead(read: NewRead): Promise<StoredRead> {
    this.assertOpen();
    const now = this.clock();
    // room first: older images go before a new read can fail for want of space
    await this.budget.keepQuietly(read.crop.bytes.length + (read.frame?.bytes.length ?? 0) + ROW_ALLOWANCE);
    const crop = await this.writeImageIfRoom(read.uuid, 'crop', read.crop, read.bestSeen);
    const frame = read.frame ? await this.writeImageIfRoom(read.uuid, 'frame', read.frame, read.bestSeen) : undefined;
    const written = [crop, frame];
    const id = this.commitOrForget(written, () => {
      const values = {
        uuid: read.uuid,
        unit_id: read.unitId,
        camera_id: read.cameraId,
        region: read.region,
        first_seen: read.firstSeen,
        clock_source: read.clockSource,
        ...updatedColumns(read),
        created_at: now,
        updated_at: now,
      };
      const info = this.statement(`INSERT INTO reads (${Object.keys(values).join(', ')}) VALUES (${Object.keys(values).map((c) => `@${c}`).join(', ')})`).run(values);
      const readId = Number(info.lastInsertRowid);
      if (crop) this.insertImageRow(readId, 'crop', crop, now);
      if (frame) this.insertImageRow(readId, 'frame', frame, now);
      return readId;
    });
    this.budget.bytes += (crop?.bytes ?? 0) + (frame?.bytes ?? 0);
    // the read is committed: a failure to evict now must not make it look unstored (and be stored twice)
    await this.budget.keepQuietly();
    return this.getRead(id)!;
  }

  /**
   * Runs `fn` in a transaction; when it fails (a full disk: SQLITE_FULL), the image files written for it are
   * deleted again, so a failed write leaves no file behind to fill the disk further.
   */
  private commitOrForget<T>(files: Array<{ rel: string } | undefined>, fn: () => T): T {
    try {
      return this.db.transaction(fn)();
    } catch (err) {
      for (const f of files) if (f) void unlink(path.join(this.imagesDir, f.rel)).catch(() => undefined);
      throw err;
    }
  }

  /** Updates a read still in view (more frames, a better crop, or closing it); replaced image files are deleted. */
  async updateRead(id: number, u: ReadUpdate): Promise<StoredRead> {
    this.assertOpen();
    const now = this.clock();
    const existing = this.db.prepare('SELECT uuid FROM reads WHERE id = ?').get(id) as { uuid: string } | undefined;
    if (!existing) throw new StoreError(`no read with id ${id}`);
    if (u.crop || u.frame) await this.budget.keepQuietly((u.crop?.bytes.length ?? 0) + (u.frame?.bytes.length ?? 0) + ROW_ALLOWANCE);
    // a new image that does not fit leaves the read's earlier one in place
    const crop = u.crop ? await this.writeImageIfRoom(existing.uuid, 'crop', u.crop, u.bestSeen) : undefined;
    const frame = u.frame ? await this.writeImageIfRoom(existing.uuid, 'frame', u.frame, u.bestSeen) : undefined;
    const replaced: string[] = [];
    let bytesDelta = 0;
    this.commitOrForget([crop, frame], () => {
      const values = { ...updatedColumns(u), updated_at: now };
      this.statement(`UPDATE reads SET ${Object.keys(values).map((c) => `${c} = @${c}`).join(', ')} WHERE id = @id`).run({ ...values, id });
      for (const [kind, img] of [
        ['crop', crop],
        ['frame', frame],
      ] as const) {
        if (!img) continue;
        const old = this.db
          .prepare('SELECT id, path, bytes FROM images WHERE read_id = ? AND kind = ? AND evicted_at IS NULL')
          .all(id, kind) as Array<{ id: number; path: string; bytes: number }>;
        for (const o of old) {
          this.db.prepare('DELETE FROM images WHERE id = ?').run(o.id);
          replaced.push(o.path);
          bytesDelta -= o.bytes;
        }
        this.insertImageRow(id, kind, img, now);
        bytesDelta += img.bytes;
      }
    });
    this.budget.bytes += bytesDelta;
    for (const rel of replaced) await unlink(path.join(this.imagesDir, rel)).catch(() => undefined);
    // the read is committed: a failure to evict now must not make it look unstored (and be stored twice)
    await this.budget.keepQuietly();
    return this.getRead(id)!;
  }

  getRead(id: number): StoredRead | undefined {
    const row = this.db.prepare(`${READ_SELECT} WHERE r.id = ?`).get(id) as object | undefined;
    return row && READ.toObject(row);
  }

  getReadByUuid(uuid: string): StoredRead | undefined {
    const row = this.db.prepare(`${READ_SELECT} WHERE r.uuid = ?`).get(uuid) as object | undefined;
    return row && READ.toObject(row);
  }

  /** Reads in the order they were stored (for tests, replay checks and, later, sync). */
  listReads(opts: { afterId?: number; limit?: number } = {}): StoredRead[] {
    const rows = this.db
      .prepare(`${READ_SELECT} WHERE r.id > ? ORDER BY r.id LIMIT ?`)
      .all(opts.afterId ?? 0, opts.limit ?? 1000) as object[];
    return rows.map(READ.toObject);
  }

  /** Image files deleted by someone else (the retention purge): their bytes no longer count against the budget. */
  forgetImageBytes(bytes: number): void {
    this.budget.bytes = Math.max(0, this.budget.bytes - bytes);
  }

  /**
   * Absolute path of an image file of the store. With a data key the file is encrypted: read it with readImage,
   * never directly.
   */
  imagePath(rel: string): string {
    return path.join(this.imagesDir, rel);
  }

  /**
   * The plain bytes of an image file of the store (`rel` as in cropPath / framePath). With a data key the file is
   * decrypted and checked: a file altered on disk, or moved from another read's path, is refused.
   */
  readImage(rel: string): Promise<Buffer> {
    return this.files.read(rel);
  }

  stats(): StoreStats {
    const r = this.db
      .prepare(
        `SELECT count(*) AS reads, coalesce(sum(sync_state = 'pending'), 0) AS pending, max(first_seen) AS last FROM reads`,
      )
      .get() as { reads: number; pending: number; last: number | null };
    const img = this.db
      .prepare(
        `SELECT coalesce(sum(kind = 'frame' AND evicted_at IS NULL), 0) AS frames,
                coalesce(sum(kind = 'frame' AND evicted_at IS NOT NULL), 0) AS evicted,
                coalesce(sum(kind = 'crop' AND evicted_at IS NOT NULL), 0) AS crops FROM images`,
      )
      .get() as { frames: number; evicted: number; crops: number };
    let databaseBytes = 0;
    for (const suffix of ['', '-wal']) {
      try {
        databaseBytes += statSync(this.dbPath + suffix).size;
      } catch {
        // no WAL file at this moment
      }
    }
    return {
      reads: r.reads,
      pendingSync: r.pending,
      lastReadAt: r.last,
      imageBytes: this.budget.bytes,
      frameImages: img.frames,
      evictedFrames: img.evicted,
      evictedCrops: img.crops,
      imagesNotWritten: this.imagesNotWritten,
      databaseBytes,
    };
  }

  /** Whether a watched folder's file (by name, size and modification time) has been processed already. */
  isFileDone(cameraId: string, name: string, size: number, mtimeMs: number): boolean {
    return (
      this.db
        .prepare('SELECT 1 FROM directory_files WHERE camera_id = ? AND name = ? AND size = ? AND mtime_ms = ?')
        .get(cameraId, name, size, Math.trunc(mtimeMs)) !== undefined
    );
  }

  markFileDone(cameraId: string, name: string, size: number, mtimeMs: number, outcome: 'processed' | 'failed'): void {
    this.assertOpen();
    this.db
      .prepare(
        `INSERT OR REPLACE INTO directory_files (camera_id, name, size, mtime_ms, outcome, processed_at) VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .run(cameraId, name, size, Math.trunc(mtimeMs), outcome, this.clock());
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private statement(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) this.statements.set(sql, (st = this.db.prepare(sql)));
    return st;
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError('the read store is closed');
  }

  /**
   * writeImage, except on a full disk (ENOSPC, EDQUOT), after older images were evicted to make room: then the
   * read is stored without this image (counted in stats), since the read matters more than its picture.
   */
  private async writeImageIfRoom(
    uuid: string,
    kind: 'crop' | 'frame',
    img: ImageData,
    time: number,
  ): Promise<WrittenImage | undefined> {
    try {
      return await this.files.write(uuid, kind, img, time);
    } catch (err) {
      if (!isNoSpace(err)) throw err;
      this.imagesNotWritten++;
      return undefined;
    }
  }

  private insertImageRow(readId: number, kind: 'crop' | 'frame', img: WrittenImage, now: number): void {
    this.db
      .prepare('INSERT INTO images (read_id, kind, path, format, bytes, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(readId, kind, img.rel, img.format, img.bytes, now);
  }

}

/** Room kept for a read's rows beside its images (bytes). */
const ROW_ALLOWANCE = 64 * 1024;



import Database from 'better-sqlite3-multiple-ciphers';
import type { PlateState } from '../recognition/us-states.js';
import { mkdirSync, chmodSync, statSync, statfsSync, existsSync } from 'node:fs';
import { open, unlink, mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Position } from '../gps/types.js';
import type { Box } from '../recognition/types.js';
import { decryptImage, encryptImage, ImageIntegrityError, isEncryptedImage } from './image-crypto.js';
import { databaseKey, imageKey } from './keys.js';
import { MIGRATIONS } from './migrations.js';
import type { Clock } from '../util/clock.js';
import { rowMap } from '../util/rows.js';

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

export interface ImageData {
  bytes: Buffer;
  format: 'jpeg' | 'png';
}

export interface CandidateText {
  text: string;
  confidence: number;
}

/** What a read says, as the unit makes it and as the store gives it back. */
interface ReadFields {
  uuid: string;
  unitId: string;
  cameraId: string;
  plate: string;
  confidence: number;
  candidates: CandidateText[];
  region: string | null;
  box: Box;
  firstSeen: number;
  lastSeen: number;
  bestSeen: number;
  frameCount: number;
  position: Position;
  closed: boolean;
}

export interface NewRead extends ReadFields {
  /** The US state read on the plate (two-letter code) and its confidence (0-1); absent where none was legible. */
  state?: PlateState | null;
  clockSource: 'system' | 'gps';
  crop: ImageData;
  frame?: ImageData;
}

export type ReadUpdate = Pick<
  NewRead,
  'plate' | 'confidence' | 'candidates' | 'state' | 'box' | 'lastSeen' | 'bestSeen' | 'frameCount' | 'closed' | 'position'
> & { crop?: ImageData; frame?: ImageData };

export interface StoredRead extends ReadFields {
  id: number;
  /** The US state read on the plate, or null where none was legible. */
  state: PlateState | null;
  clockSource: string;
  syncState: 'pending' | 'synced';
  /** Image files of the read, relative to the images folder; null once evicted. */
  cropPath: string | null;
  framePath: string | null;
}

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

/** Free and total bytes of the file system holding the store. */
export interface DiskSpace {
  freeBytes: number;
  totalBytes: number;
}

/** Image files deleted in one go to keep the budget ('budget') or free space on the disk ('disk'). */
export interface Eviction {
  reason: 'budget' | 'disk';
  frames: number;
  crops: number;
  bytes: number;
}

export class StoreError extends Error {
  override name = 'StoreError';
}

export interface StoreOptions {
  /** The unit's clock: stamps reads, image evictions, seen files and migrations. */
  clock: Clock;
  /** Most bytes of image files kept; over it, frame images are deleted oldest first. */
  imageBudgetBytes: number;
  /** Told when the budget cannot be kept by evicting frames (only crops are left). */
  onBudgetExceeded?: (imageBytes: number, budget: number) => void;
  /**
   * Free space kept on the data disk (bytes), at most a tenth of the file system: before and after each write,
   * image files are deleted to keep it, frames oldest first, then plate crops (those already at the agency's
   * server first; never a held read's), never read rows. Absent: images are bounded by imageBudgetBytes only.
   */
  diskReserveBytes?: number;
  /** The data disk's free space (default: statfs of the data folder); null where it cannot be told. */
  freeSpace?: () => DiskSpace | null;
  /** Told of each batch of image files deleted to keep the budget or the disk reserve. */
  onEvicted?: (e: Eviction) => void;
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
const TMP_SUFFIX = '.enc-tmp';

export class ReadStore {
  readonly dbPath: string;
  readonly imagesDir: string;
  private readonly db: Database.Database;
  private readonly imageKey: Buffer | null;
  private imageBytes: number;
  private budgetWarned = false;
  private closed = false;
  private imagesNotWritten = 0;
  /** Images whose files were deleted to make room but whose rows the database could not mark yet (a full disk). */
  private readonly unmarked = new Set<number>();

  /** The clock the store stamps with; the parts that work on the store (sync, retention) decide by it too. */
  readonly clock: Clock;

  private constructor(
    readonly dataDir: string,
    private readonly options: StoreOptions,
  ) {
    this.clock = options.clock;
    this.dbPath = path.join(dataDir, DB_FILE);
    this.imagesDir = path.join(dataDir, 'images');
    for (const dir of [dataDir, this.imagesDir]) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chmodSync(dir, 0o700);
    }
    const dataKey = options.dataKey ?? null;
    this.imageKey = dataKey && imageKey(dataKey);
    this.db = openDatabase(this.dbPath, dataKey && databaseKey(dataKey));
    try {
      // WAL: readers (status, sync, queries) never block the writer. synchronous=FULL: a committed read survives a
      // power cut, not only a crash of the process.
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.pragma('foreign_keys = ON');
      this.db.pragma('busy_timeout = 5000');
      this.migrate();
    } catch (err) {
      this.db.close();
      throw err;
    }
    for (const suffix of ['', '-wal', '-shm']) {
      if (existsSync(this.dbPath + suffix)) chmodSync(this.dbPath + suffix, 0o600);
    }
    this.imageBytes = (
      this.db.prepare('SELECT coalesce(sum(bytes), 0) AS n FROM images WHERE evicted_at IS NULL').get() as { n: number }
    ).n;
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
      return { database, ...(await store.encryptPlainImages()) };
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
    return (this.db.prepare('SELECT coalesce(max(version), 0) AS v FROM schema_migrations').get() as { v: number }).v;
  }

  private migrate(): void {
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
    );
    const current = this.schemaVersion;
    const known = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
    if (current > known) {
      throw new StoreError(
        `the database ${this.dbPath} is at schema version ${current}, newer than this alpr-edge knows (${known}); run a newer alpr-edge`,
      );
    }
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      this.db.transaction(() => {
        this.db.exec(m.sql);
        this.db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, this.clock());
      })();
    }
  }

  /**
   * Stores a new read: its image files are written and fsynced, then its row and image rows are committed in one
   * transaction. When this resolves the read is on disk; only then may anything be told it exists.
   */
  async insertRead(read: NewRead): Promise<StoredRead> {
    this.assertOpen();
    const now = this.clock();
    // room first: older images go before a new read can fail for want of space
    await this.keepBudgetQuietly(read.crop.bytes.length + (read.frame?.bytes.length ?? 0) + ROW_ALLOWANCE);
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
      const names = Object.keys(values);
      const info = this.db.prepare(`INSERT INTO reads (${names.join(', ')}) VALUES (${names.map((c) => `@${c}`).join(', ')})`).run(values);
      const readId = Number(info.lastInsertRowid);
      if (crop) this.insertImageRow(readId, 'crop', crop, now);
      if (frame) this.insertImageRow(readId, 'frame', frame, now);
      return readId;
    });
    this.imageBytes += (crop?.bytes ?? 0) + (frame?.bytes ?? 0);
    // the read is committed: a failure to evict now must not make it look unstored (and be stored twice)
    await this.keepBudgetQuietly();
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
    if (u.crop || u.frame) await this.keepBudgetQuietly((u.crop?.bytes.length ?? 0) + (u.frame?.bytes.length ?? 0) + ROW_ALLOWANCE);
    // a new image that does not fit leaves the read's earlier one in place
    const crop = u.crop ? await this.writeImageIfRoom(existing.uuid, 'crop', u.crop, u.bestSeen) : undefined;
    const frame = u.frame ? await this.writeImageIfRoom(existing.uuid, 'frame', u.frame, u.bestSeen) : undefined;
    const replaced: string[] = [];
    let bytesDelta = 0;
    this.commitOrForget([crop, frame], () => {
      const values = { ...updatedColumns(u), updated_at: now };
      const set = Object.keys(values).map((c) => `${c} = @${c}`);
      this.db.prepare(`UPDATE reads SET ${set.join(', ')} WHERE id = @id`).run({ ...values, id });
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
    this.imageBytes += bytesDelta;
    for (const rel of replaced) await unlink(path.join(this.imagesDir, rel)).catch(() => undefined);
    // the read is committed: a failure to evict now must not make it look unstored (and be stored twice)
    await this.keepBudgetQuietly();
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
    this.imageBytes = Math.max(0, this.imageBytes - bytes);
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
  async readImage(rel: string): Promise<Buffer> {
    const normal = path.normalize(rel);
    if (path.isAbsolute(normal) || normal === '..' || normal.startsWith('..' + path.sep)) {
      throw new StoreError(`the image path ${rel} is outside the store's images folder`);
    }
    let bytes: Buffer;
    try {
      bytes = await readFile(path.join(this.imagesDir, normal));
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new StoreError(`cannot read the image file ${rel}: ${e.code === 'ENOENT' ? 'it does not exist (evicted or deleted)' : e.message}`);
    }
    if (!this.imageKey) {
      if (isEncryptedImage(bytes)) throw new StoreError(`the image file ${rel} is encrypted and the store was opened without the data key`);
      return bytes;
    }
    try {
      return decryptImage(this.imageKey, normal, bytes);
    } catch (err) {
      if (err instanceof ImageIntegrityError) throw new StoreError(err.message);
      throw err;
    }
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
      imageBytes: this.imageBytes,
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

  private assertOpen(): void {
    if (this.closed) throw new StoreError('the read store is closed');
  }

  private async writeImage(
    uuid: string,
    kind: 'crop' | 'frame',
    img: ImageData,
    time: number,
  ): Promise<{ rel: string; bytes: number; format: string }> {
    const d = new Date(time);
    const dir = path.join(
      String(d.getUTCFullYear()),
      String(d.getUTCMonth() + 1).padStart(2, '0'),
      String(d.getUTCDate()).padStart(2, '0'),
    );
    await mkdir(path.join(this.imagesDir, dir), { recursive: true, mode: 0o700 });
    // A new name each time: an update never overwrites a file a committed row still points at.
    const rel = path.join(dir, `${uuid}-${kind}-${time}-${Math.random().toString(36).slice(2, 8)}.${img.format === 'png' ? 'png' : 'jpg'}`);
    const data = this.imageKey ? encryptImage(this.imageKey, rel, img.bytes) : img.bytes;
    const abs = path.join(this.imagesDir, rel);
    const fh = await open(abs, 'wx', 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } catch (err) {
      // a half-written file (a full disk) is not left behind
      await fh.close().catch(() => undefined);
      await unlink(abs).catch(() => undefined);
      throw err;
    }
    await fh.close();
    // Bytes on disk: the image budget is about the card's space.
    return { rel, bytes: data.length, format: img.format };
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
  ): Promise<{ rel: string; bytes: number; format: string } | undefined> {
    try {
      return await this.writeImage(uuid, kind, img, time);
    } catch (err) {
      if (!isNoSpace(err)) throw err;
      this.imagesNotWritten++;
      return undefined;
    }
  }

  /** encryptExisting's second half: every plain file under the images folder, referenced by a row or not. */
  private async encryptPlainImages(): Promise<Omit<EncryptExistingReport, 'database'>> {
    const key = this.imageKey;
    if (!key) throw new StoreError('encrypting images needs the data key');
    let imagesEncrypted = 0;
    let imagesAlreadyEncrypted = 0;
    const setBytes = this.db.prepare('UPDATE images SET bytes = ? WHERE path = ?');
    const walk = async (dirRel: string): Promise<void> => {
      const dirAbs = path.join(this.imagesDir, dirRel);
      let changed = false;
      for (const entry of await readdir(dirAbs, { withFileTypes: true })) {
        const rel = path.join(dirRel, entry.name);
        const abs = path.join(this.imagesDir, rel);
        if (entry.isDirectory()) {
          await walk(rel);
          continue;
        }
        if (!entry.isFile()) continue;
        if (entry.name.endsWith(TMP_SUFFIX)) {
          // Left by an interrupted run; the original beside it is still there.
          await rm(abs, { force: true });
          continue;
        }
        const plain = await readFile(abs);
        if (isEncryptedImage(plain)) {
          imagesAlreadyEncrypted++;
          continue;
        }
        const data = encryptImage(key, rel, plain);
        const fh = await open(abs + TMP_SUFFIX, 'w', 0o600);
        try {
          await fh.writeFile(data);
          await fh.sync();
        } finally {
          await fh.close();
        }
        await rename(abs + TMP_SUFFIX, abs);
        setBytes.run(data.length, rel);
        imagesEncrypted++;
        changed = true;
      }
      if (changed) await fsyncDir(dirAbs);
    };
    await walk('');
    return { imagesEncrypted, imagesAlreadyEncrypted };
  }

  private insertImageRow(readId: number, kind: 'crop' | 'frame', img: { rel: string; bytes: number; format: string }, now: number): void {
    this.db
      .prepare('INSERT INTO images (read_id, kind, path, format, bytes, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(readId, kind, img.rel, img.format, img.bytes, now);
  }

  /** keepBudget, its failure (a database that refuses the eviction marks) left for the next write to find. */
  private async keepBudgetQuietly(needed = 0): Promise<void> {
    try {
      await this.keepBudget(needed);
    } catch {
      // nothing evicted this time; the write itself says whether the store takes writes
    }
  }

  /**
   * Keeps the image budget (frame images deleted oldest first; crops are never deleted for the budget) and, with
   * store.diskReserveBytes, free space on the disk for `needed` more bytes plus the reserve: frames first, then
   * plate crops (those already at the agency's server first, oldest first; never a held read's). Rows are never
   * deleted here.
   */
  private async keepBudget(needed = 0): Promise<void> {
    const budget = this.options.imageBudgetBytes;
    if (this.imageBytes > budget) {
      const freed = await this.evict('frame', this.imageBytes - budget);
      if (freed.count > 0) this.options.onEvicted?.({ reason: 'budget', frames: freed.count, crops: 0, bytes: freed.bytes });
      if (this.imageBytes > budget) {
        if (!this.budgetWarned) this.options.onBudgetExceeded?.(this.imageBytes, budget);
        this.budgetWarned = true;
      } else this.budgetWarned = false;
    } else this.budgetWarned = false;
    let deficit = this.diskDeficit(needed);
    if (deficit <= 0) return;
    const frames = await this.evict('frame', deficit);
    deficit -= frames.bytes;
    const crops = deficit > 0 ? await this.evict('crop', deficit) : { count: 0, bytes: 0 };
    if (frames.count + crops.count > 0) {
      this.options.onEvicted?.({ reason: 'disk', frames: frames.count, crops: crops.count, bytes: frames.bytes + crops.bytes });
    }
  }

  /** Bytes to free for `needed` more bytes and the disk reserve (<= 0: nothing to free). */
  private diskDeficit(needed: number): number {
    const reserve = this.options.diskReserveBytes;
    if (reserve === undefined) return 0;
    let space: DiskSpace | null;
    try {
      space = this.options.freeSpace ? this.options.freeSpace() : diskSpace(this.dataDir);
    } catch {
      space = null;
    }
    if (!space || space.totalBytes <= 0) return 0;
    return Math.min(reserve, space.totalBytes / 10) + needed - space.freeBytes;
  }

  /** Deletes image files of one kind, oldest first, until `bytes` are freed or there are none left. */
  private async evict(kind: 'frame' | 'crop', bytes: number): Promise<{ count: number; bytes: number }> {
    const pick = this.db.prepare(
      kind === 'frame'
        ? `SELECT id, path, bytes FROM images WHERE kind = 'frame' AND evicted_at IS NULL ORDER BY id LIMIT 64`
        : `SELECT i.id, i.path, i.bytes FROM images i WHERE i.kind = 'crop' AND i.evicted_at IS NULL
             AND NOT EXISTS (SELECT 1 FROM hold_reads hr JOIN holds h ON h.id = hr.hold_id WHERE hr.read_id = i.read_id AND h.released_at IS NULL)
           ORDER BY i.synced_at IS NULL, i.id LIMIT 64`,
    );
    const mark = this.db.prepare('UPDATE images SET evicted_at = ? WHERE id = ?');
    const markAll = (ids: number[], now: number) =>
      this.db.transaction(() => {
        for (const id of ids) mark.run(now, id);
      })();
    let freed = 0;
    let count = 0;
    // files deleted before their rows could be marked (below): marked first, or nothing more is done now
    if (this.unmarked.size > 0) {
      try {
        markAll([...this.unmarked], this.clock());
        this.unmarked.clear();
      } catch {
        return { count, bytes: freed };
      }
    }
    while (freed < bytes) {
      const victims = pick.all() as Array<{ id: number; path: string; bytes: number }>;
      if (victims.length === 0) break;
      const now = this.clock();
      const batch: typeof victims = [];
      for (const v of victims) {
        if (freed >= bytes) break;
        batch.push(v);
        freed += v.bytes;
      }
      // The rows are marked first (one commit): a crash after it leaves stray files, never a row pointing at nothing.
      try {
        markAll(batch.map((v) => v.id), now);
      } catch (err) {
        if (!isFull(err)) throw err;
        // A disk full to the last byte refuses even the marks: the files go first, then the marks are tried again
        // (kept in memory until the database takes them). Until then a row may point at a deleted file, which
        // readers take as evicted (sync skips it, readImage says so).
        for (const v of batch) await unlink(path.join(this.imagesDir, v.path)).catch(() => undefined);
        try {
          markAll(batch.map((v) => v.id), now);
        } catch {
          for (const v of batch) this.unmarked.add(v.id);
        }
        for (const v of batch) this.imageBytes -= v.bytes;
        count += batch.length;
        if (this.unmarked.size > 0) break;
        continue;
      }
      for (const v of batch) {
        this.imageBytes -= v.bytes;
        count++;
        await unlink(path.join(this.imagesDir, v.path)).catch(() => undefined);
      }
    }
    return { count, bytes: freed };
  }
}

/** The columns of `reads` an update sets (an insert too), by name. */
function updatedColumns(u: ReadUpdate): Record<string, string | number | null> {
  const p = u.position;
  return {
    plate: u.plate,
    confidence: u.confidence,
    candidates: JSON.stringify(u.candidates),
    state: u.state?.code ?? null,
    state_confidence: u.state?.confidence ?? null,
    box: JSON.stringify(u.box),
    last_seen: u.lastSeen,
    best_seen: u.bestSeen,
    frame_count: u.frameCount,
    closed: u.closed ? 1 : 0,
    latitude: p.latitude,
    longitude: p.longitude,
    position_valid: p.valid ? 1 : 0,
    position_source: p.source,
    speed_kmh: p.speedKmh,
    heading_deg: p.headingDeg,
    fix_time: p.fixTime,
  };
}

/** Room kept for a read's rows beside its images (bytes). */
const ROW_ALLOWANCE = 64 * 1024;

function diskSpace(dir: string): DiskSpace {
  const s = statfsSync(dir);
  return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
}

/** The database or a file write refused for want of space. */
function isFull(err: unknown): boolean {
  return (err as { code?: string } | undefined)?.code === 'SQLITE_FULL' || isNoSpace(err);
}

/** A write refused for want of space (a full disk or a quota). */
export function isNoSpace(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** Opens the database file, keying it first when a key is given; a missing or wrong key is a StoreError. */
function openDatabase(dbPath: string, key: Buffer | null): Database.Database {
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
function keyDatabase(db: Database.Database, key: Buffer, pragma: 'key' | 'rekey'): void {
  const result = db.pragma(`${pragma}="x'${key.toString('hex')}'"`, { simple: true });
  if (result !== 'ok') throw new StoreError(`PRAGMA ${pragma} was refused: ${String(result)}`);
}

/** Whether the database file opens as plain SQLite (false: encrypted, or not a database at all). */
function isPlainDatabase(dbPath: string): boolean {
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

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

const READ_SELECT = `
  SELECT r.*,
    (SELECT path FROM images WHERE read_id = r.id AND kind = 'crop' AND evicted_at IS NULL ORDER BY id DESC LIMIT 1) AS crop_path,
    (SELECT path FROM images WHERE read_id = r.id AND kind = 'frame' AND evicted_at IS NULL ORDER BY id DESC LIMIT 1) AS frame_path
  FROM reads r`;

const READ = rowMap<StoredRead>()(
  `id uuid unit_id camera_id plate confidence candidates:json region state box:json first_seen last_seen best_seen frame_count
   clock_source position closed:bool sync_state crop_path frame_path`,
  {
    state: (r) => (r.state === null ? null : { code: r.state as string, confidence: (r.state_confidence as number | null) ?? 0 }),
    position: (r) => ({
      latitude: r.latitude as number | null,
      longitude: r.longitude as number | null,
      valid: r.position_valid === 1,
      source: r.position_source as Position['source'],
      speedKmh: r.speed_kmh as number | null,
      headingDeg: r.heading_deg as number | null,
      fixTime: r.fix_time as number | null,
    }),
  },
);

import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { normalisePlate } from '../hotlist/plate.js';
import type { StreamItem, StreamName } from '../sync/streams.js';
import type { Clock } from '../util/clock.js';

/**
 * The reference central server's storage (docs/sync-protocol.md, server side): its own SQLite file
 * `central.sqlite` in the data folder, and the images the units send under `images/<unit>/`.
 *
 * Items are kept per (unit, stream, key) at their highest `rev`; a batch is one transaction, committed (with
 * synchronous=FULL: on disk) before the server answers, so an answer the unit sees is never taken back.
 */

export class CentralError extends Error {
  override name = 'CentralError';
}

/** Unit ids, read uuids and list names as the unit's config allows them; also safe as file names. */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const UUID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export const IMAGE_KINDS = ['crop', 'frame'] as const;
export type ImageKind = (typeof IMAGE_KINDS)[number];
export const IMAGE_FORMATS = ['jpeg', 'png'] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

export interface BatchCount {
  received: number;
  stored: number;
  duplicates: number;
}

export interface StoredItem {
  unit: string;
  stream: string;
  key: string;
  rev: number;
  body: StreamItem;
  receivedAt: number;
}

export interface ImageRecord {
  unit: string;
  readUuid: string;
  kind: ImageKind;
  format: string | null;
  /** Of the whole image being received; null for an image only wanted (a pull will fetch it). */
  sha256: string | null;
  total: number | null;
  received: number;
  complete: boolean;
  path: string | null;
  updatedAt: number;
}

export interface PublishedEntry {
  id: string;
  list: string;
  plate: string;
  state: string | null;
  reason: string;
  caseNumber: string;
  expiresAt: number | null;
  by: string | null;
  createdAt: number;
}

export interface PublishedCancellation {
  id: string;
  list: string;
  plate: string;
  state: string | null;
  reason: string;
  by: string | null;
  at: number;
}

/** What happened to a chunk of an image (see receiveChunk). */
export type ChunkResult =
  | { status: 'conflict'; received: number; why: string }
  | { status: 'partial'; received: number }
  | { status: 'complete'; received: number }
  | { status: 'mismatch'; sha256: string };

/** A unit's access log head: its last record's number, MAC and time. */
export interface LogHead {
  id: number;
  mac: string;
  at: number;
}

/** A head refused because the unit's access log went back. */
export interface LogRegression {
  unit: string;
  at: number;
  acknowledged: LogHead | null;
  claimed: { id: number; mac: string };
  problem: string;
}

export interface UnitSummary {
  unit: string;
  streams: Partial<Record<StreamName, number>>;
  /** The access log head last acknowledged, and how many heads were refused (the log went back). */
  accessLog: { head: LogHead | null; regressions: number };
  lastReceivedAt: number | null;
  images: { complete: number; partial: number; wanted: number; bytes: number };
  health: { receivedAt: number } | null;
}

const MIGRATIONS: string[] = [
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

interface ImageRow {
  unit: string;
  read_uuid: string;
  kind: ImageKind;
  format: string | null;
  sha256: string | null;
  total: number | null;
  received: number;
  complete: number;
  path: string | null;
  updated_at: number;
}

const imageRecord = (r: ImageRow): ImageRecord => ({
  unit: r.unit,
  readUuid: r.read_uuid,
  kind: r.kind,
  format: r.format,
  sha256: r.sha256,
  total: r.total,
  received: r.received,
  complete: r.complete === 1,
  path: r.path,
  updatedAt: r.updated_at,
});

/**
 * Checks the items of a batch or a pulled page: each an object with a non-empty string `key` and a whole `rev`.
 * Throws a CentralError naming the first bad item; nothing of a bad batch is stored.
 */
export function checkItems(items: unknown): StreamItem[] {
  if (!Array.isArray(items)) throw new CentralError('items must be an array');
  items.forEach((item: unknown, i) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new CentralError(`items[${i}] is not an object`);
    const it = item as Record<string, unknown>;
    if (typeof it.key !== 'string' || it.key === '' || it.key.length > 200) {
      throw new CentralError(`items[${i}].key must be a non-empty string of at most 200 characters`);
    }
    if (typeof it.rev !== 'number' || !Number.isSafeInteger(it.rev) || it.rev < 0) {
      throw new CentralError(`items[${i}].rev must be a whole number, 0 or more (item ${JSON.stringify(it.key)})`);
    }
  });
  return items as StreamItem[];
}

export class CentralDb {
  readonly database: Database.Database;
  readonly imagesDir: string;
  /** Tells this database's published ids from another's: a unit applies each id once. */
  private readonly tag: string;

  private constructor(
    readonly dataDir: string,
    /** The server's clock: when items, images, health, entries and cancellations arrived. */
    readonly clock: Clock,
  ) {
    // reads of every unit are in here: the server's user only (P14). A folder of ours (new, or holding the
    // database) is tightened; someone else's folder open to others is refused rather than changed
    const file = path.join(dataDir, 'central.sqlite');
    if (existsSync(dataDir) && !existsSync(file) && (statSync(dataDir).mode & 0o077) !== 0) {
      throw new CentralError(
        `the data folder ${dataDir} can be entered by other users (mode ${(statSync(dataDir).mode & 0o777).toString(8)}): give the central server a folder of its own (it is created with mode 0700)`,
      );
    }
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    chmodSync(dataDir, 0o700);
    this.imagesDir = path.join(dataDir, 'images');
    mkdirSync(this.imagesDir, { recursive: true, mode: 0o700 });
    chmodSync(this.imagesDir, 0o700);
    // the database file is created 0600 before SQLite opens it (its -wal and -shm copy this mode)
    if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600));
    for (const f of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
    this.database = new Database(file);
    this.database.pragma('journal_mode = WAL');
    this.database.pragma('synchronous = FULL');
    this.database.pragma('busy_timeout = 5000');
    this.migrate();
    this.tag = this.database.prepare("SELECT value FROM meta WHERE key = 'tag'").pluck().get() as string;
  }

  /** Opens (creating or upgrading) the database in dataDir. */
  static open(dataDir: string, clock: Clock): CentralDb {
    return new CentralDb(dataDir, clock);
  }

  close(): void {
    if (this.database.open) this.database.close();
  }

  private migrate(): void {
    const db = this.database;
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > MIGRATIONS.length) {
      throw new CentralError(`central.sqlite in ${this.dataDir} is of a newer version (${version}) than this program knows (${MIGRATIONS.length})`);
    }
    db.transaction(() => {
      for (let v = version; v < MIGRATIONS.length; v++) {
        db.exec(MIGRATIONS[v]!);
        if (v === 0) db.prepare("INSERT INTO meta (key, value) VALUES ('tag', ?), ('seq', '0')").run(randomBytes(3).toString('hex'));
      }
      db.pragma(`user_version = ${MIGRATIONS.length}`);
    }).immediate();
  }

  // ---- items ------------------------------------------------------------------------------------------------

  /**
   * Stores items at their highest rev without a transaction of its own (the caller's holds the batch, and for a
   * pull the cursor with it). An item whose rev the server already has, or a lower one, is a duplicate.
   */
  upsertItems(unit: string, stream: StreamName, items: readonly StreamItem[], now: number): BatchCount {
    const upsert = this.database.prepare(
      `INSERT INTO items (unit, stream, key, rev, body, received_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (unit, stream, key) DO UPDATE SET rev = excluded.rev, body = excluded.body, received_at = excluded.received_at
       WHERE excluded.rev > items.rev`,
    );
    let stored = 0;
    for (const item of items) stored += upsert.run(unit, stream, item.key, item.rev, JSON.stringify(item), now).changes;
    return { received: items.length, stored, duplicates: items.length - stored };
  }

  /** A whole batch in one transaction, committed when this returns. */
  storeBatch(unit: string, stream: StreamName, items: readonly StreamItem[], now = this.clock()): BatchCount {
    return this.database.transaction(() => this.upsertItems(unit, stream, items, now)).immediate();
  }

  item(unit: string, stream: StreamName, key: string): StoredItem | undefined {
    const r = this.database.prepare('SELECT * FROM items WHERE unit = ? AND stream = ? AND key = ?').get(unit, stream, key) as
      | { unit: string; stream: string; key: string; rev: number; body: string; received_at: number }
      | undefined;
    return r && { unit: r.unit, stream: r.stream, key: r.key, rev: r.rev, body: JSON.parse(r.body) as StreamItem, receivedAt: r.received_at };
  }

  /** A read of a unit by its uuid (the key of the reads stream). */
  read(unit: string, uuid: string): StoredItem | undefined {
    return this.item(unit, 'reads', uuid);
  }

  /** Items stored, of one stream or all, of one unit or all. */
  count(stream?: StreamName, unit?: string): number {
    const where: string[] = [];
    const args: string[] = [];
    if (stream !== undefined) (where.push('stream = ?'), args.push(stream));
    if (unit !== undefined) (where.push('unit = ?'), args.push(unit));
    const sql = `SELECT COUNT(*) FROM items${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`;
    return this.database.prepare(sql).pluck().get(...args) as number;
  }

  // ---- access log heads ---------------------------------------------------------------------------------

  /** The head of a unit's access log last acknowledged. */
  accessLogHead(unit: string): LogHead | null {
    const r = this.database.prepare('SELECT head_id, head_mac, head_at FROM access_log_heads WHERE unit = ?').get(unit) as
      | { head_id: number; head_mac: string; head_at: number }
      | undefined;
    return r ? { id: r.head_id, mac: r.head_mac, at: r.head_at } : null;
  }

  /** Heads refused because a unit's log went back, oldest first. */
  regressions(unit?: string): LogRegression[] {
    const rows = this.database
      .prepare(`SELECT * FROM access_log_regressions${unit === undefined ? '' : ' WHERE unit = ?'} ORDER BY id`)
      .all(...(unit === undefined ? [] : [unit])) as Array<{
      unit: string;
      at: number;
      acknowledged_id: number | null;
      acknowledged_mac: string | null;
      claimed_id: number;
      claimed_mac: string;
      problem: string;
    }>;
    return rows.map((r) => ({
      unit: r.unit,
      at: r.at,
      acknowledged: r.acknowledged_id === null ? null : { id: r.acknowledged_id, mac: r.acknowledged_mac!, at: 0 },
      claimed: { id: r.claimed_id, mac: r.claimed_mac },
      problem: r.problem,
    }));
  }

  /**
   * A unit's access log head, sent after its access-log batches. Acknowledged (and kept) when it continues the head
   * acknowledged before: the same record or a later one, the records in between received here, each following the
   * one before it (its prevMac is that record's MAC) up to the head's MAC. Otherwise the unit's log went back — a head
   * below the one acknowledged, another MAC at a number acknowledged, records missing or not following — and the
   * head is refused and recorded (access_log_regressions; the same refusal again is not recorded twice).
   */
  acceptHead(unit: string, head: LogHead, now = this.clock()): { ok: true; acknowledged: LogHead } | { ok: false; problem: string; acknowledged: LogHead | null } {
    return this.database
      .transaction(() => {
        const before = this.accessLogHead(unit);
        const problem = this.headProblem(unit, before, head);
        if (problem === null) {
          this.database
            .prepare(
              `INSERT INTO access_log_heads (unit, head_id, head_mac, head_at, received_at) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (unit) DO UPDATE SET head_id = excluded.head_id, head_mac = excluded.head_mac, head_at = excluded.head_at, received_at = excluded.received_at`,
            )
            .run(unit, head.id, head.mac, head.at, now);
          return { ok: true as const, acknowledged: head };
        }
        const last = this.database
          .prepare('SELECT claimed_id, claimed_mac, problem FROM access_log_regressions WHERE unit = ? ORDER BY id DESC LIMIT 1')
          .get(unit) as { claimed_id: number; claimed_mac: string; problem: string } | undefined;
        if (!last || last.claimed_id !== head.id || last.claimed_mac !== head.mac || last.problem !== problem) {
          this.database
            .prepare(
              `INSERT INTO access_log_regressions (unit, at, acknowledged_id, acknowledged_mac, claimed_id, claimed_mac, problem)
               VALUES (?, ?, ?, ?, ?, ?, ?)`,
            )
            .run(unit, now, before?.id ?? null, before?.mac ?? null, head.id, head.mac, problem);
        }
        return { ok: false as const, problem, acknowledged: before };
      })
      .immediate();
  }

  private headProblem(unit: string, before: LogHead | null, head: LogHead): string | null {
    const record = (id: number) => this.item(unit, 'access-log', String(id))?.body as { mac?: unknown; prevMac?: unknown } | undefined;
    if (before !== null && head.id < before.id) return `the log went back: its head is #${head.id}, but the server acknowledged #${before.id}`;
    if (before !== null && head.id === before.id && head.mac !== before.mac) return `the log was rewritten: record #${head.id} has another MAC than the one the server acknowledged`;
    const at = record(head.id);
    if (!at) return `the server has not received record #${head.id} of this unit's access log`;
    if (at.mac !== head.mac) return `record #${head.id} as received here has another MAC: the log was cut and rewritten from there`;
    if (before === null || head.id === before.id) return null;
    let prevMac = before.mac;
    for (let id = before.id + 1; id <= head.id; id++) {
      const r = record(id);
      if (!r) return `record #${id} never arrived here, between the head acknowledged (#${before.id}) and #${head.id}: the log has a gap`;
      if (r.prevMac !== prevMac) return `record #${id} does not follow record #${id - 1} received here: the log was cut and continued after #${before.id}`;
      prevMac = String(r.mac);
    }
    return null;
  }

  // ---- health -----------------------------------------------------------------------------------------------

  putHealth(unit: string, body: unknown, now = this.clock()): void {
    this.database
      .prepare(
        `INSERT INTO health (unit, body, received_at) VALUES (?, ?, ?)
         ON CONFLICT (unit) DO UPDATE SET body = excluded.body, received_at = excluded.received_at`,
      )
      .run(unit, JSON.stringify(body), now);
  }

  health(unit: string): { body: unknown; receivedAt: number } | undefined {
    const r = this.database.prepare('SELECT body, received_at FROM health WHERE unit = ?').get(unit) as { body: string; received_at: number } | undefined;
    return r && { body: JSON.parse(r.body) as unknown, receivedAt: r.received_at };
  }

  // ---- pull cursors -----------------------------------------------------------------------------------------

  pullCursor(unit: string, stream: StreamName): number {
    return (this.database.prepare('SELECT cursor FROM pull_cursors WHERE unit = ? AND stream = ?').pluck().get(unit, stream) as number | undefined) ?? 0;
  }

  /** Without a transaction of its own: it goes in the one that stores the page. */
  setPullCursor(unit: string, stream: StreamName, cursor: number, now: number): void {
    this.database
      .prepare(
        `INSERT INTO pull_cursors (unit, stream, cursor, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (unit, stream) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`,
      )
      .run(unit, stream, cursor, now);
  }

  // ---- images -----------------------------------------------------------------------------------------------

  image(unit: string, readUuid: string, kind: ImageKind): ImageRecord | undefined {
    const r = this.database.prepare('SELECT * FROM images WHERE unit = ? AND read_uuid = ? AND kind = ?').get(unit, readUuid, kind) as ImageRow | undefined;
    return r && imageRecord(r);
  }

  /** The bytes of a complete image. */
  imageBytes(unit: string, readUuid: string, kind: ImageKind): Buffer | undefined {
    const img = this.image(unit, readUuid, kind);
    return img?.complete && img.path ? readFileSync(img.path) : undefined;
  }

  private imagePath(unit: string, readUuid: string, kind: ImageKind, ext: string): string {
    if (!NAME_RE.test(unit) || !UUID_RE.test(readUuid)) throw new CentralError(`not a unit id or read uuid: ${JSON.stringify(unit)}, ${JSON.stringify(readUuid)}`);
    const dir = path.join(this.imagesDir, unit);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return path.join(dir, `${readUuid}-${kind}.${ext}`);
  }

  private saveImageRow(r: Omit<ImageRecord, 'complete'> & { complete: boolean }): void {
    this.database
      .prepare(
        `INSERT INTO images (unit, read_uuid, kind, format, sha256, total, received, complete, path, updated_at)
         VALUES (@unit, @readUuid, @kind, @format, @sha256, @total, @received, @complete, @path, @updatedAt)
         ON CONFLICT (unit, read_uuid, kind) DO UPDATE SET format = excluded.format, sha256 = excluded.sha256, total = excluded.total,
           received = excluded.received, complete = excluded.complete, path = excluded.path, updated_at = excluded.updated_at`,
      )
      .run({ ...r, complete: r.complete ? 1 : 0 });
  }

  private dropImage(img: ImageRecord): void {
    if (img.path) rmSync(img.path, { force: true });
    this.database.prepare('DELETE FROM images WHERE unit = ? AND read_uuid = ? AND kind = ?').run(img.unit, img.readUuid, img.kind);
  }

  /**
   * One chunk of a resumable upload (docs/sync-protocol.md, "Images"). Synchronous from the check to the row
   * update, so two uploads of the same image cannot interleave. The chunk is on disk (fsync) before its bytes
   * are counted as received.
   */
  receiveChunk(
    unit: string,
    readUuid: string,
    kind: ImageKind,
    c: { start: number; total: number; sha256: string; format: ImageFormat; chunk: Buffer },
    now = this.clock(),
  ): ChunkResult {
    let img = this.image(unit, readUuid, kind);
    if (img?.sha256 != null && !img.complete && img.path) {
      // what the row counts must be what the file holds (a file removed by hand begins again)
      let size = -1;
      try {
        size = statSync(img.path).size;
      } catch {
        /* missing */
      }
      if (size !== img.received) {
        this.dropImage(img);
        img = undefined;
      }
    }
    let partPath: string;
    let format: string = c.format;
    if (c.start === 0) {
      if (img) this.dropImage(img);
      partPath = `${this.imagePath(unit, readUuid, kind, c.format === 'png' ? 'png' : 'jpg')}.part`;
    } else {
      const same = img?.sha256 != null && img.sha256 === c.sha256 && img.total === c.total;
      const have = same ? img!.received : 0;
      if (!img || !same || img.complete || !img.path || have !== c.start) {
        const why =
          img?.sha256 == null
            ? 'the server has nothing of this image: start at 0'
            : !same
              ? 'the server is receiving another version of this image: start at 0'
              : img.complete
                ? 'the server has the whole image already'
                : `the server has ${have} bytes of this image`;
        return { status: 'conflict', received: have, why };
      }
      partPath = img.path;
      format = img.format ?? c.format;
    }
    const fd = openSync(partPath, c.start === 0 ? 'w' : 'r+', 0o600);
    try {
      writeSync(fd, c.chunk, 0, c.chunk.length, c.start);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const received = c.start + c.chunk.length;
    const row = { unit, readUuid, kind, format, sha256: c.sha256, total: c.total, received, complete: false, path: partPath, updatedAt: now };
    if (received < c.total) {
      this.saveImageRow(row);
      return { status: 'partial', received };
    }
    const actual = createHash('sha256').update(readFileSync(partPath)).digest('hex');
    if (actual !== c.sha256) {
      this.dropImage({ ...row, complete: false });
      return { status: 'mismatch', sha256: actual };
    }
    const finalPath = partPath.slice(0, -'.part'.length);
    renameSync(partPath, finalPath);
    this.saveImageRow({ ...row, complete: true, path: finalPath });
    return { status: 'complete', received };
  }

  /** A whole image (from a pull): written, synced and renamed into place, then recorded complete. */
  storeImage(unit: string, readUuid: string, kind: ImageKind, format: ImageFormat, data: Buffer, now = this.clock()): ImageRecord {
    const finalPath = this.imagePath(unit, readUuid, kind, format === 'png' ? 'png' : 'jpg');
    const tmp = `${finalPath}.part`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, finalPath);
    const old = this.image(unit, readUuid, kind);
    if (old?.path && old.path !== finalPath) rmSync(old.path, { force: true });
    const sha256 = createHash('sha256').update(data).digest('hex');
    const row = { unit, readUuid, kind, format, sha256, total: data.length, received: data.length, complete: true, path: finalPath, updatedAt: now };
    this.saveImageRow(row);
    return row;
  }

  /** Records images a pull should fetch (kept until fetched, or until the unit says it no longer has them). */
  wantImages(unit: string, readUuid: string, kinds: readonly ImageKind[], now: number): void {
    const want = this.database.prepare(
      `INSERT INTO images (unit, read_uuid, kind, received, complete, updated_at) VALUES (?, ?, ?, 0, 0, ?)
       ON CONFLICT (unit, read_uuid, kind) DO NOTHING`,
    );
    for (const kind of kinds) want.run(unit, readUuid, kind, now);
  }

  /** Images of a unit that are not whole on the server yet (wanted by a pull, or a push that stopped). */
  missingImages(unit: string): ImageRecord[] {
    return (this.database.prepare('SELECT * FROM images WHERE unit = ? AND complete = 0 ORDER BY updated_at, read_uuid, kind').all(unit) as ImageRow[]).map(imageRecord);
  }

  /** Forgets an image the unit no longer has. */
  forgetImage(unit: string, readUuid: string, kind: ImageKind): void {
    const img = this.image(unit, readUuid, kind);
    if (img) this.dropImage(img);
  }

  // ---- published hot list entries and cancellations -----------------------------------------------------------

  private nextId(prefix: 'e' | 'c'): { id: string; seq: number } {
    const seq = Number(this.database.prepare("SELECT value FROM meta WHERE key = 'seq'").pluck().get()) + 1;
    this.database.prepare("UPDATE meta SET value = ? WHERE key = 'seq'").run(String(seq));
    return { id: `${prefix}-${seq}-${this.tag}`, seq };
  }

  insertEntry(e: Omit<PublishedEntry, 'id'>): PublishedEntry {
    return this.database
      .transaction(() => {
        const { id, seq } = this.nextId('e');
        this.database
          .prepare(
            `INSERT INTO published_entries (id, seq, list, plate, state, reason, case_number, expires_at, by, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(id, seq, e.list, e.plate, e.state, e.reason, e.caseNumber, e.expiresAt, e.by, e.createdAt);
        return { id, ...e };
      })
      .immediate();
  }

  insertCancellation(c: Omit<PublishedCancellation, 'id'>): PublishedCancellation {
    return this.database
      .transaction(() => {
        const { id, seq } = this.nextId('c');
        this.database
          .prepare('INSERT INTO published_cancellations (id, seq, list, plate, state, reason, by, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
          .run(id, seq, c.list, c.plate, c.state, c.reason, c.by, c.at);
        return { id, ...c };
      })
      .immediate();
  }

  /** Every published entry and cancellation, in the order they were published. */
  published(): { entries: Array<PublishedEntry & { seq: number }>; cancellations: Array<PublishedCancellation & { seq: number }> } {
    const entries = this.database
      .prepare(
        `SELECT id, seq, list, plate, state, reason, case_number AS caseNumber, expires_at AS expiresAt, by, created_at AS createdAt
         FROM published_entries ORDER BY seq`,
      )
      .all() as Array<PublishedEntry & { seq: number }>;
    const cancellations = this.database
      .prepare('SELECT id, seq, list, plate, state, reason, by, at FROM published_cancellations ORDER BY seq')
      .all() as Array<PublishedCancellation & { seq: number }>;
    return { entries, cancellations };
  }

  // ---- overview ---------------------------------------------------------------------------------------------

  /** Per unit: items per stream, images, latest health (for `central ls`). */
  summary(unit?: string): UnitSummary[] {
    const units = new Map<string, UnitSummary>();
    const get = (u: string): UnitSummary => {
      let s = units.get(u);
      if (!s) units.set(u, (s = { unit: u, streams: {}, accessLog: { head: null, regressions: 0 }, lastReceivedAt: null, images: { complete: 0, partial: 0, wanted: 0, bytes: 0 }, health: null }));
      return s;
    };
    const only = unit === undefined ? '' : ' WHERE unit = ?';
    const args = unit === undefined ? [] : [unit];
    for (const r of this.database.prepare(`SELECT unit, stream, COUNT(*) AS n, MAX(received_at) AS last FROM items${only} GROUP BY unit, stream`).all(...args) as Array<{
      unit: string;
      stream: StreamName;
      n: number;
      last: number;
    }>) {
      const s = get(r.unit);
      s.streams[r.stream] = r.n;
      s.lastReceivedAt = Math.max(s.lastReceivedAt ?? 0, r.last);
    }
    for (const r of this.database
      .prepare(
        `SELECT unit, SUM(complete = 1) AS complete, SUM(complete = 0 AND sha256 IS NOT NULL) AS partial, SUM(sha256 IS NULL) AS wanted,
           SUM(CASE WHEN complete = 1 THEN total ELSE 0 END) AS bytes FROM images${only} GROUP BY unit`,
      )
      .all(...args) as Array<{ unit: string; complete: number; partial: number; wanted: number; bytes: number }>) {
      get(r.unit).images = { complete: r.complete, partial: r.partial, wanted: r.wanted, bytes: r.bytes };
    }
    for (const r of this.database.prepare(`SELECT unit, received_at FROM health${only}`).all(...args) as Array<{ unit: string; received_at: number }>) {
      get(r.unit).health = { receivedAt: r.received_at };
    }
    for (const r of this.database.prepare(`SELECT unit, head_id, head_mac, head_at FROM access_log_heads${only}`).all(...args) as Array<{
      unit: string;
      head_id: number;
      head_mac: string;
      head_at: number;
    }>) {
      get(r.unit).accessLog.head = { id: r.head_id, mac: r.head_mac, at: r.head_at };
    }
    for (const r of this.database.prepare(`SELECT unit, COUNT(*) AS n FROM access_log_regressions${only} GROUP BY unit`).all(...args) as Array<{ unit: string; n: number }>) {
      get(r.unit).accessLog.regressions = r.n;
    }
    return [...units.values()].sort((a, b) => a.unit.localeCompare(b.unit));
  }
}

// ---- publishing ---------------------------------------------------------------------------------------------

export interface EntryInput {
  list: string;
  plate: string;
  state?: string | null;
  reason: string;
  caseNumber: string;
  /** ms since the epoch; none: until cancelled. */
  expiresAt?: number | null;
  by?: string | null;
  now?: number;
}

export interface CancellationInput {
  list: string;
  plate: string;
  state?: string | null;
  reason: string;
  by?: string | null;
  at?: number;
}

function checkList(list: string): string {
  if (!NAME_RE.test(list)) throw new CentralError(`list ${JSON.stringify(list)}: letters, digits, "_", "." and "-", 1-64 characters`);
  return list;
}

function checkPlate(raw: string): string {
  const n = normalisePlate(raw, { wildcards: true });
  if ('error' in n) throw new CentralError(n.error);
  return n.plate;
}

function checkState(state: string | null | undefined): string | null {
  if (state === undefined || state === null || state.trim() === '') return null;
  const s = state.trim().toUpperCase();
  if (!/^[A-Z]{2}$/.test(s)) throw new CentralError(`state ${JSON.stringify(state)}: a two-letter state or province code`);
  return s;
}

function checkText(value: string | null | undefined, what: string, max: number, required: boolean): string | null {
  const v = value?.trim() ?? '';
  if (v === '') {
    if (required) throw new CentralError(`${what} is required`);
    return null;
  }
  if (v.length > max) throw new CentralError(`${what} is longer than ${max} characters`);
  return v;
}

/** An urgent entry every unit adds to its list at its next manifest (or at once over MQTT). */
export function publishEntry(db: CentralDb, e: EntryInput): PublishedEntry {
  const now = e.now ?? db.clock();
  if (e.expiresAt != null && !(Number.isFinite(e.expiresAt) && e.expiresAt > now)) throw new CentralError('expiresAt must lie in the future');
  return db.insertEntry({
    list: checkList(e.list),
    plate: checkPlate(e.plate),
    state: checkState(e.state),
    reason: checkText(e.reason, 'reason', 500, true)!,
    caseNumber: checkText(e.caseNumber, 'case number', 100, true)!,
    expiresAt: e.expiresAt ?? null,
    by: checkText(e.by, 'by', 100, false),
    createdAt: now,
  });
}

/** Cancels every live entry of the list with that plate (and state, when given) on every unit. */
export function publishCancellation(db: CentralDb, c: CancellationInput): PublishedCancellation {
  return db.insertCancellation({
    list: checkList(c.list),
    plate: checkPlate(c.plate),
    state: checkState(c.state),
    reason: checkText(c.reason, 'reason', 500, true)!,
    by: checkText(c.by, 'by', 100, false),
    at: c.at ?? db.clock(),
  });
}

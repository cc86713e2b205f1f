import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { StreamItem, StreamName } from '../sync/streams.js';
import type { Clock } from '../util/clock.js';
import { CentralImages } from './images.js';
import { MIGRATIONS } from './migrations.js';
import { CentralError, type BatchCount, type ImageKind, type ImageRecord, type LogHead, type LogRegression, type PublishedCancellation, type PublishedEntry, type StoredItem, type UnitSummary } from './records.js';

export * from './records.js';
export { publishCancellation, publishEntry, type CancellationInput, type EntryInput } from './publish.js';

/**
 * The reference central server's storage (docs/sync-protocol.md, server side): its own SQLite file
 * `central.sqlite` in the data folder, and the images the units send under `images/<unit>/`.
 *
 * Items are kept per (unit, stream, key) at their highest `rev`; a batch is one transaction, committed (with
 * synchronous=FULL: on disk) before the server answers, so an answer the unit sees is never taken back.
 */

export class CentralDb {
  readonly database: Database.Database;
  readonly imagesDir: string;
  /** The images the units send: chunks, whole images, images a pull wants. */
  readonly images: CentralImages;
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
    this.images = new CentralImages(this.database, this.imagesDir, clock);
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

  // ---- images: this.images (src/central/images.ts); these two for the server's callers ----------------------

  image(unit: string, readUuid: string, kind: ImageKind): ImageRecord | undefined {
    return this.images.image(unit, readUuid, kind);
  }

  /** The bytes of a complete image. */
  imageBytes(unit: string, readUuid: string, kind: ImageKind): Buffer | undefined {
    return this.images.imageBytes(unit, readUuid, kind);
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


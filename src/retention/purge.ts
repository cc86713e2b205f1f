import type Database from 'better-sqlite3';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import type { AccessLog, PurgeActor } from '../access/access-log.js';
import { HELD_SQL } from './holds.js';
import type { RetentionConfig } from './schema.js';
import type { Clock } from '../util/clock.js';

/**
 * The scheduled retention purge (P7). Two stages for reads: past `logicalDeleteDays` a read is marked deleted
 * (hidden from data users), past `deleteDays` it is deleted for good with its images, hits and alerts. Held reads
 * (open evidence holds) are exempt from both; reads not yet synced upstream are not deleted for good unless
 * `purgeUnsynced`.
 *
 * The work is done in batches of `batchSize` rows, one short transaction each, with a pause between them that
 * yields to the event loop: the unit's inserts wait for at most one batch, never for the whole purge. Each stage
 * walks its rows in (time, id) order with a cursor, so held or unsynced rows are looked at once per run, not once
 * per batch.
 *
 * Image files are unlinked after the transaction that deleted their rows has committed: a crash in between
 * leaves stray files that no row points at (harmless, and the same state a crash of `insertRead` can leave),
 * never a row pointing at a missing file.
 */

const DAY_MS = 86_400_000;

export interface PurgeResult {
  /** Reads marked logically deleted by this run. */
  logicallyDeleted: number;
  /** Reads deleted for good (with their hits, alerts and image rows). */
  deleted: number;
  /** Image files removed from disk. */
  imagesDeleted: number;
  imageBytesDeleted: number;
  /** Hits and alerts deleted on their own age (hits.deleteDays, alerts.deleteDays), not with their read. */
  hitsDeleted: number;
  alertsDeleted: number;
  /** Reads past a retention age kept because an open hold covers them. */
  held: number;
  /** Reads past deleteDays kept because they are not synced upstream yet. */
  skippedUnsynced: number;
  accessLogDeleted: number;
  /** Id of the oldest access log row left after the purge (null: no access log, or it is empty). */
  accessLogFirstId: number | null;
  releasesDeleted: number;
  /** Transactions the run used, and the longest one (ms). */
  batches: number;
  longestBatchMs: number;
  /** Problems that stopped a stage (the other stages still ran). */
  errors: string[];
  ms: number;
}

export interface PurgeLogger {
  info(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface PurgerOptions {
  /** Told how many image bytes were deleted, so the store's image budget can count them out. */
  onImagesDeleted?: (bytes: number) => void;
  log?: PurgeLogger;
  /**
   * The access log, with its key: each batch of its purge appends a signed anchor record saying what it removed.
   * Without it the access log is not purged (a stage error when records are past their age).
   */
  accessLog?: AccessLog;
  /** Who the anchors name as the purger (default: "retention"). */
  actor?: PurgeActor;
}

/** What the purger needs of the read store. */
export interface PurgeStore {
  readonly database: Database.Database;
  readonly imagesDir: string;
}

interface Cursor {
  t: number;
  id: number;
}

const START: Cursor = { t: Number.MIN_SAFE_INTEGER, id: Number.MIN_SAFE_INTEGER };

/** Image files to unlink after a batch committed. */
interface ImageFile {
  path: string;
  bytes: number;
}

/** What one transaction did: rows it looked at (fewer than asked: the stage is done), files to unlink. */
interface Batch {
  rows: number;
  files?: ImageFile[];
}

const MIN_BATCH = 10;
/** Unlinks in flight at once; libuv's pool has 4 threads by default, and capture writes its images through it. */
const UNLINK_CONCURRENCY = 2;

export class Purger {
  private readonly db: Database.Database;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<PurgeResult> | undefined;
  private stopping = false;

  constructor(
    private readonly store: PurgeStore,
    private readonly config: RetentionConfig,
    private readonly options: PurgerOptions = {},
  ) {
    this.db = store.database;
  }

  /** Runs the purge now and every `purgeIntervalMinutes`, at the times `clock` tells. */
  start(clock: Clock): void {
    if (this.timer) return;
    this.stopping = false;
    const tick = () => {
      this.runOnce(clock()).catch((err: unknown) => this.options.log?.error({ err }, 'retention purge failed'));
    };
    this.timer = setInterval(tick, this.config.purgeIntervalMinutes * 60_000);
    this.timer.unref();
    tick();
  }

  /** Stops the schedule; a run in progress ends after its current batch (a later runOnce runs in full). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** One purge of everything past its age at `now`. A call while a run is in progress waits for that run. */
  runOnce(now: number): Promise<PurgeResult> {
    if (this.running) return this.running;
    this.stopping = false;
    this.running = this.run(now).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async run(now: number): Promise<PurgeResult> {
    const started = performance.now();
    const r: PurgeResult = {
      logicallyDeleted: 0,
      deleted: 0,
      imagesDeleted: 0,
      imageBytesDeleted: 0,
      hitsDeleted: 0,
      alertsDeleted: 0,
      held: 0,
      skippedUnsynced: 0,
      accessLogDeleted: 0,
      accessLogFirstId: null,
      releasesDeleted: 0,
      batches: 0,
      longestBatchMs: 0,
      errors: [],
      ms: 0,
    };
    const held = new Set<number>();
    const stage = async (name: string, fn: () => Promise<void>) => {
      if (this.stopping) return;
      try {
        await fn();
      } catch (err) {
        r.errors.push(`${name}: ${(err as Error).message}`);
        this.options.log?.error({ err, stage: name }, 'retention purge stage failed');
      }
    };
    const c = this.config;
    // Permanent deletion first: a read past both ages is deleted, not first marked.
    await stage('reads', () => this.deleteReads(now - c.reads.deleteDays * DAY_MS, r, held));
    if (c.reads.logicalDeleteDays > 0) {
      await stage('logical deletion', () => this.logicallyDelete(now - c.reads.logicalDeleteDays * DAY_MS, now, r, held));
    }
    if (c.hits.deleteDays !== null) await stage('hits', () => this.deleteHits(now - c.hits.deleteDays! * DAY_MS, r));
    if (c.alerts.deleteDays !== null) await stage('alerts', () => this.deleteAlerts(now - c.alerts.deleteDays! * DAY_MS, r));
    await stage('access log', () => this.purgeAccessLog(now - c.accessLogDays * DAY_MS, r));
    await stage('releases', () => this.purgeReleases(now - c.releaseDays * DAY_MS, r));
    r.held = held.size;
    r.ms = Math.round(performance.now() - started);
    if (r.imageBytesDeleted > 0) this.options.onImagesDeleted?.(r.imageBytesDeleted);
    this.options.log?.info({ retention: { ...r, errors: r.errors.length } }, 'retention purge done');
    return r;
  }

  /**
   * Runs `step` (one transaction over at most `limit` rows) until it finds fewer rows than asked. Between batches
   * it unlinks the batch's files and pauses at least as long as the transaction took (pauseMs at least), so the
   * purge never holds the database or the event loop more than half the time. A transaction slower than
   * maxBatchMs halves the next batch; a fast one lets it grow back to batchSize.
   */
  private async batches(r: PurgeResult, step: (limit: number) => Batch): Promise<void> {
    let limit = this.config.batchSize;
    for (;;) {
      const t = performance.now();
      const b = step(limit);
      const ms = performance.now() - t;
      r.batches++;
      r.longestBatchMs = Math.max(r.longestBatchMs, Math.round(ms * 10) / 10);
      if (b.files && b.files.length > 0) await this.unlinkAll(b.files, r);
      if (b.rows < limit || this.stopping) break;
      if (ms > this.config.maxBatchMs) limit = Math.max(MIN_BATCH, Math.floor(limit / 2));
      else if (ms < this.config.maxBatchMs / 4) limit = Math.min(this.config.batchSize, limit * 2);
      const wait = Math.max(this.config.pauseMs, ms);
      await new Promise<void>((resolve) => (wait > 0 ? setTimeout(resolve, wait) : setImmediate(resolve)));
    }
  }

  /**
   * Unlinks files (after their rows' transaction committed: a crash before this leaves stray files, never rows
   * pointing at deleted ones), UNLINK_CONCURRENCY at a time: the rest of libuv's thread pool stays free for
   * capture's image writes, which would otherwise queue behind hundreds of unlinks.
   */
  private async unlinkAll(files: ImageFile[], r: PurgeResult): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < files.length) {
        const f = files[next++]!;
        try {
          await unlink(path.join(this.store.imagesDir, f.path));
          r.imagesDeleted++;
          r.imageBytesDeleted += f.bytes;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }
    };
    await Promise.all(Array.from({ length: UNLINK_CONCURRENCY }, worker));
  }

  /** Reads first seen before `cutoff`: deleted for good, except held and (unless configured) unsynced ones. */
  private async deleteReads(cutoff: number, r: PurgeResult, held: Set<number>): Promise<void> {
    const pick = this.db.prepare(
      `SELECT r.id, r.first_seen AS t, r.sync_state AS sync, ${HELD_SQL('r')} AS held FROM reads r
       WHERE r.first_seen < ? AND (r.first_seen, r.id) > (?, ?) ORDER BY r.first_seen, r.id LIMIT ?`,
    );
    const dependents = [
      'DELETE FROM alert_events WHERE alert_id IN (SELECT id FROM alerts WHERE read_id IN (SELECT value FROM json_each(?)))',
      'DELETE FROM alert_deliveries WHERE alert_id IN (SELECT id FROM alerts WHERE read_id IN (SELECT value FROM json_each(?)))',
      'DELETE FROM alerts WHERE read_id IN (SELECT value FROM json_each(?))',
      'DELETE FROM hotlist_hits WHERE read_id IN (SELECT value FROM json_each(?))',
    ].map((sql) => this.db.prepare(sql));
    const images = this.db.prepare('SELECT path, bytes FROM images WHERE read_id IN (SELECT value FROM json_each(?)) AND evicted_at IS NULL');
    const deleteImages = this.db.prepare('DELETE FROM images WHERE read_id IN (SELECT value FROM json_each(?))');
    const deleteRows = this.db.prepare('DELETE FROM reads WHERE id IN (SELECT value FROM json_each(?))');
    const purgeUnsynced = this.config.reads.purgeUnsynced;
    let cursor = START;
    const batch = this.db.transaction((limit: number): Batch => {
      const rows = pick.all(cutoff, cursor.t, cursor.id, limit) as Array<{ id: number; t: number; sync: string; held: number }>;
      const victims: number[] = [];
      for (const row of rows) {
        if (row.held) held.add(row.id);
        else if (row.sync !== 'synced' && !purgeUnsynced) r.skippedUnsynced++;
        else victims.push(row.id);
      }
      const last = rows.at(-1);
      if (last) cursor = { t: last.t, id: last.id };
      if (victims.length === 0) return { rows: rows.length };
      const ids = JSON.stringify(victims);
      for (const d of dependents) d.run(ids);
      const files = images.all(ids) as ImageFile[];
      deleteImages.run(ids);
      r.deleted += deleteRows.run(ids).changes;
      return { rows: rows.length, files };
    });
    await this.batches(r, (limit) => batch(limit));
  }

  /** Reads first seen before `cutoff` and not held: marked deleted (reason "retention"). */
  private async logicallyDelete(cutoff: number, now: number, r: PurgeResult, held: Set<number>): Promise<void> {
    const pick = this.db.prepare(
      `SELECT r.id, r.first_seen AS t, ${HELD_SQL('r')} AS held FROM reads r
       WHERE r.deleted_at IS NULL AND r.first_seen < ? AND (r.first_seen, r.id) > (?, ?) ORDER BY r.first_seen, r.id LIMIT ?`,
    );
    const mark = this.db.prepare(
      `UPDATE reads SET deleted_at = ?, deleted_reason = 'retention' WHERE id IN (SELECT value FROM json_each(?)) AND deleted_at IS NULL`,
    );
    let cursor = START;
    const batch = this.db.transaction((limit: number): Batch => {
      const rows = pick.all(cutoff, cursor.t, cursor.id, limit) as Array<{ id: number; t: number; held: number }>;
      const victims: number[] = [];
      for (const row of rows) {
        if (row.held) held.add(row.id);
        else victims.push(row.id);
      }
      const last = rows.at(-1);
      if (last) cursor = { t: last.t, id: last.id };
      if (victims.length > 0) r.logicallyDeleted += mark.run(now, JSON.stringify(victims)).changes;
      return { rows: rows.length };
    });
    await this.batches(r, (limit) => batch(limit));
  }

  /** Hits older than hits.deleteDays whose read is not held (the read itself stays). */
  private async deleteHits(cutoff: number, r: PurgeResult): Promise<void> {
    const pick = this.db.prepare(
      `SELECT h.id, h.created_at AS t, h.id AS k FROM hotlist_hits h JOIN reads r ON r.id = h.read_id
       WHERE h.created_at < ? AND (h.created_at, h.id) > (?, ?) AND NOT ${HELD_SQL('r')} ORDER BY h.created_at, h.id LIMIT ?`,
    );
    const del = this.db.prepare('DELETE FROM hotlist_hits WHERE id IN (SELECT value FROM json_each(?))');
    await this.keyset(pick, cutoff, (ids) => (r.hitsDeleted += del.run(ids).changes), r);
  }

  /** Alerts older than alerts.deleteDays, with their deliveries and events, whose read is not held. */
  private async deleteAlerts(cutoff: number, r: PurgeResult): Promise<void> {
    const pick = this.db.prepare(
      `SELECT a.id, a.seq AS t, 0 AS k FROM alerts a JOIN reads r ON r.id = a.read_id
       WHERE a.raised_at < ? AND (a.seq, 0) > (?, ?) AND NOT ${HELD_SQL('r')} ORDER BY a.seq LIMIT ?`,
    );
    const steps = [
      'DELETE FROM alert_events WHERE alert_id IN (SELECT value FROM json_each(?))',
      'DELETE FROM alert_deliveries WHERE alert_id IN (SELECT value FROM json_each(?))',
    ].map((sql) => this.db.prepare(sql));
    const del = this.db.prepare('DELETE FROM alerts WHERE id IN (SELECT value FROM json_each(?))');
    await this.keyset(
      pick,
      cutoff,
      (ids) => {
        for (const s of steps) s.run(ids);
        r.alertsDeleted += del.run(ids).changes;
      },
      r,
    );
  }

  /** Walks `pick` (rows { id, t, k } after a (t, k) cursor) in batches, deleting each batch in one transaction. */
  private async keyset(pick: Database.Statement, cutoff: number, remove: (idsJson: string) => void, r: PurgeResult): Promise<void> {
    let cursor = START;
    const batch = this.db.transaction((limit: number): Batch => {
      const rows = pick.all(cutoff, cursor.t, cursor.id, limit) as Array<{ id: number | string; t: number; k: number }>;
      const last = rows.at(-1);
      if (last) cursor = { t: last.t, id: last.k };
      if (rows.length > 0) remove(JSON.stringify(rows.map((x) => x.id)));
      return { rows: rows.length };
    });
    await this.batches(r, (limit) => batch(limit));
  }

  /**
   * Access log rows older than accessLogDays, strictly oldest first (a prefix of the chain: the first row at or
   * after the cutoff and everything after it stay, even if an older timestamp follows it after a clock change).
   * Each batch appends, in its transaction, the signed anchor record of what it removed (AccessLog.purgeBatch).
   */
  private async purgeAccessLog(cutoff: number, r: PurgeResult): Promise<void> {
    const log = this.options.accessLog;
    if (!log) {
      const due = this.db.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'access_log'`).get() && this.db.prepare('SELECT 1 FROM access_log WHERE at < ? LIMIT 1').get(cutoff);
      if (due) throw new Error('access log records are past accessLogDays but the purger was given no access log (its key signs the anchor): none deleted');
      return;
    }
    const by = this.options.actor ?? { user: 'retention', agency: '', role: 'system' };
    await this.batches(r, (limit) => {
      const n = log.purgeBatch(cutoff, limit, by);
      r.accessLogDeleted += n;
      return { rows: n };
    });
    r.accessLogFirstId = (this.db.prepare('SELECT min(id) AS id FROM access_log').get() as { id: number | null }).id;
  }

  /** Release records whose last event (exported, else approved, else requested) is older than releaseDays. */
  private async purgeReleases(cutoff: number, r: PurgeResult): Promise<void> {
    const del = this.db.prepare(
      `DELETE FROM releases WHERE rowid IN (SELECT rowid FROM releases WHERE coalesce(exported_at, approved_at, requested_at) < ? LIMIT ?)`,
    );
    await this.batches(r, (limit) => {
      const n = del.run(cutoff, limit).changes;
      r.releasesDeleted += n;
      return { rows: n };
    });
  }
}

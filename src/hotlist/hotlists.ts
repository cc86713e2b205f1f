import type Database from 'better-sqlite3';
import { EventEmitter } from 'node:events';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../util/clock.js';
import { HotlistAdmin } from './admin.js';
import { HotlistHits } from './hits.js';
import { HotlistImport } from './import.js';
import type { Hit, HotlistMatcher, ReadTexts } from './matcher.js';
import { HotlistMatching } from './matching.js';
import { HotlistError, type AddEntryOptions, type EntryRecord, type HotlistChange, type HotlistOptions, type HotlistsConfig, type ImportOptions, type ImportResult, type ListSummary, type PurgeResult, type StoredHit } from './types.js';

/**
 * The hot lists of the unit: kept in the read store's database (migration 2), matched in memory. The work is done
 * by four parts, composed here:
 *
 * - import (`import.ts`): a file becomes a list's new version, or is rejected as a whole;
 * - administration (`admin.ts`): lists, manual entries, cancellations, purge of what expired, and the change
 *   journal (`hotlist_changes`), the audit record of who did what;
 * - matching (`matching.ts`): every list in memory, following the journal, by which a running unit picks up,
 *   within `hotlists.pollMs`, a change made by `alpr-edge hotlist` in another process. In the process that made
 *   it, a change applies before the call returns: a cancelled entry stops matching at once;
 * - hits (`hits.ts`): recorded once per read, list and plate, whatever number of times the read is matched again.
 */
export class Hotlists extends EventEmitter<{ changed: [HotlistChange[]]; hits: [StoredHit[]] }> {
  readonly matcher: HotlistMatcher;
  /** The clock this store decides expiry by and stamps changes and hits with. */
  readonly clock: Clock;
  private readonly log: Logger | undefined;
  private readonly matching: HotlistMatching;
  private readonly hits: HotlistHits;
  private readonly admin: HotlistAdmin;
  private readonly importer: HotlistImport;
  private timers: NodeJS.Timeout[] = [];

  private constructor(
    db: Database.Database,
    private readonly options: HotlistOptions,
  ) {
    super();
    this.clock = options.clock;
    this.log = options.log;
    const hasTables = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'hotlist_changes'").get();
    if (!hasTables) throw new HotlistError('the database has no hot list tables: open it through ReadStore.open (migration 2)');
    this.matching = new HotlistMatching(db, this.clock, this.log, (changes) => this.applied(changes));
    this.matcher = this.matching.matcher;
    this.hits = new HotlistHits(db, this.clock, this.matching);
    const sync = () => void this.sync();
    this.admin = new HotlistAdmin(db, options, sync);
    this.importer = new HotlistImport(db, options, this.admin, sync);
  }

  /** The hot lists of a database opened by ReadStore.open (pass `store.database`). Loads nothing yet. */
  static open(db: Database.Database, options: HotlistOptions): Hotlists {
    return new Hotlists(db, options);
  }

  private get config(): HotlistsConfig {
    return this.options.config;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Lifecycle

  /**
   * Loads every list into memory, picks up changes from other processes every `hotlists.pollMs`, purges expired
   * lists and entries every hour, and (with recheckOnChange) checks the reads of the last
   * `hotlists.recheckWindowMinutes` once, emitting `hits` for any not recorded yet.
   */
  start(): void {
    this.load();
    const guard = (what: string, fn: () => void) => () => {
      try {
        fn();
      } catch (err) {
        this.log?.warn({ err: (err as Error).message }, `hot lists: ${what} failed; trying again later`);
      }
    };
    this.timers.push(setInterval(guard('picking up changes', () => this.sync()), this.config.pollMs));
    this.timers.push(setInterval(guard('purge', () => this.purgeExpired()), PURGE_EVERY_MS));
    for (const t of this.timers) t.unref();
    guard('purge', () => this.purgeExpired())();
    if (this.options.recheckOnChange) this.recheck();
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Matching and hits

  /** Loads (or reloads) every list from the database into the matcher. */
  load(): void {
    this.matching.load();
  }

  /** The entries a read matches, most urgent first (synchronous, in memory; [] for most reads). */
  match(read: ReadTexts): Hit[] {
    return this.matching.match(read);
  }

  /** Records the hits of a stored read; returns those not recorded before (the ones to alert on). */
  recordHits(readId: number, hits: readonly Hit[]): StoredHit[] {
    return this.hits.record(readId, hits);
  }

  /** Matches the reads first seen since `sinceMs` and records their hits; returns the hits that are new. */
  checkRecent(sinceMs: number): StoredHit[] {
    return this.hits.checkRecent(sinceMs);
  }

  /** The hits recorded for a read. */
  hitsOf(readId: number): StoredHit[] {
    return this.hits.of(readId);
  }

  /**
   * Applies the changes made since the last call (by this process or another) to the lists in memory; emits
   * `changed`, and with recheckOnChange, `hits` for recent reads that match what was added.
   */
  sync(): HotlistChange[] {
    return this.matching.sync();
  }

  private applied(changes: HotlistChange[]): void {
    this.emit('changed', changes);
    if (this.options.recheckOnChange && changes.some((c) => c.action === 'import' || c.action === 'add' || c.action === 'list')) this.recheck();
  }

  /** Checks the reads of the last `hotlists.recheckWindowMinutes` and emits `hits` for any not recorded yet. */
  private recheck(): void {
    const hits = this.checkRecent(this.clock() - this.config.recheckWindowMinutes * 60_000);
    if (hits.length > 0) this.emit('hits', hits);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Import and administration

  /** See HotlistImport.importFile: a file becomes the list's new version, or is rejected as a whole. */
  importFile(file: string | Buffer, opts: ImportOptions): ImportResult {
    return this.importer.importFile(file, opts);
  }

  /** Adds an entry by hand (a full or partial plate), creating the list if needed; it matches once this returns. */
  addEntry(o: AddEntryOptions): EntryRecord {
    return this.admin.addEntry(o);
  }

  /** Cancels an entry (manual or imported): it stops matching before this returns, here, and within pollMs in the unit. */
  cancelEntry(entryId: number, o: { user: string; reason: string }): EntryRecord {
    return this.admin.cancelEntry(entryId, o);
  }

  /** Deletes expired lists and entries and rows left by interrupted imports, each recorded in the change log. */
  purgeExpired(user = 'system'): PurgeResult {
    return this.admin.purgeExpired(user);
  }

  lists(): ListSummary[] {
    return this.admin.lists();
  }

  entry(id: number): EntryRecord | undefined {
    return this.admin.entry(id);
  }

  /** A list's manual entries and its cancelled imported ones (the imported ones can be millions). */
  manualAndCancelled(listName: string): EntryRecord[] {
    return this.admin.manualAndCancelled(listName);
  }

  /** The change log (audit record), newest last. */
  changes(opts: { afterId?: number; limit?: number } = {}): ReturnType<HotlistAdmin['changes']> {
    return this.admin.changes(opts);
  }
}

const PURGE_EVERY_MS = 3_600_000;

import type Database from 'better-sqlite3';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import type { HotlistDefinition, HotlistsConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { CLEW_KINDS } from './formats/ca-doj.js';
import { FORMATS, Problems, type DelimitedSettings, type FormatName, type LineProblem } from './formats/index.js';
import { fileChecksum, readLines } from './formats/text-file.js';
import { HotlistMatcher, type Hit, type ReadTexts } from './matcher.js';
import { normalisePlate } from './plate.js';
import { DISTANCE2_MAX_ENTRIES, SegmentBuilder, type ListInfo, type MatchPolicy, type Segment } from './segment.js';
import type { Clock } from '../util/clock.js';

/**
 * The hot lists of the unit: kept in the read store's database (migration 2), matched in memory.
 *
 * - An import reads a file in one pass, inserting its entries as a new version in short transactions (a long
 *   write lock would stall the unit storing its reads); the list switches to the new version in one small
 *   transaction at the end. Nobody ever matches a half-imported version, and a file with any problem is
 *   rejected as a whole: its rows are deleted and the version in use stays.
 * - Every change (import, entry added or cancelled, purge) is also a row of `hotlist_changes`: the audit record
 *   of who did what, and the feed by which a running unit picks up, within `hotlists.pollMs`, a change made by
 *   `alpr-edge hotlist` in another process. In the process that made it, a change applies before the call
 *   returns: a cancelled entry stops matching at once.
 * - Hits are recorded once per read, list and plate, whatever number of times the read is matched again.
 */

export interface HotlistOptions {
  config: HotlistsConfig;
  /** Check recent reads again when lists or entries arrive, and emit the hits found (the running unit does). */
  recheckOnChange?: boolean;
  /** Decides expiry, stamps changes and hits. */
  clock: Clock;
  log?: Logger;
}

export interface ImportOptions {
  list: string;
  /** Format of the file; default: the list's format in the config. */
  format?: FormatName;
  category?: string;
  priority?: number;
  covert?: boolean;
  source?: string;
  /** Who imports (recorded with the version and in the change record). */
  user: string;
  /** Name of the file in messages and records; default: the path given. */
  fileName?: string;
}

export type ImportResult =
  | {
      status: 'imported';
      list: string;
      versionId: number;
      entries: number;
      wildcards: number;
      skipped: { junk: number; state: number };
      /** Entries of the file that stay cancelled (cancelled here in the version before, still in the file). */
      keptCancelled: number;
      replacedVersionId: number | null;
      ms: number;
      warnings: string[];
    }
  | { status: 'unchanged'; list: string; versionId: number; entries: number; ms: number };

export interface AddEntryOptions {
  list: string;
  /** A full plate, or a partial one with `?` (one character) and `*` (any run). */
  plate: string;
  state?: string;
  reason: string;
  caseNumber: string;
  /** ms since the epoch; default: now + hotlists.manualEntryDays. */
  expiresAt?: number;
  user: string;
}

export interface EntryRecord {
  id: number;
  listId: number;
  list: string;
  origin: 'import' | 'manual';
  plate: string;
  state: string | null;
  code: string | null;
  reason: string | null;
  caseNumber: string | null;
  listedAt: number | null;
  details: Record<string, string> | null;
  line: number | null;
  addedBy: string | null;
  addedAt: number;
  expiresAt: number | null;
  cancelledAt: number | null;
  cancelledBy: string | null;
  cancelReason: string | null;
  /** Whether the entry is of the list's version in use (imported) or is a manual entry. */
  current: boolean;
}

export interface ListSummary {
  id: number;
  name: string;
  source: string;
  format: string;
  category: string;
  priority: number;
  covert: boolean;
  policy: MatchPolicy;
  maxDistance: number;
  retentionMs: number | null;
  expiresAt: number | null;
  /** Entries of the version in use, and how many of them are cancelled. */
  entries: number;
  cancelled: number;
  /** Manual entries that can match (not cancelled, not expired). */
  manualEntries: number;
  version: { id: number; file: string; checksum: string; importedAt: number; importedBy: string } | null;
}

export interface StoredHit extends Hit {
  id: number;
  readId: number;
  reason: string | null;
  caseNumber: string | null;
  createdAt: number;
}

export interface HotlistChange {
  id: number;
  at: number;
  user: string;
  action: 'list' | 'import' | 'import-rejected' | 'add' | 'cancel' | 'purge-entries' | 'purge-list';
  listId: number | null;
  listName: string;
  entryId: number | null;
}

export interface PurgeResult {
  lists: string[];
  entries: number;
  /** Rows of replaced or rejected versions left behind by an interrupted import or clean-up. */
  leftovers: number;
}

/** A request that cannot be done as asked (no such list or entry, a bad plate): the message says why. */
export class HotlistError extends Error {
  override name = 'HotlistError';
}

/** A file rejected as a whole; the list keeps the version it had. */
export class HotlistImportError extends HotlistError {
  override name = 'HotlistImportError';
  constructor(
    readonly file: string,
    readonly list: string,
    readonly problems: LineProblem[],
  ) {
    super(`${file} was rejected (${problems.length}${problems.length >= Problems.MAX ? '+' : ''} problem(s)); list ${list} is unchanged`);
  }
}

const DAY_MS = 86_400_000;
/** Rows per write transaction during an import or a delete: each holds the write lock for some tens of ms. */
const BATCH_ROWS = 10_000;
/** An import still "importing" after this long was interrupted (the process died): its rows are leftovers. */
const STALE_IMPORT_MS = 3_600_000;
const PURGE_EVERY_MS = 3_600_000;
const WILDCARD_GLOB = "*[?*]*";

interface ListRow {
  id: number;
  name: string;
  source: string;
  format: string;
  category: string;
  priority: number;
  covert: number;
  match_policy: MatchPolicy;
  max_distance: number;
  retention_ms: number | null;
  version_id: number | null;
  expires_at: number | null;
}

interface EntryRow {
  id: number;
  list_id: number;
  list_name: string;
  version_id: number | null;
  list_version_id: number | null;
  origin: 'import' | 'manual';
  plate: string;
  state: string | null;
  code: string | null;
  reason: string | null;
  case_number: string | null;
  listed_at: number | null;
  details: string | null;
  line: number | null;
  added_by: string | null;
  added_at: number;
  expires_at: number | null;
  cancelled_at: number | null;
  cancelled_by: string | null;
  cancel_reason: string | null;
}

interface ListAttributes {
  source: string;
  format: string;
  category: string;
  priority: number;
  covert: boolean;
  policy: MatchPolicy;
  maxDistance: number;
  retentionMs: number | null;
}

export class Hotlists extends EventEmitter<{ changed: [HotlistChange[]]; hits: [StoredHit[]] }> {
  readonly matcher = new HotlistMatcher();
  private loaded = false;
  private lastChange = 0;
  /** The clock this store decides expiry by and stamps changes and hits with. */
  readonly clock: Clock;
  private readonly log: Logger | undefined;
  private readonly segments = new Map<number, { info: ListInfo; imported: Segment | null; manual: Segment | null }>();
  private timers: NodeJS.Timeout[] = [];

  private constructor(
    private readonly db: Database.Database,
    private readonly options: HotlistOptions,
  ) {
    super();
    this.clock = options.clock;
    this.log = options.log;
    const hasTables = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'hotlist_changes'").get();
    if (!hasTables) throw new HotlistError('the database has no hot list tables: open it through ReadStore.open (migration 2)');
    this.lastChange = this.maxChangeId();
  }

  /** The hot lists of a database opened by ReadStore.open (pass `store.database`). Loads nothing yet. */
  static open(db: Database.Database, options: HotlistOptions): Hotlists {
    return new Hotlists(db, options);
  }

  private get config(): HotlistsConfig {
    return this.options.config;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Lifecycle and matching

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
    if (this.options.recheckOnChange) {
      const hits = this.checkRecent(this.clock() - this.config.recheckWindowMinutes * 60_000);
      if (hits.length > 0) this.emit('hits', hits);
    }
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  /** Loads (or reloads) every list from the database into the matcher. */
  load(): void {
    // read only, one snapshot: deferred, so it never waits for a writer (an import in the worker thread)
    this.db.transaction(() => {
      this.lastChange = this.maxChangeId();
      const ids = (this.db.prepare('SELECT id FROM hotlists').all() as Array<{ id: number }>).map((r) => r.id);
      for (const id of [...this.segments.keys()]) if (!ids.includes(id)) this.dropList(id);
      for (const id of ids) this.loadList(id, 'all');
    }).deferred();
    this.loaded = true;
  }

  /** The entries a read matches, most urgent first (synchronous, in memory; [] for most reads). */
  match(read: ReadTexts): Hit[] {
    if (!this.loaded) this.load();
    return this.matcher.match(read, this.clock());
  }

  /** Records the hits of a stored read; returns those not recorded before (the ones to alert on). */
  recordHits(readId: number, hits: readonly Hit[]): StoredHit[] {
    if (hits.length === 0) return [];
    const now = this.clock();
    const out: StoredHit[] = [];
    const detailsOf = this.db.prepare('SELECT reason, case_number FROM hotlist_entries WHERE id = ?');
    const insert = this.db.prepare(
      `INSERT OR IGNORE INTO hotlist_hits (read_id, list_id, list_name, entry_id, entry_plate, entry_state, how, distance,
         matched_text, candidate, category, priority, covert, code, reason, case_number, state_mismatch, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.db.transaction(() => {
      for (const h of hits) {
        const e = detailsOf.get(h.entryId) as { reason: string | null; case_number: string | null } | undefined;
        const reason = e?.reason ?? null;
        const caseNumber = e?.case_number ?? null;
        const info = insert.run(
          readId,
          h.listId,
          h.list,
          h.entryId,
          h.plate,
          h.state ?? '',
          h.how,
          h.distance,
          h.text,
          h.candidate,
          h.category,
          h.priority,
          h.covert ? 1 : 0,
          h.code,
          reason,
          caseNumber,
          h.stateMismatch ? 1 : 0,
          now,
        );
        if (info.changes === 1) out.push({ ...h, id: Number(info.lastInsertRowid), readId, reason, caseNumber, createdAt: now });
      }
    })();
    return out;
  }

  /** Matches the reads first seen since `sinceMs` and records their hits; returns the hits that are new. */
  checkRecent(sinceMs: number): StoredHit[] {
    if (!this.loaded) this.load();
    const rows = this.db
      .prepare('SELECT id, plate, candidates, state, state_confidence FROM reads WHERE first_seen >= ? ORDER BY id')
      .all(sinceMs) as Array<{ id: number; plate: string; candidates: string; state: string | null; state_confidence: number | null }>;
    const out: StoredHit[] = [];
    for (const r of rows) {
      const state = r.state === null ? null : { code: r.state, confidence: r.state_confidence ?? 0 };
      const hits = this.match({ plate: r.plate, candidates: JSON.parse(r.candidates) as Array<{ text: string }>, state });
      if (hits.length > 0) out.push(...this.recordHits(r.id, hits));
    }
    return out;
  }

  /** The hits recorded for a read. */
  hitsOf(readId: number): StoredHit[] {
    const rows = this.db.prepare('SELECT * FROM hotlist_hits WHERE read_id = ? ORDER BY priority, id').all(readId) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      id: r.id as number,
      readId: r.read_id as number,
      entryId: r.entry_id as number,
      listId: r.list_id as number,
      list: r.list_name as string,
      category: r.category as string,
      priority: r.priority as number,
      covert: r.covert === 1,
      plate: r.entry_plate as string,
      state: (r.entry_state as string) || null,
      code: r.code as string | null,
      how: r.how as Hit['how'],
      distance: r.distance as number,
      text: r.matched_text as string,
      candidate: r.candidate as number,
      stateMismatch: r.state_mismatch === 1,
      reason: r.reason as string | null,
      caseNumber: r.case_number as string | null,
      createdAt: r.created_at as number,
    }));
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Changes from this process and from others

  /**
   * Applies the changes made since the last call (by this process or another) to the lists in memory; emits
   * `changed`, and with recheckOnChange, `hits` for recent reads that match what was added.
   */
  sync(): HotlistChange[] {
    const rows = this.db
      .prepare('SELECT id, at, user_name, action, list_id, list_name, entry_id FROM hotlist_changes WHERE id > ? ORDER BY id')
      .all(this.lastChange) as Array<{
      id: number;
      at: number;
      user_name: string;
      action: HotlistChange['action'];
      list_id: number | null;
      list_name: string;
      entry_id: number | null;
    }>;
    if (rows.length === 0) return [];
    this.lastChange = rows[rows.length - 1]!.id;
    const changes: HotlistChange[] = rows.map((r) => ({
      id: r.id,
      at: r.at,
      user: r.user_name,
      action: r.action,
      listId: r.list_id,
      listName: r.list_name,
      entryId: r.entry_id,
    }));
    if (!this.loaded) return changes; // loading later reads the lists as they are then
    const whole = new Set<number>();
    const manual = new Set<number>();
    for (const c of changes) {
      if (c.listId === null) continue;
      if (c.action === 'cancel') {
        if (c.entryId !== null) this.matcher.kill(c.entryId);
      } else if (c.action === 'add' || c.action === 'purge-entries') manual.add(c.listId);
      else if (c.action !== 'import-rejected') whole.add(c.listId);
    }
    for (const id of whole) this.loadList(id, 'all');
    for (const id of manual) if (!whole.has(id)) this.loadList(id, 'manual');
    this.emit('changed', changes);
    if (this.options.recheckOnChange && changes.some((c) => c.action === 'import' || c.action === 'add' || c.action === 'list')) {
      const hits = this.checkRecent(this.clock() - this.config.recheckWindowMinutes * 60_000);
      if (hits.length > 0) this.emit('hits', hits);
    }
    return changes;
  }

  private maxChangeId(): number {
    return (this.db.prepare('SELECT coalesce(max(id), 0) AS id FROM hotlist_changes').get() as { id: number }).id;
  }

  private dropList(id: number): void {
    this.segments.delete(id);
    this.matcher.removeList(id);
  }

  /** Reads a list (all of it, or only its manual entries) from the database into the matcher. */
  private loadList(id: number, what: 'all' | 'manual'): void {
    const row = this.db.prepare('SELECT * FROM hotlists WHERE id = ?').get(id) as ListRow | undefined;
    if (!row) {
      this.dropList(id);
      return;
    }
    let current = this.segments.get(id);
    const info = toListInfo(row);
    if (current && what === 'manual') Object.assign(current.info, info);
    if (!current || what === 'all') {
      current = { info, imported: null, manual: null };
      if (row.version_id !== null) {
        const expected = (this.db.prepare('SELECT entries FROM hotlist_versions WHERE id = ?').get(row.version_id) as { entries: number } | undefined)?.entries;
        current.imported = this.buildSegment(
          info,
          this.db.prepare(
            'SELECT id, plate, state, code, expires_at FROM hotlist_entries WHERE list_id = ? AND version_id = ? AND cancelled_at IS NULL ORDER BY id',
          ),
          [id, row.version_id],
          expected ?? 64,
        );
        if (current.imported.warning) this.log?.warn({ list: row.name }, current.imported.warning);
      }
    }
    current.manual = this.buildSegment(
      current.info,
      this.db.prepare(
        `SELECT id, plate, state, code, expires_at FROM hotlist_entries
         WHERE list_id = ? AND version_id IS NULL AND cancelled_at IS NULL AND (expires_at IS NULL OR expires_at > ?) ORDER BY id`,
      ),
      [id, this.clock()],
      64,
    );
    this.segments.set(id, current);
    this.matcher.setList(id, [current.imported, current.manual].filter((s): s is Segment => s !== null && s.n > 0));
  }

  private buildSegment(info: ListInfo, stmt: Database.Statement, params: unknown[], capacity: number): Segment {
    const b = new SegmentBuilder(capacity);
    for (const r of stmt.raw(true).iterate(...params) as IterableIterator<[number, string, string | null, string | null, number | null]>) {
      b.add(r[0], r[1], r[2], r[3], r[4]);
    }
    return b.build(info);
  }

  private journal(c: {
    user: string;
    action: HotlistChange['action'];
    listId: number | null;
    listName: string;
    entryId?: number;
    versionId?: number;
    plate?: string;
    caseNumber?: string | null;
    reason?: string | null;
    detail?: unknown;
  }): number {
    const info = this.db
      .prepare(
        `INSERT INTO hotlist_changes (at, user_name, action, list_id, list_name, entry_id, version_id, plate, case_number, reason, detail)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        this.clock(),
        c.user,
        c.action,
        c.listId,
        c.listName,
        c.entryId ?? null,
        c.versionId ?? null,
        c.plate ?? null,
        c.caseNumber ?? null,
        c.reason ?? null,
        c.detail === undefined ? null : JSON.stringify(c.detail),
      );
    return Number(info.lastInsertRowid);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Lists and imports

  private definition(name: string): HotlistDefinition | undefined {
    return this.config.lists.find((l) => l.name === name);
  }

  private listRow(name: string): ListRow | undefined {
    return this.db.prepare('SELECT * FROM hotlists WHERE name = ?').get(name) as ListRow | undefined;
  }

  /** A list's settings: the command's options, else the config's definition, else the defaults. */
  private attributesFor(name: string, format: string, fileName: string | null, opts: Partial<ImportOptions>): ListAttributes {
    const def = this.definition(name);
    const policy = def?.match ?? 'equivalent';
    let category = opts.category ?? def?.category ?? '';
    if (category === '') {
      const kind = fileName ? path.basename(fileName).toLowerCase().replace(/\.tbl$/, '') : '';
      category = format === 'ncic' ? 'NCIC' : format === 'ca-doj' ? (CLEW_KINDS[kind] ?? 'CA DOJ') : name;
    }
    return {
      source: opts.source ?? def?.source ?? '',
      format,
      category,
      priority: opts.priority ?? def?.priority ?? 5,
      covert: opts.covert ?? def?.covert ?? false,
      policy,
      maxDistance: policy === 'distance' ? (def?.maxDistance ?? 1) : 0,
      retentionMs: def && def.retentionDays > 0 ? Math.round(def.retentionDays * DAY_MS) : null,
    };
  }

  private createList(name: string, a: ListAttributes): number {
    const now = this.clock();
    const info = this.db
      .prepare(
        `INSERT INTO hotlists (name, source, format, category, priority, covert, match_policy, max_distance, retention_ms, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(name, a.source, a.format, a.category, a.priority, a.covert ? 1 : 0, a.policy, a.maxDistance, a.retentionMs, now, now);
    return Number(info.lastInsertRowid);
  }

  /** Sets a list's settings; true when any changed. */
  private updateList(row: ListRow, a: ListAttributes): boolean {
    const same =
      row.source === a.source &&
      row.format === a.format &&
      row.category === a.category &&
      row.priority === a.priority &&
      row.covert === (a.covert ? 1 : 0) &&
      row.match_policy === a.policy &&
      row.max_distance === a.maxDistance &&
      row.retention_ms === a.retentionMs;
    if (same) return false;
    this.db
      .prepare(
        `UPDATE hotlists SET source = ?, format = ?, category = ?, priority = ?, covert = ?, match_policy = ?, max_distance = ?,
           retention_ms = ?, updated_at = ? WHERE id = ?`,
      )
      .run(a.source, a.format, a.category, a.priority, a.covert ? 1 : 0, a.policy, a.maxDistance, a.retentionMs, this.clock(), row.id);
    return true;
  }

  /**
   * Imports a file as the new version of a list (creating the list). The file is rejected as a whole, with the
   * lines of its problems, if any record is bad, its footer count is wrong, it is not UTF-8 text, it ends in the
   * middle of a line, or it holds no entries; the list then keeps the version it had. A file with the same
   * checksum and settings as the version in use is not read again.
   */
  importFile(file: string | Buffer, opts: ImportOptions): ImportResult {
    const t0 = performance.now();
    const name = opts.list;
    const def = this.definition(name);
    const fileName = opts.fileName ?? (typeof file === 'string' ? file : '(data)');
    const format = opts.format ?? (def && def.format !== 'manual' ? def.format : undefined);
    if (format === undefined) {
      throw new HotlistError(
        def
          ? `list ${name} takes manual entries only (format: manual in the config); give --format to import a file into it`
          : `list ${name} is not in hotlists.lists of the config: give its --format (${Object.keys(FORMATS).join(', ')})`,
      );
    }
    const delimited: DelimitedSettings = {
      delimiter: def?.delimiter ?? 'comma',
      header: def?.header ?? true,
      columns: def?.columns ?? { plate: 'plate' },
    };
    const settings = {
      format,
      states: def?.states ?? [],
      skip: [...new Set(this.config.skipPlates.map((p) => p.toUpperCase().replace(/[\s-]+/g, '')))].sort(),
      ...(format === 'csv' ? { delimited } : {}),
    };
    const settingsJson = JSON.stringify(settings);
    const attrs = this.attributesFor(name, format, fileName, { ...opts, source: opts.source ?? def?.source ?? fileName });
    let checksum: string;
    try {
      checksum = fileChecksum(file);
    } catch (err) {
      throw new HotlistError(`cannot read ${fileName}: ${(err as Error).message}`);
    }

    const existing = this.listRow(name);
    if (existing?.version_id != null) {
      const v = this.db.prepare('SELECT checksum, settings, entries FROM hotlist_versions WHERE id = ?').get(existing.version_id) as
        | { checksum: string; settings: string; entries: number }
        | undefined;
      if (v && v.checksum === checksum && v.settings === settingsJson) {
        this.db.transaction(() => {
          if (this.updateList(existing, attrs)) {
            this.journal({ user: opts.user, action: 'list', listId: existing.id, listName: name, detail: { settings: attrs } });
          }
        })();
        this.sync();
        return { status: 'unchanged', list: name, versionId: existing.version_id, entries: v.entries, ms: performance.now() - t0 };
      }
    }

    // The version's rows are written as the file is read, in short transactions, and only become the list's
    // entries in the switch at the end.
    const now = this.clock();
    let listId = existing?.id ?? 0;
    const created = !existing;
    const versionId = this.db.transaction(() => {
      if (created) listId = this.createList(name, attrs);
      const info = this.db
        .prepare(
          `INSERT INTO hotlist_versions (list_id, state, file, checksum, settings, user_name, started_at) VALUES (?, 'importing', ?, ?, ?, ?, ?)`,
        )
        .run(listId, fileName, checksum, settingsJson, opts.user, now);
      return Number(info.lastInsertRowid);
    })();

    // A want cancelled here stays cancelled when the next file still holds it: the source may not be corrected yet.
    const cancelled = new Map<string, { at: number; by: string | null; reason: string | null }>();
    if (existing?.version_id != null) {
      const rows = this.db
        .prepare(
          'SELECT plate, state, cancelled_at, cancelled_by, cancel_reason FROM hotlist_entries WHERE list_id = ? AND version_id = ? AND cancelled_at IS NOT NULL',
        )
        .all(listId, existing.version_id) as Array<{ plate: string; state: string | null; cancelled_at: number; cancelled_by: string | null; cancel_reason: string | null }>;
      for (const r of rows) cancelled.set(`${r.plate}|${r.state ?? ''}`, { at: r.cancelled_at, by: r.cancelled_by, reason: r.cancel_reason });
    }

    const problems = new Problems();
    const parser = FORMATS[format].create({ fileName, delimited });
    const wildcardsAllowed = FORMATS[format].wildcards;
    const states = new Set(settings.states);
    const skip = new Set(settings.skip);
    const skipped = { junk: 0, state: 0 };
    let entries = 0;
    let wildcards = 0;
    let keptCancelled = 0;
    const insert = this.db.prepare(
      `INSERT INTO hotlist_entries (list_id, version_id, origin, plate, state, code, reason, case_number, listed_at, details, line,
         added_at, cancelled_at, cancelled_by, cancel_reason)
       VALUES (?, ?, 'import', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const batch: unknown[][] = [];
    const flush = this.db.transaction(() => {
      for (const row of batch) insert.run(row);
      batch.length = 0;
    });
    try {
      const lastLine = readLines(file, problems, (text, n) => {
        const rec = parser.line(text, n, problems);
        if (!rec) return;
        const norm = normalisePlate(rec.plate, { wildcards: wildcardsAllowed });
        if ('error' in norm) {
          problems.add(n, norm.error);
          return;
        }
        if (skip.has(norm.plate)) {
          skipped.junk++;
          return;
        }
        if (states.size > 0 && (rec.state === null || !states.has(rec.state))) {
          skipped.state++;
          return;
        }
        if (problems.count > 0) return; // rejected anyway: only go on looking for problems
        entries++;
        if (norm.wildcard) wildcards++;
        const c = cancelled.get(`${norm.plate}|${rec.state ?? ''}`);
        if (c) keptCancelled++;
        batch.push([
          listId,
          versionId,
          norm.plate,
          rec.state,
          rec.code,
          rec.reason,
          rec.caseNumber,
          rec.listedAt,
          rec.details ? JSON.stringify(rec.details) : null,
          n,
          now,
          c?.at ?? null,
          c?.by ?? null,
          c?.reason ?? null,
        ]);
        if (batch.length >= BATCH_ROWS) flush();
      });
      parser.end(lastLine, problems);
    } catch (err) {
      problems.add(0, `cannot read the file: ${(err as Error).message}`);
    }
    if (problems.count === 0 && entries === 0) {
      const left = skipped.junk + skipped.state;
      problems.add(0, left > 0 ? `no entries left after leaving out ${skipped.junk} junk plate(s) and ${skipped.state} of other states` : 'no entries: a list is never replaced by an empty one');
    }
    if (problems.count === 0 && wildcards > 0) {
      const others = this.wildcardCount(listId);
      if (others + wildcards > this.config.maxWildcardEntries) {
        problems.add(0, `${wildcards} partial plate(s) here and ${others} in other lists: more than hotlists.maxWildcardEntries (${this.config.maxWildcardEntries})`);
      }
    }

    if (problems.count > 0) {
      batch.length = 0;
      this.db.transaction(() => {
        this.db
          .prepare(`UPDATE hotlist_versions SET state = 'rejected', problems = ?, finished_at = ? WHERE id = ?`)
          .run(JSON.stringify(problems.list.slice(0, 100)), this.clock(), versionId);
        this.journal({
          user: opts.user,
          action: 'import-rejected',
          listId,
          listName: name,
          versionId,
          detail: { file: fileName, checksum, problems: problems.count },
        });
      })();
      this.deleteEntries('list_id = ? AND version_id = ?', [listId, versionId]);
      if (created) {
        this.db.transaction(() => {
          const left = this.db.prepare('SELECT count(*) AS n FROM hotlist_entries WHERE list_id = ?').get(listId) as { n: number };
          if (left.n === 0) this.db.prepare('DELETE FROM hotlists WHERE id = ?').run(listId);
        })();
      }
      this.sync();
      throw new HotlistImportError(fileName, name, problems.list);
    }

    flush();
    const replaced = existing?.version_id ?? null;
    this.db.transaction(() => {
      if (replaced !== null) this.db.prepare(`UPDATE hotlist_versions SET state = 'replaced' WHERE id = ?`).run(replaced);
      this.db
        .prepare(`UPDATE hotlist_versions SET state = 'active', entries = ?, skipped = ?, finished_at = ? WHERE id = ?`)
        .run(entries, JSON.stringify(skipped), this.clock(), versionId);
      const row = this.db.prepare('SELECT * FROM hotlists WHERE id = ?').get(listId) as ListRow;
      this.updateList(row, attrs);
      this.db
        .prepare('UPDATE hotlists SET version_id = ?, expires_at = ?, updated_at = ? WHERE id = ?')
        .run(versionId, attrs.retentionMs === null ? null : now + attrs.retentionMs, this.clock(), listId);
      this.journal({
        user: opts.user,
        action: 'import',
        listId,
        listName: name,
        versionId,
        detail: { file: fileName, checksum, entries, wildcards, skipped, keptCancelled, replaced },
      });
    })();
    if (replaced !== null) this.deleteEntries('list_id = ? AND version_id = ?', [listId, replaced]);
    this.sync();
    const warnings: string[] = [];
    if (attrs.policy === 'distance' && attrs.maxDistance > 1 && entries > DISTANCE2_MAX_ENTRIES) {
      warnings.push(`match distance ${attrs.maxDistance} is allowed on lists of at most ${DISTANCE2_MAX_ENTRIES} entries; this one (${entries}) is matched within 1 character`);
    }
    return {
      status: 'imported',
      list: name,
      versionId,
      entries,
      wildcards,
      skipped,
      keptCancelled,
      replacedVersionId: replaced,
      ms: performance.now() - t0,
      warnings,
    };
  }

  /** Partial plates that can match, in lists other than `exceptImportsOf`'s imported version (manual ones count). */
  private wildcardCount(exceptImportsOf = 0): number {
    return (
      this.db
        .prepare(
          `SELECT count(*) AS n FROM hotlist_entries e JOIN hotlists l ON l.id = e.list_id
           WHERE e.plate GLOB ? AND e.cancelled_at IS NULL
             AND (e.version_id IS NULL OR (e.version_id = l.version_id AND e.list_id != ?))`,
        )
        .get(WILDCARD_GLOB, exceptImportsOf) as { n: number }
    ).n;
  }

  /** Deletes entries in short transactions (a list of a million is not deleted under one long write lock). */
  private deleteEntries(where: string, params: unknown[]): number {
    const stmt = this.db.prepare(`DELETE FROM hotlist_entries WHERE id IN (SELECT id FROM hotlist_entries WHERE ${where} LIMIT ${BATCH_ROWS})`);
    let total = 0;
    for (;;) {
      const n = stmt.run(...params).changes;
      total += n;
      if (n < BATCH_ROWS) return total;
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Manual entries

  /**
   * Adds an entry by hand (a full plate, or a partial one with ? and *) to a list, creating the list (format
   * manual) if there is none of that name. It matches from the moment this returns.
   */
  addEntry(o: AddEntryOptions): EntryRecord {
    for (const [key, value] of [
      ['user', o.user],
      ['reason', o.reason],
      ['case number', o.caseNumber],
    ] as const) {
      if (!value || value.trim() === '') throw new HotlistError(`a manual entry needs a ${key}`);
    }
    const norm = normalisePlate(o.plate, { wildcards: true });
    if ('error' in norm) throw new HotlistError(norm.error);
    const state = o.state ? o.state.toUpperCase() : null;
    if (state !== null && !/^[A-Z]{2}$/.test(state)) throw new HotlistError(`state ${JSON.stringify(o.state)} is not a two-letter code`);
    const now = this.clock();
    const expiresAt = o.expiresAt ?? now + this.config.manualEntryDays * DAY_MS;
    if (!(expiresAt > now)) throw new HotlistError(`the expiry ${new Date(expiresAt).toISOString()} is not in the future`);
    if (norm.wildcard && this.wildcardCount() + 1 > this.config.maxWildcardEntries) {
      throw new HotlistError(`there are already ${this.config.maxWildcardEntries} partial plates (hotlists.maxWildcardEntries)`);
    }
    const id = this.db.transaction(() => {
      let row = this.listRow(o.list);
      if (!row) {
        const def = this.definition(o.list);
        const listId = this.createList(o.list, this.attributesFor(o.list, def?.format ?? 'manual', null, { source: def?.source ?? 'manual entries' }));
        this.journal({ user: o.user, action: 'list', listId, listName: o.list, detail: { created: true } });
        row = this.db.prepare('SELECT * FROM hotlists WHERE id = ?').get(listId) as ListRow;
      }
      const info = this.db
        .prepare(
          `INSERT INTO hotlist_entries (list_id, version_id, origin, plate, state, reason, case_number, added_by, added_at, expires_at)
           VALUES (?, NULL, 'manual', ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(row.id, norm.plate, state, o.reason.trim(), o.caseNumber.trim(), o.user, now, expiresAt);
      const entryId = Number(info.lastInsertRowid);
      this.journal({
        user: o.user,
        action: 'add',
        listId: row.id,
        listName: o.list,
        entryId,
        plate: norm.plate,
        caseNumber: o.caseNumber.trim(),
        reason: o.reason.trim(),
        detail: { state, expiresAt },
      });
      return entryId;
    })();
    this.sync();
    return this.entry(id)!;
  }

  /** Cancels an entry (manual or imported): it stops matching before this returns, here, and within pollMs in the unit. */
  cancelEntry(entryId: number, o: { user: string; reason: string }): EntryRecord {
    if (!o.user || o.user.trim() === '') throw new HotlistError('a cancellation needs a user');
    if (!o.reason || o.reason.trim() === '') throw new HotlistError('a cancellation needs a reason');
    const e = this.entry(entryId);
    if (!e) throw new HotlistError(`no hot list entry #${entryId}`);
    if (e.cancelledAt !== null) {
      throw new HotlistError(`entry #${entryId} (${e.plate}, list ${e.list}) was already cancelled on ${new Date(e.cancelledAt).toISOString()} by ${e.cancelledBy}`);
    }
    this.db.transaction(() => {
      this.db
        .prepare('UPDATE hotlist_entries SET cancelled_at = ?, cancelled_by = ?, cancel_reason = ? WHERE id = ?')
        .run(this.clock(), o.user, o.reason.trim(), entryId);
      this.journal({
        user: o.user,
        action: 'cancel',
        listId: e.listId,
        listName: e.list,
        entryId,
        plate: e.plate,
        caseNumber: e.caseNumber,
        reason: o.reason.trim(),
      });
    })();
    this.sync();
    return this.entry(entryId)!;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Retention

  /**
   * Deletes lists whose version has expired (retentionDays) with all their entries, entries whose expiry has
   * passed, and rows left by interrupted imports. Each is recorded in the change log.
   */
  purgeExpired(user = 'system'): PurgeResult {
    const now = this.clock();
    const result: PurgeResult = { lists: [], entries: 0, leftovers: 0 };
    const lists = this.db.prepare('SELECT id, name FROM hotlists WHERE expires_at IS NOT NULL AND expires_at <= ?').all(now) as Array<{ id: number; name: string }>;
    for (const l of lists) {
      const n = this.deleteEntries('list_id = ?', [l.id]);
      this.db.transaction(() => {
        this.deleteEntries('list_id = ?', [l.id]); // any added meanwhile
        this.db.prepare('DELETE FROM hotlists WHERE id = ?').run(l.id);
        this.journal({ user, action: 'purge-list', listId: l.id, listName: l.name, detail: { entries: n } });
      })();
      result.lists.push(l.name);
    }
    const expired = this.db
      .prepare(
        `SELECT e.list_id AS id, l.name AS name, count(*) AS n FROM hotlist_entries e JOIN hotlists l ON l.id = e.list_id
         WHERE e.expires_at IS NOT NULL AND e.expires_at <= ? GROUP BY e.list_id`,
      )
      .all(now) as Array<{ id: number; name: string; n: number }>;
    for (const l of expired) {
      const n = this.deleteEntries('list_id = ? AND expires_at IS NOT NULL AND expires_at <= ?', [l.id, now]);
      this.journal({ user, action: 'purge-entries', listId: l.id, listName: l.name, detail: { entries: n } });
      result.entries += n;
    }
    this.db
      .prepare(`UPDATE hotlist_versions SET state = 'rejected', problems = ?, finished_at = ? WHERE state = 'importing' AND started_at < ?`)
      .run(JSON.stringify([{ line: 0, message: 'the import was interrupted' }]), now, now - STALE_IMPORT_MS);
    const stale = this.db
      .prepare(`SELECT id, list_id FROM hotlist_versions WHERE state IN ('replaced', 'rejected')`)
      .all() as Array<{ id: number; list_id: number }>;
    for (const v of stale) result.leftovers += this.deleteEntries('list_id = ? AND version_id = ?', [v.list_id, v.id]);
    this.sync();
    return result;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Queries (for `alpr-edge hotlist`, and the alert of a hit)

  lists(): ListSummary[] {
    const now = this.clock();
    const rows = this.db
      .prepare(
        `SELECT l.*, v.file, v.checksum, v.finished_at AS imported_at, v.user_name AS imported_by, v.entries AS version_entries,
           (SELECT count(*) FROM hotlist_entries e WHERE e.list_id = l.id AND e.version_id = l.version_id AND e.cancelled_at IS NOT NULL) AS cancelled,
           (SELECT count(*) FROM hotlist_entries e WHERE e.list_id = l.id AND e.version_id IS NULL AND e.cancelled_at IS NULL
              AND (e.expires_at IS NULL OR e.expires_at > ?)) AS manual
         FROM hotlists l LEFT JOIN hotlist_versions v ON v.id = l.version_id ORDER BY l.name`,
      )
      .all(now) as Array<
      ListRow & { file: string | null; checksum: string | null; imported_at: number | null; imported_by: string | null; version_entries: number | null; cancelled: number; manual: number }
    >;
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      source: r.source,
      format: r.format,
      category: r.category,
      priority: r.priority,
      covert: r.covert === 1,
      policy: r.match_policy,
      maxDistance: r.max_distance,
      retentionMs: r.retention_ms,
      expiresAt: r.expires_at,
      entries: r.version_entries ?? 0,
      cancelled: r.cancelled,
      manualEntries: r.manual,
      version:
        r.version_id === null
          ? null
          : { id: r.version_id, file: r.file ?? '', checksum: r.checksum ?? '', importedAt: r.imported_at ?? 0, importedBy: r.imported_by ?? '' },
    }));
  }

  entry(id: number): EntryRecord | undefined {
    const row = this.db.prepare(`${ENTRY_SELECT} WHERE e.id = ?`).get(id) as EntryRow | undefined;
    return row && toEntry(row);
  }

  /** A list's manual entries and its cancelled imported ones (the imported ones can be millions). */
  manualAndCancelled(listName: string): EntryRecord[] {
    const rows = this.db
      .prepare(
        `${ENTRY_SELECT} WHERE l.name = ? AND (e.version_id IS NULL OR (e.version_id = l.version_id AND e.cancelled_at IS NOT NULL)) ORDER BY e.id`,
      )
      .all(listName) as EntryRow[];
    return rows.map(toEntry);
  }

  /** The change log (audit record), newest last. */
  changes(opts: { afterId?: number; limit?: number } = {}): Array<HotlistChange & { plate: string | null; caseNumber: string | null; reason: string | null; detail: unknown }> {
    const rows = this.db
      .prepare('SELECT * FROM hotlist_changes WHERE id > ? ORDER BY id LIMIT ?')
      .all(opts.afterId ?? 0, opts.limit ?? 1000) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      id: r.id as number,
      at: r.at as number,
      user: r.user_name as string,
      action: r.action as HotlistChange['action'],
      listId: r.list_id as number | null,
      listName: r.list_name as string,
      entryId: r.entry_id as number | null,
      plate: r.plate as string | null,
      caseNumber: r.case_number as string | null,
      reason: r.reason as string | null,
      detail: r.detail === null ? null : JSON.parse(r.detail as string),
    }));
  }
}

const ENTRY_SELECT = `SELECT e.*, l.name AS list_name, l.version_id AS list_version_id FROM hotlist_entries e JOIN hotlists l ON l.id = e.list_id`;

function toEntry(r: EntryRow): EntryRecord {
  return {
    id: r.id,
    listId: r.list_id,
    list: r.list_name,
    origin: r.origin,
    plate: r.plate,
    state: r.state,
    code: r.code,
    reason: r.reason,
    caseNumber: r.case_number,
    listedAt: r.listed_at,
    details: r.details === null ? null : (JSON.parse(r.details) as Record<string, string>),
    line: r.line,
    addedBy: r.added_by,
    addedAt: r.added_at,
    expiresAt: r.expires_at,
    cancelledAt: r.cancelled_at,
    cancelledBy: r.cancelled_by,
    cancelReason: r.cancel_reason,
    current: r.version_id === null || r.version_id === r.list_version_id,
  };
}

function toListInfo(r: ListRow): ListInfo {
  return {
    id: r.id,
    name: r.name,
    category: r.category,
    priority: r.priority,
    covert: r.covert === 1,
    policy: r.match_policy,
    maxDistance: r.max_distance,
    expiresAt: r.expires_at,
  };
}

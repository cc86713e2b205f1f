import type Database from 'better-sqlite3';
import path from 'node:path';
import type { Clock } from '../util/clock.js';
import { CLEW_KINDS } from './formats/ca-doj.js';
import { normalisePlate } from './plate.js';
import { ENTRY_SELECT, toChange, toEntry, type ChangeRow, type EntryRow, type ListRow } from './rows.js';
import { HotlistError, type AddEntryOptions, type EntryRecord, type HotlistChange, type HotlistDefinition, type HotlistOptions, type HotlistsConfig, type ImportOptions, type ListSettings, type ListSummary, type PurgeResult } from './types.js';

export const DAY_MS = 86_400_000;
/** Rows per write transaction during an import or a delete: each holds the write lock for some tens of ms. */
export const BATCH_ROWS = 10_000;
/** An import still "importing" after this long was interrupted (the process died): its rows are leftovers. */
const STALE_IMPORT_MS = 3_600_000;
const WILDCARD_GLOB = "*[?*]*";

/** A change as the journal records it (`hotlist_changes`): who did what to which list or entry. */
export interface JournalRecord {
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
}

/**
 * The administration of the hot lists in the database: lists and their settings, manual entries, cancellations,
 * the purge of what has expired, and the change journal that records each of these (the audit record of who did
 * what) and by which the lists in memory follow them.
 */
export class HotlistAdmin {
  private readonly clock: Clock;

  /** `sync` applies the changes just journaled to the lists in memory: a change made here applies before the call returns. */
  constructor(
    private readonly db: Database.Database,
    private readonly options: HotlistOptions,
    private readonly sync: () => void,
  ) {
    this.clock = options.clock;
  }

  private get config(): HotlistsConfig {
    return this.options.config;
  }

  /** Records a change in the journal; returns its id. */
  journal(c: JournalRecord): number {
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
  // Lists

  definition(name: string): HotlistDefinition | undefined {
    return this.config.lists.find((l) => l.name === name);
  }

  listRow(name: string): ListRow | undefined {
    return this.db.prepare('SELECT * FROM hotlists WHERE name = ?').get(name) as ListRow | undefined;
  }

  listRowById(id: number): ListRow | undefined {
    return this.db.prepare('SELECT * FROM hotlists WHERE id = ?').get(id) as ListRow | undefined;
  }

  /** A list's settings: the command's options, else the config's definition, else the defaults. */
  attributesFor(name: string, format: string, fileName: string | null, opts: Partial<ImportOptions>): ListSettings {
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

  createList(name: string, a: ListSettings): number {
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
  updateList(row: ListRow, a: ListSettings): boolean {
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

  /** Partial plates that can match, in lists other than `exceptImportsOf`'s imported version (manual ones count). */
  wildcardCount(exceptImportsOf = 0): number {
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
  deleteEntries(where: string, params: unknown[]): number {
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
        row = this.listRowById(listId)!;
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
      .all(opts.afterId ?? 0, opts.limit ?? 1000) as ChangeRow[];
    return rows.map((r) => ({
      ...toChange(r),
      plate: r.plate,
      caseNumber: r.case_number,
      reason: r.reason,
      detail: r.detail === null ? null : JSON.parse(r.detail),
    }));
  }
}

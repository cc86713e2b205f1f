import type Database from 'better-sqlite3';
import type { Clock } from '../util/clock.js';
import { BATCH_ROWS, type HotlistAdmin } from './admin.js';
import { FORMATS, Problems, type DelimitedSettings, type FormatName } from './formats/index.js';
import { fileChecksum, readLines } from './formats/text-file.js';
import { normalisePlate } from './plate.js';
import type { ListRow } from './rows.js';
import { DISTANCE2_MAX_ENTRIES } from './segment.js';
import { HotlistError, HotlistImportError, type HotlistDefinition, type HotlistOptions, type HotlistsConfig, type ImportOptions, type ImportResult, type ListSettings } from './types.js';

/** How a file is read: recorded with each version, so that the same file read the same way is not read again. */
interface ImportSettings {
  format: FormatName;
  states: string[];
  skip: string[];
  delimited?: DelimitedSettings;
}

/** A want cancelled in the version in use, by plate and state. */
type Cancellations = Map<string, { at: number; by: string | null; reason: string | null }>;

interface ReadCounts {
  entries: number;
  wildcards: number;
  skipped: { junk: number; state: number };
  keptCancelled: number;
}

/**
 * The import of a hot list file as a new version of its list. The file is read in one pass, its entries inserted
 * as the new version in short transactions (a long write lock would stall the unit storing its reads); the list
 * switches to the new version in one small transaction at the end. Nobody ever matches a half-imported version,
 * and a file with any problem is rejected as a whole: its rows are deleted and the version in use stays.
 */
export class HotlistImport {
  private readonly clock: Clock;

  constructor(
    private readonly db: Database.Database,
    private readonly options: HotlistOptions,
    private readonly admin: HotlistAdmin,
    /** Applies the changes just journaled to the lists in memory. */
    private readonly sync: () => void,
  ) {
    this.clock = options.clock;
  }

  private get config(): HotlistsConfig {
    return this.options.config;
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
    const def = this.admin.definition(name);
    const fileName = opts.fileName ?? (typeof file === 'string' ? file : '(data)');
    const { settings, delimited } = this.settingsFor(name, def, opts.format);
    const settingsJson = JSON.stringify(settings);
    const attrs = this.admin.attributesFor(name, settings.format, fileName, { ...opts, source: opts.source ?? def?.source ?? fileName });
    let checksum: string;
    try {
      checksum = fileChecksum(file);
    } catch (err) {
      throw new HotlistError(`cannot read ${fileName}: ${(err as Error).message}`);
    }

    const existing = this.admin.listRow(name);
    if (existing?.version_id != null) {
      const v = this.db.prepare('SELECT checksum, settings, entries FROM hotlist_versions WHERE id = ?').get(existing.version_id) as
        | { checksum: string; settings: string; entries: number }
        | undefined;
      if (v && v.checksum === checksum && v.settings === settingsJson) {
        this.db.transaction(() => {
          if (this.admin.updateList(existing, attrs)) {
            this.admin.journal({ user: opts.user, action: 'list', listId: existing.id, listName: name, detail: { settings: attrs } });
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
      if (created) listId = this.admin.createList(name, attrs);
      const info = this.db
        .prepare(
          `INSERT INTO hotlist_versions (list_id, state, file, checksum, settings, user_name, started_at) VALUES (?, 'importing', ?, ?, ?, ?, ?)`,
        )
        .run(listId, fileName, checksum, settingsJson, opts.user, now);
      return Number(info.lastInsertRowid);
    })();

    const problems = new Problems();
    const writer = this.entryWriter(listId, versionId, now);
    const counts = this.readEntries(file, { fileName, delimited }, settings, this.cancellationsOf(listId, existing), problems, writer);
    const { entries, wildcards, skipped, keptCancelled } = counts;
    if (problems.count === 0 && entries === 0) {
      const left = skipped.junk + skipped.state;
      problems.add(0, left > 0 ? `no entries left after leaving out ${skipped.junk} junk plate(s) and ${skipped.state} of other states` : 'no entries: a list is never replaced by an empty one');
    }
    if (problems.count === 0 && wildcards > 0) {
      const others = this.admin.wildcardCount(listId);
      if (others + wildcards > this.config.maxWildcardEntries) {
        problems.add(0, `${wildcards} partial plate(s) here and ${others} in other lists: more than hotlists.maxWildcardEntries (${this.config.maxWildcardEntries})`);
      }
    }

    if (problems.count > 0) {
      writer.discard();
      this.reject({ name, listId, versionId, created, fileName, checksum, user: opts.user }, problems);
    }

    writer.flush();
    const replaced = existing?.version_id ?? null;
    this.activate({ name, listId, versionId, replaced, attrs, now, user: opts.user, detail: { file: fileName, checksum, entries, wildcards, skipped, keptCancelled, replaced } }, counts);
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

  /** How the file is read: the command's format, else the list's in the config; the config's states, skipped plates, columns. */
  private settingsFor(name: string, def: HotlistDefinition | undefined, asked: FormatName | undefined): { settings: ImportSettings; delimited: DelimitedSettings } {
    const format = asked ?? (def && def.format !== 'manual' ? def.format : undefined);
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
    const settings: ImportSettings = {
      format,
      states: def?.states ?? [],
      skip: [...new Set(this.config.skipPlates.map((p) => p.toUpperCase().replace(/[\s-]+/g, '')))].sort(),
      ...(format === 'csv' ? { delimited } : {}),
    };
    return { settings, delimited };
  }

  /** A want cancelled here stays cancelled when the next file still holds it: the source may not be corrected yet. */
  private cancellationsOf(listId: number, existing: ListRow | undefined): Cancellations {
    const cancelled: Cancellations = new Map();
    if (existing?.version_id != null) {
      const rows = this.db
        .prepare(
          'SELECT plate, state, cancelled_at, cancelled_by, cancel_reason FROM hotlist_entries WHERE list_id = ? AND version_id = ? AND cancelled_at IS NOT NULL',
        )
        .all(listId, existing.version_id) as Array<{ plate: string; state: string | null; cancelled_at: number; cancelled_by: string | null; cancel_reason: string | null }>;
      for (const r of rows) cancelled.set(`${r.plate}|${r.state ?? ''}`, { at: r.cancelled_at, by: r.cancelled_by, reason: r.cancel_reason });
    }
    return cancelled;
  }

  /** Reads the file, adding its entries to the writer until the first problem, then only looking for more problems. */
  private readEntries(
    file: string | Buffer,
    parse: { fileName: string; delimited: DelimitedSettings },
    settings: ImportSettings,
    cancelled: Cancellations,
    problems: Problems,
    writer: ReturnType<HotlistImport['entryWriter']>,
  ): ReadCounts {
    const parser = FORMATS[settings.format].create(parse);
    const wildcardsAllowed = FORMATS[settings.format].wildcards;
    const states = new Set(settings.states);
    const skip = new Set(settings.skip);
    const counts: ReadCounts = { entries: 0, wildcards: 0, skipped: { junk: 0, state: 0 }, keptCancelled: 0 };
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
          counts.skipped.junk++;
          return;
        }
        if (states.size > 0 && (rec.state === null || !states.has(rec.state))) {
          counts.skipped.state++;
          return;
        }
        if (problems.count > 0) return; // rejected anyway: only go on looking for problems
        counts.entries++;
        if (norm.wildcard) counts.wildcards++;
        const c = cancelled.get(`${norm.plate}|${rec.state ?? ''}`);
        if (c) counts.keptCancelled++;
        writer.add([
          norm.plate,
          rec.state,
          rec.code,
          rec.reason,
          rec.caseNumber,
          rec.listedAt,
          rec.details ? JSON.stringify(rec.details) : null,
          n,
          c?.at ?? null,
          c?.by ?? null,
          c?.reason ?? null,
        ]);
      });
      parser.end(lastLine, problems);
    } catch (err) {
      problems.add(0, `cannot read the file: ${(err as Error).message}`);
    }
    return counts;
  }

  /** Inserts a version's entries in transactions of BATCH_ROWS rows. */
  private entryWriter(listId: number, versionId: number, now: number) {
    const insert = this.db.prepare(
      `INSERT INTO hotlist_entries (list_id, version_id, origin, plate, state, code, reason, case_number, listed_at, details, line,
         added_at, cancelled_at, cancelled_by, cancel_reason)
       VALUES (?, ?, 'import', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const batch: unknown[][] = [];
    const flush = this.db.transaction(() => {
      for (const [plate, state, code, reason, caseNumber, listedAt, details, line, cancelledAt, cancelledBy, cancelReason] of batch) {
        insert.run(listId, versionId, plate, state, code, reason, caseNumber, listedAt, details, line, now, cancelledAt, cancelledBy, cancelReason);
      }
      batch.length = 0;
    });
    return {
      /** plate, state, code, reason, case number, listed at, details, line, cancelled at, by, reason. */
      add(row: unknown[]): void {
        batch.push(row);
        if (batch.length >= BATCH_ROWS) flush();
      },
      flush: (): void => flush(),
      discard(): void {
        batch.length = 0;
      },
    };
  }

  /** Records the version as rejected, deletes its rows (and the list, when this import created it), and throws. */
  private reject(
    v: { name: string; listId: number; versionId: number; created: boolean; fileName: string; checksum: string; user: string },
    problems: Problems,
  ): never {
    this.db.transaction(() => {
      this.db
        .prepare(`UPDATE hotlist_versions SET state = 'rejected', problems = ?, finished_at = ? WHERE id = ?`)
        .run(JSON.stringify(problems.list.slice(0, 100)), this.clock(), v.versionId);
      this.admin.journal({
        user: v.user,
        action: 'import-rejected',
        listId: v.listId,
        listName: v.name,
        versionId: v.versionId,
        detail: { file: v.fileName, checksum: v.checksum, problems: problems.count },
      });
    })();
    this.admin.deleteEntries('list_id = ? AND version_id = ?', [v.listId, v.versionId]);
    if (v.created) {
      this.db.transaction(() => {
        const left = this.db.prepare('SELECT count(*) AS n FROM hotlist_entries WHERE list_id = ?').get(v.listId) as { n: number };
        if (left.n === 0) this.db.prepare('DELETE FROM hotlists WHERE id = ?').run(v.listId);
      })();
    }
    this.sync();
    throw new HotlistImportError(v.fileName, v.name, problems.list);
  }

  /** Switches the list to the new version in one small transaction, then deletes the rows of the one it replaced. */
  private activate(
    v: { name: string; listId: number; versionId: number; replaced: number | null; attrs: ListSettings; now: number; user: string; detail: unknown },
    counts: ReadCounts,
  ): void {
    const { listId, versionId, replaced, attrs } = v;
    this.db.transaction(() => {
      if (replaced !== null) this.db.prepare(`UPDATE hotlist_versions SET state = 'replaced' WHERE id = ?`).run(replaced);
      this.db
        .prepare(`UPDATE hotlist_versions SET state = 'active', entries = ?, skipped = ?, finished_at = ? WHERE id = ?`)
        .run(counts.entries, JSON.stringify(counts.skipped), this.clock(), versionId);
      this.admin.updateList(this.admin.listRowById(listId)!, attrs);
      this.db
        .prepare('UPDATE hotlists SET version_id = ?, expires_at = ?, updated_at = ? WHERE id = ?')
        .run(versionId, attrs.retentionMs === null ? null : v.now + attrs.retentionMs, this.clock(), listId);
      this.admin.journal({ user: v.user, action: 'import', listId, listName: v.name, versionId, detail: v.detail });
    })();
    if (replaced !== null) this.admin.deleteEntries('list_id = ? AND version_id = ?', [listId, replaced]);
    this.sync();
  }
}

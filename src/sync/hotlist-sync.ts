import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { z } from 'zod';
import type { Logger } from '../log/logger.js';
import { FORMAT_NAMES, HotlistError, normalisePlate, type FormatName, type Hotlists, type ImportOptions, type ImportResult } from '../hotlist/index.js';
import { SyncError, type SyncHttp } from './http.js';

/**
 * Hot lists back from the central server (docs/sync-protocol.md, "Hot lists back"): the manifest (with its ETag),
 * each list whose checksum differs fetched, checked and imported atomically, then the server's urgent entries and
 * cancellations applied once each. The same entries and cancellations can come over MQTT (`applyUrgent`).
 */

/** What an urgent entry and a cancellation both carry. */
const urgent = {
  id: z.string().min(1).max(200),
  list: z.string().min(1).max(64),
  plate: z.string().min(1).max(32),
  state: z.string().max(2).nullish(),
  reason: z.string().min(1).max(500),
};
const by = z.string().max(100).nullish();

const entrySchema = z.object({ ...urgent, caseNumber: z.string().min(1).max(100), expiresAt: z.number().nullish(), by });

const cancellationSchema = z.object({ ...urgent, at: z.number().nullish(), by });

const manifestSchema = z.object({
  generatedAt: z.number().optional(),
  lists: z
    .array(
      z.object({
        name: z.string().min(1).max(64),
        format: z.enum(FORMAT_NAMES as unknown as [FormatName, ...FormatName[]]),
        sha256: z.string().regex(/^[0-9a-f]{64}$/),
        bytes: z.number().optional(),
        href: z.string().min(1),
        category: z.string().max(200).optional(),
        priority: z.int().min(1).max(9).optional(),
        covert: z.boolean().optional(),
      }),
    )
    .default([]),
  entries: z.array(entrySchema).default([]),
  cancellations: z.array(cancellationSchema).default([]),
});

export const urgentSchema = z.discriminatedUnion('op', [entrySchema.extend({ op: z.literal('add') }), cancellationSchema.extend({ op: z.literal('cancel') })]);

export type Manifest = z.infer<typeof manifestSchema>;
export type UrgentEntry = z.infer<typeof entrySchema>;
export type UrgentCancellation = z.infer<typeof cancellationSchema>;

export interface HotlistSyncReport {
  manifest: 'fetched' | 'unchanged';
  imported: Array<{ list: string; entries: number; versionId: number }>;
  unchanged: string[];
  rejected: Array<{ list: string; error: string }>;
  entriesAdded: number;
  cancellations: number;
  entriesCancelled: number;
}

/** An import error in words, with the first lines at fault of a rejected file. */
export function describeImportError(err: Error): string {
  const problems = (err as { problems?: Array<{ line: number; message: string }> }).problems;
  if (!Array.isArray(problems) || problems.length === 0) return err.message;
  return `${err.message}: ${problems
    .slice(0, 3)
    .map((p) => `line ${p.line}: ${p.message}`)
    .join('; ')}${problems.length > 3 ? '; …' : ''}`;
}

/** Imports a downloaded list file: in this thread (commands, tests) or a worker (the running unit). */
export type Importer = (file: Buffer, opts: ImportOptions) => Promise<ImportResult>;

export class HotlistSync {
  private etag: string | undefined;

  constructor(
    private readonly db: Database.Database,
    private readonly hotlists: Hotlists,
    private readonly log: Logger,
    private readonly importer?: Importer,
  ) {}

  async run(http: SyncHttp, unitId: string): Promise<HotlistSyncReport> {
    const report: HotlistSyncReport = { manifest: 'unchanged', imported: [], unchanged: [], rejected: [], entriesAdded: 0, cancellations: 0, entriesCancelled: 0 };
    const res = await http.json<unknown>({
      method: 'GET',
      path: `v1/units/${encodeURIComponent(unitId)}/hotlists`,
      headers: this.etag ? { 'if-none-match': this.etag } : {},
    });
    if (res.status === 304) return report;
    const parsed = manifestSchema.safeParse(res.data);
    if (!parsed.success) {
      throw new SyncError(`the server's hot list manifest is malformed: ${parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, 'protocol');
    }
    const manifest = parsed.data;
    report.manifest = 'fetched';
    const current = new Map(this.hotlists.lists().map((l) => [l.name, l]));
    for (const list of manifest.lists) {
      if (current.get(list.name)?.version?.checksum === list.sha256) {
        report.unchanged.push(list.name);
        continue;
      }
      const file = await http.request({ method: 'GET', path: list.href, maxResponseBytes: 1024 * 2 ** 20 });
      if (file.status !== 200) {
        report.rejected.push({ list: list.name, error: `the server answered ${file.status} for ${list.href}` });
        continue;
      }
      const sha = createHash('sha256').update(file.body).digest('hex');
      if (sha !== list.sha256) {
        // a file cut short or changed in transit is never imported; the old version keeps matching
        report.rejected.push({ list: list.name, error: `checksum mismatch: the manifest says ${list.sha256.slice(0, 12)}…, the file is ${sha.slice(0, 12)}… (${file.body.length} bytes)` });
        continue;
      }
      try {
        const opts: ImportOptions = {
          list: list.name,
          format: list.format,
          category: list.category,
          priority: list.priority,
          covert: list.covert,
          source: new URL(list.href, http.baseUrl).href,
          user: 'central',
          fileName: `${list.name} (from the central server)`,
        };
        let r: ImportResult;
        if (this.importer) {
          r = await this.importer(file.body, opts);
          // the new version is in the database: match against it from now on (not only at the next poll)
          this.hotlists.sync();
        } else {
          r = this.hotlists.importFile(file.body, opts);
        }
        if (r.status === 'imported') report.imported.push({ list: list.name, entries: r.entries, versionId: r.versionId });
        else report.unchanged.push(list.name);
      } catch (err) {
        report.rejected.push({ list: list.name, error: describeImportError(err as Error) });
      }
    }
    for (const r of report.rejected) this.log.error({ list: r.list, err: r.error }, 'hot list from the central server rejected; the list keeps its version');
    for (const e of manifest.entries) if (this.applyEntry(e, 'sync').added) report.entriesAdded++;
    for (const c of manifest.cancellations) {
      const r = this.applyCancellation(c, 'sync');
      if (r.applied) {
        report.cancellations++;
        report.entriesCancelled += r.cancelled;
      }
    }
    // a manifest is only "seen" once everything in it was applied
    this.etag = typeof res.headers.etag === 'string' ? res.headers.etag : undefined;
    if (report.imported.length || report.entriesAdded || report.cancellations) {
      this.log.info(
        { imported: report.imported, entriesAdded: report.entriesAdded, cancellations: report.cancellations, entriesCancelled: report.entriesCancelled },
        'hot lists updated from the central server',
      );
    }
    return report;
  }

  /** An urgent entry or cancellation from MQTT: validated, applied at once, once. */
  applyUrgent(payload: unknown): { ok: boolean; message: string } {
    const parsed = urgentSchema.safeParse(payload);
    if (!parsed.success) return { ok: false, message: `malformed urgent hot list message: ${parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` };
    const { op, ...rest } = parsed.data;
    if (op === 'add') {
      const r = this.applyEntry(rest as UrgentEntry, 'mqtt');
      return { ok: r.added || r.already, message: r.message };
    }
    const r = this.applyCancellation(rest as UrgentCancellation, 'mqtt');
    return { ok: r.applied || r.already, message: r.message };
  }

  private applied(kind: 'entry' | 'cancellation', id: string): boolean {
    return this.db.prepare('SELECT 1 FROM sync_applied WHERE kind = ? AND server_id = ?').get(kind, id) !== undefined;
  }

  private record(kind: 'entry' | 'cancellation', id: string, via: string, outcome: unknown): void {
    this.db.prepare('INSERT OR IGNORE INTO sync_applied (kind, server_id, applied_at, via, outcome) VALUES (?, ?, ?, ?, ?)').run(kind, id, this.hotlists.clock(), via, JSON.stringify(outcome));
  }

  private applyEntry(e: UrgentEntry, via: string): { added: boolean; already: boolean; message: string } {
    if (this.applied('entry', e.id)) return { added: false, already: true, message: `entry ${e.id} was applied before` };
    try {
      const entry = this.hotlists.addEntry({
        list: e.list,
        plate: e.plate,
        state: e.state ?? undefined,
        reason: e.reason,
        caseNumber: e.caseNumber,
        expiresAt: e.expiresAt ?? undefined,
        user: `central${e.by ? `:${e.by}` : ''}`,
      });
      this.record('entry', e.id, via, { entryId: entry.id });
      this.log.info({ id: e.id, list: e.list, entry: entry.id, via }, 'hot list entry from the central server added');
      return { added: true, already: false, message: `entry ${e.id} added as #${entry.id}` };
    } catch (err) {
      if (!(err instanceof HotlistError)) throw err;
      // a bad entry is recorded with its reason and not tried again every cycle
      this.record('entry', e.id, via, { error: err.message });
      this.log.error({ id: e.id, list: e.list, err: err.message, via }, 'hot list entry from the central server refused');
      return { added: false, already: false, message: err.message };
    }
  }

  private applyCancellation(c: UrgentCancellation, via: string): { applied: boolean; already: boolean; cancelled: number; message: string } {
    if (this.applied('cancellation', c.id)) return { applied: false, already: true, cancelled: 0, message: `cancellation ${c.id} was applied before` };
    const norm = normalisePlate(c.plate, { wildcards: true });
    if ('error' in norm) {
      this.record('cancellation', c.id, via, { error: norm.error });
      return { applied: false, already: false, cancelled: 0, message: norm.error };
    }
    const state = c.state ? c.state.toUpperCase() : null;
    const ids = (
      this.db
        .prepare(
          `SELECT e.id FROM hotlist_entries e JOIN hotlists l ON l.id = e.list_id
           WHERE l.name = ? AND e.plate = ? AND (? IS NULL OR e.state = ?) AND e.cancelled_at IS NULL
             AND (e.version_id IS NULL OR e.version_id = l.version_id)`,
        )
        .all(c.list, norm.plate, state, state) as Array<{ id: number }>
    ).map((r) => r.id);
    for (const id of ids) this.hotlists.cancelEntry(id, { user: `central${c.by ? `:${c.by}` : ''}`, reason: c.reason });
    this.record('cancellation', c.id, via, { cancelled: ids });
    this.log.info({ id: c.id, list: c.list, plate: norm.plate, entries: ids, via }, 'hot list cancellation from the central server applied');
    return { applied: true, already: false, cancelled: ids.length, message: `cancellation ${c.id}: ${ids.length} entr${ids.length === 1 ? 'y' : 'ies'} cancelled` };
  }
}

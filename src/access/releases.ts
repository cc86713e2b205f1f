import type Database from 'better-sqlite3';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AccessLog } from './access-log.js';
import { checkQuery, DataAccess, readsById, type Purpose, type SearchQuery } from './data.js';
import { digestOf, MAX_FULL_RELEASE_READS, releaseContents, released, type AggregateCell, type Frozen, type ReleaseSummary } from './release-contents.js';
import { AccessDenied, can, type Principal } from './roles.js';
import { accountTies } from './user-changes.js';
import { rowMap } from '../util/rows.js';

// The releases table is migration 4, its frozen contents and export count migration 9 (src/store/migrations.ts).

/**
 * Releases of stored data to another agency (P9, P10): requested by one user, approved by another who is
 * independent of the requester, fixed at approval, written out once.
 *
 * - An aggregate release (for non-law-enforcement, Calabasas) selects no plate and gives counts per camera and UTC
 *   day only; a cell with fewer distinct vehicles than the threshold (access.releaseMinCellCount, 5 by default) is
 *   left out, and the release says the threshold and how many cells were left out. Its time range is widened to
 *   whole days, the cells' size, so that two releases cannot be subtracted to count the cars of a few minutes.
 * - What is released is fixed when it is approved: the approver is shown (and can check with --digest) the counts,
 *   time range, cameras and the SHA-256 of the data; the release keeps the read ids (full) or the cells
 *   (aggregate) and that digest; the export writes exactly that set or nothing, and the access log records the
 *   digest at approval and at each export.
 * - The first export is the requester's or an admin's; a further export only an admin's with a stated reason,
 *   each logged. Refusals are logged too.
 */

/** The default smallest cell of an aggregate release (config access.releaseMinCellCount). */
export const DEFAULT_MIN_CELL_COUNT = 5;
const DAY_MS = 86_400_000;

export interface ReleaseRequest {
  mode: 'full' | 'aggregate';
  agency: string;
  requester: string;
  purpose: string;
  caseNumber: string;
  selector: SearchQuery;
}

export interface ReleaseRecord extends ReleaseRequest {
  id: number;
  requestedBy: string;
  requestedAt: number;
  approvedBy: string | null;
  approvedAt: number | null;
  /** what was approved (null until then, or for a release approved before contents were fixed at approval) */
  summary: ReleaseSummary | null;
  /** SHA-256 (hex) of the released data, fixed at approval */
  digest: string | null;
  exportedAt: number | null;
  exportedBy: string | null;
  exportCount: number;
  released: unknown;
}

export interface ReleaseOptions {
  /** An aggregate release's smallest cell, in distinct vehicles (default DEFAULT_MIN_CELL_COUNT). */
  minCellCount?: number;
}

export class Releases {
  private readonly data: DataAccess;
  private readonly minCellCount: number;
  constructor(
    private readonly db: Database.Database,
    private readonly log: AccessLog,
    opts: ReleaseOptions = {},
  ) {
    this.data = new DataAccess(db, log);
    this.minCellCount = opts.minCellCount ?? DEFAULT_MIN_CELL_COUNT;
    if (!Number.isInteger(this.minCellCount) || this.minCellCount < 2) throw new RangeError(`minCellCount ${this.minCellCount}: an integer of at least 2`);
  }

  private refuse(who: Principal, action: string, query: unknown, message: string, rec?: ReleaseRecord): never {
    this.db.transaction(() =>
      this.log.append({ user: who.user, agency: who.agency, role: who.role, action, purpose: rec?.purpose ?? null, caseNumber: rec?.caseNumber ?? null, query, result: { refused: message }, outcome: 'refused' }),
    )();
    throw new AccessDenied(message);
  }

  request(who: Principal, r: ReleaseRequest): ReleaseRecord {
    this.data.authorize(who, 'reads.export', 'release-request', r);
    const p = this.data.purpose(who, { purpose: r.purpose, caseNumber: r.caseNumber }, 'release-request', r);
    if (r.agency.trim().length < 2 || r.requester.trim().length < 2) throw new AccessDenied('a release names the receiving agency and the person who asked');
    let selector: SearchQuery = { ...r.selector };
    delete selector.limit;
    if (selector.includeDeleted) this.refuse(who, 'release-request', r, 'logically deleted reads are not released (no --include-deleted in a release)');
    if (r.mode === 'aggregate') {
      if (selector.plate !== undefined) {
        this.refuse(
          who,
          'release-request',
          r,
          'an aggregate release cannot select a plate (--plate): it gives counts per camera and day of many vehicles, never where or when one vehicle was seen; a plate goes only in a full release to an authorised agency',
        );
      }
      // whole UTC days, the cells' size: two releases cannot be subtracted to count the cars of a few minutes
      if (selector.from !== undefined) selector.from = Math.floor(selector.from / DAY_MS) * DAY_MS;
      if (selector.to !== undefined) selector.to = Math.ceil(selector.to / DAY_MS) * DAY_MS;
    }
    try {
      checkQuery(selector);
    } catch (err) {
      this.refuse(who, 'release-request', r, (err as Error).message);
    }
    selector = JSON.parse(JSON.stringify(selector)) as SearchQuery;
    return this.db.transaction(() => {
      const id = Number(
        this.db
          .prepare(
            `INSERT INTO releases (mode, agency, requester, purpose, case_number, selector, requested_by, requested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(r.mode, r.agency.trim(), r.requester.trim(), p.purpose, p.caseNumber, JSON.stringify(selector), who.user, this.log.clock()).lastInsertRowid,
      );
      this.log.append({ user: who.user, agency: who.agency, role: who.role, action: 'release-request', purpose: p.purpose, caseNumber: p.caseNumber, query: { release: id, ...r, selector }, outcome: 'ok' });
      return this.get(id)!;
    })();
  }

  /**
   * What the release holds: fixed once approved; before that, what an approval now would fix (computed, and the
   * look recorded in the access log). The requester, an admin (who approves) and an auditor (fixed contents only)
   * may look.
   */
  show(who: Principal, id: number): { release: ReleaseRecord; summary: ReleaseSummary | null; digest: string | null; fixed: boolean } {
    const rec = this.get(id);
    const mayApprove = can(who.role, 'releases.approve');
    const isRequester = rec !== undefined && rec.requestedBy === who.user && can(who.role, 'reads.export');
    if (!mayApprove && !isRequester && !can(who.role, 'audit.read')) {
      this.refuse(who, 'release-show', { release: id }, `only the user who requested release ${id}, an admin or an auditor may see it`, rec);
    }
    if (!rec) throw new AccessDenied(`no release ${id}`);
    if (rec.approvedBy) {
      this.db.transaction(() =>
        this.log.append({ user: who.user, agency: who.agency, role: who.role, action: 'release-show', purpose: rec.purpose, caseNumber: rec.caseNumber, query: { release: id }, result: { digest: rec.digest }, outcome: 'ok' }),
      )();
      return { release: rec, summary: rec.summary, digest: rec.digest, fixed: true };
    }
    if (!mayApprove && !isRequester) {
      this.db.transaction(() =>
        this.log.append({ user: who.user, agency: who.agency, role: who.role, action: 'release-show', purpose: rec.purpose, caseNumber: rec.caseNumber, query: { release: id }, result: { preview: false }, outcome: 'ok' }),
      )();
      return { release: rec, summary: null, digest: null, fixed: false };
    }
    const c = releaseContents(this.db, rec, this.minCellCount);
    this.log.append({
      user: who.user,
      agency: who.agency,
      role: who.role,
      action: 'release-preview',
      purpose: rec.purpose,
      caseNumber: rec.caseNumber,
      query: { release: id },
      result: { count: c.frozen.summary.reads, ...(c.frozen.ids ? { ids: c.frozen.ids } : {}), upToReadId: c.frozen.summary.upToReadId, digest: c.digest },
      outcome: 'ok',
    });
    return { release: rec, summary: c.frozen.summary, digest: c.digest, fixed: false };
  }

  /**
   * Approves a release requested by someone else and independent of them, fixing its contents: the reads selected
   * now (stored up to `upToReadId`, when given: what `show` counted), and when `expectDigest` is given, only if
   * they are what the approver was shown.
   */
  approve(who: Principal, id: number, opts: { expectDigest?: string; upToReadId?: number } = {}): ReleaseRecord {
    this.data.authorize(who, 'releases.approve', 'release-approve', { release: id });
    const rec = this.get(id);
    if (!rec) throw new AccessDenied(`no release ${id}`);
    if (rec.requestedBy === who.user) {
      this.refuse(who, 'release-approve', { release: id }, 'a release must be approved by someone other than the user who requested it', rec);
    }
    const tie = accountTies(this.db, rec.requestedBy, who.user, rec.requestedAt);
    if (tie !== null) {
      this.refuse(who, 'release-approve', { release: id }, `${who.user} may not approve release ${id}: ${tie}; an approver must be independent of the requester`, rec);
    }
    if (rec.approvedBy) throw new AccessDenied(`release ${id} is already approved by ${rec.approvedBy}`);
    const c = releaseContents(this.db, rec, this.minCellCount, opts.upToReadId);
    if (rec.mode === 'full' && c.frozen.summary.reads > MAX_FULL_RELEASE_READS) {
      this.refuse(who, 'release-approve', { release: id }, `release ${id} selects more than ${MAX_FULL_RELEASE_READS} reads: ask for a narrower one`, rec);
    }
    if (opts.expectDigest !== undefined && opts.expectDigest.trim().toLowerCase() !== c.digest) {
      this.refuse(
        who,
        'release-approve',
        { release: id, expectDigest: opts.expectDigest },
        `release ${id} is not what was shown: its contents now have digest ${c.digest.slice(0, 16)}…, not ${opts.expectDigest.slice(0, 16)}…; look again (alpr-edge release show ${id})`,
        rec,
      );
    }
    const done = this.db
      .transaction(() => {
        // another approver may have been quicker
        const changed = this.db
          .prepare('UPDATE releases SET approved_by = ?, approved_at = ?, frozen = ?, digest = ? WHERE id = ? AND approved_by IS NULL')
          .run(who.user, this.log.clock(), JSON.stringify(c.frozen), c.digest, id).changes;
        if (changed === 0) return false;
        this.log.append({
          user: who.user,
          agency: who.agency,
          role: who.role,
          action: 'release-approve',
          purpose: rec.purpose,
          caseNumber: rec.caseNumber,
          query: { release: id },
          result: { count: c.frozen.summary.reads, ...(c.frozen.ids ? { ids: c.frozen.ids } : {}), summary: c.frozen.summary, digest: c.digest },
          outcome: 'ok',
        });
        return true;
      })
      .immediate();
    if (!done) throw new AccessDenied(`release ${id} is already approved by ${this.get(id)!.approvedBy}`);
    return this.get(id)!;
  }

  /**
   * Writes an approved release to `outDir`: release.json (the record, what was approved, and the reads or the
   * cells) and, for a full release, the images (through `readImage`, which decrypts them). Exactly the set fixed
   * at approval, or nothing: a read purged or deleted since is refused, not left out.
   */
  async export(
    who: Principal,
    id: number,
    outDir: string,
    readImage: (rel: string) => Promise<Buffer>,
    opts: { reason?: string } = {},
  ): Promise<{ reads: number; cells: number | null; files: string[]; digest: string; exportNumber: number; imagesMissing: number }> {
    this.data.authorize(who, 'reads.export', 'release-export', { release: id });
    const rec = this.get(id);
    if (!rec) throw new AccessDenied(`no release ${id}`);
    const admin = can(who.role, 'releases.approve');
    if (rec.requestedBy !== who.user && !admin) {
      this.refuse(who, 'release-export', { release: id }, `only ${rec.requestedBy}, who requested release ${id}, or an admin may export it`, rec);
    }
    if (!rec.approvedBy) this.refuse(who, 'release-export', { release: id }, `release ${id} is not approved: nothing is released without an approval record`, rec);
    const frozenText = (this.db.prepare('SELECT frozen FROM releases WHERE id = ?').get(id) as { frozen: string | null }).frozen;
    if (frozenText === null || rec.digest === null) {
      this.refuse(who, 'release-export', { release: id }, `release ${id} was approved before releases were fixed at approval, so what it would write is not known: ask for a new release`, rec);
    }
    const reason = opts.reason?.trim();
    if (rec.exportCount > 0) {
      const before = `release ${id} was exported already (${rec.exportCount} time(s), first by ${rec.exportedBy ?? '?'} at ${new Date(rec.exportedAt ?? 0).toISOString()})`;
      if (!admin) this.refuse(who, 'release-export', { release: id, repeat: true }, `${before}: a further export needs an admin, with a reason`, rec);
      if (!reason || reason.length < 5) this.refuse(who, 'release-export', { release: id, repeat: true }, `${before}: say why it is exported again (--reason "...")`, rec);
    }
    const frozen = JSON.parse(frozenText) as Frozen;
    let data: unknown[];
    if (rec.mode === 'full') {
      const reads = readsById(this.db, frozen.ids ?? []);
      data = reads.map(released);
      if (reads.length !== (frozen.ids ?? []).length || digestOf(data) !== rec.digest) {
        const gone = (frozen.ids ?? []).length - reads.length;
        this.refuse(
          who,
          'release-export',
          { release: id },
          `release ${id} no longer holds what was approved (${gone} of ${(frozen.ids ?? []).length} read(s) purged since, ${reads.filter((r) => r.deleted).length} deleted): nothing is written; ask for a new release`,
          rec,
        );
      }
    } else {
      data = frozen.cells ?? [];
      if (digestOf(data) !== rec.digest) this.refuse(who, 'release-export', { release: id }, `release ${id}: its stored cells do not match the approved digest: nothing is written`, rec);
    }

    // the record first, then the data: nothing leaves without its record
    const previous = { count: rec.exportCount, at: rec.exportedAt, by: rec.exportedBy };
    const exportNumber = previous.count + 1;
    const at = this.log.clock();
    const exportRecord = { user: who.user, agency: who.agency, role: who.role, action: 'release-export', purpose: rec.purpose, caseNumber: rec.caseNumber };
    const claimed = this.db
      .transaction(() => {
        const n = this.db
          .prepare('UPDATE releases SET export_count = ?, exported_at = coalesce(exported_at, ?), exported_by = coalesce(exported_by, ?) WHERE id = ? AND export_count = ?')
          .run(exportNumber, at, who.user, id, previous.count).changes;
        if (n === 0) return false;
        this.log.append({
          ...exportRecord,
          query: { release: id, ...(exportNumber > 1 ? { repeat: true, reason } : {}) },
          result:
            rec.mode === 'full'
              ? { count: data.length, mode: rec.mode, digest: rec.digest, export: exportNumber }
              : { cells: data.length, cellsSuppressed: rec.summary?.cellsSuppressed, mode: rec.mode, digest: rec.digest, export: exportNumber },
          outcome: 'ok',
        });
        return true;
      })
      .immediate();
    if (!claimed) this.refuse(who, 'release-export', { release: id }, `release ${id} was exported by someone else meanwhile`, rec);

    const files: string[] = [];
    const missing: Array<{ read: number; path: string }> = [];
    try {
      mkdirSync(outDir, { recursive: true, mode: 0o700 });
      if (rec.mode === 'full') {
        for (const img of frozen.images ?? []) {
          let bytes: Buffer;
          try {
            bytes = await readImage(img.path);
          } catch {
            missing.push(img); // evicted by the image budget since the approval
            continue;
          }
          const name = `${img.read}-${path.basename(img.path)}`;
          writeFileSync(path.join(outDir, name), bytes, { mode: 0o600 });
          files.push(name);
        }
      }
      const s = frozen.summary;
      const body = {
        release: {
          id: rec.id,
          mode: rec.mode,
          agency: rec.agency,
          requester: rec.requester,
          purpose: rec.purpose,
          caseNumber: rec.caseNumber,
          selector: { ...rec.selector, ...(rec.selector.from !== undefined ? { from: iso(rec.selector.from) } : {}), ...(rec.selector.to !== undefined ? { to: iso(rec.selector.to) } : {}) },
          requestedBy: rec.requestedBy,
          requestedAt: iso(rec.requestedAt),
          approvedBy: rec.approvedBy,
          approvedAt: iso(rec.approvedAt!),
        },
        export: { number: exportNumber, by: who.user, at: iso(at), ...(exportNumber > 1 ? { reason } : {}) },
        digest: { algorithm: 'sha256', of: 'JSON.stringify(data)', value: rec.digest },
        mode: rec.mode,
        ...(rec.mode === 'aggregate'
          ? {
              // counts of many vehicles only: no per-camera totals (they would give away the cells left out)
              aggregate: {
                cell: 'one camera on one UTC day',
                minVehiclesPerCell: s.minCount,
                cellsReleased: s.cells,
                cellsSuppressed: s.cellsSuppressed,
                note: `cells with fewer than ${s.minCount} distinct vehicles are left out`,
              },
            }
          : { approved: { reads: s.reads, from: s.from === null ? null : iso(s.from), to: s.to === null ? null : iso(s.to), cameras: s.cameras, images: s.images ?? 0 }, images: { written: files.length, missing } }),
        data,
      };
      writeFileSync(path.join(outDir, 'release.json'), `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 });
      files.push('release.json');
    } catch (err) {
      this.db
        .transaction(() => {
          if (previous.count === 0) {
            // nothing complete left: the requester may try again (what was written is in the record below)
            this.db.prepare('UPDATE releases SET export_count = ?, exported_at = ?, exported_by = ? WHERE id = ? AND export_count = ?').run(previous.count, previous.at, previous.by, id, exportNumber);
          }
          this.log.append({
            ...exportRecord,
            query: { release: id },
            result: { error: (err as Error).message, filesWritten: files, export: exportNumber },
            outcome: 'failed',
          });
        })
        .immediate();
      throw err;
    }
    this.db.transaction(() => {
      if (previous.count === 0) {
        this.db
          .prepare('UPDATE releases SET released = ? WHERE id = ?')
          .run(JSON.stringify(rec.mode === 'full' ? { ids: frozen.ids, images: files.length - 1, imagesMissing: missing.length, digest: rec.digest } : { cells: data.length, digest: rec.digest }), id);
      }
      if (missing.length > 0) {
        this.log.append({ ...exportRecord, query: { release: id }, result: { imagesMissing: missing, export: exportNumber }, outcome: 'ok' });
      }
    })();
    const reads = rec.mode === 'full' ? data.length : (data as AggregateCell[]).reduce((n, c) => n + c.reads, 0);
    return { reads, cells: rec.mode === 'full' ? null : data.length, files, digest: rec.digest!, exportNumber, imagesMissing: missing.length };
  }

  list(): ReleaseRecord[] {
    return (this.db.prepare('SELECT id FROM releases ORDER BY id').all() as Array<{ id: number }>).map((r) => this.get(r.id)!);
  }

  get(id: number): ReleaseRecord | undefined {
    const r = this.db.prepare('SELECT * FROM releases WHERE id = ?').get(id) as object | undefined;
    return r && RELEASE.toObject(r);
  }
}

const RELEASE = rowMap<ReleaseRecord>()(
  `id mode agency requester purpose case_number selector:json requested_by requested_at approved_by approved_at summary digest
   exported_at exported_by export_count released:json`,
  { summary: (r) => (r.frozen === null ? null : (JSON.parse(r.frozen as string) as Frozen).summary) },
);

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export type { Purpose };
export { MAX_FULL_RELEASE_READS, type AggregateCell, type ReleaseSummary };

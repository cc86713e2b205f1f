import type Database from 'better-sqlite3';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AccessLog } from './access-log.js';
import { DataAccess, type Purpose, type SearchQuery } from './data.js';
import { AccessDenied, type Principal } from './roles.js';

// The releases table is migration 4 (src/store/migrations.ts).


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
  exportedAt: number | null;
  released: unknown;
}

export class Releases {
  private readonly data: DataAccess;
  constructor(
    private readonly db: Database.Database,
    private readonly log: AccessLog,
  ) {
    this.data = new DataAccess(db, log);
  }

  request(who: Principal, r: ReleaseRequest): ReleaseRecord {
    this.data.authorize(who, 'reads.export', 'release-request', r);
    const p = this.data.purpose(who, { purpose: r.purpose, caseNumber: r.caseNumber }, 'release-request', r);
    if (r.agency.trim().length < 2 || r.requester.trim().length < 2) throw new AccessDenied('a release names the receiving agency and the person who asked');
    return this.db.transaction(() => {
      const id = Number(
        this.db
          .prepare(
            `INSERT INTO releases (mode, agency, requester, purpose, case_number, selector, requested_by, requested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(r.mode, r.agency.trim(), r.requester.trim(), p.purpose, p.caseNumber, JSON.stringify(r.selector), who.user, this.log.clock()).lastInsertRowid,
      );
      this.log.append({ user: who.user, agency: who.agency, role: who.role, action: 'release-request', purpose: p.purpose, caseNumber: p.caseNumber, query: { release: id, ...r }, outcome: 'ok' });
      return this.get(id)!;
    })();
  }

  approve(who: Principal, id: number): ReleaseRecord {
    this.data.authorize(who, 'releases.approve', 'release-approve', { release: id });
    const rec = this.get(id);
    if (!rec) throw new AccessDenied(`no release ${id}`);
    if (rec.requestedBy === who.user) {
      this.db.transaction(() =>
        this.log.append({ user: who.user, agency: who.agency, role: who.role, action: 'release-approve', query: { release: id }, result: { refused: 'requester may not approve' }, outcome: 'refused' }),
      )();
      throw new AccessDenied('a release must be approved by someone other than the user who requested it');
    }
    if (rec.approvedBy) throw new AccessDenied(`release ${id} is already approved by ${rec.approvedBy}`);
    this.db.transaction(() => {
      this.db.prepare('UPDATE releases SET approved_by = ?, approved_at = ? WHERE id = ?').run(who.user, this.log.clock(), id);
      this.log.append({ user: who.user, agency: who.agency, role: who.role, action: 'release-approve', purpose: rec.purpose, caseNumber: rec.caseNumber, query: { release: id }, outcome: 'ok' });
    })();
    return this.get(id)!;
  }

  /**
   * Writes an approved release to `outDir`: release.json (the record and the reads, or the counts) and, for a
   * full release, the images (through `readImage`, which decrypts them).
   */
  async export(who: Principal, id: number, outDir: string, readImage: (rel: string) => Promise<Buffer>): Promise<{ reads: number; files: string[] }> {
    this.data.authorize(who, 'reads.export', 'release-export', { release: id });
    const rec = this.get(id);
    if (!rec) throw new AccessDenied(`no release ${id}`);
    if (!rec.approvedBy) {
      this.db.transaction(() =>
        this.log.append({ user: who.user, agency: who.agency, role: who.role, action: 'release-export', query: { release: id }, result: { refused: 'not approved' }, outcome: 'refused' }),
      )();
      throw new AccessDenied(`release ${id} is not approved: nothing is released without an approval record`);
    }
    const reads = this.data.search(who, { purpose: rec.purpose, caseNumber: rec.caseNumber }, { ...rec.selector, limit: 10_000 });
    mkdirSync(outDir, { recursive: true, mode: 0o700 });
    const files: string[] = [];
    let released: unknown;
    if (rec.mode === 'aggregate') {
      // counts per day and camera: no plate text, no image, no position finer than the camera
      const counts = new Map<string, number>();
      for (const r of reads) {
        const key = `${new Date(r.firstSeen).toISOString().slice(0, 10)}|${r.cameraId}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      released = [...counts.entries()].map(([k, n]) => ({ day: k.split('|')[0], camera: k.split('|')[1], reads: n }));
    } else {
      for (const r of reads) {
        for (const rel of [r.cropPath, r.framePath]) {
          if (!rel) continue;
          const name = `${r.id}-${path.basename(rel)}`;
          writeFileSync(path.join(outDir, name), await readImage(rel), { mode: 0o600 });
          files.push(name);
        }
      }
      released = reads.map((r) => ({ ...r, cropPath: undefined, framePath: undefined }));
    }
    const out = path.join(outDir, 'release.json');
    writeFileSync(out, JSON.stringify({ release: { ...rec, released: undefined }, mode: rec.mode, data: released }, null, 2), { mode: 0o600 });
    files.push('release.json');
    this.db.transaction(() => {
      this.db
        .prepare('UPDATE releases SET exported_at = ?, released = ? WHERE id = ?')
        .run(this.log.clock(), JSON.stringify(rec.mode === 'full' ? { ids: reads.map((r) => r.id), images: files.length - 1 } : { counts: released }), id);
      this.log.append({ user: who.user, agency: who.agency, role: who.role, action: 'release-export', purpose: rec.purpose, caseNumber: rec.caseNumber, query: { release: id }, result: { count: reads.length, mode: rec.mode }, outcome: 'ok' });
    })();
    return { reads: reads.length, files };
  }

  list(): ReleaseRecord[] {
    return (this.db.prepare('SELECT id FROM releases ORDER BY id').all() as Array<{ id: number }>).map((r) => this.get(r.id)!);
  }

  get(id: number): ReleaseRecord | undefined {
    const r = this.db.prepare('SELECT * FROM releases WHERE id = ?').get(id) as
      | { id: number; mode: 'full' | 'aggregate'; agency: string; requester: string; purpose: string; case_number: string; selector: string; requested_by: string; requested_at: number; approved_by: string | null; approved_at: number | null; exported_at: number | null; released: string | null }
      | undefined;
    if (!r) return undefined;
    return {
      id: r.id,
      mode: r.mode,
      agency: r.agency,
      requester: r.requester,
      purpose: r.purpose,
      caseNumber: r.case_number,
      selector: JSON.parse(r.selector) as SearchQuery,
      requestedBy: r.requested_by,
      requestedAt: r.requested_at,
      approvedBy: r.approved_by,
      approvedAt: r.approved_at,
      exportedAt: r.exported_at,
      released: r.released === null ? null : JSON.parse(r.released),
    };
  }
}

export type { Purpose };

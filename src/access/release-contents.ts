import type Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { eachRead, type ReadSummary, type SearchQuery } from './data.js';

/** What a release holds (src/access/releases.ts): computed from the store at approval, fixed, checked at export. */

/** The most reads one full release may hold (as many as one search returns). */
export const MAX_FULL_RELEASE_READS = 10_000;

/** What the approver sees and approves. */
export interface ReleaseSummary {
  /** reads in the set (aggregate: in every cell, the ones left out too) */
  reads: number;
  /** distinct plates among them */
  vehicles: number;
  /** first and last time seen (ms since the epoch, UTC) of the reads in the set; null when there is none */
  from: number | null;
  to: number | null;
  /** reads per camera */
  cameras: Record<string, number>;
  /** reads stored after this read id (after the approval) are not part of it */
  upToReadId: number;
  /** full: the images (plate crops and frames) that go with the reads */
  images?: number;
  /** aggregate: the cells released, the cells left out, and the threshold */
  cells?: number;
  cellsSuppressed?: number;
  minCount?: number;
}

export interface AggregateCell {
  day: string;
  camera: string;
  reads: number;
  vehicles: number;
}

/** The contents fixed at approval. */
export interface Frozen {
  summary: ReleaseSummary;
  /** full: the reads, by id */
  ids?: number[];
  /** full: their images (read id and stored path) */
  images?: Array<{ read: number; path: string }>;
  /** aggregate: the cells released */
  cells?: AggregateCell[];
}

/** A release's contents as computed from the store: what an approval fixes. */
export interface Contents {
  frozen: Frozen;
  data: unknown[];
  digest: string;
}

/** The contents an approval now would fix: read on one snapshot, without the write lock. */
export function releaseContents(
  db: Database.Database,
  rec: { mode: 'full' | 'aggregate'; selector: SearchQuery },
  minCellCount: number,
  upToReadId?: number,
): Contents {
  return db
    .transaction((): Contents => {
      const last = (db.prepare('SELECT coalesce(max(id), 0) AS n FROM reads').get() as { n: number }).n;
      const maxId = upToReadId === undefined ? last : Math.min(upToReadId, last);
      const summary: ReleaseSummary = { reads: 0, vehicles: 0, from: null, to: null, cameras: {}, upToReadId: maxId };
      const plates = new Set<string>();
      const see = (r: ReadSummary) => {
        summary.reads++;
        plates.add(r.plate);
        summary.from = summary.from === null ? r.firstSeen : Math.min(summary.from, r.firstSeen);
        summary.to = summary.to === null ? r.firstSeen : Math.max(summary.to, r.firstSeen);
        summary.cameras[r.cameraId] = (summary.cameras[r.cameraId] ?? 0) + 1;
      };
      if (rec.mode === 'full') {
        const reads: ReadSummary[] = [];
        // one more than allowed, to tell "too many"
        eachRead(db, rec.selector, { maxId, limit: MAX_FULL_RELEASE_READS + 1 }, (r) => {
          see(r);
          reads.push(r);
        });
        summary.vehicles = plates.size;
        const images = reads.flatMap((r) => [r.cropPath, r.framePath].filter((p): p is string => p !== null).map((p) => ({ read: r.id, path: p })));
        summary.images = images.length;
        const data = reads.map(released);
        return { frozen: { summary, ids: reads.map((r) => r.id), images }, data, digest: digestOf(data) };
      }
      const cells = new Map<string, { day: string; camera: string; reads: number; plates: Set<string> }>();
      eachRead(db, rec.selector, { maxId }, (r) => {
        see(r);
        const day = new Date(r.firstSeen).toISOString().slice(0, 10);
        const key = `${day}\u0000${r.cameraId}`;
        let c = cells.get(key);
        if (!c) cells.set(key, (c = { day, camera: r.cameraId, reads: 0, plates: new Set() }));
        c.reads++;
        c.plates.add(r.plate);
      });
      summary.vehicles = plates.size;
      const kept: AggregateCell[] = [...cells.values()]
        .filter((c) => c.plates.size >= minCellCount)
        .sort((a, b) => (a.day === b.day ? (a.camera < b.camera ? -1 : 1) : a.day < b.day ? -1 : 1))
        .map((c) => ({ day: c.day, camera: c.camera, reads: c.reads, vehicles: c.plates.size }));
      summary.cells = kept.length;
      summary.cellsSuppressed = cells.size - kept.length;
      summary.minCount = minCellCount;
      return { frozen: { summary, cells: kept }, data: kept, digest: digestOf(kept) };
    })
    .deferred();
}

/** A read as it leaves in a full release: without the unit's image paths (the images go as files). */
export function released(r: ReadSummary): Omit<ReadSummary, 'cropPath' | 'framePath'> {
  const { cropPath: _c, framePath: _f, ...rest } = r;
  return rest;
}

export function digestOf(data: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(data)).digest('hex');
}

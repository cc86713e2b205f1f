import type Database from 'better-sqlite3';
import type { Clock } from '../util/clock.js';
import type { Hit } from './matcher.js';
import type { HotlistMatching } from './matching.js';
import { toStoredHit, type HitRow } from './rows.js';
import type { HitHistoryQuery, HitSummary, StoredHit } from './types.js';

/**
 * The hits of stored reads (`hotlist_hits`): recorded once per read, list and plate, whatever number of times the
 * read is matched again; read back per read, and as a history for the people who review them.
 */
export class HotlistHits {
  constructor(
    private readonly db: Database.Database,
    private readonly clock: Clock,
    private readonly matching: HotlistMatching,
  ) {}

  /** Records the hits of a stored read; returns those not recorded before (the ones to alert on). */
  record(readId: number, hits: readonly Hit[]): StoredHit[] {
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
    this.matching.ensureLoaded();
    const rows = this.db
      .prepare('SELECT id, plate, candidates, state, state_confidence FROM reads WHERE first_seen >= ? ORDER BY id')
      .all(sinceMs) as Array<{ id: number; plate: string; candidates: string; state: string | null; state_confidence: number | null }>;
    const out: StoredHit[] = [];
    for (const r of rows) {
      const state = r.state === null ? null : { code: r.state, confidence: r.state_confidence ?? 0 };
      const hits = this.matching.match({ plate: r.plate, candidates: JSON.parse(r.candidates) as Array<{ text: string }>, state });
      if (hits.length > 0) out.push(...this.record(r.id, hits));
    }
    return out;
  }

  /** The hits recorded for a read. */
  of(readId: number): StoredHit[] {
    const rows = this.db.prepare('SELECT * FROM hotlist_hits WHERE read_id = ? ORDER BY priority, id').all(readId) as HitRow[];
    return rows.map(toStoredHit);
  }
}

/**
 * The history of hits, newest first, with the read each was of and what the officer answered to its alert
 * (reads deleted since are left out). The caller checks who may see it and records that they did.
 */
export function findHits(db: Database.Database, q: HitHistoryQuery): HitSummary[] {
  const conditions: Array<[sql: string, value: unknown]> = [];
  if (q.plate) conditions.push(['r.plate GLOB ?', q.plate.toUpperCase().replace(/[\s-]/g, '')]);
  if (q.list) conditions.push(['h.list_name = ?', q.list]);
  if (q.from !== undefined) conditions.push(['r.first_seen >= ?', q.from]);
  if (q.to !== undefined) conditions.push(['r.first_seen < ?', q.to]);
  const where = ['r.deleted_at IS NULL', ...conditions.map(([sql]) => sql)];
  const params = conditions.map(([, value]) => value);
  const rows = db
    .prepare(
      `SELECT h.id AS hit_id, r.id AS read_id, r.plate, r.first_seen, r.camera_id, h.list_name, h.category, h.priority, h.how,
              h.entry_plate, h.case_number, a.id AS alert_id, a.suppressed, a.ack_accepted, a.ack_by
       FROM hotlist_hits h JOIN reads r ON r.id = h.read_id LEFT JOIN alerts a ON a.hit_id = h.id
       WHERE ${where.join(' AND ')} ORDER BY r.first_seen DESC LIMIT ?`,
    )
    .all(...params, Math.min(10_000, q.limit ?? 1000)) as HistoryRow[];
  return rows.map((r) => ({
    hitId: r.hit_id,
    readId: r.read_id,
    plate: r.plate,
    seenAt: r.first_seen,
    cameraId: r.camera_id,
    list: r.list_name,
    category: r.category,
    priority: r.priority,
    how: r.how,
    entryPlate: r.entry_plate,
    caseNumber: r.case_number ?? null,
    alert: r.alert_id
      ? { id: r.alert_id, suppressed: r.suppressed ?? null, ackAccepted: r.ack_accepted === null ? null : r.ack_accepted === 1, ackBy: r.ack_by ?? null }
      : null,
  }));
}

interface HistoryRow {
  hit_id: number;
  read_id: number;
  plate: string;
  first_seen: number;
  camera_id: string;
  list_name: string;
  category: string;
  priority: number;
  how: string;
  entry_plate: string;
  case_number: string | null;
  alert_id: string | null;
  suppressed: string | null;
  ack_accepted: number | null;
  ack_by: string | null;
}

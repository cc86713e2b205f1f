import type Database from 'better-sqlite3';
import { AccessDenied, can, type Permission, type Principal } from './roles.js';
import { checkPurpose, type AccessEntry, type AccessLog } from './access-log.js';
import { findHits, type HitHistoryQuery, type HitSummary } from '../hotlist/index.js';
import { rowMap } from '../util/rows.js';

/**
 * The only ways to stored reads for a person: search, show one read, its images. Each checks the principal's
 * permission, requires a specific purpose with a case number, and writes the access log in the same transaction
 * as the read of the data (P1, P2, P3). A refusal is logged too.
 */

export interface Purpose {
  purpose?: string;
  caseNumber?: string;
}

export interface SearchQuery {
  /** A plate, or a partial plate: `?` one character, `*` any run. */
  plate?: string;
  from?: number;
  to?: number;
  cameraId?: string;
  /** Reads within radiusM metres of a point (reads with a valid position only). */
  near?: { latitude: number; longitude: number; radiusM: number };
  /** Also logically deleted reads (administrators, with a stated reason). */
  includeDeleted?: { reason: string };
  limit?: number;
}

export interface ReadSummary {
  id: number;
  uuid: string;
  plate: string;
  confidence: number;
  cameraId: string;
  unitId: string;
  firstSeen: number;
  lastSeen: number;
  frameCount: number;
  latitude: number | null;
  longitude: number | null;
  positionValid: boolean;
  deleted: boolean;
  cropPath: string | null;
  framePath: string | null;
}

export class DataAccess {
  constructor(
    private readonly db: Database.Database,
    private readonly log: AccessLog,
  ) {}

  /** Refuses (and logs the refusal) unless the principal's role has the permission. */
  authorize(who: Principal, permission: Permission, action: string, query?: unknown): void {
    if (can(who.role, permission)) return;
    this.db.transaction(() =>
      this.log.append({ user: who.user, agency: who.agency, role: who.role, action, query, result: { refused: `role ${who.role} lacks ${permission}` }, outcome: 'refused' }),
    )();
    throw new AccessDenied(`role ${who.role} may not ${DESCRIBE[permission]}`);
  }

  /** Checks the purpose; a refusal is logged. */
  purpose(who: Principal, p: Purpose, action: string, query?: unknown): { purpose: string; caseNumber: string } {
    try {
      return checkPurpose(p.purpose, p.caseNumber);
    } catch (err) {
      this.db.transaction(() =>
        this.log.append({ user: who.user, agency: who.agency, role: who.role, action, purpose: p.purpose ?? null, caseNumber: p.caseNumber ?? null, query, result: { refused: (err as Error).message }, outcome: 'refused' }),
      )();
      throw err;
    }
  }

  search(who: Principal, p: Purpose, q: SearchQuery): ReadSummary[] {
    const query = { ...q };
    this.authorize(who, 'reads.search', 'search', query);
    if (q.includeDeleted) {
      this.authorize(who, 'reads.deleted', 'search-deleted', query);
      if (q.includeDeleted.reason.trim().length < 5) throw new AccessDenied('seeing deleted reads needs a stated reason (--reason "...")');
    }
    const { purpose, caseNumber } = this.purpose(who, p, 'search', query);
    const { where, params } = whereOf(q);
    const limit = Math.min(10_000, q.limit ?? 1000);
    return readThenLog(
      this.db,
      this.log,
      () => {
        let rows = this.db
          .prepare(`${SELECT} WHERE ${where.join(' AND ')} ORDER BY r.first_seen DESC LIMIT ?`)
          .all(...params, limit) as Row[];
        if (q.near) rows = rows.filter((r) => metres(q.near!.latitude, q.near!.longitude, r.latitude!, r.longitude!) <= q.near!.radiusM);
        return rows.map(toSummary);
      },
      (found) => ({
        user: who.user,
        agency: who.agency,
        role: who.role,
        action: q.includeDeleted ? 'search-deleted' : 'search',
        purpose,
        caseNumber,
        query: q.includeDeleted ? { ...query, reason: q.includeDeleted.reason } : query,
        result: { count: found.length, ids: found.map((r) => r.id) },
        outcome: 'ok',
      }),
    );
  }

  /** One read; with `images`, its image references too (reading the files is the caller's, under 'reads.images'). */
  show(who: Principal, p: Purpose, id: number, opts: { images?: boolean } = {}): ReadSummary {
    this.authorize(who, 'reads.search', 'show', { id });
    if (opts.images) this.authorize(who, 'reads.images', 'image', { id });
    const { purpose, caseNumber } = this.purpose(who, p, opts.images ? 'image' : 'show', { id });
    return this.db.transaction(() => {
      const row = this.db.prepare(`${SELECT} WHERE r.id = ?`).get(id) as Row | undefined;
      const visible = row && (!row.deleted_at || can(who.role, 'reads.deleted'));
      this.log.append({
        user: who.user,
        agency: who.agency,
        role: who.role,
        action: opts.images ? 'image' : 'show',
        purpose,
        caseNumber,
        query: { id },
        result: visible ? { count: 1, ids: [id], images: opts.images ? [row.crop_path, row.frame_path].filter(Boolean) : [] } : { count: 0 },
        outcome: 'ok',
      });
      if (!visible) throw new AccessDenied(`no read ${id}`);
      return toSummary(row);
    })();
  }
}

/** The SQL conditions of a search; a plate of other characters, or no condition at all, is refused. */
function whereOf(q: SearchQuery): { where: string[]; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (condition: string, ...values: unknown[]) => {
    where.push(condition);
    params.push(...values);
  };
  if (!q.includeDeleted) add('r.deleted_at IS NULL');
  if (q.plate) {
    const pattern = q.plate.toUpperCase().replace(/[\s-]/g, '');
    if (!/^[A-Z0-9?*]{2,10}$/.test(pattern)) throw new AccessDenied(`plate ${JSON.stringify(q.plate)}: letters, digits, ? and * only`);
    add('r.plate GLOB ?', pattern);
  }
  if (q.from !== undefined) add('r.first_seen >= ?', q.from);
  if (q.to !== undefined) add('r.first_seen < ?', q.to);
  if (q.cameraId) add('r.camera_id = ?', q.cameraId);
  if (q.near) {
    const { latitude, longitude, radiusM } = q.near;
    // a bounding box in SQL, then the exact distance below
    const dLat = radiusM / 111_320;
    const dLon = radiusM / (111_320 * Math.max(0.01, Math.cos((latitude * Math.PI) / 180)));
    add('r.position_valid = 1 AND r.latitude BETWEEN ? AND ? AND r.longitude BETWEEN ? AND ?', latitude - dLat, latitude + dLat, longitude - dLon, longitude + dLon);
  }
  if (where.length === 0) throw new AccessDenied('a search needs at least one condition (plate, time range, camera or place)');
  return { where, params };
}

/** Checks a search's conditions without running it (a release request is checked when it is made). */
export function checkQuery(q: SearchQuery): void {
  whereOf(q);
}

/**
 * Calls `fn` with each read a search selects, in id order, with no access check and no record: for a caller that
 * checks and records itself (a release's approval). `maxId`: only reads stored up to then; `limit`: at most this
 * many (the caller asks one more than it accepts, to tell "too many"). Rows are read one at a time.
 */
export function eachRead(db: Database.Database, q: SearchQuery, opts: { maxId?: number; limit?: number }, fn: (r: ReadSummary) => void): void {
  const { where, params } = whereOf(q);
  if (opts.maxId !== undefined) {
    where.push('r.id <= ?');
    params.push(opts.maxId);
  }
  let n = 0;
  for (const row of db.prepare(`${SELECT} WHERE ${where.join(' AND ')} ORDER BY r.id`).iterate(...params) as IterableIterator<Row>) {
    if (q.near && metres(q.near.latitude, q.near.longitude, row.latitude!, row.longitude!) > q.near.radiusM) continue;
    fn(toSummary(row));
    if (opts.limit !== undefined && ++n >= opts.limit) break;
  }
}

/** Reads by id, deleted ones included, in the order given; ids no longer stored are missing from the result. */
export function readsById(db: Database.Database, ids: readonly number[]): ReadSummary[] {
  const get = db.prepare(`${SELECT} WHERE r.id = ?`);
  const out: ReadSummary[] = [];
  for (const id of ids) {
    const row = get.get(id) as Row | undefined;
    if (row) out.push(toSummary(row));
  }
  return out;
}

export type { HitSummary } from '../hotlist/index.js';

/** The history of hot list hits (and what the officer answered), for data users with a purpose. */
export function hitHistory(db: Database.Database, log: AccessLog, who: Principal, p: Purpose, q: HitHistoryQuery): HitSummary[] {
  const data = new DataAccess(db, log);
  data.authorize(who, 'hits.history', 'hits', q);
  const { purpose, caseNumber } = data.purpose(who, p, 'hits', q);
  return readThenLog(db, log, () => findHits(db, q), (hits) => ({
    user: who.user,
    agency: who.agency,
    role: who.role,
    action: 'hits',
    purpose,
    caseNumber,
    query: q,
    result: { count: hits.length, ids: hits.map((h) => h.hitId) },
    outcome: 'ok',
  }));
}

/**
 * A read of stored data and its access-log record. The read runs on one snapshot without the write lock (a
 * partial-plate search of a million reads takes about 2 s, and the running unit must go on storing reads
 * meanwhile); the record, with what came back, is appended right after in a short transaction of its own, and
 * the data is handed out only once that has committed: nothing leaves without its record.
 */
function readThenLog<T>(db: Database.Database, log: AccessLog, read: () => T, record: (result: T) => AccessEntry): T {
  const result = db.transaction(read).deferred();
  log.append(record(result));
  return result;
}

const DESCRIBE: Record<Permission, string> = {
  'reads.search': 'search or view stored reads',
  'reads.images': 'view read images',
  'reads.export': 'export reads',
  'reads.deleted': 'see deleted reads',
  'hits.history': 'see the history of hot list hits',
  'hotlist.edit': 'change hot lists',
  'alerts.ack': 'acknowledge alerts',
  'users.manage': 'manage users',
  'holds.manage': 'place or release holds',
  'releases.approve': 'approve releases',
  'unit.operate': 'operate the unit',
  'audit.read': 'read the access log',
};

const SELECT = `
  SELECT r.*,
    (SELECT path FROM images WHERE read_id = r.id AND kind = 'crop' AND evicted_at IS NULL ORDER BY id DESC LIMIT 1) AS crop_path,
    (SELECT path FROM images WHERE read_id = r.id AND kind = 'frame' AND evicted_at IS NULL ORDER BY id DESC LIMIT 1) AS frame_path
  FROM reads r`;

/** A row of SELECT: the columns of `reads` and its current image paths (the others are read by SUMMARY). */
interface Row {
  latitude: number | null;
  longitude: number | null;
  deleted_at: number | null;
  crop_path: string | null;
  frame_path: string | null;
}

const SUMMARY = rowMap<ReadSummary>()(
  `id uuid plate confidence camera_id unit_id first_seen last_seen frame_count latitude longitude position_valid:bool
   deleted=deleted_at:nonnull crop_path frame_path`,
);
const toSummary = (r: Row): ReadSummary => SUMMARY.toObject(r);

/** Great-circle distance in metres. */
function metres(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const a = Math.sin(((lat2 - lat1) * rad) / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(((lon2 - lon1) * rad) / 2) ** 2;
  return 2 * 6_371_000 * Math.asin(Math.sqrt(a));
}

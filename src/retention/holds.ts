import type Database from 'better-sqlite3';
import { rowMap } from '../util/rows.js';

/**
 * Evidence holds (P8): an administrator keeps the reads of a case past retention, with the case number, the reason,
 * the investigator to contact and a date by which the hold must be re-verified (LAPD: every two years). A held
 * read is exempt from both stages of the purge until every hold covering it is released.
 *
 * The reads a hold covers are fixed when it is placed (`hold_reads`): a hold by plate or time range covers the
 * matching reads that exist then, not reads made later — a hold is on existing evidence. A read already logically
 * deleted may be held: it stays hidden from data users but is no longer deleted for good.
 */

export interface Actor {
  user: string;
  role: string;
}

/** Which reads a hold covers. At least one of readIds, plate, from/to; cameraId only narrows. */
export interface HoldSelector {
  readIds?: number[];
  /** Plate as read (case, spaces and dashes ignored); `*` any run of characters, `?` one character. */
  plate?: string;
  /** First-seen time range, ms since the epoch, inclusive. */
  from?: number;
  to?: number;
  cameraId?: string;
}

export interface HoldDetails {
  caseNumber: string;
  reason: string;
  contact: string;
  /** When the hold must be re-verified; default: two years after it is placed. */
  reviewAt?: number;
}

export interface Hold {
  id: number;
  caseNumber: string;
  reason: string;
  contact: string;
  selector: HoldSelector;
  placedBy: string;
  placedAt: number;
  reviewAt: number;
  reviewedAt: number | null;
  reviewedBy: string | null;
  releasedAt: number | null;
  releasedBy: string | null;
  releaseReason: string | null;
  reads: number;
}

/** LAPD: the investigator confirms every two years that held data is still needed. */
export const DEFAULT_REVIEW_MS = 730 * 86_400_000;

/** Only an administrator may place, review or release a hold. */
export class HoldAccessError extends Error {
  override name = 'HoldAccessError';
}

/** A hold request that cannot be accepted as given (what is wrong and what is needed). */
export class HoldError extends Error {
  override name = 'HoldError';
}

function requireAdmin(actor: Actor, what: string): void {
  if (actor.role !== 'admin') {
    throw new HoldAccessError(`${what} is for administrators: ${actor.user} has the role ${actor.role || '(none)'}`);
  }
}

/** A case or incident number, not a bare word such as "investigation": it must contain a digit. */
function checkCaseNumber(caseNumber: string): string {
  const c = caseNumber.trim();
  if (!/\d/.test(c)) {
    throw new HoldError(`a hold needs a case or DR number (with at least one digit), not "${c}"`);
  }
  return c;
}

function required(value: string, name: string): string {
  const v = value.trim();
  if (!v) throw new HoldError(`a hold needs a ${name}`);
  return v;
}

/** Plate pattern as a GLOB over the stored (normalised, upper-case) plate. */
function plateGlob(plate: string): string {
  const p = plate.toUpperCase().replace(/[\s-]/g, '');
  if (!/^[A-Z0-9*?]+$/.test(p) || !/[A-Z0-9]/.test(p)) {
    throw new HoldError(`plate "${plate}": letters and digits, with * and ? as wildcards`);
  }
  return p;
}

/** Places a hold on the reads the selector matches now. Returns the hold with the number of reads it covers. */
export function placeHold(db: Database.Database, actor: Actor, selector: HoldSelector, details: HoldDetails, now: number): Hold {
  requireAdmin(actor, 'placing an evidence hold');
  const caseNumber = checkCaseNumber(details.caseNumber);
  const reason = required(details.reason, 'reason');
  const contact = required(details.contact, 'contact (the investigator to ask at review)');
  const reviewAt = details.reviewAt ?? now + DEFAULT_REVIEW_MS;
  if (!(reviewAt > now)) throw new HoldError('the review date of a hold must be in the future');
  const hasIds = (selector.readIds?.length ?? 0) > 0;
  if (!hasIds && selector.plate === undefined && selector.from === undefined && selector.to === undefined) {
    throw new HoldError('a hold must name reads: by id, by plate, or by time range');
  }
  const where: string[] = [];
  const args: unknown[] = [];
  const add = (condition: string, value: unknown) => {
    where.push(condition);
    args.push(value);
  };
  if (hasIds) add('id IN (SELECT value FROM json_each(?))', JSON.stringify(selector.readIds));
  if (selector.plate !== undefined) add('plate GLOB ?', plateGlob(selector.plate));
  if (selector.from !== undefined) add('first_seen >= ?', selector.from);
  if (selector.to !== undefined) add('first_seen <= ?', selector.to);
  if (selector.cameraId !== undefined) add('camera_id = ?', selector.cameraId);
  return db.transaction(() => {
    const reads = db.prepare(`SELECT id, uuid FROM reads WHERE ${where.join(' AND ')}`).all(...args) as Array<{ id: number; uuid: string }>;
    if (reads.length === 0) throw new HoldError('no stored read matches this hold (a hold covers existing reads only)');
    if (hasIds && selector.plate === undefined && selector.from === undefined && selector.to === undefined && reads.length < selector.readIds!.length) {
      const found = new Set(reads.map((r) => r.id));
      const missing = selector.readIds!.filter((id) => !found.has(id));
      throw new HoldError(`no read with id ${missing.slice(0, 10).join(', ')}`);
    }
    const id = Number(
      db
        .prepare(
          `INSERT INTO holds (case_number, reason, contact, selector, placed_by, placed_at, review_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(caseNumber, reason, contact, JSON.stringify(selector), actor.user, now, reviewAt).lastInsertRowid,
    );
    const add = db.prepare('INSERT INTO hold_reads (hold_id, read_id, read_uuid) VALUES (?, ?, ?)');
    for (const r of reads) add.run(id, r.id, r.uuid);
    return getHold(db, id)!;
  })();
}

/** Releases a hold: its reads become subject to retention again (unless another open hold covers them). */
export function releaseHold(db: Database.Database, actor: Actor, holdId: number, reason: string, now: number): Hold {
  requireAdmin(actor, 'releasing an evidence hold');
  const why = required(reason, 'reason for the release');
  const info = db
    .prepare('UPDATE holds SET released_at = ?, released_by = ?, release_reason = ? WHERE id = ? AND released_at IS NULL')
    .run(now, actor.user, why, holdId);
  if (info.changes === 0) {
    throw new HoldError(getHold(db, holdId) ? `hold ${holdId} is already released` : `no hold with id ${holdId}`);
  }
  return getHold(db, holdId)!;
}

/** Records that the investigator confirmed the data is still needed, and sets the next review date. */
export function reviewHold(db: Database.Database, actor: Actor, holdId: number, nextReviewAt: number, now: number): Hold {
  requireAdmin(actor, 'reviewing an evidence hold');
  if (!(nextReviewAt > now)) throw new HoldError('the next review date must be in the future');
  const info = db
    .prepare('UPDATE holds SET reviewed_at = ?, reviewed_by = ?, review_at = ? WHERE id = ? AND released_at IS NULL')
    .run(now, actor.user, nextReviewAt, holdId);
  if (info.changes === 0) throw new HoldError(`no open hold with id ${holdId}`);
  return getHold(db, holdId)!;
}

const HOLD_SELECT = `SELECT h.*, (SELECT count(*) FROM hold_reads WHERE hold_id = h.id) AS reads FROM holds h`;

const HOLD = rowMap<Hold>()(
  `id case_number reason contact selector:json placed_by placed_at review_at reviewed_at reviewed_by released_at released_by
   release_reason reads`,
);

export function getHold(db: Database.Database, holdId: number): Hold | undefined {
  const row = db.prepare(`${HOLD_SELECT} WHERE h.id = ?`).get(holdId) as object | undefined;
  return row && HOLD.toObject(row);
}

/**
 * Holds in the order placed. Default: open holds only. `overdueReview`: open holds whose review date has passed
 * (for the audit report); `includeReleased`: released ones too.
 */
export function listHolds(
  db: Database.Database,
  opts: { overdueReview?: boolean; includeReleased?: boolean; now: number },
): Hold[] {
  const where: string[] = [];
  const args: unknown[] = [];
  if (!opts.includeReleased || opts.overdueReview) where.push('h.released_at IS NULL');
  if (opts.overdueReview) {
    where.push('h.review_at <= ?');
    args.push(opts.now);
  }
  const rows = db
    .prepare(`${HOLD_SELECT}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY h.id`)
    .all(...args) as object[];
  return rows.map(HOLD.toObject);
}

/** Whether an open hold covers the read. */
export function isHeld(db: Database.Database, readId: number): boolean {
  return db.prepare(`SELECT 1 FROM hold_reads hr JOIN holds h ON h.id = hr.hold_id WHERE hr.read_id = ? AND h.released_at IS NULL LIMIT 1`).get(readId) !== undefined;
}

/** SQL condition true when an open hold covers the read `alias`.id (for queries over reads). */
export const HELD_SQL = (alias: string) =>
  `EXISTS (SELECT 1 FROM hold_reads hr JOIN holds h ON h.id = hr.hold_id WHERE hr.read_id = ${alias}.id AND h.released_at IS NULL)`;

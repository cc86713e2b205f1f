import type Database from 'better-sqlite3';
import type { AlertMessage } from '../alerts/types.js';
import type { ScreenAlert } from './web/api-types.js';

export type { ScreenAlert } from './web/api-types.js';

interface AlertRow {
  id: string;
  seq: number;
  read_id: number;
  payload: string;
  ack_at: number | null;
  ack_accepted: number | null;
  ack_reason: string | null;
  ack_by: string | null;
  ack_channel: string | null;
  case_number: string | null;
  crop: number;
  frame: number;
}

const SELECT = `
  SELECT a.id, a.seq, a.read_id, a.payload, a.ack_at, a.ack_accepted, a.ack_reason, a.ack_by, a.ack_channel, h.case_number,
    EXISTS (SELECT 1 FROM images WHERE read_id = a.read_id AND kind = 'crop' AND evicted_at IS NULL) AS crop,
    EXISTS (SELECT 1 FROM images WHERE read_id = a.read_id AND kind = 'frame' AND evicted_at IS NULL) AS frame
  FROM alerts a LEFT JOIN hotlist_hits h ON h.id = a.hit_id`;

function toScreen(r: AlertRow): ScreenAlert {
  const a = JSON.parse(r.payload) as AlertMessage;
  return {
    id: a.id,
    seq: a.seq,
    raisedAt: a.raisedAt,
    seenAt: a.seenAt,
    plate: a.plate,
    plateState: a.plateState?.code ?? null,
    confidence: a.confidence,
    cameraId: a.cameraId,
    latitude: a.latitude,
    longitude: a.longitude,
    positionValid: a.positionValid,
    list: a.hit.list,
    category: a.hit.category,
    priority: a.hit.priority,
    matchKind: a.hit.matchKind,
    entryPlate: a.hit.entryPlate,
    entryState: a.hit.entryState ?? null,
    stateMismatch: a.hit.stateMismatch === true,
    caseNumber: r.case_number ?? null,
    notice: a.notice,
    images: { crop: r.crop === 1, frame: r.frame === 1 },
    answer:
      r.ack_at === null
        ? null
        : { at: r.ack_at, accepted: r.ack_accepted === 1, reason: r.ack_reason, by: r.ack_by, channel: r.ack_channel },
  };
}

/** Alerts sent to terminals (never a covert, duplicate or capped one) not yet answered, raised since `since`. */
export function openAlerts(db: Database.Database, since: number, limit = 200): ScreenAlert[] {
  const rows = db
    .prepare(`${SELECT} WHERE a.suppressed IS NULL AND a.ack_at IS NULL AND a.raised_at >= ? ORDER BY a.priority, a.seq DESC LIMIT ?`)
    .all(since, limit) as AlertRow[];
  return rows.map(toScreen);
}

/** One alert as the screen sees it; undefined for an unknown or suppressed one (an officer never sees those). */
export function screenAlert(db: Database.Database, id: string): (ScreenAlert & { readId: number }) | undefined {
  const row = db.prepare(`${SELECT} WHERE a.id = ? AND a.suppressed IS NULL`).get(id) as AlertRow | undefined;
  return row && { ...toScreen(row), readId: row.read_id };
}

/** Alerts raised after `seq` that were sent to terminals (catching up after a reconnect), oldest first. */
export function alertsAfter(db: Database.Database, seq: number, limit = 200): ScreenAlert[] {
  const rows = db.prepare(`${SELECT} WHERE a.seq > ? AND a.suppressed IS NULL ORDER BY a.seq LIMIT ?`).all(seq, limit) as AlertRow[];
  return rows.map(toScreen);
}

export function lastSeq(db: Database.Database): number {
  return (db.prepare('SELECT coalesce(max(seq), 0) AS s FROM alerts').get() as { s: number }).s;
}

/** An officer's reason code: what the serial and MQTT terminals may send (printable, at most 64 characters). */
export function reasonProblem(reason: unknown): string | null {
  if (reason === undefined || reason === null || reason === '') return null;
  if (typeof reason !== 'string') return 'the reason must be text';
  if (reason.length > 64) return 'the reason is at most 64 characters';
  if (!/^[\x20-\x7e]+$/.test(reason)) return 'the reason may hold printable ASCII characters only';
  return null;
}

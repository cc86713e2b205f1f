import type Database from 'better-sqlite3';
import { accessRecordOf, type AccessLogRow } from '../access/access-log.js';
import type { ReadRow as StoreReadRow } from '../store/read-store.js';

/**
 * What leaves the unit for the central server, as streams of items, each in a fixed order with a cursor: reads
 * (by change sequence: a read changed after it was sent comes again), hot list hits (covert ones too), alert
 * events (deliveries and the officers' answers), the access log, and the unit's faults. Push (push.ts) and pull
 * (pull-server.ts) both read them here, so both send the same items with the same ids. docs/sync-protocol.md.
 */

export const STREAMS = ['reads', 'hits', 'alert-events', 'access-log', 'faults'] as const;
export type StreamName = (typeof STREAMS)[number];

export function isStream(s: string): s is StreamName {
  return (STREAMS as readonly string[]).includes(s);
}

/** Every item has a key, unique for its unit and stream, and a revision: the server keeps the highest. */
export interface StreamItem {
  key: string;
  rev: number;
  [field: string]: unknown;
}

export interface ReadItem extends StreamItem {
  uuid: string;
  unitId: string;
  cameraId: string;
  plate: string;
  confidence: number;
  candidates: Array<{ text: string; confidence: number }>;
  region: string | null;
  /** The US state read on the plate (two-letter code) and its confidence (0-1), or null where none was legible. */
  state: string | null;
  stateConfidence: number | null;
  box: unknown;
  firstSeen: number;
  lastSeen: number;
  bestSeen: number;
  frameCount: number;
  clockSource: string;
  latitude: number | null;
  longitude: number | null;
  positionValid: boolean;
  positionSource: string;
  speedKmh: number | null;
  headingDeg: number | null;
  fixTime: number | null;
  closed: boolean;
  /** The images the read has on the unit now (they follow in the images step). */
  images: Array<{ kind: 'crop' | 'frame'; format: string }>;
}

export interface Page {
  items: StreamItem[];
  /** Cursor of each item, in order (sync_seq for reads, the row id for the others). */
  positions: number[];
  /** Cursor after the last item (the given cursor when there are none). */
  next: number;
}

const READ_COLUMNS = `r.id, r.sync_seq, r.uuid, r.unit_id, r.camera_id, r.plate, r.confidence, r.candidates, r.region, r.state, r.state_confidence, r.box,
  r.first_seen, r.last_seen, r.best_seen, r.frame_count, r.clock_source, r.latitude, r.longitude, r.position_valid,
  r.position_source, r.speed_kmh, r.heading_deg, r.fix_time, r.closed,
  (SELECT group_concat(i.kind || ':' || i.format) FROM images i WHERE i.read_id = r.id AND i.evicted_at IS NULL) AS images`;

/** The columns of the store's read rows that go upstream, with the change sequence and the images the read has. */
interface ReadRow extends Omit<StoreReadRow, 'sync_state' | 'crop_path' | 'frame_path'> {
  sync_seq: number;
  images: string | null;
}

function readItem(r: ReadRow): ReadItem {
  return {
    key: r.uuid,
    rev: r.sync_seq,
    uuid: r.uuid,
    unitId: r.unit_id,
    cameraId: r.camera_id,
    plate: r.plate,
    confidence: r.confidence,
    candidates: JSON.parse(r.candidates) as ReadItem['candidates'],
    region: r.region,
    state: r.state,
    stateConfidence: r.state_confidence,
    box: JSON.parse(r.box) as unknown,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    bestSeen: r.best_seen,
    frameCount: r.frame_count,
    clockSource: r.clock_source,
    latitude: r.latitude,
    longitude: r.longitude,
    positionValid: r.position_valid === 1,
    positionSource: r.position_source,
    speedKmh: r.speed_kmh,
    headingDeg: r.heading_deg,
    fixTime: r.fix_time,
    closed: r.closed === 1,
    images: (r.images ? r.images.split(',') : []).map((s) => {
      const [kind, format] = s.split(':');
      return { kind: kind as 'crop' | 'frame', format: format ?? 'jpeg' };
    }),
  };
}

const json = (s: string | null): unknown => (s === null ? null : (JSON.parse(s) as unknown));

/** Items of a stream after a cursor, in order. */
export function readPage(db: Database.Database, stream: StreamName, after: number, limit: number): Page {
  switch (stream) {
    case 'reads': {
      const rows = db
        .prepare(`SELECT ${READ_COLUMNS} FROM reads r WHERE r.sync_seq > ? ORDER BY r.sync_seq LIMIT ?`)
        .all(after, limit) as ReadRow[];
      return page(rows.map(readItem), rows.map((r) => r.sync_seq), after);
    }
    case 'hits': {
      const rows = db
        .prepare(
          `SELECT h.*, r.uuid AS read_uuid FROM hotlist_hits h LEFT JOIN reads r ON r.id = h.read_id
           WHERE h.sync_seq > ? ORDER BY h.sync_seq LIMIT ?`,
        )
        .all(after, limit) as Array<Record<string, unknown> & { id: number; sync_seq: number }>;
      return page(
        rows.map((h) => ({
          key: String(h.sync_seq),
          rev: 0,
          id: h.id,
          readUuid: h.read_uuid,
          list: h.list_name,
          entryPlate: h.entry_plate,
          entryState: h.entry_state,
          how: h.how,
          distance: h.distance,
          matchedText: h.matched_text,
          candidate: h.candidate,
          category: h.category,
          priority: h.priority,
          covert: h.covert === 1,
          code: h.code,
          reason: h.reason,
          caseNumber: h.case_number,
          createdAt: h.created_at,
        })),
        rows.map((h) => h.sync_seq),
        after,
      );
    }
    case 'alert-events': {
      const rows = db
        .prepare(
          `SELECT e.id, e.at, e.alert_id, e.channel, e.kind, e.detail, r.uuid AS read_uuid, a.priority, a.suppressed
           FROM alert_events e LEFT JOIN alerts a ON a.id = e.alert_id LEFT JOIN reads r ON r.id = a.read_id
           WHERE e.id > ? ORDER BY e.id LIMIT ?`,
        )
        .all(after, limit) as Array<{
        id: number;
        at: number;
        alert_id: string;
        channel: string | null;
        kind: string;
        detail: string | null;
        read_uuid: string | null;
        priority: number | null;
        suppressed: string | null;
      }>;
      return page(
        rows.map((e) => ({
          key: String(e.id),
          rev: 0,
          id: e.id,
          at: e.at,
          alertId: e.alert_id,
          readUuid: e.read_uuid,
          channel: e.channel,
          kind: e.kind,
          priority: e.priority,
          suppressed: e.suppressed,
          detail: json(e.detail),
        })),
        rows.map((e) => e.id),
        after,
      );
    }
    case 'access-log': {
      const rows = db.prepare('SELECT * FROM access_log WHERE id > ? ORDER BY id LIMIT ?').all(after, limit) as AccessLogRow[];
      return page(
        rows.map((a) => ({ key: String(a.id), rev: 0, ...accessRecordOf(a), prevMac: a.prev_mac, mac: a.mac })),
        rows.map((a) => a.id),
        after,
      );
    }
    case 'faults': {
      const rows = db.prepare('SELECT * FROM unit_faults WHERE id > ? ORDER BY id LIMIT ?').all(after, limit) as Array<{
        id: number;
        at: number;
        code: string;
        subject: string;
        state: string;
        message: string;
      }>;
      return page(
        rows.map((f) => ({ key: String(f.id), rev: 0, id: f.id, at: f.at, code: f.code, subject: f.subject, state: f.state, message: f.message })),
        rows.map((f) => f.id),
        after,
      );
    }
  }
}

function page(items: StreamItem[], positions: number[], after: number): Page {
  return { items, positions, next: positions.length ? positions[positions.length - 1]! : after };
}

/** How many items of a stream lie after a cursor (for status). */
export function backlog(db: Database.Database, stream: StreamName, after: number): number {
  const sql: Record<StreamName, string> = {
    reads: 'SELECT COUNT(*) AS n FROM reads WHERE sync_seq > ?',
    hits: 'SELECT COUNT(*) AS n FROM hotlist_hits WHERE sync_seq > ?',
    'alert-events': 'SELECT COUNT(*) AS n FROM alert_events WHERE id > ?',
    'access-log': 'SELECT COUNT(*) AS n FROM access_log WHERE id > ?',
    faults: 'SELECT COUNT(*) AS n FROM unit_faults WHERE id > ?',
  };
  return (db.prepare(sql[stream]).get(after) as { n: number }).n;
}

export function cursorOf(db: Database.Database, stream: string): number {
  return (db.prepare('SELECT cursor FROM sync_cursors WHERE stream = ?').get(stream) as { cursor: number } | undefined)?.cursor ?? 0;
}

/**
 * Records the server's acknowledgement of a page: moves the stream's cursor (never backwards: two syncs at once
 * are harmless) and, for reads, marks each read sent synced unless it changed since it was read for the page.
 */
export function acknowledge(db: Database.Database, stream: string, sent: Page, now: number): void {
  db.transaction(() => {
    if (stream === 'reads' && sent.positions.length > 0) {
      // every read now in the page's range of sequence numbers is one that was sent, unchanged since: a read
      // changed meanwhile has a new number above the range and stays pending
      db.prepare("UPDATE reads SET sync_state = 'synced', synced_at = ? WHERE sync_seq BETWEEN ? AND ? AND sync_state = 'pending'").run(
        now,
        sent.positions[0],
        sent.next,
      );
    }
    db.prepare(
      `INSERT INTO sync_cursors (stream, cursor, sent, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (stream) DO UPDATE SET cursor = MAX(cursor, excluded.cursor), sent = sent + excluded.sent, updated_at = excluded.updated_at`,
    ).run(stream, sent.next, sent.items.length, now);
  })();
}

/** An image still to upload (not yet whole on the server), with its read: only files still on disk. */
export interface ImageJob {
  id: number;
  readUuid: string;
  kind: 'crop' | 'frame';
  format: string;
  path: string;
}

export function imagesPending(db: Database.Database, afterId: number, limit: number): ImageJob[] {
  return db
    .prepare(
      `SELECT i.id, r.uuid AS readUuid, i.kind, i.format, i.path FROM images i JOIN reads r ON r.id = i.read_id
       WHERE i.synced_at IS NULL AND i.evicted_at IS NULL AND i.id > ? ORDER BY i.id LIMIT ?`,
    )
    .all(afterId, limit) as ImageJob[];
}

export function imagesWaiting(db: Database.Database): number {
  return (db.prepare('SELECT COUNT(*) AS n FROM images WHERE synced_at IS NULL AND evicted_at IS NULL').get() as { n: number }).n;
}

/** The server has the image whole (or it is gone here): it is not sent again. */
export function markImageSent(db: Database.Database, id: number, now: number): void {
  db.prepare('UPDATE images SET synced_at = ? WHERE id = ?').run(now, id);
}

import type Database from 'better-sqlite3';
import { accessRecordOf, type AccessLogRow } from '../access/access-log.js';
import type { StoredRead } from '../store/read-store.js';
import { rowMap, type Row } from '../util/rows.js';

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

/** A read as it goes upstream (its key is its uuid, its revision its change sequence). */
export interface ReadItem extends StreamItem, ReadFields {}

interface ReadFields
  extends Pick<StoredRead, 'uuid' | 'unitId' | 'cameraId' | 'plate' | 'confidence' | 'candidates' | 'region' | 'firstSeen' | 'lastSeen' | 'bestSeen' | 'frameCount' | 'clockSource' | 'closed'> {
  /** The US state read on the plate (two-letter code) and its confidence (0-1), or null where none was legible. */
  state: string | null;
  stateConfidence: number | null;
  box: unknown;
  latitude: number | null;
  longitude: number | null;
  positionValid: boolean;
  positionSource: string;
  speedKmh: number | null;
  headingDeg: number | null;
  fixTime: number | null;
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

const READ = rowMap<ReadFields & Pick<StreamItem, 'key' | 'rev'>>()(
  `key=uuid rev=sync_seq uuid unit_id camera_id plate confidence candidates:json region state state_confidence box:json first_seen last_seen best_seen
   frame_count clock_source latitude longitude position_valid:bool position_source speed_kmh heading_deg fix_time closed:bool images`,
  {
    images: (r) =>
      (typeof r.images === 'string' ? r.images.split(',') : []).map((s) => {
        const [kind, format] = s.split(':');
        return { kind: kind as 'crop' | 'frame', format: format ?? 'jpeg' };
      }),
  },
);

/** The columns of the store's read rows that go upstream, with the change sequence and the images the read has. */
const READ_COLUMNS = `r.id, ${READ.columns('r')},
  (SELECT group_concat(i.kind || ':' || i.format) FROM images i WHERE i.read_id = r.id AND i.evicted_at IS NULL) AS images`;


/** Stream items of rows with an id: keyed by it, at revision 0 (they do not change). */
const BY_ID = { key: (r: Row) => String(r.id), rev: () => 0 };

const HIT = rowMap<StreamItem>()(
  `key rev id read_uuid list=list_name entry_plate entry_state how distance matched_text candidate category priority covert:bool code
   reason case_number created_at`,
  { key: (r) => String(r.sync_seq), rev: () => 0 },
);
const ALERT_EVENT = rowMap<StreamItem>()('key rev id at alert_id read_uuid channel kind priority suppressed detail:json', BY_ID);
const FAULT = rowMap<StreamItem>()('key rev id at code subject state message', BY_ID);

/** Items of a stream after a cursor, in order. */
export function readPage(db: Database.Database, stream: StreamName, after: number, limit: number): Page {
  switch (stream) {
    case 'reads': {
      const rows = db
        .prepare(`SELECT ${READ_COLUMNS} FROM reads r WHERE r.sync_seq > ? ORDER BY r.sync_seq LIMIT ?`)
        .all(after, limit) as Array<{ uuid: string; sync_seq: number }>;
      return page(rows.map(READ.toObject as (row: object) => ReadItem), rows.map((r) => r.sync_seq), after);
    }
    case 'hits': {
      const rows = db
        .prepare(
          `SELECT h.*, r.uuid AS read_uuid FROM hotlist_hits h LEFT JOIN reads r ON r.id = h.read_id
           WHERE h.sync_seq > ? ORDER BY h.sync_seq LIMIT ?`,
        )
        .all(after, limit) as Array<{ sync_seq: number }>;
      return page(rows.map(HIT.toObject), rows.map((h) => h.sync_seq), after);
    }
    case 'alert-events': {
      const rows = db
        .prepare(
          `SELECT e.id, e.at, e.alert_id, e.channel, e.kind, e.detail, r.uuid AS read_uuid, a.priority, a.suppressed
           FROM alert_events e LEFT JOIN alerts a ON a.id = e.alert_id LEFT JOIN reads r ON r.id = a.read_id
           WHERE e.id > ? ORDER BY e.id LIMIT ?`,
        )
        .all(after, limit) as Array<{ id: number }>;
      return page(rows.map(ALERT_EVENT.toObject), rows.map((e) => e.id), after);
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
      const rows = db.prepare('SELECT * FROM unit_faults WHERE id > ? ORDER BY id LIMIT ?').all(after, limit) as Array<{ id: number }>;
      return page(rows.map(FAULT.toObject), rows.map((f) => f.id), after);
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

/**
 * A server pushes go to, as recorded in the store (sync_destinations, migration 8). Cursors and image marks are
 * kept per destination: a new destination does not inherit another's. Only the agency's configured server
 * (agency: its URL came from the config file, not from an environment override) marks reads synced, which is what
 * retention's purgeUnsynced relies on. id 0: the cursors kept before destinations were recorded.
 */
export interface Destination {
  id: number;
  url: string;
  agency: boolean;
}

/** A change of destination, as recorded (and written to the access log). */
export interface DestinationChange {
  at: number;
  from: string | null;
  to: string;
  agency: boolean;
  source: string;
  by: string;
}

/** Who records a destination: a signed-in user (`sync now`) or the unit itself. */
export interface Actor {
  user: string;
  agency: string;
  role: string | null;
}

/** The URL as destinations are keyed: parsed, with one trailing slash (https://a.example/api and .../api/ are one). */
export function normalizeUrl(url: string): string {
  return new URL(url.endsWith('/') ? url : `${url}/`).href;
}

const LEGACY: Destination = { id: 0, url: '', agency: true };

interface DestinationRow {
  id: number;
  url: string;
  agency: number;
  first_at: number;
  last_attempt_at: number | null;
  last_success_at: number | null;
  last_error: string | null;
}

const asDestination = (r: DestinationRow): Destination => ({ id: r.id, url: r.url, agency: r.agency === 1 });

export function destinationByUrl(db: Database.Database, url: string): (Destination & { lastSuccessAt: number | null; firstAt: number }) | null {
  let key: string;
  try {
    key = normalizeUrl(url);
  } catch {
    return null;
  }
  const r = db.prepare('SELECT * FROM sync_destinations WHERE url = ?').get(key) as DestinationRow | undefined;
  return r ? { ...asDestination(r), lastSuccessAt: r.last_success_at, firstAt: r.first_at } : null;
}

/** The destination of the last push recorded; null before any. */
export function currentDestination(db: Database.Database): Destination | null {
  const r = db
    .prepare('SELECT d.* FROM sync_destination_changes c JOIN sync_destinations d ON d.id = c.to_id ORDER BY c.id DESC LIMIT 1')
    .get() as DestinationRow | undefined;
  return r ? asDestination(r) : null;
}

export function lastDestinationChange(db: Database.Database): DestinationChange | null {
  const r = db
    .prepare(
      `SELECT c.at, f.url AS from_url, t.url AS to_url, c.agency, c.source, c.by_user FROM sync_destination_changes c
       JOIN sync_destinations t ON t.id = c.to_id LEFT JOIN sync_destinations f ON f.id = c.from_id ORDER BY c.id DESC LIMIT 1`,
    )
    .get() as { at: number; from_url: string | null; to_url: string; agency: number; source: string; by_user: string } | undefined;
  return r ? { at: r.at, from: r.from_url, to: r.to_url, agency: r.agency === 1, source: r.source, by: r.by_user } : null;
}

/** Where a push is going, and whether it may stand for the agency's configured server. */
export interface DestinationClaim {
  url: string;
  /** Where the URL came from, in words (the config file, an environment variable, the demo). */
  source: string;
  /** True for a URL from the unit's configuration (file, or the demo's own); false for an environment override. */
  trusted: boolean;
}

/** Something that appends to the access log (src/access/access-log.ts AccessLog). */
export interface AccessAppender {
  append(e: { user: string; agency: string; role: string | null; action: string; purpose?: string | null; query?: unknown; result?: unknown; outcome: 'ok' | 'refused' | 'failed' }): unknown;
}

/**
 * Records the destination of a push before anything is sent to it. A destination other than the last one recorded,
 * or one that becomes the agency's server, is a change: a row of sync_destination_changes and, in the same
 * transaction, an access-log record (who, from where to where, where the URL came from).
 */
export function recordDestination(
  db: Database.Database,
  log: AccessAppender | undefined,
  claim: DestinationClaim,
  by: Actor,
  now: number,
): { destination: Destination; change: DestinationChange | null } {
  const url = normalizeUrl(claim.url);
  return db
    .transaction(() => {
      db.prepare('INSERT INTO sync_destinations (url, agency, first_at) VALUES (?, 0, ?) ON CONFLICT (url) DO NOTHING').run(url, now);
      let row = db.prepare('SELECT * FROM sync_destinations WHERE url = ?').get(url) as DestinationRow;
      const current = currentDestination(db);
      let becameAgency = false;
      if (claim.trusted && row.agency !== 1) {
        const firstAgency = (db.prepare('SELECT COUNT(*) AS n FROM sync_destination_changes WHERE agency = 1').get() as { n: number }).n === 0;
        db.prepare('UPDATE sync_destinations SET agency = (id = ?)').run(row.id);
        if (firstAgency) {
          // the cursors and image marks kept before destinations were recorded belong to the server configured then
          db.prepare(
            `UPDATE sync_cursors SET destination_id = ? WHERE destination_id = 0
             AND NOT EXISTS (SELECT 1 FROM sync_cursors c WHERE c.destination_id = ? AND c.stream = sync_cursors.stream)`,
          ).run(row.id, row.id);
          db.prepare('DELETE FROM sync_cursors WHERE destination_id = 0').run();
          db.prepare('INSERT OR IGNORE INTO image_syncs (destination_id, image_id, at) SELECT ?, id, synced_at FROM images WHERE synced_at IS NOT NULL').run(row.id);
        }
        // what this server acknowledged before it was the agency's (an override pointing at it) counts now
        const reads = cursorOf(db, 'reads', row.id);
        db.prepare("UPDATE reads SET sync_state = 'synced', synced_at = ? WHERE sync_seq <= ? AND sync_state = 'pending'").run(now, reads);
        row = db.prepare('SELECT * FROM sync_destinations WHERE id = ?').get(row.id) as DestinationRow;
        becameAgency = true;
      }
      const destination = asDestination(row);
      if (current?.id === row.id && !becameAgency) return { destination, change: null };
      db.prepare('INSERT INTO sync_destination_changes (at, from_id, to_id, agency, source, by_user) VALUES (?, ?, ?, ?, ?, ?)').run(
        now,
        current?.id ?? null,
        row.id,
        row.agency,
        claim.source,
        by.user,
      );
      const change: DestinationChange = { at: now, from: current?.url ?? null, to: url, agency: destination.agency, source: claim.source, by: by.user };
      log?.append({
        ...by,
        action: 'sync-destination-change',
        purpose: 'upstream sync',
        query: { from: change.from, to: change.to, source: claim.source },
        result: { agencyServer: destination.agency },
        outcome: 'ok',
      });
      return { destination, change };
    })
    .immediate();
}

/** Records the outcome of a push to a destination (sync status reads it, also from another process). */
export function noteDestinationOutcome(db: Database.Database, id: number, at: number, ok: boolean, error: string | null): void {
  db.prepare(
    ok
      ? 'UPDATE sync_destinations SET last_attempt_at = ?, last_success_at = ?, last_error = NULL WHERE id = ?'
      : 'UPDATE sync_destinations SET last_attempt_at = ?, last_error = ? WHERE id = ?',
  ).run(...(ok ? [at, at, id] : [at, error, id]));
}

/** A stream's cursor for a destination (default: the current one; before any is recorded, the cursors kept then). */
export function cursorOf(db: Database.Database, stream: string, destination: number = currentDestination(db)?.id ?? 0): number {
  return (
    (db.prepare('SELECT cursor FROM sync_cursors WHERE destination_id = ? AND stream = ?').get(destination, stream) as { cursor: number } | undefined)
      ?.cursor ?? 0
  );
}

/**
 * Records a destination's acknowledgement of a page: moves its cursor for the stream (never backwards: two syncs at
 * once are harmless) and, for reads acknowledged by the agency's server, marks each read sent synced unless it
 * changed since it was read for the page.
 */
export function acknowledge(db: Database.Database, stream: string, sent: Page, now: number, destination: Destination = currentDestination(db) ?? LEGACY): void {
  db.transaction(() => {
    if (stream === 'reads' && sent.positions.length > 0 && destination.agency) {
      // every read now in the page's range of sequence numbers is one that was sent, unchanged since: a read
      // changed meanwhile has a new number above the range and stays pending
      db.prepare("UPDATE reads SET sync_state = 'synced', synced_at = ? WHERE sync_seq BETWEEN ? AND ? AND sync_state = 'pending'").run(
        now,
        sent.positions[0],
        sent.next,
      );
    }
    db.prepare(
      `INSERT INTO sync_cursors (destination_id, stream, cursor, sent, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (destination_id, stream) DO UPDATE SET cursor = MAX(cursor, excluded.cursor), sent = sent + excluded.sent, updated_at = excluded.updated_at`,
    ).run(destination.id, stream, sent.next, sent.items.length, now);
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

export function imagesPending(db: Database.Database, afterId: number, limit: number, destination: number = currentDestination(db)?.id ?? 0): ImageJob[] {
  if (destination === 0) {
    // before destinations were recorded: images.synced_at is the mark
    return db
      .prepare(
        `SELECT i.id, r.uuid AS readUuid, i.kind, i.format, i.path FROM images i JOIN reads r ON r.id = i.read_id
         WHERE i.synced_at IS NULL AND i.evicted_at IS NULL AND i.id > ? ORDER BY i.id LIMIT ?`,
      )
      .all(afterId, limit) as ImageJob[];
  }
  return db
    .prepare(
      `SELECT i.id, r.uuid AS readUuid, i.kind, i.format, i.path FROM images i JOIN reads r ON r.id = i.read_id
       WHERE i.evicted_at IS NULL AND i.id > ?
         AND NOT EXISTS (SELECT 1 FROM image_syncs s WHERE s.destination_id = ? AND s.image_id = i.id)
       ORDER BY i.id LIMIT ?`,
    )
    .all(afterId, destination, limit) as ImageJob[];
}

export function imagesWaiting(db: Database.Database, destination: number = currentDestination(db)?.id ?? 0): number {
  if (destination === 0) return (db.prepare('SELECT COUNT(*) AS n FROM images WHERE synced_at IS NULL AND evicted_at IS NULL').get() as { n: number }).n;
  return (
    db
      .prepare(
        `SELECT COUNT(*) AS n FROM images i WHERE i.evicted_at IS NULL
         AND NOT EXISTS (SELECT 1 FROM image_syncs s WHERE s.destination_id = ? AND s.image_id = i.id)`,
      )
      .get(destination) as { n: number }
  ).n;
}

/** The destination has the image whole (or it is gone here): it is not sent there again. */
export function markImageSent(db: Database.Database, id: number, now: number, destination: Destination = currentDestination(db) ?? LEGACY): void {
  db.transaction(() => {
    db.prepare('INSERT OR IGNORE INTO image_syncs (destination_id, image_id, at) VALUES (?, ?, ?)').run(destination.id, id, now);
    if (destination.agency) db.prepare('UPDATE images SET synced_at = ? WHERE id = ?').run(now, id);
  })();
}

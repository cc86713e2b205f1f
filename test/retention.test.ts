import { manualClock, systemClock } from '../src/util/clock.js';
import { AccessLog } from '../src/access/access-log.js';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newRead } from './helpers.js';
import {
  HoldAccessError,
  HoldError,
  Purger,
  isHeld,
  listHolds,
  placeHold,
  releaseHold,
  retentionSchema,
  type RetentionConfig,
} from '../src/retention/index.js';
import { ReadStore, type NewRead } from '../src/store/read-store.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1, 12);
const admin = { user: 'sgt.admin', role: 'admin' };

let dir: string;
let store: ReadStore;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'alpr-retention-'));
  store = ReadStore.open(dir, { clock: systemClock, imageBudgetBytes: 100e6 });
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

let seq = 0;
/** A read (test/helpers.ts) first seen at `firstSeen`, its time from the GPS, with a 200-byte crop and a 400-byte frame. */
function readAt(firstSeen: number, plate = '7ABC123', over: Partial<NewRead> = {}): NewRead {
  const n = ++seq;
  return newRead(n, { firstSeen, plate, clockSource: 'gps', crop: { bytes: Buffer.alloc(200, n), format: 'jpeg' }, frame: { bytes: Buffer.alloc(400, n), format: 'jpeg' }, ...over });
}

function config(over: Record<string, unknown> = {}): RetentionConfig {
  return retentionSchema.parse({ reads: { logicalDeleteDays: 30, deleteDays: 60 }, pauseMs: 0, ...over });
}

const synced = (id: number) => store.database.prepare(`UPDATE reads SET sync_state = 'synced' WHERE id = ?`).run(id);
const row = (id: number) =>
  store.database.prepare('SELECT deleted_at, deleted_reason FROM reads WHERE id = ?').get(id) as
    | { deleted_at: number | null; deleted_reason: string | null }
    | undefined;
const count = (table: string) => (store.database.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;

/** A hit and an alert (with a delivery and an event) on the read, as the hot list and the outbox write them. */
function hitAndAlert(readId: number, at: number): void {
  const db = store.database;
  const hit = db
    .prepare(
      `INSERT INTO hotlist_hits (read_id, list_id, list_name, entry_id, entry_plate, how, matched_text, candidate, category, priority, covert, created_at)
       VALUES (?, 1, 'stolen', 1, '7ABC123', 'exact', '7ABC123', 0, 'stolen vehicle', 1, 0, ?)`,
    )
    .run(readId, at).lastInsertRowid;
  const alertId = `alert-${readId}`;
  db.prepare(
    `INSERT INTO alerts (id, seq, read_id, hit_id, raised_at, dedup_key, priority, payload) VALUES (?, ?, ?, ?, ?, 'k', 1, '{}')`,
  ).run(alertId, readId, readId, hit, at);
  db.prepare(`INSERT INTO alert_deliveries (alert_id, channel, seq, state) VALUES (?, 'serial', ?, 'delivered')`).run(alertId, readId);
  db.prepare(`INSERT INTO alert_events (at, alert_id, channel, kind) VALUES (?, ?, 'serial', 'delivered')`).run(at, alertId);
}

describe('retention purge', () => {
  it('logically deletes a read at logicalDeleteDays, then deletes it with its images, hits and alerts at deleteDays', async () => {
    const read = await store.insertRead(readAt(T0));
    const fresh = await store.insertRead(readAt(T0 + 20 * DAY));
    synced(read.id);
    synced(fresh.id);
    hitAndAlert(read.id, T0 + 1000);
    const files = [store.imagePath(read.cropPath!), store.imagePath(read.framePath!)];
    const purger = new Purger(store, config());

    const early = await purger.runOnce(T0 + 29 * DAY);
    expect(early).toMatchObject({ logicallyDeleted: 0, deleted: 0 });
    expect(row(read.id)!.deleted_at).toBeNull();

    const logical = await purger.runOnce(T0 + 31 * DAY);
    expect(logical).toMatchObject({ logicallyDeleted: 1, deleted: 0, imagesDeleted: 0 });
    expect(row(read.id)).toEqual({ deleted_at: T0 + 31 * DAY, deleted_reason: 'retention' });
    expect(row(fresh.id)!.deleted_at).toBeNull();
    for (const f of files) expect(existsSync(f)).toBe(true);
    expect(count('hotlist_hits')).toBe(1);

    const permanent = await purger.runOnce(T0 + 61 * DAY);
    expect(permanent).toMatchObject({ deleted: 1, imagesDeleted: 2, imageBytesDeleted: 600 });
    expect(row(read.id)).toBeUndefined();
    for (const f of files) expect(existsSync(f)).toBe(false);
    for (const t of ['hotlist_hits', 'alerts', 'alert_deliveries', 'alert_events']) expect(count(t)).toBe(0);
    expect(count('images')).toBe(2); // the fresh read's crop and frame
    expect(row(fresh.id)).toEqual({ deleted_at: T0 + 61 * DAY, deleted_reason: 'retention' }); // 41 days old by then
  });

  it('keeps a held read through both stages until the hold is released, then deletes it', async () => {
    const evidence = await store.insertRead(readAt(T0, '8XYZ999'));
    const other = await store.insertRead(readAt(T0, '7ABC123'));
    synced(evidence.id);
    synced(other.id);
    const hold = placeHold(store.database, admin, { plate: '8xyz-99?' }, { caseNumber: 'DR 26-0012345', reason: 'hit and run', contact: 'Det. Ortiz x4411' }, T0 + DAY);
    expect(hold.reads).toBe(1);
    expect(isHeld(store.database, evidence.id)).toBe(true);
    expect(isHeld(store.database, other.id)).toBe(false);
    // A read of the same plate made after the hold is not covered: a hold is on existing evidence.
    const later = await store.insertRead(readAt(T0 + 2 * DAY, '8XYZ999'));
    expect(isHeld(store.database, later.id)).toBe(false);

    const purger = new Purger(store, config());
    const a = await purger.runOnce(T0 + 31 * DAY);
    expect(a).toMatchObject({ logicallyDeleted: 1, held: 1 });
    expect(row(evidence.id)!.deleted_at).toBeNull();
    const b = await purger.runOnce(T0 + 400 * DAY);
    expect(b.held).toBe(1);
    expect(row(evidence.id)!.deleted_at).toBeNull();
    expect(existsSync(store.imagePath(evidence.cropPath!))).toBe(true);
    expect(row(other.id)).toBeUndefined();

    releaseHold(store.database, admin, hold.id, 'case closed, court disposition 2027-03-01', T0 + 401 * DAY);
    expect(isHeld(store.database, evidence.id)).toBe(false);
    const c = await purger.runOnce(T0 + 402 * DAY);
    expect(c.deleted).toBe(1);
    expect(row(evidence.id)).toBeUndefined();
    expect(existsSync(store.imagePath(evidence.cropPath!))).toBe(false);
    // The hold stays as the record of what was kept and why.
    expect(listHolds(store.database, { includeReleased: true, now: systemClock() })[0]).toMatchObject({ caseNumber: 'DR 26-0012345', releasedBy: 'sgt.admin', reads: 1 });
  });

  it('keeps unsynced reads past deleteDays unless purgeUnsynced', async () => {
    const read = await store.insertRead(readAt(T0));
    const kept = await new Purger(store, config()).runOnce(T0 + 100 * DAY);
    expect(kept).toMatchObject({ deleted: 0, skippedUnsynced: 1, logicallyDeleted: 1 });
    expect(row(read.id)).toBeDefined();
    expect(existsSync(store.imagePath(read.cropPath!))).toBe(true);
    const gone = await new Purger(store, config({ reads: { logicalDeleteDays: 30, deleteDays: 60, purgeUnsynced: true } })).runOnce(T0 + 100 * DAY);
    expect(gone).toMatchObject({ deleted: 1, skippedUnsynced: 0 });
    expect(existsSync(store.imagePath(read.cropPath!))).toBe(false);
  });

  it('deletes hits and alerts on their own shorter age while the read is kept', async () => {
    const read = await store.insertRead(readAt(T0));
    synced(read.id);
    hitAndAlert(read.id, T0);
    const r = await new Purger(store, config({ hits: { deleteDays: 7 }, alerts: { deleteDays: 7 } })).runOnce(T0 + 8 * DAY);
    expect(r).toMatchObject({ hitsDeleted: 1, alertsDeleted: 1, deleted: 0 });
    for (const t of ['hotlist_hits', 'alerts', 'alert_deliveries', 'alert_events']) expect(count(t)).toBe(0);
    expect(row(read.id)).toBeDefined();
  });

  it('works in batches: an insert made while a long purge runs completes between two batches', async () => {
    // 1200 expired reads with image files, written directly (fast), purged 100 per transaction.
    const db = store.database;
    const ins = db.prepare(
      `INSERT INTO reads (uuid, unit_id, camera_id, plate, confidence, candidates, box, first_seen, last_seen, best_seen, frame_count,
         clock_source, position_valid, position_source, closed, sync_state, created_at, updated_at)
       VALUES (?, 'u', 'front', 'OLD1', 90, '[]', '{}', ?, ?, ?, 1, 'system', 0, 'none', 1, 'synced', ?, ?)`,
    );
    const img = db.prepare(`INSERT INTO images (read_id, kind, path, format, bytes, created_at) VALUES (?, 'crop', ?, 'jpeg', 10, ?)`);
    mkdirSync(path.join(store.imagesDir, 'old'), { recursive: true });
    db.transaction(() => {
      for (let i = 0; i < 1200; i++) {
        const t = T0 + i;
        const id = Number(ins.run(`old-${i}`, t, t, t, t, t).lastInsertRowid);
        writeFileSync(path.join(store.imagesDir, 'old', `${i}.jpg`), 'x'.repeat(10));
        img.run(id, `old/${i}.jpg`, t);
      }
    })();
    const purger = new Purger(store, config({ batchSize: 100, pauseMs: 1, reads: { logicalDeleteDays: 0, deleteDays: 60, purgeUnsynced: true } }));
    const order: string[] = [];
    const purge = purger.runOnce(T0 + 100 * DAY).then((r) => {
      order.push('purge');
      return r;
    });
    const insert = store.insertRead(readAt(T0 + 100 * DAY)).then((r) => {
      order.push('insert');
      return r;
    });
    const [result, inserted] = await Promise.all([purge, insert]);
    expect(order).toEqual(['insert', 'purge']);
    expect(result.deleted).toBe(1200);
    expect(result.batches).toBeGreaterThanOrEqual(12);
    expect(result.imagesDeleted).toBe(1200);
    expect(store.getRead(inserted.id)).toBeDefined();
    expect(count('reads')).toBe(1);
  });

  it('purges the access log strictly oldest first through its purge flag, leaving a signed anchor record in the log', async () => {
    const db = store.database;
    const clock = manualClock(T0);
    const log = new AccessLog(db, Buffer.alloc(32, 3), clock);
    const add = () => log.append({ user: 'u', agency: 'a', role: 'data-user', action: 'search', outcome: 'ok' });
    add();
    clock.set(T0 + 1);
    add();
    clock.set(T0 + 10 * DAY);
    add();
    clock.set(T0);
    add(); // after a clock step backwards: not deleted, it follows a row that stays
    const mac2 = (db.prepare('SELECT mac FROM access_log WHERE id = 2').get() as { mac: string }).mac;
    clock.set(T0 + 12 * DAY);
    // without the log (its key) the purger deletes nothing and says why
    const refused = await new Purger(store, config({ accessLogDays: 5 })).runOnce(T0 + 12 * DAY);
    expect(refused.accessLogDeleted).toBe(0);
    expect(refused.errors.join()).toMatch(/access log: .*no access log/);
    const r = await new Purger(store, config({ accessLogDays: 5 }), { accessLog: log, actor: { user: 'unit u1 retention', agency: 'ESPD', role: 'system' } }).runOnce(
      T0 + 12 * DAY,
    );
    expect(r).toMatchObject({ accessLogDeleted: 2, accessLogFirstId: 3, errors: [] });
    const anchor = db.prepare('SELECT * FROM access_log WHERE id = 5').get() as { action: string; user_name: string; at: number; result: string };
    expect(anchor).toMatchObject({ action: 'access-log-purge', user_name: 'unit u1 retention', at: T0 + 12 * DAY });
    expect(JSON.parse(anchor.result)).toEqual({ first: 1, last: 2, records: 2, lastMac: mac2, startAccounted: true });
    const v = log.verify();
    expect(v).toMatchObject({ ok: true, checked: 3, first: 3, start: { kind: 'anchor', anchor: { record: 5, first: 1, last: 2, lastMac: mac2 } } });
  });

  it('deletes release records two years after their last event', async () => {
    const db = store.database;
    if (!db.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'releases'`).get()) {
      db.exec(`CREATE TABLE releases (id INTEGER PRIMARY KEY, requested_at INTEGER NOT NULL, approved_at INTEGER, exported_at INTEGER)`);
    }
    const cols = (db.prepare('PRAGMA table_info(releases)').all() as Array<{ name: string; notnull: number; dflt_value: unknown }>).filter(
      (c) => c.notnull && c.dflt_value === null && !['id', 'requested_at'].includes(c.name),
    );
    const add = db.prepare(
      `INSERT INTO releases (${['requested_at', 'approved_at', 'exported_at', ...cols.map((c) => c.name)].join(', ')})
       VALUES (?, ?, ?${cols.map(() => ", 'full'").join('')})`,
    );
    add.run(T0, T0 + DAY, T0 + 2 * DAY); // exported long ago
    add.run(T0, T0 + 700 * DAY, T0 + 700 * DAY); // requested long ago, released recently
    add.run(T0, null, null); // never approved
    const r = await new Purger(store, config()).runOnce(T0 + 740 * DAY);
    expect(r).toMatchObject({ releasesDeleted: 2, errors: [] });
    expect(db.prepare('SELECT id FROM releases').all()).toEqual([{ id: 2 }]);
  });
});

describe('evidence holds', () => {
  it('only an administrator may place or release a hold', async () => {
    const read = await store.insertRead(readAt(T0));
    const details = { caseNumber: 'DR 26-0012345', reason: 'robbery', contact: 'Det. Ortiz' };
    expect(() => placeHold(store.database, { user: 'ofc.lee', role: 'data-user' }, { readIds: [read.id] }, details, systemClock())).toThrow(HoldAccessError);
    expect(() => placeHold(store.database, { user: 'ofc.lee', role: 'officer' }, { readIds: [read.id] }, details, systemClock())).toThrow(/administrators/);
    const hold = placeHold(store.database, admin, { readIds: [read.id] }, details, systemClock());
    expect(() => releaseHold(store.database, { user: 'tech', role: 'technician' }, hold.id, 'done', systemClock())).toThrow(HoldAccessError);
    expect(isHeld(store.database, read.id)).toBe(true);
  });

  it('refuses a bare case number, a missing reason or contact, and a hold on nothing', async () => {
    const read = await store.insertRead(readAt(T0));
    const ok = { caseNumber: 'DR 26-0012345', reason: 'robbery', contact: 'Det. Ortiz' };
    expect(() => placeHold(store.database, admin, { readIds: [read.id] }, { ...ok, caseNumber: 'investigation' }, systemClock())).toThrow(/case or DR number/);
    expect(() => placeHold(store.database, admin, { readIds: [read.id] }, { ...ok, reason: ' ' }, systemClock())).toThrow(HoldError);
    expect(() => placeHold(store.database, admin, { readIds: [read.id] }, { ...ok, contact: '' }, systemClock())).toThrow(/contact/);
    expect(() => placeHold(store.database, admin, {}, ok, systemClock())).toThrow(/by id, by plate, or by time range/);
    expect(() => placeHold(store.database, admin, { plate: 'NOPE1' }, ok, systemClock())).toThrow(/no stored read/);
    expect(() => placeHold(store.database, admin, { readIds: [read.id, 999] }, ok, systemClock())).toThrow(/no read with id 999/);
    expect(count('holds')).toBe(0);
  });

  it('covers reads by time range and camera, and lists holds past their review date', async () => {
    const a = await store.insertRead(readAt(T0, '1AAA111', { cameraId: 'front' }));
    await store.insertRead(readAt(T0, '1AAA112', { cameraId: 'rear' }));
    await store.insertRead(readAt(T0 + 3 * DAY, '1AAA113', { cameraId: 'front' }));
    const details = { caseNumber: 'INC-2026-77', reason: 'shooting', contact: 'Det. Kim', reviewAt: T0 + 10 * DAY };
    const h1 = placeHold(store.database, admin, { from: T0 - 1, to: T0 + DAY, cameraId: 'front' }, details, T0 + 5 * DAY);
    expect(h1.reads).toBe(1);
    expect(isHeld(store.database, a.id)).toBe(true);
    const h2 = placeHold(store.database, admin, { plate: '1AAA*' }, { ...details, reviewAt: T0 + 100 * DAY }, T0 + 5 * DAY);
    expect(h2.reads).toBe(3);
    expect(listHolds(store.database, { now: T0 + 5 * DAY }).map((h) => h.id)).toEqual([h1.id, h2.id]);
    expect(listHolds(store.database, { overdueReview: true, now: T0 + 5 * DAY })).toEqual([]);
    const overdue = listHolds(store.database, { overdueReview: true, now: T0 + 11 * DAY });
    expect(overdue.map((h) => [h.id, h.caseNumber, h.contact])).toEqual([[h1.id, 'INC-2026-77', 'Det. Kim']]);
    releaseHold(store.database, admin, h1.id, 'not needed', T0 + 12 * DAY);
    expect(listHolds(store.database, { overdueReview: true, now: T0 + 12 * DAY })).toEqual([]);
    expect(isHeld(store.database, a.id)).toBe(true); // still under h2
  });
});

describe('retention config', () => {
  it('has documented defaults and refuses a logical stage after the permanent one', () => {
    const c = retentionSchema.parse({});
    expect(c).toMatchObject({
      reads: { logicalDeleteDays: 365, deleteDays: 730, purgeUnsynced: false },
      hits: { deleteDays: null },
      alerts: { deleteDays: null },
      accessLogDays: 1826,
      releaseDays: 730,
      batchSize: 500,
    });
    expect(() => retentionSchema.parse({ reads: { logicalDeleteDays: 800, deleteDays: 730 } })).toThrow(/logicalDeleteDays/);
    expect(() => retentionSchema.parse({ read: {} })).toThrow();
  });
});

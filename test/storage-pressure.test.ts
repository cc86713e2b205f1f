import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Grouper, type SightingPlate } from '../src/pipeline/grouper.js';
import { placeHold } from '../src/retention/holds.js';
import { ReadStore, type DiskSpace, type Eviction, type NewRead } from '../src/store/read-store.js';
import { FaultMonitor, type FaultInputs } from '../src/unit/faults.js';
import { StorageDeferred, StorageGuard, type WriteAttempt } from '../src/unit/storage-guard.js';
import { manualClock, systemClock } from '../src/util/clock.js';
import { configSchema } from '../src/config/schema.js';
import { Unit } from '../src/unit/unit.js';
import { NO_POSITION } from '../src/gps/types.js';
import { capturePino, newRead, until } from './helpers.js';

/**
 * The parts of #16 item 4 (a full disk) that can be tested without a small file system: the bounded pending
 * reads and the frames dropped instead, the storage log's rate with a manual clock, the order in which images are
 * deleted for free space (a fake free-space function), and faults reported when their records cannot be written.
 * A stop while the database refuses reads is tested with the unit in this process (its recognition worker is
 * dist/src/pipeline/vision-worker.js: run `npm run build` first). test/full-disk.test.ts runs the compiled unit
 * on a 20 MB file system.
 */

const T0 = Date.UTC(2026, 10, 22, 12, 0, 0);
/** A frame image's bytes (the store does not look inside). */
const FRAME = 200_000;

const diskFull = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

describe('storage guard: reads that cannot be stored', () => {
  it('logs the condition once, then at most once a minute with counts, however many writes fail', () => {
    const clock = manualClock(T0);
    const { lines, log } = capturePino();
    let pending = 0;
    const g = new StorageGuard({ maxPending: 5, pending: () => pending, clock, log });
    // the first write fails: one line
    (g.begin() as WriteAttempt).done({ ok: false, error: diskFull });
    pending = 1;
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 50, err: diskFull.message, pendingReadsMax: 5 });
    expect(lines[0]!.msg).toMatch(/reads cannot be stored.*at most 5/);
    // a thousand more failures within the minute (one probe a second): no more lines
    for (let i = 0; i < 1000; i++) {
      clock.advance(50);
      const a = g.begin();
      if (a instanceof StorageDeferred) continue;
      a.done({ ok: false, error: diskFull });
    }
    expect(clock() - T0).toBe(50_000);
    expect(lines).toHaveLength(1);
    expect(g.status()).toMatchObject({ failing: true, since: T0, lastError: diskFull.message });
    // frames are dropped once five reads wait; the first drop is said at once, with the count
    pending = 5;
    for (let i = 0; i < 200; i++) expect(g.admitFrame()).toBe(false);
    expect(lines).toHaveLength(2);
    expect(lines[1]!.msg).toMatch(/5 reads wait in memory.*frames are dropped/);
    // a minute after the last line: one more, with what happened since
    clock.advance(60_000);
    expect(g.admitFrame()).toBe(false);
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatchObject({ framesDropped: 200, framesDroppedTotal: 201, pendingReads: 5, err: diskFull.message });
    expect(lines[2]!.msg).toMatch(/still cannot be stored/);
    expect(g.status()).toMatchObject({ framesDropped: 201, pendingReads: 5, pendingReadsMax: 5 });
    // a clock set back a day does not silence it for a day
    clock.advance(-86_400_000);
    g.admitFrame();
    expect(lines).toHaveLength(4);
  });

  it('tries one write at a time, at most once a second, while the store fails; the first that works ends it', () => {
    const clock = manualClock(T0);
    const { lines, log } = capturePino();
    let pending = 3;
    const g = new StorageGuard({ maxPending: 5, pending: () => pending, clock, log });
    expect(g.hasRoom).toBe(true);
    expect(g.admitFrame()).toBe(true);
    (g.begin() as WriteAttempt).done({ ok: false, error: diskFull });
    // while failing: the others wait without touching the disk
    expect(g.begin()).toBeInstanceOf(StorageDeferred);
    clock.advance(1000);
    const probe = g.begin();
    expect(probe).not.toBeInstanceOf(StorageDeferred);
    // one probe at a time
    clock.advance(5000);
    expect(g.begin()).toBeInstanceOf(StorageDeferred);
    // space came back: the probe works; every waiting read may try now
    (probe as WriteAttempt).done({ ok: true, retry: true });
    expect(g.status()).toMatchObject({ failing: false, storedLate: 1 });
    expect(lines.at(-1)!.msg).toMatch(/reads can be stored again.*3 read\(s\) waiting/);
    for (let i = 0; i < 3; i++) {
      const a = g.begin();
      expect(a).not.toBeInstanceOf(StorageDeferred);
      (a as WriteAttempt).done({ ok: true, retry: true });
    }
    pending = 0;
    expect(g.status()).toMatchObject({ failing: false, pendingReads: 0, storedLate: 4 });
  });

  it('at a stop every waiting read is tried at once, and frames are no longer refused', () => {
    const clock = manualClock(T0);
    const { log } = capturePino();
    const g = new StorageGuard({ maxPending: 1, pending: () => 9, clock, log });
    (g.begin() as WriteAttempt).done({ ok: false, error: diskFull });
    expect(g.begin()).toBeInstanceOf(StorageDeferred);
    g.stop();
    for (let i = 0; i < 9; i++) expect(g.begin()).not.toBeInstanceOf(StorageDeferred);
    g.lost(2);
    expect(g.status().lostAtStop).toBe(2);
  });
});

function plate(text: string): SightingPlate {
  return { text, confidence: 90, box: { x: 10, y: 10, width: 100, height: 30 }, region: 'us', candidates: [{ text, confidence: 90 }] };
}

describe('grouper: reads waiting in memory', () => {
  it('counts the reads whose write failed, stores them when the sink works again, and names those a stop would lose', async () => {
    let working = false;
    const stored: Array<{ text: string; retry: boolean; closed: boolean }> = [];
    const write = async (t: { text: string; retry: boolean; closed: boolean }) => {
      if (!working) throw diskFull;
      stored.push({ text: t.text, retry: t.retry, closed: t.closed });
    };
    const g = new Grouper<null>({ maxDelayMs: 100, leaveAfterMs: 200, maxDistance: 1 }, { emit: write, update: write });
    const settle = () => new Promise((r) => setTimeout(r, 0));
    let camTime = T0;
    const tick = async (now: number) => {
      g.tick(now, () => false, () => camTime);
      await settle();
    };
    g.add('cam', T0, [{ plate: plate('AAA111'), extra: null }]);
    g.add('cam', T0, [{ plate: plate('BBB222'), extra: null }]);
    camTime = T0 + 1000;
    await tick(T0 + 1000); // both left: closed, written, refused
    expect(g.pending).toBe(2);
    expect(stored).toEqual([]);
    // still failing a few seconds on: still two, no more
    await tick(T0 + 2100);
    await tick(T0 + 3200);
    expect(g.pending).toBe(2);
    working = true;
    await tick(T0 + 4300);
    expect(g.pending).toBe(0);
    expect(stored.map((s) => s.text).sort()).toEqual(['AAA111', 'BBB222']);
    expect(stored.every((s) => s.retry && s.closed)).toBe(true);
    // a stop while failing: one more try, then what could not be stored is named
    working = false;
    g.add('cam', T0 + 5000, [{ plate: plate('CCC333'), extra: null }]);
    await tick(T0 + 5200); // reported (maxDelayMs), refused
    expect(g.pending).toBe(1);
    await g.flush();
    const lost = await g.retryUnstored();
    expect(lost.map((t) => [t.text, t.stored, t.closed])).toEqual([['CCC333', false, true]]);
  });
});

/** Read n (test/helpers.ts, first seen n s after T0) without a position, with a 10 kB crop and a FRAME-byte frame. */
const readN = (n: number, over: Partial<NewRead> = {}): NewRead =>
  newRead(n, { candidates: [], position: { ...NO_POSITION }, crop: { bytes: Buffer.alloc(10_000, n), format: 'jpeg' }, frame: { bytes: Buffer.alloc(FRAME, n), format: 'jpeg' }, ...over });

describe('read store: free space on the disk bounds the images', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'alpr-space-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('deletes frames oldest first, then crops (those at the agency first, never a held one), never rows', async () => {
    // a fake disk of 100 MB holding the store's images and `other` bytes of someone else's; the reserve asked is
    // 5 MB (under a tenth of the disk)
    let other = 0;
    const evictions: Eviction[] = [];
    const store: ReadStore = ReadStore.open(dir, {
      clock: systemClock,
      imageBudgetBytes: 1e9,
      diskReserveBytes: 5e6,
      freeSpace: (): DiskSpace => ({ freeBytes: 100e6 - other - store.stats().imageBytes, totalBytes: 100e6 }),
      onEvicted: (e) => evictions.push(e),
    });
    const setFree = (bytes: number) => (other = 100e6 - store.stats().imageBytes - bytes);
    const reads = [];
    for (let i = 1; i <= 6; i++) reads.push(await store.insertRead(readN(i)));
    expect(evictions).toEqual([]);
    // read 2 is at the agency's server; read 1 is held as evidence
    store.database.prepare(`UPDATE images SET synced_at = 1 WHERE read_id = ? AND kind = 'crop'`).run(reads[1]!.id);
    placeHold(store.database, { user: 'sgt.admin', role: 'admin' }, { readIds: [reads[0]!.id] }, { caseNumber: 'DR 26-0012345', reason: 'hit and run', contact: 'Det. Ortiz' }, T0);
    // the disk fills: a new read needs its size plus two frames' worth to keep the reserve
    const row = 64 * 1024;
    setFree(5e6 - 2 * FRAME);
    await store.insertRead(readN(7));
    let now = reads.map((r) => store.getRead(r.id)!);
    // the oldest frames went (frames are larger than a row's allowance: four free three frames and the room), crops stayed
    expect(now.map((r) => r.framePath === null)).toEqual([true, true, true, true, false, false]);
    expect(now.every((r) => r.cropPath !== null)).toBe(true);
    expect(evictions).toEqual([{ reason: 'disk', frames: 4, crops: 0, bytes: 4 * FRAME }]);
    // more than every frame can free (three are left): crops go, the synced one first, then the oldest; never the held one
    const needed = 10_000 + row;
    setFree(5e6 + needed - 3 * FRAME - 25_000);
    await store.insertRead(readN(8, { frame: undefined }));
    now = reads.map((r) => store.getRead(r.id)!);
    expect(now.every((r) => r.framePath === null)).toBe(true);
    expect(now.map((r) => r.cropPath === null)).toEqual([false, true, true, true, false, false]);
    for (const r of reads.slice(1, 4)) expect(existsSync(store.imagePath(r.cropPath!))).toBe(false);
    expect(evictions.at(-1)).toEqual({ reason: 'disk', frames: 3, crops: 3, bytes: 3 * FRAME + 30_000 });
    // every row is still there
    expect(store.stats()).toMatchObject({ reads: 8, evictedCrops: 3, evictedFrames: 7 });
    store.close();
  });

  it('without a reserve (store.diskReserveMB 0) free space does not delete images', async () => {
    const store = ReadStore.open(dir, { clock: systemClock, imageBudgetBytes: 1e9, freeSpace: () => ({ freeBytes: 0, totalBytes: 100e6 }) });
    const r = await store.insertRead(readN(1));
    await store.insertRead(readN(2));
    expect(store.getRead(r.id)!.framePath).not.toBeNull();
    store.close();
  });
});

describe('faults of the data disk', () => {
  let dir: string;
  let store: ReadStore;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'alpr-faults-disk-'));
    store = ReadStore.open(dir, { clock: systemClock, imageBudgetBytes: 2 ** 20 });
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('with a disk reserve, a disk kept at the reserve by deleting images is not faulty; under half of it, it is', () => {
    const { log } = capturePino();
    const m = new FaultMonitor(store.database, log);
    const at = (now: number, free: number): FaultInputs => ({
      now,
      startedAt: T0,
      cameras: [],
      recognition: { workerAlive: true, lastError: null },
      disk: { freeBytes: free, totalBytes: 32 * 2 ** 30 },
      diskReserveBytes: 256 * 2 ** 20,
      imageBudgetExceeded: false,
      gps: { expected: false, connected: false, fixValid: false, lastFixAt: null },
      clockJumpMs: 0,
      uplink: null,
    });
    // free space hovering around the reserve (images deleted as reads come): no fault raised and cleared each time
    for (const [k, free] of [256, 255.9, 256.5, 255.5, 256].entries()) expect(m.check(at(T0 + k * 2000, free * 2 ** 20))).toEqual([]);
    const open = m.check(at(T0 + 20_000, 100 * 2 ** 20));
    expect(open).toEqual([expect.objectContaining({ code: 'storage', subject: 'disk', message: expect.stringMatching(/100 MiB free .*keep 256 MiB free: none are left to delete/) })]);
    // without a reserve, the old rule (under 256 MiB or 5 %)
    expect(m.check({ ...at(T0 + 22_000, 1024 * 2 ** 20), diskReserveBytes: 0 }).map((f) => f.subject)).toEqual(['disk']);
  });
});

describe('faults whose records the database refuses', () => {
  let dir: string;
  let store: ReadStore;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'alpr-faults-full-'));
    store = ReadStore.open(dir, { clock: systemClock, imageBudgetBytes: 2 ** 20 });
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const inputs = (now: number, storage?: FaultInputs['storage']): FaultInputs => ({
    now,
    startedAt: T0,
    cameras: [],
    recognition: { workerAlive: true, lastError: null },
    disk: { freeBytes: 10 * 2 ** 30, totalBytes: 32 * 2 ** 30 },
    imageBudgetExceeded: false,
    gps: { expected: false, connected: false, fixValid: false, lastFixAt: null },
    clockJumpMs: 0,
    uplink: null,
    ...(storage ? { storage } : {}),
  });

  it('a storage fault for reads not stored is raised, reported with current counts, recorded when the database takes it', () => {
    const { lines, log } = capturePino();
    const m = new FaultMonitor(store.database, log);
    // the database refuses writes to unit_faults, as a full disk would
    store.database.exec(`CREATE TEMP TRIGGER refuse BEFORE INSERT ON unit_faults BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`);
    const failing = { failing: true, lastError: 'ENOSPC', pendingReads: 3, pendingReadsMax: 100, framesDropped: 0 };
    const open = m.check(inputs(T0 + 2000, failing));
    expect(open).toEqual([expect.objectContaining({ code: 'storage', subject: 'reads', message: expect.stringMatching(/reads cannot be stored \(ENOSPC\): 3 wait in memory \(at most 100\)/) })]);
    expect(m.recorded).toBe(1);
    // the message follows the counts; the refusal is said once, not at every check
    const later = m.check(inputs(T0 + 4000, { ...failing, pendingReads: 100, framesDropped: 42 }));
    expect(later[0]!.message).toMatch(/100 wait in memory.*42 camera frames dropped/);
    m.check(inputs(T0 + 6000, { ...failing, pendingReads: 100, framesDropped: 80 }));
    expect(lines.filter((l) => /fault records cannot be written/.test(l.msg))).toHaveLength(1);
    expect(store.database.prepare('SELECT count(*) AS n FROM unit_faults').get()).toEqual({ n: 0 });
    // space again: the reads are stored, the fault clears, and both records are written
    store.database.exec('DROP TRIGGER refuse');
    expect(m.check(inputs(T0 + 8000, { ...failing, failing: false, pendingReads: 0 }))).toEqual([]);
    const rows = store.database.prepare('SELECT at, code, subject, state FROM unit_faults ORDER BY id').all();
    expect(rows).toEqual([
      { at: T0 + 2000, code: 'storage', subject: 'reads', state: 'raised' },
      { at: T0 + 8000, code: 'storage', subject: 'reads', state: 'cleared' },
    ]);
  });
});

describe('the unit stopping while reads cannot be stored', () => {
  let dir: string;
  let unit: Unit | undefined;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'alpr-stop-full-'));
  });
  afterEach(async () => {
    await unit?.stop();
    unit = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs and counts each read it could not store; every read it reported stored is in the database (the unit in this process)', async () => {
    const config = configSchema.parse({
      unit: { id: 'car-9' },
      data: { dir: path.join(dir, 'data') },
      grouping: { maxDelayMs: 300, leaveAfterMs: 600 },
      store: { pendingReadsMax: 4 },
      cameras: [{ id: 'front', type: 'replay', source: path.join(import.meta.dirname, '..', 'test-fixtures', 'plates'), pattern: 'us-*', fps: 8, loop: true }],
    });
    const { lines, log } = capturePino();
    const u = await Unit.start(config, log, systemClock);
    unit = u;
    const reported: string[] = [];
    u.on('read', (e) => {
      if (e.kind === 'new') reported.push(e.read.uuid);
    });
    await until(() => reported.length >= 3, 60_000, '3 reads stored');
    // the database refuses every write of a read from now on, as a disk full to the last byte does
    u.store.database.exec(`
      CREATE TEMP TRIGGER refuse_insert BEFORE INSERT ON reads BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;
      CREATE TEMP TRIGGER refuse_update BEFORE UPDATE ON reads BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;`);
    await until(() => u.storage.status().pendingReads >= 4 && u.storage.status().framesDropped > 0, 60_000, 'four reads waiting and frames dropped');
    await until(() => u.status().faults.some((f) => f.code === 'storage' && f.subject === 'reads'), 10_000, 'the storage fault');
    const waiting = u.storage.status().pendingReads;
    const storedBefore = reported.length;
    await u.stop();
    unit = undefined;
    const lost = lines.filter((l) => /^read (lost|not completed) at stop/.test(l.msg));
    const summary = lines.find((l) => /read\(s\) lost at stop/.test(l.msg));
    // each waiting read was said (nothing was stored: the refusal holds at the stop too)
    expect(reported.length).toBe(storedBefore);
    expect(lost.length).toBeGreaterThanOrEqual(waiting);
    expect(summary).toMatchObject({ lost: lost.filter((l) => /^read lost/.test(l.msg)).length, notCompleted: lost.filter((l) => /not completed/.test(l.msg)).length });
    expect(u.storage.status().lostAtStop).toBe(summary!.lost);
    for (const l of lost) {
      expect(l).toMatchObject({ camera: 'front', firstSeen: expect.any(String), frames: expect.any(Number) });
      expect(JSON.stringify(l)).not.toMatch(/plate/); // the log carries no plate text
    }
    // the storage lines: once when it started, once when frames began to drop, then (under a minute) none
    const storageLines = lines.filter((l) => l.part === 'store');
    expect(storageLines.map((l) => l.msg)).toEqual([expect.stringMatching(/^reads cannot be stored/), expect.stringMatching(/frames are dropped/)]);
    // nothing reported stored is lost
    const store = ReadStore.open(path.join(dir, 'data'), { clock: systemClock, imageBudgetBytes: 1e9 });
    try {
      for (const uuid of reported) expect(store.getReadByUuid(uuid), uuid).toBeDefined();
    } finally {
      store.close();
    }
  }, 120_000);
});


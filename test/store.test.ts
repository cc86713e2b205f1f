import { systemClock } from '../src/util/clock.js';
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newRead } from './helpers.js';
import { NO_POSITION } from '../src/gps/types.js';
import { ReadStore, StoreError, type NewRead } from '../src/store/read-store.js';
import { MIGRATIONS } from '../src/store/migrations.js';

const FIXTURES = path.join(import.meta.dirname, '..', 'test-fixtures');
const jpeg = readFileSync(path.join(FIXTURES, 'plates', 'us-ca-clean.jpg'));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'alpr-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Read n (test/helpers.ts), not yet closed, with a real JPEG as its frame. */
const readN = (n: number, over: Partial<NewRead> = {}): NewRead => newRead(n, { closed: false, frame: { bytes: jpeg, format: 'jpeg' }, ...over });

describe('read store', () => {
  it('stores a read with its images and gives it back the same, across a reopen', async () => {
    const store = ReadStore.open(dir, { clock: systemClock, imageBudgetBytes: 100e6 });
    const stored = await store.insertRead(readN(1));
    expect(stored.plate).toBe('7ABC001');
    expect(stored.syncState).toBe('pending');
    expect(readFileSync(store.imagePath(stored.framePath!))).toEqual(jpeg);
    store.close();
    const again = ReadStore.open(dir, { clock: systemClock, imageBudgetBytes: 100e6 });
    const r = again.getReadByUuid(readN(1).uuid)!;
    expect(r).toMatchObject({
      cameraId: 'front',
      unitId: 'unit-01',
      firstSeen: Date.UTC(2026, 10, 22, 12, 0, 1),
      frameCount: 3,
      position: { latitude: 33.9, longitude: -118.4, valid: true, source: 'gps', speedKmh: 40 },
    });
    expect(again.schemaVersion).toBe(MIGRATIONS.at(-1)!.version);
    again.close();
  });

  it('uses WAL and keeps its folder and files private (0700 / 0600)', async () => {
    const store = ReadStore.open(path.join(dir, 'data'), { clock: systemClock, imageBudgetBytes: 100e6 });
    const r = await store.insertRead(readN(1));
    store.close();
    expect(statSync(path.join(dir, 'data')).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(dir, 'data', 'alpr-edge.db')).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dir, 'data', 'images', r.cropPath!)).mode & 0o777).toBe(0o600);
    const db = new Database(path.join(dir, 'data', 'alpr-edge.db'), { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('updates a read still in view and replaces its crop, deleting the old file', async () => {
    const store = ReadStore.open(dir, { clock: systemClock, imageBudgetBytes: 100e6 });
    const first = await store.insertRead(readN(1));
    const oldCrop = store.imagePath(first.cropPath!);
    const updated = await store.updateRead(first.id, {
      plate: '7ABC001',
      confidence: 97,
      candidates: [{ text: '7ABC001', confidence: 97 }],
      box: first.box,
      lastSeen: first.lastSeen + 1000,
      bestSeen: first.bestSeen + 800,
      frameCount: 9,
      closed: true,
      position: NO_POSITION,
      crop: { bytes: Buffer.alloc(500, 7), format: 'jpeg' },
    });
    expect(updated).toMatchObject({ frameCount: 9, confidence: 97, closed: true });
    expect(existsSync(oldCrop)).toBe(false);
    expect(readFileSync(store.imagePath(updated.cropPath!))).toEqual(Buffer.alloc(500, 7));
    expect(updated.framePath).toBe(first.framePath);
    store.close();
  });

  it('keeps the image budget by deleting frame images oldest first, never crops or rows', async () => {
    // budget for about three frames plus crops
    const store = ReadStore.open(dir, { clock: systemClock, imageBudgetBytes: jpeg.length * 3 + 20_000 });
    const reads = [];
    for (let i = 1; i <= 6; i++) reads.push(await store.insertRead(readN(i)));
    const now = reads.map((r) => store.getRead(r.id)!);
    expect(now.slice(0, 3).map((r) => r.framePath)).toEqual([null, null, null]);
    expect(now.slice(3).every((r) => r.framePath !== null && existsSync(store.imagePath(r.framePath)))).toBe(true);
    expect(now.every((r) => r.cropPath !== null && existsSync(store.imagePath(r.cropPath)))).toBe(true);
    for (const r of reads.slice(0, 3)) expect(existsSync(store.imagePath(r.framePath!))).toBe(false);
    const s = store.stats();
    expect(s).toMatchObject({ reads: 6, frameImages: 3, evictedFrames: 3, pendingSync: 6 });
    expect(s.imageBytes).toBeLessThanOrEqual(jpeg.length * 3 + 20_000);
    store.close();
  });

  it('says so when crops alone exceed the budget, and keeps them', async () => {
    const warnings: number[] = [];
    const store = ReadStore.open(dir, { clock: systemClock, imageBudgetBytes: 1500, onBudgetExceeded: (b) => warnings.push(b) });
    await store.insertRead(readN(1, { frame: undefined }));
    await store.insertRead(readN(2, { frame: undefined }));
    expect(warnings.length).toBe(1);
    expect(store.listReads().every((r) => r.cropPath !== null)).toBe(true);
    store.close();
  });

  it('remembers processed folder files across a reopen', () => {
    const store = ReadStore.open(dir, { clock: systemClock, imageBudgetBytes: 1e6 });
    store.markFileDone('pole', 'a.jpg', 100, 1234.7, 'processed');
    expect(store.isFileDone('pole', 'a.jpg', 100, 1234.7)).toBe(true);
    expect(store.isFileDone('pole', 'a.jpg', 101, 1234.7)).toBe(false); // same name, new content
    store.close();
    const again = ReadStore.open(dir, { clock: systemClock, imageBudgetBytes: 1e6 });
    expect(again.isFileDone('pole', 'a.jpg', 100, 1234.7)).toBe(true);
    again.close();
  });

  it('refuses a database from a newer version instead of damaging it', () => {
    ReadStore.open(dir, { clock: systemClock, imageBudgetBytes: 1e6 }).close();
    const db = new Database(path.join(dir, 'alpr-edge.db'));
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, ?, 0)').run('future');
    db.close();
    expect(() => ReadStore.open(dir, { clock: systemClock, imageBudgetBytes: 1e6 })).toThrow(StoreError);
    expect(() => ReadStore.open(dir, { clock: systemClock, imageBudgetBytes: 1e6 })).toThrow(/schema version 999, newer/);
  });

  it('refuses a data folder that is not a database with a clear error', async () => {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path.join(dir, 'alpr-edge.db'), 'this is not sqlite'.repeat(100));
    expect(() => ReadStore.open(dir, { clock: systemClock, imageBudgetBytes: 1e6 })).toThrow(/alpr-edge\.db|not a database/);
  });
});

describe('several connections writing the store at once', () => {
  it("a transaction that reads, then writes, waits for another process's write instead of failing with \"database is locked\"", async () => {
    const store = ReadStore.open(dir, { clock: systemClock, imageBudgetBytes: 1e8 });
    const script = `
      import Database from 'better-sqlite3';
      const db = new Database(process.argv[1]);
      db.pragma('busy_timeout = 10000');
      const add = db.prepare("INSERT INTO unit_faults (at, code, subject, state, message) VALUES (?, 'test', ?, 'raised', 'from another process')");
      const end = Date.now() + 1500;
      while (Date.now() < end) add.run(Date.now(), process.argv[2]);
      db.close();`;
    const { spawn } = await import('node:child_process');
    const children = [1, 2].map((n) =>
      spawn(process.execPath, ['--input-type=module', '-e', script, store.dbPath, `p${n}`], { stdio: ['ignore', 'ignore', 'pipe'], cwd: path.join(import.meta.dirname, '..') }),
    );
    const exits = children.map((c) => new Promise<number | null>((r) => c.on('exit', r)));
    const db = store.database;
    const count = db.prepare("SELECT count(*) AS n FROM unit_faults WHERE code = 'test'");
    const add = db.prepare("INSERT INTO unit_faults (at, code, subject, state, message) VALUES (?, 'test', 'unit', 'raised', ?)");
    const readThenWrite = db.transaction(() => {
      const { n } = count.get() as { n: number };
      // the other processes commit while this one works between its read and its write
      const until = Date.now() + 2;
      while (Date.now() < until);
      add.run(Date.now(), `after ${n}`);
    });
    const errors: string[] = [];
    let done = 0;
    const end = Date.now() + 1500;
    while (Date.now() < end) {
      try {
        readThenWrite();
        done++;
      } catch (err) {
        errors.push((err as Error & { code?: string }).code ?? (err as Error).message);
      }
      await new Promise((r) => setImmediate(r));
    }
    expect(await Promise.all(exits)).toEqual([0, 0]);
    expect(errors).toEqual([]);
    expect(done, `${done} transactions`).toBeGreaterThan(50);
    store.close();
  });
});

import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirectoryCamera, type DirectoryCameraConfig } from '../src/camera/directory.js';
import { ReplayCamera, type ReplayCameraConfig } from '../src/camera/replay.js';
import { configSchema } from '../src/config/schema.js';
import { ReadStore } from '../src/store/read-store.js';
import { systemClock } from '../src/util/clock.js';
import { checkCameraContract, CollectingSink } from './camera-contract.js';

const PLATES = path.join(import.meta.dirname, '..', 'test-fixtures', 'plates');
const JPEGS = readdirSync(PLATES).filter((f) => f.endsWith('.jpg')).sort();

function cameraConfig<T>(raw: Record<string, unknown>): T {
  return configSchema.parse({ cameras: [raw] }).cameras[0] as T;
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'alpr-cam-'));
});
afterEach(() => {
  chmodSync(dir, 0o700);
  rmSync(dir, { recursive: true, force: true });
});

describe('replay camera', () => {
  it('keeps the camera contract, replaying the folder in name order at the set rate', async () => {
    const cam = new ReplayCamera(cameraConfig<ReplayCameraConfig>({ id: 'rp', type: 'replay', source: PLATES, fps: 20, maxFps: 20 }), systemClock);
    const t0 = Date.now();
    const sink = await checkCameraContract(cam, { frames: 6, cameraId: 'rp' });
    const elapsed = Date.now() - t0;
    expect(sink.frames.slice(0, 6).map((f) => path.basename(f.origin))).toEqual(JPEGS.slice(0, 6));
    expect(sink.frames[0]!.image).toEqual(readFileSync(path.join(PLATES, JPEGS[0]!)));
    expect(elapsed).toBeGreaterThanOrEqual(5 * 50 * 0.8); // 6 frames at 20 fps take at least ~250 ms
  });

  it('reports the end of a folder, or loops', async () => {
    const once = new ReplayCamera(
      cameraConfig<ReplayCameraConfig>({ id: 'rp', type: 'replay', source: PLATES, pattern: 'br-*', fps: 50, maxFps: 50 }),
      systemClock,
    );
    const sink = new CollectingSink();
    await once.start(sink);
    await sink.until(() => sink.events.some((e) => e.kind === 'finished'), 5000, 'finished');
    await once.stop();
    expect(sink.frames.map((f) => path.basename(f.origin))).toEqual(JPEGS.filter((f) => f.startsWith('br-')));

    const looping = new ReplayCamera(
      cameraConfig<ReplayCameraConfig>({ id: 'rp', type: 'replay', source: PLATES, pattern: 'br-*', fps: 50, maxFps: 50, loop: true }),
      systemClock,
    );
    const sink2 = new CollectingSink();
    await looping.start(sink2);
    await sink2.until(() => sink2.frames.length >= 7, 5000, '7 frames');
    await looping.stop();
    expect(sink2.events.some((e) => e.kind === 'finished')).toBe(false);
  });

  it('a missing folder, an empty one, or a corrupt image: clear reports, no crash', async () => {
    const missing = new ReplayCamera(cameraConfig<ReplayCameraConfig>({ id: 'rp', type: 'replay', source: path.join(dir, 'nope') }), systemClock);
    const s1 = new CollectingSink();
    await missing.start(s1);
    await s1.until(() => s1.events.length > 0, 2000, 'an event');
    expect(s1.events[0]).toMatchObject({ kind: 'disconnected', error: expect.stringContaining('no such file or folder') });
    await missing.stop();

    copyFileSync(path.join(PLATES, JPEGS[0]!), path.join(dir, 'a.jpg'));
    writeFileSync(path.join(dir, 'b.jpg'), readFileSync(path.join(PLATES, JPEGS[1]!)).subarray(0, 5000)); // cut short
    copyFileSync(path.join(PLATES, JPEGS[2]!), path.join(dir, 'c.jpg'));
    const cam = new ReplayCamera(cameraConfig<ReplayCameraConfig>({ id: 'rp', type: 'replay', source: dir, fps: 50, maxFps: 50 }), systemClock);
    const s2 = new CollectingSink();
    await cam.start(s2);
    await s2.until(() => s2.events.some((e) => e.kind === 'finished'), 5000, 'finished');
    await cam.stop();
    expect(s2.frames.map((f) => path.basename(f.origin))).toEqual(['a.jpg', 'c.jpg']);
    expect(s2.events).toContainEqual({ kind: 'error', error: expect.stringMatching(/b\.jpg: truncated JPEG/) });
  });
});

describe('directory camera', () => {
  function dirCamera(store: ReadStore, over: Record<string, unknown> = {}) {
    return new DirectoryCamera(
      cameraConfig<DirectoryCameraConfig>({ id: 'pole', type: 'directory', path: path.join(dir, 'in'), settleMs: 100, pollMs: 100, maxFps: 50, ...over }),
      store,
      systemClock,
    );
  }

  it('keeps the camera contract on files dropped into the folder', async () => {
    mkdirSync(path.join(dir, 'in'));
    for (const f of JPEGS.slice(0, 4)) copyFileSync(path.join(PLATES, f), path.join(dir, 'in', f));
    const store = ReadStore.open(path.join(dir, 'data'), { imageBudgetBytes: 1e8, clock: systemClock });
    try {
      const sink = await checkCameraContract(dirCamera(store), { frames: 4, cameraId: 'pole' });
      expect(new Set(sink.frames.map((f) => path.basename(f.origin)))).toEqual(new Set(JPEGS.slice(0, 4)));
    } finally {
      store.close();
    }
  });

  it('processes each file once, across restarts, and only once its reads are stored', async () => {
    mkdirSync(path.join(dir, 'in'));
    for (const f of JPEGS.slice(0, 3)) copyFileSync(path.join(PLATES, f), path.join(dir, 'in', f));
    const store = ReadStore.open(path.join(dir, 'data'), { imageBudgetBytes: 1e8, clock: systemClock });
    try {
      // first run: two frames processed, the third dropped (as on a stop before it was read)
      const cam = dirCamera(store);
      const sink = new CollectingSink();
      await cam.start(sink);
      await sink.until(() => sink.frames.length >= 3, 5000, '3 frames');
      await cam.stop();
      sink.frames[0]!.settle!('processed');
      sink.frames[1]!.settle!('processed');
      sink.frames[2]!.settle!('dropped');
      // second run (a restart): only the dropped file comes again, plus a new one
      copyFileSync(path.join(PLATES, JPEGS[5]!), path.join(dir, 'in', 'new.jpg'));
      const again = dirCamera(store);
      const sink2 = new CollectingSink();
      await again.start(sink2);
      await sink2.until(() => sink2.frames.length >= 2, 5000, '2 frames');
      await new Promise((r) => setTimeout(r, 400));
      await again.stop();
      expect(sink2.frames.map((f) => path.basename(f.origin)).sort()).toEqual([path.basename(sink.frames[2]!.origin), 'new.jpg'].sort());
    } finally {
      store.close();
    }
  });

  it('moves or deletes processed files per config', async () => {
    const store = ReadStore.open(path.join(dir, 'data'), { imageBudgetBytes: 1e8, clock: systemClock });
    try {
      for (const mode of ['move', 'delete'] as const) {
        rmSync(path.join(dir, 'in'), { recursive: true, force: true });
        mkdirSync(path.join(dir, 'in'));
        copyFileSync(path.join(PLATES, JPEGS[0]!), path.join(dir, 'in', `${mode}.jpg`));
        const cam = dirCamera(store, { afterProcessing: mode, moveTo: mode === 'move' ? path.join(dir, 'done') : '' });
        const sink = new CollectingSink();
        await cam.start(sink);
        await sink.until(() => sink.frames.length >= 1, 5000, 'a frame');
        sink.frames[0]!.settle!('processed');
        await new Promise((r) => setTimeout(r, 200));
        await cam.stop();
        expect(existsSync(path.join(dir, 'in', `${mode}.jpg`))).toBe(false);
        if (mode === 'move') expect(readFileSync(path.join(dir, 'done', 'move.jpg'))).toEqual(readFileSync(path.join(PLATES, JPEGS[0]!)));
      }
    } finally {
      store.close();
    }
  });

  it('waits for a file still being uploaded, and skips a broken one with a clear error', async () => {
    mkdirSync(path.join(dir, 'in'));
    const store = ReadStore.open(path.join(dir, 'data'), { imageBudgetBytes: 1e8, clock: systemClock });
    try {
      const cam = dirCamera(store, { settleMs: 600 });
      const sink = new CollectingSink();
      await cam.start(sink);
      const full = readFileSync(path.join(PLATES, JPEGS[0]!));
      // an upload in progress: the file grows, then stops growing
      writeFileSync(path.join(dir, 'in', 'up.jpg'), full.subarray(0, 1000));
      await new Promise((r) => setTimeout(r, 300));
      writeFileSync(path.join(dir, 'in', 'up.jpg'), full.subarray(0, 20_000));
      await new Promise((r) => setTimeout(r, 300));
      writeFileSync(path.join(dir, 'in', 'up.jpg'), full);
      writeFileSync(path.join(dir, 'in', 'junk.jpg'), 'not an image at all, but named like one');
      await sink.until(() => sink.frames.length >= 1 && sink.events.some((e) => e.kind === 'error'), 5000, 'a frame and an error');
      await cam.stop();
      expect(sink.frames).toHaveLength(1);
      expect(sink.frames[0]!.image).toEqual(full);
      expect(sink.events).toContainEqual({ kind: 'error', error: expect.stringContaining('junk.jpg') });
    } finally {
      store.close();
    }
  });

  it('an unreadable or missing folder is reported and retried; the camera recovers when it is back', async () => {
    const store = ReadStore.open(path.join(dir, 'data'), { imageBudgetBytes: 1e8, clock: systemClock });
    try {
      const cam = dirCamera(store);
      const sink = new CollectingSink();
      await cam.start(sink);
      await sink.until(() => sink.events.some((e) => e.kind === 'disconnected'), 3000, 'disconnected');
      expect(sink.events[0]).toMatchObject({ kind: 'disconnected', error: expect.stringContaining('cannot read folder') });
      expect(cam.status().connected).toBe(false);
      mkdirSync(path.join(dir, 'in'));
      copyFileSync(path.join(PLATES, JPEGS[0]!), path.join(dir, 'in', 'x.jpg'));
      await sink.until(() => sink.frames.length >= 1, 5000, 'a frame after recovery');
      expect(sink.events.some((e) => e.kind === 'connected')).toBe(true);
      await cam.stop();
    } finally {
      store.close();
    }
  });
});

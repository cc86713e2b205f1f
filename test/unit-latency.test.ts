import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../src/config/schema.js';
import { Hotlists } from '../src/hotlist/hotlists.js';
import { createLogger } from '../src/log/logger.js';
import { openStore } from '../src/store/open.js';
import { Unit, type HitEvent, type ReadEvent } from '../src/unit/unit.js';
import { systemClock } from '../src/util/clock.js';
import { until } from './helpers.js';

/**
 * Frame-to-alert latency through the whole unit (#15 item 5): a plate on a hot list is stored, matched and alerted
 * on at once, without waiting grouping.maxDelayMs to gather frames; a plate on no list keeps the grouping delay.
 * Two replay cameras show one parked car each (the same fixture in every frame, so each car stays in view):
 * 7ABC123 (on the hot list) and ABC1234 (on none). The unit runs in this process (its recognition worker is
 * dist/src/pipeline/vision-worker.js: run `npm run build` first).
 */

const ROOT = path.join(import.meta.dirname, '..');
const PLATES = path.join(ROOT, 'test-fixtures', 'plates');
const MAX_DELAY_MS = 3000;

let dir: string;
let unit: Unit | undefined;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'alpr-latency-'));
});
afterAll(async () => {
  await unit?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('frame-to-alert latency', () => {
  it('a hot list plate is alerted on before grouping.maxDelayMs; a plain plate is reported after it; one read and one alert per car', async () => {
    const config = configSchema.parse({
      unit: { id: 'car-7' },
      data: { dir: path.join(dir, 'data') },
      log: { level: 'silent' },
      grouping: { maxDelayMs: MAX_DELAY_MS, leaveAfterMs: 30_000 },
      cameras: [
        { id: 'hot', type: 'replay', source: PLATES, pattern: 'us-ca-clean.jpg', fps: 4, loop: true },
        { id: 'plain', type: 'replay', source: PLATES, pattern: 'us-tx-rotated.jpg', fps: 4, loop: true },
      ],
    });
    // the hot list, imported before the shift
    const listFile = path.join(dir, 'stolen.txt');
    writeFileSync(listFile, '7ABC123\n');
    const { store } = openStore(config, systemClock);
    try {
      const r = Hotlists.open(store.database, { config: config.hotlists, clock: systemClock }).importFile(listFile, {
        list: 'stolen',
        format: 'lines',
        category: 'stolen vehicle',
        user: 'test',
      });
      expect(r.status).toBe('imported');
    } finally {
      store.close();
    }

    const reads: Array<{ at: number; e: ReadEvent }> = [];
    const hits: HitEvent[] = [];
    unit = await Unit.start(config, createLogger('silent'), systemClock);
    unit.on('read', (e) => reads.push({ at: systemClock(), e }));
    unit.on('hit', (e) => hits.push(e));

    const newReads = (camera: string) => reads.filter((r) => r.e.kind === 'new' && r.e.read.cameraId === camera);
    await until(() => hits.length >= 1, 60_000, 'the hot list hit');
    const hit = hits[0]!;
    expect(hit.read.plate).toBe('7ABC123');
    expect(hit.alert.suppressed).toBeNull();
    // from the capture of the car's first frame read to the alert in the outbox: not held back by grouping
    expect(hit.alert.alert.raisedAt - hit.read.firstSeen).toBeLessThan(MAX_DELAY_MS);

    // the plain car waits for the grouping delay, as before
    // (the fixture also shows an EXIT 12 road sign, which may be read as a read of its own: the car's is ABC1234)
    await until(() => newReads('plain').some((r) => r.e.read.plate === 'ABC1234'), 60_000, 'the plain read');
    const plain = newReads('plain').find((r) => r.e.read.plate === 'ABC1234')!;
    expect(plain.at - plain.e.read.firstSeen).toBeGreaterThanOrEqual(MAX_DELAY_MS);

    // more frames of the hot car update its read: still one read and one alert
    await until(() => reads.some((r) => r.e.kind === 'update' && r.e.read.cameraId === 'hot' && r.e.read.frameCount >= 3), 60_000, 'updates of the hot read');
    expect(newReads('hot')).toHaveLength(1);
    expect(hits).toHaveLength(1);
    await unit.stop();
    unit = undefined;
  }, 120_000);
});

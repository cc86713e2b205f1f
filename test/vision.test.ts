import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { configSchema } from '../src/config/schema.js';
import { Vision, VisionError } from '../src/pipeline/vision.js';

/**
 * The recognition worker thread as the unit uses it (compiled: dist/src/pipeline/vision-worker.js). When the
 * worker dies (a native crash, out of memory) the unit must hear of it once, the frames it held must fail
 * rather than hang, and later frames must be refused at once with the reason: the unit then stores what it has
 * and exits for systemd to restart it (OpenCV's binding cannot be loaded again in a new thread).
 */

const PLATES = path.join(import.meta.dirname, '..', 'test-fixtures', 'plates');
const config = configSchema.parse({}).recognition;
let vision: Vision | undefined;

afterEach(async () => {
  await vision?.close();
  vision = undefined;
});

describe('the recognition worker', () => {
  it('reads a frame, and when the worker dies: the frames it held fail, onFatal is told once, later frames are refused', async () => {
    vision = await Vision.start(config);
    expect(vision.ready).toBe(true);
    const image = readFileSync(path.join(PLATES, 'us-ca-clean.jpg'));
    const result = await vision.recognize(image, { country: 'us' });
    expect(result.plates.map((p) => p.text)).toContain('7ABC123');

    const fatal: Error[] = [];
    vision.onFatal = (err) => fatal.push(err);
    // three frames in flight, then the thread is killed under them (as a crash would end it)
    const held = [0, 1, 2].map(() => vision!.recognize(image, { country: 'us' }).then(() => 'read', (e: Error) => e));
    const worker = (vision as unknown as { worker: Worker }).worker;
    await worker.terminate();
    const outcomes = await Promise.all(held);
    expect(outcomes.filter((o) => o !== 'read').length).toBeGreaterThan(0);
    for (const o of outcomes) {
      // a frame may have been read just before the end; none may hang
      if (o !== 'read') {
        expect(o).toBeInstanceOf(VisionError);
        expect((o as Error).message).toMatch(/recognition worker died \(exit code \d+\)/);
      }
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(fatal).toHaveLength(1);
    expect(fatal[0]!.message).toMatch(/recognition worker died/);
    expect(vision.ready).toBe(false);
    expect(vision.lastError).toMatch(/recognition worker died/);
    await expect(vision.recognize(image, { country: 'us' })).rejects.toThrow(/recognition worker died/);
  });
});

/**
 * The contract every camera type must keep, run against the real implementations (see camera-*.test.ts).
 * A camera under test is started into a collecting sink; what a user of the unit would notice is checked:
 * frames arrive as real images with increasing sequence numbers and sane times, stop() really stops.
 */
import { expect } from 'vitest';
import type { Camera, CameraEvent, Frame, FrameSink } from '../src/camera/types.js';
import { sniffImage } from '../src/recognition/image-header.js';

export class CollectingSink implements FrameSink {
  readonly frames: Frame[] = [];
  readonly events: CameraEvent[] = [];
  private waiters: Array<() => void> = [];
  /** Milliseconds each offer takes to resolve (simulates a busy unit for queued cameras). */
  offerDelayMs = 0;

  async offer(frame: Frame): Promise<void> {
    this.frames.push(frame);
    this.wake();
    if (this.offerDelayMs > 0) await new Promise((r) => setTimeout(r, this.offerDelayMs));
  }
  report(event: CameraEvent): void {
    this.events.push(event);
    this.wake();
  }
  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
  /** Resolves when `test()` holds, rejects after `ms` with what was collected so far. */
  async until(test: () => boolean, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms;
    while (!test()) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `timed out after ${ms} ms waiting for ${what}; frames: ${this.frames.length}; events: ${JSON.stringify(this.events)}`,
        );
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
}

/**
 * Starts `camera`, waits for `frames` frames, stops it, and checks the contract. Returns the sink for
 * type-specific checks.
 */
export async function checkCameraContract(
  camera: Camera,
  opts: { frames: number; timeoutMs?: number; cameraId: string },
): Promise<CollectingSink> {
  const sink = new CollectingSink();
  const before = Date.now();
  await camera.start(sink);
  try {
    await sink.until(() => sink.frames.length >= opts.frames, opts.timeoutMs ?? 15_000, `${opts.frames} frames`);
  } finally {
    await camera.stop();
  }
  const after = Date.now();
  const status = camera.status();
  expect(status.id).toBe(opts.cameraId);
  expect(status.frames).toBe(sink.frames.length);
  let lastSeq = 0;
  for (const f of sink.frames) {
    expect(f.cameraId).toBe(opts.cameraId);
    expect(f.seq).toBeGreaterThan(lastSeq);
    lastSeq = f.seq;
    expect(f.capturedAt).toBeGreaterThanOrEqual(before - 1000);
    expect(f.capturedAt).toBeLessThanOrEqual(after + 1000);
    expect(['jpeg', 'png']).toContain(sniffImage(f.image).format);
    expect(f.origin.length).toBeGreaterThan(0);
  }
  // nothing arrives after stop() has resolved
  const count = sink.frames.length;
  await new Promise((r) => setTimeout(r, 300));
  expect(sink.frames.length).toBe(count);
  // stop() twice is harmless
  await camera.stop();
  return sink;
}

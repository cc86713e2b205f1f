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
  /** When each event came (performance.now()), index for index with `events`. */
  readonly eventTimes: number[] = [];
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
    this.eventTimes.push(performance.now());
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

/**
 * A camera that lost its source and announced a retry stops without waiting for it: stop() resolves while the
 * retry is still pending (before half its wait has passed), and nothing is reported afterwards. Give the camera a
 * long retry wait (tens of seconds): then only a stop() that waits for the retry fails this, never a busy machine.
 */
export async function expectStopBeforeRetry(camera: Camera, sink: CollectingSink): Promise<void> {
  const last = sink.events.findLastIndex((e) => e.kind === 'disconnected');
  expect(last, 'a disconnected report announcing a retry').toBeGreaterThanOrEqual(0);
  const retryInMs = (sink.events[last] as Extract<CameraEvent, { kind: 'disconnected' }>).retryInMs ?? 0;
  expect(retryInMs).toBeGreaterThanOrEqual(20_000);
  let timer: NodeJS.Timeout | undefined;
  const halfway = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve('half the retry wait passed first'), sink.eventTimes[last]! + retryInMs / 2 - performance.now());
  });
  const first = await Promise.race([camera.stop().then(() => 'stopped'), halfway]);
  clearTimeout(timer);
  expect(first).toBe('stopped');
  const reported = sink.events.length;
  await new Promise((r) => setTimeout(r, 300));
  expect(sink.events).toHaveLength(reported);
}

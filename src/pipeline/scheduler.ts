import type { Frame } from '../camera/types.js';
import type { Clock } from '../util/clock.js';

/**
 * Frames from every camera wait here for recognition. Each camera has its own short queue (queueDepth). When a
 * live camera's queue is full, its oldest waiting frame is dropped (the latest frame wins: a plate seen now
 * matters more than one seen a second ago) and counted; a queued camera (a watched folder) instead waits until
 * there is room, so its files wait on disk. Memory is therefore bounded by cameras x queueDepth frames, plus the
 * frames in recognition (concurrency). Cameras are served round-robin, so a fast camera cannot starve a slow one.
 */

export interface CameraCounters {
  offered: number;
  processed: number;
  dropped: number;
  failed: number;
}

interface Lane {
  cameraId: string;
  live: boolean;
  queue: Frame[];
  /** Queued cameras waiting for room. */
  roomWaiters: Array<() => void>;
  counters: CameraCounters;
  /** Frames of this camera in recognition now. */
  inflight: number;
  /** Recent events for rates: [time, kind]. */
  recent: Array<[number, 'in' | 'done' | 'drop']>;
}

export type FrameProcessor = (frame: Frame) => Promise<void>;

export class Scheduler {
  private readonly lanes = new Map<string, Lane>();
  private order: string[] = [];
  private next = 0;
  private inflight = 0;
  private accepting = true;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly process: FrameProcessor,
    private readonly opts: {
      queueDepth: number;
      concurrency: number;
      /** The unit's clock: when frames come in, are read or dropped (for `rates`). */
      clock: Clock;
    },
  ) {}

  addCamera(cameraId: string, delivery: 'live' | 'queued'): void {
    this.lanes.set(cameraId, {
      cameraId,
      live: delivery === 'live',
      queue: [],
      roomWaiters: [],
      counters: { offered: 0, processed: 0, dropped: 0, failed: 0 },
      inflight: 0,
      recent: [],
    });
    this.order = [...this.lanes.keys()];
  }

  /** A frame from a camera; see the class comment for what happens when the camera's queue is full. */
  async offer(frame: Frame): Promise<void> {
    const lane = this.lanes.get(frame.cameraId);
    if (!lane) throw new Error(`unknown camera ${frame.cameraId}`);
    if (!this.accepting) {
      settle(frame, 'dropped');
      return;
    }
    if (!lane.live) {
      while (lane.queue.length >= this.opts.queueDepth && this.accepting) {
        await new Promise<void>((r) => lane.roomWaiters.push(r));
      }
      if (!this.accepting) {
        settle(frame, 'dropped');
        return;
      }
    }
    lane.counters.offered++;
    this.note(lane, 'in');
    lane.queue.push(frame);
    while (lane.queue.length > this.opts.queueDepth) {
      const old = lane.queue.shift()!;
      lane.counters.dropped++;
      this.note(lane, 'drop');
      settle(old, 'dropped');
    }
    this.pump();
  }

  /** Whether a camera has frames waiting or in recognition (the grouper waits for them before closing a plate). */
  busy(cameraId: string): boolean {
    const lane = this.lanes.get(cameraId);
    return lane !== undefined && (lane.queue.length > 0 || lane.inflight > 0);
  }

  get idle(): boolean {
    return this.inflight === 0 && [...this.lanes.values()].every((l) => l.queue.length === 0);
  }

  counters(cameraId: string): CameraCounters | undefined {
    return this.lanes.get(cameraId)?.counters;
  }

  /** Frames per second over the last `windowMs`: offered, processed and dropped. */
  rates(cameraId: string, windowMs = 10_000, now = this.opts.clock()): { in: number; processed: number; dropped: number } {
    const lane = this.lanes.get(cameraId);
    const r = { in: 0, processed: 0, dropped: 0 };
    if (!lane) return r;
    for (const [t, kind] of lane.recent) {
      if (now - t > windowMs) continue;
      if (kind === 'in') r.in++;
      else if (kind === 'done') r.processed++;
      else r.dropped++;
    }
    const s = windowMs / 1000;
    return { in: r.in / s, processed: r.processed / s, dropped: r.dropped / s };
  }

  get inflightFrames(): number {
    return this.inflight;
  }

  get waitingFrames(): number {
    let n = 0;
    for (const l of this.lanes.values()) n += l.queue.length;
    return n;
  }

  /**
   * Stops taking frames; waiting frames are dropped (a watched folder's files stay unprocessed and are read after
   * a restart); resolves when the frames in recognition have finished or `timeoutMs` has passed.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    this.accepting = false;
    for (const lane of this.lanes.values()) {
      for (const f of lane.queue.splice(0)) {
        lane.counters.dropped++;
        settle(f, 'dropped');
      }
      for (const w of lane.roomWaiters.splice(0)) w();
    }
    if (this.inflight === 0) return true;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Resolves when nothing is waiting or in recognition. */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private pump(): void {
    while (this.inflight < this.opts.concurrency) {
      const lane = this.pickLane();
      if (!lane) return;
      const frame = lane.queue.shift()!;
      lane.roomWaiters.shift()?.();
      this.inflight++;
      lane.inflight++;
      this.process(frame)
        .then(
          () => {
            lane.counters.processed++;
            this.note(lane, 'done');
          },
          () => {
            lane.counters.failed++;
          },
        )
        .finally(() => {
          this.inflight--;
          lane.inflight--;
          if (this.idle) for (const w of this.idleWaiters.splice(0)) w();
          this.pump();
        });
    }
  }

  private note(lane: Lane, kind: 'in' | 'done' | 'drop'): void {
    const now = this.opts.clock();
    lane.recent.push([now, kind]);
    // keep about a minute of history, bounded
    while (lane.recent.length > 0 && (now - lane.recent[0]![0] > 60_000 || lane.recent.length > 20_000)) lane.recent.shift();
  }

  private pickLane(): Lane | undefined {
    for (let i = 0; i < this.order.length; i++) {
      const lane = this.lanes.get(this.order[(this.next + i) % this.order.length]!)!;
      if (lane.queue.length > 0) {
        this.next = (this.next + i + 1) % this.order.length;
        return lane;
      }
    }
    return undefined;
  }
}

function settle(frame: Frame, outcome: 'dropped'): void {
  try {
    frame.settle?.(outcome);
  } catch {
    // a camera's bookkeeping must not break the scheduler
  }
}

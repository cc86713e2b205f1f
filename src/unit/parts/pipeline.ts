import type { Frame } from '../../camera/types.js';
import type { CameraConfig } from '../../config/schema.js';
import type { Logger } from '../../log/logger.js';
import { Scheduler } from '../../pipeline/scheduler.js';
import type { Part, UnitContext } from '../runtime.js';
import type { RecognitionPart } from './recognition.js';

/**
 * The scheduler (per-camera queues, the latest frame wins) feeding the recognition worker: each frame read is a
 * `frame` event. Every 100 ms a `tick`. Stopping lets the frames already taken finish (pipeline.stopTimeoutMs).
 */
export class PipelinePart implements Part {
  readonly name = 'pipeline';
  private current: Scheduler | undefined;
  private ctx: UnitContext | undefined;
  private logger: Logger | undefined;
  private readonly cameras = new Map<string, CameraConfig>();
  private readonly latestFrameAt = new Map<string, number>();
  /** Capture to recognised of the last 1000 frames (ms). */
  private readonly latencies: number[] = [];
  private tickTimer: NodeJS.Timeout | undefined;

  constructor(private readonly recognition: RecognitionPart) {}

  get scheduler(): Scheduler {
    if (!this.current) throw new Error('the pipeline part has not started');
    return this.current;
  }

  start(ctx: UnitContext): void {
    const { config, clock, bus } = ctx;
    this.ctx = ctx;
    this.logger = ctx.logger;
    for (const c of config.cameras) this.cameras.set(c.id, c);
    const scheduler = new Scheduler((frame) => this.processFrame(frame), {
      queueDepth: config.pipeline.queueDepth,
      concurrency: config.pipeline.concurrency,
      clock,
    });
    this.current = scheduler;
    const tick = {
      now: 0,
      busy: (id: string) => scheduler.busy(id),
      latestFrameAt: (id: string) => this.latestFrameAt.get(id),
    };
    this.tickTimer = setInterval(() => bus.emit('tick', { ...tick, now: clock() }), 100);
  }

  async stop(): Promise<void> {
    if (!this.current || !this.ctx) return;
    const timeoutMs = this.ctx.config.pipeline.stopTimeoutMs;
    const drained = await this.current.drain(timeoutMs);
    if (!drained) this.ctx.logger.warn({ timeoutMs }, 'frames still in recognition at stop were abandoned');
    clearInterval(this.tickTimer);
  }

  /** Capture to recognised over the last frames (ms). */
  latency(q: number): number | null {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : null;
  }

  /** Recognises one frame and tells its plates (`frame`). */
  private async processFrame(frame: Frame): Promise<void> {
    const { config, clock, bus } = this.ctx!;
    const camera = this.cameras.get(frame.cameraId)!;
    let result;
    try {
      result = await this.recognition.vision.recognize(frame.image, {
        country: camera.regionHint ?? config.recognition.country,
        roi: camera.roi,
      });
    } catch (err) {
      this.logger!.warn({ camera: frame.cameraId, frame: frame.origin, err: (err as Error).message }, 'frame not read');
      frame.settle?.('failed');
      throw err;
    }
    const recognizedAt = clock();
    this.latencies.push(recognizedAt - frame.capturedAt);
    if (this.latencies.length > 1000) this.latencies.splice(0, this.latencies.length - 1000);
    this.latestFrameAt.set(frame.cameraId, Math.max(this.latestFrameAt.get(frame.cameraId) ?? 0, frame.capturedAt));
    bus.emit('frame', { frame, recognizedAt, plates: result.plates });
  }
}

import { createCamera } from '../../camera/index.js';
import type { Camera, CameraEvent, CameraStatus, Frame, FrameSink } from '../../camera/types.js';
import type { CameraConfig } from '../../config/schema.js';
import type { Logger } from '../../log/logger.js';
import type { CameraCounters } from '../../pipeline/scheduler.js';
import type { Part, UnitContext } from '../runtime.js';
import type { PipelinePart } from './pipeline.js';
import type { ReadsPart } from './reads.js';

export interface CameraHealth extends CameraStatus {
  name: string;
  direction: string;
  fps: { in: number; processed: number; dropped: number };
  counters: CameraCounters;
  /** Frames of this camera dropped because store.pendingReadsMax reads waited to be stored (a full disk). */
  droppedForStorage?: number;
  finished: boolean;
}

interface Entry {
  config: CameraConfig;
  camera?: Camera;
  finished: boolean;
  startError?: string;
}

/**
 * The cameras of the config, each made by its type (src/camera/index.ts) and offering frames to the pipeline. One
 * that cannot start does not stop the others. Stopping stops them all at once, at most 5 s each.
 */
export class CamerasPart implements Part {
  readonly name = 'cameras';
  private ctx: UnitContext | undefined;
  private readonly entries = new Map<string, Entry>();
  private readonly droppedForStorage = new Map<string, number>();
  private stopping = false;

  constructor(
    private readonly pipeline: PipelinePart,
    private readonly reads: ReadsPart,
  ) {}

  async start(ctx: UnitContext): Promise<void> {
    const { config, logger, store, clock, bus } = ctx;
    this.ctx = ctx;
    bus.on(this.name, 'stopping', () => (this.stopping = true));
    for (const cameraConfig of config.cameras) {
      const entry: Entry = { config: cameraConfig, finished: false };
      this.entries.set(cameraConfig.id, entry);
      if (!cameraConfig.enabled) {
        entry.finished = true;
        continue;
      }
      const log = logger.child({ camera: cameraConfig.id });
      try {
        const camera = await createCamera(cameraConfig, { ledger: store, clock });
        entry.camera = camera;
        this.pipeline.scheduler.addCamera(cameraConfig.id, camera.delivery);
        const sink: FrameSink = {
          offer: (frame) => this.offerFrame(frame, camera.delivery),
          report: (event) => this.onCameraEvent(entry, event, log),
        };
        await camera.start(sink);
      } catch (err) {
        // one camera that cannot start does not stop the others
        entry.startError = (err as Error).message;
        entry.finished = true;
        log.error({ type: cameraConfig.type, err: entry.startError }, 'camera cannot start');
      }
    }
    if (config.cameras.length === 0) logger.warn('no cameras configured (cameras: [] in the config)');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.entries.values()].map(async ({ camera, config }) => {
        try {
          await withTimeout(camera?.stop(), 5000, `camera ${config.id} did not stop`);
        } catch (err) {
          this.ctx!.logger.warn({ camera: config.id, err: (err as Error).message }, 'camera stop');
        }
      }),
    );
  }

  ids(): string[] {
    return [...this.entries.keys()];
  }

  /** Whether the camera is enabled in the config (true for one the part does not know). */
  enabled(id: string): boolean {
    return this.entries.get(id)?.config.enabled ?? true;
  }

  /** Every camera has finished (a finite replay, a camera that cannot start or is disabled). */
  get finished(): boolean {
    for (const e of this.entries.values()) if (!e.finished) return false;
    return true;
  }

  /** Whether a camera's frames were dropped in the last 2 s (the scheduler could not keep up). */
  fallingBehind(now: number): boolean {
    for (const id of this.entries.keys()) if (this.pipeline.scheduler.rates(id, 2000, now).dropped > 0) return true;
    return false;
  }

  status(now: number): CameraHealth[] {
    const scheduler = this.pipeline.scheduler;
    return [...this.entries.values()].map(({ config, camera, finished, startError }) => {
      const base: CameraStatus = camera?.status() ?? {
        id: config.id,
        type: config.type,
        connected: false,
        frames: 0,
        lastFrameAt: null,
        lastError: startError ?? (config.enabled ? null : 'disabled in the config'),
        detail: '',
      };
      return {
        ...base,
        name: config.name,
        direction: config.direction,
        fps: scheduler.rates(config.id, 10_000, now),
        counters: scheduler.counters(config.id) ?? { offered: 0, processed: 0, dropped: 0, failed: 0 },
        droppedForStorage: this.droppedForStorage.get(config.id) ?? 0,
        finished,
      };
    });
  }

  private onCameraEvent(entry: Entry, event: CameraEvent, log: Logger): void {
    switch (event.kind) {
      case 'connected':
        log.info({ detail: event.detail }, 'camera connected');
        break;
      case 'disconnected':
        log.warn({ err: event.error, retryInMs: event.retryInMs }, 'camera disconnected');
        if (event.retryInMs === undefined) entry.finished = true;
        break;
      case 'error':
        log.warn({ err: event.error }, 'camera problem');
        break;
      case 'finished':
        log.info('camera source finished');
        entry.finished = true;
        break;
    }
  }

  /**
   * A camera's frame. While store.pendingReadsMax reads wait in memory to be stored, a live camera's frame is
   * dropped (counted) rather than a read; a queued camera (a watched folder) waits, its files staying on disk.
   */
  private async offerFrame(frame: Frame, delivery: 'live' | 'queued'): Promise<void> {
    const storage = this.reads.storage;
    if (delivery === 'queued') {
      while (!storage.hasRoom && !this.stopping) {
        await new Promise((r) => setTimeout(r, 200));
      }
    } else if (!storage.admitFrame()) {
      this.droppedForStorage.set(frame.cameraId, (this.droppedForStorage.get(frame.cameraId) ?? 0) + 1);
      frame.settle?.('dropped');
      return;
    }
    return this.pipeline.scheduler.offer(frame);
  }
}

async function withTimeout<T>(p: Promise<T> | undefined, ms: number, message: string): Promise<T | undefined> {
  if (!p) return undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Country, RecognitionConfig } from '../recognition/config.js';
import type { Logger } from '../log/logger.js';
import { packageRoot } from '../util/paths.js';
import type { VisionJob, VisionPlate, VisionReply } from './vision-protocol.js';

export interface VisionResult {
  width: number;
  height: number;
  decodeMs: number;
  ms: number;
  plates: VisionPlate[];
}

export class VisionError extends Error {
  override name = 'VisionError';
}

interface Pending {
  resolve: (r: VisionResult) => void;
  reject: (e: Error) => void;
}

/**
 * The main thread's handle on the recognition worker (vision-worker.ts). A worker that dies (an uncaught error,
 * out of memory) fails the frames it held and calls `onFatal`: it cannot be replaced in the same process.
 */
export class Vision {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closing = false;
  private starting: Promise<void> | undefined;
  /** Called when the worker dies after it was ready; recognition cannot continue in this process. */
  onFatal: ((err: Error) => void) | undefined;
  ocrWorkers = 0;
  lastError: string | null = null;

  private constructor(
    private readonly config: RecognitionConfig,
    private readonly logger?: Logger,
  ) {}

  /** Starts the worker and waits until its recognizer is ready; rejects if it cannot start (e.g. no tessdata). */
  static async start(config: RecognitionConfig, logger?: Logger): Promise<Vision> {
    const v = new Vision(config, logger);
    await v.spawn();
    return v;
  }

  get inflight(): number {
    return this.pending.size;
  }

  get ready(): boolean {
    return this.worker !== undefined && this.starting === undefined;
  }

  recognize(image: Buffer, opts: { country: Country; roi?: Array<[number, number]> }): Promise<VisionResult> {
    return new Promise<VisionResult>((resolve, reject) => {
      if (this.closing) {
        reject(new VisionError('recognition is stopping'));
        return;
      }
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      const send = () => {
        const job: VisionJob = { type: 'frame', id, image: new Uint8Array(image), country: opts.country, roi: opts.roi };
        this.worker!.postMessage(job, [job.image.buffer as ArrayBuffer]);
      };
      if (this.worker && !this.starting) send();
      else if (this.starting) {
        void this.starting.then(() => {
          if (this.pending.has(id) && this.worker) send();
        });
      } else {
        this.pending.delete(id);
        reject(new VisionError(this.lastError ?? 'recognition is not running'));
      }
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    const w = this.worker;
    this.worker = undefined;
    if (!w) return;
    const exited = new Promise<void>((r) => w.once('exit', () => r()));
    w.postMessage({ type: 'close' });
    const timer = setTimeout(() => void w.terminate(), 3000);
    await exited;
    clearTimeout(timer);
    this.failAll(new VisionError('recognition stopped'));
  }

  private spawn(): Promise<void> {
    const file = path.join(packageRoot(), 'dist', 'src', 'pipeline', 'vision-worker.js');
    const worker = new Worker(file, { workerData: { recognition: this.config } });
    this.worker = worker;
    this.starting = new Promise<void>((resolve, reject) => {
      let ready = false;
      worker.on('message', (msg: VisionReply) => {
        switch (msg.type) {
          case 'ready':
            ready = true;
            this.ocrWorkers = msg.ocrWorkers;
            this.starting = undefined;
            resolve();
            break;
          case 'fatal':
            this.lastError = msg.error;
            reject(new VisionError(`recognition cannot start: ${msg.error}`));
            break;
          case 'error':
            this.settle(msg.id, undefined, new VisionError(msg.error));
            break;
          case 'result':
            // a region the reader threw on is lost for this frame only: say so, the rest of the frame was read
            if (msg.errors) this.logger?.warn({ errors: msg.errors.slice(0, 5), count: msg.errors.length }, 'plate regions could not be read');
            this.settle(msg.id, { width: msg.width, height: msg.height, decodeMs: msg.decodeMs, ms: msg.ms, plates: msg.plates });
            break;
        }
      });
      worker.on('error', (err) => {
        this.lastError = err.message;
        this.logger?.error({ err: err.message }, 'recognition worker failed');
      });
      worker.on('exit', (code) => {
        if (this.worker !== worker) return; // closed on purpose
        this.worker = undefined;
        if (!ready) {
          reject(new VisionError(`recognition worker exited while starting (code ${code})${this.lastError ? `: ${this.lastError}` : ''}`));
          return;
        }
        if (this.closing) return;
        // OpenCV's binding cannot be loaded again in a new thread of the same process (it crashes), so a dead
        // worker is not replaced here: the unit is told, stores what it has, and exits for systemd to restart it.
        const err = new VisionError(`recognition worker died (exit code ${code})${this.lastError ? `: ${this.lastError}` : ''}`);
        this.lastError = err.message;
        this.failAll(err);
        this.onFatal?.(err);
      });
    });
    return this.starting;
  }

  private settle(id: number, result?: VisionResult, error?: Error): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (error) p.reject(error);
    else p.resolve(result!);
  }

  private failAll(err: Error): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(err);
    }
  }
}

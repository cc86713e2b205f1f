import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readdir, readFile, rename, stat, unlink, copyFile } from 'node:fs/promises';
import path from 'node:path';
import type { CameraConfig } from './config.js';
import { sniffImage } from '../recognition/image-header.js';
import { Backoff, CameraHealth, RateLimiter, type Camera, type CameraStatus, type FrameOutcome, type FrameSink } from './types.js';
import type { Clock } from '../util/clock.js';

export type DirectoryCameraConfig = Extract<CameraConfig, { type: 'directory' }>;

/** Remembers which files were processed, across restarts (the read store's directory_files table). */
export interface FileLedger {
  isFileDone(cameraId: string, name: string, size: number, mtimeMs: number): boolean;
  markFileDone(cameraId: string, name: string, size: number, mtimeMs: number, outcome: 'processed' | 'failed'): void;
}

const IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png']);

interface Seen {
  size: number;
  mtimeMs: number;
  /** When this size and time were first observed. */
  since: number;
}

/**
 * A folder into which a fixed camera drops images (often by FTP). Each file is processed once, even across
 * restarts: the ledger records name, size and modification time once the file's reads are stored (a file
 * dropped under back-pressure or interrupted by a stop is simply read again later). A file is read only after
 * its size and time have stayed the same for `settleMs` (an upload in progress is not read half-written).
 * Processed files are kept, moved or deleted per `afterProcessing`. Frames wait on disk, not in memory: the
 * camera offers the next file only when the unit has room for it.
 */
export class DirectoryCamera implements Camera {
  readonly type = 'directory';
  readonly delivery = 'queued' as const;
  private running = false;
  private loop: Promise<void> | undefined;
  private watcher: FSWatcher | undefined;
  private wake: (() => void) | undefined;
  private readonly seen = new Map<string, Seen>();
  /** Files offered whose outcome is not known yet. */
  private readonly inPipeline = new Set<string>();
  /** Files known to be done (name -> "size:mtime"), so a folder of kept files is not re-checked in the ledger. */
  private readonly done = new Map<string, string>();
  private seq = 0;
  private readonly health = new CameraHealth();
  private readonly limiter: RateLimiter;

  constructor(
    private readonly config: DirectoryCameraConfig,
    private readonly ledger: FileLedger,
    /** The unit's clock: a file's capture time when its own is in the future, and the pace of capture. */
    private readonly clock: Clock,
  ) {
    this.limiter = new RateLimiter(config.maxFps);
  }

  get id(): string {
    return this.config.id;
  }

  async start(sink: FrameSink): Promise<void> {
    if (this.running) return;
    if (this.config.afterProcessing === 'move' && this.config.moveTo === '') {
      throw new Error(`camera ${this.id}: afterProcessing "move" needs moveTo`);
    }
    this.running = true;
    this.loop = this.run(sink);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.watcher?.close();
    this.watcher = undefined;
    this.wake?.();
    await this.loop;
  }

  status(): CameraStatus {
    return this.health.status(this, `${this.config.path} (${this.inPipeline.size} in progress)`);
  }

  private async run(sink: FrameSink): Promise<void> {
    const backoff = new Backoff(this.config.pollMs, Math.max(this.config.pollMs, 30_000));
    while (this.running) {
      let names: string[];
      try {
        names = await readdir(this.config.path);
        if (!this.health.connected) {
          this.health.connected = true;
          this.health.lastError = null;
          sink.report({ kind: 'connected', detail: this.config.path });
          this.watch();
        }
        backoff.reset();
      } catch (err) {
        const wait = backoff.take();
        const message = `cannot read folder ${this.config.path}: ${(err as Error).message}`;
        if (this.health.connected || this.health.lastError !== message) sink.report({ kind: 'disconnected', error: message, retryInMs: wait });
        this.health.connected = false;
        this.health.lastError = message;
        this.watcher?.close();
        this.watcher = undefined;
        await this.sleep(wait);
        continue;
      }
      const ready = await this.settled(names);
      for (const file of ready) {
        if (!this.running) break;
        await this.deliver(file, sink);
      }
      // nothing ready that has not settled: wait for the next change or poll
      if (this.running) await this.sleep(ready.length > 0 ? 0 : this.settleWait());
    }
  }

  /** Files whose size and time have held still for settleMs, not yet processed, oldest first. */
  private async settled(names: string[]): Promise<Array<{ name: string; size: number; mtimeMs: number }>> {
    const now = this.clock();
    const out: Array<{ name: string; size: number; mtimeMs: number }> = [];
    const present = new Set<string>();
    for (const name of names) {
      if (name.startsWith('.') || !IMAGE_EXT.has(path.extname(name).toLowerCase())) continue;
      present.add(name);
      if (this.inPipeline.has(name)) continue;
      let st;
      try {
        st = await stat(path.join(this.config.path, name));
      } catch {
        continue; // gone between listing and stat
      }
      if (!st.isFile()) continue;
      const stamp = `${st.size}:${Math.trunc(st.mtimeMs)}`;
      if (this.done.get(name) === stamp) continue;
      if (this.ledger.isFileDone(this.id, name, st.size, st.mtimeMs)) {
        this.done.set(name, stamp);
        // done before (perhaps before a restart) but the move or delete did not happen: finish it
        if (this.config.afterProcessing !== 'keep') await this.dispose(name).catch(() => undefined);
        continue;
      }
      const prev = this.seen.get(name);
      if (!prev || prev.size !== st.size || prev.mtimeMs !== st.mtimeMs) {
        this.seen.set(name, { size: st.size, mtimeMs: st.mtimeMs, since: now });
        if (this.config.settleMs > 0) continue;
      } else if (now - prev.since < this.config.settleMs) {
        continue;
      }
      out.push({ name, size: st.size, mtimeMs: st.mtimeMs });
    }
    for (const name of this.seen.keys()) if (!present.has(name)) this.seen.delete(name);
    for (const name of this.done.keys()) if (!present.has(name)) this.done.delete(name);
    return out.sort((a, b) => a.mtimeMs - b.mtimeMs || a.name.localeCompare(b.name));
  }

  private settleWait(): number {
    return Math.max(50, Math.min(this.config.pollMs, this.seen.size > 0 ? this.config.settleMs || 50 : this.config.pollMs));
  }

  private async deliver(file: { name: string; size: number; mtimeMs: number }, sink: FrameSink): Promise<void> {
    const full = path.join(this.config.path, file.name);
    let image: Buffer;
    try {
      image = await readFile(full);
      sniffImage(image);
    } catch (err) {
      const message = `${full}: ${(err as Error).message}`;
      this.health.lastError = message;
      sink.report({ kind: 'error', error: message });
      // a broken file is recorded as failed (not retried forever) and left where it is for a person to look at
      this.ledger.markFileDone(this.id, file.name, file.size, file.mtimeMs, 'failed');
      if (this.config.afterProcessing === 'move') await this.dispose(file.name).catch(() => undefined);
      return;
    }
    while (this.running && !this.limiter.admit(this.clock())) await this.sleep(20);
    if (!this.running) return;
    const now = this.clock();
    // the camera wrote the file when it took the picture; a time in the future (a wrong camera clock) is not used
    const capturedAt = file.mtimeMs <= now + 5000 ? Math.round(file.mtimeMs) : now;
    this.inPipeline.add(file.name);
    this.seq++;
    this.health.frames++;
    this.health.lastFrameAt = now;
    let settled = false;
    const settle = (outcome: FrameOutcome) => {
      if (settled) return;
      settled = true;
      this.inPipeline.delete(file.name);
      if (outcome === 'dropped') return; // read again on the next scan
      this.ledger.markFileDone(this.id, file.name, file.size, file.mtimeMs, outcome === 'processed' ? 'processed' : 'failed');
      if (outcome === 'processed' || this.config.afterProcessing === 'move') {
        this.dispose(file.name).catch((err: Error) => {
          this.health.lastError = `${full}: cannot ${this.config.afterProcessing}: ${err.message}`;
          sink.report({ kind: 'error', error: this.health.lastError });
        });
      }
    };
    await sink.offer({ cameraId: this.id, seq: this.seq, capturedAt, image, origin: full, settle });
  }

  private async dispose(name: string): Promise<void> {
    const full = path.join(this.config.path, name);
    if (this.config.afterProcessing === 'delete') {
      await unlink(full);
    } else if (this.config.afterProcessing === 'move') {
      await mkdir(this.config.moveTo, { recursive: true });
      const target = path.join(this.config.moveTo, name);
      try {
        await rename(full, target);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
        await copyFile(full, target); // another file system
        await unlink(full);
      }
    }
  }

  private watch(): void {
    try {
      this.watcher = watch(this.config.path, { persistent: false }, () => this.wake?.());
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      // polling alone still works (e.g. a network file system without inotify)
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (!this.running) return resolve();
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }
}

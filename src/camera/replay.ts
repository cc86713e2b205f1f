import type { Clock } from '../util/clock.js';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { CameraConfig } from './config.js';
import { sniffImage } from '../recognition/image-header.js';
import { CameraHealth, type Camera, type CameraStatus, type FrameSink } from './types.js';

export type ReplayCameraConfig = Extract<CameraConfig, { type: 'replay' }>;

const IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png']);

/**
 * Replays a folder of images (in name order) or a video file at a set rate, as if a live camera were taking
 * them now: for the demo, for tests and benchmarks, and for a technician checking a camera position with
 * recorded images. Frames are stamped with the time they are replayed.
 */
export class ReplayCamera implements Camera {
  readonly type = 'replay';
  readonly delivery = 'live' as const;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private seq = 0;
  private readonly health = new CameraHealth();
  private detail: string;
  private closeSource: (() => Promise<void>) | undefined;

  constructor(
    private readonly config: ReplayCameraConfig,
    /** The unit's clock: each frame's capture time, and the replay's pace. */
    private readonly clock: Clock,
  ) {
    this.detail = config.source;
  }

  get id(): string {
    return this.config.id;
  }

  async start(sink: FrameSink): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.loop = this.run(sink)
      .catch((err: Error) => {
        this.health.lastError = err.message;
        this.health.connected = false;
        sink.report({ kind: 'disconnected', error: err.message });
      })
      .finally(() => this.closeSource?.().catch(() => undefined));
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  status(): CameraStatus {
    return this.health.status(this, this.detail);
  }

  private async run(sink: FrameSink): Promise<void> {
    const source = this.config.source;
    let info;
    try {
      info = await stat(source);
    } catch (err) {
      throw new Error(`replay source ${source}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or folder' : (err as Error).message}`);
    }
    const next = info.isDirectory() ? await this.folderFrames(source) : await this.videoFrames(source);
    this.health.connected = true;
    sink.report({ kind: 'connected', detail: this.detail });
    const fps = Math.min(this.config.fps, this.config.maxFps);
    const interval = 1000 / fps;
    let due = this.clock();
    while (this.running) {
      const item = await next();
      if (!this.running) break;
      if (item === null) {
        this.health.connected = false;
        sink.report({ kind: 'finished' });
        break;
      }
      if ('error' in item) {
        this.health.lastError = item.error;
        sink.report({ kind: 'error', error: item.error });
        continue;
      }
      // keep the schedule; a replay that fell behind (a slow disk) does not try to catch up in a burst
      const wait = due - this.clock();
      if (wait > 0) await this.sleep(wait);
      if (!this.running) break;
      due = Math.max(due + interval, this.clock());
      const now = this.clock();
      this.seq++;
      this.health.frames++;
      this.health.lastFrameAt = now;
      await sink.offer({ cameraId: this.id, seq: this.seq, capturedAt: now, image: item.image, origin: item.origin });
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }

  /** A function giving the next image of the folder (null at the end unless looping). */
  private async folderFrames(dir: string): Promise<() => Promise<{ image: Buffer; origin: string } | { error: string } | null>> {
    const pattern = globRegex(this.config.pattern);
    const names = (await readdir(dir))
      .filter((n) => IMAGE_EXT.has(path.extname(n).toLowerCase()) && !n.startsWith('.') && pattern.test(n))
      .sort();
    if (names.length === 0) {
      throw new Error(`replay source ${dir}: no .jpg, .jpeg or .png files matching ${JSON.stringify(this.config.pattern)} in the folder`);
    }
    this.detail = `${dir} (${names.length} images)`;
    let i = 0;
    return async () => {
      if (i >= names.length) {
        if (!this.config.loop) return null;
        i = 0;
      }
      const file = path.join(dir, names[i++]!);
      try {
        const image = await readFile(file);
        sniffImage(image);
        return { image, origin: file };
      } catch (err) {
        return { error: `${file}: ${(err as Error).message}` };
      }
    };
  }

  private async videoFrames(file: string): Promise<() => Promise<{ image: Buffer; origin: string } | { error: string } | null>> {
    const { VideoFileReader } = await import('./opencv.js');
    let reader = await VideoFileReader.open(file, { jpegQuality: 90 });
    this.detail = `${file} (video)`;
    this.closeSource = () => reader.close();
    return async () => {
      let f = await reader.next();
      if (f === null && this.config.loop) {
        await reader.close();
        reader = await VideoFileReader.open(file, { jpegQuality: 90 });
        f = await reader.next();
      }
      if (f === null) {
        await reader.close();
        return null;
      }
      return { image: f.image, origin: `${file}#${f.index}` };
    };
  }
}

/** "*" any characters, "?" one character; everything else literal. */
function globRegex(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

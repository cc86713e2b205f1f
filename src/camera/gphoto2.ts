/**
 * USB/PTP still cameras (DSLRs) through libgphoto2.
 *
 * Two ways of getting pictures, chosen by what the camera can do:
 * - capture (the unit triggers): for a camera on USB. Each shot is triggered and downloaded through the `gphoto2`
 *   npm package (node-gphoto2), in a small child process of its own (gphoto2-capture.ts says why).
 * - watch (the camera shoots on its own): for libgphoto2's disk ports, i.e. the "Directory Browse" camera on a
 *   folder or a mounted memory card, which cannot capture. The camera's folders are listed and each new JPEG is
 *   downloaded, offered, then deleted from the camera, through the `gphoto2` program: node-gphoto2 0.3.2 has no
 *   call to list files, and it opens only the cameras its own autodetection finds, which never includes a disk:
 *   folder that is not a mounted file system with a DCIM folder.
 * Each way is a link to an open camera (gphoto2-link.ts): gphoto2-capture.ts and gphoto2-watch.ts.
 * A failed listing or capture means the camera is gone: it is reported 'disconnected', then looked for again
 * (libgphoto2 autodetection, or a new listing) after a growing wait, and reported 'connected' when found.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CameraConfig } from './config.js';
import type { Clock } from '../util/clock.js';
import { NativeCaptureLink } from './gphoto2-capture.js';
import { describeCamera, gphoto2ModulePath, type CameraLink, type Plan } from './gphoto2-link.js';
import { Gphoto2Program, WatchLink } from './gphoto2-watch.js';
import { Backoff, CameraHealth, RateLimiter, type Camera, type CameraEvent, type CameraStatus, type FrameSink } from './types.js';

export type Gphoto2CameraConfig = Extract<CameraConfig, { type: 'gphoto2' }>;

export interface Gphoto2CameraOptions {
  /**
   * 'unit': the unit triggers each shot (capture). 'camera': the camera shoots on its own (a hardware trigger)
   * and new files on it are downloaded (watch). Default: 'camera' for disk: ports and the Directory Browse and
   * Mass Storage models (they cannot capture), 'unit' for everything else.
   */
  trigger?: 'unit' | 'camera';
  /** The gphoto2 program used to watch a camera's files (default: `gphoto2` on the PATH). */
  gphoto2Program?: string;
  /** The unit's clock: when each picture was taken, and the pace of capture. */
  clock: Clock;
}

/** libgphoto2's cameras that serve the files of a folder; they cannot capture. */
const DISK_MODELS = new Set(['directory browse', 'mass storage camera']);
/** Between listings when the camera has nothing new and intervalMs is 0. */
const WATCH_IDLE_POLL_MS = 250;

export class Gphoto2Camera implements Camera {
  readonly type = 'gphoto2';
  readonly delivery = 'live' as const;
  private readonly plan: Plan;
  private readonly limiter: RateLimiter;
  private abort: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private home: string | undefined;
  /** Watch: camera files not to offer again (delivered but not deletable, or unusable). Kept across reconnects. */
  private readonly skip = new Set<string>();
  private seq = 0;
  private readonly health = new CameraHealth();
  private detail: string;

  constructor(
    private readonly config: Gphoto2CameraConfig,
    private readonly options: Gphoto2CameraOptions,
  ) {
    const diskPort = config.port.startsWith('disk:');
    const diskModel = DISK_MODELS.has(config.model.toLowerCase());
    const trigger = options.trigger ?? (diskPort || diskModel ? 'camera' : 'unit');
    const model = config.model === '' && diskPort ? 'Directory Browse' : config.model;
    this.plan = { mode: trigger === 'camera' ? 'watch' : 'capture', model, port: config.port };
    this.limiter = new RateLimiter(config.maxFps);
    this.detail = describeWanted(this.plan);
  }

  get id(): string {
    return this.config.id;
  }

  async start(sink: FrameSink): Promise<void> {
    if (this.abort) return;
    const problem = this.configProblem();
    if (problem) throw new Error(`camera ${this.id}: ${problem}`);
    const abort = new AbortController();
    this.abort = abort;
    if (this.plan.mode === 'watch') {
      // the gphoto2 program remembers the last camera and port in ~/.gphoto/settings: give it a HOME of its own,
      // with a file where that folder would be, so that each run uses the camera and port it is given, nothing else
      let home: string;
      try {
        home = await mkdtemp(path.join(tmpdir(), 'alpr-gphoto2-'));
        await writeFile(path.join(home, '.gphoto'), '');
      } catch (err) {
        this.abort = undefined;
        throw new Error(`camera ${this.id}: cannot make a private HOME for the gphoto2 program: ${(err as Error).message}`);
      }
      if (abort.signal.aborted) {
        // stop() came while this was starting
        await rm(home, { recursive: true, force: true });
        return;
      }
      this.home = home;
    }
    this.loop = this.run(sink, abort.signal).catch((err: Error) => {
      // never expected: run() handles its own failures; keep the unit alive and say so
      this.health.connected = false;
      this.health.lastError = err.message;
      safeReport(sink, { kind: 'disconnected', error: `camera loop ended: ${err.message}` });
    });
  }

  async stop(): Promise<void> {
    const abort = this.abort;
    if (!abort) return;
    abort.abort();
    await this.loop;
    this.abort = undefined;
    this.loop = undefined;
    this.health.connected = false;
    if (this.home) await rm(this.home, { recursive: true, force: true }).catch(() => undefined);
    this.home = undefined;
  }

  status(): CameraStatus {
    return this.health.status(this, this.detail);
  }

  /** A configuration that can never work, in words; null when it may. */
  private configProblem(): string | null {
    const { mode, model, port } = this.plan;
    const diskModel = DISK_MODELS.has(model.toLowerCase());
    if (port.startsWith('disk:')) {
      const folder = port.slice('disk:'.length);
      if (!path.isAbsolute(folder) || path.resolve(folder) === '/') {
        return `port "${port}": a disk: port needs the absolute path of a folder other than / (e.g. disk:/media/card)`;
      }
    } else if (diskModel) {
      // without a disk: port libgphoto2 serves the whole file system as this camera
      return `model "${model}" serves a folder and needs a disk: port (e.g. disk:/media/card), not "${port || 'any port'}"`;
    }
    if (mode === 'capture' && (port.startsWith('disk:') || diskModel)) {
      return `"${model}" on ${port} serves files and cannot capture; leave trigger unset so that it is watched for new files`;
    }
    if (mode === 'capture' && gphoto2ModulePath() === null) {
      return 'the gphoto2 npm package (node-gphoto2) is not installed; run npm ci on the unit';
    }
    return null;
  }

  private async run(sink: FrameSink, signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(this.config.reconnectMinMs, this.config.reconnectMaxMs);
    let reported: { error: string; retryInMs: number } | null = null;
    while (!signal.aborted) {
      let link: CameraLink | undefined;
      try {
        link = await this.open(sink, signal);
        if (signal.aborted) break;
        this.health.connected = true;
        this.health.lastError = null;
        this.detail = link.detail;
        reported = null;
        safeReport(sink, { kind: 'connected', detail: link.detail });
        await this.shoot(link, sink, signal, backoff);
      } catch (err) {
        if (signal.aborted) break;
        await link?.close();
        link = undefined;
        const error = (err as Error).message;
        const retryInMs = backoff.take();
        this.health.connected = false;
        this.health.lastError = error;
        // a camera left unplugged is reported while the wait grows, then again only when something changes
        if (!reported || reported.error !== error || reported.retryInMs !== retryInMs) {
          safeReport(sink, { kind: 'disconnected', error, retryInMs });
          reported = { error, retryInMs };
        }
        await delay(retryInMs, signal);
      } finally {
        await link?.close();
      }
    }
  }

  private open(sink: FrameSink, signal: AbortSignal): Promise<CameraLink> {
    const problem = (error: string) => this.problem(sink, error);
    if (this.plan.mode === 'capture') return NativeCaptureLink.open(this.plan, problem, signal, this.options.clock);
    const program = new Gphoto2Program(this.options.gphoto2Program ?? 'gphoto2', this.plan, this.home!);
    return WatchLink.open(program, this.skip, problem, signal, this.options.clock);
  }

  /** Takes pictures from an open camera until it fails (throws) or the camera is stopped. */
  private async shoot(link: CameraLink, sink: FrameSink, signal: AbortSignal, backoff: Backoff): Promise<void> {
    const { intervalMs } = this.config;
    // capture: one shot per intervalMs; watch: a new listing every intervalMs while the camera has nothing new
    const idleMs = intervalMs > 0 ? intervalMs : WATCH_IDLE_POLL_MS;
    let due = 0;
    while (!signal.aborted) {
      await delay(due - this.options.clock(), signal);
      if (signal.aborted) break;
      const shot = await link.next(signal, () => this.admit(signal));
      backoff.reset();
      if (signal.aborted) break;
      if (shot === null) {
        due = this.options.clock() + idleMs;
        continue;
      }
      due = this.plan.mode === 'capture' ? shot.takenAt + intervalMs : 0;
      this.seq++;
      this.health.frames++;
      this.health.lastFrameAt = shot.takenAt;
      try {
        const { image, origin, takenAt: capturedAt } = shot;
        await sink.offer({ cameraId: this.id, seq: this.seq, capturedAt, image, origin });
      } catch (err) {
        this.problem(sink, `${shot.origin}: the unit refused the frame: ${(err as Error).message}`);
      }
      await shot.delivered?.();
    }
  }

  /** Waits until maxFps allows another picture. */
  private async admit(signal: AbortSignal): Promise<void> {
    const stepMs = Math.min(50, Math.max(1, 100 / this.config.maxFps));
    while (!signal.aborted && !this.limiter.admit(this.options.clock())) await delay(stepMs, signal);
  }

  private problem(sink: FrameSink, error: string): void {
    this.health.lastError = error;
    safeReport(sink, { kind: 'error', error });
  }
}

function describeWanted(plan: Plan): string {
  return `${describeCamera(plan)}, ${plan.mode === 'capture' ? 'capturing' : 'watching for new files'}`;
}

function safeReport(sink: FrameSink, event: CameraEvent): void {
  try {
    sink.report(event);
  } catch {
    // a failing log must not stop the camera
  }
}

/** Waits `ms` (nothing when <= 0); ends early, without error, when `signal` aborts. */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

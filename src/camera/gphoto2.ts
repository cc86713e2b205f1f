/**
 * USB/PTP still cameras (DSLRs) through libgphoto2.
 *
 * Two ways of getting pictures, chosen by what the camera can do:
 * - capture (the unit triggers): for a camera on USB. Each shot is triggered and downloaded through the `gphoto2`
 *   npm package (node-gphoto2), in a small child process of its own (gphoto2-child.ts; see "Capture" below for why).
 * - watch (the camera shoots on its own): for libgphoto2's disk ports, i.e. the "Directory Browse" camera on a
 *   folder or a mounted memory card, which cannot capture. The camera's folders are listed and each new JPEG is
 *   downloaded, offered, then deleted from the camera, through the `gphoto2` program: node-gphoto2 0.3.2 has no
 *   call to list files, and it opens only the cameras its own autodetection finds, which never includes a disk:
 *   folder that is not a mounted file system with a DCIM folder.
 * A failed listing or capture means the camera is gone: it is reported 'disconnected', then looked for again
 * (libgphoto2 autodetection, or a new listing) after a growing wait, and reported 'connected' when found.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CameraConfig } from '../config/schema.js';
import { sniffImage } from '../recognition/image-header.js';
import { Backoff, CameraHealth, RateLimiter, type Camera, type CameraEvent, type CameraStatus, type FrameSink } from './types.js';
import type { ChildMessage, ParentMessage } from './gphoto2-child.js';
import type { Clock } from '../util/clock.js';
import { packageRoot } from '../util/paths.js';

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
/** Starting node, loading libgphoto2 and autodetecting: seconds on a busy Pi, never this long. */
const OPEN_TIMEOUT_MS = 30_000;
/** One capture and its download; a DSLR takes a few seconds at most, with autofocus. */
const CAPTURE_TIMEOUT_MS = 60_000;
/** One run of the gphoto2 program (a listing of a full card over USB 2 can take a while). */
const PROGRAM_TIMEOUT_MS = 60_000;
/** A file that failed to download this many times (the camera still answering) is skipped, with an error. */
const MAX_FILE_FAILURES = 3;
/** Deleting a file that was just offered; it is let finish even when the camera is being stopped. */
const DELETE_TIMEOUT_MS = 5000;
const KILL_GRACE_MS = 1000;
const STDERR_KEEP_CHARS = 8192;

/** libgphoto2's result codes (gphoto2-result.h, gphoto2-port-result.h), for messages a technician can act on. */
const GP_ERRORS: Record<number, string> = {
  [-1]: 'unspecified error',
  [-2]: 'bad parameters',
  [-3]: 'out of memory',
  [-4]: 'error in the camera driver',
  [-5]: 'unknown port',
  [-6]: 'not supported by this camera',
  [-7]: 'I/O problem',
  [-10]: 'timeout reading from or writing to the port',
  [-20]: 'serial port not supported',
  [-21]: 'USB port not supported',
  [-31]: 'error initialising the port',
  [-34]: 'error reading from the port',
  [-35]: 'error writing to the port',
  [-52]: 'could not find the USB device',
  [-53]: 'could not claim the USB device (another program, e.g. a desktop photo importer, has it)',
  [-60]: 'could not lock the device',
  [-105]: 'unknown camera model',
  [-107]: 'directory not found',
  [-108]: 'file not found',
  [-110]: 'camera busy',
  [-111]: 'path not absolute',
  [-112]: 'cancelled',
  [-113]: 'camera error (check the camera: lens, card, mode dial, battery)',
  [-114]: 'operating system error',
  [-115]: 'no space left on the camera',
};

function gpError(code: number): string {
  return `${GP_ERRORS[code] ?? 'error'} (libgphoto2 ${code})`;
}

/** What is wanted of libgphoto2, decided once from the config. */
interface Plan {
  mode: 'capture' | 'watch';
  model: string;
  port: string;
}

/** A picture the camera gave, checked to be a JPEG, before it becomes a frame. */
interface Shot {
  image: Buffer;
  origin: string;
  takenAt: number;
  /** Called once the frame has been offered (watch: the file is deleted from the camera). */
  delivered?: () => Promise<void>;
}

/** An open camera. `next()` rejects when the camera is lost; `close()` ends everything it has running. */
interface CameraLink {
  readonly detail: string;
  /**
   * The next picture; null when there is none this time (watch: nothing new; capture: the picture was unusable,
   * reported through `problem`). `admit` is awaited right before a picture is taken or downloaded (maxFps).
   */
  next(signal: AbortSignal, admit: () => Promise<void>): Promise<Shot | null>;
  close(): Promise<void>;
}

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

/** Why `image` cannot be a frame; null for a complete JPEG. */
function notJpeg(image: Buffer): string | null {
  try {
    const format = sniffImage(image).format;
    return format === 'jpeg' ? null : `a ${format.toUpperCase()} image, not a JPEG`;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The camera a plan asks for, e.g. '"Canon EOS 550D" on any port'. */
function describeCamera(plan: Plan): string {
  return `${plan.model === '' ? 'the first camera found' : `"${plan.model}"`} on ${plan.port === '' ? 'any port' : plan.port}`;
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

function gphoto2ModulePath(): string | null {
  try {
    return createRequire(import.meta.url).resolve('gphoto2');
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Capture: node-gphoto2 in a child process
//
// node-gphoto2 0.3.2 is not safe to keep in the unit's own process: a GPhoto2 object that is garbage-collected
// leaves its log handle in libuv's loop and the process segfaults soon after; each object's first list() keeps
// about 7 MB and every list() about 0.2 MB more; the port list is read once per object, so a camera plugged back in
// (at a new USB address) is found only by a new object; cameras are never closed except by the garbage collector;
// and opening a camera takes, on the main thread, a lock that a list() holds in the thread pool. So each connection
// is a child process that autodetects, picks the camera, and then captures on request; a lost camera costs the
// child, and the next attempt starts a fresh one. The child is gphoto2-child.ts, compiled with the rest and run from
// dist/ (under the tests too, as the OpenCV camera's capture process is). Messages go over the IPC channel with the
// 'advanced' serialization, which carries the JPEG bytes without JSON; their types are in gphoto2-child.ts.

/** The compiled capture process (npm run build makes it). */
export function gphoto2ChildPath(): string {
  return path.join(packageRoot(), 'dist', 'src', 'camera', 'gphoto2-child.js');
}

class NativeCaptureLink implements CameraLink {
  detail = '';
  private port = '';
  private stderrTail = '';
  private exit: string | null = null;
  private readonly exited: Promise<void>;
  private waiter: ((m: ChildMessage | null) => void) | null = null;
  private nextId = 1;

  private constructor(
    private readonly child: ChildProcess,
    private readonly problem: (error: string) => void,
    private readonly clock: Clock,
  ) {
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => {
      this.stderrTail = (this.stderrTail + text).slice(-STDERR_KEEP_CHARS);
    });
    child.on('message', (m: ChildMessage) => {
      const w = this.waiter;
      this.waiter = null;
      w?.(m);
    });
    this.exited = new Promise((resolve) => {
      let spawnError: Error | null = null;
      child.on('error', (err) => {
        spawnError = err;
      });
      child.on('close', (code, sig) => {
        this.exit = spawnError
          ? `cannot start the camera process: ${spawnError.message}`
          : `the camera process ended (${sig ?? `exit code ${code}`})${this.hint()}`;
        const w = this.waiter;
        this.waiter = null;
        w?.(null);
        resolve();
      });
    });
  }

  /** Starts a child that autodetects; resolves once the wanted camera is found, rejects saying what was seen. */
  static async open(plan: Plan, problem: (error: string) => void, signal: AbortSignal, clock: Clock): Promise<NativeCaptureLink> {
    const modulePath = gphoto2ModulePath();
    if (modulePath === null) throw new Error('the gphoto2 npm package is not installed');
    const script = gphoto2ChildPath();
    if (!existsSync(script)) throw new Error(`cannot start the camera process: ${script} is missing (run npm run build)`);
    const child = spawn(process.execPath, [script], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
      env: {
        ...process.env,
        ALPR_GPHOTO2_MODULE: modulePath,
        ALPR_GPHOTO2_WANT: JSON.stringify({ model: plan.model, port: plan.port }),
      },
    });
    const link = new NativeCaptureLink(child, problem, clock);
    const onAbort = () => void link.close();
    signal.addEventListener('abort', onAbort);
    try {
      const m = await link.receive(OPEN_TIMEOUT_MS, 'looking for the camera');
      if (m.kind === 'ready') {
        link.port = m.port;
        link.detail = `"${m.model}" on ${m.port}, capturing (node-gphoto2)`;
        return link;
      }
      if (m.kind === 'absent') {
        const cameras = m.seen.map((c) => `"${c.model}" on ${c.port}`).join(', ');
        const seen = cameras === '' ? 'libgphoto2 sees no camera' : `libgphoto2 sees ${cameras}`;
        throw new Error(`no camera found (wanted ${describeCamera(plan)}); ${seen}`);
      }
      throw new Error(m.kind === 'fatal' ? m.error : `unexpected message from the camera process: ${m.kind}`);
    } catch (err) {
      await link.close();
      throw err;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  async next(signal: AbortSignal, admit: () => Promise<void>): Promise<Shot | null> {
    await admit();
    if (signal.aborted) return null;
    const id = this.nextId++;
    const takenAt = this.clock();
    const onAbort = () => void this.close();
    signal.addEventListener('abort', onAbort);
    try {
      if (this.exit !== null) throw new Error(this.exit);
      // a send error means the child is gone; its exit, which receive() waits for, says why
      const request: ParentMessage = { op: 'capture', id };
      this.child.send(request, () => undefined);
      const m = await this.receive(CAPTURE_TIMEOUT_MS, 'a capture');
      if (m.kind === 'fatal') throw new Error(m.error);
      if (m.kind !== 'shot' || m.id !== id) throw new Error(`unexpected message from the camera process: ${m.kind}`);
      if (!m.image) {
        const why = m.code !== undefined ? gpError(m.code) : (m.error ?? 'no image');
        throw new Error(`${m.stage ?? 'capture'} failed: ${why}${this.hint()}`);
      }
      const image = Buffer.from(m.image.buffer, m.image.byteOffset, m.image.byteLength);
      const origin = `${this.port}${m.path ?? ''}`;
      const wrong = notJpeg(image);
      if (wrong) {
        // a camera set to RAW; the picture is gone from it already (node-gphoto2 deletes after download)
        this.problem(`${origin}: ${wrong}; set the camera to save JPEG images`);
        return null;
      }
      return { image, origin, takenAt };
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    if (this.exit !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), KILL_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }

  private receive(timeoutMs: number, what: string): Promise<ChildMessage> {
    if (this.exit !== null) return Promise.reject(new Error(this.exit));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`no answer from the camera after ${timeoutMs} ms (${what})${this.hint()}`));
      }, timeoutMs);
      this.waiter = (m) => {
        clearTimeout(timer);
        if (m === null) reject(new Error(this.exit ?? 'the camera process ended'));
        else resolve(m);
      };
    });
  }

  /** What libgphoto2 last printed on stderr ("### Could not claim the USB device..."), as a hint. */
  private hint(): string {
    const last = this.stderrTail
      .split('\n')
      .map((l) => l.replace(/^#+\s*/, '').trim())
      .filter((l) => l !== '')
      .at(-1);
    return last ? `; libgphoto2 said: ${last}` : '';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Watch: the gphoto2 program lists the camera's files and downloads the new ones

/** One file on the camera. */
interface CameraFile {
  folder: string;
  name: string;
}

/** The file's path on the camera, e.g. /DCIM/100CANON/IMG_0001.JPG. */
function cameraPath(file: CameraFile): string {
  return file.folder === '/' ? `/${file.name}` : `${file.folder}/${file.name}`;
}

const JPEG_NAME = /\.jpe?g$/i;

/** Runs the gphoto2 program on one camera: always with the camera and port given, and a private HOME. */
class Gphoto2Program {
  constructor(
    private readonly program: string,
    readonly plan: Plan,
    private readonly home: string,
  ) {}

  /** Every file on the camera, in all its folders, in the camera's order. */
  async listFiles(signal: AbortSignal): Promise<CameraFile[]> {
    const out = await this.run(['--quiet', '--recurse', '--list-files'], signal);
    const files: CameraFile[] = [];
    // quiet listing: one "<folder>/<name>" a line; the root folder's files come as "//<name>"
    for (const line of out.toString('utf8').split('\n')) {
      if (!line.startsWith('/')) continue;
      const slash = line.lastIndexOf('/');
      const folder = line.slice(0, slash).replace(/\/+$/, '') || '/';
      const name = line.slice(slash + 1);
      if (name !== '') files.push({ folder, name });
    }
    return files;
  }

  /** The file's bytes. A name with a dot in it is taken as a name by gphoto2, never as a file number. */
  getFile(file: CameraFile, signal: AbortSignal): Promise<Buffer> {
    // "--get-file /folder/name" crashes gphoto2 2.5.28 for files in the root folder: always give --folder
    return this.run(['--folder', file.folder, '--get-file', file.name, '--stdout'], signal);
  }

  async deleteFile(file: CameraFile, signal: AbortSignal): Promise<void> {
    await this.run(['--folder', file.folder, '--delete-file', file.name], signal);
  }

  private run(args: string[], signal: AbortSignal): Promise<Buffer> {
    const { model, port } = this.plan;
    const full = [...(model ? ['--camera', model] : []), ...(port ? ['--port', port] : []), ...args];
    const what = `gphoto2 ${args.filter((a) => a !== '--quiet' && a !== '--recurse' && a !== '--stdout').join(' ')}`;
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(new Error('stopped'));
      const child = spawn(this.program, full, {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, HOME: this.home, LANG: 'C', LC_ALL: 'C' },
      });
      const out: Buffer[] = [];
      let err = '';
      let spawnError: Error | null = null;
      let timedOut = false;
      child.stdout!.on('data', (b: Buffer) => out.push(b));
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (t: string) => {
        if (err.length < STDERR_KEEP_CHARS) err += t;
      });
      const kill = () => child.kill('SIGKILL');
      const timer = setTimeout(() => {
        timedOut = true;
        kill();
      }, PROGRAM_TIMEOUT_MS);
      signal.addEventListener('abort', kill);
      child.on('error', (e) => {
        spawnError = e;
      });
      child.on('close', (code, sig) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', kill);
        // with no camera gphoto2 may still print help text on stdout: only exit code 0 counts
        if (code === 0 && !spawnError) return resolve(Buffer.concat(out));
        if (spawnError) {
          const missing = (spawnError as NodeJS.ErrnoException).code === 'ENOENT';
          const why = missing ? `the ${this.program} program is not installed (Debian package gphoto2)` : spawnError.message;
          return reject(new Error(why));
        }
        if (signal.aborted) {
          const timeout = (signal.reason as Error | undefined)?.name === 'TimeoutError';
          return reject(new Error(`${what}: ${timeout ? 'no answer in time' : 'stopped'}`));
        }
        if (timedOut) return reject(new Error(`${what}: no answer after ${PROGRAM_TIMEOUT_MS} ms`));
        void this.diskFolderMissing().then((missing) =>
          reject(new Error(`${what} on ${port || 'the first camera found'}: ${missing ?? programError(err, code, sig)}`)),
        );
      });
    });
  }

  /** For a disk: port whose folder is gone, says so (gphoto2 itself only says "Unspecified error"). */
  private async diskFolderMissing(): Promise<string | null> {
    if (!this.plan.port.startsWith('disk:')) return null;
    const folder = this.plan.port.slice('disk:'.length);
    try {
      await access(folder);
      return null;
    } catch {
      return `folder ${folder} not found (card not mounted, or camera unplugged)`;
    }
  }
}

/** The gphoto2 program's own words ("*** Error (-107: 'Directory not found') ***"), or how it ended. */
function programError(stderr: string, code: number | null, sig: NodeJS.Signals | null): string {
  const errors = [...stderr.matchAll(/\*\*\* Error(?: \((-?\d+): '([^']*)'\))?:?\s*(.*?)\s*\*\*\*/g)]
    .map((m) => (m[1] ? `${m[2]} (libgphoto2 ${m[1]})` : m[3]!))
    .filter((t) => t !== '' && t !== 'Unspecified error (libgphoto2 -1)');
  const unique = [...new Set(errors)];
  if (unique.length > 0) return unique.join('; ');
  return sig ? `gphoto2 crashed (${sig})` : `gphoto2 failed (exit code ${code})`;
}

class WatchLink implements CameraLink {
  /** Files of the last listing not taken yet, and when that listing was made. */
  private pending: CameraFile[] = [];
  private listedAt = 0;
  private readonly failures = new Map<string, number>();

  private constructor(
    private readonly program: Gphoto2Program,
    private readonly skip: Set<string>,
    private readonly problem: (error: string) => void,
    readonly detail: string,
    private readonly clock: Clock,
  ) {}

  /** Open means the camera's files can be listed; the files already on it are taken first. */
  static async open(
    program: Gphoto2Program,
    skip: Set<string>,
    problem: (error: string) => void,
    signal: AbortSignal,
    clock: Clock,
  ): Promise<WatchLink> {
    const detail = `${describeCamera(program.plan)}, watching for new files (gphoto2 program)`;
    const link = new WatchLink(program, skip, problem, detail, clock);
    await link.refill(signal);
    return link;
  }

  async next(signal: AbortSignal, admit: () => Promise<void>): Promise<Shot | null> {
    if (this.pending.length === 0) await this.refill(signal);
    while (this.pending.length > 0 && !signal.aborted) {
      const file = this.pending.shift()!;
      const key = cameraPath(file);
      await admit();
      if (signal.aborted) return null;
      let image: Buffer;
      try {
        image = await this.program.getFile(file, signal);
      } catch (err) {
        if (signal.aborted) return null;
        // the camera is gone (then this listing fails and says so) or only this file is a problem
        const files = await this.program.listFiles(signal);
        if (files.some((f) => cameraPath(f) === key)) this.failed(key, (err as Error).message);
        continue;
      }
      const wrong = notJpeg(image);
      if (wrong) {
        // perhaps still being written (a truncated JPEG): left on the camera and tried again at the next listing
        this.failed(key, wrong);
        continue;
      }
      this.failures.delete(key);
      return { image, origin: `${this.program.plan.port}${key}`, takenAt: this.listedAt, delivered: () => this.remove(file) };
    }
    return null;
  }

  async close(): Promise<void> {
    // nothing runs between calls; a gphoto2 run in progress is ended by the stop signal
  }

  private async refill(signal: AbortSignal): Promise<void> {
    const files = await this.program.listFiles(signal);
    // the nearest the unit's clock can tell of when a new file was taken
    this.listedAt = this.clock();
    this.pending = files.filter((f) => JPEG_NAME.test(f.name) && !this.skip.has(cameraPath(f)));
  }

  private failed(key: string, error: string): void {
    const failures = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, failures);
    if (failures < MAX_FILE_FAILURES) return this.problem(`${key}: ${error}`);
    this.skip.add(key);
    this.failures.delete(key);
    this.problem(`${key}: skipped after ${failures} tries, left on the camera: ${error}`);
  }

  /** Once offered, the file leaves the camera, so that a restart does not offer it again and the card never fills. */
  private async remove(file: CameraFile): Promise<void> {
    try {
      // not cut short by a stop: a file left on the camera would be offered again at the next start
      await this.program.deleteFile(file, AbortSignal.timeout(DELETE_TIMEOUT_MS));
    } catch (err) {
      this.skip.add(cameraPath(file));
      this.problem(`${cameraPath(file)}: offered, but could not be deleted from the camera: ${(err as Error).message}`);
    }
  }
}

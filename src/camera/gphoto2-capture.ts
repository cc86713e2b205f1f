/**
 * The gphoto2 camera's capture: node-gphoto2 in a child process, for a camera on USB that the unit triggers.
 *
 * node-gphoto2 0.3.2 is not safe to keep in the unit's own process: a GPhoto2 object that is garbage-collected
 * leaves its log handle in libuv's loop and the process segfaults soon after; each object's first list() keeps
 * about 7 MB and every list() about 0.2 MB more; the port list is read once per object, so a camera plugged back in
 * (at a new USB address) is found only by a new object; cameras are never closed except by the garbage collector;
 * and opening a camera takes, on the main thread, a lock that a list() holds in the thread pool. So each connection
 * is a child process that autodetects, picks the camera, and then captures on request; a lost camera costs the
 * child, and the next attempt starts a fresh one. The child is gphoto2-child.ts, compiled with the rest and run from
 * dist/ (under the tests too, as the OpenCV camera's capture process is). Messages go over the IPC channel with the
 * 'advanced' serialization, which carries the JPEG bytes without JSON; their types are in gphoto2-child.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../util/clock.js';
import { packageRoot } from '../util/paths.js';
import type { ChildMessage, ParentMessage } from './gphoto2-child.js';
import { describeCamera, gphoto2ModulePath, notJpeg, STDERR_KEEP_CHARS, type CameraLink, type Plan, type Shot } from './gphoto2-link.js';

/** Starting node, loading libgphoto2 and autodetecting: seconds on a busy Pi, never this long. */
const OPEN_TIMEOUT_MS = 30_000;
/** One capture and its download; a DSLR takes a few seconds at most, with autofocus. */
const CAPTURE_TIMEOUT_MS = 60_000;
const KILL_GRACE_MS = 1000;

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

/** The compiled capture process (npm run build makes it). */
export function gphoto2ChildPath(): string {
  return path.join(packageRoot(), 'dist', 'src', 'camera', 'gphoto2-child.js');
}

export class NativeCaptureLink implements CameraLink {
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

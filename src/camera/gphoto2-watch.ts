/**
 * The gphoto2 camera's watch: for a camera that shoots on its own, or a folder served by libgphoto2's Directory
 * Browse camera, the gphoto2 program lists the camera's files and downloads the new ones.
 */
import { spawn } from 'node:child_process';
import { access } from 'node:fs/promises';
import type { Clock } from '../util/clock.js';
import { describeCamera, notJpeg, STDERR_KEEP_CHARS, type CameraLink, type Plan, type Shot } from './gphoto2-link.js';

/** One run of the gphoto2 program (a listing of a full card over USB 2 can take a while). */
const PROGRAM_TIMEOUT_MS = 60_000;
/** A file that failed to download this many times (the camera still answering) is skipped, with an error. */
const MAX_FILE_FAILURES = 3;
/** Deleting a file that was just offered; it is let finish even when the camera is being stopped. */
const DELETE_TIMEOUT_MS = 5000;

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
export class Gphoto2Program {
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

export class WatchLink implements CameraLink {
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

/**
 * Small helpers shared by the test files (#18 item 4): waiting for a condition, a serial cable (two
 * pseudo-terminals joined by socat), a logger that keeps what it was told, and a read as the store takes it.
 * Waiting uses the monotonic clock (performance.now), which CI's faketime run leaves alone, and polls: tests wait
 * for what a user would see, never for a fixed time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../src/log/logger.js';
import type { NewRead } from '../src/store/read-store.js';

/**
 * Resolves once `test()` gives something truthy (it may return a promise), with what it gave; fails after `ms`
 * with what was awaited and, if given, the state at that moment.
 */
export async function until<T>(
  test: () => T | Promise<T>,
  ms: number,
  what: string,
  detail: () => unknown = () => '',
): Promise<NonNullable<T>> {
  const end = performance.now() + ms;
  for (;;) {
    const got = await test();
    if (got) return got as NonNullable<T>;
    if (performance.now() > end) {
      const d = detail();
      throw new Error(`timed out waiting for ${what}${d === '' || d === undefined || d === null ? '' : `\n${typeof d === 'string' ? d : JSON.stringify(d)}`}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A serial cable: two pseudo-terminals joined by socat, reached through the links `a` and `b` (full paths). The
 * unit opens one end, the far device (a terminal, a GPS receiver) the other.
 */
export class SocatPair {
  private constructor(
    readonly a: string,
    readonly b: string,
    private readonly child: ChildProcess,
  ) {}

  /** Starts socat and resolves once both links exist. */
  static async open(a: string, b: string, waitMs = 10_000): Promise<SocatPair> {
    const child = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: 'ignore' });
    let failed: Error | null = null;
    child.once('error', (err) => (failed = err));
    const pair = new SocatPair(a, b, child);
    await until(() => failed !== null || child.exitCode !== null || (existsSync(a) && existsSync(b)), waitMs, `socat links ${a} and ${b}`);
    if (failed !== null || child.exitCode !== null) {
      throw new Error(`socat did not start (${(failed as Error | null)?.message ?? `exit ${child.exitCode}`}): install socat (scripts/setup.sh)`);
    }
    return pair;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Like a USB-serial adapter pulled out: both ends and their links vanish. Resolves once socat has exited; safe to call twice. */
  async close(): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }

  /** For an afterAll: ends socat at once without waiting. */
  kill(): void {
    if (this.alive) this.child.kill('SIGKILL');
  }
}

export interface LoggedLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: object;
  msg: string;
}

/**
 * A logger that keeps every line, for the modules that take the small pino-shaped logger (`warn(obj, msg)`,
 * `info(obj, msg)`): alert channels, the GPS source, the serial link.
 */
export class CapturingLogger {
  readonly lines: LoggedLine[] = [];
  debug(obj: object, msg: string): void {
    this.lines.push({ level: 'debug', obj, msg });
  }
  info(obj: object, msg: string): void {
    this.lines.push({ level: 'info', obj, msg });
  }
  warn(obj: object, msg: string): void {
    this.lines.push({ level: 'warn', obj, msg });
  }
  error(obj: object, msg: string): void {
    this.lines.push({ level: 'error', obj, msg });
  }
  /** The lines whose message is exactly `msg`. */
  messages(msg: string): LoggedLine[] {
    return this.lines.filter((l) => l.msg === msg);
  }
  /** Every line as "message {fields}", one a line: to search for text that must (not) be logged. */
  text(): string {
    return this.lines.map((l) => `${l.msg} ${JSON.stringify(l.obj)}`).join('\n');
  }
}

/** A line the unit's real (pino) logger wrote, parsed. */
export type PinoLine = Record<string, unknown> & { msg: string; level: number };

/** The unit's real logger (src/log/logger.ts) at `level`, writing into `lines` instead of stdout. */
export function capturePino(level = 'info'): { lines: PinoLine[]; log: Logger } {
  const lines: PinoLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as PinoLine);
      done();
    },
  });
  return { lines, log: createLogger(level, stream) };
}

/** A fixed instant for reads: 2026-11-22 12:00:00 UTC (tests compare reads with each other, never with today). */
export const READ_T0 = Date.UTC(2026, 10, 22, 12, 0, 0);

/**
 * Read number `n` as the store takes it: its own uuid, plate 7ABC<n>, first seen n seconds after READ_T0 with
 * a valid GPS position, closed, a 1000-byte crop and a 2000-byte frame (bytes the store does not look inside).
 * `over` replaces any field; times derive from `over.firstSeen` when it is given.
 */
export function newRead(n: number, over: Partial<NewRead> = {}): NewRead {
  const firstSeen = over.firstSeen ?? READ_T0 + n * 1000;
  const plate = over.plate ?? `7ABC${String(n).padStart(3, '0')}`;
  return {
    uuid: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    unitId: 'unit-01',
    cameraId: 'front',
    plate,
    confidence: 91.5,
    candidates: [{ text: plate, confidence: 91.5 }],
    region: 'us',
    box: { x: 10, y: 20, width: 120, height: 40 },
    firstSeen,
    lastSeen: firstSeen + 400,
    bestSeen: firstSeen + 200,
    frameCount: 3,
    clockSource: 'system',
    position: { latitude: 33.9, longitude: -118.4, valid: true, speedKmh: 40, headingDeg: 90, fixTime: firstSeen, source: 'gps' },
    closed: true,
    crop: { bytes: Buffer.alloc(1000, n), format: 'jpeg' },
    frame: { bytes: Buffer.alloc(2000, n), format: 'jpeg' },
    ...over,
  };
}

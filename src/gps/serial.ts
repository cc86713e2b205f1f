/**
 * An NMEA receiver on a serial port (USB or UART). The port may be missing at start or vanish when a USB receiver
 * is unplugged: the source says so in status() and reopens it by itself, waiting longer between tries.
 */
import type { GpsConfig } from './config.js';
import { SerialLink, type LineSplitter } from '../util/serial-link.js';
import { NmeaAssembler } from './nmea.js';
import { NO_POSITION, type Fix, type GpsStatus, type Position, type PositionSource } from './types.js';
import type { Clock } from '../util/clock.js';

/** The part of a pino logger this module uses. */
export interface GpsLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface SerialGpsOptions {
  /** First wait before reopening a missing or lost port; doubles after each failure up to retryMaxMs. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Fixes kept for positionAt(): this far back from the newest fix, and at most historySize of them. */
  historyMs?: number;
  historySize?: number;
  /** The port counts as connected while good sentences arrived within this. */
  silenceMs?: number;
  /** Refused sentences are logged at most once per this, with how many there were. */
  logEveryMs?: number;
  /** The unit's clock: fixes are checked against it (clock skew); the read times it stamps are matched to them. */
  clock: Clock;
}

/** NMEA caps a sentence at 82 characters; longer is noise, or a line that never ends. */
export const MAX_LINE_LENGTH = 200;

const DEFAULTS: Required<Omit<SerialGpsOptions, 'clock'>> = {
  retryMinMs: 1000,
  retryMaxMs: 30_000,
  historyMs: 10 * 60_000,
  historySize: 2000,
  silenceMs: 5000,
  logEveryMs: 60_000,
};

export class SerialGps implements PositionSource {
  private readonly options: Required<SerialGpsOptions>;
  private readonly assembler: NmeaAssembler;
  private readonly history: FixHistory;
  private readonly link: SerialLink;
  private lastLineAt: number | null = null;
  private lastGoodAt: number | null = null;
  private lastFix: Fix | null = null;
  private refusedSinceLog = 0;
  private lastRefusedLogAt = -Infinity;
  private clockSkewed = false;
  private clockCheck: GpsStatus['clockCheck'] = null;

  constructor(
    private readonly config: Pick<GpsConfig, 'port' | 'baudRate' | 'maxAgeMs'>,
    private readonly logger: GpsLogger | undefined,
    options: SerialGpsOptions,
  ) {
    this.options = { ...DEFAULTS, ...options };
    this.assembler = new NmeaAssembler(this.options.clock);
    this.history = new FixHistory(this.options.historyMs, this.options.historySize);
    // NMEA receivers talk 8N1; only the speed varies.
    this.link = new SerialLink(
      { port: config.port, baudRate: config.baudRate, dataBits: 8, parity: 'none', stopBits: 1 },
      { open: () => undefined, lost: () => undefined, line: (line) => this.onLine(line) },
      (onLine) => new NmeaLineSplitter(MAX_LINE_LENGTH, onLine),
      logger,
      { retryMinMs: this.options.retryMinMs, retryMaxMs: this.options.retryMaxMs },
      'GPS receiver',
    );
  }

  /** Resolves after the first attempt to open the port, whether or not it opened; never rejects for a port. */
  async start(): Promise<void> {
    await this.link.start();
  }

  /** Closes the port and cancels any retry. Safe to call twice. */
  async stop(): Promise<void> {
    await this.link.stop();
  }

  positionAt(t: number): Position {
    const near = this.history.nearest(t);
    if (!near) return { ...NO_POSITION, source: 'gps' };
    const { fix, saidNoFix } = near;
    return {
      latitude: fix.latitude,
      longitude: fix.longitude,
      // A fix too far from t, or one the receiver itself disowned, still says roughly where; it is not valid.
      valid: fix.valid && !saidNoFix && Math.abs(fix.time - t) <= this.config.maxAgeMs,
      speedKmh: fix.speedKmh ?? null,
      headingDeg: fix.headingDeg ?? null,
      fixTime: fix.time,
      source: 'gps',
    };
  }

  status(): GpsStatus {
    // silences are durations: the monotonic timer, as lastGoodAt, lastLineAt and the link's openedAt
    const now = performance.now();
    const open = this.link.isOpen;
    const hearing = this.lastGoodAt !== null && now - this.lastGoodAt <= this.options.silenceMs;
    let lastError = open ? null : this.link.lastError;
    const openedAt = this.link.openedAt;
    if (open && !hearing && now - openedAt > this.options.silenceMs) {
      const since = Math.max(openedAt, this.lastGoodAt ?? 0);
      const garbled = this.lastLineAt !== null && now - this.lastLineAt <= this.options.silenceMs;
      lastError =
        `no NMEA sentences from ${this.config.port} for ${Math.round((now - since) / 1000)} s` +
        (garbled ? ` (only unreadable data: is the baud rate ${this.config.baudRate} right?)` : '');
    }
    return {
      source: 'gps',
      connected: open && hearing,
      lastFix: this.lastFix,
      sentences: this.assembler.sentences,
      badSentences: this.assembler.badSentences,
      lastError,
      clockCheck: this.clockCheck,
    };
  }

  private onLine(line: string | null): void {
    const now = performance.now();
    this.lastLineAt = now;
    const event =
      line === null
        ? this.assembler.refuse(`line longer than ${MAX_LINE_LENGTH} characters`)
        : this.assembler.push(line);
    switch (event.kind) {
      case 'refused':
        this.refused(event.error, line ?? '', now);
        return;
      case 'ignored':
        break;
      case 'no-fix':
        this.history.record(event.time, null, event.refines);
        break;
      case 'fix':
        this.history.record(event.fix.time, event.fix, event.refines);
        this.lastFix = event.fix;
        if (event.fix.valid) this.checkClock(event.fix, this.options.clock());
        break;
    }
    this.lastGoodAt = now;
  }

  private refused(error: string, line: string, now: number): void {
    this.refusedSinceLog++;
    if (now - this.lastRefusedLogAt < this.options.logEveryMs) return;
    this.logger?.warn(
      {
        port: this.config.port,
        refused: this.refusedSinceLog,
        error,
        line: line.replace(/[^\x20-\x7e]/g, '?').slice(0, 80),
      },
      'NMEA sentences refused',
    );
    this.refusedSinceLog = 0;
    this.lastRefusedLogAt = now;
  }

  /**
   * Reads are matched to fixes by time: reads by the unit's clock, fixes by the receiver's. When the two disagree
   * by more than maxAgeMs, no read will find a valid fix; say so once, not on every fix.
   */
  private checkClock(fix: Fix, now: number): void {
    const skewMs = now - fix.time;
    this.clockCheck = { skewMs, at: now };
    const skewed = Math.abs(skewMs) > this.config.maxAgeMs;
    if (skewed && !this.clockSkewed) {
      this.logger?.warn(
        { port: this.config.port, skewMs },
        "the unit's clock disagrees with the GPS receiver's; reads will have no valid position",
      );
    } else if (!skewed && this.clockSkewed) {
      this.logger?.info({ port: this.config.port, skewMs }, "the unit's clock agrees with the GPS receiver's again");
    }
    this.clockSkewed = skewed;
  }
}

interface HistoryEntry {
  time: number;
  /** null: the receiver said it had no position at this time. */
  fix: Fix | null;
}

/** Recent fixes in time order, bounded in age and count, for finding the one nearest a read. */
class FixHistory {
  private entries: HistoryEntry[] = [];
  private last: HistoryEntry | null = null;

  constructor(
    private readonly keepMs: number,
    private readonly keepCount: number,
  ) {}

  /** `refines`: replaces the entry recorded last (the same epoch, now with more sentences). */
  record(time: number, fix: Fix | null, refines: boolean): void {
    if (refines && this.last) {
      const moved = this.last.time !== time;
      this.last.time = time;
      this.last.fix = fix;
      if (moved) this.entries.sort((a, b) => a.time - b.time);
      return;
    }
    const entry = { time, fix };
    // Normally in order; a receiver that jumps back in time gets its entry put in its place.
    const at = this.firstAtOrAfter(time + 1);
    this.entries.splice(at, 0, entry);
    this.last = entry;
    const newest = this.entries[this.entries.length - 1]!.time;
    while (this.entries.length > this.keepCount || this.entries[0]!.time < newest - this.keepMs) {
      if (this.entries.shift() === this.last) this.last = null;
    }
  }

  /** The fix nearest `t`, and whether the receiver reported having no position nearer still. */
  nearest(t: number): { fix: Fix; saidNoFix: boolean } | null {
    const n = this.entries.length;
    if (n === 0) return null;
    const after = this.firstAtOrAfter(t);
    const distance = (i: number) => (i >= 0 && i < n ? Math.abs(this.entries[i]!.time - t) : Infinity);
    const nearestEntry = distance(after - 1) <= distance(after) ? after - 1 : after;
    let before = after - 1;
    while (before >= 0 && this.entries[before]!.fix === null) before--;
    let later = after;
    while (later < n && this.entries[later]!.fix === null) later++;
    const withFix = distance(before) <= distance(later) ? before : later;
    if (withFix < 0 || withFix >= n) return null;
    return { fix: this.entries[withFix]!.fix!, saidNoFix: distance(nearestEntry) < distance(withFix) };
  }

  private firstAtOrAfter(t: number): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid]!.time < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * Splits the byte stream into lines at '\n' and drops a trailing '\r'. A line that grows past maxLength is
 * given as null (refused) and the rest of it skipped up to the next newline, so a stream without newlines
 * (wrong baud rate, a binary protocol) cannot grow memory. serialport's ReadlineParser has no such bound.
 */
class NmeaLineSplitter implements LineSplitter {
  private parts: Buffer[] = [];
  private length = 0;
  private overlong = false;

  constructor(
    private readonly maxLength: number,
    private readonly onLine: (line: string | null) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      this.keep(chunk.subarray(start, nl));
      this.endLine();
      start = nl + 1;
    }
    this.keep(chunk.subarray(start));
  }

  /** Forgets a partial line (a reopened port starts mid-stream). */
  reset(): void {
    this.parts = [];
    this.length = 0;
    this.overlong = false;
  }

  private keep(bytes: Buffer): void {
    if (this.overlong || bytes.length === 0) return;
    if (this.length + bytes.length > this.maxLength) {
      this.reset();
      this.overlong = true;
      this.onLine(null);
      return;
    }
    // A copy: a slice would hold on to serialport's whole read buffer.
    this.parts.push(Buffer.from(bytes));
    this.length += bytes.length;
  }

  private endLine(): void {
    if (this.overlong) {
      this.overlong = false;
      return;
    }
    // latin1: one character per byte, so noise stays visible to the parser instead of turning into U+FFFD.
    const line = Buffer.concat(this.parts).toString('latin1').replace(/\r$/, '');
    this.reset();
    if (line !== '') this.onLine(line);
  }
}

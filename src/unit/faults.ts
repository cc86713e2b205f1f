import type Database from 'better-sqlite3';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../util/clock.js';

/**
 * The unit watches itself (P16: an inoperable system is reported for repair without waiting for a person).
 * Each check of the status gives the faults present now; a fault that appears is written to `unit_faults` as
 * raised, one that goes away as cleared. The rows go upstream with the other sync streams, and the open faults
 * are in the health the terminal and the agency see (MQTT `health`, the sync health report, status.json).
 */

export type FaultCode = 'camera' | 'recognition' | 'storage' | 'gps' | 'clock' | 'uplink';

export interface Fault {
  code: FaultCode;
  subject: string;
  message: string;
  since: number;
}

/** What the checks look at: a slice of the unit's status, so the monitor can be tested without a unit. */
export interface FaultInputs {
  now: number;
  startedAt: number;
  cameras: Array<{ id: string; enabled: boolean; finished: boolean; connected: boolean; lastFrameAt: number | null; lastError: string | null }>;
  recognition: { workerAlive: boolean; lastError: string | null };
  disk: { freeBytes: number; totalBytes: number } | null;
  /**
   * Free space the store keeps by deleting images (store.diskReserveMB, at most a tenth of the disk); 0 or absent:
   * none. With one, the disk is faulty only when free space falls under half of it (the store could not keep it:
   * no images left to delete, or something else fills the disk faster), not while images are deleted to keep it.
   */
  diskReserveBytes?: number;
  imageBudgetExceeded: boolean;
  /** Reads that cannot be stored (the unit's StorageGuard); absent: not checked. */
  storage?: { failing: boolean; lastError: string | null; pendingReads: number; pendingReadsMax: number; framesDropped: number };
  /** clockSkewMs: the unit's clock minus the receiver's at a recent valid fix; null when there is none. */
  gps: { expected: boolean; connected: boolean; fixValid: boolean; lastFixAt: number | null; clockSkewMs?: number | null };
  /** Wall clock minus the monotonic clock's idea of it (ms): a jump of the system clock shows here. */
  clockJumpMs: number;
  uplink: { enabled: boolean; consecutiveFailures: number; lastError: string | null; lastSuccessAt: number | null } | null;
}

export interface FaultThresholds {
  /** A camera without frames this long (ms) is faulty. */
  cameraSilentMs: number;
  /** Free disk below this fraction (or 256 MiB) is a fault. */
  diskFreeFraction: number;
  /** GPS without a valid fix this long (ms). */
  gpsNoFixMs: number;
  /** A clock jump larger than this (ms). */
  clockJumpMs: number;
  /** The unit's clock differing from the GPS receiver's by more than this (ms). */
  gpsClockSkewMs: number;
  /** Failed sync cycles in a row before the uplink is faulty. */
  uplinkFailures: number;
}

export const DEFAULT_THRESHOLDS: FaultThresholds = {
  cameraSilentMs: 60_000,
  diskFreeFraction: 0.05,
  gpsNoFixMs: 300_000,
  clockJumpMs: 120_000,
  gpsClockSkewMs: 5000,
  uplinkFailures: 3,
};

const MIN_FREE_BYTES = 256 * 2 ** 20;
/** A clock jump stays reported this long after it happened. */
const CLOCK_FAULT_MS = 600_000;

export class FaultMonitor {
  private readonly open = new Map<string, Fault>();
  private clockJumpAt: number | null = null;
  private clockJumpBy = 0;
  private recordedRows = 0;
  /** Raised or cleared records the database refused (a full disk): written at a later check. */
  private readonly unrecorded: Array<[number, FaultCode, string, 'raised' | 'cleared', string]> = [];
  private unrecordedDropped = 0;
  private recordsRefused = false;

  constructor(
    private readonly db: Database.Database,
    private readonly log: Logger,
    private readonly thresholds: FaultThresholds = DEFAULT_THRESHOLDS,
  ) {
    // faults still open when the unit last stopped: they are cleared or raised again by the first check
    const rows = this.db
      .prepare(
        `SELECT f.code, f.subject, f.message, f.at FROM unit_faults f
         WHERE f.id = (SELECT MAX(g.id) FROM unit_faults g WHERE g.code = f.code AND g.subject = f.subject) AND f.state = 'raised'`,
      )
      .all() as Array<{ code: FaultCode; subject: string; message: string; at: number }>;
    for (const r of rows) this.open.set(`${r.code}/${r.subject}`, { code: r.code, subject: r.subject, message: r.message, since: r.at });
  }

  /** How many raised or cleared records check() has written since the unit started: a change shows as a new count. */
  get recorded(): number {
    return this.recordedRows;
  }

  /** The faults open now. */
  faults(): Fault[] {
    return [...this.open.values()];
  }

  /** Checks once; records what was raised or cleared; returns the open faults. */
  check(i: FaultInputs): Fault[] {
    const found = new Map<string, Omit<Fault, 'since'>>();
    const add = (code: FaultCode, subject: string, message: string) => found.set(`${code}/${subject}`, { code, subject, message });
    const t = this.thresholds;
    const upFor = i.now - i.startedAt;
    for (const c of i.cameras) {
      if (!c.enabled || c.finished) continue;
      const silentFor = i.now - (c.lastFrameAt ?? i.startedAt);
      if (upFor >= t.cameraSilentMs && silentFor >= t.cameraSilentMs) {
        add('camera', c.id, `camera ${c.id} ${c.connected ? 'delivers no frames' : 'is not connected'} (${Math.round(silentFor / 1000)} s)${c.lastError ? `: ${c.lastError}` : ''}`);
      }
    }
    if (!i.recognition.workerAlive) add('recognition', '', `recognition is not working${i.recognition.lastError ? `: ${i.recognition.lastError}` : ''}`);
    if (i.disk && i.disk.totalBytes > 0) {
      const free = i.disk.freeBytes;
      const reserve = Math.min(i.diskReserveBytes ?? 0, i.disk.totalBytes / 10);
      const mib = (n: number) => Math.round(n / 2 ** 20);
      if (reserve > 0 ? free < reserve / 2 : free < MIN_FREE_BYTES || free / i.disk.totalBytes < t.diskFreeFraction) {
        add(
          'storage',
          'disk',
          `the data disk is nearly full: ${mib(free)} MiB free of ${mib(i.disk.totalBytes)} MiB` +
            (reserve > 0 ? ` (images are deleted to keep ${mib(reserve)} MiB free: none are left to delete, or something else fills the disk)` : ''),
        );
      }
    }
    if (i.imageBudgetExceeded) add('storage', 'images', 'the image budget is exceeded by plate crops alone (store.imageBudgetMB)');
    const st = i.storage;
    if (st && (st.failing || st.pendingReads > 0)) {
      add(
        'storage',
        'reads',
        `reads cannot be stored${st.lastError ? ` (${st.lastError})` : ''}: ${st.pendingReads} wait in memory (at most ${st.pendingReadsMax})` +
          (st.framesDropped > 0 ? `, ${st.framesDropped} camera frames dropped` : '') +
          (st.failing ? '' : '; being stored now'),
      );
    }
    if (i.gps.expected && upFor >= t.gpsNoFixMs) {
      const noFixFor = i.now - (i.gps.lastFixAt ?? i.startedAt);
      if (!i.gps.connected) add('gps', '', 'the GPS receiver is not connected: reads have no position');
      else if (!i.gps.fixValid && noFixFor >= t.gpsNoFixMs) add('gps', '', `no valid GPS fix for ${Math.round(noFixFor / 1000)} s: reads have no position`);
    }
    if (Math.abs(i.clockJumpMs) >= t.clockJumpMs) {
      this.clockJumpAt = i.now;
      this.clockJumpBy = i.clockJumpMs;
    }
    if (this.clockJumpAt !== null && i.now - this.clockJumpAt < CLOCK_FAULT_MS) {
      add('clock', '', `the system clock jumped by ${Math.round(this.clockJumpBy / 1000)} s: read times around ${new Date(this.clockJumpAt).toISOString()} may be wrong`);
    }
    const skew = i.gps.clockSkewMs;
    if (skew !== undefined && skew !== null && Math.abs(skew) > t.gpsClockSkewMs) {
      add('clock', 'gps', `the system clock is ${Math.abs(skew / 1000).toFixed(1)} s ${skew > 0 ? 'ahead of' : 'behind'} the GPS receiver's: read times may be wrong (is NTP or gpsd setting it?)`);
    }
    if (new Date(i.now).getUTCFullYear() < 2024) add('clock', 'unset', `the system clock is not set (${new Date(i.now).toISOString()})`);
    if (i.uplink?.enabled && i.uplink.consecutiveFailures >= t.uplinkFailures) {
      add('uplink', '', `sync with the central server failed ${i.uplink.consecutiveFailures} times in a row${i.uplink.lastError ? `: ${i.uplink.lastError}` : ''}`);
    }

    this.writeUnrecorded();
    for (const [key, f] of found) {
      const open = this.open.get(key);
      if (open) {
        open.message = f.message; // the counts in it are now's
        continue;
      }
      this.record([i.now, f.code, f.subject, 'raised', f.message]);
      this.open.set(key, { ...f, since: i.now });
      this.log.warn({ fault: f.code, subject: f.subject }, `fault: ${f.message}`);
    }
    for (const [key, f] of this.open) {
      if (found.has(key)) continue;
      this.record([i.now, f.code, f.subject, 'cleared', `cleared: ${f.message}`]);
      this.open.delete(key);
      this.log.info({ fault: f.code, subject: f.subject }, `fault cleared: ${f.message}`);
    }
    return this.faults();
  }

  /**
   * Writes a raised or cleared record. The fault is open (or cleared) in memory and reported at once either way;
   * a record the database refuses (a full disk) waits in memory and is written by a later check.
   */
  private record(row: [number, FaultCode, string, 'raised' | 'cleared', string]): void {
    this.recordedRows++;
    this.unrecorded.push(row);
    if (this.unrecorded.length > MAX_UNRECORDED) {
      this.unrecorded.shift();
      this.unrecordedDropped++;
    }
    this.writeUnrecorded();
  }

  private writeUnrecorded(): void {
    if (this.unrecorded.length === 0) return;
    const insert = this.db.prepare('INSERT INTO unit_faults (at, code, subject, state, message) VALUES (?, ?, ?, ?, ?)');
    try {
      while (this.unrecorded.length > 0) {
        insert.run(...this.unrecorded[0]!);
        this.unrecorded.shift();
      }
    } catch (err) {
      // said when it starts, not at every check
      if (!this.recordsRefused) {
        this.recordsRefused = true;
        this.log.warn({ err: (err as Error).message, waiting: this.unrecorded.length }, 'fault records cannot be written to the database yet; the faults are reported, their records kept in memory');
      }
      return;
    }
    this.recordsRefused = false;
    if (this.unrecordedDropped > 0) {
      this.log.warn({ dropped: this.unrecordedDropped }, 'fault records were dropped while the database refused them');
      this.unrecordedDropped = 0;
    }
  }
}

/** Most fault records kept in memory while the database refuses them; beyond it the oldest are dropped (counted). */
const MAX_UNRECORDED = 1000;

/** Detects jumps of the wall clock against the monotonic clock between two calls. */
export class ClockWatch {
  private wall: number;
  private mono = performance.now();

  constructor(private readonly clock: Clock) {
    this.wall = clock();
  }

  /** Wall-clock change minus monotonic change since the last call (ms); ~0 unless the clock was set. */
  jump(): number {
    const wall = this.clock();
    const mono = performance.now();
    const jump = wall - this.wall - (mono - this.mono);
    this.wall = wall;
    this.mono = mono;
    return jump;
  }
}

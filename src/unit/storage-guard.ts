import type { Logger } from '../log/logger.js';
import type { Clock } from '../util/clock.js';

/**
 * What the unit does while reads cannot be stored (a full disk, a database that refuses writes): the reads wait in
 * memory, at most `maxPending` of them (the grouper keeps them, with their images); when that many wait, new
 * camera frames are dropped (counted) instead of reads; the condition is logged once with its counts when it
 * starts, then at most once per `repeatMs` (the unit's clock), never once per failed write; while the store
 * fails, one write at a time is tried, at most once per `probeMs`, the others wait without touching the disk; the
 * first write that succeeds ends the condition and the waiting reads are stored at the grouper's next retry.
 */

export interface StorageGuardOptions {
  /** Most reads waiting in memory before new frames are dropped. */
  maxPending: number;
  /** Reads waiting in memory now (the grouper's pending count). */
  pending: () => number;
  clock: Clock;
  log: Logger;
  /** Least time between two log lines about the same condition (ms). Default one minute. */
  repeatMs?: number;
  /** Least time between two tries of a write while the store fails (ms). Default one second. */
  probeMs?: number;
}

export interface StorageGuardStatus {
  /** Whether the store refused the last write of a read. */
  failing: boolean;
  /** Since when (the unit's clock); null while it works. */
  since: number | null;
  lastError: string | null;
  /** Reads waiting in memory to be stored. */
  pendingReads: number;
  pendingReadsMax: number;
  /** Camera frames dropped because pendingReadsMax reads were waiting (since the unit started). */
  framesDropped: number;
  /** Writes of reads the store refused (since the unit started). */
  failedWrites: number;
  /** Reads that waited in memory and were stored later (since the unit started). */
  storedLate: number;
  /** Reads that could not be stored before the unit stopped (lost; each is logged). */
  lostAtStop: number;
}

/** The error a write gets while the store fails and it is not its turn to try: nothing was written. */
export class StorageDeferred extends Error {
  override name = 'StorageDeferred';
}

/** One try of a write; `done` says how it went. */
export interface WriteAttempt {
  done(outcome: { ok: true; retry: boolean } | { ok: false; error: Error }): void;
}

export class StorageGuard {
  private failingSince: number | null = null;
  private lastError: string | null = null;
  private lastLogAt = -Infinity;
  private lastTryAt = -Infinity;
  private trying = false;
  private stopping = false;
  /** The "frames are dropped" line was logged in this episode (until the store works again). */
  private full = false;
  private failedWrites = 0;
  private framesDropped = 0;
  private storedLate = 0;
  private lostAtStop = 0;
  /** Counts since the last log line of the condition. */
  private failedSinceLog = 0;
  private droppedSinceLog = 0;

  constructor(private readonly opts: StorageGuardOptions) {}

  private get repeatMs(): number {
    return this.opts.repeatMs ?? 60_000;
  }

  /** Whether a new read could be kept in memory if it could not be stored. */
  get hasRoom(): boolean {
    return this.opts.pending() < this.opts.maxPending;
  }

  /**
   * A live camera's frame arrives: true to take it; false when `maxPending` reads wait in memory (the frame is
   * dropped, counted, and the condition logged as the rate allows).
   */
  admitFrame(): boolean {
    if (this.stopping || this.hasRoom) return true;
    this.framesDropped++;
    this.droppedSinceLog++;
    // (while the waiting reads are being stored again, frames are dropped for a moment without a word)
    if (this.failingSince === null) return false;
    if (!this.full) {
      this.full = true;
      this.opts.log.error(
        { pendingReads: this.opts.pending(), pendingReadsMax: this.opts.maxPending, err: this.lastError },
        `${this.opts.pending()} reads wait in memory to be stored (store.pendingReadsMax): new camera frames are dropped, and counted, until they can be stored`,
      );
      this.lastLogAt = this.opts.clock();
      this.failedSinceLog = 0;
      this.droppedSinceLog = 0;
    } else this.repeat();
    return false;
  }

  /**
   * Before writing a read: the attempt to report back on, or a StorageDeferred to throw when the store fails and
   * another write is being tried or one was tried less than probeMs ago (nothing is written; the read waits).
   */
  begin(): WriteAttempt | StorageDeferred {
    if (this.failingSince !== null && !this.stopping) {
      const now = this.opts.clock();
      const since = now - this.lastTryAt;
      if (this.trying || (since >= 0 && since < (this.opts.probeMs ?? 1000))) {
        return new StorageDeferred(`the store refuses writes: ${this.lastError ?? 'unknown error'}`);
      }
      this.lastTryAt = now;
      this.trying = true;
    }
    let settled = false;
    return {
      done: (outcome) => {
        if (settled) return;
        settled = true;
        this.trying = false;
        if (outcome.ok) this.stored(outcome.retry);
        else this.failed(outcome.error);
      },
    };
  }

  /** The unit is stopping: every waiting read is tried at once, whatever the pace while running. */
  stop(): void {
    this.stopping = true;
  }

  /** Reads lost at the stop (each logged by the unit). */
  lost(n: number): void {
    this.lostAtStop += n;
  }

  status(): StorageGuardStatus {
    return {
      failing: this.failingSince !== null,
      since: this.failingSince,
      lastError: this.lastError,
      pendingReads: this.opts.pending(),
      pendingReadsMax: this.opts.maxPending,
      framesDropped: this.framesDropped,
      failedWrites: this.failedWrites,
      storedLate: this.storedLate,
      lostAtStop: this.lostAtStop,
    };
  }

  private stored(retry: boolean): void {
    if (retry) this.storedLate++;
    if (this.failingSince === null) return;
    const now = this.opts.clock();
    this.opts.log.info(
      {
        failedForMs: now - this.failingSince,
        failedWrites: this.failedWrites,
        framesDropped: this.framesDropped,
        pendingReads: this.opts.pending(),
      },
      `reads can be stored again (after ${Math.round((now - this.failingSince) / 1000)} s); the ${this.opts.pending()} read(s) waiting in memory are being stored`,
    );
    this.failingSince = null;
    this.full = false;
    this.lastLogAt = -Infinity;
  }

  private failed(err: Error): void {
    this.failedWrites++;
    this.lastError = err.message;
    this.lastTryAt = this.opts.clock();
    if (this.failingSince === null) {
      const now = this.opts.clock();
      this.failingSince = now;
      this.lastLogAt = now;
      this.failedSinceLog = 0;
      this.droppedSinceLog = 0;
      this.opts.log.error(
        { err: err.message, pendingReads: this.opts.pending() + 1, pendingReadsMax: this.opts.maxPending },
        `reads cannot be stored: they wait in memory (at most ${this.opts.maxPending}, then new frames are dropped) and are stored when the store takes writes again; this is logged again at most once a minute`,
      );
      return;
    }
    this.failedSinceLog++;
    this.repeat();
  }

  /** The condition's log line, at most once per repeatMs (a clock set back counts as time passed). */
  private repeat(): void {
    const now = this.opts.clock();
    if (now - this.lastLogAt < this.repeatMs && now >= this.lastLogAt) return;
    this.lastLogAt = now;
    this.opts.log.error(
      {
        err: this.lastError,
        pendingReads: this.opts.pending(),
        pendingReadsMax: this.opts.maxPending,
        failingForMs: this.failingSince === null ? null : now - this.failingSince,
        failedWrites: this.failedSinceLog,
        framesDropped: this.droppedSinceLog,
        framesDroppedTotal: this.framesDropped,
      },
      `reads still cannot be stored: ${this.opts.pending()} wait in memory, ${this.droppedSinceLog} frames dropped and ${this.failedSinceLog} writes refused since the last report`,
    );
    this.failedSinceLog = 0;
    this.droppedSinceLog = 0;
  }
}

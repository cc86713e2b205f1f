import { EventEmitter } from 'node:events';
import { networkInterfaces } from 'node:os';
import { Cron } from 'croner';
import type { Logger } from '../log/logger.js';
import type { Hotlists } from '../hotlist/index.js';
import type { ReadStore } from '../store/read-store.js';
import { HotlistSync, type HotlistSyncReport, type Importer } from './hotlist-sync.js';
import { loadCredentials, SyncError, SyncHttp, type FailureKind } from './http.js';
import { uploadImage } from './image-upload.js';
import type { SyncConfig } from './schema.js';
import {
  acknowledge,
  backlog,
  currentDestination,
  cursorOf,
  destinationByUrl,
  imagesPending,
  imagesWaiting,
  lastDestinationChange,
  markImageSent,
  noteDestinationOutcome,
  readPage,
  recordDestination,
  STREAMS,
  type AccessAppender,
  type Actor,
  type Destination,
  type DestinationChange,
  type StreamName,
} from './streams.js';
import type { Clock } from '../util/clock.js';
import { headAtOrBefore, isChainHead, recordAck } from '../access/audit-head.js';
import type { ChainHead } from '../access/access-log.js';


/**
 * Upstream sync, push side: on the schedule (cron), on demand, and again after a failure with exponential
 * back-off and jitter, one cycle at a time:
 *   1. hot lists back from the server (cancellations first of all: they must stop alerts at once),
 *   2. each stream (reads, hits, alert events, the access log, faults) in batches, each stream's cursor moved
 *      only once the server has acknowledged the batch,
 *   3. the unit's health,
 *   4. images, in resumable chunks (with the reads, or deferred to a schedule and a network interface).
 * Nothing is lost or doubled: an unacknowledged batch is sent again, and the server stores each item once.
 */

/** `faults`: a fault was raised or cleared; only the faults and the unit's health go up, at once (P16). */
export type CycleTrigger = 'schedule' | 'manual' | 'retry' | 'images' | 'faults';

/** Fault pushes are at most this often: a flapping part does not turn into a stream of requests. */
const FAULT_PUSH_MIN_MS = 10_000;

export interface StreamReport {
  sent: number;
  batches: number;
  stored: number;
  duplicates: number;
  /** How long the push waited for capture to catch up (captureBusy) before its batches. */
  yieldedMs: number;
}

export interface CycleReport {
  trigger: CycleTrigger;
  startedAt: number;
  ms: number;
  ok: boolean;
  error?: { kind: FailureKind; message: string };
  hotlists?: HotlistSyncReport;
  /** The hot list step failed on what the server sent (a bad manifest, a 404): the push went on without it. */
  hotlistsError?: string;
  streams: Partial<Record<StreamName, StreamReport>>;
  /**
   * The access log's head sent after the streams (the last record the server has): acknowledged (recorded on the
   * unit, for `audit verify`), refused (the server holds a later or different head: the log went back), or not
   * supported by the server. Absent when no head was sent (a faults or images cycle, an empty log).
   */
  accessLogHead?: { sent: ChainHead; acknowledged: boolean; refused?: string };
  images: { uploaded: number; bytes: number; skipped: number; resumed: number; deferred: boolean };
}

export interface SyncStatus {
  enabled: boolean;
  server: string;
  running: boolean;
  lastAttemptAt: number | null;
  lastSuccessAt: number | null;
  lastError: { at: number; kind: FailureKind; message: string } | null;
  consecutiveFailures: number;
  nextRunAt: number | null;
  backlog: Record<StreamName | 'images', number>;
  /**
   * The configured server as recorded in the store: whether pushes to it mark reads synced (the agency's server) and
   * whether it has been recorded yet (no push to it so far); null when no server is configured.
   */
  destination: { url: string; agencyServer: boolean; recorded: boolean; source: string } | null;
  /** The last change of destination recorded (by this unit, or a `sync now` with another server). */
  lastChange: DestinationChange | null;
}

export interface SyncEngineOptions {
  config: SyncConfig;
  unitId: string;
  store: ReadStore;
  /** The unit's hot lists (in the running unit, the same instance that matches reads). */
  hotlists?: Hotlists;
  /** How downloaded lists are imported (the running unit: in a worker thread); default: in this thread. */
  importer?: Importer;
  /** The unit's health, sent each cycle. */
  health?: () => object;
  log: Logger;
  /**
   * True while capture is falling behind (the running unit: a camera's frames dropped in the last 2 s). A push
   * then waits before each batch until capture keeps up again, but at most captureYieldMaxMs per batch, so an
   * overloaded unit still syncs.
   */
  captureBusy?: () => boolean;
  /** Longest wait for capture before one batch (default 2000 ms). */
  captureYieldMaxMs?: number;
  /** Fault pushes (pushFaultsSoon) at most this often (default 10 s). */
  faultPushMinMs?: number;
  /** For tests: random in [0, 1) used for the jitter. */
  random?: () => number;
  /**
   * Where sync.server.url came from: the config file (trusted: the agency's configured server, whose acknowledgements
   * mark reads synced) or an environment override (not trusted: a destination of its own, reads stay pending for the
   * agency's). Default: trusted, "configuration".
   */
  destination?: { source: string; trusted: boolean };
  /** The access log: a change of destination is written to it before anything is sent (P2, P9). */
  accessLog?: AccessAppender;
  /** Who pushes: a signed-in user (`sync now`), else the unit itself. */
  actor?: Actor;
}

export class SyncEngine extends EventEmitter<{ cycle: [CycleReport] }> {
  private readonly config: SyncConfig;
  private readonly log: Logger;
  private readonly hotlistSync: HotlistSync | undefined;
  private jobs: Cron[] = [];
  private imageJobs: Cron[] = [];
  private retryTimer: NodeJS.Timeout | undefined;
  private retryAt: number | null = null;
  private faultsTimer: NodeJS.Timeout | undefined;
  private lastFaultPushAt = -Infinity;
  private current: Promise<CycleReport> | undefined;
  private stopped = false;
  private lastAttemptAt: number | null = null;
  private lastSuccessAt: number | null = null;
  private lastError: SyncStatus['lastError'] = null;
  private failures = 0;
  private http: SyncHttp | undefined;
  /** The server answered 404 to the access log head (warned once). */
  private headUnsupported = false;
  /** The destination of the cycle running (recorded before anything is sent). */
  private dest: Destination | undefined;

  /** The store's clock: times of attempts, errors, retries and acknowledgements. */
  private readonly clock: Clock;

  constructor(private readonly o: SyncEngineOptions) {
    super();
    this.clock = o.store.clock;
    this.config = o.config;
    this.log = o.log;
    this.hotlistSync = o.hotlists && o.config.hotlists.enabled ? new HotlistSync(o.store.database, o.hotlists, o.log.child({ part: 'hotlist-sync' }), o.importer) : undefined;
  }

  /** Starts the schedule (the unit calls this when sync.enabled). */
  start(): void {
    this.stopped = false;
    for (const expr of this.config.schedule) {
      this.jobs.push(new Cron(expr, { protect: true }, () => void this.runCycle('schedule')));
    }
    if (this.config.images.mode === 'deferred') {
      for (const expr of this.config.images.schedule) {
        this.imageJobs.push(new Cron(expr, { protect: true }, () => void this.runCycle('images')));
      }
    }
    this.log.info({ server: this.config.server.url, schedule: this.config.schedule, next: this.nextRunAt() }, 'upstream sync scheduled');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const j of [...this.jobs, ...this.imageJobs]) j.stop();
    this.jobs = [];
    this.imageJobs = [];
    clearTimeout(this.retryTimer);
    clearTimeout(this.faultsTimer);
    this.faultsTimer = undefined;
    this.retryAt = null;
    // A cycle waiting on the server (a push mid-batch, a hung server) is cut now rather than at its timeouts: its
    // sockets are destroyed, and again while it runs, so a request it starts next fails at once too. What the
    // server did not acknowledge is still marked unsent and goes in the next cycle.
    const cut = this.current ? setInterval(() => this.http?.close(), 50) : undefined;
    this.http?.close();
    await this.current?.catch(() => undefined);
    clearInterval(cut);
    this.http?.close();
    this.http = undefined;
  }

  /** One cycle now; a cycle already running is joined, not doubled. */
  runCycle(trigger: CycleTrigger = 'manual'): Promise<CycleReport> {
    if (this.current) return this.current;
    this.current = this.cycle(trigger).finally(() => (this.current = undefined));
    return this.current;
  }

  /**
   * A fault was raised or cleared: push the faults stream and the health now rather than at the next scheduled
   * cycle, after a cycle already running, and at most once per FAULT_PUSH_MIN_MS (later changes wait for the next
   * push, which carries all of them). A failed push is retried like any failed cycle.
   */
  pushFaultsSoon(): void {
    if (this.stopped || this.faultsTimer) return;
    const wait = Math.max(0, this.lastFaultPushAt + (this.o.faultPushMinMs ?? FAULT_PUSH_MIN_MS) - performance.now());
    this.faultsTimer = setTimeout(() => {
      void (async () => {
        await this.current?.catch(() => undefined);
        this.faultsTimer = undefined;
        if (this.stopped) return;
        this.lastFaultPushAt = performance.now();
        await this.runCycle('faults');
      })();
    }, wait);
    this.faultsTimer.unref?.();
  }

  get running(): boolean {
    return this.current !== undefined;
  }

  status(): SyncStatus {
    const db = this.o.store.database;
    const url = this.config.server.url;
    const known = url === '' ? null : destinationByUrl(db, url);
    // a server never pushed to has all still to come; before any destination was recorded, the cursors kept then
    const id = known?.id ?? (currentDestination(db) === null ? 0 : -1);
    const counts = Object.fromEntries(STREAMS.map((s) => [s, backlog(db, s, cursorOf(db, s, id))])) as Record<StreamName, number>;
    const images = imagesWaiting(db, id);
    const claim = this.claim();
    const lastSuccess = [this.lastSuccessAt, known?.lastSuccessAt ?? null].filter((t): t is number => t !== null);
    return {
      enabled: this.config.enabled,
      server: url,
      destination: url === '' ? null : { url, agencyServer: known ? known.agency : claim.trusted, recorded: known !== null, source: claim.source },
      lastChange: lastDestinationChange(db),
      running: this.running,
      lastAttemptAt: this.lastAttemptAt,
      lastSuccessAt: lastSuccess.length ? Math.max(...lastSuccess) : null,
      lastError: this.lastError,
      consecutiveFailures: this.failures,
      nextRunAt: this.nextRunAt(),
      backlog: { ...counts, images },
    };
  }

  nextRunAt(): number | null {
    const times = [...this.jobs.map((j) => j.nextRun()?.getTime() ?? null), this.retryAt].filter((t): t is number => t !== null);
    return times.length ? Math.min(...times) : null;
  }

  private claim(): { source: string; trusted: boolean } {
    return this.o.destination ?? { source: 'configuration', trusted: true };
  }

  private client(): SyncHttp {
    // credentials are read at each cycle: a renewed token or certificate needs no restart
    const creds = loadCredentials(this.config.server);
    this.http?.close();
    this.http = new SyncHttp(creds, this.config.server, this.config.maxKBps);
    return this.http;
  }

  private async cycle(trigger: CycleTrigger): Promise<CycleReport> {
    const startedAt = this.clock();
    const t0 = performance.now();
    this.lastAttemptAt = startedAt;
    this.dest = undefined;
    const report: CycleReport = { trigger, startedAt, ms: 0, ok: false, streams: {}, images: { uploaded: 0, bytes: 0, skipped: 0, resumed: 0, deferred: false } };
    try {
      const http = this.client();
      // where this goes is recorded (and a change written to the access log) before anything is sent
      this.dest = recordDestination(
        this.o.store.database,
        this.o.accessLog,
        { url: this.config.server.url, ...this.claim() },
        this.o.actor ?? { user: `unit ${this.o.unitId}`, agency: '', role: 'system' },
        startedAt,
      ).destination;
      const unit = encodeURIComponent(this.o.unitId);
      if (trigger !== 'images') {
        if (this.hotlistSync && trigger !== 'faults' && !this.dest.agency) {
          // hot lists, entries and cancellations come only from the agency's server (P12): not from another one
          report.hotlistsError = "not the agency's server: hot lists are not taken from it";
        } else if (this.hotlistSync && trigger !== 'faults') {
          try {
            report.hotlists = await this.hotlistSync.run(http, this.o.unitId);
          } catch (err) {
            // what the server sent is wrong (a malformed manifest, no hot lists published): the lists stay as they
            // are and the reads still go up; a link or credential problem fails the whole cycle as usual
            if (!(err instanceof SyncError) || (err.kind !== 'protocol' && err.kind !== 'refused' && err.kind !== 'server')) throw err;
            report.hotlistsError = err.message;
            this.log.error({ err: err.message }, 'hot lists not updated from the central server; the unit keeps the lists it has');
          }
        }
        for (const stream of STREAMS) {
          if (trigger === 'faults' && stream !== 'faults') continue;
          report.streams[stream] = await this.pushStream(http, unit, stream);
        }
        if (trigger !== 'faults') report.accessLogHead = await this.pushHead(http, unit);
        if (this.o.health) await http.json({ method: 'PUT', path: `v1/units/${unit}/health`, json: this.o.health() });
      }
      const images = this.config.images;
      const imagesNow =
        trigger !== 'faults' &&
        (images.mode === 'with-reads' || (images.mode === 'deferred' && (trigger === 'images' || trigger === 'manual') && this.interfaceUp()));
      if (images.mode === 'deferred' && !imagesNow) report.images.deferred = true;
      if (imagesNow) await this.pushImages(http, unit, report.images);
      report.ok = true;
      this.failures = 0;
      this.lastSuccessAt = this.clock();
      noteDestinationOutcome(this.o.store.database, this.dest.id, this.lastSuccessAt, true, null);
      this.lastError = null;
      clearTimeout(this.retryTimer);
      this.retryAt = null;
    } catch (err) {
      const e = err instanceof SyncError ? err : new SyncError((err as Error).message, 'protocol');
      report.error = { kind: e.kind, message: e.message };
      this.failures++;
      this.lastError = { at: this.clock(), kind: e.kind, message: e.message };
      if (this.dest) {
        try {
          noteDestinationOutcome(this.o.store.database, this.dest.id, this.lastError.at, false, e.message);
        } catch {
          // the store is closing: the next cycle records its own outcome
        }
      }
      this.scheduleRetry(e);
    }
    report.ms = performance.now() - t0;
    const sent = Object.values(report.streams).reduce((n, s) => n + s.sent, 0);
    if (report.ok) {
      if (sent > 0 || report.images.uploaded > 0 || trigger === 'manual') {
        this.log.info({ trigger, ms: Math.round(report.ms), streams: report.streams, images: report.images }, 'sync cycle done');
      }
    } else {
      this.log.warn({ trigger, kind: report.error!.kind, err: report.error!.message, sentBeforeFailure: sent, retryInMs: this.retryAt ? this.retryAt - this.clock() : null }, 'sync cycle failed');
    }
    this.emit('cycle', report);
    return report;
  }

  private scheduleRetry(err: SyncError): void {
    if (this.stopped || this.jobs.length === 0) return;
    // a misconfiguration does not heal by itself: wait for the schedule (and the technician)
    if (err.kind === 'config') return;
    const { initialMs, maxMs } = this.config.retry;
    const base = Math.min(maxMs, initialMs * 2 ** Math.min(30, this.failures - 1));
    const delay = Math.round(base / 2 + (this.o.random ?? Math.random)() * (base / 2));
    const next = this.jobs.map((j) => j.msToNext() ?? Infinity).reduce((a, b) => Math.min(a, b), Infinity);
    if (delay >= next) return;
    clearTimeout(this.retryTimer);
    this.retryAt = this.clock() + delay;
    this.retryTimer = setTimeout(() => {
      this.retryAt = null;
      void this.runCycle('retry');
    }, delay);
    this.retryTimer.unref?.();
  }

  private async pushStream(http: SyncHttp, unit: string, stream: StreamName): Promise<StreamReport> {
    const db = this.o.store.database;
    const r: StreamReport = { sent: 0, batches: 0, stored: 0, duplicates: 0, yieldedMs: 0 };
    for (;;) {
      if (this.stopped) break;
      r.yieldedMs += await this.yieldToCapture();
      const t0 = performance.now();
      const dest = this.dest!;
      const page = readPage(db, stream, cursorOf(db, stream, dest.id), this.config.batchSize);
      if (page.items.length === 0) break;
      const res = await http.json<{ received?: unknown; stored?: unknown; duplicates?: unknown }>({
        method: 'POST',
        path: `v1/units/${unit}/batches/${stream}`,
        json: { unit: this.o.unitId, stream, items: page.items },
      });
      const ack = res.data;
      if (!ack || ack.received !== page.items.length) {
        throw new SyncError(
          `POST batches/${stream}: the server acknowledged ${JSON.stringify(ack?.received)} of ${page.items.length} items; the batch is sent again next time`,
          'protocol',
        );
      }
      acknowledge(db, stream, page, this.clock(), dest);
      r.sent += page.items.length;
      r.batches++;
      r.stored += typeof ack.stored === 'number' ? ack.stored : 0;
      r.duplicates += typeof ack.duplicates === 'number' ? ack.duplicates : 0;
      if (page.items.length < this.config.batchSize) break;
      // a backlog leaves the CPU to capture, alerts and the event loop between batches (sync.dutyCycle)
      const pause = (performance.now() - t0) * (1 / this.config.dutyCycle - 1);
      await new Promise((resolve) => (pause >= 1 ? setTimeout(resolve, pause) : setImmediate(resolve)));
    }
    return r;
  }

  /**
   * Sends the access log's head: the last record the server has now (at the stream's cursor, or the last before it
   * when records were removed since), so that the server can check it continues the head it acknowledged before.
   * Its acknowledgement is recorded on the unit (access_log_acks): `audit verify` then finds a log cut below it. A refusal (409: the server acknowledged a later or different
   * head, the log went back) is logged and reported, and the rest of the cycle goes on; a server without the
   * endpoint (404) is noted once.
   */
  private async pushHead(http: SyncHttp, unit: string): Promise<CycleReport['accessLogHead']> {
    const db = this.o.store.database;
    const dest = this.dest!;
    const head = headAtOrBefore(db, cursorOf(db, 'access-log', dest.id));
    if (!head) return undefined;
    try {
      const res = await http.json<{ acknowledged?: unknown }>({ method: 'POST', path: `v1/units/${unit}/access-log/head`, json: head });
      const ack = res.data?.acknowledged;
      if (!isChainHead(ack) || ack.id !== head.id || ack.mac !== head.mac) {
        throw new SyncError(`POST access-log/head: the server acknowledged ${JSON.stringify(ack)}, not the head sent (#${head.id})`, 'protocol');
      }
      recordAck(db, dest.id, head, this.clock());
      return { sent: head, acknowledged: true };
    } catch (err) {
      if (!(err instanceof SyncError) || (err.status !== 409 && err.status !== 404)) throw err;
      if (err.status === 404) {
        if (!this.headUnsupported) this.log.warn({ server: this.config.server.url }, 'the central server does not take the access log head (404): truncation of the log is not checked against it');
        this.headUnsupported = true;
        return { sent: head, acknowledged: false, refused: err.message };
      }
      this.log.error({ head: head.id, err: err.message }, 'the central server refused the access log head: it acknowledged a later or different one (the log went back)');
      return { sent: head, acknowledged: false, refused: err.message };
    }
  }

  /** Waits while capture is falling behind (see captureBusy), at most captureYieldMaxMs; returns the ms waited. */
  private async yieldToCapture(): Promise<number> {
    const busy = this.o.captureBusy;
    if (!busy || !busy()) return 0;
    const t0 = performance.now();
    const until = t0 + (this.o.captureYieldMaxMs ?? 2000);
    while (!this.stopped && busy() && performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
    return Math.round(performance.now() - t0);
  }

  private async pushImages(http: SyncHttp, unit: string, r: CycleReport['images']): Promise<void> {
    const db = this.o.store.database;
    const chunk = this.config.images.chunkKB * 1024;
    let after = 0;
    for (;;) {
      if (this.stopped) return;
      const jobs = imagesPending(db, after, 50, this.dest!.id);
      if (jobs.length === 0) return;
      after = jobs[jobs.length - 1]!.id;
      for (const job of jobs) {
        if (this.stopped) return;
        await this.yieldToCapture();
        let bytes: Buffer;
        try {
          bytes = await this.o.store.readImage(job.path);
        } catch (err) {
          // evicted or deleted since: the read says it had the image; nothing to send
          this.log.debug({ image: job.id, err: (err as Error).message }, 'image skipped');
          r.skipped++;
          markImageSent(db, job.id, this.clock(), this.dest!);
          continue;
        }
        const where = `v1/units/${unit}/images/${encodeURIComponent(job.readUuid)}/${job.kind}`;
        await uploadImage(http, where, bytes, job.format, chunk, r);
        markImageSent(db, job.id, this.clock(), this.dest!);
        r.uploaded++;
      }
    }
  }

  private interfaceUp(): boolean {
    const wanted = this.config.images.interfaces;
    if (wanted.length === 0) return true;
    const nets = networkInterfaces();
    return wanted.some((name) => (nets[name] ?? []).some((a) => !a.internal || name === 'lo'));
  }
}

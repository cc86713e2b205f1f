import { statfsSync } from 'node:fs';
import path from 'node:path';
import type { ChainHead } from '../access/access-log.js';
import { HeadWatch, previousHead } from '../access/audit-head.js';
import type { HealthPayload } from '../alerts/mqtt-topics.js';
import type { OutboxStats } from '../alerts/outbox.js';
import type { ChannelStatus } from '../alerts/types.js';
import type { GpsStatus } from '../gps/types.js';
import type { SyncStatus } from '../sync/engine.js';
import { ClockWatch, FaultMonitor, type Fault } from './faults.js';
import type { AlertsPart } from './parts/alerts.js';
import type { CameraHealth, CamerasPart } from './parts/cameras.js';
import type { GpsPart } from './parts/gps.js';
import type { PipelinePart } from './parts/pipeline.js';
import type { ReadsPart } from './parts/reads.js';
import type { RecognitionPart } from './parts/recognition.js';
import type { SyncPart } from './parts/upstream.js';
import type { UnitContext } from './runtime.js';
import { StatusFile, StatusSocket, STATUS_FILE } from './status-io.js';
import type { StorageGuardStatus } from './storage-guard.js';
import { SystemdNotifier } from './systemd.js';

export interface UnitStatus {
  unitId: string;
  pid: number;
  state: 'starting' | 'running' | 'stopping' | 'stopped';
  startedAt: number;
  updatedAt: number;
  cameras: CameraHealth[];
  recognition: {
    ocrWorkers: number;
    framesWaiting: number;
    framesInRecognition: number;
    workerAlive: boolean;
    lastError: string | null;
    /** Capture to recognised, over the last frames (ms). */
    latencyMs: { p50: number | null; p99: number | null };
  };
  grouping: { openPlates: number };
  hotlists: { lists: number; entries: number };
  alerts: OutboxStats & { channels: ChannelStatus[] };
  reads: { stored: number; pendingSync: number; lastReadAt: number | null };
  gps: GpsStatus;
  store: {
    dataDir: string;
    databaseBytes: number;
    imageBytes: number;
    imageBudgetBytes: number;
    frameImages: number;
    evictedFrames: number;
    encrypted?: boolean;
    /** Free space the unit keeps on the data disk by deleting images (bytes; 0: none). */
    diskReserveBytes?: number;
    /** Plate crops deleted to keep that free space. */
    evictedCrops?: number;
    /** Images of reads stored without them for want of space (since the unit started). */
    imagesNotWritten?: number;
  };
  /** Reads that cannot be stored now and wait in memory, frames dropped for them, and the status file's state. */
  storage?: StorageGuardStatus & {
    /** Why the status file could not be written, since when; null when the last write worked. */
    statusFileError: { message: string; since: number } | null;
  };
  disk: { freeBytes: number; totalBytes: number } | null;
  systemd: { notify: boolean; watchdogMs: number | null };
  /** Upstream sync (null when sync.enabled is false). */
  sync: SyncStatus | null;
  /** The unit's own faults open now (P16). */
  faults: Fault[];
  /**
   * The access log's head (last record's number and MAC), only ever moved forward while the unit runs, for
   * `audit verify`; problem: the log went back (records removed at its end) since the head was seen.
   */
  accessLog?: { head: ChainHead | null; problem: string | null };
}

/** The parts the status is taken from. */
export interface StatusParts {
  gps: GpsPart;
  recognition: RecognitionPart;
  alerts: AlertsPart;
  reads: ReadsPart;
  pipeline: PipelinePart;
  cameras: CamerasPart;
  sync: SyncPart;
}

export interface UnitState {
  readonly state: UnitStatus['state'];
  readonly startedAt: number;
  readonly encrypted: boolean;
  /** The image budget is exceeded by plate crops alone (said by the store). */
  readonly imageBudgetExceeded: boolean;
}

/**
 * The unit's status, faults and health, as `alpr-edge status`, the console and the agency see them. Every 2 s it
 * checks the faults, writes status.json (atomically), tells systemd, and tells the unit's `health` (every 10 s, at
 * once when a fault is raised or cleared: `fault.changed`). It runs around the parts: started after the last has
 * started, its last status written after every part has stopped.
 */
export class StatusReporter {
  readonly notifier = new SystemdNotifier();
  private readonly clockWatch: ClockWatch;
  private readonly faultMonitor: FaultMonitor;
  private readonly headWatch: HeadWatch;
  private readonly file: StatusFile;
  private readonly socket: StatusSocket;
  private openFaults: Fault[] = [];
  private healthPublishedAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: UnitContext,
    private readonly parts: StatusParts,
    private readonly unit: UnitState,
  ) {
    const { store, logger, clock } = ctx;
    this.clockWatch = new ClockWatch(clock);
    this.faultMonitor = new FaultMonitor(store.database, logger.child({ part: 'faults' }));
    // the access log's head in the status file only moves forward, from the last run's (audit verify checks it)
    this.headWatch = new HeadWatch(store.database, previousHead(path.join(store.dataDir, STATUS_FILE)), (problem) =>
      logger.error({ problem }, 'the access log went back: records were removed at its end (the status file keeps the head seen before)'),
    );
    this.file = new StatusFile(store.dataDir, clock, logger, () => this.socket.path);
    this.socket = new StatusSocket(store.dataDir, logger, () => {
      try {
        return JSON.stringify({ ...this.status(), faults: this.openFaults });
      } catch (err) {
        return JSON.stringify({ error: (err as Error).message, pid: process.pid, state: this.unit.state });
      }
    });
  }

  /** Listens on the status socket and writes the status every 2 s. */
  async start(): Promise<void> {
    await this.socket.listen();
    this.timer = setInterval(() => this.write(), 2000);
  }

  /** The last status ('stopped'), written after every part has stopped; the socket is closed. */
  async finish(): Promise<void> {
    clearInterval(this.timer);
    this.write();
    await this.socket.close();
  }

  status(): UnitStatus {
    const { ctx, parts } = this;
    const { config, store, hotlists } = ctx;
    const now = ctx.clock();
    const stats = store.stats();
    let disk: UnitStatus['disk'] = null;
    try {
      const s = statfsSync(store.dataDir);
      disk = { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
    } catch {
      // not every file system reports it
    }
    const vision = parts.recognition.vision;
    const scheduler = parts.pipeline.scheduler;
    const lists = hotlists.lists();
    return {
      unitId: config.unit.id,
      pid: process.pid,
      state: this.unit.state,
      startedAt: this.unit.startedAt,
      updatedAt: now,
      cameras: parts.cameras.status(now),
      recognition: {
        ocrWorkers: vision.ocrWorkers,
        framesWaiting: scheduler.waitingFrames,
        framesInRecognition: scheduler.inflightFrames,
        workerAlive: vision.ready,
        lastError: vision.lastError,
        latencyMs: { p50: parts.pipeline.latency(0.5), p99: parts.pipeline.latency(0.99) },
      },
      grouping: { openPlates: parts.reads.grouper.openTracks },
      hotlists: { lists: lists.length, entries: lists.reduce((n, l) => n + l.entries - l.cancelled + l.manualEntries, 0) },
      alerts: { ...parts.alerts.outbox.stats(), channels: parts.alerts.channels.map((c) => c.status()) },
      reads: { stored: stats.reads, pendingSync: stats.pendingSync, lastReadAt: stats.lastReadAt },
      gps: parts.gps.source.status(),
      store: {
        dataDir: store.dataDir,
        databaseBytes: stats.databaseBytes,
        imageBytes: stats.imageBytes,
        imageBudgetBytes: config.store.imageBudgetMB * 1024 * 1024,
        frameImages: stats.frameImages,
        evictedFrames: stats.evictedFrames,
        encrypted: this.unit.encrypted,
        diskReserveBytes: config.store.diskReserveMB * 2 ** 20,
        evictedCrops: stats.evictedCrops,
        imagesNotWritten: stats.imagesNotWritten,
      },
      storage: { ...parts.reads.storage.status(), statusFileError: this.file.error },
      disk,
      systemd: { notify: this.notifier.enabled, watchdogMs: this.notifier.watchdogMs ?? null },
      sync: parts.sync.engine?.status() ?? null,
      faults: this.openFaults,
      accessLog: this.headWatch.observe(),
    };
  }

  /** The unit's health for the terminal and the agency: no plate data. */
  health(status: UnitStatus = this.status()): HealthPayload {
    return {
      unitId: status.unitId,
      state: status.state,
      at: new Date(status.updatedAt).toISOString(),
      cameras: status.cameras.map((c) => ({ id: c.id, connected: c.connected, fpsProcessed: c.fps.processed, lastError: c.lastError })),
      recognition: { workerAlive: status.recognition.workerAlive, latencyP99Ms: status.recognition.latencyMs.p99 },
      gps: { source: status.gps.source, connected: status.gps.connected, fixValid: status.gps.lastFix?.valid ?? false },
      store: {
        reads: status.reads.stored,
        pendingSync: status.reads.pendingSync,
        imageBytes: status.store.imageBytes,
        readsWaitingInMemory: status.storage?.pendingReads ?? 0,
        framesDroppedForStorage: status.storage?.framesDropped ?? 0,
      },
      disk: status.disk,
      alerts: { pending: status.alerts.pending, unacknowledged: status.alerts.unacknowledged },
      sync: status.sync
        ? { lastSuccessAt: status.sync.lastSuccessAt, consecutiveFailures: status.sync.consecutiveFailures, backlog: status.sync.backlog }
        : null,
      faults: status.faults.map((f) => ({ code: f.code, subject: f.subject, message: f.message, since: new Date(f.since).toISOString() })),
    };
  }

  summary(status = this.status()): string {
    const connected = status.cameras.filter((c) => c.connected).length;
    return `${connected}/${status.cameras.length} cameras connected, ${status.reads.stored} reads stored`;
  }

  /**
   * Checks the unit's faults, writes status.json for `alpr-edge status`, tells systemd, and tells the unit's health
   * (`health`). Each step goes on when another fails: a status file that cannot be written (a full disk) does not
   * keep a fault from the terminal.
   */
  write(): void {
    let status: UnitStatus;
    let faultsChanged = false;
    const running = this.unit.state === 'running';
    try {
      status = this.status();
      // (a unit stopping shuts its parts down on purpose: that is not a fault)
      faultsChanged = running && this.checkFaults(status);
    } catch (err) {
      this.ctx.logger.warn({ err: (err as Error).message }, 'cannot take the unit status');
      return;
    }
    this.file.write(status);
    try {
      if (running) this.notifier.status(this.summary(status));
      // the unit's health for the car network and the agency (no plate data), every 10 s
      // (at once when a fault is raised or cleared: the officer learns of it without waiting)
      if (performance.now() - this.healthPublishedAt >= 10_000 || faultsChanged) {
        this.healthPublishedAt = performance.now();
        this.ctx.bus.emit('health', { health: this.health(status), faults: status.faults });
      }
    } catch (err) {
      this.ctx.logger.warn({ err: (err as Error).message }, 'cannot send the unit health');
    }
  }

  /** Checks the unit's parts and records faults raised or cleared; true when one was. */
  private checkFaults(status: UnitStatus): boolean {
    const fix = status.gps.lastFix;
    const before = this.faultMonitor.recorded;
    this.openFaults = this.faultMonitor.check({
      now: status.updatedAt,
      startedAt: this.unit.startedAt,
      cameras: status.cameras.map((c) => ({
        id: c.id,
        enabled: this.parts.cameras.enabled(c.id),
        finished: c.finished,
        connected: c.connected,
        lastFrameAt: c.lastFrameAt,
        lastError: c.lastError,
      })),
      recognition: { workerAlive: status.recognition.workerAlive, lastError: status.recognition.lastError },
      disk: status.disk,
      diskReserveBytes: status.store.diskReserveBytes ?? 0,
      imageBudgetExceeded: this.unit.imageBudgetExceeded,
      storage: status.storage,
      gps: {
        expected: this.ctx.config.gps.source === 'serial',
        connected: status.gps.connected,
        fixValid: fix?.valid ?? false,
        lastFixAt: fix?.valid ? fix.time : null,
        clockSkewMs: status.gps.clockCheck && status.updatedAt - status.gps.clockCheck.at <= 60_000 ? status.gps.clockCheck.skewMs : null,
      },
      clockJumpMs: this.clockWatch.jump(),
      uplink: status.sync
        ? { enabled: true, consecutiveFailures: status.sync.consecutiveFailures, lastError: status.sync.lastError?.message ?? null, lastSuccessAt: status.sync.lastSuccessAt }
        : null,
    });
    status.faults = this.openFaults;
    if (this.faultMonitor.recorded === before) return false;
    this.ctx.bus.emit('fault.changed', { faults: this.openFaults });
    return true;
  }
}

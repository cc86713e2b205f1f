import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { chmodSync, mkdirSync, renameSync, statfsSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { createCamera } from '../camera/index.js';
import type { Camera, CameraEvent, CameraStatus, Frame, FrameSink } from '../camera/types.js';
import type { CameraConfig, Config } from '../config/schema.js';
import { createPositionSource } from '../gps/index.js';
import type { GpsStatus, PositionSource } from '../gps/types.js';
import type { Logger } from '../log/logger.js';
import { Grouper, type SightingPlate, type TrackView, type UnstoredView } from '../pipeline/grouper.js';
import { Scheduler, type CameraCounters } from '../pipeline/scheduler.js';
import { Vision } from '../pipeline/vision.js';
import type { ReadsAccess } from '../alerts/types.js';
import { sniffImage } from '../recognition/image-header.js';
import type { PlateRead } from '../recognition/types.js';
import type { ReadStore, StoredRead } from '../store/read-store.js';
import { openStore } from '../store/open.js';
import { AccessLog, type ChainHead } from '../access/access-log.js';
import { HeadWatch, previousHead } from '../access/audit-head.js';
import { purgeSessions } from '../access/session.js';
import { suspendInactive } from '../access/users.js';
import { Purger } from '../retention/index.js';
import { SystemdNotifier } from './systemd.js';
import { createChannels } from '../alerts/channels.js';
import { readPayload, type HealthPayload } from '../alerts/mqtt-topics.js';
import { AlertOutbox, type OutboxStats, type RaiseResult } from '../alerts/outbox.js';
import type { AlertChannel, ChannelStatus } from '../alerts/types.js';
import { Hotlists, type StoredHit } from '../hotlist/index.js';
import { destinationClaim, SyncEngine, type SyncStatus } from '../sync/engine.js';
import { loadDataKey } from '../store/keys.js';
import { HotlistSync, importInWorker } from '../sync/hotlist-sync.js';
import { startPullServer } from '../sync/pull-server.js';
import { ClockWatch, FaultMonitor, type Fault } from './faults.js';
import { StorageDeferred, StorageGuard, type StorageGuardStatus } from './storage-guard.js';
import type { Clock } from '../util/clock.js';

/** What the unit keeps of the best sighting of a plate until its read is stored. */
interface SightingImages {
  crop: Buffer;
  frame: Buffer;
  frameFormat: 'jpeg' | 'png';
  recognizedAt: number;
}

export interface ReadEvent {
  kind: 'new' | 'update' | 'closed';
  read: StoredRead;
  /** Time the store took to write it (ms). */
  storeMs: number;
}

/** A read that matched a hot list entry, and the alert raised for it. */
export interface HitEvent {
  read: StoredRead;
  hit: StoredHit;
  alert: RaiseResult;
}

/** One frame through recognition (for benchmarks and diagnostics). */
export interface FrameEvent {
  cameraId: string;
  capturedAt: number;
  recognizedAt: number;
  plates: number;
  /** The frame and the plates found in it, for a live view (src/ui); not stored from here. */
  image?: Buffer;
  found?: readonly PlateRead[];
}

export interface CameraHealth extends CameraStatus {
  name: string;
  direction: string;
  fps: { in: number; processed: number; dropped: number };
  counters: CameraCounters;
  /** Frames of this camera dropped because store.pendingReadsMax reads waited to be stored (a full disk). */
  droppedForStorage?: number;
  finished: boolean;
}

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

export const STATUS_FILE = 'status.json';

/**
 * The running unit answers on this Unix socket (under the data folder; folder 0700, socket 0600) with its status
 * as one JSON line, so that `alpr-edge status` tells the truth when the status file cannot be written (a full
 * disk).
 */
export const STATUS_SOCKET = path.join('run', 'status.sock');

/** A Unix socket's path must fit in sockaddr_un (108 bytes with its NUL). */
const MAX_SOCKET_PATH = 107;

/** The unit's clock and the GPS receiver's agree when they differ by no more than this at a fix's arrival (ms). */
const CLOCK_AGREES_MS = 1500;

/**
 * The running unit: cameras -> scheduler (bounded queues, latest wins) -> recognition worker -> grouping ->
 * read store (on disk before anyone hears of it) -> 'read' events. Owns the lifecycle: start, status, a
 * graceful stop that finishes frames already taken within a bound.
 */
export class Unit extends EventEmitter<{ read: [ReadEvent]; frame: [FrameEvent]; hit: [HitEvent]; idle: []; fatal: [Error] }> {
  private readonly cameras = new Map<string, { config: CameraConfig; camera?: Camera; finished: boolean; startError?: string }>();
  private readonly latestFrameAt = new Map<string, number>();
  private readonly droppedForStorage = new Map<string, number>();
  private readonly readIds = new Map<number, { id: number; best: unknown }>();
  private readonly latencies: number[] = [];
  private tickTimer: NodeJS.Timeout | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private maintenanceTimer: NodeJS.Timeout | undefined;
  private purger: Purger | undefined;
  private state: UnitStatus['state'] = 'starting';
  private readonly startedAt: number;
  private readonly notifier = new SystemdNotifier();
  private stopping: Promise<void> | undefined;
  private healthPublishedAt = -Infinity;
  private sync: SyncEngine | undefined;
  private pullServer: { url: string; close(): Promise<void> } | undefined;
  private faultMonitor: FaultMonitor | undefined;
  private readonly clockWatch: ClockWatch;
  private imageBudgetExceeded = false;
  private openFaults: Fault[] = [];
  /** Reads that cannot be stored: bounded in memory, frames dropped instead, logged at a bounded rate. */
  readonly storage: StorageGuard;
  private statusServer: Server | undefined;
  private statusSocketPath: string | undefined;
  private statusFileError: { message: string; since: number; loggedAt: number } | null = null;
  /** Whether the store was opened with a data key (status shows a warning when not). */
  encrypted = true;
  /** The access log's head for the status file (src/access/audit-head.ts). */
  private headWatch: HeadWatch | undefined;

  /** The alert outbox: the screens (src/ui) list its alerts and record an officer's answer through it. */
  get alerts(): AlertOutbox {
    return this.outbox;
  }

  private constructor(
    readonly config: Config,
    private readonly logger: Logger,
    readonly store: ReadStore,
    private readonly gps: PositionSource,
    private readonly vision: Vision,
    private readonly scheduler: Scheduler,
    private readonly grouper: Grouper<SightingImages>,
    private readonly hotlists: Hotlists,
    private readonly outbox: AlertOutbox,
    private readonly channels: AlertChannel[],
    /** The access log's MAC key. */
    readonly auditKey: Buffer,
    /** The unit's one clock: every part above was given the same. */
    readonly clock: Clock,
  ) {
    super();
    this.startedAt = clock();
    this.clockWatch = new ClockWatch(clock);
    this.storage = new StorageGuard({
      maxPending: config.store.pendingReadsMax,
      pending: () => grouper.pending,
      clock,
      log: logger.child({ part: 'store' }),
    });
  }

  static async start(config: Config, logger: Logger, clock: Clock): Promise<Unit> {
    let unit: Unit | undefined;
    const dataDir = path.resolve(config.data.dir);
    const evicted = { frames: 0, crops: 0, bytes: 0, loggedAt: -Infinity };
    const { store, auditKey } = openStore(config, clock, {
      onBudgetExceeded: (bytes, budget) => {
        if (unit) unit.imageBudgetExceeded = true;
        logger.warn({ imageBytes: bytes, budgetBytes: budget }, 'image budget exceeded by plate crops alone; no frame images left to evict');
      },
      // images deleted to keep free space on the disk: said at most once a minute, with counts
      onEvicted: (e) => {
        if (e.reason !== 'disk') return;
        evicted.frames += e.frames;
        evicted.crops += e.crops;
        evicted.bytes += e.bytes;
        const now = clock();
        if (now - evicted.loggedAt < 60_000 && now >= evicted.loggedAt) return;
        logger.warn(
          { frames: evicted.frames, crops: evicted.crops, bytes: evicted.bytes, diskReserveMB: config.store.diskReserveMB },
          `the data disk is short of space: ${evicted.frames} frame image(s) and ${evicted.crops} plate crop(s) deleted to keep free space (store.diskReserveMB); read rows are kept`,
        );
        evicted.loggedAt = now;
        evicted.frames = evicted.crops = evicted.bytes = 0;
      },
    });
    // P14: a unit in a vehicle is not physically secure; without a data key the reads and images are on the disk in clear
    const encrypted = loadDataKey({ keyFile: config.store.keyFile }) !== null;
    if (!encrypted) {
      logger.warn({ dataDir }, 'the store is NOT encrypted: no data key configured (store.keyFile or the alpr-edge-data-key credential); see `alpr-edge key create` and `alpr-edge store encrypt`');
    }
    const gps = createPositionSource(config.gps, clock, logger.child({ part: 'gps' }));
    let vision: Vision;
    let hotlists: Hotlists;
    let channels: AlertChannel[];
    try {
      hotlists = Hotlists.open(store.database, { config: config.hotlists, clock, recheckOnChange: true, log: logger.child({ part: 'hotlist' }) });
      channels = await createChannels(config.alerts, config.unit.id, logger.child({ part: 'alerts' }), clock, (ref) => store.readImage(ref));
      await gps.start();
      vision = await Vision.start(config.recognition, logger.child({ part: 'recognition' }));
    } catch (err) {
      await gps.stop().catch(() => undefined);
      store.close();
      throw err;
    }
    const outbox = new AlertOutbox(store.database, config.alerts, logger.child({ part: 'alerts' }), clock);
    // urgent hot list entries and cancellations from the agency over MQTT, applied at once (and once)
    if (config.sync.hotlists.enabled) {
      const urgent = new HotlistSync(store.database, hotlists, logger.child({ part: 'hotlist-sync' }));
      for (const channel of channels) {
        channel.onUrgentHotlist?.((payload, topic) => {
          const r = urgent.applyUrgent(payload);
          if (r.ok) logger.info({ topic, result: r.message }, 'urgent hot list message applied');
          else logger.warn({ topic, err: r.message }, 'urgent hot list message refused');
        });
      }
    }
    const accessLog = new AccessLog(store.database, auditKey, clock);
    // plate text leaving over MQTT (alerts.mqtt.publishReads) is a disclosure: who receives it is logged
    for (const channel of channels) {
      channel.onReadsAccess?.((a) => {
        try {
          accessLog.append({
            user: a.who,
            agency: config.unit.agency,
            role: a.role,
            action: a.role === 'terminal' ? 'subscribe-reads' : 'publish-reads',
            purpose: 'live reads over MQTT (alerts.mqtt.publishReads)',
            query: { topic: a.topic, filter: a.filter, clientId: a.clientId, broker: a.broker },
            outcome: 'ok',
          });
          logger.info({ who: a.who, filter: a.filter, broker: a.broker }, 'reads over MQTT: access logged');
        } catch (err) {
          logger.error({ err: (err as Error).message }, 'cannot write the access log for reads over MQTT');
        }
      });
    }
    for (const channel of channels) {
      outbox.attach(channel);
      // a terminal or broker that is not there yet is not a failure: the channel keeps trying
      await channel.start().catch((err: Error) => logger.warn({ channel: channel.name, err: err.message }, 'alert channel not started'));
    }
    // The scheduler and grouper call back into the unit, which does not exist yet: bind late.
    const scheduler = new Scheduler((frame) => unit!.processFrame(frame), {
      queueDepth: config.pipeline.queueDepth,
      concurrency: config.pipeline.concurrency,
      clock,
    });
    // A sighting on a hot list is reported (stored, matched, alerted on) at once, not grouping.maxDelayMs later:
    // an alert must not wait to gather frames for a better text (#15 item 5). The check is in memory.
    const reportNow = (p: SightingPlate) => hotlists.match({ plate: p.text, candidates: p.candidates, state: p.state ?? null }).length > 0;
    const grouper = new Grouper<SightingImages>({ ...config.grouping, reportNow }, {
      emit: (t) => unit!.storeTrack(t),
      update: (t) => unit!.storeTrack(t),
    });
    unit = new Unit(config, logger, store, gps, vision, scheduler, grouper, hotlists, outbox, channels, auditKey, clock);
    unit.encrypted = encrypted;
    // the access log's head in the status file only moves forward, from the last run's (audit verify checks it)
    unit.headWatch = new HeadWatch(store.database, previousHead(path.join(store.dataDir, STATUS_FILE)), (problem) =>
      logger.error({ problem }, 'the access log went back: records were removed at its end (the status file keeps the head seen before)'),
    );
    // hits found when a list or entry arrives and recent reads are checked again
    hotlists.on('hits', (hits) => unit.alertOn(hits));
    hotlists.start();
    vision.onFatal = (err) => {
      logger.fatal({ err: err.message }, 'recognition stopped working; the unit stops (systemd restarts it)');
      unit.emit('fatal', err);
    };
    await unit.startCameras();
    unit.tickTimer = setInterval(() => unit.tick(), 100);
    // hourly: accounts unused for access.inactivityDays are suspended (logged), expired sessions removed
    const maintain = () => {
      try {
        suspendInactive(store.database, accessLog, config.access.inactivityDays);
        purgeSessions(store.database, clock());
      } catch (err) {
        logger.error({ err: (err as Error).message }, 'account maintenance failed');
      }
    };
    maintain();
    unit.maintenanceTimer = setInterval(maintain, 3_600_000);
    unit.maintenanceTimer.unref();
    // retention: logical then permanent deletion in small batches, held reads exempt (never stalls capture)
    unit.purger = new Purger(store, config.retention, {
      onImagesDeleted: (bytes) => store.forgetImageBytes(bytes),
      log: logger.child({ part: 'retention' }),
      // each access log purge leaves a signed anchor record naming the unit as the purger
      accessLog,
      actor: { user: `unit ${config.unit.id} retention`, agency: config.unit.agency, role: 'system' },
    });
    unit.purger.start(clock);
    // the unit's own faults (P16), recorded and sent upstream; upstream sync; the pull API
    unit.faultMonitor = new FaultMonitor(store.database, logger.child({ part: 'faults' }));
    if (config.sync.enabled) {
      unit.sync = new SyncEngine({
        config: config.sync,
        unitId: config.unit.id,
        store,
        hotlists,
        importer: importInWorker(config, clock),
        health: () => unit.health(),
        // capture first: a push waits while a camera's frames are being dropped
        captureBusy: () => unit.captureFallingBehind(),
        log: logger.child({ part: 'sync' }),
        // where the reads go is recorded in the store; a change of destination is written to the access log
        destination: destinationClaim(config),
        accessLog,
        actor: { user: `unit ${config.unit.id}`, agency: config.unit.agency, role: 'system' },
      });
      unit.sync.start();
    }
    if (config.sync.pull.enabled) {
      try {
        unit.pullServer = await startPullServer({
          config: config.sync.pull,
          store,
          accessLog,
          unitId: config.unit.id,
          agency: config.unit.agency,
          health: () => unit.health(),
          log: logger.child({ part: 'pull' }),
        });
        logger.info({ url: unit.pullServer.url }, 'pull API listening');
      } catch (err) {
        // the unit reads plates without it; the fault shows in the logs and status
        logger.error({ err: (err as Error).message }, 'pull API cannot start');
      }
    }
    await unit.listenForStatus();
    unit.statusTimer = setInterval(() => unit.writeStatus(), 2000);
    unit.state = 'running';
    unit.writeStatus();
    unit.notifier.ready(unit.summary());
    unit.notifier.startWatchdog(() => unit.state === 'running' || unit.state === 'stopping');
    logger.info(
      { unit: config.unit.id, cameras: [...unit.cameras.keys()], dataDir, ocrWorkers: vision.ocrWorkers, gps: config.gps.source },
      'unit running',
    );
    return unit;
  }

  private async startCameras(): Promise<void> {
    for (const config of this.config.cameras) {
      const entry: { config: CameraConfig; camera?: Camera; finished: boolean; startError?: string } = { config, finished: false };
      this.cameras.set(config.id, entry);
      if (!config.enabled) {
        entry.finished = true;
        continue;
      }
      const log = this.logger.child({ camera: config.id });
      try {
        const camera = await createCamera(config, { ledger: this.store, clock: this.clock });
        entry.camera = camera;
        this.scheduler.addCamera(config.id, camera.delivery);
        const sink: FrameSink = {
          offer: (frame) => this.offerFrame(frame, camera.delivery),
          report: (event) => this.onCameraEvent(config.id, event, log),
        };
        await camera.start(sink);
      } catch (err) {
        // one camera that cannot start does not stop the others
        entry.startError = (err as Error).message;
        entry.finished = true;
        log.error({ type: config.type, err: entry.startError }, 'camera cannot start');
      }
    }
    if (this.config.cameras.length === 0) this.logger.warn('no cameras configured (cameras: [] in the config)');
  }

  private onCameraEvent(cameraId: string, event: CameraEvent, log: Logger): void {
    switch (event.kind) {
      case 'connected':
        log.info({ detail: event.detail }, 'camera connected');
        break;
      case 'disconnected':
        log.warn({ err: event.error, retryInMs: event.retryInMs }, 'camera disconnected');
        if (event.retryInMs === undefined) this.cameras.get(cameraId)!.finished = true;
        break;
      case 'error':
        log.warn({ err: event.error }, 'camera problem');
        break;
      case 'finished':
        log.info('camera source finished');
        this.cameras.get(cameraId)!.finished = true;
        break;
    }
  }

  /**
   * A camera's frame. While store.pendingReadsMax reads wait in memory to be stored, a live camera's frame is
   * dropped (counted) rather than a read; a queued camera (a watched folder) waits, its files staying on disk.
   */
  private async offerFrame(frame: Frame, delivery: 'live' | 'queued'): Promise<void> {
    if (delivery === 'queued') {
      while (!this.storage.hasRoom && this.state !== 'stopping' && this.state !== 'stopped') {
        await new Promise((r) => setTimeout(r, 200));
      }
    } else if (!this.storage.admitFrame()) {
      this.droppedForStorage.set(frame.cameraId, (this.droppedForStorage.get(frame.cameraId) ?? 0) + 1);
      frame.settle?.('dropped');
      return;
    }
    return this.scheduler.offer(frame);
  }

  /** Recognises one frame and hands its plates to the grouper. */
  private async processFrame(frame: Frame): Promise<void> {
    const entry = this.cameras.get(frame.cameraId)!;
    let result;
    try {
      result = await this.vision.recognize(frame.image, {
        country: entry.config.regionHint ?? this.config.recognition.country,
        roi: entry.config.roi,
      });
    } catch (err) {
      this.logger.warn({ camera: frame.cameraId, frame: frame.origin, err: (err as Error).message }, 'frame not read');
      frame.settle?.('failed');
      throw err;
    }
    const recognizedAt = this.clock();
    this.latencies.push(recognizedAt - frame.capturedAt);
    if (this.latencies.length > 1000) this.latencies.splice(0, this.latencies.length - 1000);
    this.latestFrameAt.set(frame.cameraId, Math.max(this.latestFrameAt.get(frame.cameraId) ?? 0, frame.capturedAt));
    this.emit('frame', { cameraId: frame.cameraId, capturedAt: frame.capturedAt, recognizedAt, plates: result.plates.length, image: frame.image, found: result.plates });
    const frameFormat = sniffImage(frame.image).format === 'png' ? 'png' : 'jpeg';
    this.grouper.add(
      frame.cameraId,
      frame.capturedAt,
      result.plates.map((p) => ({
        plate: p,
        extra: { crop: Buffer.from(p.crop), frame: frame.image, frameFormat, recognizedAt },
      })),
      () => frame.settle?.('processed'),
    );
  }

  /** Stores (or updates) the read of a track; only after the write does anything hear of it. */
  private async storeTrack(t: TrackView<SightingImages>): Promise<void> {
    const known = this.readIds.get(t.key);
    const best = t.best;
    const position = this.gps.positionAt(best.capturedAt);
    const images = {
      crop: { bytes: best.extra.crop, format: 'jpeg' as const },
      frame: this.config.store.frameImages ? { bytes: best.extra.frame, format: best.extra.frameFormat } : undefined,
    };
    // while the store refuses writes, one read at a time tries; the others wait in memory (the grouper keeps them)
    const attempt = this.storage.begin();
    if (attempt instanceof StorageDeferred) throw attempt;
    const t0 = performance.now();
    let read: StoredRead;
    try {
      read = known
        ? await this.store.updateRead(known.id, {
            plate: t.text,
            confidence: t.confidence,
            candidates: t.candidates,
            state: t.plateState,
            box: best.plate.box,
            lastSeen: t.lastSeen,
            bestSeen: best.capturedAt,
            frameCount: t.frameCount,
            closed: t.closed,
            position,
            ...(known.best !== best ? images : {}),
          })
        : await this.store.insertRead({
            uuid: randomUUID(),
            unitId: this.config.unit.id,
            cameraId: t.cameraId,
            plate: t.text,
            confidence: t.confidence,
            candidates: t.candidates,
            region: best.plate.region,
            state: t.plateState,
            box: best.plate.box,
            firstSeen: t.firstSeen,
            lastSeen: t.lastSeen,
            bestSeen: best.capturedAt,
            frameCount: t.frameCount,
            clockSource: this.clockSource(),
            position,
            closed: t.closed,
            ...images,
          });
    } catch (err) {
      // logged by the guard: once when it starts, then at most once a minute (not once per write)
      attempt.done({ ok: false, error: err as Error });
      throw err;
    }
    attempt.done({ ok: true, retry: t.retry });
    if (!known) {
      if (!t.closed) this.readIds.set(t.key, { id: read.id, best });
      this.emit('read', { kind: 'new', read, storeMs: performance.now() - t0 });
      this.publishRead(read);
      this.matchRead(read);
    } else {
      known.best = best;
      if (t.closed) this.readIds.delete(t.key);
      this.emit('read', { kind: t.closed ? 'closed' : 'update', read, storeMs: performance.now() - t0 });
      // a read whose text or candidates changed with more frames may hit now (each hit is recorded once)
      this.matchRead(read);
    }
  }

  /**
   * `gps` when the unit's clock agreed with the GPS receiver's (within CLOCK_AGREES_MS) at a valid fix in the last
   * minute: the read's times are checked against satellite time. Else `system`: the system clock, unchecked.
   */
  private clockSource(): 'system' | 'gps' {
    const c = this.gps.status().clockCheck;
    return c !== null && this.clock() - c.at <= 60_000 && Math.abs(c.skewMs) <= CLOCK_AGREES_MS ? 'gps' : 'system';
  }

  /** Whether a camera's frames were dropped in the last 2 s (the scheduler could not keep up). */
  captureFallingBehind(): boolean {
    const now = this.clock();
    for (const id of this.cameras.keys()) if (this.scheduler.rates(id, 2000, now).dropped > 0) return true;
    return false;
  }

  /** Publishes a stored read on MQTT when alerts.mqtt.publishReads is on (the channel checks). */
  private publishRead(read: StoredRead): void {
    for (const c of this.channels) c.publishRead?.(readPayload(read));
  }

  /** Checks a stored read against the hot lists; new hits are recorded and alerted on. */
  private matchRead(read: StoredRead): void {
    try {
      const hits = this.hotlists.match(read);
      if (hits.length === 0) return;
      this.alertOn(this.hotlists.recordHits(read.id, hits), read);
    } catch (err) {
      this.logger.error({ read: read.id, err: (err as Error).message }, 'hot list check failed');
    }
  }

  /** Raises an alert for each new hit (the outbox records it before any channel hears of it). */
  private alertOn(hits: StoredHit[], known?: StoredRead): void {
    for (const hit of hits) {
      const read = known?.id === hit.readId ? known : this.store.getRead(hit.readId);
      if (!read) continue;
      const alert = this.outbox.raise({
        readId: read.id,
        hitId: hit.id,
        unitId: this.config.unit.id,
        plate: read.plate,
        confidence: read.confidence,
        cameraId: read.cameraId,
        seenAt: read.firstSeen,
        latitude: read.position.latitude,
        longitude: read.position.longitude,
        positionValid: read.position.valid,
        ...(read.state ? { plateState: read.state } : {}),
        cropRef: read.cropPath,
        frameRef: read.framePath,
        covert: hit.covert,
        hit: {
          list: hit.list,
          category: hit.category,
          priority: hit.priority,
          matchKind: hit.how,
          distance: hit.how === 'distance' ? hit.distance : undefined,
          entryPlate: hit.plate,
          entryId: hit.entryId,
          entryState: hit.state ?? undefined,
          ...(hit.stateMismatch ? { stateMismatch: true } : {}),
        },
      });
      this.logger.info(
        { read: read.id, list: hit.list, how: hit.how, alert: alert.alert.id, suppressed: alert.suppressed },
        alert.suppressed ? 'hot list hit recorded (no alert to the terminal)' : 'hot list hit: alert raised',
      );
      this.emit('hit', { read, hit, alert });
    }
  }

  private tick(): void {
    this.grouper.tick(
      this.clock(),
      (id) => this.scheduler.busy(id),
      (id) => this.latestFrameAt.get(id),
    );
    if (this.state === 'running' && this.finished) this.emit('idle');
  }

  /** Every camera has finished (finite replays) and every frame and plate has been dealt with. */
  get finished(): boolean {
    return (
      [...this.cameras.values()].every((c) => c.finished) &&
      this.scheduler.idle &&
      this.grouper.openTracks === 0 &&
      this.grouper.writing === 0 &&
      this.grouper.failing === 0
    );
  }

  status(): UnitStatus {
    const now = this.clock();
    const stats = this.store.stats();
    let disk: UnitStatus['disk'] = null;
    try {
      const s = statfsSync(this.store.dataDir);
      disk = { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
    } catch {
      // not every file system reports it
    }
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const pct = (q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : null);
    return {
      unitId: this.config.unit.id,
      pid: process.pid,
      state: this.state,
      startedAt: this.startedAt,
      updatedAt: now,
      cameras: [...this.cameras.values()].map(({ config, camera, finished, startError }) => {
        const base: CameraStatus = camera?.status() ?? {
          id: config.id,
          type: config.type,
          connected: false,
          frames: 0,
          lastFrameAt: null,
          lastError: startError ?? (config.enabled ? null : 'disabled in the config'),
          detail: '',
        };
        return {
          ...base,
          name: config.name,
          direction: config.direction,
          fps: this.scheduler.rates(config.id, 10_000, now),
          counters: this.scheduler.counters(config.id) ?? { offered: 0, processed: 0, dropped: 0, failed: 0 },
          droppedForStorage: this.droppedForStorage.get(config.id) ?? 0,
          finished,
        };
      }),
      recognition: {
        ocrWorkers: this.vision.ocrWorkers,
        framesWaiting: this.scheduler.waitingFrames,
        framesInRecognition: this.scheduler.inflightFrames,
        workerAlive: this.vision.ready,
        lastError: this.vision.lastError,
        latencyMs: { p50: pct(0.5), p99: pct(0.99) },
      },
      grouping: { openPlates: this.grouper.openTracks },
      hotlists: (() => {
        const lists = this.hotlists.lists();
        return { lists: lists.length, entries: lists.reduce((n, l) => n + l.entries - l.cancelled + l.manualEntries, 0) };
      })(),
      alerts: { ...this.outbox.stats(), channels: this.channels.map((c) => c.status()) },
      reads: { stored: stats.reads, pendingSync: stats.pendingSync, lastReadAt: stats.lastReadAt },
      gps: this.gps.status(),
      store: {
        dataDir: this.store.dataDir,
        databaseBytes: stats.databaseBytes,
        imageBytes: stats.imageBytes,
        imageBudgetBytes: this.config.store.imageBudgetMB * 1024 * 1024,
        frameImages: stats.frameImages,
        evictedFrames: stats.evictedFrames,
        encrypted: this.encrypted,
        diskReserveBytes: this.config.store.diskReserveMB * 2 ** 20,
        evictedCrops: stats.evictedCrops,
        imagesNotWritten: stats.imagesNotWritten,
      },
      storage: {
        ...this.storage.status(),
        statusFileError: this.statusFileError && { message: this.statusFileError.message, since: this.statusFileError.since },
      },
      disk,
      systemd: { notify: this.notifier.enabled, watchdogMs: this.notifier.watchdogMs ?? null },
      sync: this.sync?.status() ?? null,
      faults: this.openFaults,
      accessLog: this.headWatch?.observe(),
    };
  }

  /** Checks the unit's parts and records faults raised or cleared (every status write); true when one was. */
  private checkFaults(status: UnitStatus): boolean {
    if (!this.faultMonitor) return false;
    const fix = status.gps.lastFix;
    const before = this.faultMonitor.recorded;
    this.openFaults = this.faultMonitor.check({
      now: status.updatedAt,
      startedAt: this.startedAt,
      cameras: status.cameras.map((c) => ({
        id: c.id,
        enabled: this.cameras.get(c.id)?.config.enabled ?? true,
        finished: c.finished,
        connected: c.connected,
        lastFrameAt: c.lastFrameAt,
        lastError: c.lastError,
      })),
      recognition: { workerAlive: status.recognition.workerAlive, lastError: status.recognition.lastError },
      disk: status.disk,
      diskReserveBytes: status.store.diskReserveBytes ?? 0,
      imageBudgetExceeded: this.imageBudgetExceeded,
      storage: status.storage,
      gps: {
        expected: this.config.gps.source === 'serial',
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
    // raised or cleared: the agency hears of it now, not at the next scheduled cycle (P16)
    this.sync?.pushFaultsSoon();
    return true;
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

  /**
   * Every 2 s: checks the unit's faults, writes status.json in the data folder (atomically) for `alpr-edge status`,
   * tells systemd, and sends the unit's health and faults on every alert channel. Each step goes on when another
   * fails: a status file that cannot be written (a full disk) does not keep a fault from the terminal.
   */
  private writeStatus(): void {
    let status: UnitStatus;
    let faultsChanged = false;
    try {
      status = this.status();
      // (a unit stopping shuts its parts down on purpose: that is not a fault)
      faultsChanged = this.state === 'running' && this.checkFaults(status);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'cannot take the unit status');
      return;
    }
    this.writeStatusFile(status);
    try {
      if (this.state === 'running') this.notifier.status(this.summary(status));
      // the unit's health for the car network and the agency (no plate data), every 10 s
      // (at once when a fault is raised or cleared: the officer learns of it without waiting)
      if (performance.now() - this.healthPublishedAt >= 10_000 || faultsChanged) {
        this.healthPublishedAt = performance.now();
        const health = this.health(status);
        // to the terminal on the serial line too (FAULT frames; MQTT terminals read them in health)
        for (const c of this.channels) c.reportFaults?.(status.faults);
        for (const c of this.channels) c.publishHealth?.(health);
      }
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'cannot send the unit health');
    }
  }

  /** status.json; a failure is logged when it starts, at most once a minute while it lasts, and when it ends. */
  private writeStatusFile(status: UnitStatus): void {
    const file = path.join(this.store.dataDir, STATUS_FILE);
    const now = this.clock();
    try {
      mkdirSync(this.store.dataDir, { recursive: true, mode: 0o700 });
      writeFileSync(`${file}.tmp`, JSON.stringify(status, null, 2), { mode: 0o600 });
      renameSync(`${file}.tmp`, file);
      if (this.statusFileError) {
        this.logger.info({ file, since: new Date(this.statusFileError.since).toISOString() }, 'the status file is written again');
        this.statusFileError = null;
      }
    } catch (err) {
      // a half-written file (a full disk) is not left to take space
      try {
        unlinkSync(`${file}.tmp`);
      } catch {
        // not there
      }
      const message = (err as Error).message;
      const e = this.statusFileError;
      if (!e || now - e.loggedAt >= 60_000 || now < e.loggedAt) {
        this.logger.warn(
          { file, err: message, socket: this.statusSocketPath ?? null },
          this.statusSocketPath
            ? 'cannot write the status file; `alpr-edge status` asks the running unit over its socket instead'
            : 'cannot write the status file',
        );
        this.statusFileError = { message, since: e?.since ?? now, loggedAt: now };
      } else e.message = message;
    }
  }

  /**
   * Answers `alpr-edge status` on a Unix socket under the data folder (run/ 0700, the socket 0600): one JSON line
   * of the unit's status per connection. Without it (a path too long for a socket, a folder that cannot be
   * made), status falls back to the status file; the unit runs on.
   */
  private async listenForStatus(): Promise<void> {
    const sock = path.join(this.store.dataDir, STATUS_SOCKET);
    if (Buffer.byteLength(sock) > MAX_SOCKET_PATH) {
      this.logger.warn({ socket: sock }, 'the data folder path is too long for the status socket; `alpr-edge status` reads the status file only');
      return;
    }
    try {
      mkdirSync(path.dirname(sock), { recursive: true, mode: 0o700 });
      chmodSync(path.dirname(sock), 0o700);
      // left by a unit that was killed (a unit still running here would be a second unit on one store)
      try {
        unlinkSync(sock);
      } catch {
        // none
      }
      const server = createServer((conn) => {
        conn.on('error', () => undefined);
        let body: string;
        try {
          body = JSON.stringify({ ...this.status(), faults: this.openFaults });
        } catch (err) {
          body = JSON.stringify({ error: (err as Error).message, pid: process.pid, state: this.state });
        }
        conn.end(`${body}\n`);
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(sock, () => {
          server.off('error', reject);
          resolve();
        });
      });
      chmodSync(sock, 0o600);
      server.on('error', (err) => this.logger.warn({ err: err.message }, 'status socket'));
      server.unref();
      this.statusServer = server;
      this.statusSocketPath = sock;
    } catch (err) {
      this.logger.warn({ socket: sock, err: (err as Error).message }, 'cannot open the status socket; `alpr-edge status` reads the status file only');
    }
  }

  /** At a stop: each read that could not be stored is logged (no plate text) and counted. */
  private reportLost(unstored: Array<UnstoredView<SightingImages>>): void {
    if (unstored.length === 0) return;
    const err = this.storage.status().lastError;
    let lost = 0;
    for (const t of unstored) {
      if (!t.stored) lost++;
      this.logger.error(
        { camera: t.cameraId, firstSeen: iso(t.firstSeen), lastSeen: iso(t.lastSeen), frames: t.frameCount, read: t.stored ? (this.readIds.get(t.key)?.id ?? null) : null, err },
        t.stored
          ? 'read not completed at stop: its row is stored, its last frames and its close could not be written'
          : 'read lost at stop: it could not be stored',
      );
    }
    this.storage.lost(lost);
    this.logger.error(
      { lost, notCompleted: unstored.length - lost, err },
      `${lost} read(s) lost at stop and ${unstored.length - lost} not completed: the store refused them (${err ?? 'unknown error'})`,
    );
  }

  private async closeStatusSocket(): Promise<void> {
    const server = this.statusServer;
    if (!server) return;
    this.statusServer = undefined;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    try {
      if (this.statusSocketPath) unlinkSync(this.statusSocketPath);
    } catch {
      // gone already (server.close removes it)
    }
  }

  private summary(status = this.status()): string {
    const connected = status.cameras.filter((c) => c.connected).length;
    return `${connected}/${status.cameras.length} cameras connected, ${status.reads.stored} reads stored`;
  }

  /**
   * Graceful stop, well within systemd's TimeoutStopSec whatever state the parts are in: upstream sync is cut at
   * once (a push mid-batch is sent again next time), cameras stop (at most 5 s each, in parallel), frames already
   * taken finish within pipeline.stopTimeoutMs, open plates are closed and stored, the outbox stops without
   * waiting out ACKs or retries (undelivered alerts stay pending for the next start), then channels,
   * recognition, GPS and the rest stop together, and the database is closed.
   */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.state = 'stopping';
    // reads waiting in memory are tried at once from now on (not one a second)
    this.storage.stop();
    this.notifier.stopping();
    this.logger.info('unit stopping');
    // a sync cycle waiting on the server is cut now; it needs the store, so it is awaited before the close
    const syncStopped = this.sync?.stop();
    await Promise.all(
      [...this.cameras.values()].map(async ({ camera, config }) => {
        try {
          await withTimeout(camera?.stop(), 5000, `camera ${config.id} did not stop`);
        } catch (err) {
          this.logger.warn({ camera: config.id, err: (err as Error).message }, 'camera stop');
        }
      }),
    );
    const drained = await this.scheduler.drain(this.config.pipeline.stopTimeoutMs);
    if (!drained) this.logger.warn({ timeoutMs: this.config.pipeline.stopTimeoutMs }, 'frames still in recognition at stop were abandoned');
    clearInterval(this.tickTimer);
    await this.grouper.flush();
    // reads that could not be stored (a full disk): one more try each, evicting images for room; each one that
    // still cannot be stored is lost, counted and logged
    this.reportLost(await this.grouper.retryUnstored());
    // alerts already raised stay in the outbox on disk; channels are closed after the last reads are matched
    // (the outbox gives up a delivery waiting for its ACK at once: it is not marked delivered, and is sent again)
    await this.outbox.stop();
    this.hotlists.stop();
    clearInterval(this.statusTimer);
    clearInterval(this.maintenanceTimer);
    // each of these is bounded on its own (port close, broker disconnect, worker exit); none waits for another
    await Promise.allSettled([
      ...this.channels.map((c) => c.stop()),
      this.vision.close(),
      this.gps.stop(),
      this.purger?.stop(),
      syncStopped,
      this.pullServer?.close(),
    ]);
    this.state = 'stopped';
    this.writeStatus();
    await this.closeStatusSocket();
    this.store.close();
    this.notifier.close();
    this.logger.info('unit stopped');
  }
}

function iso(t: number): string {
  return new Date(t).toISOString();
}

async function withTimeout<T>(p: Promise<T> | undefined, ms: number, message: string): Promise<T | undefined> {
  if (!p) return undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

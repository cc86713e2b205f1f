import { EventEmitter } from 'node:events';
import path from 'node:path';
import { AccessLog } from '../access/access-log.js';
import type { HealthPayload } from '../alerts/mqtt-topics.js';
import type { AlertOutbox } from '../alerts/outbox.js';
import type { Config } from '../config/schema.js';
import { Hotlists } from '../hotlist/index.js';
import type { Logger } from '../log/logger.js';
import type { Scheduler } from '../pipeline/scheduler.js';
import type { PlateRead } from '../recognition/types.js';
import { loadDataKey } from '../store/keys.js';
import { openStore } from '../store/open.js';
import type { ReadStore } from '../store/read-store.js';
import type { Clock } from '../util/clock.js';
import { EventBus, type HitEvent, type ReadEvent, type UnitEvents } from './events.js';
import { AlertsPart } from './parts/alerts.js';
import { CamerasPart } from './parts/cameras.js';
import { GpsPart } from './parts/gps.js';
import { HotlistsPart } from './parts/hotlists.js';
import { PipelinePart } from './parts/pipeline.js';
import { ReadsPart } from './parts/reads.js';
import { RecognitionPart } from './parts/recognition.js';
import { AccountsPart, RetentionPart } from './parts/upkeep.js';
import { PullPart, SyncPart } from './parts/upstream.js';
import { Runtime, type UnitContext } from './runtime.js';
import { StatusReporter, type StatusParts, type UnitStatus } from './status.js';
import type { StorageGuard } from './storage-guard.js';

export type { HitEvent, ReadEvent } from './events.js';
export type { CameraHealth } from './parts/cameras.js';
export type { UnitStatus } from './status.js';
export { STATUS_FILE, STATUS_SOCKET } from './status-io.js';

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

/**
 * The running unit: a list of parts (src/unit/parts/) started in order and stopped in reverse by one runtime, each
 * given one context (config, clock, logger, store, event bus), the data path flowing one way as events on the bus:
 * camera -> pipeline (`frame`) -> reads (`read.stored`) -> hot lists (`hit`) -> alerts (`alert.raised`).
 * Around the parts: the store (opened before the first, closed after the last) and the status reporter. For whoever
 * watches the unit (`alpr-edge run`, the screens, the tests) it re-tells `read`, `frame`, `hit`, `idle`, `fatal`.
 */
export class Unit extends EventEmitter<{ read: [ReadEvent]; frame: [FrameEvent]; hit: [HitEvent]; idle: []; fatal: [Error] }> {
  private state: UnitStatus['state'] = 'starting';
  private readonly startedAt: number;
  private stopping: Promise<void> | undefined;
  private readonly reporter: StatusReporter;
  private readonly runtime: Runtime;
  /** Whether the store was opened with a data key (status shows a warning when not). */
  encrypted = true;
  private imageBudgetExceeded = false;

  private constructor(
    private readonly ctx: UnitContext,
    private readonly parts: StatusParts,
    partList: ConstructorParameters<typeof Runtime>[1],
  ) {
    super();
    this.startedAt = ctx.clock();
    this.runtime = new Runtime(ctx, partList);
    const unit = this;
    this.reporter = new StatusReporter(ctx, parts, {
      get state() {
        return unit.state;
      },
      startedAt: this.startedAt,
      get encrypted() {
        return unit.encrypted;
      },
      get imageBudgetExceeded() {
        return unit.imageBudgetExceeded;
      },
    });
    // the unit's own subscriptions, first on each event: a watcher hears of a read before anything acts on it
    const { bus } = ctx;
    bus.on('unit', 'frame', ({ frame, recognizedAt, plates }) =>
      this.emit('frame', { cameraId: frame.cameraId, capturedAt: frame.capturedAt, recognizedAt, plates: plates.length, image: frame.image, found: plates }),
    );
    bus.on('unit', 'read.stored', (e) => this.emit('read', e));
    bus.on('unit', 'alert.raised', (e) => this.emit('hit', e));
    bus.on('unit', 'fault.fatal', (err) => this.emit('fatal', err));
  }

  get config(): Config {
    return this.ctx.config;
  }

  get store(): ReadStore {
    return this.ctx.store;
  }

  /** The access log's MAC key. */
  get auditKey(): Buffer {
    return this.ctx.auditKey;
  }

  /** The unit's one clock: every part was given the same. */
  get clock(): Clock {
    return this.ctx.clock;
  }

  /** The alert outbox: the screens (src/ui) list its alerts and record an officer's answer through it. */
  get alerts(): AlertOutbox {
    return this.parts.alerts.outbox;
  }

  /** The scheduler the cameras offer their frames to (scripts/bench-unit.ts watches the frames offered). */
  get scheduler(): Scheduler {
    return this.parts.pipeline.scheduler;
  }

  /** Reads that cannot be stored: bounded in memory, frames dropped instead, logged at a bounded rate. */
  get storage(): StorageGuard {
    return this.parts.reads.storage;
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
    try {
      const hotlists = Hotlists.open(store.database, { config: config.hotlists, clock, recheckOnChange: true, log: logger.child({ part: 'hotlist' }) });
      const ctx: UnitContext = { config, clock, logger, store, auditKey, accessLog: new AccessLog(store.database, auditKey, clock), hotlists, bus: new EventBus<UnitEvents>() };
      // The parts in the order they start; they stop in reverse (docs/architecture.md, "Start and stop").
      const gps = new GpsPart();
      const recognition = new RecognitionPart();
      const alerts = new AlertsPart();
      const reads = new ReadsPart(gps);
      const pipeline = new PipelinePart(recognition);
      const cameras = new CamerasPart(pipeline, reads);
      const view = { health: () => unit!.health(), captureFallingBehind: () => unit!.captureFallingBehind() };
      const sync = new SyncPart(view);
      const list = [gps, recognition, alerts, new HotlistsPart(), reads, pipeline, cameras, new AccountsPart(), new RetentionPart(), sync, new PullPart(view)];
      unit = new Unit(ctx, { gps, recognition, alerts, reads, pipeline, cameras, sync }, list);
      unit.encrypted = encrypted;
      await unit.runtime.start();
    } catch (err) {
      store.close();
      throw err;
    }
    await unit.running(dataDir);
    return unit;
  }

  /** After the last part has started: the status (socket, file, every 2 s), READY=1 to systemd, the watchdog. */
  private async running(dataDir: string): Promise<void> {
    const { bus, config, logger } = this.ctx;
    bus.on('unit', 'tick', () => {
      if (this.state === 'running' && this.finished) this.emit('idle');
    });
    await this.reporter.start();
    this.state = 'running';
    this.reporter.write();
    const notifier = this.reporter.notifier;
    notifier.ready(this.reporter.summary());
    notifier.startWatchdog(() => this.state === 'running' || this.state === 'stopping');
    logger.info(
      { unit: config.unit.id, cameras: this.parts.cameras.ids(), dataDir, ocrWorkers: this.parts.recognition.vision.ocrWorkers, gps: config.gps.source },
      'unit running',
    );
  }

  /** Whether a camera's frames were dropped in the last 2 s (the scheduler could not keep up). */
  captureFallingBehind(): boolean {
    return this.parts.cameras.fallingBehind(this.clock());
  }

  /** Every camera has finished (finite replays) and every frame and plate has been dealt with. */
  get finished(): boolean {
    const grouper = this.parts.reads.grouper;
    return this.parts.cameras.finished && this.parts.pipeline.scheduler.idle && grouper.openTracks === 0 && grouper.writing === 0 && grouper.failing === 0;
  }

  status(): UnitStatus {
    return this.reporter.status();
  }

  /** The unit's health for the terminal and the agency: no plate data. */
  health(status: UnitStatus = this.status()): HealthPayload {
    return this.reporter.health(status);
  }

  /**
   * Graceful stop, well within systemd's TimeoutStopSec whatever state the parts are in: each part stops, in the
   * reverse of the start, bounded on its own: upstream sync is cut (a push mid-batch is sent again next time),
   * cameras stop (at most 5 s each, in parallel), frames already taken finish within pipeline.stopTimeoutMs, open
   * plates are closed and stored, the outbox stops without waiting out ACKs or retries (undelivered alerts stay
   * pending for the next start), then the channels, recognition and GPS; the last status is written and the
   * database is closed.
   */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    const { bus, logger, store } = this.ctx;
    this.state = 'stopping';
    bus.emit('stopping', { at: this.clock() });
    this.reporter.notifier.stopping();
    logger.info('unit stopping');
    await this.runtime.stop();
    this.state = 'stopped';
    await this.reporter.finish();
    bus.drop('unit');
    store.close();
    this.reporter.notifier.close();
    logger.info('unit stopped');
  }
}

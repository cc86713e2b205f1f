import { randomUUID } from 'node:crypto';
import type { Logger } from '../../log/logger.js';
import { Grouper, type SightingPlate, type TrackView, type UnstoredView } from '../../pipeline/grouper.js';
import { sniffImage } from '../../recognition/image-header.js';
import type { StoredRead } from '../../store/read-store.js';
import type { RecognizedFrame } from '../events.js';
import type { Part, UnitContext } from '../runtime.js';
import { StorageDeferred, StorageGuard } from '../storage-guard.js';
import type { GpsPart } from './gps.js';

/** What the unit keeps of the best sighting of a plate until its read is stored. */
interface SightingImages {
  crop: Buffer;
  frame: Buffer;
  frameFormat: 'jpeg' | 'png';
  recognizedAt: number;
}

/** The unit's clock and the GPS receiver's agree when they differ by no more than this at a fix's arrival (ms). */
const CLOCK_AGREES_MS = 1500;

/**
 * Grouping and storing: the plates of each `frame` are grouped into one read per car, and each read is written
 * (images fsynced first) before anyone hears of it (`read.stored`). While the store refuses writes (a full disk),
 * reads wait in memory within store.pendingReadsMax (the storage guard). Stopping stores the open reads.
 */
export class ReadsPart implements Part {
  readonly name = 'reads';
  private ctx: UnitContext | undefined;
  private currentGrouper: Grouper<SightingImages> | undefined;
  private currentStorage: StorageGuard | undefined;
  private readonly readIds = new Map<number, { id: number; best: unknown }>();

  constructor(private readonly gps: GpsPart) {}

  get grouper(): Grouper<SightingImages> {
    if (!this.currentGrouper) throw new Error('the reads part has not started');
    return this.currentGrouper;
  }

  /** Reads that cannot be stored: bounded in memory, frames dropped instead, logged at a bounded rate. */
  get storage(): StorageGuard {
    if (!this.currentStorage) throw new Error('the reads part has not started');
    return this.currentStorage;
  }

  start(ctx: UnitContext): void {
    const { config, clock, logger, hotlists, bus } = ctx;
    this.ctx = ctx;
    // A sighting on a hot list is reported (stored, matched, alerted on) at once, not grouping.maxDelayMs later:
    // an alert must not wait to gather frames for a better text (#15 item 5). The check is in memory.
    const reportNow = (p: SightingPlate) => hotlists.match({ plate: p.text, candidates: p.candidates, state: p.state ?? null }).length > 0;
    const grouper = new Grouper<SightingImages>({ ...config.grouping, reportNow }, {
      emit: (t) => this.storeTrack(t),
      update: (t) => this.storeTrack(t),
    });
    this.currentGrouper = grouper;
    this.currentStorage = new StorageGuard({
      maxPending: config.store.pendingReadsMax,
      pending: () => grouper.pending,
      clock,
      log: logger.child({ part: 'store' }),
    });
    bus.on(this.name, 'frame', (f) => this.group(f));
    bus.on(this.name, 'tick', (t) => grouper.tick(t.now, t.busy, t.latestFrameAt));
    // reads waiting in memory are tried at once from now on (not one a second)
    bus.on(this.name, 'stopping', () => this.storage.stop());
  }

  async stop(): Promise<void> {
    if (!this.currentGrouper) return;
    await this.currentGrouper.flush();
    // reads that could not be stored (a full disk): one more try each, evicting images for room; each one that
    // still cannot be stored is lost, counted and logged
    this.reportLost(await this.currentGrouper.retryUnstored());
  }

  private group({ frame, recognizedAt, plates }: RecognizedFrame): void {
    const frameFormat = sniffImage(frame.image).format === 'png' ? 'png' : 'jpeg';
    this.grouper.add(
      frame.cameraId,
      frame.capturedAt,
      plates.map((p) => ({
        plate: p,
        extra: { crop: Buffer.from(p.crop), frame: frame.image, frameFormat, recognizedAt },
      })),
      () => frame.settle?.('processed'),
    );
  }

  /** Stores (or updates) the read of a track; only after the write does anything hear of it. */
  private async storeTrack(t: TrackView<SightingImages>): Promise<void> {
    const { config, store, bus } = this.ctx!;
    const known = this.readIds.get(t.key);
    const best = t.best;
    const position = this.gps.source.positionAt(best.capturedAt);
    const images = {
      crop: { bytes: best.extra.crop, format: 'jpeg' as const },
      frame: config.store.frameImages ? { bytes: best.extra.frame, format: best.extra.frameFormat } : undefined,
    };
    // while the store refuses writes, one read at a time tries; the others wait in memory (the grouper keeps them)
    const attempt = this.storage.begin();
    if (attempt instanceof StorageDeferred) throw attempt;
    const t0 = performance.now();
    let read: StoredRead;
    try {
      read = known
        ? await store.updateRead(known.id, {
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
        : await store.insertRead({
            uuid: randomUUID(),
            unitId: config.unit.id,
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
      bus.emit('read.stored', { kind: 'new', read, storeMs: performance.now() - t0 });
    } else {
      known.best = best;
      if (t.closed) this.readIds.delete(t.key);
      // (a read whose text or candidates changed with more frames may hit now: the hot lists match it again)
      bus.emit('read.stored', { kind: t.closed ? 'closed' : 'update', read, storeMs: performance.now() - t0 });
    }
  }

  /**
   * `gps` when the unit's clock agreed with the GPS receiver's (within CLOCK_AGREES_MS) at a valid fix in the last
   * minute: the read's times are checked against satellite time. Else `system`: the system clock, unchecked.
   */
  private clockSource(): 'system' | 'gps' {
    const c = this.gps.source.status().clockCheck;
    return c !== null && this.ctx!.clock() - c.at <= 60_000 && Math.abs(c.skewMs) <= CLOCK_AGREES_MS ? 'gps' : 'system';
  }

  /** At a stop: each read that could not be stored is logged (no plate text) and counted. */
  private reportLost(unstored: Array<UnstoredView<SightingImages>>): void {
    if (unstored.length === 0) return;
    const logger: Logger = this.ctx!.logger;
    const err = this.storage.status().lastError;
    let lost = 0;
    for (const t of unstored) {
      if (!t.stored) lost++;
      logger.error(
        { camera: t.cameraId, firstSeen: iso(t.firstSeen), lastSeen: iso(t.lastSeen), frames: t.frameCount, read: t.stored ? (this.readIds.get(t.key)?.id ?? null) : null, err },
        t.stored
          ? 'read not completed at stop: its row is stored, its last frames and its close could not be written'
          : 'read lost at stop: it could not be stored',
      );
    }
    this.storage.lost(lost);
    logger.error(
      { lost, notCompleted: unstored.length - lost, err },
      `${lost} read(s) lost at stop and ${unstored.length - lost} not completed: the store refused them (${err ?? 'unknown error'})`,
    );
  }
}

function iso(t: number): string {
  return new Date(t).toISOString();
}

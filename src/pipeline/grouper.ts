import type { PlateState } from '../recognition/us-states.js';
import type { Box } from '../recognition/types.js';
import { distance } from '../util/distance.js';

export { distance };

/**
 * Grouping: the same plate seen in consecutive frames of one camera becomes one read.
 *
 * Each camera has open tracks. A plate read in a frame joins the open track whose text is within `maxDistance`
 * differing characters (or whose text is among the plate's candidates); otherwise it opens a track. Every
 * sighting votes for its candidate texts, weighted by confidence, so a character misread in one frame is
 * outvoted by the others. The best crop is the most confident sighting of the winning text.
 *
 * A track is reported (`emit`) `maxDelayMs` after it was first seen, or when it leaves, whichever is first, so a
 * hit reaches the officer within a bounded time even while the car stays in view. Later sightings update the
 * same read (`update`, at most about once per `maxDelayMs`); when the plate has left (`leaveAfterMs` of camera
 * time without it) the read is closed (`close`). "Camera time" matters: when recognition lags, a plate is
 * not closed while the camera's later frames are still waiting to be read.
 *
 * A sighting for which `reportNow` says yes (the unit: its text or a candidate is on a hot list) does not wait:
 * its track is reported at once (in `add`), so the read is stored, matched and alerted on without the
 * `maxDelayMs` wait; later frames still update the same read. Likewise a reported track that gets such a
 * sighting is updated at once rather than at the next `maxDelayMs` throttle.
 */

export interface SightingPlate {
  text: string;
  confidence: number;
  box: Box;
  region: string;
  candidates: Array<{ text: string; confidence: number }>;
  /** The US state read on the plate in this frame, if any. */
  state?: PlateState;
}

export interface Sighting<Extra> {
  cameraId: string;
  capturedAt: number;
  plate: SightingPlate;
  /** What the caller needs to keep from the best sighting (crop and frame bytes). */
  extra: Extra;
}

export interface TrackView<Extra> {
  key: number;
  cameraId: string;
  text: string;
  confidence: number;
  candidates: Array<{ text: string; confidence: number }>;
  firstSeen: number;
  lastSeen: number;
  frameCount: number;
  best: Sighting<Extra>;
  /** The most confident state read on the plate in any of its frames; null where none was legible. */
  plateState: PlateState | null;
  closed: boolean;
  /** This write tries again what a failed one did not store. */
  retry: boolean;
}

/** A read the sink could not store (at a stop: what is lost). */
export interface UnstoredView<Extra> extends TrackView<Extra> {
  /** Its first report was stored (its row exists): only its later frames or its close are missing. */
  stored: boolean;
}

export interface GroupingOptions {
  maxDelayMs: number;
  leaveAfterMs: number;
  maxDistance: number;
  /** Most open tracks per camera; beyond it the oldest is closed (bounded memory whatever the input). */
  maxTracksPerCamera?: number;
  /**
   * Whether a sighting is urgent (the unit: it matches a hot list entry): its track is reported at once instead
   * of `maxDelayMs` after it was first seen. Called once per sighting; it must be fast (in memory).
   */
  reportNow?: (plate: SightingPlate) => boolean;
}

export interface GroupingSink<Extra> {
  /** First report of a track. The returned promise resolves once the read is durable. */
  emit(track: TrackView<Extra>): Promise<void>;
  /** A reported track changed (more frames, better text or crop), or closed (`track.closed`). */
  update(track: TrackView<Extra>): Promise<void>;
}

interface Track<Extra> {
  key: number;
  cameraId: string;
  votes: Map<string, number>;
  /** Sum of the confidences of sightings whose own best text was each text. */
  agree: Map<string, { n: number; sum: number }>;
  firstSeen: number;
  lastSeen: number;
  frameCount: number;
  best: Sighting<Extra>;
  plateState: PlateState | null;
  /** 'new' before its first report; 'reported' after; the promise chain serialises its writes. */
  state: 'new' | 'reporting' | 'reported';
  dirty: boolean;
  lastReportAt: number;
  writes: Promise<void>;
  /** Called when the sightings so far are durable. */
  waiting: Array<() => void>;
  closed: boolean;
  /** When its last write failed (0: never); a failed write is retried a second later. */
  failedAt: number;
  /** A sighting since its last report was urgent (`reportNow`): report without waiting. */
  urgent: boolean;
}

/** Wait after a failed write (a full disk, a locked database) before trying again. */
const RETRY_MS = 1000;

export class Grouper<Extra> {
  private readonly tracks = new Map<string, Array<Track<Extra>>>();
  private nextKey = 1;
  /** Closed tracks whose last write failed. */
  private readonly retrying: Array<Track<Extra>> = [];
  private readonly inFlight = new Set<Promise<void>>();
  /** Tracks whose last write failed: what waits in memory to be stored. */
  private readonly unstored = new Set<Track<Extra>>();
  /** Wall-clock time of the latest tick (the clock is the caller's, so tests can drive it). */
  private now = 0;

  constructor(
    private readonly opts: GroupingOptions,
    private readonly sink: GroupingSink<Extra>,
  ) {}

  /**
   * Adds the plates of one frame. `durable` is called once every sighting of this frame is in a stored read
   * (at once if the frame had no plates).
   */
  add(cameraId: string, capturedAt: number, plates: Array<{ plate: SightingPlate; extra: Extra }>, durable?: () => void): void {
    let open = this.tracks.get(cameraId);
    if (!open) this.tracks.set(cameraId, (open = []));
    const taken = new Set<Track<Extra>>();
    let remaining = plates.length;
    const done = () => {
      if (--remaining === 0) durable?.();
    };
    if (plates.length === 0) durable?.();
    // Most confident plates choose first.
    const ordered = [...plates].sort((a, b) => b.plate.confidence - a.plate.confidence);
    for (const { plate, extra } of ordered) {
      const sighting: Sighting<Extra> = { cameraId, capturedAt, plate, extra };
      let track = this.match(open, plate, taken);
      if (!track) {
        track = {
          key: this.nextKey++,
          cameraId,
          votes: new Map(),
          agree: new Map(),
          firstSeen: capturedAt,
          lastSeen: capturedAt,
          frameCount: 0,
          best: sighting,
          plateState: null,
          state: 'new',
          dirty: false,
          lastReportAt: 0,
          writes: Promise.resolve(),
          waiting: [],
          closed: false,
          failedAt: 0,
          urgent: false,
        };
        open.push(track);
        const max = this.opts.maxTracksPerCamera ?? 64;
        if (open.length > max) this.finish(open.shift()!);
      }
      taken.add(track);
      this.addSighting(track, sighting);
      track.waiting.push(done);
      if (this.opts.reportNow && this.isUrgent(plate)) {
        track.urgent = true;
        this.reportUrgent(track);
      }
    }
  }

  private isUrgent(plate: SightingPlate): boolean {
    try {
      return this.opts.reportNow!(plate);
    } catch {
      // a failing check must not lose the sighting: it is reported after maxDelayMs as any other
      return false;
    }
  }

  /** Reports an urgent track now unless a write of it is under way or failed a moment ago (tick retries it). */
  private reportUrgent(track: Track<Extra>): boolean {
    if (!track.urgent || track.closed) return false;
    if (track.failedAt > 0 && this.now - track.failedAt < RETRY_MS) return false;
    if (track.state === 'new' || (track.state === 'reported' && track.dirty)) {
      this.report(track);
      return true;
    }
    return false;
  }

  /**
   * Reports and closes what is due at wall-clock time `now`. `busy(cameraId)` says whether the camera still has
   * frames waiting or in recognition.
   */
  tick(now: number, busy: (cameraId: string) => boolean, latestFrameAt: (cameraId: string) => number | undefined): void {
    this.now = now;
    for (const [cameraId, open] of this.tracks) {
      const cameraTime = latestFrameAt(cameraId) ?? 0;
      const cameraBusy = busy(cameraId);
      for (const track of [...open]) {
        const gone =
          cameraTime - track.lastSeen >= this.opts.leaveAfterMs ||
          (!cameraBusy && now - track.lastSeen >= this.opts.leaveAfterMs);
        if (gone) {
          open.splice(open.indexOf(track), 1);
          this.finish(track);
          continue;
        }
        if (track.failedAt > 0 && now - track.failedAt < RETRY_MS) continue;
        if (this.reportUrgent(track)) continue;
        if (track.state === 'new' && now - track.firstSeen >= this.opts.maxDelayMs) this.report(track);
        else if (track.state === 'reported' && track.dirty && now - track.lastReportAt >= Math.max(250, this.opts.maxDelayMs)) {
          this.report(track);
        }
      }
    }
    for (const track of [...this.retrying]) {
      if (now - track.failedAt < RETRY_MS || track.state === 'reporting') continue;
      this.retrying.splice(this.retrying.indexOf(track), 1);
      this.report(track);
    }
  }

  /** Reads whose storing failed and is being retried. */
  get failing(): number {
    return this.retrying.length;
  }

  /** Reads (open or closed) whose last write failed and that wait in memory to be stored. */
  get pending(): number {
    return this.unstored.size;
  }

  /**
   * At a stop, after flush: tries once more to store every read whose last write failed; resolves with those
   * that still could not be stored (what the stop loses).
   */
  async retryUnstored(): Promise<Array<UnstoredView<Extra>>> {
    for (const track of this.retrying.splice(0)) this.report(track);
    await Promise.allSettled([...this.inFlight]);
    return [...this.unstored].map((t) => ({ ...this.view(t), stored: t.state === 'reported' }));
  }

  /** Writes of reads (new, updated or closed) not settled yet. */
  get writing(): number {
    return this.inFlight.size;
  }

  /** Closes every open track (at shutdown); resolves when they and every write already under way are settled. */
  async flush(): Promise<void> {
    const all: Array<Promise<void>> = [...this.inFlight];
    for (const open of this.tracks.values()) {
      for (const track of open.splice(0)) {
        this.finish(track);
        all.push(track.writes);
      }
    }
    await Promise.allSettled(all);
  }

  get openTracks(): number {
    let n = 0;
    for (const open of this.tracks.values()) n += open.length;
    return n;
  }

  private match(open: Array<Track<Extra>>, plate: SightingPlate, taken: Set<Track<Extra>>): Track<Extra> | undefined {
    let bestTrack: Track<Extra> | undefined;
    let bestDistance = Infinity;
    const texts = new Set([plate.text, ...plate.candidates.map((c) => c.text)]);
    for (const track of open) {
      if (taken.has(track)) continue;
      const trackText = leader(track.votes);
      const d = texts.has(trackText) ? 0 : distance(plate.text, trackText);
      if (d <= this.opts.maxDistance && d < bestDistance) {
        bestDistance = d;
        bestTrack = track;
      }
    }
    return bestTrack;
  }

  private addSighting(track: Track<Extra>, s: Sighting<Extra>): void {
    track.frameCount++;
    if (s.plate.state && s.plate.state.confidence > (track.plateState?.confidence ?? 0)) track.plateState = s.plate.state;
    track.lastSeen = Math.max(track.lastSeen, s.capturedAt);
    track.firstSeen = Math.min(track.firstSeen, s.capturedAt);
    s.plate.candidates.forEach((c, i) => {
      // the sighting's own best text counts fully, its alternates a quarter
      track.votes.set(c.text, (track.votes.get(c.text) ?? 0) + c.confidence * (i === 0 ? 1 : 0.25));
    });
    if (s.plate.candidates.length === 0) track.votes.set(s.plate.text, (track.votes.get(s.plate.text) ?? 0) + s.plate.confidence);
    const a = track.agree.get(s.plate.text) ?? { n: 0, sum: 0 };
    track.agree.set(s.plate.text, { n: a.n + 1, sum: a.sum + s.plate.confidence });
    const text = leader(track.votes);
    const bestMatches = track.best.plate.text === text;
    if ((s.plate.text === text && (!bestMatches || s.plate.confidence > track.best.plate.confidence)) || (!bestMatches && s.plate.confidence > track.best.plate.confidence)) {
      track.best = s;
    }
    track.dirty = true;
  }

  private view(track: Track<Extra>): TrackView<Extra> {
    const text = leader(track.votes);
    const total = [...track.votes.values()].reduce((x, y) => x + y, 0);
    const agree = track.agree.get(text);
    // Confidence of the read: the mean confidence of the sightings that read this text, scaled by the share of
    // the vote it won (a text only one frame in five agreed with is not as sure as one all five agreed with).
    const share = total > 0 ? (track.votes.get(text) ?? 0) / total : 0;
    const base = agree ? agree.sum / agree.n : track.best.plate.confidence;
    const candidates = [...track.votes.entries()]
      .sort((x, y) => y[1] - x[1])
      .slice(0, 10)
      .map(([t, v]) => ({ text: t, confidence: round1(Math.min(100, (100 * v) / total)) }));
    return {
      key: track.key,
      cameraId: track.cameraId,
      text,
      confidence: round1(Math.min(100, base * Math.min(1, 0.5 + share))),
      candidates,
      firstSeen: track.firstSeen,
      lastSeen: track.lastSeen,
      frameCount: track.frameCount,
      best: track.best,
      plateState: track.plateState,
      closed: track.closed,
      retry: this.unstored.has(track),
    };
  }

  private report(track: Track<Extra>): void {
    const first = track.state === 'new';
    track.state = first ? 'reporting' : track.state;
    track.dirty = false;
    const urgent = track.urgent;
    track.urgent = false;
    track.lastReportAt = this.now;
    const view = this.view(track);
    const waiting = track.waiting.splice(0);
    const write = track.writes
      .then(() => (first ? this.sink.emit(view) : this.sink.update(view)))
      .then(
        () => {
          track.state = 'reported';
          track.failedAt = 0;
          this.unstored.delete(track);
          for (const w of waiting) w();
        },
        () => {
          // The sink logs its own failure. The write is tried again; the frames waiting on it keep waiting (a
          // watched folder's file is not marked done while its read is not stored).
          if (first) track.state = 'new';
          track.dirty = true;
          track.urgent ||= urgent;
          track.failedAt = this.now;
          this.unstored.add(track);
          track.waiting.unshift(...waiting);
          if (track.closed && !this.retrying.includes(track)) this.retrying.push(track);
        },
      );
    // a closed track leaves the open ones at once, its write a moment later: until then the read is not stored
    this.inFlight.add(write);
    track.writes = write.finally(() => this.inFlight.delete(write));
  }

  private finish(track: Track<Extra>): void {
    track.closed = true;
    if (track.state === 'new') {
      // never reported yet: one write that is both the first report and the close
      this.report(track);
    } else {
      track.dirty = true;
      this.report(track);
    }
  }
}

function leader(votes: Map<string, number>): string {
  let best = '';
  let bestV = -1;
  for (const [t, v] of votes) {
    if (v > bestV) {
      best = t;
      bestV = v;
    }
  }
  return best;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

import type { Frame } from '../camera/types.js';
import type { HealthPayload } from '../alerts/mqtt-topics.js';
import type { RaiseResult } from '../alerts/outbox.js';
import type { StoredHit } from '../hotlist/index.js';
import type { VisionPlate } from '../pipeline/vision-protocol.js';
import type { StoredRead } from '../store/read-store.js';
import type { Fault } from './faults.js';

/**
 * The events between the unit's parts, in the order of the data path (docs/architecture.md). Each is emitted by
 * one part; any part may subscribe under its own name, and its subscriptions are dropped when it stops.
 */
export interface UnitEvents {
  /** The recognition worker read a frame (pipeline): the grouping of reads adds its plates. */
  frame: RecognizedFrame;
  /** A read is on disk (reads): new, better (update), or the car has left (closed). */
  'read.stored': ReadEvent;
  /** New hot list hits, recorded (hotlists): for a stored read, or for recent reads matched again by a list change. */
  hit: { hits: StoredHit[]; read?: StoredRead };
  /** An alert raised, or suppressed, for one hit (alerts). */
  'alert.raised': HitEvent;
  /** The unit's health and open faults, every 10 s and at once when a fault is raised or cleared (status). */
  health: { health: HealthPayload; faults: Fault[] };
  /** A fault of the unit was raised or cleared (status): the agency hears of it now. */
  'fault.changed': { faults: Fault[] };
  /** Recognition stopped working (recognition): the unit stops, systemd restarts it. */
  'fault.fatal': Error;
  /** Every 100 ms (pipeline): open reads are closed on camera time; the unit checks whether it is done. */
  tick: PipelineTick;
  /** The unit has begun to stop (unit), before any part stops. */
  stopping: { at: number };
}

/** A frame read by the recognition worker, with the plates found in it. */
export interface RecognizedFrame {
  frame: Frame;
  recognizedAt: number;
  plates: readonly VisionPlate[];
}

export interface PipelineTick {
  now: number;
  /** Whether frames of a camera still wait or are in recognition. */
  busy: (cameraId: string) => boolean;
  /** Capture time of the latest frame of a camera read so far. */
  latestFrameAt: (cameraId: string) => number | undefined;
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

type Handler<T> = (payload: T) => void;

/**
 * A typed, synchronous event bus. Handlers run in the order they subscribed; a handler that throws throws to the
 * part that emitted (as Node's EventEmitter does), so a failure is that part's to handle.
 */
export class EventBus<E extends object> {
  // copied on change, never on emit: emitting is the hot path (a frame, a read)
  private handlers = new Map<keyof E, ReadonlyArray<{ owner: string; fn: Handler<never> }>>();

  /** Subscribes `fn` to `event` under the subscriber's name (dropped together by drop(owner)). */
  on<K extends keyof E>(owner: string, event: K, fn: Handler<E[K]>): void {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), { owner, fn: fn as Handler<never> }]);
  }

  emit<K extends keyof E>(event: K, payload: E[K]): void {
    const list = this.handlers.get(event);
    if (!list) return;
    for (const h of list) (h.fn as Handler<E[K]>)(payload);
  }

  /** Drops every subscription of `owner`. */
  drop(owner: string): void {
    for (const [event, list] of this.handlers) {
      const kept = list.filter((h) => h.owner !== owner);
      if (kept.length === list.length) continue;
      if (kept.length === 0) this.handlers.delete(event);
      else this.handlers.set(event, kept);
    }
  }

  /** Who subscribes to `event`, in order (for diagnostics and tests). */
  subscribers<K extends keyof E>(event: K): string[] {
    return (this.handlers.get(event) ?? []).map((h) => h.owner);
  }
}

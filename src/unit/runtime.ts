import type { AccessLog } from '../access/access-log.js';
import type { Config } from '../config/schema.js';
import type { Hotlists } from '../hotlist/index.js';
import type { Logger } from '../log/logger.js';
import type { ReadStore } from '../store/read-store.js';
import type { Clock } from '../util/clock.js';
import type { EventBus, UnitEvents } from './events.js';

/**
 * What every part of the running unit is given: the whole config (each part reads its own slice), the one clock,
 * the unit's logger (a part makes its child), the store (open before the first part starts, closed after the last
 * stops) with the access log and the hot lists held in it, and the event bus.
 */
export interface UnitContext {
  readonly config: Config;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly store: ReadStore;
  /** The access log's MAC key. */
  readonly auditKey: Buffer;
  readonly accessLog: AccessLog;
  /** The hot lists, loaded from the store (matching starts with the `hotlists` part). */
  readonly hotlists: Hotlists;
  readonly bus: EventBus<UnitEvents>;
}

/**
 * One part of the running unit. `start` resolves when the part works (or throws, and the parts started before it
 * are stopped); `stop` is bounded and resolves when the part is done. The runtime drops a part's subscriptions
 * when it begins to stop.
 */
export interface Part {
  /** The part's name: its subscriptions on the bus go by it. */
  readonly name: string;
  start(ctx: UnitContext): Promise<void> | void;
  stop(): Promise<void> | void;
}

/** Starts the parts in order and stops them in reverse; a failed start stops what had started. */
export class Runtime {
  private readonly started: Part[] = [];

  constructor(
    private readonly ctx: UnitContext,
    readonly parts: readonly Part[],
  ) {}

  async start(): Promise<void> {
    for (const part of this.parts) {
      try {
        await part.start(this.ctx);
      } catch (err) {
        this.ctx.bus.drop(part.name);
        await this.stop();
        throw err;
      }
      this.started.push(part);
    }
  }

  /** Stops every started part, last started first; a part that fails to stop is logged and the others go on. */
  async stop(): Promise<void> {
    for (let part = this.started.pop(); part; part = this.started.pop()) {
      this.ctx.bus.drop(part.name);
      try {
        await part.stop();
      } catch (err) {
        this.ctx.logger.warn({ part: part.name, err: (err as Error).message }, 'part did not stop cleanly');
      }
    }
  }
}

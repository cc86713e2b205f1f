import { purgeSessions } from '../../access/session.js';
import { suspendInactive } from '../../access/users.js';
import { Purger } from '../../retention/index.js';
import type { Part, UnitContext } from '../runtime.js';

/** Hourly: accounts unused for access.inactivityDays are suspended (logged), expired sessions removed. */
export class AccountsPart implements Part {
  readonly name = 'accounts';
  private timer: NodeJS.Timeout | undefined;

  start(ctx: UnitContext): void {
    const { store, accessLog, config, clock, logger } = ctx;
    const maintain = () => {
      try {
        suspendInactive(store.database, accessLog, config.access.inactivityDays);
        purgeSessions(store.database, clock());
      } catch (err) {
        logger.error({ err: (err as Error).message }, 'account maintenance failed');
      }
    };
    maintain();
    this.timer = setInterval(maintain, 3_600_000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** Retention: logical then permanent deletion in small batches, held reads exempt (never stalls capture). */
export class RetentionPart implements Part {
  readonly name = 'retention';
  private purger: Purger | undefined;

  start(ctx: UnitContext): void {
    const { store, config, logger, accessLog, clock } = ctx;
    this.purger = new Purger(store, config.retention, {
      onImagesDeleted: (bytes) => store.forgetImageBytes(bytes),
      log: logger.child({ part: 'retention' }),
      // each access log purge leaves a signed anchor record naming the unit as the purger
      accessLog,
      actor: { user: `unit ${config.unit.id} retention`, agency: config.unit.agency, role: 'system' },
    });
    this.purger.start(clock);
  }

  async stop(): Promise<void> {
    await this.purger?.stop();
  }
}

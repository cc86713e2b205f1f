import type { StoredHit } from '../../hotlist/index.js';
import type { StoredRead } from '../../store/read-store.js';
import type { Part, UnitContext } from '../runtime.js';

/**
 * Hot list matching: every stored read (`read.stored`: new, better, closed) is checked in memory, and new hits are
 * recorded and told (`hit`); so are the hits of recent reads found again when a list or an entry arrives. Starting
 * it also starts the hot lists' own upkeep (picking up changes, purging expired entries, the first recheck).
 */
export class HotlistsPart implements Part {
  readonly name = 'hotlists';
  private ctx: UnitContext | undefined;
  private readonly onHits = (hits: StoredHit[]) => this.ctx!.bus.emit('hit', { hits });

  start(ctx: UnitContext): void {
    this.ctx = ctx;
    ctx.bus.on(this.name, 'read.stored', (e) => this.match(e.read));
    // hits found when a list or entry arrives and recent reads are checked again
    ctx.hotlists.on('hits', this.onHits);
    ctx.hotlists.start();
  }

  stop(): void {
    this.ctx?.hotlists.off('hits', this.onHits);
    this.ctx?.hotlists.stop();
  }

  /** Checks a stored read against the hot lists; new hits are recorded and told. */
  private match(read: StoredRead): void {
    const { hotlists, bus, logger } = this.ctx!;
    try {
      const hits = hotlists.match(read);
      if (hits.length === 0) return;
      bus.emit('hit', { hits: hotlists.recordHits(read.id, hits), read });
    } catch (err) {
      logger.error({ read: read.id, err: (err as Error).message }, 'hot list check failed');
    }
  }
}

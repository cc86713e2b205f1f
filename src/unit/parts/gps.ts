import { createPositionSource } from '../../gps/index.js';
import type { PositionSource } from '../../gps/types.js';
import type { Part, UnitContext } from '../runtime.js';

/** The position source named by gps.source: reads take the fix nearest their best frame. */
export class GpsPart implements Part {
  readonly name = 'gps';
  private current: PositionSource | undefined;

  get source(): PositionSource {
    if (!this.current) throw new Error('the gps part has not started');
    return this.current;
  }

  async start(ctx: UnitContext): Promise<void> {
    const source = createPositionSource(ctx.config.gps, ctx.clock, ctx.logger.child({ part: 'gps' }));
    try {
      await source.start();
    } catch (err) {
      await source.stop().catch(() => undefined);
      throw err;
    }
    this.current = source;
  }

  async stop(): Promise<void> {
    await this.current?.stop();
  }
}

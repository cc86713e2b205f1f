import { Vision } from '../../pipeline/vision.js';
import type { Part, UnitContext } from '../runtime.js';

/**
 * The recognition worker (OpenCV and the text reader in a worker thread). Started early, so that a missing model
 * stops the unit before anything else is opened; a worker that stops working is `fault.fatal`.
 */
export class RecognitionPart implements Part {
  readonly name = 'recognition';
  private current: Vision | undefined;

  get vision(): Vision {
    if (!this.current) throw new Error('the recognition part has not started');
    return this.current;
  }

  async start(ctx: UnitContext): Promise<void> {
    const { logger, bus } = ctx;
    this.current = await Vision.start(ctx.config.recognition, logger.child({ part: 'recognition' }));
    this.current.onFatal = (err) => {
      logger.fatal({ err: err.message }, 'recognition stopped working; the unit stops (systemd restarts it)');
      bus.emit('fault.fatal', err);
    };
  }

  async stop(): Promise<void> {
    await this.current?.close();
  }
}

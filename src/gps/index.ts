/** Picks the position source named by gps.source in the config. */
import type { GpsConfig } from './config.js';
import { FixedPosition } from './fixed.js';
import { SerialGps, type GpsLogger } from './serial.js';
import { NO_POSITION, type GpsStatus, type Position, type PositionSource } from './types.js';
import type { Clock } from '../util/clock.js';

export type { GpsLogger } from './serial.js';

/** gps.source "none": reads carry no position. */
export class NoPosition implements PositionSource {
  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  positionAt(_t: number): Position {
    return { ...NO_POSITION };
  }

  status(): GpsStatus {
    return { source: 'none', connected: false, lastFix: null, sentences: 0, badSentences: 0, lastError: null, clockCheck: null };
  }
}

export function createPositionSource(config: GpsConfig, clock: Clock, logger?: GpsLogger): PositionSource {
  switch (config.source) {
    case 'none':
      return new NoPosition();
    case 'fixed':
      return new FixedPosition(config, clock);
    case 'serial':
      return new SerialGps(config, logger, { clock });
  }
}

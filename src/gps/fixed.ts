/** A unit that does not move (a pole, a gate): every read is taken at the configured position. */
import type { GpsConfig } from './config.js';
import type { GpsStatus, Position, PositionSource } from './types.js';
import type { Clock } from '../util/clock.js';

export class FixedPosition implements PositionSource {
  private readonly position: Position;

  constructor(
    config: Pick<GpsConfig, 'latitude' | 'longitude' | 'heading'>,
    private readonly clock: Clock,
  ) {
    const { latitude, longitude, heading } = config;
    // The config schema requires both for gps.source "fixed"; this guards a caller that skipped it.
    if (latitude === undefined || longitude === undefined) {
      throw new Error('gps.latitude and gps.longitude are required when gps.source is "fixed"');
    }
    this.position = {
      latitude,
      longitude,
      valid: true,
      speedKmh: 0,
      headingDeg: heading ?? null,
      fixTime: null,
      source: 'fixed',
    };
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  positionAt(_t: number): Position {
    return { ...this.position };
  }

  status(): GpsStatus {
    const p = this.position;
    const lastFix = { time: this.clock(), latitude: p.latitude!, longitude: p.longitude!, valid: true, headingDeg: p.headingDeg ?? undefined };
    return { source: 'fixed', connected: true, lastFix, sentences: 0, badSentences: 0, lastError: null, clockCheck: null };
  }
}

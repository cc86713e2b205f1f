/** Positions for reads: from an NMEA receiver, a fixed configured position, or none. */

export interface Fix {
  /** Time of the fix (ms since the epoch, UTC). From the receiver's own clock when it gives one, else arrival. */
  time: number;
  latitude: number;
  longitude: number;
  /** The receiver says the fix is usable (RMC status A, GGA quality > 0). */
  valid: boolean;
  /** GGA fix quality: 0 none, 1 GPS, 2 DGPS, 4/5 RTK... */
  quality?: number;
  satellites?: number;
  hdop?: number;
  altitudeM?: number;
  speedKmh?: number;
  headingDeg?: number;
}

/** What a read carries about where it was taken. */
export interface Position {
  latitude: number | null;
  longitude: number | null;
  /** A fix close enough in time, which the receiver called valid (always true for a fixed position). */
  valid: boolean;
  speedKmh: number | null;
  headingDeg: number | null;
  /** Time of the fix used, or null. */
  fixTime: number | null;
  source: 'gps' | 'fixed' | 'none';
}

export interface GpsStatus {
  source: 'gps' | 'fixed' | 'none';
  /** Port open and sentences arriving. */
  connected: boolean;
  lastFix: Fix | null;
  sentences: number;
  /** Sentences refused: bad checksum, garbage, malformed fields. */
  badSentences: number;
  lastError: string | null;
  /**
   * The unit's clock against the receiver's, at the last valid fix: skewMs = unit time of arrival minus the fix's
   * time (a few hundred ms of transmission is normal). Null without a receiver or before its first valid fix.
   */
  clockCheck: { skewMs: number; at: number } | null;
}

export interface PositionSource {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The position at time `t` (ms since the epoch): the nearest fix in time, or an invalid position. */
  positionAt(t: number): Position;
  status(): GpsStatus;
}

export const NO_POSITION: Position = {
  latitude: null,
  longitude: null,
  valid: false,
  speedKmh: null,
  headingDeg: null,
  fixTime: null,
  source: 'none',
};

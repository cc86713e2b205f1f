import type { Position } from '../gps/types.js';
import type { PlateState } from '../recognition/us-states.js';
import type { Box } from '../recognition/types.js';
import { rowMap } from '../util/rows.js';

/** What a read is, as the unit makes it and as the store keeps it (table `reads`, with its images in `images`). */

export interface ImageData {
  bytes: Buffer;
  format: 'jpeg' | 'png';
}

export interface CandidateText {
  text: string;
  confidence: number;
}

/** What a read says, as the unit makes it and as the store gives it back. */
interface ReadFields {
  uuid: string;
  unitId: string;
  cameraId: string;
  plate: string;
  confidence: number;
  candidates: CandidateText[];
  region: string | null;
  box: Box;
  firstSeen: number;
  lastSeen: number;
  bestSeen: number;
  frameCount: number;
  position: Position;
  closed: boolean;
}

export interface NewRead extends ReadFields {
  /** The US state read on the plate (two-letter code) and its confidence (0-1); absent where none was legible. */
  state?: PlateState | null;
  clockSource: 'system' | 'gps';
  crop: ImageData;
  frame?: ImageData;
}

export type ReadUpdate = Pick<
  NewRead,
  'plate' | 'confidence' | 'candidates' | 'state' | 'box' | 'lastSeen' | 'bestSeen' | 'frameCount' | 'closed' | 'position'
> & { crop?: ImageData; frame?: ImageData };

export interface StoredRead extends ReadFields {
  id: number;
  /** The US state read on the plate, or null where none was legible. */
  state: PlateState | null;
  clockSource: string;
  syncState: 'pending' | 'synced';
  /** Image files of the read, relative to the images folder; null once evicted. */
  cropPath: string | null;
  framePath: string | null;
}

/** The columns of `reads` an update sets (an insert too), by name. */
export function updatedColumns(u: ReadUpdate): Record<string, string | number | null> {
  const p = u.position;
  return {
    plate: u.plate,
    confidence: u.confidence,
    candidates: JSON.stringify(u.candidates),
    state: u.state?.code ?? null,
    state_confidence: u.state?.confidence ?? null,
    box: JSON.stringify(u.box),
    last_seen: u.lastSeen,
    best_seen: u.bestSeen,
    frame_count: u.frameCount,
    closed: u.closed ? 1 : 0,
    latitude: p.latitude,
    longitude: p.longitude,
    position_valid: p.valid ? 1 : 0,
    position_source: p.source,
    speed_kmh: p.speedKmh,
    heading_deg: p.headingDeg,
    fix_time: p.fixTime,
  };
}

/** A read's row with the paths of its current images. */
export const READ_SELECT = `
  SELECT r.*,
    (SELECT path FROM images WHERE read_id = r.id AND kind = 'crop' AND evicted_at IS NULL ORDER BY id DESC LIMIT 1) AS crop_path,
    (SELECT path FROM images WHERE read_id = r.id AND kind = 'frame' AND evicted_at IS NULL ORDER BY id DESC LIMIT 1) AS frame_path
  FROM reads r`;

/** A row of READ_SELECT as the read it is. */
export const READ = rowMap<StoredRead>()(
  `id uuid unit_id camera_id plate confidence candidates:json region state box:json first_seen last_seen best_seen frame_count
   clock_source position closed:bool sync_state crop_path frame_path`,
  {
    state: (r) => (r.state === null ? null : { code: r.state as string, confidence: (r.state_confidence as number | null) ?? 0 }),
    position: (r) => ({
      latitude: r.latitude as number | null,
      longitude: r.longitude as number | null,
      valid: r.position_valid === 1,
      source: r.position_source as Position['source'],
      speedKmh: r.speed_kmh as number | null,
      headingDeg: r.heading_deg as number | null,
      fixTime: r.fix_time as number | null,
    }),
  },
);

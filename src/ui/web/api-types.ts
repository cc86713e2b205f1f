/**
 * What the unit's screens API sends, as types only: included by both the unit's build (tsconfig.json) and the
 * browser's (src/ui/web/tsconfig.json), so that the screens read the very types the server writes.
 */
export type { HitSummary } from '../../hotlist/hit-summary.js';

/**
 * What the officer's alert screen shows of an alert: the message the terminal was given (plate, state, list,
 * reason, priority, camera, time, place, the unverified notice), its answer if any, and whether the read still has
 * a crop and a frame to show. Image paths stay on the unit: the screen asks for them by alert id.
 */
export interface ScreenAlert {
  id: string;
  seq: number;
  raisedAt: number;
  seenAt: number;
  plate: string;
  plateState: string | null;
  confidence: number;
  cameraId: string;
  latitude: number | null;
  longitude: number | null;
  positionValid: boolean;
  list: string;
  category: string;
  priority: number;
  matchKind: string;
  entryPlate: string;
  entryState: string | null;
  stateMismatch: boolean;
  caseNumber: string | null;
  notice: string;
  images: { crop: boolean; frame: boolean };
  answer: { at: number; accepted: boolean; reason: string | null; by: string | null; channel: string | null } | null;
}

/** Messages between the main thread and the recognition worker (src/pipeline/vision-worker.ts). */
import type { Country } from '../recognition/config.js';
import type { SightingPlate } from './grouper.js';

export interface VisionJob {
  type: 'frame';
  id: number;
  image: Uint8Array;
  country: Country;
  /** Region of interest, fractions of the frame; plates whose centre is outside are dropped. */
  roi?: Array<[number, number]>;
}

/** A plate read in the frame (text, box, candidates, state where one was legible), with its crop. */
export interface VisionPlate extends SightingPlate {
  /** JPEG of the plate with a margin. */
  crop: Uint8Array;
}

export type VisionReply =
  | { type: 'ready'; ocrWorkers: number }
  | { type: 'fatal'; error: string }
  | { type: 'error'; id: number; error: string }
  | {
      type: 'result';
      id: number;
      width: number;
      height: number;
      decodeMs: number;
      ms: number;
      plates: VisionPlate[];
      /** Candidate regions whose reading failed (the frame's other regions were read). */
      errors?: string[];
    };

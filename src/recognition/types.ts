import type { Candidate } from './candidates.js';

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** One plate found and read in a frame. */
export interface PlateRead {
  text: string;
  /** 0-100 */
  confidence: number;
  box: Box;
  candidates: Candidate[];
  region?: string;
}

export interface FrameResult {
  width: number;
  height: number;
  ms: number;
  plates: PlateRead[];
}

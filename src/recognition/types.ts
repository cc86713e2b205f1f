import type { Candidate } from './candidates.js';
import type { PlateState } from './us-states.js';

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
  /** US plates: the state whose name or slogan was read on the plate, where one was legible. */
  state?: PlateState;
}

export interface FrameResult {
  width: number;
  height: number;
  ms: number;
  plates: PlateRead[];
  /** Candidate regions whose reading failed (the model threw on them); the frame's other regions were read. */
  errors?: string[];
}

/** Intersection over union of two boxes (0: apart, 1: the same box). */
export function iou(a: Box, b: Box): number {
  const x0 = Math.max(a.x, b.x);
  const y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.width, b.x + b.width);
  const y1 = Math.min(a.y + a.height, b.y + b.height);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  return inter / (a.width * a.height + b.width * b.height - inter);
}

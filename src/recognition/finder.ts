/**
 * The small-plate pass of the plate finder. The main pass searches a copy of the frame scaled to
 * recognition.detector.maxWidth (960 px), where a 1080p plate 60-150 px wide has characters 5-11 px tall, too
 * small to segment. This pass looks on that same scaled copy for plate-like texture (a short horizontal bar of
 * dense vertical edges, of a character's height: a Sobel-x map, thresholded and closed along rows) and segments
 * only those places again at full resolution, where the characters are 8-26 px tall. A frame without such texture
 * costs the edge map alone (a few milliseconds on 960x540).
 */
import { cv, type Mat } from './cv.js';
import { findCharLines, type Polarity } from './segment.js';
import { iou, type Box } from './types.js';

export interface SmallPlateOptions {
  /** Smallest character height searched for, in full-resolution pixels. */
  minCharHeight: number;
  /** Largest character height searched for, in full-resolution pixels (the main pass finds the larger). */
  maxCharHeight: number;
  /** Most textured places segmented at full resolution. */
  maxPlaces: number;
  /** Most regions returned. */
  maxRegions: number;
  /** Most textured places returned as they are where no line of characters segments (for a reader that finds rows). */
  textureReads: number;
}

export const SMALL_PLATE_DEFAULTS: SmallPlateOptions = { minCharHeight: 8, maxCharHeight: 28, maxPlaces: 12, maxRegions: 4, textureReads: 0 };

export interface SmallPlateRegion {
  /** The line of characters, in full-resolution frame coordinates. */
  box: Box;
  charHeight: number;
  polarity: Polarity;
  score: number;
}

/** A place of plate-like texture, in the scaled copy's pixels. */
export interface TexturePlace extends Box {
  /** Share of the place's pixels that are strong vertical edges after closing (0-1). */
  fill: number;
}

function odd(n: number): number {
  const r = Math.max(3, Math.round(n));
  return r % 2 === 1 ? r : r + 1;
}

/**
 * Places of plate-like texture in a grey image: bars `minH`-`maxH` pixels tall and 1.5-14 times as wide, mostly
 * covered by strong vertical edges once neighbouring edges along a row are joined.
 */
export function texturePlaces(work: Mat, minH: number, maxH: number): TexturePlace[] {
  const gx = work.sobel(cv.CV_16S, 1, 0, 3).convertScaleAbs(1, 0);
  // Strong edges: well above the frame's own edge level (a textured frame needs more), never under 40.
  // (a one-channel Mat's mean is in the Vec4's w)
  const level = Math.max(40, 4 * gx.mean().w);
  const edges = gx.threshold(level, 255, cv.THRESH_BINARY);
  // Characters' edges join along the row into a bar; a lone edge (a pole, a window frame) stays thin.
  const closeW = Math.max(3, Math.round(minH * 1.2));
  const joined = edges.morphologyEx(cv.getStructuringElement(cv.MORPH_RECT, new cv.Size(closeW, 1)), cv.MORPH_CLOSE);
  const bars = joined.morphologyEx(cv.getStructuringElement(cv.MORPH_RECT, new cv.Size(3, 2)), cv.MORPH_OPEN);
  // Outer contours, not connected components with stats: five to eight times cheaper on a sparse 960x540 map.
  const places: TexturePlace[] = [];
  for (const contour of bars.findContours(cv.RETR_EXTERNAL, cv.CHAIN_APPROX_SIMPLE)) {
    const { x, y, width: w, height: h } = contour.boundingRect();
    if (h < minH || h > maxH * 1.6) continue;
    if (w < Math.max(8, 1.5 * h) || w > 14 * h) continue;
    const fill = bars.getRegion(new cv.Rect(x, y, w, h)).countNonZero() / (w * h);
    if (fill < 0.4) continue;
    places.push({ x, y, width: w, height: h, fill });
  }
  return places;
}

/**
 * Lines of small characters at full resolution, where the scaled copy `work` (the frame times `scale`, under 1)
 * shows plate-like texture. Places already covered by `known` regions (frame coordinates) are skipped.
 */
export function findSmallPlates(
  gray: Mat,
  work: Mat,
  scale: number,
  known: Box[],
  opts: SmallPlateOptions = SMALL_PLATE_DEFAULTS,
): SmallPlateRegion[] {
  if (scale >= 1) return [];
  const minH = Math.max(2, Math.floor(opts.minCharHeight * scale));
  const maxH = Math.ceil(opts.maxCharHeight * scale);
  const places = texturePlaces(work, minH, maxH)
    .sort((a, b) => b.width * b.fill - a.width * a.fill)
    .slice(0, opts.maxPlaces);
  const found: SmallPlateRegion[] = [];
  let textureOnly = 0;
  for (const place of places) {
    const p = { x: place.x / scale, y: place.y / scale, width: place.width / scale, height: place.height / scale };
    if (known.some((k) => contains(k, p)) || found.some((f) => iou(f.box, p) > 0.3 || contains(f.box, p))) continue;
    // The place grown by a character height or so: the bar can be cut short or lie off the characters a little.
    const ch = Math.max(opts.minCharHeight, Math.min(opts.maxCharHeight, p.height));
    const x0 = Math.max(0, Math.floor(p.x - ch * 1.2));
    const y0 = Math.max(0, Math.floor(p.y - ch * 0.8));
    const x1 = Math.min(gray.cols, Math.ceil(p.x + p.width + ch * 1.2));
    const y1 = Math.min(gray.rows, Math.ceil(p.y + p.height + ch * 0.8));
    if (x1 - x0 < 16 || y1 - y0 < 8) continue;
    const roi = gray.getRegion(new cv.Rect(x0, y0, x1 - x0, y1 - y0));
    const lines = findCharLines(roi, {
      minCharHeight: opts.minCharHeight,
      maxCharHeight: Math.min(opts.maxCharHeight, y1 - y0),
      minChars: 4,
      maxChars: 10,
      // A block of one character height: a wider one merges small characters with the plate's edge and each other.
      blockSizes: [odd(ch)],
    });
    const line = lines[0];
    if (!line) {
      // No characters segment there (small characters merge with each other and the plate's edge): the reader,
      // which finds its own rows, may still read it.
      if (textureOnly < opts.textureReads) {
        textureOnly++;
        const box = { x: Math.floor(p.x - ch * 0.3), y: Math.floor(p.y - ch * 0.2), width: Math.ceil(p.width + ch * 0.6), height: Math.ceil(p.height + ch * 0.4) };
        found.push({ box: clip(box, gray), charHeight: ch, polarity: 'dark-on-light', score: 0 });
      }
      continue;
    }
    const box = { x: x0 + line.x, y: y0 + line.y, width: line.w, height: line.h };
    if (known.some((k) => iou(k, box) > 0.3) || found.some((f) => iou(f.box, box) > 0.3)) continue;
    found.push({ box, charHeight: line.charHeight, polarity: line.polarity, score: line.score });
  }
  return found.sort((a, b) => b.score - a.score).slice(0, opts.maxRegions);
}

/** True when `inner`'s centre lies inside `outer`. */
function contains(outer: Box, inner: Box): boolean {
  const cx = inner.x + inner.width / 2;
  const cy = inner.y + inner.height / 2;
  return cx >= outer.x && cx <= outer.x + outer.width && cy >= outer.y && cy <= outer.y + outer.height;
}

function clip(b: Box, img: Mat): Box {
  const x = Math.max(0, b.x);
  const y = Math.max(0, b.y);
  return { x, y, width: Math.min(img.cols, b.x + b.width) - x, height: Math.min(img.rows, b.y + b.height) - y };
}

import { cv, type Mat } from './cv.js';

/** Size of the canvas a glyph is normalised to before its features are taken. */
const CW = 16;
const CH = 24;
export const GLYPH_FEATURES = 8 * 12 + 2 * 3 * 8 + 2;

/**
 * Features of one glyph: a binary image (ink 255 on 0) cropped to the glyph's box. The glyph is scaled to a height
 * of 24 pixels keeping its aspect (a '1' stays thin), centred on a 16x24 canvas; the features are the ink of an
 * 8x12 grid, gradient-orientation histograms (8 bins) over 2x3 cells, the aspect ratio and the ink density.
 */
export function glyphFeatures(ink: Mat): Float32Array {
  const aspect = ink.cols / ink.rows;
  const w = Math.max(1, Math.min(CW, Math.round(CH * aspect)));
  const scaled = ink.resize(CH, w, 0, 0, cv.INTER_AREA);
  const canvas = new cv.Mat(CH, CW, cv.CV_8UC1, 0);
  const x = Math.floor((CW - w) / 2);
  scaled.copyTo(canvas.getRegion(new cv.Rect(x, 0, w, CH)));
  const px = new Uint8Array(canvas.getData());
  const out = new Float32Array(GLYPH_FEATURES);
  let k = 0;
  // Ink of an 8x12 grid of 2x2 cells.
  for (let gy = 0; gy < 12; gy++) {
    for (let gx = 0; gx < 8; gx++) {
      let sum = 0;
      for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) sum += px[(gy * 2 + dy) * CW + gx * 2 + dx]!;
      out[k++] = sum / (4 * 255);
    }
  }
  // Gradient orientation histograms over 2x3 cells of 8x8 pixels.
  const hist = new Float32Array(2 * 3 * 8);
  for (let y = 1; y < CH - 1; y++) {
    for (let xx = 1; xx < CW - 1; xx++) {
      const gx = px[y * CW + xx + 1]! - px[y * CW + xx - 1]!;
      const gy = px[(y + 1) * CW + xx]! - px[(y - 1) * CW + xx]!;
      const mag = Math.hypot(gx, gy);
      if (mag === 0) continue;
      let angle = Math.atan2(gy, gx);
      if (angle < 0) angle += 2 * Math.PI;
      const bin = Math.min(7, Math.floor((angle / (2 * Math.PI)) * 8));
      const cell = Math.min(2, Math.floor(y / 8)) * 2 + Math.min(1, Math.floor(xx / 8));
      hist[cell * 8 + bin]! += mag;
    }
  }
  for (let c = 0; c < 6; c++) {
    let norm = 1e-6;
    for (let b = 0; b < 8; b++) norm += hist[c * 8 + b]! ** 2;
    norm = Math.sqrt(norm);
    for (let b = 0; b < 8; b++) out[k++] = hist[c * 8 + b]! / norm;
  }
  out[k++] = Math.min(2, aspect);
  let inked = 0;
  for (const v of px) inked += v;
  out[k++] = inked / (255 * px.length);
  return out;
}

/** The glyph between columns x0 and x1 of a black-on-white line image, as ink (255) on 0, cropped to its box. */
export function glyphInk(line: Mat, x0: number, x1: number): Mat | undefined {
  const region = line.getRegion(new cv.Rect(x0, 0, Math.max(1, x1 - x0), line.rows)).threshold(127, 255, cv.THRESH_BINARY_INV);
  const points = region.findNonZero();
  if (points.length === 0) return undefined;
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const p of points) {
    if (p.x < minX) minX = p.x;
    if (p.y < minY) minY = p.y;
    if (p.x > maxX) maxX = p.x;
    if (p.y > maxY) maxY = p.y;
  }
  return region.getRegion(new cv.Rect(minX, minY, maxX - minX + 1, maxY - minY + 1));
}

/**
 * The small-plate pass of the plate finder. The main pass searches a scaled-down copy of a large frame (1280 px wide
 * for a 1080p frame, 960 px for one 1280 px wide; Recognizer.searchScale), where a 1080p plate 60-120 px wide has
 * characters 7-13 px tall, too small to segment. This pass looks on that same scaled copy for plate-like texture (a
 * short horizontal bar of dense vertical edges, of a character's height: a Sobel-x map, thresholded and closed along
 * rows) and segments only those places again at full resolution, where the characters are 8-28 px tall. A frame
 * without such texture costs the edge map alone (a few milliseconds on 1280x720).
 *
 * A small US plate shows as one textured face, its state's name, number and slogan together, about twice its
 * characters' height: places up to 2.4 times the largest character height are kept. A plate's bar joined to an
 * edge beside it (a pole, a bumper, a railing) makes one tall or long blob; the bands of rows where that blob is
 * dense are places of their own, ranked at a third of a bar standing alone.
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
  /**
   * Threshold blocks of about half a place's height (fine) instead of one character height (coarse): they segment
   * more small plates, and more of signs' small print in a sharp frame, so they are used where the frame was scaled
   * down (see findSmallPlates).
   */
  fineBlocks: boolean;
}

/**
 * A line's score grows with its characters' height (segment.ts), so in a busy frame a small plate's line of 13 px
 * characters ranks under the lines of a building's windows or a sign's 20 px print: 6 regions, not 4, keep more of
 * them (bench:small-plates, US plates 60 px wide in busy 1080p frames: proposed 83 -> 87%, read 65.5 -> 68%; 90 px and
 * the photos without a plate the same, the gate dismissing the others in about 1 ms each).
 */
export const SMALL_PLATE_DEFAULTS: SmallPlateOptions = { minCharHeight: 8, maxCharHeight: 28, maxPlaces: 24, maxRegions: 6, textureReads: 0, fineBlocks: true };

export interface SmallPlateRegion {
  /** The line of characters, in full-resolution frame coordinates. */
  box: Box;
  charHeight: number;
  /** Unknown for a textured place where no characters segmented. */
  polarity?: Polarity;
  score: number;
  /** A textured place given as it is (no line of characters segmented there). */
  texture?: boolean;
  /** Slope of the line of characters (radians, positive: falling to the right); none for a textured place. */
  angle?: number;
}

/** A place of plate-like texture, in the scaled copy's pixels. */
export interface TexturePlace extends Box {
  /** Share of the place's pixels that are strong vertical edges after closing (0-1). */
  fill: number;
  /** Cut out of a larger textured area (a band of its rows), less plate-like than a bar standing alone. */
  cut?: boolean;
  /**
   * The part of a larger textured area that holds at least half the ink left in its parts a character's height or more
   * once thin edges are opened away: a bar joined to its neighbours by thin lines only, more plate-like than a band
   * cut out, less than a bar standing alone.
   */
  joined?: boolean;
}

/**
 * Narrowest textured place given to the reader where no characters segment, in full-resolution pixels: a plate
 * narrower than this has characters too small to read (an EU plate's 6 px), and the reader's row search costs a
 * detector run and a recognizer run per place.
 */
const MIN_TEXTURE_READ_WIDTH = 40;

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
  const tallest = maxH * 2.4;
  // Narrower than a small plate's bar (a 50 px plate is 25 px wide in a 960 px copy of a 1080p frame).
  const splitW = Math.max(5, Math.round(minH * 2.5));
  const keep = (x: number, y: number, w: number, h: number, fill: number, part?: 'cut' | 'joined') => {
    if (h >= minH && h <= tallest && w >= Math.max(8, 1.5 * h) && w <= 14 * h && fill >= 0.4) places.push({ x, y, width: w, height: h, fill, ...(part ? { [part]: true } : {}) });
  };
  for (const contour of bars.findContours(cv.RETR_EXTERNAL, cv.CHAIN_APPROX_SIMPLE)) {
    const { x, y, width: w, height: h } = contour.boundingRect();
    if (h < minH) continue;
    const area = bars.getRegion(new cv.Rect(x, y, w, h));
    const fill = area.countNonZero() / (w * h);
    if (h <= tallest && fill >= 0.4) {
      keep(x, y, w, h, fill);
      continue;
    }
    // Too tall, or sparse: a plate's bar joined to an edge beside it (a pole, a bumper's edge, a railing, a shirt's
    // stripes, a dark plate's light border) or to sparse texture around it (leaves, twigs: a blob no taller than a
    // place, but mostly empty, which was dropped whole). Runs along a row shorter than a few character heights are
    // dropped (the thin upright edges that join a bar to its neighbours), and each part left is a place if it has a
    // bar's shape, else the bands of its rows where it is dense are.
    const parts = area.morphologyEx(cv.getStructuringElement(cv.MORPH_RECT, new cv.Size(splitW, 1)), cv.MORPH_OPEN);
    const tall = parts
      .findContours(cv.RETR_EXTERNAL, cv.CHAIN_APPROX_SIMPLE)
      .map((part) => part.boundingRect())
      .filter((r) => r.height >= minH)
      .map((r) => ({ r, ink: parts.getRegion(r).countNonZero() }));
    const ink = tall.reduce((sum, p) => sum + p.ink, 0);
    for (const { r, ink: subInk } of tall) {
      const sub = parts.getRegion(r);
      const subFill = subInk / (r.width * r.height);
      if (r.height <= tallest && r.width <= 14 * r.height && subFill >= 0.4) {
        // A part holding at least half the ink of the parts a character's height or more is a bar joined by thin
        // lines only (a dark plate's light border, a pole or a building's edge beside it); the others are cut out
        // of a larger textured area.
        keep(x + r.x, y + r.y, r.width, r.height, subFill, subInk >= ink * 0.5 ? 'joined' : 'cut');
        continue;
      }
      for (const band of denseBands(sub, minH, tallest)) keep(x + r.x + band.x, y + r.y + band.y, band.width, band.height, band.fill, 'cut');
    }
  }
  return places;
}

/**
 * Bands of rows of a binary map where at least half of each row is set, `minH`-`maxH` rows tall, each trimmed to
 * the columns at least 30% set within it.
 */
function denseBands(area: Mat, minH: number, maxH: number): TexturePlace[] {
  const rows = area.reduce(1, cv.REDUCE_SUM, cv.CV_32S).getDataAsArray().map((r) => r[0]! / 255 / area.cols);
  const bands: TexturePlace[] = [];
  let start = -1;
  for (let i = 0; i <= rows.length; i++) {
    const dense = i < rows.length && rows[i]! >= 0.5;
    if (dense && start < 0) start = i;
    if (dense || start < 0) continue;
    const h = i - start;
    if (h >= minH && h <= maxH) {
      const band = area.getRegion(new cv.Rect(0, start, area.cols, h));
      const cols = band.reduce(0, cv.REDUCE_SUM, cv.CV_32S).getDataAsArray()[0]!.map((v) => v / 255 / h);
      let a = 0;
      while (a < cols.length && cols[a]! < 0.3) a++;
      let b = cols.length - 1;
      while (b > a && cols[b]! < 0.3) b--;
      const w = b - a + 1;
      bands.push({ x: a, y: start, width: w, height: h, fill: band.getRegion(new cv.Rect(a, 0, w, h)).countNonZero() / (w * h) });
    }
    start = -1;
  }
  return bands;
}

/**
 * How plate-like a textured place's shape looks: its width times its density, and a third of that for a band cut out
 * of a larger textured area (most such bands are a fence's or a grille's rows; a plate joined to an edge beside it is
 * one too, and putting every band after every bar left it past maxPlaces in a busy frame). A bar joined to its
 * neighbours by thin lines only ranks at half: ranked as a band, a dark plate's characters joined to its light border
 * and to a building's edge behind it were past the 72 places measured in a frame of 161 (bench:small-plates, US plates
 * 60 px wide: read 69 -> 71.5%, 5 more of 200, at 90-160 px the same; ranked as a bar standing alone, the car's own
 * joined bars put 5 of the EU and Brazilian plates 60-90 px wide past maxPlaces, at half 1).
 */
function shapeRank(p: TexturePlace): number {
  return p.width * p.fill * (p.cut ? 0.3 : p.joined ? 0.5 : 1);
}

/**
 * The places segmented: the best by shape, then by shape times the square root of the spread of their grey levels
 * in the searched copy (its standard deviation). A plate's characters are dark on a light face (or light on dark),
 * so its place spans much of the grey scale, where foliage, gravel, brickwork or a fabric's weave, as densely edged,
 * mostly keeps to mid-tones (bench:small-plates' busy 1080p frames: the spread of a US plate's place 60 px wide
 * 37-63 from its 10th to 90th percentile, of the other places 16-52). The root, not the spread itself: a grey or
 * dirty plate has less (Brazil's 24-64), and ranked by the spread itself 7 of 114 Brazilian plates 60 px wide were
 * lost where US ones 60 px wide gained 6 of 200; by its root, none lost in any set, US 60-90 px 1-2 of 200 more read
 * (docs/benchmarks.md). The spread is measured for the best by shape only, three times as many as are kept.
 */
function rankPlaces(work: Mat, places: TexturePlace[], keep: number): TexturePlace[] {
  return places
    .sort((a, b) => shapeRank(b) - shapeRank(a))
    .slice(0, keep * 3)
    .map((p) => ({ p, rank: shapeRank(p) * Math.sqrt(work.getRegion(new cv.Rect(p.x, p.y, p.width, p.height)).meanStdDev().stddev.at(0, 0)) }))
    .sort((a, b) => b.rank - a.rank)
    .slice(0, keep)
    .map(({ p }) => p);
}

/**
 * A region found already (frame coordinates), with the height of the characters seen in it.
 */
export interface KnownRegion {
  box: Box;
  charHeight: number;
}

/**
 * Lines of small characters at full resolution, where the scaled copy `work` (the frame times `scale`, at most 1)
 * shows plate-like texture. Places already covered by `known` regions (frame coordinates) are skipped, unless the
 * region is far taller than the place or its characters are (see below).
 */
export function findSmallPlates(
  gray: Mat,
  work: Mat,
  scale: number,
  known: KnownRegion[],
  opts: SmallPlateOptions = SMALL_PLATE_DEFAULTS,
): SmallPlateRegion[] {
  if (scale > 1) return [];
  const minH = Math.max(2, Math.floor(opts.minCharHeight * scale));
  const maxH = Math.ceil(opts.maxCharHeight * scale);
  const places = rankPlaces(work, texturePlaces(work, minH, maxH), opts.maxPlaces);
  const found: SmallPlateRegion[] = [];
  let textureOnly = 0;
  for (const place of places) {
    const p = { x: place.x / scale, y: place.y / scale, width: place.width / scale, height: place.height / scale };
    // A known region holding the place is that place read already, unless it is far taller or its "characters"
    // are: a region the main pass made of a car's grille, a building or a shop front, whose characters are taller
    // than the whole place, did not see the small characters there (a US plate 90 px wide in a 1080p frame, its
    // place the texture map's first, lay in a region 189 px tall of 170 px "characters" that read nothing).
    const holds = (k: KnownRegion) => contains(k.box, p) && k.box.height <= 4 * p.height && k.charHeight <= 1.5 * p.height;
    if (known.some(holds) || found.some((f) => iou(f.box, p) > 0.3 || contains(f.box, p))) continue;
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
      // Fine blocks, about half the place's height: a place is a character's height or more (up to a US plate's
      // whole face, about twice that, or more where the bar is joined to an edge beside it), and a block as large
      // as a character merges small characters with each other, the plate's edge and a dark background around the
      // plate (bench:small-plates' 1080 frames: 809 plates proposed, against 765 with the coarse blocks). Coarse
      // blocks: one character height, and for a place as tall as a US plate's whole face half its height too.
      blockSizes: opts.fineBlocks ? [odd(ch * 0.6), odd(ch * 0.4)] : p.height > 1.6 * opts.minCharHeight ? [odd(ch), odd(p.height * 0.55)] : [odd(ch)],
    });
    const line = lines[0];
    if (!line) {
      // No characters segment there (small characters merge with each other and the plate's edge): the reader,
      // which finds its own rows, may still read it.
      if (textureOnly < opts.textureReads && p.width >= MIN_TEXTURE_READ_WIDTH) {
        textureOnly++;
        const box = { x: Math.floor(p.x - ch * 0.3), y: Math.floor(p.y - ch * 0.2), width: Math.ceil(p.width + ch * 0.6), height: Math.ceil(p.height + ch * 0.4) };
        found.push({ box: clip(box, gray), charHeight: ch, score: 0, texture: true });
      }
      continue;
    }
    const box = { x: x0 + line.x, y: y0 + line.y, width: line.w, height: line.h };
    if (known.some((k) => iou(k.box, box) > 0.3) || found.some((f) => iou(f.box, box) > 0.3)) continue;
    found.push({ box, charHeight: line.charHeight, polarity: line.polarity, angle: line.angle, score: line.score });
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

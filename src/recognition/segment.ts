import { cv, type Mat } from './cv.js';

/**
 * Character segmentation: plates are rows of characters of one height. Connected components of a binarised image
 * that look like characters are grouped into lines; a line of 2-10 characters is a plate candidate. The same code
 * finds plates in a whole frame and isolates the characters inside a plate crop, dropping borders, bolts,
 * stickers, state names and slogans before OCR sees the image.
 */

export type Polarity = 'dark-on-light' | 'light-on-dark';

export interface CharBlob {
  x: number;
  y: number;
  w: number;
  h: number;
  area: number;
  label: number;
}

export interface CharLine {
  blobs: CharBlob[];
  polarity: Polarity;
  /** Label image the blobs' labels refer to (CV_32S), same size as the binarised image; built when first asked for. */
  labels: () => Mat;
  x: number;
  y: number;
  w: number;
  h: number;
  /** Median character height in pixels. */
  charHeight: number;
  /** Slope of the line through the characters' bases, radians (positive: rising to the right in image coords down). */
  angle: number;
  score: number;
}

export interface SegmentOptions {
  minCharHeight: number;
  maxCharHeight: number;
  /** Fewest characters a line must have. */
  minChars: number;
  maxChars: number;
  /** Odd block sizes for the adaptive threshold; 0 means Otsu's global threshold. */
  blockSizes: number[];
  /** Segment the best lines again inside their own band (plate crops and candidate regions; costs a little). */
  band?: boolean;
  polarities?: Polarity[];
}

const ALL_POLARITIES: Polarity[] = ['dark-on-light', 'light-on-dark'];

export function binarize(gray: Mat, polarity: Polarity, blockSize: number): Mat {
  const type = polarity === 'dark-on-light' ? cv.THRESH_BINARY_INV : cv.THRESH_BINARY;
  if (blockSize === 0) return gray.threshold(0, 255, type + cv.THRESH_OTSU);
  // Characters must differ from their surroundings by a few grey levels, whatever the polarity.
  const c = polarity === 'dark-on-light' ? 7 : -7;
  return gray.adaptiveThreshold(255, cv.ADAPTIVE_THRESH_MEAN_C, type, blockSize, c);
}

/** The 4-connected components of a binary image (components). */
export interface Components {
  /** Components + 1: labels run from 1; 0 is the background. */
  count: number;
  /** Per label: the bounding box (first and last column and row) and the pixel count. */
  x0: Int32Array;
  y0: Int32Array;
  x1: Int32Array;
  y1: Int32Array;
  area: Int32Array;
  /** The label image (CV_32S, the binary image's size), built when first asked for (only the tesseract path draws glyphs from it). */
  labels: () => Mat;
}

/**
 * The 4-connected components of a binary image, with each one's bounding box and pixel count (what OpenCV's
 * connectedComponentsWithStats gives), labelled run by run: each row's runs of set pixels are joined to the runs of
 * the row above that share a column with them (a union-find over runs), and labels are numbered in the order their
 * first pixel comes in a raster scan. OpenCV's labelling with statistics takes 7.5 ms for a 960x960 image on one
 * core, its labelling alone 2.6 ms; this takes about 3.3. The label image is only built where it is drawn from.
 */
export function components(binary: Mat): Components {
  const W = binary.cols;
  const H = binary.rows;
  let data = binary.getData();
  if (data.length !== W * H) data = binary.copy().getData();
  // Four pixels at a time where they are all clear or all set (most of a binary image is long runs of either).
  if (data.byteOffset % 4 !== 0) data = Buffer.from(data);
  const words = new Uint32Array(data.buffer, data.byteOffset, data.length >> 2);
  // About one run per 20 pixels in a thresholded photo: room for most images without growing.
  let cap = Math.max(1024, (W * H) >> 4);
  let start = new Int32Array(cap), end = new Int32Array(cap), row = new Int32Array(cap), parent = new Int32Array(cap);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  let n = 0;
  let prevFirst = 0;
  let prevEnd = 0;
  for (let y = 0, off = 0; y < H; y++, off += W) {
    const first = n;
    let p = prevFirst;
    let x = 0;
    while (x < W) {
      if (data[off + x] === 0) {
        x++;
        while (x < W && ((off + x) & 3) !== 0 && data[off + x] === 0) x++;
        while (x + 4 <= W && words[(off + x) >> 2] === 0) x += 4;
        continue;
      }
      let e = x + 1;
      while (e < W && ((off + e) & 3) !== 0 && data[off + e] !== 0) e++;
      while (e + 4 <= W && ((off + e) & 3) === 0 && words[(off + e) >> 2] === 0xffffffff) e += 4;
      while (e < W && data[off + e] !== 0) e++;
      if (n === cap) {
        cap *= 2;
        const grow = (a: Int32Array) => {
          const b = new Int32Array(cap);
          b.set(a);
          return b;
        };
        [start, end, row, parent] = [grow(start), grow(end), grow(row), grow(parent)];
      }
      start[n] = x;
      end[n] = e;
      row[n] = y;
      parent[n] = n;
      // the runs of the row above that share a column with this one (4-connectivity): one component, whose root is
      // its first run in raster order
      while (p < prevEnd && end[p]! <= x) p++;
      for (let q = p; q < prevEnd && start[q]! < e; q++) {
        const a = find(q);
        const b = find(n);
        if (a < b) parent[b] = a;
        else if (b < a) parent[a] = b;
      }
      n++;
      x = e;
    }
    prevFirst = first;
    prevEnd = n;
  }
  const id = new Int32Array(n);
  let count = 1;
  for (let i = 0; i < n; i++) {
    const r = find(i);
    id[i] = r === i ? count++ : id[r]!;
  }
  const x0 = new Int32Array(count), y0 = new Int32Array(count), x1 = new Int32Array(count), y1 = new Int32Array(count), area = new Int32Array(count);
  for (let i = 0; i < n; i++) {
    const k = id[i]!;
    const s = start[i]!, e = end[i]!;
    if (area[k] === 0) {
      x0[k] = s;
      x1[k] = e - 1;
      y0[k] = row[i]!;
    } else {
      if (s < x0[k]!) x0[k] = s;
      if (e - 1 > x1[k]!) x1[k] = e - 1;
    }
    y1[k] = row[i]!;
    area[k]! += e - s;
  }
  let image: Mat | undefined;
  const labels = (): Mat => {
    if (!image) {
      const lab = new Int32Array(W * H);
      for (let i = 0; i < n; i++) lab.fill(id[i]!, row[i]! * W + start[i]!, row[i]! * W + end[i]!);
      image = new cv.Mat(Buffer.from(lab.buffer), H, W, cv.CV_32S);
    }
    return image;
  };
  return { count, x0, y0, x1, y1, area, labels };
}

/** Components of a binary image that have a character's size, shape and fill. */
export function charBlobs(binary: Mat, minH: number, maxH: number): { blobs: CharBlob[]; labels: () => Mat } {
  const c = components(binary);
  const { labels } = c;
  const blobs: CharBlob[] = [];
  for (let label = 1; label < c.count; label++) {
    const x = c.x0[label]!, y = c.y0[label]!, w = c.x1[label]! - x + 1, h = c.y1[label]! - y + 1, area = c.area[label]!;
    if (h < minH || h > maxH) continue;
    const aspect = w / h;
    if (aspect < 0.08 || aspect > 1.25) continue;
    const fill = area / (w * h);
    if (fill < 0.15 || fill > (aspect < 0.35 ? 1.0 : 0.92)) continue;
    blobs.push({ x, y, w, h, area, label });
  }
  return { blobs, labels };
}

/** Groups character blobs into lines: neighbours of similar height, aligned, with small gaps. */
export function groupLines(blobs: CharBlob[], minChars: number, maxChars: number): CharBlob[][] {
  const sorted = [...blobs].sort((a, b) => a.x - b.x);
  const parent = sorted.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  for (let i = 0; i < sorted.length; i++) {
    const a = sorted[i]!;
    const reach = a.x + a.w + 1.6 * a.h;
    // Each blob joins its nearest compatible right-hand neighbour only, so lines do not bridge across rows.
    let best = -1;
    let bestGap = Infinity;
    for (let j = i + 1; j < sorted.length; j++) {
      const b = sorted[j]!;
      if (b.x > reach) break;
      const hi = Math.max(a.h, b.h);
      const lo = Math.min(a.h, b.h);
      if (hi / lo > 1.3) continue;
      const dy = Math.abs(a.y + a.h / 2 - (b.y + b.h / 2));
      if (dy > 0.3 * hi) continue;
      const gap = b.x - (a.x + a.w);
      if (gap < -0.25 * Math.min(a.w, b.w)) continue;
      if (gap < bestGap) {
        bestGap = gap;
        best = j;
      }
    }
    if (best >= 0) parent[find(best)] = find(i);
  }
  const groups = new Map<number, CharBlob[]>();
  sorted.forEach((b, i) => {
    const root = find(i);
    const g = groups.get(root);
    if (g) g.push(b);
    else groups.set(root, [b]);
  });
  return [...groups.values()]
    .map(dropContained)
    .filter((g) => g.length >= minChars && g.length <= maxChars);
}

function dropContained(group: CharBlob[]): CharBlob[] {
  return group.filter(
    (b) =>
      !group.some(
        (o) => o !== b && o.x <= b.x && o.y <= b.y && o.x + o.w >= b.x + b.w && o.y + o.h >= b.y + b.h && o.area > b.area,
      ),
  );
}

export function describeLine(blobs: CharBlob[], polarity: Polarity, labels: () => Mat): CharLine {
  const x0 = Math.min(...blobs.map((b) => b.x));
  const y0 = Math.min(...blobs.map((b) => b.y));
  const x1 = Math.max(...blobs.map((b) => b.x + b.w));
  const y1 = Math.max(...blobs.map((b) => b.y + b.h));
  const heights = blobs.map((b) => b.h).sort((a, b) => a - b);
  const charHeight = heights[Math.floor(heights.length / 2)]!;
  const angle = Math.atan(bottomLine(blobs).slope);
  const spread = heights[heights.length - 1]! / Math.max(1, heights[0]!);
  const n = blobs.length;
  // Plates have 4-8 characters of one height; more or fewer is less likely a plate.
  const countScore = n >= 4 && n <= 8 ? 1 : n === 3 || n === 9 ? 0.6 : 0.3;
  const score = countScore * (1.5 - Math.min(0.5, spread - 1)) * Math.sqrt(charHeight) * Math.min(n, 8);
  return { blobs, polarity, labels, x: x0, y: y0, w: x1 - x0, h: y1 - y0, charHeight, angle, score };
}

/**
 * Joins groups of the same row that a wide gap split: a plate's halves around a seal, a flag, an emblem or a
 * dash ("DZ = 1555", "RK · 857 · AI"). Only groups of two or more characters join, so a bolt or a sticker
 * beside a plate stays out.
 */
function mergeAcrossGaps(groups: CharBlob[][], maxChars: number): CharBlob[][] {
  const boxes = groups.map((g) => {
    const x0 = Math.min(...g.map((b) => b.x));
    const x1 = Math.max(...g.map((b) => b.x + b.w));
    const y0 = Math.min(...g.map((b) => b.y));
    const y1 = Math.max(...g.map((b) => b.y + b.h));
    const hs = g.map((b) => b.h).sort((a, b) => a - b);
    return { g, x0, x1, cy: (y0 + y1) / 2, h: hs[Math.floor(hs.length / 2)]!, ...bottomLine(g) };
  });
  boxes.sort((a, b) => a.x0 - b.x0);
  const out: typeof boxes = [];
  // The left half that a group joins is the nearest one on its line, not merely the last group before it from
  // left to right: in a busy frame that is mostly another row's (a sign's, a window's) at the same x.
  const joins = (prev: (typeof boxes)[number], box: (typeof boxes)[number]) => {
    const h = Math.max(prev.h, box.h);
    return (
      h / Math.min(prev.h, box.h) < 1.2 &&
      // level, or both halves tilted alike with the right one on the left one's line (a tilted plate)
      (Math.abs(prev.cy - box.cy) < 0.25 * h ||
        (Math.abs(prev.slope - box.slope) < MAX_SLOPE_DIFFERENCE &&
          Math.abs(prev.slope) < MAX_TILT_SLOPE &&
          Math.abs(prev.my + prev.slope * (box.mx - prev.mx) - box.my) < 0.25 * h)) &&
      box.x0 - prev.x1 > 0 &&
      box.x0 - prev.x1 < 3 * h &&
      prev.g.length + box.g.length <= maxChars
    );
  };
  const halves: typeof boxes = [];
  for (const box of boxes) {
    let prev: (typeof boxes)[number] | undefined;
    if (box.g.length >= 2) {
      for (const o of halves) if (joins(o, box) && (!prev || o.x1 > prev.x1)) prev = o;
    }
    if (prev) {
      prev.g = [...prev.g, ...box.g];
      prev.x1 = box.x1;
      Object.assign(prev, bottomLine(prev.g));
      continue;
    }
    const kept = { ...box };
    out.push(kept);
    if (kept.g.length >= 2) halves.push(kept);
  }
  return out.map((o) => o.g);
}

/** Two halves of a tilted line join when their slopes differ by less than this (about 6 degrees)... */
const MAX_SLOPE_DIFFERENCE = 0.1;
/** ...and the line is tilted less than about 20 degrees. */
const MAX_TILT_SLOPE = 0.36;

/** Least-squares line through the bottom centres of a group's characters: slope and the centre it passes through. */
function bottomLine(g: CharBlob[]): { slope: number; mx: number; my: number } {
  const xs = g.map((b) => b.x + b.w / 2);
  const ys = g.map((b) => b.y + b.h);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  xs.forEach((x, i) => {
    num += (x - mx) * (ys[i]! - my);
    den += (x - mx) ** 2;
  });
  return { slope: den > 0 ? num / den : 0, mx, my };
}

/** Every plausible line of characters in a grey image, best first. */
export function findCharLines(gray: Mat, opts: SegmentOptions): CharLine[] {
  const lines: CharLine[] = [];
  for (const polarity of opts.polarities ?? ALL_POLARITIES) {
    for (const blockSize of opts.blockSizes) {
      const binary = binarize(gray, polarity, blockSize);
      const { blobs, labels } = charBlobs(binary, opts.minCharHeight, opts.maxCharHeight);
      const groups = mergeAcrossGaps(groupLines(blobs, 1, opts.maxChars), opts.maxChars);
      const found: CharLine[] = [];
      for (const group of groups) {
        if (group.length >= opts.minChars) found.push(describeLine(group, polarity, labels));
      }
      if (opts.band) {
        found.sort((a, b) => b.score - a.score);
        for (const [i, line] of found.slice(0, 2).entries()) found[i] = withinBand(binary, line, opts) ?? line;
      }
      lines.push(...found);
    }
  }
  return lines.sort((a, b) => b.score - a.score);
}

/**
 * The line segmented again inside its own horizontal band: a character joined to something above or below it (a
 * sticker, a bolt, the state's name, the plate's edge) separates from it when the band cuts the join. Returns a
 * line with more characters than the original, or undefined.
 */
function withinBand(binary: Mat, line: CharLine, opts: SegmentOptions): CharLine | undefined {
  const drift = Math.abs(Math.tan(line.angle)) * line.w;
  const y0 = Math.max(0, Math.floor(line.y - 0.06 * line.charHeight - drift / 2));
  const y1 = Math.min(binary.rows, Math.ceil(line.y + line.h + 0.06 * line.charHeight + drift / 2));
  const mask = new cv.Mat(binary.rows, binary.cols, cv.CV_8UC1, 0);
  mask.getRegion(new cv.Rect(0, y0, binary.cols, y1 - y0)).setTo(255);
  const band = binary.bitwiseAnd(mask);
  const { blobs, labels } = charBlobs(band, Math.round(line.charHeight * 0.7), Math.min(opts.maxCharHeight, y1 - y0));
  // Solid blocks (a colour strip, a sticker cut by the band) are not characters.
  // Something cut at both edges of the band (a border, a frame's edge) is not a character either.
  const glyphLike = blobs.filter(
    (b) => (b.w < 0.3 * b.h || b.area / (b.w * b.h) < 0.75) && !(b.y <= y0 && b.y + b.h >= y1),
  );
  const covers = (group: CharBlob[], b: CharBlob) => group.some((g) => g.x < b.x + b.w && g.x + g.w > b.x);
  let best: CharBlob[] | undefined;
  for (const group of mergeAcrossGaps(groupLines(glyphLike, 1, opts.maxChars), opts.maxChars)) {
    // Keep every character the line had; add at most two.
    if (!line.blobs.every((b) => covers(group, b))) continue;
    if (group.length > line.blobs.length + 2) continue;
    if (group.length > (best?.length ?? line.blobs.length)) best = group;
  }
  return best ? describeLine(best, line.polarity, labels) : undefined;
}

export interface RenderedLine {
  image: Mat;
  /** Horizontal span of each glyph in `image`, left to right. */
  glyphs: { x0: number; x1: number }[];
}

/** Narrowest and widest gap between glyphs in the OCR image, in character heights. */
const GAP_MIN = 0.12;
const GAP_MAX = 0.45;

/**
 * The line's characters alone, as black glyphs on white, scaled to `charHeight` pixels, set on one straight
 * baseline, with the printed spacing clamped (a wide gap shrinks, touching glyphs part): the image OCR reads best.
 * Borders, bolts, stickers and small text are gone; bounded gaps keep the LSTM from reading a wide gap or a wide
 * glyph as two characters.
 */
export function renderLine(line: CharLine, charHeight = 40): RenderedLine {
  const labels = line.labels();
  const scale = charHeight / line.charHeight;
  const blobs = [...line.blobs].sort((a, b) => a.x - b.x);
  const slope = Math.tan(line.angle);
  const mx = blobs.reduce((sum, b) => sum + b.x + b.w / 2, 0) / blobs.length;
  const my = blobs.reduce((sum, b) => sum + b.y + b.h, 0) / blobs.length;
  const gap = Math.round(charHeight * 0.25);
  const margin = Math.round(charHeight * 0.6);
  const glyphs: { x0: number; x1: number }[] = [];
  const placed: { glyph: Mat; x: number; y: number }[] = [];
  let x = margin;
  let minTop = Infinity;
  let maxBottom = -Infinity;
  for (const b of blobs) {
    const lab = new Int32Array(labels.getRegion(new cv.Rect(b.x, b.y, b.w, b.h)).copy().getData().buffer.slice(0));
    const mask = Buffer.alloc(b.w * b.h, 0);
    for (let i = 0; i < lab.length; i++) if (lab[i] === b.label) mask[i] = 255;
    const gw = Math.max(1, Math.round(b.w * scale));
    const gh = Math.max(1, Math.round(b.h * scale));
    const glyph = new cv.Mat(mask, b.h, b.w, cv.CV_8UC1)
      .resize(gh, gw, 0, 0, scale < 1 ? cv.INTER_AREA : cv.INTER_LINEAR)
      .threshold(127, 255, cv.THRESH_BINARY);
    // Distance of this glyph's bottom from the fitted baseline, kept so that descending or raised glyphs stay so.
    const offset = (b.y + b.h - (my + slope * (b.x + b.w / 2 - mx))) * scale;
    const bottom = offset;
    placed.push({ glyph, x, y: bottom - gh });
    minTop = Math.min(minTop, bottom - gh);
    maxBottom = Math.max(maxBottom, bottom);
    glyphs.push({ x0: x, x1: x + gw });
    // The printed spacing, clamped: a wide gap (a dash, a seal, an emblem) shrinks, touching glyphs are parted.
    const next = blobs[blobs.indexOf(b) + 1];
    const printed = next ? (next.x - (b.x + b.w)) * scale : gap;
    x += gw + Math.round(Math.min(GAP_MAX * charHeight, Math.max(GAP_MIN * charHeight, printed)));
  }
  const vpad = Math.round(charHeight * 0.35);
  const width = Math.max(1, x + margin);
  const height = Math.max(1, Math.ceil(maxBottom - minTop) + 2 * vpad);
  const ink = new cv.Mat(height, width, cv.CV_8UC1, 0);
  for (const p of placed) {
    const top = Math.round(p.y - minTop) + vpad;
    const rows = Math.min(p.glyph.rows, height - top);
    if (rows <= 0) continue;
    const dst = ink.getRegion(new cv.Rect(p.x, top, p.glyph.cols, rows));
    const src = p.glyph.getRegion(new cv.Rect(0, 0, p.glyph.cols, rows));
    src.copyTo(dst, src);
  }
  return { image: ink.bitwiseNot(), glyphs };
}

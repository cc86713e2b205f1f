/**
 * Generates the synthetic test images under test-fixtures/ (no downloads, no real photographs):
 *   plates/  whole frames (960x540, two at 1920x1080) with one or two licence plates composited on a drawn scene;
 *   crops/   tight plate crops for OCR-only tests;
 *   empty/   frames with no plate at all;
 *   bad/     broken inputs (0 bytes, text, truncated JPEG, 1x1 PNG);
 *   manifest.json  ground truth: [{ file, country, plates: [{ text, box }], conditions }].
 * Plate glyphs are rendered with ImageMagick's `convert` (text only); everything else is drawn and composited with
 * OpenCV. A seeded PRNG makes the output deterministic. Usage: npm run fixtures (after npm run build).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cv, type Mat } from '../src/recognition/cv.js';
import { scriptArgs } from './script-args.js';
import { mulberry32 } from './seeded-random.js';

// no options: --help prints the comment above; anything else is refused before test-fixtures/ is touched
scriptArgs(import.meta.url, { options: {} });

type Country = 'us' | 'eu' | 'br';
type BGR = [number, number, number];
interface Pt {
  x: number;
  y: number;
}
interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}
interface ManifestEntry {
  file: string;
  country: Country;
  plates: { text: string; box: Box }[];
  conditions: string[];
}

// ---------------------------------------------------------------------------------------------------------------
// Paths, PRNG, fonts

function findRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'tsconfig.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

const ROOT = path.join(findRoot(), 'test-fixtures');


class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  range(a: number, b: number): number {
    return a + (b - a) * this.next();
  }
  int(a: number, b: number): number {
    return Math.floor(this.range(a, b + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  gauss(): number {
    const u = Math.max(this.next(), 1e-12);
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

function font(...candidates: string[]): string {
  const found = candidates.find((f) => existsSync(f));
  if (!found) throw new Error(`none of these fonts is installed: ${candidates.join(', ')}`);
  return found;
}

const TT = '/usr/share/fonts/truetype';
const OT = '/usr/share/fonts/opentype';
const FONTS = {
  condBold: font(`${TT}/dejavu/DejaVuSansCondensed-Bold.ttf`, `${TT}/liberation/LiberationSansNarrow-Bold.ttf`),
  narrowBold: font(`${TT}/liberation/LiberationSansNarrow-Bold.ttf`, `${TT}/dejavu/DejaVuSansCondensed-Bold.ttf`),
  nimbusNarrow: font(`${OT}/urw-base35/NimbusSansNarrow-Bold.otf`, `${TT}/liberation/LiberationSansNarrow-Bold.ttf`),
  bebas: font(`${OT}/bebas-neue/BebasNeue-Bold.otf`, `${TT}/dejavu/DejaVuSansCondensed-Bold.ttf`),
  sansBold: font(`${TT}/liberation/LiberationSans-Bold.ttf`, `${TT}/dejavu/DejaVuSans-Bold.ttf`),
  serifItalic: font(`${TT}/dejavu/DejaVuSerifCondensed-BoldItalic.ttf`, `${TT}/dejavu/DejaVuSerif-Bold.ttf`),
  sans: font(`${TT}/dejavu/DejaVuSansCondensed.ttf`, `${TT}/liberation/LiberationSans-Regular.ttf`),
};

// ---------------------------------------------------------------------------------------------------------------
// Small OpenCV helpers

const vec = (c: BGR) => new cv.Vec3(c[0], c[1], c[2]);
const pt = (x: number, y: number) => new cv.Point2(Math.round(x), Math.round(y));
const clampByte = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

function fillRect(m: Mat, x0: number, y0: number, x1: number, y1: number, c: BGR): void {
  m.drawRectangle(pt(x0, y0), pt(x1, y1), vec(c), -1, cv.LINE_AA);
}

function fillPoly(m: Mat, pts: [number, number][], c: BGR): void {
  m.drawFillPoly([pts.map(([x, y]) => pt(x, y))], vec(c), cv.LINE_AA);
}

const glyphCache = new Map<string, Mat>();

/** Text rendered black on white by ImageMagick, trimmed to the ink; 1-channel. */
function renderGlyphs(text: string, fontFile: string, pointsize = 160): Mat {
  const key = `${fontFile}|${pointsize}|${text}`;
  let m = glyphCache.get(key);
  if (!m) {
    const png = execFileSync(
      'convert',
      ['-background', 'white', '-fill', 'black', '-font', fontFile, '-pointsize', String(pointsize),
        `label:${text}`, '-trim', '+repage', 'png:-'],
      { maxBuffer: 64 << 20 },
    );
    m = cv.imdecode(png, cv.IMREAD_GRAYSCALE);
    glyphCache.set(key, m);
  }
  return m;
}

/** Alpha-blends a glyph image (0 = full ink) onto a BGR Mat at (x0, y0) in `color`. Returns a new Mat. */
function blendGlyph(dst: Mat, glyph: Mat, x0: number, y0: number, color: BGR): Mat {
  const W = dst.cols;
  const H = dst.rows;
  const d = Buffer.from(dst.getData());
  const g = glyph.getData();
  const gw = glyph.cols;
  for (let y = 0; y < glyph.rows; y++) {
    const Y = y0 + y;
    if (Y < 0 || Y >= H) continue;
    for (let x = 0; x < gw; x++) {
      const X = x0 + x;
      if (X < 0 || X >= W) continue;
      const a = 1 - g[y * gw + x]! / 255;
      if (a <= 0) continue;
      const i = (Y * W + X) * 3;
      d[i] = clampByte(d[i]! * (1 - a) + color[0] * a);
      d[i + 1] = clampByte(d[i + 1]! * (1 - a) + color[1] * a);
      d[i + 2] = clampByte(d[i + 2]! * (1 - a) + color[2] * a);
    }
  }
  return new cv.Mat(d, H, W, cv.CV_8UC3);
}

/**
 * Draws `text` centred in the box. The text is scaled to the box height; when too wide it is squeezed
 * horizontally (down to `maxSquash`), then shrunk as a whole.
 */
function stampText(
  dst: Mat,
  text: string,
  fontFile: string,
  box: { x: number; y: number; w: number; h: number },
  color: BGR,
  maxSquash = 0.62,
): Mat {
  const g = renderGlyphs(text, fontFile);
  let th = box.h;
  let tw = (g.cols * th) / g.rows;
  if (tw > box.w) {
    const squash = Math.max(maxSquash, box.w / tw);
    tw *= squash;
    if (tw > box.w) {
      th *= box.w / tw;
      tw = box.w;
    }
  }
  const w = Math.max(1, Math.round(tw));
  const h = Math.max(1, Math.round(th));
  const scaled = g.resize(h, w, 0, 0, cv.INTER_AREA);
  return blendGlyph(dst, scaled, Math.round(box.x + (box.w - w) / 2), Math.round(box.y + (box.h - h) / 2), color);
}

// ---------------------------------------------------------------------------------------------------------------
// Plates

type PlateKind = 'us' | 'eu' | 'br' | 'mercosur';

interface PlateStyle {
  kind: PlateKind;
  /** as printed on the plate (may hold a space or a dash); the manifest stores it normalized */
  display: string;
  font: string;
  bg: BGR;
  ink: BGR;
  /** US state, BR city line, EU country code */
  region: string;
  regionInk?: BGR;
  regionFont?: string;
  regionBottom?: boolean;
  /** small second line on US plates */
  slogan?: string;
}

const DESIGN_W = 600;
const ASPECT: Record<PlateKind, number> = { us: 2, eu: 520 / 110, br: 400 / 130, mercosur: 400 / 130 };
/** car width / plate width */
const CAR_PER_PLATE: Record<PlateKind, number> = { us: 2.8, eu: 2.1, br: 2.6, mercosur: 2.6 };
const EU_BLUE: BGR = [153, 51, 0];
const MERCOSUR_BLUE: BGR = [150, 62, 18];

function renderPlate(s: PlateStyle): Mat {
  const W = DESIGN_W;
  const H = Math.round(W / ASPECT[s.kind]);
  let m = new cv.Mat(H, W, cv.CV_8UC3, [...s.bg]);
  const rim = s.kind === 'eu' ? 4 : 8;
  const borderT = s.kind === 'eu' ? 4 : 6;
  const borderC: BGR = [35, 35, 35];
  m.drawRectangle(pt(rim, rim), pt(W - 1 - rim, H - 1 - rim), vec(borderC), borderT, cv.LINE_AA);
  const inner = rim + borderT;

  if (s.kind === 'us') {
    for (const hx of [0.14, 0.86]) {
      for (const hy of [0.13, 0.87]) m.drawCircle(pt(W * hx, H * hy), 7, vec([150, 150, 150]), -1, cv.LINE_AA);
    }
    const regionBox = s.regionBottom
      ? { x: W * 0.2, y: H * 0.8, w: W * 0.6, h: H * 0.1 }
      : { x: W * 0.22, y: H * 0.08, w: W * 0.56, h: H * 0.14 };
    m = stampText(m, s.region, s.regionFont ?? FONTS.sansBold, regionBox, s.regionInk ?? s.ink, 0.8);
    if (s.slogan && !s.regionBottom) {
      m = stampText(m, s.slogan, FONTS.sans, { x: W * 0.3, y: H * 0.83, w: W * 0.4, h: H * 0.07 }, s.regionInk ?? s.ink, 0.9);
    }
    const top = s.regionBottom ? H * 0.2 : H * 0.29;
    m = stampText(m, s.display, s.font, { x: W * 0.07, y: top, w: W * 0.86, h: H * 0.5 }, s.ink);
  } else if (s.kind === 'eu') {
    const stripW = Math.round(W * 0.085);
    fillRect(m, inner, inner, inner + stripW, H - 1 - inner, EU_BLUE);
    const scx = inner + stripW / 2;
    const scy = H * 0.33;
    for (let k = 0; k < 12; k++) {
      const a = (k / 12) * Math.PI * 2;
      m.drawCircle(pt(scx + Math.cos(a) * H * 0.15, scy + Math.sin(a) * H * 0.15), 2, vec([0, 204, 255]), -1, cv.LINE_AA);
    }
    m = stampText(m, s.region, FONTS.sansBold, { x: inner + 3, y: H * 0.6, w: stripW - 6, h: H * 0.24 }, [255, 255, 255], 0.8);
    const left = inner + stripW + W * 0.03;
    m = stampText(m, s.display, s.font, { x: left, y: H * 0.225, w: W - left - W * 0.04, h: H * 0.55 }, s.ink);
  } else if (s.kind === 'br') {
    m = stampText(m, s.region, s.regionFont ?? FONTS.sansBold, { x: W * 0.15, y: H * 0.09, w: W * 0.7, h: H * 0.13 }, s.regionInk ?? s.ink, 0.8);
    m = stampText(m, s.display, s.font, { x: W * 0.06, y: H * 0.33, w: W * 0.88, h: H * 0.5 }, s.ink);
  } else {
    const bandB = Math.round(H * 0.24);
    fillRect(m, inner, inner, W - 1 - inner, bandB, MERCOSUR_BLUE);
    m = stampText(m, 'BRASIL', FONTS.sansBold, { x: W * 0.3, y: inner + (bandB - inner) * 0.25, w: W * 0.4, h: (bandB - inner) * 0.5 }, [255, 255, 255], 0.9);
    // flag (right) and the Mercosur emblem (left), both small
    const fx = W - inner - W * 0.1;
    fillRect(m, fx, inner + 6, fx + W * 0.075, bandB - 6, [60, 155, 0]);
    const fcx = fx + W * 0.0375;
    const fcy = (inner + bandB) / 2;
    fillPoly(m, [[fcx - W * 0.03, fcy], [fcx, inner + 9], [fcx + W * 0.03, fcy], [fcx, bandB - 9]], [0, 220, 255]);
    m.drawCircle(pt(inner + W * 0.06, fcy), Math.round((bandB - inner) * 0.3), vec([255, 255, 255]), 2, cv.LINE_AA);
    m = stampText(m, s.display, s.font, { x: W * 0.06, y: H * 0.37, w: W * 0.88, h: H * 0.5 }, s.ink);
  }
  return m;
}

// ---------------------------------------------------------------------------------------------------------------
// Geometry and compositing

interface Pose {
  angle?: number; // degrees, positive = clockwise on screen
  yaw?: number; // fraction: right edge shorter than the left when > 0
  pitch?: number; // fraction: top edge shorter than the bottom when > 0
}

function plateCorners(cx: number, cy: number, pw: number, ph: number, pose: Pose, rng: Rng, jitter = 0.012): Pt[] {
  const yaw = pose.yaw ?? 0;
  const pitch = pose.pitch ?? 0;
  const base: [number, number][] = [
    [-pw / 2, -ph / 2],
    [pw / 2, -ph / 2],
    [pw / 2, ph / 2],
    [-pw / 2, ph / 2],
  ];
  const a = ((pose.angle ?? 0) * Math.PI) / 180;
  return base.map(([x, y], i) => {
    const right = i === 1 || i === 2;
    const top = i === 0 || i === 1;
    y *= right ? 1 - yaw : 1 + yaw;
    x *= top ? 1 - pitch : 1 + pitch;
    x += rng.range(-jitter, jitter) * pw;
    y += rng.range(-jitter, jitter) * pw;
    return { x: cx + x * Math.cos(a) - y * Math.sin(a), y: cy + x * Math.sin(a) + y * Math.cos(a) };
  });
}

function boundingBox(corners: Pt[], W: number, H: number): Box {
  const x0 = Math.max(0, Math.floor(Math.min(...corners.map((p) => p.x))));
  const y0 = Math.max(0, Math.floor(Math.min(...corners.map((p) => p.y))));
  const x1 = Math.min(W, Math.ceil(Math.max(...corners.map((p) => p.x))));
  const y1 = Math.min(H, Math.ceil(Math.max(...corners.map((p) => p.y))));
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** Warps `plate` onto the 4 corners (TL, TR, BR, BL) of `frame`, with anti-aliased edges. */
function composite(frame: Mat, plate: Mat, corners: Pt[]): Mat {
  const W = frame.cols;
  const H = frame.rows;
  const src = [pt(0, 0), pt(plate.cols, 0), pt(plate.cols, plate.rows), pt(0, plate.rows)];
  const M = cv.getPerspectiveTransform(src, corners.map((p) => new cv.Point2(p.x, p.y)));
  const size = new cv.Size(W, H);
  const warped = plate.warpPerspective(M, size, cv.INTER_LINEAR, cv.BORDER_CONSTANT).getData();
  const mask = new cv.Mat(plate.rows, plate.cols, cv.CV_8UC1, 255)
    .warpPerspective(M, size, cv.INTER_LINEAR, cv.BORDER_CONSTANT)
    .getData();
  const d = Buffer.from(frame.getData());
  const b = boundingBox(corners, W, H);
  for (let y = b.y; y < b.y + b.height; y++) {
    for (let x = b.x; x < b.x + b.width; x++) {
      const a = mask[y * W + x]! / 255;
      if (a <= 0) continue;
      const i = (y * W + x) * 3;
      for (let c = 0; c < 3; c++) d[i + c] = clampByte(d[i + c]! * (1 - a) + warped[i + c]! * a);
    }
  }
  return new cv.Mat(d, H, W, cv.CV_8UC3);
}

function blur(m: Mat, sigma: number): Mat {
  const k = 2 * Math.ceil(3 * sigma) + 1;
  return m.gaussianBlur(new cv.Size(k, k), sigma);
}

function addNoise(m: Mat, sigma: number, rng: Rng): Mat {
  const d = Buffer.from(m.getData());
  for (let i = 0; i < d.length; i++) d[i] = clampByte(d[i]! + rng.gauss() * sigma);
  return new cv.Mat(d, m.rows, m.cols, m.type);
}

/** Night: dark, slightly blue scene. */
function darken(m: Mat, gain: number, offset: number): Mat {
  const d = Buffer.from(m.getData());
  for (let i = 0; i < d.length; i += 3) {
    d[i] = clampByte(d[i]! * gain * 1.12 + offset + 4);
    d[i + 1] = clampByte(d[i + 1]! * gain + offset);
    d[i + 2] = clampByte(d[i + 2]! * gain * 0.95 + offset);
  }
  return new cv.Mat(d, m.rows, m.cols, cv.CV_8UC3);
}

// ---------------------------------------------------------------------------------------------------------------
// Scenes

function gradientFrame(W: number, H: number, horizon: number, sky0: BGR, sky1: BGR, road0: BGR, road1: BGR): Mat {
  const d = Buffer.alloc(W * H * 3);
  for (let y = 0; y < H; y++) {
    const [c0, c1, t] = y < horizon ? [sky0, sky1, y / horizon] : [road0, road1, (y - horizon) / (H - horizon)];
    const row = [0, 1, 2].map((c) => clampByte(c0[c]! + (c1[c]! - c0[c]!) * t));
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      d[i] = row[0]!;
      d[i + 1] = row[1]!;
      d[i + 2] = row[2]!;
    }
  }
  return new cv.Mat(d, H, W, cv.CV_8UC3);
}

function drawScene(W: number, H: number, rng: Rng): { mat: Mat; horizon: number } {
  const k = W / 960;
  const horizon = Math.round(H * rng.range(0.3, 0.4));
  const mat = gradientFrame(W, H, horizon, [225, 190, 150], [236, 226, 214], [120, 118, 116], [78, 78, 80]);
  // buildings along the horizon, some with a few windows
  let x = -rng.range(0, 40) * k;
  while (x < W) {
    const bw = rng.range(70, 170) * k;
    const bh = rng.range(0.08, 0.26) * H;
    const tone = rng.int(110, 190);
    const col: BGR = [tone - rng.int(0, 25), tone - rng.int(0, 15), tone];
    fillRect(mat, x, horizon - bh, x + bw - 4 * k, horizon, col);
    if (rng.float() < 0.6) {
      const step = 22 * k;
      for (let wy = horizon - bh + 10 * k; wy < horizon - 18 * k; wy += step) {
        for (let wx = x + 10 * k; wx < x + bw - 20 * k; wx += step) {
          fillRect(mat, wx, wy, wx + 9 * k, wy + 11 * k, [tone - 60, tone - 55, tone - 50]);
        }
      }
    }
    x += bw;
  }
  // sidewalk, kerb, lane markings
  fillRect(mat, 0, horizon, W, horizon + 0.035 * H, [165, 168, 170]);
  fillRect(mat, 0, horizon + 0.035 * H, W, horizon + 0.045 * H, [95, 95, 98]);
  const vx = W * rng.range(0.4, 0.6);
  const vy = horizon - 0.1 * H;
  for (const bx of [-0.1, 0.5, 1.1]) {
    const dashed = bx === 0.5;
    const n = dashed ? 8 : 1;
    for (let s = 0; s < n; s++) {
      const t0 = dashed ? 0.25 + (s / n) * 0.75 : 0.25;
      const t1 = dashed ? t0 + 0.045 : 1;
      const p = (t: number): [number, number] => [vx + (bx * W - vx) * t, vy + (H - vy) * t];
      const [ax, ay] = p(t0);
      const [bx1, by1] = p(t1);
      const w0 = 2 + 10 * k * t0;
      const w1 = 2 + 10 * k * t1;
      fillPoly(mat, [[ax - w0, ay], [ax + w0, ay], [bx1 + w1, by1], [bx1 - w1, by1]], [215, 218, 220]);
    }
  }
  // a couple of poles
  for (let i = 0; i < 2; i++) {
    const px = rng.range(0.05, 0.95) * W;
    fillRect(mat, px, horizon - 0.3 * H, px + 5 * k, horizon + 0.03 * H, [70, 72, 75]);
  }
  return { mat, horizon };
}

const CAR_COLORS: BGR[] = [
  [40, 40, 170], // red
  [150, 80, 30], // blue
  [185, 185, 190], // silver
  [45, 45, 48], // black
  [225, 228, 230], // white
  [60, 110, 60], // green
  [90, 90, 95], // grey
];

/** Rear view of a car whose plate recess is centred on (cx, plateCy); no recess when plateW is 0. */
function drawCar(m: Mat, cx: number, plateCy: number, carW: number, color: BGR, plateW: number, plateH: number): void {
  const carH = carW * 0.7;
  const base = plateCy + carH * 0.3;
  const dark = color.map((v) => v * 0.55) as BGR;
  const shade = color.map((v) => v * 0.8) as BGR;
  m.drawEllipse(pt(cx, base), new cv.Size(Math.round(carW * 0.56), Math.round(carH * 0.06)), 0, 0, 360, vec([35, 35, 38]), -1, cv.LINE_AA);
  // wheels
  for (const s of [-1, 1]) fillRect(m, cx + s * carW * 0.42 - carW * 0.07, base - carH * 0.12, cx + s * carW * 0.42 + carW * 0.07, base, [25, 25, 25]);
  // cabin and rear window
  fillPoly(m, [[cx - carW * 0.36, base - carH], [cx + carW * 0.36, base - carH], [cx + carW * 0.47, base - carH * 0.56], [cx - carW * 0.47, base - carH * 0.56]], color);
  fillPoly(m, [[cx - carW * 0.31, base - carH * 0.95], [cx + carW * 0.31, base - carH * 0.95], [cx + carW * 0.4, base - carH * 0.62], [cx - carW * 0.4, base - carH * 0.62]], [70, 60, 55]);
  // body, bumper
  fillRect(m, cx - carW / 2, base - carH * 0.58, cx + carW / 2, base - carH * 0.1, color);
  fillRect(m, cx - carW / 2, base - carH * 0.58, cx + carW / 2, base - carH * 0.545, shade);
  fillRect(m, cx - carW * 0.5, base - carH * 0.19, cx + carW * 0.5, base - carH * 0.09, dark);
  // tail lights
  for (const s of [-1, 1]) {
    const x0 = cx + s * carW * 0.5;
    const x1 = cx + s * carW * 0.33;
    fillRect(m, Math.min(x0, x1), base - carH * 0.52, Math.max(x0, x1), base - carH * 0.4, [30, 30, 200]);
  }
  // plate recess
  if (plateW > 0) {
    fillRect(m, cx - plateW * 0.6, plateCy - plateH * 0.65, cx + plateW * 0.6, plateCy + plateH * 0.65, shade);
  }
}

function drawSign(m: Mat, x: number, y: number, k: number, text: string): void {
  const w = 215 * k;
  const h = 80 * k;
  fillRect(m, x + w / 2 - 4 * k, y + h, x + w / 2 + 4 * k, y + h + 160 * k, [90, 92, 95]);
  fillRect(m, x, y, x + w, y + h, [60, 120, 10]);
  m.drawRectangle(pt(x + 5 * k, y + 5 * k), pt(x + w - 5 * k, y + h - 5 * k), vec([255, 255, 255]), Math.max(2, Math.round(3 * k)), cv.LINE_AA);
  m.putText(text, pt(x + 22 * k, y + 56 * k), cv.FONT_HERSHEY_DUPLEX, 1.25 * k, vec([255, 255, 255]), Math.max(2, Math.round(3 * k)), cv.LINE_AA);
}

// ---------------------------------------------------------------------------------------------------------------
// Fixture specifications

const US_INK: BGR = [30, 30, 30];
const CA: Omit<PlateStyle, 'display' | 'font'> = { kind: 'us', bg: [250, 250, 248], ink: [110, 40, 20], region: 'California', regionInk: [40, 40, 200], regionFont: FONTS.serifItalic, slogan: 'dmv.ca.gov' };
const TX: Omit<PlateStyle, 'display' | 'font'> = { kind: 'us', bg: [246, 246, 244], ink: US_INK, region: 'TEXAS', regionInk: [40, 40, 40], slogan: 'THE LONE STAR STATE' };
const NY: Omit<PlateStyle, 'display' | 'font'> = { kind: 'us', bg: [170, 222, 244], ink: [100, 45, 20], region: 'NEW YORK', regionInk: [100, 45, 20], slogan: 'EMPIRE STATE' };
const FL: Omit<PlateStyle, 'display' | 'font'> = { kind: 'us', bg: [245, 248, 248], ink: [50, 110, 20], region: 'FLORIDA', regionInk: [0, 120, 230], regionBottom: false, slogan: 'Sunshine State' };
const OH: Omit<PlateStyle, 'display' | 'font'> = { kind: 'us', bg: [238, 240, 242], ink: [95, 40, 25], region: 'OHIO', regionInk: [40, 40, 170], regionBottom: true };
const EU_F = (display: string, font = FONTS.condBold): PlateStyle => ({ kind: 'eu', display, font, bg: [250, 250, 250], ink: [20, 20, 20], region: 'F' });
const EU_I = (display: string, font = FONTS.condBold): PlateStyle => ({ kind: 'eu', display, font, bg: [250, 250, 250], ink: [20, 20, 20], region: 'I' });
const EU_GB_REAR = (display: string): PlateStyle => ({ kind: 'eu', display, font: FONTS.narrowBold, bg: [40, 205, 250], ink: [15, 15, 15], region: 'GB' });
const BR_OLD = (display: string, city = 'SP - SAO PAULO'): PlateStyle => ({ kind: 'br', display, font: FONTS.condBold, bg: [196, 198, 200], ink: [25, 25, 25], region: city });
const MERCOSUR = (display: string): PlateStyle => ({ kind: 'mercosur', display, font: FONTS.condBold, bg: [252, 252, 252], ink: [15, 15, 15], region: 'BRASIL' });

interface PlacedPlate {
  style: PlateStyle;
  /** plate width in the frame, px */
  width: number;
  cx?: number; // fraction of the frame width
  cy?: number; // fraction of the frame height
  pose?: Pose;
  carColor?: number;
}

interface FrameSpec {
  name: string;
  size: [number, number];
  country: Country;
  plates: PlacedPlate[];
  conditions: string[];
  night?: boolean;
  blur?: number;
  noise?: number;
  sign?: string;
}

const FRAMES: FrameSpec[] = [
  { name: 'us-ca-clean', size: [960, 540], country: 'us', plates: [{ style: { ...CA, display: '7ABC123', font: FONTS.condBold }, width: 260, pose: { angle: 0.5 } }], conditions: ['clean'] },
  { name: 'us-tx-rotated', size: [960, 540], country: 'us', plates: [{ style: { ...TX, display: 'ABC 1234', font: FONTS.narrowBold }, width: 240, pose: { angle: 3.5 } }], conditions: ['rotated', 'sign'], sign: 'EXIT 12' },
  { name: 'us-ny-confusable', size: [960, 540], country: 'us', plates: [{ style: { ...NY, display: 'BOB-5180', font: FONTS.condBold }, width: 250, pose: { angle: -1 } }], conditions: ['confusable'] },
  { name: 'us-ca-blur-noise', size: [960, 540], country: 'us', plates: [{ style: { ...CA, display: '6TRJ244', font: FONTS.condBold }, width: 230, pose: { angle: -2 } }], conditions: ['blur', 'noise'], blur: 1.0, noise: 5 },
  { name: 'us-fl-perspective', size: [960, 540], country: 'us', plates: [{ style: { ...FL, display: 'GZS 2658', font: FONTS.nimbusNarrow }, width: 240, pose: { angle: 1.5, yaw: 0.07, pitch: 0.02 } }], conditions: ['perspective', 'confusable'] },
  {
    name: 'us-two-plates', size: [960, 540], country: 'us',
    plates: [
      { style: { ...CA, display: '4XYZ789', font: FONTS.bebas }, width: 170, cx: 0.27, cy: 0.62, pose: { angle: -1.5 } },
      { style: { ...OH, display: 'HJK 5521', font: FONTS.narrowBold }, width: 160, cx: 0.74, cy: 0.66, pose: { angle: 2 } },
    ],
    conditions: ['two-plates'],
  },
  { name: 'us-night-hard', size: [960, 540], country: 'us', plates: [{ style: { ...TX, display: 'KRW 7306', font: FONTS.narrowBold }, width: 170, pose: { angle: -4.5, yaw: -0.06 } }], conditions: ['night', 'blur', 'noise', 'rotated', 'perspective', 'small', 'hard'], night: true, blur: 1.2, noise: 6 },
  { name: 'eu-fr-clean', size: [960, 540], country: 'eu', plates: [{ style: EU_F('AB-123-CD'), width: 290, pose: { angle: 0 } }], conditions: ['clean', 'eu-strip', 'sign'], sign: 'EXIT 12' },
  { name: 'eu-it-rotated', size: [960, 540], country: 'eu', plates: [{ style: EU_I('GZ 205 SB'), width: 280, pose: { angle: -4, yaw: 0.05 } }], conditions: ['rotated', 'perspective', 'confusable', 'eu-strip'] },
  { name: 'eu-gb-night', size: [960, 540], country: 'eu', plates: [{ style: EU_GB_REAR('MK78 FPL'), width: 280, pose: { angle: 1 } }], conditions: ['night', 'eu-strip'], night: true, noise: 3 },
  {
    name: 'br-two-plates', size: [960, 540], country: 'br',
    plates: [
      { style: MERCOSUR('ABC1D23'), width: 200, cx: 0.28, cy: 0.6, pose: { angle: 1 } },
      { style: BR_OLD('KLM-4567', 'RJ - RIO DE JANEIRO'), width: 190, cx: 0.73, cy: 0.64, pose: { angle: -2 } },
    ],
    conditions: ['two-plates', 'mercosur'],
  },
  { name: 'br-old-clean', size: [960, 540], country: 'br', plates: [{ style: BR_OLD('OBI-1080'), width: 260, pose: { angle: -0.5 } }], conditions: ['clean', 'confusable', 'sign'], sign: 'EXIT 12' },
  { name: 'br-mercosur-hard', size: [960, 540], country: 'br', plates: [{ style: MERCOSUR('SZG6B25'), width: 165, pose: { angle: 3, pitch: 0.04 } }], conditions: ['blur', 'noise', 'rotated', 'small', 'confusable', 'mercosur', 'hard'], blur: 1.2, noise: 5 },
  { name: 'us-ca-1080p', size: [1920, 1080], country: 'us', plates: [{ style: { ...CA, display: '5KDW837', font: FONTS.condBold }, width: 300, pose: { angle: 1 } }], conditions: ['large', 'clean'] },
  { name: 'eu-fr-1080p', size: [1920, 1080], country: 'eu', plates: [{ style: EU_F('DK-481-PT'), width: 300, pose: { angle: -1.5, yaw: 0.03 } }], conditions: ['large', 'eu-strip', 'noise'], noise: 2 },
];

interface CropSpec {
  name: string;
  country: Country;
  style: PlateStyle;
  angle?: number;
  blur?: number;
  noise?: number;
  conditions: string[];
}

const CROPS: CropSpec[] = [
  { name: 'us-ca-3FGH456', country: 'us', style: { ...CA, display: '3FGH456', font: FONTS.condBold }, conditions: ['clean'] },
  { name: 'us-tx-LPX7210', country: 'us', style: { ...TX, display: 'LPX 7210', font: FONTS.narrowBold }, conditions: ['clean'] },
  { name: 'us-ny-BOB5180', country: 'us', style: { ...NY, display: 'BOB-5180', font: FONTS.condBold }, angle: 1.5, conditions: ['confusable', 'rotated'] },
  { name: 'us-fl-2BSO681', country: 'us', style: { ...FL, display: '2BSO681', font: FONTS.condBold }, blur: 0.8, noise: 3, conditions: ['confusable', 'blur', 'noise'] },
  { name: 'eu-fr-AB123CD', country: 'eu', style: EU_F('AB-123-CD'), conditions: ['clean', 'eu-strip'] },
  { name: 'eu-it-GZ205SB', country: 'eu', style: EU_I('GZ 205 SB'), angle: -2, conditions: ['confusable', 'rotated', 'eu-strip'] },
  { name: 'br-old-ABC1234', country: 'br', style: BR_OLD('ABC-1234', 'RJ - RIO DE JANEIRO'), conditions: ['clean'] },
  { name: 'br-mercosur-BRA2E19', country: 'br', style: MERCOSUR('BRA2E19'), blur: 0.9, noise: 3, conditions: ['mercosur', 'blur', 'noise'] },
];

// ---------------------------------------------------------------------------------------------------------------
// Generation

const JPEG = [cv.IMWRITE_JPEG_QUALITY, 85];
const normalize = (t: string) => t.toUpperCase().replace(/[^A-Z0-9]/g, '');

function platePixels(style: PlateStyle, width: number, night: boolean): Mat {
  const design = renderPlate(style);
  const h = Math.round(width / ASPECT[style.kind]);
  const small = design.resize(h, Math.round(width), 0, 0, cv.INTER_AREA);
  return night ? darken(small, 0.55, 12) : small;
}

function makeFrame(spec: FrameSpec, seed: number): { mat: Mat; plates: { text: string; box: Box }[] } {
  const rng = new Rng(seed);
  const [W, H] = spec.size;
  const k = W / 960;
  let { mat } = drawScene(W, H, rng);
  const placed = spec.plates.map((p) => {
    const pw = p.width * (W >= 1920 ? 1.15 : 1);
    const ph = pw / ASPECT[p.style.kind];
    const cx = (p.cx ?? rng.range(0.38, 0.62)) * W;
    const cy = (p.cy ?? rng.range(0.55, 0.68)) * H;
    const carW = Math.min(pw * CAR_PER_PLATE[p.style.kind] * (spec.plates.length > 1 ? 0.85 : 1), W * 1.3);
    return { p, pw, ph, cx, cy, carW };
  });
  for (const { p, pw, ph, cx, cy, carW } of placed) {
    drawCar(mat, cx, cy, carW, CAR_COLORS[p.carColor ?? rng.int(0, CAR_COLORS.length - 1)]!, pw, ph);
  }
  if (spec.sign) {
    const left = placed[0]!.cx > W / 2;
    drawSign(mat, left ? 30 * k : W - 250 * k, 20 * k, k, spec.sign);
  }
  if (spec.night) {
    mat = darken(mat, 0.28, 6);
    for (const { cx, cy, carW } of placed) {
      for (const s of [-1, 1]) {
        mat.drawEllipse(pt(cx + s * carW * 0.42, cy - carW * 0.7 * 0.16), new cv.Size(Math.round(carW * 0.07), Math.round(carW * 0.035)), 0, 0, 360, vec([60, 60, 235]), -1, cv.LINE_AA);
      }
    }
  }
  const plates: { text: string; box: Box }[] = [];
  for (const { p, pw, cx, cy } of placed) {
    const px = platePixels(p.style, pw, !!spec.night);
    const corners = plateCorners(cx, cy, px.cols, px.rows, p.pose ?? {}, rng);
    mat = composite(mat, px, corners);
    plates.push({ text: normalize(p.style.display), box: boundingBox(corners, W, H) });
  }
  if (spec.blur) mat = blur(mat, spec.blur);
  if (spec.noise) mat = addNoise(mat, spec.noise, rng);
  return { mat, plates };
}

function makeCrop(spec: CropSpec, seed: number): { mat: Mat; box: Box } {
  const rng = new Rng(seed);
  const pw = 300;
  const px = platePixels(spec.style, pw, false);
  const margin = 8;
  const W = pw + 2 * margin;
  const H = px.rows + 2 * margin;
  const car = CAR_COLORS[rng.int(0, CAR_COLORS.length - 1)]!.map((v) => v * 0.8) as BGR;
  let mat = new cv.Mat(H, W, cv.CV_8UC3, [...car]);
  const corners = plateCorners(W / 2, H / 2, px.cols, px.rows, { angle: spec.angle ?? 0 }, rng, 0.003);
  mat = composite(mat, px, corners);
  if (spec.blur) mat = blur(mat, spec.blur);
  if (spec.noise) mat = addNoise(mat, spec.noise, rng);
  return { mat, box: boundingBox(corners, W, H) };
}

function makeEmpty(size: [number, number], seed: number): Mat {
  const rng = new Rng(seed);
  const [W, H] = size;
  let { mat } = drawScene(W, H, rng);
  const cars = W >= 1920 ? 3 : 1;
  for (let i = 0; i < cars; i++) {
    const cx = ((i + 0.5) / cars + rng.range(-0.05, 0.05)) * W;
    const carW = (W >= 1920 ? rng.range(380, 520) : 640) * (W / 960) * (cars > 1 ? 0.5 : 1);
    drawCar(mat, cx, H * rng.range(0.6, 0.7), carW, CAR_COLORS[rng.int(0, CAR_COLORS.length - 1)]!, 0, 0);
  }
  mat = addNoise(mat, 2, rng);
  return mat;
}

function dirSize(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? dirSize(p) : statSync(p).size;
  }
  return total;
}

function main(): void {
  for (const sub of ['plates', 'crops', 'empty', 'bad']) {
    rmSync(path.join(ROOT, sub), { recursive: true, force: true });
    mkdirSync(path.join(ROOT, sub), { recursive: true });
  }
  const manifest: ManifestEntry[] = [];
  let seed = 20240611;

  for (const spec of FRAMES) {
    const { mat, plates } = makeFrame(spec, seed++);
    const file = `plates/${spec.name}.jpg`;
    writeFileSync(path.join(ROOT, file), cv.imencode('.jpg', mat, JPEG));
    manifest.push({ file, country: spec.country, plates, conditions: spec.conditions });
  }
  for (const spec of CROPS) {
    const { mat, box } = makeCrop(spec, seed++);
    const file = `crops/${spec.name}.jpg`;
    writeFileSync(path.join(ROOT, file), cv.imencode('.jpg', mat, JPEG));
    manifest.push({ file, country: spec.country, plates: [{ text: normalize(spec.style.display), box }], conditions: ['crop', ...spec.conditions] });
  }
  const empties: { name: string; size: [number, number] }[] = [
    { name: 'street-960', size: [960, 540] },
    { name: 'street-1080p', size: [1920, 1080] },
  ];
  for (const e of empties) {
    const file = `empty/${e.name}.jpg`;
    writeFileSync(path.join(ROOT, file), cv.imencode('.jpg', makeEmpty(e.size, seed++), JPEG));
    manifest.push({ file, country: 'us', plates: [], conditions: e.size[0] >= 1920 ? ['empty', 'large'] : ['empty'] });
  }

  // bad inputs (not in the manifest)
  writeFileSync(path.join(ROOT, 'bad/empty.jpg'), Buffer.alloc(0));
  writeFileSync(path.join(ROOT, 'bad/text.jpg'), 'This is not a JPEG image, just text with a .jpg name.\n');
  const whole = cv.imencode('.jpg', makeCrop(CROPS[0]!, 7).mat, JPEG);
  writeFileSync(path.join(ROOT, 'bad/truncated.jpg'), whole.subarray(0, Math.floor(whole.length / 2)));
  writeFileSync(path.join(ROOT, 'bad/tiny.png'), cv.imencode('.png', new cv.Mat(1, 1, cv.CV_8UC3, [255, 255, 255])));

  writeFileSync(path.join(ROOT, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const kb = Math.round(dirSize(ROOT) / 1024);
  console.log(
    `make-fixtures: ${FRAMES.length} plate frames, ${CROPS.length} crops, ${empties.length} empty frames, 4 bad files, ` +
      `manifest.json with ${manifest.length} entries -> ${ROOT} (${kb} KB)`,
  );
}

main();

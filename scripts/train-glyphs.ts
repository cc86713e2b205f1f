/**
 * Trains the per-glyph classifier (models/glyph-mlp.json) on characters rendered from open fonts, with
 * distortions like those a plate's glyphs have after segmentation: condensed or widened, sheared, rotated,
 * thicker or thinner strokes, low resolution, blur. No photograph is used, and nothing is downloaded.
 * Needs ImageMagick's `convert` and Debian's font packages (listed in FONTS below). Deterministic (seeded).
 *
 *   npm run build && node dist/scripts/train-glyphs.js [--per-font N] [--epochs N]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../src/util/paths.js';
import { cv, type Mat } from '../src/recognition/cv.js';
import { GlyphClassifier, type GlyphModelFile } from '../src/recognition/glyph-classifier.js';
import { GLYPH_FEATURES, glyphFeatures, glyphInk } from '../src/recognition/glyph-features.js';
import { findCharLines, renderLine } from '../src/recognition/segment.js';
import { scriptArgs } from './script-args.js';

const CLASSES = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const FONT_DIRS = '/usr/share/fonts';
/** Sans-serif faces from Debian packages; the last ones are held out to measure how the model does on unseen fonts. */
const FONTS = [
  'truetype/dejavu/DejaVuSans-Bold.ttf',
  'truetype/dejavu/DejaVuSansCondensed-Bold.ttf',
  'truetype/dejavu/DejaVuSansCondensed.ttf',
  'truetype/dejavu/DejaVuSansMono-Bold.ttf',
  'truetype/liberation/LiberationSans-Bold.ttf',
  'truetype/liberation/LiberationSansNarrow-Bold.ttf',
  'truetype/liberation/LiberationSansNarrow-Regular.ttf',
  'truetype/liberation/LiberationMono-Bold.ttf',
  'opentype/bebas-neue/BebasNeue-Bold.otf',
  'opentype/bebas-neue/BebasNeue-Regular.otf',
  'opentype/urw-base35/NimbusSansNarrow-Bold.otf',
  'opentype/urw-base35/NimbusSansNarrow-Regular.otf',
  'opentype/urw-base35/NimbusSans-Bold.otf',
  'truetype/roboto/unhinted/RobotoCondensed-Bold.ttf',
  'truetype/roboto/unhinted/RobotoCondensed-Regular.ttf',
  'truetype/open-sans/OpenSans-CondBold.ttf',
  'truetype/open-sans/OpenSans-Bold.ttf',
  'truetype/freefont/FreeSansBold.ttf',
  'opentype/league-spartan/LeagueSpartan-Bold.otf',
  'opentype/b612/B612-Bold.otf',
  'opentype/cantarell/Cantarell-Bold.otf',
  'truetype/hack/Hack-Bold.ttf',
  'truetype/noto/NotoSansMono-Bold.ttf',
  // held out
  'truetype/lato/Lato-Bold.ttf',
  'opentype/b612/B612Mono-Bold.otf',
  'truetype/roboto/unhinted/RobotoTTF/Roboto-Bold.ttf',
];
const HELD_OUT = 3;

const { values } = scriptArgs(import.meta.url, {
  options: {
    'per-font': { type: 'string', default: '30' },
    'lines-per-font': { type: 'string', default: '30' },
    epochs: { type: 'string', default: '15' },
  },
});
const perFont = Number(values['per-font']);
const epochs = Number(values.epochs);
const linesPerFont = Number(values['lines-per-font']);

let seed = 12345;
function rand(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const uniform = (a: number, b: number) => a + (b - a) * rand();

function render(font: string, ch: string): Mat {
  const png = execFileSync('convert', ['-background', 'black', '-fill', 'white', '-font', font, '-pointsize', '72', `label:${ch}`, 'png:-']);
  return cv.imdecode(png, cv.IMREAD_GRAYSCALE).threshold(127, 255, cv.THRESH_BINARY);
}

function crop(ink: Mat): Mat | undefined {
  const pts = ink.findNonZero();
  if (pts.length === 0) return undefined;
  const xs = pts.map((p) => p.x);
  const ys = pts.map((p) => p.y);
  const x0 = Math.min(...xs), y0 = Math.min(...ys);
  return ink.getRegion(new cv.Rect(x0, y0, Math.max(...xs) - x0 + 1, Math.max(...ys) - y0 + 1));
}

/** One distorted copy of a rendered glyph, as the segmentation would hand it over. */
function distort(glyph: Mat): Mat | undefined {
  const pad = 20;
  const src = glyph.copyMakeBorder(pad, pad, pad, pad, cv.BORDER_CONSTANT, 0);
  const sx = uniform(0.65, 1.2);
  const shear = uniform(-0.18, 0.18);
  const angle = uniform(-0.07, 0.07);
  const cx = src.cols / 2, cy = src.rows / 2;
  const a = Math.cos(angle), b = Math.sin(angle);
  // rotation * shear * scale, about the centre
  const m00 = a * sx, m01 = a * shear - b, m10 = b * sx, m11 = b * shear + a;
  const M = new cv.Mat([[m00, m01, cx - m00 * cx - m01 * cy], [m10, m11, cy - m10 * cx - m11 * cy]], cv.CV_64F);
  let img = src.warpAffine(M, new cv.Size(src.cols, src.rows), cv.INTER_LINEAR, cv.BORDER_CONSTANT);
  const stroke = Math.round(uniform(-3, 4));
  if (stroke !== 0) {
    const k = cv.getStructuringElement(cv.MORPH_ELLIPSE, new cv.Size(Math.abs(stroke) + 1, Math.abs(stroke) + 1));
    img = stroke > 0 ? img.dilate(k) : img.erode(k);
  }
  // Low resolution and blur, then binarised again at a random level (as the adaptive threshold would).
  const lowH = Math.round(uniform(12, 48));
  const f = lowH / img.rows;
  img = img.resize(Math.max(4, Math.round(img.rows * f)), Math.max(4, Math.round(img.cols * f)), 0, 0, cv.INTER_AREA);
  const sigma = uniform(0, 1.2);
  if (sigma > 0.3) img = img.gaussianBlur(new cv.Size(0, 0), sigma);
  img = img.resize(Math.round(img.rows * (48 / lowH)), Math.round(img.cols * (48 / lowH)), 0, 0, cv.INTER_LINEAR);
  img = img.threshold(uniform(80, 175), 255, cv.THRESH_BINARY);
  // The pipeline hands OCR glyphs of 36 pixels.
  const c = crop(img);
  if (!c || c.rows < 8) return undefined;
  const s = 36 / c.rows;
  return c.resize(36, Math.max(1, Math.round(c.cols * s)), 0, 0, cv.INTER_AREA).threshold(127, 255, cv.THRESH_BINARY);
}

interface Sample {
  x: Float32Array;
  y: number;
}

function samplesFor(fonts: string[], copies: number): Sample[] {
  const out: Sample[] = [];
  for (const f of fonts) {
    const file = path.join(FONT_DIRS, f);
    if (!existsSync(file)) {
      console.error(`skipping missing font ${file}`);
      continue;
    }
    for (let c = 0; c < CLASSES.length; c++) {
      const glyph = crop(render(file, CLASSES[c]!));
      if (!glyph) continue;
      for (let i = 0; i < copies; i++) {
        const d = distort(glyph);
        if (d) out.push({ x: glyphFeatures(d), y: c });
      }
    }
  }
  return out;
}

/**
 * Glyphs as the recognizer itself cuts them: a random plate text rendered as one line, degraded (contrast, shear,
 * rotation, low resolution, blur, noise), then found by the recognizer's own segmentation and rendering. Labels
 * come from the text when the segmentation finds exactly its characters.
 */
function lineSamplesFor(fonts: string[], lines: number): Sample[] {
  const out: Sample[] = [];
  for (const f of fonts) {
    const file = path.join(FONT_DIRS, f);
    if (!existsSync(file)) continue;
    for (let n = 0; n < lines; n++) {
      const length = 5 + Math.floor(rand() * 3);
      let text = '';
      for (let i = 0; i < length; i++) text += CLASSES[Math.floor(rand() * CLASSES.length)]!;
      const spacing = String(Math.round(uniform(-4, 16)));
      const png = execFileSync('convert', ['-background', 'white', '-fill', 'black', '-font', file, '-kerning', spacing,
        '-pointsize', '72', `label:${text}`, 'png:-']);
      let img = cv.imdecode(png, cv.IMREAD_GRAYSCALE);
      const ink = uniform(0, 90);
      const paper = uniform(150, 255);
      img = img.convertTo(cv.CV_8U, (paper - ink) / 255, ink);
      const pad = 40;
      img = img.copyMakeBorder(pad, pad, pad, pad, cv.BORDER_CONSTANT, paper);
      const shear = uniform(-0.15, 0.15);
      const angle = uniform(-0.05, 0.05);
      const sx = uniform(0.75, 1.15);
      const cx = img.cols / 2, cy = img.rows / 2;
      const a = Math.cos(angle), b = Math.sin(angle);
      const m00 = a * sx, m01 = a * shear - b, m10 = b * sx, m11 = b * shear + a;
      const M = new cv.Mat([[m00, m01, cx - m00 * cx - m01 * cy], [m10, m11, cy - m10 * cx - m11 * cy]], cv.CV_64F);
      img = img.warpAffine(M, new cv.Size(img.cols, img.rows), cv.INTER_LINEAR, cv.BORDER_REPLICATE);
      // The rendered capitals are about 52 px tall; degrade to 12-40 px, then scale to the recognizer's 48 px.
      const low = uniform(12, 40) / 52;
      img = img.resize(Math.round(img.rows * low), Math.round(img.cols * low), 0, 0, cv.INTER_AREA);
      const sigma = uniform(0, 1);
      if (sigma > 0.3) img = img.gaussianBlur(new cv.Size(0, 0), sigma);
      const up = 48 / 52 / low;
      img = img.resize(Math.round(img.rows * up), Math.round(img.cols * up), 0, 0, cv.INTER_CUBIC);
      const noiseBuf = Buffer.alloc(img.rows * img.cols);
      const sd = uniform(0, 12);
      for (let i = 0; i < noiseBuf.length; i++) noiseBuf[i] = Math.max(0, Math.min(255, 128 + sd * (rand() + rand() + rand() - 1.5) * 2));
      img = img.convertTo(cv.CV_16S).add(new cv.Mat(noiseBuf, img.rows, img.cols, cv.CV_8UC1).convertTo(cv.CV_16S)).convertTo(cv.CV_8U, 1, -128);
      const found = findCharLines(img, {
        minCharHeight: 29,
        maxCharHeight: 77,
        minChars: 3,
        maxChars: 10,
        blockSizes: [77, 0],
        polarities: ['dark-on-light'],
        band: true,
      });
      const line = found[0];
      if (!line || line.blobs.length !== text.length) continue;
      const rendered = renderLine(line, 36);
      rendered.glyphs.forEach((g, i) => {
        const glyph = glyphInk(rendered.image, g.x0, g.x1);
        if (glyph) out.push({ x: glyphFeatures(glyph), y: CLASSES.indexOf(text[i]!) });
      });
    }
  }
  return out;
}

const t0 = Date.now();
const fromLines = lineSamplesFor(FONTS.slice(0, -HELD_OUT), linesPerFont);
console.log(`${fromLines.length} glyphs cut by the recognizer's own segmentation from rendered lines`);
const train = [...samplesFor(FONTS.slice(0, -HELD_OUT), perFont), ...fromLines];
const test = samplesFor(FONTS.slice(-HELD_OUT), 10);
console.log(`${train.length} training and ${test.length} held-out glyphs in ${((Date.now() - t0) / 1000).toFixed(0)} s`);

// Standardise the features.
const n = GLYPH_FEATURES;
const mean = new Float64Array(n);
const std = new Float64Array(n);
for (const s of train) for (let i = 0; i < n; i++) mean[i]! += s.x[i]! / train.length;
for (const s of train) for (let i = 0; i < n; i++) std[i]! += (s.x[i]! - mean[i]!) ** 2 / train.length;
for (let i = 0; i < n; i++) std[i] = Math.sqrt(std[i]!) + 1e-3;

// One hidden layer (ReLU), softmax output, Adam, mini-batches.
const H = 128;
const C = CLASSES.length;
const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
const params = {
  w1: Float32Array.from({ length: n * H }, () => gauss() * Math.sqrt(2 / n)),
  b1: new Float32Array(H),
  w2: Float32Array.from({ length: H * C }, () => gauss() * Math.sqrt(2 / H)),
  b2: new Float32Array(C),
};
const adam = Object.fromEntries(
  Object.entries(params).map(([k, v]) => [k, { m: new Float32Array(v.length), v: new Float32Array(v.length) }]),
) as Record<keyof typeof params, { m: Float32Array; v: Float32Array }>;
let step = 0;
const lr = 0.002;
const batch = 64;
const x = new Float32Array(n);
const h = new Float32Array(H);
const o = new Float32Array(C);
function forward(s: Float32Array): void {
  for (let i = 0; i < n; i++) x[i] = (s[i]! - mean[i]!) / std[i]!;
  for (let j = 0; j < H; j++) {
    let v = params.b1[j]!;
    for (let i = 0; i < n; i++) v += x[i]! * params.w1[i * H + j]!;
    h[j] = v > 0 ? v : 0;
  }
  let max = -Infinity;
  for (let c = 0; c < C; c++) {
    let v = params.b2[c]!;
    for (let j = 0; j < H; j++) v += h[j]! * params.w2[j * C + c]!;
    o[c] = v;
    if (v > max) max = v;
  }
  let sum = 0;
  for (let c = 0; c < C; c++) sum += o[c] = Math.exp(o[c]! - max);
  for (let c = 0; c < C; c++) o[c]! /= sum;
}
function accuracy(set: Sample[]): number {
  let ok = 0;
  for (const s of set) {
    forward(s.x);
    let best = 0;
    for (let c = 1; c < C; c++) if (o[c]! > o[best]!) best = c;
    if (best === s.y) ok++;
  }
  return ok / set.length;
}
const grads = {
  w1: new Float32Array(n * H),
  b1: new Float32Array(H),
  w2: new Float32Array(H * C),
  b2: new Float32Array(C),
};
const dh = new Float32Array(H);
for (let epoch = 0; epoch < epochs; epoch++) {
  for (let i = train.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [train[i], train[j]] = [train[j]!, train[i]!];
  }
  for (let start = 0; start < train.length; start += batch) {
    for (const g of Object.values(grads)) g.fill(0);
    const end = Math.min(train.length, start + batch);
    for (let k = start; k < end; k++) {
      const s = train[k]!;
      forward(s.x);
      o[s.y]! -= 1; // d loss / d logits
      dh.fill(0);
      for (let c = 0; c < C; c++) {
        const g = o[c]!;
        grads.b2[c]! += g;
        for (let j = 0; j < H; j++) {
          grads.w2[j * C + c]! += h[j]! * g;
          dh[j]! += params.w2[j * C + c]! * g;
        }
      }
      for (let j = 0; j < H; j++) {
        if (h[j]! <= 0) continue;
        const g = dh[j]!;
        grads.b1[j]! += g;
        for (let i = 0; i < n; i++) grads.w1[i * H + j]! += x[i]! * g;
      }
    }
    step++;
    const scale = 1 / (end - start);
    for (const key of Object.keys(params) as (keyof typeof params)[]) {
      const p = params[key], g = grads[key], st = adam[key];
      for (let i = 0; i < p.length; i++) {
        const gi = g[i]! * scale + (key.startsWith('w') ? 1e-4 * p[i]! : 0);
        st.m[i] = 0.9 * st.m[i]! + 0.1 * gi;
        st.v[i] = 0.999 * st.v[i]! + 0.001 * gi * gi;
        const mh = st.m[i]! / (1 - 0.9 ** step);
        const vh = st.v[i]! / (1 - 0.999 ** step);
        p[i]! -= (lr * mh) / (Math.sqrt(vh) + 1e-8);
      }
    }
  }
  if (epoch % 5 === 4 || epoch === epochs - 1) {
    console.log(`epoch ${epoch + 1}: train ${(100 * accuracy(train.slice(0, 5000))).toFixed(1)}%, held-out fonts ${(100 * accuracy(test)).toFixed(1)}%`);
  }
}

const model: GlyphModelFile = {
  classes: CLASSES,
  inputs: n,
  hidden: H,
  mean: [...mean].map((v) => +v.toFixed(6)),
  std: [...std].map((v) => +v.toFixed(6)),
  w1: [...params.w1].map((v) => +v.toFixed(5)),
  b1: [...params.b1].map((v) => +v.toFixed(5)),
  w2: [...params.w2].map((v) => +v.toFixed(5)),
  b2: [...params.b2].map((v) => +v.toFixed(5)),
  trainedOn: `${FONTS.length - HELD_OUT} rendered fonts: ${CLASSES.length} characters x ${perFont} distortions, and ${fromLines.length} glyphs from ${linesPerFont} rendered lines per font cut by the recognizer (scripts/train-glyphs.ts)`,
  heldOutAccuracy: +(100 * accuracy(test)).toFixed(1),
};
const outDir = path.join(packageRoot(), 'models');
mkdirSync(outDir, { recursive: true });
writeFileSync(path.join(outDir, 'glyph-mlp.json'), JSON.stringify(model));
// Round trip through the runtime's loader, so the file written is the file the unit reads.
const check = GlyphClassifier.load(path.join(outDir, 'glyph-mlp.json'));
let agree = 0;
for (const s of test) {
  const p = check.predictFeatures(s.x);
  let best = 0;
  for (let c = 1; c < C; c++) if (p[c]! > p[best]!) best = c;
  if (best === s.y) agree++;
}
console.log(`wrote models/glyph-mlp.json: held-out fonts ${((100 * agree) / test.length).toFixed(1)}% (runtime loader)`);

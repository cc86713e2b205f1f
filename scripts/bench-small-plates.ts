/**
 * Small plates in 1080p frames: each photo of the openalpr-benchmarks end-to-end sets (eu, br), or each US plate
 * crop of seg_and_ocr (us: a plate alone, without its car), is scaled so that its plate is W pixels wide (W = 60, 75, 90, 120, 160 by default) and pasted at a random (seeded) position on a
 * 1920x1080 canvas whose background is a photo of datasets/negatives scaled to 1920x1080; the frame goes through
 * JPEG (quality 90) and back, in memory only (nothing is written to disk). Frames of a background alone measure
 * the cost and the false reads of a frame without a plate.
 *
 * Each frame is given to every variant of the recognizer in turn (same frame, same process, alternating), so
 * that the variants' ratios hold on a shared, noisy machine. A variant is a name and a JSON object merged into
 * recognition.detector, e.g. --variant 'before={"smallPlates":false}' --variant 'after={}'.
 *
 * Per set, width and variant it prints: proposed (a candidate region covers the truth), detected (a read plate's
 * box covers the truth: IoU > 0.3 or the truth's centre inside it), exact read %, for US plates read exactly the
 * share given a state and the share of those right (groundtruth.csv's state), false reads per frame (reads
 * covering no truth plate and reading none's text) and the median / p90 ms of recognizeMat on the
 * decoded grey frame (one core: run it under taskset -c 0).
 *
 * These frames are for measuring only: never train on them, never tune a threshold to one image.
 *   taskset -c 0 node dist/scripts/bench-small-plates.js [--data DIR] [--sets eu,br] [--widths 60,75,90,120,160]
 *     [--limit N] [--empty N] [--seed N] [--variant NAME=JSON]... [--verbose] [--json] [--dump DIR]
 *     [--frame-width W] [--tilt DEG] [--only NAME,NAME]
 * With --frame-width the frames are scaled to W px wide before reading (960: frames searched at their own size); the
 * widths printed stay those of the plate in the 1920 px frame (scale them by W / 1920).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../src/config/load.js';
import type { Country } from '../src/config/schema.js';
import { cv, type Mat } from '../src/recognition/cv.js';
import { normalizePlate, plateSpelling } from '../src/recognition/formats.js';
import { Recognizer } from '../src/recognition/recognizer.js';
import { iou, type Box, type FrameResult } from '../src/recognition/types.js';
import { mulberry32 } from './seeded-random.js';
import { scriptArgs } from './script-args.js';
import { percentile } from './stats.js';

const FRAME_W = 1920;
const FRAME_H = 1080;

const { values } = scriptArgs(import.meta.url, {
  options: {
    data: { type: 'string', default: '/work/shared/datasets' },
    sets: { type: 'string', default: 'eu,br' },
    widths: { type: 'string', default: '60,75,90,120,160' },
    limit: { type: 'string' },
    empty: { type: 'string', default: '40' },
    seed: { type: 'string', default: '1' },
    variant: { type: 'string', multiple: true },
    config: { type: 'string' },
    verbose: { type: 'boolean', default: false },
    /** A folder outside the repository where the generated frames are written (for looking at them). */
    dump: { type: 'string' },
    json: { type: 'boolean', default: false },
    /**
     * Scale every 1920x1080 frame to this width before it is read (after its JPEG round trip; the plate widths
     * scale with it): e.g. 960 measures frames that the recognizer searches at their own size.
     */
    'frame-width': { type: 'string' },
    /**
     * Tilt each pasted photo by an angle drawn uniformly from -T to +T degrees (seeded), turned about its first
     * plate's centre: a camera's roll, a car on a slope or a crooked plate. The truth box becomes the tilted plate's
     * bounding box. 0 (the default): frames exactly as without the option.
     */
    tilt: { type: 'string', default: '0' },
    /**
     * Only these photos (file names, comma-separated), each in the frame it gets in the whole run (same position,
     * background and scale): for looking at one failure with --verbose or --dump.
     */
    only: { type: 'string' },
  },
});
const ONLY = values.only ? new Set(values.only.split(',').map((s) => s.trim())) : undefined;

const TILT = Number(values.tilt);
if (!(TILT >= 0 && TILT <= 45)) throw new Error('--tilt must be 0-45 degrees');

/** The frames' scale before reading (--frame-width). */
const FRAME_SCALE = values['frame-width'] ? Number(values['frame-width']) / FRAME_W : 1;
if (!(FRAME_SCALE > 0 && FRAME_SCALE <= 1)) throw new Error(`--frame-width must be 1-${FRAME_W}`);

interface Truth {
  plate: string;
  box: Box;
  /** The plate's state (US crops: groundtruth.csv's second field), where given. */
  state?: string;
}
interface Photo {
  set: string;
  file: string;
  truths: Truth[];
}

/** Seeded: the same frames in every run with the same seed. */
const rng = mulberry32;

function loadPhotos(dir: string, set: string): Photo[] {
  const photos: Photo[] = [];
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.txt')).sort()) {
    const truths: Truth[] = [];
    let image = '';
    for (const line of readFileSync(path.join(dir, name), 'utf8').split(/\r?\n/).filter(Boolean)) {
      const [img, x, y, w, h, plate] = line.split('\t');
      image = img!;
      truths.push({ plate: normalizePlate(plate ?? ''), box: { x: Number(x), y: Number(y), width: Number(w), height: Number(h) } });
    }
    if (image && truths.length) photos.push({ set, file: path.join(dir, image), truths });
  }
  return photos;
}

/**
 * The US set: the 751 plate crops of seg_and_ocr (a plate with a little margin, about 320x155), each crop's whole
 * area its truth box; its texts written as US plates write them (plateSpelling). `limit` takes crops evenly spread
 * over the list (it is sorted by state), not the first states only.
 */
function loadUsCrops(dir: string, limit?: number): Photo[] {
  const rows = readFileSync(path.join(dir, 'groundtruth.csv'), 'utf8').split(/\r?\n/).filter(Boolean);
  const step = limit && limit < rows.length ? rows.length / limit : 1;
  const picked: string[] = [];
  for (let i = 0; i < rows.length && picked.length < (limit ?? rows.length); i += step) picked.push(rows[Math.floor(i)]!);
  return picked.map((row) => {
    const [file, state, plate] = row.split(',');
    const full = path.join(dir, 'usimages', file!);
    const m = cv.imread(full, cv.IMREAD_GRAYSCALE);
    const truth: Truth = { plate: plateSpelling(normalizePlate(plate ?? ''), 'us'), box: { x: 0, y: 0, width: m.cols, height: m.rows } };
    if (state && /^[a-z]{2}$/i.test(state)) truth.state = state.toUpperCase();
    return { set: 'us', file: full, truths: [truth] };
  });
}

/** Backgrounds: the negatives at least 320 px on their shorter side, scaled to 1920x1080 (grey). */
function loadBackgrounds(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => /\.jpe?g$/i.test(n))
    .sort()
    .map((n) => path.join(dir, n))
    .filter((f) => {
      const m = cv.imread(f, cv.IMREAD_GRAYSCALE);
      return Math.min(m.rows, m.cols) >= 320;
    });
}

function background(file: string): Mat {
  return cv.imread(file, cv.IMREAD_GRAYSCALE).resize(FRAME_H, FRAME_W, 0, 0, cv.INTER_LINEAR);
}

/** Through JPEG and back, as a camera's frame would be. */
function jpegRoundTrip(m: Mat): Mat {
  const frame = cv.imdecode(cv.imencode('.jpg', m, [cv.IMWRITE_JPEG_QUALITY, 90]), cv.IMREAD_GRAYSCALE);
  return FRAME_SCALE === 1 ? frame : frame.resize(Math.round(FRAME_H * FRAME_SCALE), Math.round(FRAME_W * FRAME_SCALE), 0, 0, cv.INTER_AREA);
}

/**
 * The photo scaled so that its first plate is `width` px wide, pasted so that the plate's top-left corner lands at
 * a random place of the canvas; returns the frame and every truth plate that lies wholly inside it.
 */
function makeFrame(photo: Photo, gray: Mat, bg: Mat, width: number, rand: () => number): { frame: Mat; truths: Truth[] } {
  const main = photo.truths[0]!;
  const s = width / main.box.width;
  const sw = Math.max(1, Math.round(gray.cols * s));
  const sh = Math.max(1, Math.round(gray.rows * s));
  let scaled = gray.resize(sh, sw, 0, 0, s < 1 ? cv.INTER_AREA : cv.INTER_LINEAR);
  let mask: Mat | undefined;
  // where a point of the scaled photo lands in `scaled` (moved only by --tilt)
  let place = (x: number, y: number): [number, number] => [x, y];
  const angle = TILT > 0 ? (rand() * 2 - 1) * TILT : 0;
  if (angle !== 0) {
    // turned about the first plate's centre, on a canvas large enough to hold the whole turned photo
    const rad = (angle * Math.PI) / 180;
    const cos = Math.cos(rad);
    const sin = Math.sin(rad);
    const W = Math.ceil(Math.abs(sw * cos) + Math.abs(sh * sin));
    const H = Math.ceil(Math.abs(sw * sin) + Math.abs(sh * cos));
    const cx = (main.box.x + main.box.width / 2) * s;
    const cy = (main.box.y + main.box.height / 2) * s;
    // OpenCV's rotation: a positive angle turns the image anticlockwise as shown (y grows downwards)
    const m = [cos, sin, 0, -sin, cos, 0];
    m[2] = (1 - cos) * cx - sin * cy;
    m[5] = sin * cx + (1 - cos) * cy;
    // shift so that the turned photo's corners all fall inside the canvas
    const corners = [[0, 0], [sw, 0], [0, sh], [sw, sh]].map(([x, y]) => [m[0]! * x! + m[1]! * y! + m[2]!, m[3]! * x! + m[4]! * y! + m[5]!]);
    m[2] -= Math.min(...corners.map((c) => c[0]!));
    m[5] -= Math.min(...corners.map((c) => c[1]!));
    const M = new cv.Mat([m.slice(0, 3), m.slice(3)], cv.CV_64F);
    const size = new cv.Size(W, H);
    scaled = scaled.warpAffine(M, size, cv.INTER_LINEAR, cv.BORDER_CONSTANT, new cv.Vec3(0, 0, 0));
    mask = new cv.Mat(sh, sw, cv.CV_8UC1, 255).warpAffine(M, size, cv.INTER_NEAREST, cv.BORDER_CONSTANT, new cv.Vec3(0, 0, 0));
    place = (x, y) => [m[0]! * x + m[1]! * y + m[2]!, m[3]! * x + m[4]! * y + m[5]!];
  }
  // a truth box (photo pixels) as the bounding box of its corners in `scaled`
  const boxIn = (b: Box): Box => {
    const pts = [[b.x, b.y], [b.x + b.width, b.y], [b.x, b.y + b.height], [b.x + b.width, b.y + b.height]].map(([x, y]) => place(x! * s, y! * s));
    const xs = pts.map((q) => q[0]);
    const ys = pts.map((q) => q[1]);
    return { x: Math.min(...xs), y: Math.min(...ys), width: Math.max(...xs) - Math.min(...xs), height: Math.max(...ys) - Math.min(...ys) };
  };
  const mainBox = boxIn(main.box);
  const px = Math.round(rand() * (FRAME_W - mainBox.width));
  const py = Math.round(rand() * (FRAME_H - mainBox.height));
  const ox = Math.round(px - mainBox.x);
  const oy = Math.round(py - mainBox.y);
  const frame = bg.copy();
  const x0 = Math.max(0, ox);
  const y0 = Math.max(0, oy);
  const x1 = Math.min(FRAME_W, ox + scaled.cols);
  const y1 = Math.min(FRAME_H, oy + scaled.rows);
  const src = new cv.Rect(x0 - ox, y0 - oy, x1 - x0, y1 - y0);
  const dst = frame.getRegion(new cv.Rect(x0, y0, x1 - x0, y1 - y0));
  if (mask) scaled.getRegion(src).copyTo(dst, mask.getRegion(src));
  else scaled.getRegion(src).copyTo(dst);
  const truths = photo.truths
    .map((t) => {
      const b = boxIn(t.box);
      return { ...t, box: { x: ox + b.x, y: oy + b.y, width: b.width, height: b.height } };
    })
    .filter((t) => t.box.x >= 0 && t.box.y >= 0 && t.box.x + t.box.width <= FRAME_W && t.box.y + t.box.height <= FRAME_H);
  const f = FRAME_SCALE;
  const inFrame = truths.map((t) => ({ ...t, box: { x: t.box.x * f, y: t.box.y * f, width: t.box.width * f, height: t.box.height * f } }));
  return { frame: jpegRoundTrip(frame), truths: inFrame };
}

/** A box found covers a small truth plate: IoU > 0.3, or the truth's centre inside it. */
function covers(found: Box, truth: Box): boolean {
  if (iou(found, truth) > 0.3) return true;
  const cx = truth.x + truth.width / 2;
  const cy = truth.y + truth.height / 2;
  return cx >= found.x && cx <= found.x + found.width && cy >= found.y && cy <= found.y + found.height;
}

interface Variant {
  name: string;
  recognizer: Recognizer;
}

interface Tally {
  frames: number;
  truths: number;
  proposed: number;
  detected: number;
  exact: number;
  falseReads: number;
  /** Exact reads of a plate whose state is known; of those, how many give a state, and how many the right one. */
  stateKnown: number;
  stateGiven: number;
  stateRight: number;
  ms: number[];
}
const newTally = (): Tally => ({ frames: 0, truths: 0, proposed: 0, detected: 0, exact: 0, falseReads: 0, stateKnown: 0, stateGiven: 0, stateRight: 0, ms: [] });

type Proposer = { proposeRegions(gray: Mat): { box: Box }[] };

async function measure(v: Variant, frame: Mat, truths: Truth[], country: Country, tally: Tally): Promise<{ res: FrameResult; proposed: boolean[] }> {
  const res = await v.recognizer.recognizeMat(frame, { country });
  tally.frames++;
  tally.ms.push(res.ms);
  // The candidate regions (not timed: recognizeMat proposed them already), and those of the passes recognizeMat runs
  // only where nothing else was read: its large-character pass, and in a frame under 900 px its late small-plate
  // pass.
  const main = (v.recognizer as unknown as Proposer).proposeRegions(frame);
  const known = main as Parameters<Recognizer['doubledSmallRegions']>[1];
  const regions = [...main, ...v.recognizer.largeRegions(frame, known), ...v.recognizer.doubledSmallRegions(frame, known)];
  const proposed = truths.map((t) => regions.some((r) => covers(r.box, t.box)));
  for (const [i, t] of truths.entries()) {
    tally.truths++;
    if (proposed[i]) tally.proposed++;
    const hits = res.plates.filter((p) => covers(p.box, t.box));
    if (hits.length) tally.detected++;
    const exact = hits.find((p) => p.text === t.plate);
    if (exact) tally.exact++;
    if (exact && t.state) {
      tally.stateKnown++;
      if (exact.state) tally.stateGiven++;
      if (exact.state?.code === t.state) tally.stateRight++;
    }
  }
  // As bench-recognize counts them: a read that covers no truth plate and has none's text (a misread of a
  // plate is a missed exact read, not a false read).
  tally.falseReads += res.plates.filter((p) => !truths.some((t) => covers(p.box, t.box) || p.text === t.plate)).length;
  return { res, proposed };
}

/** The q-quantile of unsorted numbers. */
function quantile(xs: number[], q: number): number {
  return percentile([...xs].sort((a, b) => a - b), q);
}

const widths = values.widths.split(',').map(Number);
const sets = values.sets.split(',').filter(Boolean);
const seed = Number(values.seed);
const config = loadConfig(values.config);
config.recognition = { ...config.recognition, ocr: { ...config.recognition.ocr, workers: 1 } };
const variantSpecs = values.variant?.length ? values.variant : ['current={}'];
const variants: Variant[] = [];
for (const spec of variantSpecs) {
  const eq = spec.indexOf('=');
  const name = eq < 0 ? spec : spec.slice(0, eq);
  const detector = { ...config.recognition.detector, ...(eq < 0 ? {} : (JSON.parse(spec.slice(eq + 1)) as object)) };
  variants.push({ name, recognizer: await Recognizer.create({ ...config.recognition, detector }) });
}

const backgrounds = loadBackgrounds(path.join(values.data, 'negatives'));
const tallies = new Map<string, Tally>();
const tally = (key: string) => {
  let t = tallies.get(key);
  if (!t) tallies.set(key, (t = newTally()));
  return t;
};
const started = performance.now();

// Frames without a plate: a background alone.
const emptyRand = rng(seed * 7919 + 13);
const emptyCount = Math.min(Number(values.empty), backgrounds.length);
const emptyPicks = [...backgrounds].sort(() => emptyRand() - 0.5).slice(0, emptyCount);
for (const [i, file] of emptyPicks.entries()) {
  const frame = jpegRoundTrip(background(file));
  // Alternate which variant goes first, so that neither always meets a warm or cold cache.
  const order = i % 2 === 0 ? variants : [...variants].reverse();
  for (const v of order) {
    const { res } = await measure(v, frame, [], 'us', tally(`empty|0|${v.name}`));
    if (values.verbose && res.plates.length) {
      console.error(`${v.name} empty ${path.basename(file)}: ${res.plates.map((p) => `${p.text}@${p.confidence}`).join(',')}`);
    }
  }
}

for (const set of sets) {
  const limit = values.limit ? Number(values.limit) : undefined;
  const photos =
    set === 'us'
      ? loadUsCrops(path.join(values.data, 'openalpr-benchmarks', 'seg_and_ocr'), limit)
      : loadPhotos(path.join(values.data, 'openalpr-benchmarks', 'endtoend', set), set);
  const chosen = limit ? photos.slice(0, limit) : photos;
  const country = (set === 'eu' || set === 'br' ? set : 'us') as Country;
  for (const [pi, photo] of chosen.entries()) {
    if (ONLY && !ONLY.has(path.basename(photo.file))) continue;
    const gray = cv.imread(photo.file, cv.IMREAD_GRAYSCALE);
    for (const [wi, width] of widths.entries()) {
      const rand = rng(seed * 1_000_003 + pi * 101 + wi * 7 + (set === 'br' ? 500_009 : set === 'us' ? 900_007 : 0));
      const bg = background(backgrounds[Math.floor(rand() * backgrounds.length)]!);
      const { frame, truths } = makeFrame(photo, gray, bg, width, rand);
      if (values.dump) {
        const name = `${set}-${width}-${path.basename(photo.file, '.jpg')}`;
        cv.imwrite(path.join(values.dump, `${name}.png`), frame);
        writeFileSync(path.join(values.dump, `${name}.json`), JSON.stringify(truths));
      }
      const order = (pi + wi) % 2 === 0 ? variants : [...variants].reverse();
      for (const v of order) {
        const { res, proposed } = await measure(v, frame, truths, country, tally(`${set}|${width}|${v.name}`));
        if (values.verbose) {
          const t = truths[0];
          const got = res.plates.map((p) => `${p.text}${t && covers(p.box, t.box) ? '*' : ''}@${p.confidence}`).join(',');
          console.error(
            `${v.name} ${set} W=${width} ${path.basename(photo.file)} truth=${t?.plate ?? '-'} got=${got || '-'} ${res.ms} ms${proposed[0] === false ? ' (not proposed)' : ''}`,
          );
        }
      }
    }
  }
}
for (const v of variants) await v.recognizer.close();

const rows = [...tallies.entries()].map(([key, t]) => {
  const [set, width, variant] = key.split('|') as [string, string, string];
  const pct = (n: number) => (t.truths ? (100 * n) / t.truths : 0);
  return {
    set,
    width: Number(width),
    variant,
    frames: t.frames,
    proposed: pct(t.proposed),
    detected: pct(t.detected),
    exact: pct(t.exact),
    // Of the exact reads of plates whose state is known: the share with a state read, and the share of those right.
    ...(t.stateKnown ? { stateGiven: (100 * t.stateGiven) / t.stateKnown, stateRight: t.stateGiven ? (100 * t.stateRight) / t.stateGiven : 0 } : {}),
    falseReadsPerFrame: t.falseReads / Math.max(1, t.frames),
    medianMs: quantile(t.ms, 0.5),
    p90Ms: quantile(t.ms, 0.9),
  };
});
rows.sort((a, b) => (a.set === b.set ? a.width - b.width || a.variant.localeCompare(b.variant) : a.set === 'empty' ? -1 : b.set === 'empty' ? 1 : a.set.localeCompare(b.set)));
if (values.json) {
  console.log(JSON.stringify({ seed, widths, sets, rows, seconds: (performance.now() - started) / 1000 }));
} else {
  console.log(`| set | plate width px | variant | frames | proposed % | detected % | exact read % | state given / right % | false reads/frame | median ms | p90 ms |`);
  console.log(`|---|---|---|---|---|---|---|---|---|---|---|`);
  const f = (x: number) => x.toFixed(1);
  for (const r of rows) {
    const w = r.set === 'empty' ? '(no plate)' : String(r.width);
    const det = r.set === 'empty' ? '-' : f(r.detected);
    const prop = r.set === 'empty' ? '-' : f(r.proposed);
    const ex = r.set === 'empty' ? '-' : f(r.exact);
    const state = r.stateGiven === undefined ? '-' : `${f(r.stateGiven)} / ${f(r.stateRight!)}`;
    console.log(`| ${r.set} | ${w} | ${r.variant} | ${r.frames} | ${prop} | ${det} | ${ex} | ${state} | ${r.falseReadsPerFrame.toFixed(3)} | ${f(r.medianMs)} | ${f(r.p90Ms)} |`);
  }
  console.log(`seed ${seed}, ${((performance.now() - started) / 1000).toFixed(0)} s, peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
}

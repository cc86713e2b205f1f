import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../src/config/schema.js';
import { cv, type Mat } from '../src/recognition/cv.js';
import { findSmallPlates, SMALL_PLATE_DEFAULTS, texturePlaces } from '../src/recognition/finder.js';
import { binarize, components, findCharLines } from '../src/recognition/segment.js';
import { Recognizer, searchScale } from '../src/recognition/recognizer.js';
import type { Box, FrameResult } from '../src/recognition/types.js';
import { mulberry32 } from '../scripts/seeded-random.js';

/**
 * Small plates in a 1080p frame (the finder's full-resolution pass, finder.ts): a plate crop from test-fixtures
 * scaled to about 72 px wide (characters about 12 px tall, 6 in the 960 px copy the main pass searches) and pasted
 * on a noisy 1920x1080 background is found and read; tilted 12 degrees it is found; white on dark it is found;
 * with its characters joined into one blob, it is read where it shows as texture; a US plate's whole face and a
 * plate touching a pole are found, and so is one inside a region of much taller "characters"; a frame of noise alone
 * gives no plate. A large plate whose frame the scaled copy joins to its characters is found by the large-character
 * pass.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CROP = path.join(ROOT, 'test-fixtures', 'crops', 'br-old-ABC1234.jpg');
const TEXT = 'ABC1234';
/** The plate's box in the crop (manifest.json). */
const CROP_PLATE: Box = { x: 7, y: 8, width: 302, height: 99 };
const PLATE_WIDTH = 72;
const W = 1920;
const H = 1080;

const config = configSchema.parse({}).recognition;
let recognizer: Recognizer;
let withoutSmall: Recognizer;

beforeAll(async () => {
  recognizer = await Recognizer.create(config);
  withoutSmall = await Recognizer.create({ ...config, detector: { ...config.detector, smallPlates: false } });
});

afterAll(async () => {
  await recognizer?.close();
  await withoutSmall?.close();
});

/** A seeded grey background: smooth shading plus noise (sigma about 12 grey levels). */
function noisyBackground(seed: number): Mat {
  const rand = mulberry32(seed);
  const buf = Buffer.alloc(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const shade = 90 + 60 * Math.sin(x / 300) * Math.cos(y / 220);
      const noise = (rand() + rand() + rand() - 1.5) * 24;
      buf[y * W + x] = Math.max(0, Math.min(255, Math.round(shade + noise)));
    }
  }
  return new cv.Mat(buf, H, W, cv.CV_8UC1);
}

/**
 * The fixture crop scaled so that its plate is PLATE_WIDTH px wide, optionally inverted (white on dark) and
 * rotated, pasted with its centre at (cx, cy). Returns the frame (through JPEG, as a camera's) and the plate's box.
 */
function frameWithPlate(opts: {
  cx: number;
  cy: number;
  angle?: number;
  invert?: boolean;
  seed?: number;
  width?: number;
  blur?: number;
  /** Another fixture crop and its plate's box (default: the Brazilian crop). */
  crop?: { file: string; plate: Box };
  /** Draws a dark pole 5 px wide down the whole frame, touching the plate's left edge. */
  pole?: boolean;
  /** Joins the characters into one blob with a dark bar along their feet (segmentation then finds no characters). */
  underline?: boolean;
  /**
   * A dark plate frame 14 crop pixels thick whose inner edge lies this many crop pixels from the characters, and
   * nothing else printed on the plate: in a scaled-down copy the thin light gap closes and the frame joins the
   * characters.
   */
  frameGap?: number;
}): {
  frame: Mat;
  box: Box;
} {
  const plateInCrop = opts.crop?.plate ?? CROP_PLATE;
  let crop = cv.imread(opts.crop?.file ?? CROP, cv.IMREAD_GRAYSCALE);
  // the crop's row of characters (its number)
  const numberLine = () => findCharLines(crop, { minCharHeight: 20, maxCharHeight: 120, minChars: 4, maxChars: 10, blockSizes: [51] })[0]!;
  if (opts.underline) {
    const line = numberLine();
    crop = crop.copy();
    crop.drawRectangle(new cv.Rect(line.x, line.y + line.h - 8, line.w, 10), new cv.Vec3(0, 0, 0), -1);
  }
  if (opts.frameGap !== undefined) {
    const line = numberLine();
    const [g, t] = [opts.frameGap, 14];
    crop = crop.copy();
    // nothing else printed on the plate (no state's name or slogan, which the reader would find the number from)
    const p = plateInCrop;
    const white = new cv.Vec3(235, 235, 235);
    crop.drawRectangle(new cv.Rect(p.x + 3, p.y + 3, p.width - 6, line.y - g - t - p.y - 3), white, -1);
    crop.drawRectangle(new cv.Rect(p.x + 3, line.y + line.h + g + t, p.width - 6, p.y + p.height - 3 - (line.y + line.h + g + t)), white, -1);
    crop.drawRectangle(new cv.Rect(line.x - g - t / 2, line.y - g - t / 2, line.w + 2 * g + t, line.h + 2 * g + t), new cv.Vec3(30, 30, 30), t);
  }
  if (opts.invert) crop = crop.bitwiseNot();
  // Rotation on a larger canvas of the plate's surround colour, so that the corners are not cut.
  const pad = Math.round(crop.cols * 0.3);
  const fill = crop.at(2, 2) as number;
  let patch = crop.copyMakeBorder(pad, pad, pad, pad, cv.BORDER_CONSTANT, fill);
  if (opts.angle) {
    const m = cv.getRotationMatrix2D(new cv.Point2(patch.cols / 2, patch.rows / 2), opts.angle, 1);
    patch = patch.warpAffine(m, new cv.Size(patch.cols, patch.rows), cv.INTER_LINEAR, cv.BORDER_CONSTANT, new cv.Vec3(fill, fill, fill));
  }
  const s = (opts.width ?? PLATE_WIDTH) / plateInCrop.width;
  let small = patch.resize(Math.round(patch.rows * s), Math.round(patch.cols * s), 0, 0, cv.INTER_AREA);
  if (opts.blur) small = small.gaussianBlur(new cv.Size(0, 0), opts.blur);
  const frame = noisyBackground(opts.seed ?? 7);
  // Only the crop's own area (not the padding) is pasted: a mask of the rotated crop.
  let mask = new cv.Mat(crop.rows, crop.cols, cv.CV_8UC1, 255).copyMakeBorder(pad, pad, pad, pad, cv.BORDER_CONSTANT, 0);
  if (opts.angle) {
    const m = cv.getRotationMatrix2D(new cv.Point2(mask.cols / 2, mask.rows / 2), opts.angle, 1);
    mask = mask.warpAffine(m, new cv.Size(mask.cols, mask.rows), cv.INTER_NEAREST);
  }
  mask = mask.resize(small.rows, small.cols, 0, 0, cv.INTER_NEAREST);
  const x0 = Math.round(opts.cx - small.cols / 2);
  const y0 = Math.round(opts.cy - small.rows / 2);
  small.copyTo(frame.getRegion(new cv.Rect(x0, y0, small.cols, small.rows)), mask);
  const plateW = plateInCrop.width * s;
  const plateH = plateInCrop.height * s;
  const box = { x: opts.cx - plateW / 2, y: opts.cy - plateH / 2, width: plateW, height: plateH };
  if (opts.pole) frame.drawRectangle(new cv.Rect(Math.round(box.x) - 5, 0, 5, H), new cv.Vec3(20, 20, 20), -1);
  const jpeg = cv.imencode('.jpg', frame, [cv.IMWRITE_JPEG_QUALITY, 90]);
  return { frame: cv.imdecode(jpeg, cv.IMREAD_GRAYSCALE), box };
}

/** The box found holds the plate's centre. */
function holdsCentre(found: Box, plate: Box): boolean {
  const cx = plate.x + plate.width / 2;
  const cy = plate.y + plate.height / 2;
  return cx >= found.x && cx <= found.x + found.width && cy >= found.y && cy <= found.y + found.height;
}

function describe_(r: FrameResult): string {
  return r.plates.map((p) => `${p.text}@${p.confidence} ${JSON.stringify(p.box)}`).join('; ') || '(no plates)';
}

describe('the scale a frame is searched at', () => {
  it('a 1080p frame at 1280 px, a 1280 px frame at 960, one of 900-960 px at its own size, a narrower one doubled; maxWidth 960 searches every large frame at 960', () => {
    expect(searchScale(1920, 1280) * 1920).toBeCloseTo(1280);
    expect(searchScale(2560, 1280) * 2560).toBeCloseTo(1280);
    expect(searchScale(1600, 1280) * 1600).toBeCloseTo(1066.7, 0);
    expect(searchScale(1280, 1280) * 1280).toBeCloseTo(960);
    expect(searchScale(1000, 1280) * 1000).toBeCloseTo(960);
    expect(searchScale(950, 1280)).toBe(1);
    expect(searchScale(640, 1280)).toBe(2);
    expect(searchScale(1920, 960) * 1920).toBeCloseTo(960);
    expect(searchScale(1280, 960) * 1280).toBeCloseTo(960);
    expect(searchScale(1920, 640) * 1920).toBeCloseTo(640);
  });
});

describe('small plates in a 1080p frame', () => {
  it('a plate 72 px wide (characters ~12 px tall) is found and read; without the small-plate pass it is missed', async () => {
    const { frame, box } = frameWithPlate({ cx: 1400, cy: 760 });
    const r = await recognizer.recognizeMat(frame, { country: 'br' });
    const hit = r.plates.find((p) => holdsCentre(p.box, box));
    expect(hit?.text, describe_(r)).toBe(TEXT);
    expect(r.plates.filter((p) => p !== hit), describe_(r)).toEqual([]);
    const before = await withoutSmall.recognizeMat(frame, { country: 'br' });
    expect(before.plates.some((p) => holdsCentre(p.box, box)), describe_(before)).toBe(false);
  });

  it('the same plate near a corner of the frame is found too', async () => {
    const { frame, box } = frameWithPlate({ cx: 70, cy: 1040, seed: 11 });
    const r = await recognizer.recognizeMat(frame, { country: 'br' });
    expect(r.plates.find((p) => holdsCentre(p.box, box))?.text, describe_(r)).toBe(TEXT);
  });

  it('the plate tilted 12 degrees is found', async () => {
    const { frame, box } = frameWithPlate({ cx: 600, cy: 420, angle: 12 });
    const r = await recognizer.recognizeMat(frame, { country: 'br' });
    const hit = r.plates.find((p) => holdsCentre(p.box, box));
    expect(hit, describe_(r)).toBeDefined();
    expect(hit!.text.length, describe_(r)).toBeGreaterThanOrEqual(5);
  });

  it('a white-on-dark plate is found', async () => {
    const { frame, box } = frameWithPlate({ cx: 960, cy: 300, invert: true, seed: 3 });
    const r = await recognizer.recognizeMat(frame, { country: 'br' });
    const hit = r.plates.find((p) => holdsCentre(p.box, box));
    expect(hit, describe_(r)).toBeDefined();
    expect(hit!.text.length, describe_(r)).toBeGreaterThanOrEqual(5);
  });

  it('a plate whose small characters do not segment (joined by a bar along their feet) is still read where it shows as texture', async () => {
    const withoutTexture = await Recognizer.create({ ...config, detector: { ...config.detector, textureReads: 0 } });
    try {
      for (const seed of [7, 11, 13]) {
        const { frame, box } = frameWithPlate({ cx: 1200, cy: 500, seed, width: 72, underline: true });
        const r = await recognizer.recognizeMat(frame, { country: 'br' });
        expect(r.plates.find((p) => holdsCentre(p.box, box))?.text, describe_(r)).toBe(TEXT);
        expect(r.plates, describe_(r)).toHaveLength(1);
        // the characters are one blob: the finder's segmentation alone does not find it
        const before = await withoutTexture.recognizeMat(frame, { country: 'br' });
        expect(before.plates.some((p) => holdsCentre(p.box, box)), describe_(before)).toBe(false);
      }
    } finally {
      await withoutTexture.close();
    }
  });

  it('a US plate 80-95 px wide, whose state name, number and slogan make one textured face, is found and read', async () => {
    const us = { file: path.join(ROOT, 'test-fixtures', 'crops', 'us-ca-3FGH456.jpg'), plate: { x: 7, y: 7, width: 302, height: 152 } };
    for (const [width, seed, cx, cy] of [
      [80, 7, 700, 800],
      [88, 11, 1500, 300],
      [95, 13, 300, 600],
    ] as const) {
      const { frame, box } = frameWithPlate({ cx, cy, seed, width, crop: us });
      const r = await recognizer.recognizeMat(frame, { country: 'us' });
      expect(r.plates.find((p) => holdsCentre(p.box, box))?.text, `${width} px: ${describe_(r)}`).toBe('3FGH456');
    }
  });

  it('a small plate touching a pole (its texture joined to a long edge) is found', async () => {
    for (const seed of [7, 11]) {
      const { frame, box } = frameWithPlate({ cx: 1000, cy: 540, seed, pole: true });
      const r = await recognizer.recognizeMat(frame, { country: 'br' });
      expect(r.plates.find((p) => holdsCentre(p.box, box))?.text, describe_(r)).toBe(TEXT);
    }
  });

  it('a small plate touching a pole is found in a frame with more small textured specks than the finder segments', async () => {
    const { frame, box } = frameWithPlate({ cx: 1000, cy: 540, seed: 7, pole: true, width: 90 });
    // 40 specks of three bright stripes (20x10 px): each a textured place standing alone, none a line of characters
    for (let i = 0; i < 40; i++) {
      const x = 100 + (i % 8) * 220;
      const y = 120 + Math.floor(i / 8) * 90;
      for (let k = 0; k < 3; k++) frame.drawRectangle(new cv.Rect(x + k * 8, y, 4, 10), new cv.Vec3(250, 250, 250), -1);
    }
    const scale = searchScale(W, config.detector.maxWidth);
    const places = texturePlaces(frame.rescale(scale), Math.floor(SMALL_PLATE_DEFAULTS.minCharHeight * scale), Math.ceil(SMALL_PLATE_DEFAULTS.maxCharHeight * scale));
    expect(places.filter((p) => !p.cut).length).toBeGreaterThan(SMALL_PLATE_DEFAULTS.maxPlaces);
    const r = await recognizer.recognizeMat(frame, { country: 'br' });
    expect(r.plates.find((p) => holdsCentre(p.box, box))?.text, describe_(r)).toBe(TEXT);
  });

  it('a small plate on a striped shirt or behind a slanted fence (its texture joined to the stripes) is found', async () => {
    const { frame, box } = frameWithPlate({ cx: 1000, cy: 540, seed: 7 });
    // dark slanted stripes 6 px thick every 40 px over 500 px above and below the plate; the plate stays on top
    const plate = new cv.Rect(Math.floor(box.x), Math.floor(box.y), Math.ceil(box.width) + 1, Math.ceil(box.height) + 1);
    const clean = frame.getRegion(plate).copy();
    for (let x = 700; x < 1300; x += 40) frame.drawLine(new cv.Point2(x, 290), new cv.Point2(x + 300, 790), new cv.Vec3(20, 20, 20), 6);
    clean.copyTo(frame.getRegion(plate));
    const r = await recognizer.recognizeMat(frame, { country: 'br' });
    expect(r.plates.find((p) => holdsCentre(p.box, box))?.text, describe_(r)).toBe(TEXT);
  });

  it('a small plate is found in a frame whose large print alone fills maxCandidates (a shop front of signs)', async () => {
    const { frame, box } = frameWithPlate({ cx: 1000, cy: 900, seed: 7 });
    // 20 signs of large print (characters about 40 px tall), each a region of the main pass
    for (let i = 0; i < 20; i++) {
      const at = new cv.Point2(40 + (i % 5) * 375, 120 + Math.floor(i / 5) * 170);
      frame.putText(['OPEN 24', 'SALE 50', 'CAFE 12', 'BAR 365'][i % 4]!, at, cv.FONT_HERSHEY_SIMPLEX, 1.6, new cv.Vec3(235, 235, 235), 4);
    }
    const main = findCharLines(frame.rescale(searchScale(W, config.detector.maxWidth)), {
      minCharHeight: config.detector.minCharHeight,
      maxCharHeight: 500,
      minChars: 4,
      maxChars: 10,
      blockSizes: [31],
    });
    expect(main.length).toBeGreaterThanOrEqual(config.detector.maxCandidates);
    const r = await recognizer.recognizeMat(frame, { country: 'br' });
    expect(r.plates.find((p) => holdsCentre(p.box, box))?.text, describe_(r)).toBe(TEXT);
  });

  it("a small line of text whose direct read is unsure is searched for rows only in a frame where nothing else was read", async () => {
    const withSign = (plate: boolean) => {
      const { frame } = plate ? frameWithPlate({ cx: 600, cy: 700, seed: 7, width: 320 }) : { frame: noisyBackground(7) };
      // a shop's sign in small print (characters about 14 px tall, 7 in the 960 px copy), found by the small-plate pass
      frame.putText('OPEN SUNDAY 10 TO 4', new cv.Point2(1300, 300), cv.FONT_HERSHEY_SIMPLEX, 0.6, new cv.Vec3(20, 20, 20), 2);
      return frame;
    };
    const runs = async (frame: Mat) => {
      const before = recognizer.modelRuns!;
      const r = await recognizer.recognizeMat(frame, { country: 'br' });
      return { r, det: recognizer.modelRuns!.det - before.det };
    };
    const alone = await runs(withSign(false));
    expect(alone.det, describe_(alone.r)).toBeGreaterThan(0);
    const beside = await runs(withSign(true));
    expect(beside.r.plates.map((p) => p.text), describe_(beside.r)).toEqual([TEXT]);
    expect(beside.det, describe_(beside.r)).toBe(0);
  });

  it('a frame 960 px wide (searched at its own size, neither scaled down nor doubled) has its small plate found too', async () => {
    const { frame, box } = frameWithPlate({ cx: 1000, cy: 540, seed: 7, width: 130 });
    const half = frame.resize(H / 2, W / 2, 0, 0, cv.INTER_AREA);
    const plate = { x: box.x / 2, y: box.y / 2, width: box.width / 2, height: box.height / 2 };
    const r = await recognizer.recognizeMat(half, { country: 'br' });
    expect(r.plates.find((p) => holdsCentre(p.box, plate))?.text, describe_(r)).toBe(TEXT);
    const before = await withoutSmall.recognizeMat(half, { country: 'br' });
    expect(before.plates.some((p) => holdsCentre(p.box, plate)), describe_(before)).toBe(false);
  });

  it("a large plate whose dark frame nearly touches its characters (joined to them in the scaled copy) is read by the large-character pass, where nothing else was read", async () => {
    const tx = { file: path.join(ROOT, 'test-fixtures', 'crops', 'us-tx-LPX7210.jpg'), plate: { x: 7, y: 7, width: 302, height: 152 } };
    const withoutLarge = await Recognizer.create({ ...config, detector: { ...config.detector, largePlates: false } });
    try {
      for (const seed of [7, 11, 13]) {
        const [gap, width] = [2, 190];
        const { frame, box } = frameWithPlate({ cx: 700, cy: 600, seed, width, frameGap: gap, crop: tx });
        const label = `plate ${width} px, gap ${gap}`;
        // the main search (the 1280 px copy, its threshold block) finds no line of characters there
        const work = frame.rescale(1280 / W);
        const main = findCharLines(work, { minCharHeight: 12, maxCharHeight: 900, minChars: 4, maxChars: 10, blockSizes: [31] });
        expect(main.some((l) => holdsCentre({ x: (l.x * W) / 1280, y: (l.y * W) / 1280, width: (l.w * W) / 1280, height: (l.h * W) / 1280 }, box)), label).toBe(false);
        // the large-character pass does: a line about as wide as the plate's number
        const large = recognizer.largeRegions(frame, []).filter((r) => holdsCentre(r.box, box));
        expect(large, label).toHaveLength(1);
        expect(large[0]!.box.width, label).toBeGreaterThan(width * 0.7);
        const r = await recognizer.recognizeMat(frame, { country: 'us' });
        expect(r.plates.find((p) => holdsCentre(p.box, box))?.text, `${label}: ${describe_(r)}`).toBe('LPX7210');
        expect(r.plates, describe_(r)).toHaveLength(1);
        // without it the plate is missed or read in part (the small-plate pass's textured place, searched for rows)
        const before = await withoutLarge.recognizeMat(frame, { country: 'us' });
        expect(before.plates.find((p) => holdsCentre(p.box, box))?.text, `${label}: ${describe_(before)}`).not.toBe('LPX7210');
      }
      // switched off, there is no such pass
      expect(withoutLarge.largeRegions(frameWithPlate({ cx: 700, cy: 600, width: 190, frameGap: 2, crop: tx }).frame, [])).toEqual([]);
    } finally {
      await withoutLarge.close();
    }
  });

  it("a small photo's plate 80 px wide (characters about 17 px, 34 in the doubled copy the main search reads) is found by the large-character pass too", async () => {
    const tx = { file: path.join(ROOT, 'test-fixtures', 'crops', 'us-tx-LPX7210.jpg'), plate: { x: 7, y: 7, width: 302, height: 152 } };
    for (const seed of [7, 11, 13]) {
      const { frame, box } = frameWithPlate({ cx: 900, cy: 600, seed, width: 240, crop: tx });
      const small = frame.resize(H / 3, W / 3, 0, 0, cv.INTER_AREA);
      const plate = { x: box.x / 3, y: box.y / 3, width: box.width / 3, height: box.height / 3 };
      // a frame under 900 px wide is searched doubled; the pass looks at its own size for characters from the late
      // small-plate pass's largest (12 px) up, where the doubled copy's threshold block is as large as they are
      const large = recognizer.largeRegions(small, []).filter((r) => holdsCentre(r.box, plate));
      expect(large, `seed ${seed}`).toHaveLength(1);
      expect(large[0]!.box.width, `seed ${seed}`).toBeGreaterThan(plate.width * 0.6);
      const r = await recognizer.recognizeMat(small, { country: 'us' });
      expect(r.plates.find((p) => holdsCentre(p.box, plate))?.text, `seed ${seed}: ${describe_(r)}`).toBe('LPX7210');
    }
  });

  it("a small plate among lines of a sign's larger print (which outscore its line) is still proposed and read", async () => {
    const scale = searchScale(W, config.detector.maxWidth);
    const { frame, box } = frameWithPlate({ cx: 1400, cy: 760, seed: 7 });
    // six lines of print with characters about 16 px tall: too small for the main search at 1280 px, larger than the
    // plate's 12 px, so the small-plate pass's lines of theirs score above the plate's
    for (let i = 0; i < 6; i++) {
      frame.putText(`SUITE ${210 + i} DENTAL LAB`, new cv.Point2(150 + (i % 2) * 520, 150 + Math.floor(i / 2) * 260), cv.FONT_HERSHEY_SIMPLEX, 0.75, new cv.Vec3(25, 25, 25), 2);
    }
    const work = frame.rescale(scale);
    const lines = (maxRegions: number) => findSmallPlates(frame, work, scale, [], { ...SMALL_PLATE_DEFAULTS, maxRegions });
    expect(lines(4).some((r) => holdsCentre(r.box, box))).toBe(false);
    expect(lines(SMALL_PLATE_DEFAULTS.maxRegions).some((r) => holdsCentre(r.box, box))).toBe(true);
    const r = await recognizer.recognizeMat(frame, { country: 'br' });
    expect(r.plates.find((p) => holdsCentre(p.box, box))?.text, describe_(r)).toBe(TEXT);
  });

  it('a small plate among more, wider places of mid-grey texture (a fence, a weave) is ranked above them by its contrast, and read', async () => {
    const scale = searchScale(W, config.detector.maxWidth);
    const { frame, box } = frameWithPlate({ cx: 1400, cy: 760, seed: 7 });
    // 32 patches of stripes 3 px wide, grey 112 and 150: edged as densely as a plate's characters, twice as wide as
    // its place, but within 40 grey levels where the plate's face and characters span 150
    const rand = mulberry32(5);
    for (let i = 0; i < 32; i++) {
      const [w, h] = [68, 24];
      const buf = Buffer.alloc(w * h);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) buf[y * w + x] = (Math.floor(x / 3) % 2 ? 115 : 145) + Math.round((rand() - 0.5) * 10);
      new cv.Mat(buf, h, w, cv.CV_8UC1).copyTo(frame.getRegion(new cv.Rect(100 + (i % 8) * 220, 100 + Math.floor(i / 8) * 150, w, h)));
    }
    const work = frame.rescale(scale);
    const minH = Math.floor(SMALL_PLATE_DEFAULTS.minCharHeight * scale);
    const places = texturePlaces(work, minH, Math.ceil(SMALL_PLATE_DEFAULTS.maxCharHeight * scale));
    const plate = places.find((p) => holdsCentre({ x: p.x / scale, y: p.y / scale, width: p.width / scale, height: p.height / scale }, box))!;
    // by shape alone (width times density) the plate's place would come after the patches, past the 24 places segmented
    expect(places.filter((p) => p.width * p.fill > plate.width * plate.fill).length).toBeGreaterThan(SMALL_PLATE_DEFAULTS.maxPlaces);
    expect(findSmallPlates(frame, work, scale, []).some((r) => holdsCentre(r.box, box))).toBe(true);
    const r = await recognizer.recognizeMat(frame, { country: 'br' });
    expect(r.plates.find((p) => holdsCentre(p.box, box))?.text, describe_(r)).toBe(TEXT);
  });

  it("a small plate inside a region of the main pass whose characters are taller than the plate (a shop sign's, a building's) is still searched; inside one of its own characters' height it is not searched again", () => {
    const scale = searchScale(W, config.detector.maxWidth);
    const { frame, box } = frameWithPlate({ cx: 900, cy: 600, seed: 7 });
    const work = frame.rescale(scale);
    const around: Box = { x: box.x - 200, y: box.y - 20, width: box.width + 400, height: box.height + 40 };
    const found = (charHeight: number) =>
      findSmallPlates(frame, work, scale, [{ box: around, charHeight }]).some((r) => holdsCentre(r.box, box));
    // the region's "characters" 70 px tall: it did not see the plate's 12 px characters, which are searched
    expect(found(70)).toBe(true);
    // characters as tall as the plate's: the region is the plate's row, read already
    expect(found(12)).toBe(false);
  });

  it("a small plate touching a pole is ranked above 40 specks standing alone, each a third as plate-like by shape (the plate's bar is joined to the pole by thin lines, not cut out of a textured area), and read", async () => {
    const scale = searchScale(W, config.detector.maxWidth);
    const { frame, box } = frameWithPlate({ cx: 1000, cy: 540, seed: 7, pole: true });
    // 40 specks of four bright stripes (25x10 px), each a textured place standing alone, a third as wide as the plate's
    // bar (its width times its density: 0.32-0.35 of the plate's)
    for (let i = 0; i < 40; i++) {
      const x = 60 + (i % 8) * 230 + (i % 8 >= 4 ? 120 : 0);
      const y = 120 + Math.floor(i / 8) * 90;
      for (let k = 0; k < 4; k++) frame.drawRectangle(new cv.Rect(x + k * 7, y, 4, 10), new cv.Vec3(250, 250, 250), -1);
    }
    const work = frame.rescale(scale);
    const places = texturePlaces(work, Math.floor(SMALL_PLATE_DEFAULTS.minCharHeight * scale), Math.ceil(SMALL_PLATE_DEFAULTS.maxCharHeight * scale));
    const plate = places.find((p) => holdsCentre({ x: p.x / scale, y: p.y / scale, width: p.width / scale, height: p.height / scale }, box))!;
    expect(plate.joined).toBe(true);
    // ranked as a band cut out of a textured area (0.3 of its shape), it would come after the specks, past the 24
    // places segmented
    const shape = plate.width * plate.fill;
    expect(places.filter((p) => !p.cut && !p.joined && p.width * p.fill > 0.3 * shape).length).toBeGreaterThan(SMALL_PLATE_DEFAULTS.maxPlaces);
    expect(findSmallPlates(frame, work, scale, []).some((r) => holdsCentre(r.box, box))).toBe(true);
    const r = await recognizer.recognizeMat(frame, { country: 'br' });
    expect(r.plates.find((p) => holdsCentre(p.box, box))?.text, describe_(r)).toBe(TEXT);
  });

  it("a small plate whose texture joins a twig's beside it into one blob no taller than a place but mostly empty is still a place, and read", async () => {
    const scale = searchScale(W, config.detector.maxWidth);
    const { frame, box } = frameWithPlate({ cx: 1000, cy: 540, seed: 7 });
    // a twig of short bright strokes from the plate's right edge up and to the right: the plate's bar and the twig
    // make one blob, no taller than a place may be but mostly empty
    for (let i = 0; i < 12; i++) {
      const x = Math.round(box.x + box.width + 1 + i * 6);
      const y = Math.round(box.y + box.height * 0.35 - i * 4);
      frame.drawRectangle(new cv.Rect(x, y, 3, 9), new cv.Vec3(250, 250, 250), -1);
    }
    const work = frame.rescale(scale);
    const minH = Math.floor(SMALL_PLATE_DEFAULTS.minCharHeight * scale);
    const maxH = Math.ceil(SMALL_PLATE_DEFAULTS.maxCharHeight * scale);
    const places = texturePlaces(work, minH, maxH);
    expect(places.some((p) => holdsCentre({ x: p.x / scale, y: p.y / scale, width: p.width / scale, height: p.height / scale }, box))).toBe(true);
    const r = await recognizer.recognizeMat(frame, { country: 'br' });
    expect(r.plates.find((p) => holdsCentre(p.box, box))?.text, describe_(r)).toBe(TEXT);
  });

  it('a textured speck narrower than 40 px (too small to read) is not given to the reader; the same place at 72 px is', async () => {
    const scale = searchScale(W, config.detector.maxWidth);
    const textured = (width: number) => {
      const { frame, box } = frameWithPlate({ cx: 900, cy: 700, seed: 7, width, underline: true });
      const work = frame.rescale(scale);
      const regions = findSmallPlates(frame, work, scale, [], { ...SMALL_PLATE_DEFAULTS, textureReads: 2 });
      return regions.filter((r) => r.texture && holdsCentre(r.box, box));
    };
    expect(textured(72)).toHaveLength(1);
    expect(textured(34)).toEqual([]);
  });

  it("a slightly blurred small US plate's characters segment with threshold blocks of half its face's height, not with blocks of a character's height", async () => {
    // in a frame searched at 960 px (detector.maxWidth 960); at 1280 the place is taller and either block segments it
    const scale = searchScale(W, 960);
    const us = { file: path.join(ROOT, 'test-fixtures', 'crops', 'us-ca-3FGH456.jpg'), plate: { x: 7, y: 7, width: 302, height: 152 } };
    for (const [seed, cx, cy] of [[7, 900, 600], [11, 400, 300], [13, 1500, 800]] as const) {
      const { frame, box } = frameWithPlate({ cx, cy, seed, width: 66, crop: us, blur: 1 });
      const work = frame.rescale(scale);
      const line = (fineBlocks: boolean) =>
        findSmallPlates(frame, work, scale, [], { ...SMALL_PLATE_DEFAULTS, fineBlocks }).filter((r) => !r.texture && holdsCentre(r.box, box));
      expect(line(true), `seed ${seed}`).toHaveLength(1);
      expect(line(false), `seed ${seed}`).toEqual([]);
      const r = await recognizer.recognizeMat(frame, { country: 'us' });
      expect(r.plates.find((p) => holdsCentre(p.box, box))?.text, describe_(r)).toBe('3FGH456');
    }
  });

  it('a frame under 900 px wide (doubled to be searched) has its small plate read by a late small-plate pass, where nothing else was read', async () => {
    // the 1080p frame scaled to 640 px: a slightly blurred plate 43-50 px wide, characters about 8 px tall, which
    // the main pass (its doubled copy, threshold blocks twice the characters' height) does not segment
    for (const [width, blur, seed] of [[130, 1, 31], [140, 1.5, 32], [150, 1.5, 31]] as const) {
      const { frame, box } = frameWithPlate({ cx: 1100, cy: 640, width, seed, blur });
      const small = frame.resize(360, 640, 0, 0, cv.INTER_AREA);
      const r = await recognizer.recognizeMat(small, { country: 'br' });
      const plate = { x: box.x / 3, y: box.y / 3, width: box.width / 3, height: box.height / 3 };
      expect(r.plates.find((p) => holdsCentre(p.box, plate))?.text, `${Math.round(width / 3)} px: ${describe_(r)}`).toBe(TEXT);
    }
    // a frame wider than 900 px has no such pass (its own small-plate pass searches it at full resolution)
    expect(recognizer.doubledSmallRegions(noisyBackground(5), [])).toEqual([]);
  });

  it('a frame of noise alone gives no plate and no small-plate region', async () => {
    const frame = noisyBackground(5);
    const r = await recognizer.recognizeMat(frame, { country: 'br' });
    expect(r.plates, describe_(r)).toEqual([]);
    const work = frame.rescale(searchScale(W, config.detector.maxWidth));
    expect(findSmallPlates(frame, work, searchScale(W, config.detector.maxWidth), [])).toEqual([]);
  });
});

describe('lines of characters', () => {
  it("the components' boxes and sizes are OpenCV's own, for every component of a street frame in both polarities and of an odd-sized part; the label image agrees", () => {
    const frame = cv.imread(path.join(ROOT, 'test-fixtures', 'empty', 'street-1080p.jpg'), cv.IMREAD_GRAYSCALE).rescale(0.5);
    const key = (c: number[]) => c.join(',');
    // The whole frame, and a region of it of odd width (its rows start at every offset modulo 4, where the scan reads
    // four pixels at a time) with a solid block and a long clear band drawn in.
    const odd = binarize(frame, 'dark-on-light', 31).getRegion(new cv.Rect(3, 5, 477, 301)).copy();
    odd.drawRectangle(new cv.Rect(101, 40, 213, 19), new cv.Vec3(255, 255, 255), -1);
    odd.drawRectangle(new cv.Rect(0, 120, 477, 30), new cv.Vec3(0, 0, 0), -1);
    const cases = [binarize(frame, 'dark-on-light', 31), binarize(frame, 'light-on-dark', 31), odd];
    for (const binary of cases) {
      const mine = components(binary);
      const { stats } = binary.connectedComponentsWithStats(4, cv.CV_32S);
      const s = new Int32Array(stats.getData().buffer.slice(0));
      expect(mine.count).toBe(stats.rows);
      expect(mine.count).toBeGreaterThan(50);
      const theirs: string[] = [];
      const ours: string[] = [];
      for (let k = 1; k < stats.rows; k++) {
        theirs.push(key([...s.slice(k * 5, k * 5 + 5)]));
        ours.push(key([mine.x0[k]!, mine.y0[k]!, mine.x1[k]! - mine.x0[k]! + 1, mine.y1[k]! - mine.y0[k]! + 1, mine.area[k]!]));
      }
      expect(ours.sort()).toEqual(theirs.sort());
      // every label's pixels in the label image: as many as its area, inside its box
      const lab = new Int32Array(mine.labels().getData().buffer.slice(0));
      const count = new Int32Array(mine.count);
      lab.forEach((k, i) => {
        count[k]!++;
        if (k > 0) {
          const x = i % binary.cols;
          const y = Math.floor(i / binary.cols);
          if (x < mine.x0[k]! || x > mine.x1[k]! || y < mine.y0[k]! || y > mine.y1[k]!) throw new Error(`label ${k} outside its box at ${x},${y}`);
        }
      });
      for (let k = 1; k < mine.count; k++) expect(count[k], `label ${k}`).toBe(mine.area[k]);
      expect(count[0]).toBe(binary.rows * binary.cols - binary.countNonZero());
    }
  });

  /** "ABC" and "1234" with a gap of two characters' width between (a plate's halves either side of its emblem). */
  function halves(deg: number): Mat {
    const m = new cv.Mat(200, 420, cv.CV_8UC1, 235);
    m.putText('ABC', new cv.Point2(40, 120), cv.FONT_HERSHEY_SIMPLEX, 1.6, new cv.Vec3(20, 20, 20), 4, cv.LINE_AA);
    m.putText('1234', new cv.Point2(225, 120), cv.FONT_HERSHEY_SIMPLEX, 1.6, new cv.Vec3(20, 20, 20), 4, cv.LINE_AA);
    const turn = cv.getRotationMatrix2D(new cv.Point2(210, 100), deg, 1);
    return m.warpAffine(turn, new cv.Size(420, 200), cv.INTER_LINEAR, cv.BORDER_REPLICATE);
  }
  const lines = (img: Mat) => findCharLines(img, { minCharHeight: 20, maxCharHeight: 60, minChars: 4, maxChars: 10, blockSizes: [51] });

  it('a line split by a wide gap is one line of 7 characters, level or tilted up to 15 degrees', () => {
    for (const deg of [0, 8, -12, 15]) {
      const found = lines(halves(deg));
      expect(found.map((l) => l.blobs.length), `${deg} degrees`).toContain(7);
      // the tilt measured: the line's slope is the turn's (y grows downwards: an anticlockwise turn rises)
      const line = found.find((l) => l.blobs.length === 7)!;
      expect((-line.angle * 180) / Math.PI, `${deg} degrees`).toBeCloseTo(deg, -0.5);
    }
  });

  it("a line's halves are joined although another row's characters stand between them from left to right (a sign above a plate)", () => {
    const m = new cv.Mat(200, 420, cv.CV_8UC1, 235);
    m.putText('ABC', new cv.Point2(40, 150), cv.FONT_HERSHEY_SIMPLEX, 1.6, new cv.Vec3(20, 20, 20), 4, cv.LINE_AA);
    m.putText('1234', new cv.Point2(225, 150), cv.FONT_HERSHEY_SIMPLEX, 1.6, new cv.Vec3(20, 20, 20), 4, cv.LINE_AA);
    // a row above, starting between the halves' starts
    m.putText('567', new cv.Point2(140, 60), cv.FONT_HERSHEY_SIMPLEX, 1.6, new cv.Vec3(20, 20, 20), 4, cv.LINE_AA);
    const found = lines(m);
    expect(found.map((l) => l.blobs.length)).toContain(7);
    const line = found.find((l) => l.blobs.length === 7)!;
    expect(line.y).toBeGreaterThan(100);
  });

  it('two lines at different heights are not joined across a gap', () => {
    const m = new cv.Mat(200, 420, cv.CV_8UC1, 235);
    m.putText('ABC', new cv.Point2(40, 90), cv.FONT_HERSHEY_SIMPLEX, 1.6, new cv.Vec3(20, 20, 20), 4, cv.LINE_AA);
    m.putText('1234', new cv.Point2(225, 150), cv.FONT_HERSHEY_SIMPLEX, 1.6, new cv.Vec3(20, 20, 20), 4, cv.LINE_AA);
    expect(lines(m).map((l) => l.blobs.length)).not.toContain(7);
  });
});

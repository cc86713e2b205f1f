import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema, type Country } from '../src/config/schema.js';
import { cv } from '../src/recognition/cv.js';
import { plateSpelling } from '../src/recognition/formats.js';
import { ImageError, readImageFile } from '../src/recognition/image.js';
import { Recognizer } from '../src/recognition/recognizer.js';
import { iou, type Box, type FrameResult, type PlateRead } from '../src/recognition/types.js';

/**
 * What a user of the recognizer notices: the plates in the generated fixtures are read with boxes where the plates
 * are, plate crops are read, bad files are refused with a clear ImageError, and a refusal never breaks the reader.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FIXTURES = path.join(ROOT, 'test-fixtures');

interface ManifestEntry {
  file: string;
  country: Country;
  plates: { text: string; box: Box }[];
  conditions: string[];
}

// Plate texts as the reader writes them for their country (a US plate's letter O is written 0).
const manifest = (JSON.parse(readFileSync(path.join(FIXTURES, 'manifest.json'), 'utf8')) as ManifestEntry[]).map((e) => ({
  ...e,
  plates: e.plates.map((p) => ({ ...p, text: plateSpelling(p.text, e.country) })),
}));
const has = (e: ManifestEntry, condition: string) => e.conditions.includes(condition);
const crops = manifest.filter((e) => has(e, 'crop'));
const frames = manifest.filter((e) => !has(e, 'crop'));
const emptyFrames = frames.filter((e) => e.plates.length === 0);
const plateFrames = frames.filter((e) => e.plates.length > 0);
const cleanFrames = plateFrames.filter((e) => !has(e, 'hard'));
const hardFrames = plateFrames.filter((e) => has(e, 'hard'));
const multiPlateFrames = plateFrames.filter((e) => e.plates.length >= 2);
const plainCrops = crops.filter((e) => !has(e, 'confusable'));
const confusableCrops = crops.filter((e) => has(e, 'confusable'));

const config = configSchema.parse({});
const TOP_N = config.recognition.topN;

/** What was read, for failure messages: text, confidence, box and the first candidates of every plate. */
function describeReads(plates: PlateRead[]): string {
  if (plates.length === 0) return '(no plates)';
  return plates
    .map((p) => `${p.text} ${p.confidence}% at ${JSON.stringify(p.box)} [${p.candidates.map((c) => c.text).join(',')}]`)
    .join('; ');
}

function expectWellFormedPlate(p: PlateRead, frame: { width: number; height: number } | undefined, topN: number): void {
  expect(p.text).toMatch(/^[A-Z0-9]+$/);
  expect(p.confidence).toBeGreaterThanOrEqual(0);
  expect(p.confidence).toBeLessThanOrEqual(100);
  for (const k of ['x', 'y', 'width', 'height'] as const) expect(Number.isFinite(p.box[k])).toBe(true);
  expect(p.box.x).toBeGreaterThanOrEqual(0);
  expect(p.box.y).toBeGreaterThanOrEqual(0);
  expect(p.box.width).toBeGreaterThan(0);
  expect(p.box.height).toBeGreaterThan(0);
  if (frame) {
    expect(p.box.x + p.box.width).toBeLessThanOrEqual(frame.width + 1);
    expect(p.box.y + p.box.height).toBeLessThanOrEqual(frame.height + 1);
  }
  expect(p.candidates.length).toBeGreaterThanOrEqual(1);
  expect(p.candidates.length).toBeLessThanOrEqual(topN);
  // The plate's text is its best candidate (the CLI prints the others as "also").
  expect(p.candidates[0]!.text).toBe(p.text);
  for (const c of p.candidates) {
    expect(c.text).toMatch(/^[A-Z0-9]+$/);
    expect(c.confidence).toBeGreaterThanOrEqual(0);
    expect(c.confidence).toBeLessThanOrEqual(100);
  }
  expect(new Set(p.candidates.map((c) => c.text)).size).toBe(p.candidates.length);
}

function expectWellFormedFrame(r: FrameResult, topN = TOP_N): void {
  expect(r.width).toBeGreaterThan(0);
  expect(r.height).toBeGreaterThan(0);
  expect(r.ms).toBeGreaterThanOrEqual(0);
  expect(Array.isArray(r.plates)).toBe(true);
  for (const p of r.plates) expectWellFormedPlate(p, r, topN);
}

/** Minimal valid PNG (signature, IHDR, IEND) whose header claims the given size; it holds no pixel data at all. */
function pngHeaderOnly(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (buf: Buffer) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

let recognizer: Recognizer;
let tmp: string;

beforeAll(async () => {
  recognizer = await Recognizer.create(config.recognition);
  tmp = mkdtempSync(path.join(tmpdir(), 'alpr-edge-recognizer-test-'));
});

afterAll(async () => {
  await recognizer?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Each frame is recognized once; several tests look at the same result. */
const frameResults = new Map<string, Promise<FrameResult>>();
function recognizeEntry(e: ManifestEntry): Promise<FrameResult> {
  let r = frameResults.get(e.file);
  if (!r) {
    r = recognizer.recognizeFile(path.join(FIXTURES, e.file), { country: e.country });
    frameResults.set(e.file, r);
  }
  return r;
}

describe('recognizer: whole frames', () => {
  it('the manifest has every kind of fixture these tests rely on', () => {
    expect(cleanFrames.length).toBeGreaterThan(0);
    expect(hardFrames.length).toBeGreaterThan(0);
    expect(emptyFrames.length).toBeGreaterThan(0);
    expect(multiPlateFrames.length).toBeGreaterThan(0);
    expect(plainCrops.length).toBeGreaterThan(0);
    expect(confusableCrops.length).toBeGreaterThan(0);
  });

  it.each(cleanFrames)('reads every plate of $file where it is', async (e) => {
    const r = await recognizeEntry(e);
    expectWellFormedFrame(r);
    for (const truth of e.plates) {
      const hit = r.plates.find((p) => p.text === truth.text && iou(p.box, truth.box) > 0.4);
      expect(hit, `${e.file}: expected ${truth.text} at ${JSON.stringify(truth.box)}; read ${describeReads(r.plates)}`).toBeDefined();
    }
  });

  it.each(hardFrames)('hard frame $file: completes, well formed, the truth among the top-N candidates at the plate', async (e) => {
    const r = await recognizeEntry(e);
    expectWellFormedFrame(r);
    for (const truth of e.plates) {
      const hit = r.plates.find(
        (p) => iou(p.box, truth.box) > 0.4 && p.candidates.some((c) => c.text === truth.text),
      );
      expect(hit, `${e.file}: expected ${truth.text} among the candidates; read ${describeReads(r.plates)}`).toBeDefined();
    }
  });

  it.each(emptyFrames)('finds no plate in the empty frame $file', async (e) => {
    const r = await recognizeEntry(e);
    expectWellFormedFrame(r);
    expect(r.plates, `${e.file}: read ${describeReads(r.plates)}`).toHaveLength(0);
  });

  it.each(multiPlateFrames)('reads both plates of $file as two separate plates', async (e) => {
    const r = await recognizeEntry(e);
    const hits = e.plates.map((truth) => r.plates.find((p) => p.text === truth.text && iou(p.box, truth.box) > 0.4));
    const expected = e.plates.map((p) => p.text).join(' + ');
    for (const hit of hits) expect(hit, `${e.file}: expected ${expected}; read ${describeReads(r.plates)}`).toBeDefined();
    expect(new Set(hits).size).toBe(e.plates.length);
  });

  it.each(cleanFrames.filter((e) => e.country === 'us'))(
    'does not report the state name or slogan printed on the plate of $file as a plate of its own',
    async (e) => {
      const r = await recognizeEntry(e);
      for (const truth of e.plates) {
        const onPlate = r.plates.filter((p) => p.text !== truth.text && iou(p.box, truth.box) > 0 && p.box.height < truth.box.height * 0.6);
        expect(onPlate, `${e.file}: small print read as plates: ${describeReads(onPlate)}`).toEqual([]);
      }
    },
  );

  it.each(plainCrops)('reads the close-up $file handed over as a whole frame', async (e) => {
    const r = await recognizer.recognizeFile(path.join(FIXTURES, e.file), { country: e.country });
    expect(r.plates.map((p) => p.text), `${e.file}: read ${describeReads(r.plates)}`).toContain(e.plates[0]!.text);
  });

  it('also reads plates with the optional plate cascade switched on', async () => {
    const withCascade = await Recognizer.create(configSchema.parse({ recognition: { detector: { cascade: true } } }).recognition);
    try {
      const e = cleanFrames.find((f) => f.file.includes('eu-fr-clean')) ?? cleanFrames[0]!;
      const r = await withCascade.recognizeFile(path.join(FIXTURES, e.file), { country: e.country });
      expect(r.plates.map((p) => p.text)).toContain(e.plates[0]!.text);
    } finally {
      await withCascade.close();
    }
  });

  it('reports the frame size and honours topN', async () => {
    const e = cleanFrames[0]!;
    const r = await recognizer.recognizeFile(path.join(FIXTURES, e.file), { country: e.country, topN: 3 });
    const mat = await readImageFile(path.join(FIXTURES, e.file), config.recognition);
    expect({ width: r.width, height: r.height }).toEqual({ width: mat.cols, height: mat.rows });
    expectWellFormedFrame(r, 3);
    expect(r.plates.length).toBeGreaterThan(0);
  });
});

describe('recognizer: plate crops', () => {
  it.each(plainCrops)('reads the crop $file as its plate (top 1)', async (e) => {
    const truth = e.plates[0]!.text;
    const mat = await readImageFile(path.join(FIXTURES, e.file), config.recognition);
    const read = await recognizer.readCrop(mat, { country: e.country });
    expect(read, `${e.file}: nothing read`).toBeDefined();
    expectWellFormedPlate(read!, { width: mat.cols, height: mat.rows }, TOP_N);
    expect(read!.text, `${e.file}: read ${describeReads([read!])}`).toBe(truth);
  });

  it.each(confusableCrops)('offers the truth of the confusable crop $file among the top-N candidates', async (e) => {
    const truth = e.plates[0]!.text;
    const mat = await readImageFile(path.join(FIXTURES, e.file), config.recognition);
    const read = await recognizer.readCrop(mat, { country: e.country });
    expect(read, `${e.file}: nothing read`).toBeDefined();
    expectWellFormedPlate(read!, { width: mat.cols, height: mat.rows }, TOP_N);
    expect(
      read!.candidates.map((c) => c.text),
      `${e.file}: expected ${truth} among the candidates; read ${describeReads([read!])}`,
    ).toContain(truth);
  });
});

describe('recognizer: bad input is refused with a clear ImageError', () => {
  async function refusal(file: string): Promise<ImageError> {
    try {
      await recognizer.recognizeFile(file);
    } catch (err) {
      expect(err).toBeInstanceOf(ImageError);
      return err as ImageError;
    }
    throw new Error(`${file} was accepted`);
  }

  it.each([
    ['bad/empty.jpg', /empty file/],
    ['bad/text.jpg', /not an image/],
    ['bad/truncated.jpg', /truncated JPEG/],
    ['bad/tiny.png', /image too small \(1x1\)/],
  ])('%s', async (file, message) => {
    expect((await refusal(path.join(FIXTURES, file))).message).toMatch(message);
  });

  it('a missing file', async () => {
    expect((await refusal(path.join(FIXTURES, 'plates', 'no-such-frame.jpg'))).message).toMatch(/no such file/);
  });

  it('a directory', async () => {
    const dir = path.join(tmp, 'frame.jpg');
    mkdirSync(dir);
    expect((await refusal(dir)).message).toMatch(/not a regular file/);
  });

  it('a PNG whose header claims 100000x100000 pixels is refused from its header, without decoding', async () => {
    // The file holds no pixel data: only the header check can say "too large"; decoding would fail differently.
    const file = path.join(tmp, 'huge-header.png');
    writeFileSync(file, pngHeaderOnly(100_000, 100_000));
    const err = await refusal(file);
    expect(err.message).toMatch(/too large/);
    expect(err.message).toContain('100000x100000');
  });

  it('a real 9000x6000 PNG (54 Mpixels, over the 50 Mpixel default) is refused as too large', async () => {
    const file = path.join(tmp, 'huge.png');
    // A Mat over a zeroed buffer: filling a 54 Mpixel Mat element by element takes seconds.
    cv.imwrite(file, new cv.Mat(Buffer.alloc(9000 * 6000), 6000, 9000, cv.CV_8UC1));
    const err = await refusal(file);
    expect(err.message).toMatch(/too large/);
    expect(err.message).toContain('9000x6000');
  });

  it('after all those refusals the same recognizer still reads a good frame', async () => {
    const e = cleanFrames.find((x) => x.file.includes('1080p') && x.country === 'us') ?? cleanFrames[0]!;
    const r = await recognizer.recognizeFile(path.join(FIXTURES, e.file), { country: e.country });
    expectWellFormedFrame(r);
    const truth = e.plates[0]!;
    const hit = r.plates.find((p) => p.text === truth.text && iou(p.box, truth.box) > 0.4);
    expect(hit, `${e.file}: expected ${truth.text}; read ${describeReads(r.plates)}`).toBeDefined();
  });
});

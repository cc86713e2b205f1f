/**
 * The project's own plate recognizer (issue #15 item 3): a small convolutional CTC model trained by
 * scripts/plate-model/train.py on plates drawn by scripts/plate-model/generate.py, committed as models/plate-ctc.onnx
 * with its description models/plate-ctc.json (alphabet, input size, normalisation, how it was trained). Run with
 * onnxruntime-node on the CPU, one thread. It reads one row of plate characters (or a whole plate crop) into the
 * plate alphabet, with per-character alternatives from its per-step probabilities, like PpOcr.readLine.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { cv, type Mat } from './cv.js';
import { OcrSetupError, PLATE_CHARSET } from './ocr.js';
import { decodeCtc, ONE_CORE, type RecLine } from './ppocr.js';
import { packageRoot } from '../util/paths.js';

type Ort = typeof import('onnxruntime-node');

export const PLATE_CTC_FILE = 'plate-ctc.onnx';

/** What models/plate-ctc.json says about the model (written by train.py --export). */
export interface PlateCtcMeta {
  alphabet: string;
  blank: number;
  input: { channels: number; height: number; width: number };
}

/** The committed model, or the file named in recognition.ocr.plateModel. */
export function plateCtcFile(configured = ''): string {
  return configured ? path.resolve(configured) : path.join(packageRoot(), 'models', PLATE_CTC_FILE);
}

/** The description next to the model: same name, .json. */
export function plateCtcMetaFile(model: string): string {
  return model.replace(/\.onnx$/i, '') + '.json';
}

function firstLine(err: unknown): string {
  return ((err as Error)?.message ?? String(err)).split('\n')[0]!.slice(0, 200);
}

function readMeta(file: string, model: string): PlateCtcMeta {
  if (!existsSync(file) || !statSync(file).isFile()) {
    throw new OcrSetupError(
      `plate-ctc model description ${file} is missing; the plate-ctc engine needs it beside ${model} (written by scripts/plate-model/train.py --export)`,
    );
  }
  let meta: PlateCtcMeta;
  try {
    meta = JSON.parse(readFileSync(file, 'utf8')) as PlateCtcMeta;
  } catch (err) {
    throw new OcrSetupError(`plate-ctc model description ${file} is not JSON (${firstLine(err)})`);
  }
  const alphabet = meta?.alphabet;
  const inp = meta?.input;
  const ok =
    typeof alphabet === 'string' &&
    alphabet.length >= 10 &&
    [...alphabet].every((c) => PLATE_CHARSET.includes(c)) &&
    meta.blank === 0 &&
    inp?.channels === 1 &&
    Number.isInteger(inp.height) &&
    Number.isInteger(inp.width) &&
    inp.height >= 8 &&
    inp.height <= 256 &&
    inp.width >= 16 &&
    inp.width <= 1024;
  if (!ok) {
    throw new OcrSetupError(
      `plate-ctc model description ${file} is not one train.py writes: expected an alphabet of plate characters (A-Z 0-9), ` +
        'blank 0 and input {channels: 1, height, width}',
    );
  }
  return meta;
}

let ortModule: Promise<Ort> | undefined;

function loadOrt(): Promise<Ort> {
  ortModule ??= import('onnxruntime-node').catch((err: unknown) => {
    ortModule = undefined;
    throw new OcrSetupError(
      `onnxruntime-node failed to load (${firstLine(err)}); the plate-ctc engine needs it ` +
        '(install it with ONNXRUNTIME_NODE_INSTALL=skip), or set recognition.ocr.engine to tesseract',
    );
  });
  return ortModule;
}

/** The plate-ctc model's session, with its pre- and post-processing. */
export class PlateCtc {
  /** For each model class, the index of its character in PLATE_CHARSET (-1 for the blank). */
  private readonly plateIndex: Int16Array;
  /** Model runs so far. */
  readonly runs = { rec: 0 };

  private constructor(
    private readonly ort: Ort,
    private readonly session: InferenceSession,
    readonly meta: PlateCtcMeta,
    readonly file: string,
    /** Time steps per input, checked at load. */
    readonly steps: number,
  ) {
    this.plateIndex = new Int16Array(meta.alphabet.length + 1).fill(-1);
    [...meta.alphabet].forEach((ch, i) => (this.plateIndex[i + 1] = PLATE_CHARSET.indexOf(ch)));
  }

  /**
   * Loads the model (recognition.ocr.plateModel, else models/plate-ctc.onnx) and its description, and checks
   * them: the model must load and, for a zero 1x1xHxW input, give [1, T, classes] with classes = the alphabet
   * plus blank and T at least 8. Any failure is an OcrSetupError naming the file and what was expected.
   */
  static async create(configured = ''): Promise<PlateCtc> {
    const file = plateCtcFile(configured);
    if (!existsSync(file) || !statSync(file).isFile()) {
      throw new OcrSetupError(
        `plate-ctc model file ${file} is missing (${configured ? 'recognition.ocr.plateModel' : 'the committed models/plate-ctc.onnx'}); ` +
          'expected the ONNX file written by scripts/plate-model/train.py --export, or set recognition.ocr.engine to ppocr',
      );
    }
    const meta = readMeta(plateCtcMetaFile(file), file);
    const ort = await loadOrt();
    let session: InferenceSession;
    try {
      session = await ort.InferenceSession.create(file, ONE_CORE);
    } catch (err) {
      throw new OcrSetupError(`cannot load the plate-ctc model ${file}: ${firstLine(err)} (expected an ONNX model)`);
    }
    const { height, width } = meta.input;
    const classes = meta.alphabet.length + 1;
    const expected = `expected [1,T,${classes}] (T >= 8 steps; the ${meta.alphabet.length} characters of its alphabet plus the CTC blank)`;
    let dims: readonly number[];
    try {
      const input = new ort.Tensor('float32', new Float32Array(height * width), [1, 1, height, width]);
      const out = await session.run({ [session.inputNames[0]!]: input });
      dims = out[session.outputNames[0]!]!.dims;
    } catch (err) {
      await session.release().catch(() => undefined);
      throw new OcrSetupError(
        `the plate-ctc model ${file} fails on a 1x1x${height}x${width} input, the size ${plateCtcMetaFile(file)} gives (${firstLine(err)}); ${expected}`,
      );
    }
    if (dims.length !== 3 || dims[0] !== 1 || dims[1]! < 8 || dims[2] !== classes) {
      await session.release().catch(() => undefined);
      throw new OcrSetupError(
        `the plate-ctc model ${file} gives output [${dims.join(',')}] for a 1x1x${height}x${width} input; ${expected}`,
      );
    }
    return new PlateCtc(ort, session, meta, file, dims[1]!);
  }

  /**
   * The model's input for an image (grey or BGR): grey, stretched to the model's width x height (as train.py's
   * generator hands its crops), scaled to [-1, 1].
   */
  preprocess(img: Mat): Float32Array {
    const { height, width } = this.meta.input;
    if (img.rows < 2 || img.cols < 2) throw new Error(`plate-ctc: image ${img.cols}x${img.rows} is too small to read`);
    const gray = img.channels === 1 ? img : img.channels === 4 ? img.cvtColor(cv.COLOR_BGRA2GRAY) : img.bgrToGray();
    const shrink = gray.cols > width || gray.rows > height;
    const resized = gray.resize(height, width, 0, 0, shrink ? cv.INTER_AREA : cv.INTER_CUBIC);
    const px = resized.getData();
    const data = new Float32Array(height * width);
    for (let i = 0; i < data.length; i++) data[i] = px[i]! / 127.5 - 1;
    return data;
  }

  /** Raw probabilities [T, classes] for one image. */
  async probabilities(img: Mat): Promise<{ p: Float32Array; steps: number; classes: number }> {
    const data = this.preprocess(img);
    const { height, width } = this.meta.input;
    this.runs.rec++;
    const input = new this.ort.Tensor('float32', data, [1, 1, height, width]);
    let out: Tensor;
    try {
      out = (await this.session.run({ [this.session.inputNames[0]!]: input }))[this.session.outputNames[0]!]!;
    } catch (err) {
      throw new Error(`plate-ctc model ${path.basename(this.file)} failed on a ${img.cols}x${img.rows} crop: ${firstLine(err)}`);
    }
    const [, steps, classes] = out.dims as [number, number, number];
    if (classes !== this.meta.alphabet.length + 1 || steps !== this.steps) {
      throw new Error(`plate-ctc output [${out.dims.join(',')}], expected [1,${this.steps},${this.meta.alphabet.length + 1}]`);
    }
    return { p: out.data as Float32Array, steps, classes };
  }

  /**
   * Reads one line of plate characters: greedy CTC decoding; each character's alternatives are the classes the
   * model gave most probability at the steps where it read it (so top-N candidates come from the model, as with
   * PpOcr.readLine). Character extents are in the image's own coordinates.
   */
  async readLine(img: Mat): Promise<RecLine> {
    const { p, steps, classes } = await this.probabilities(img);
    return decodeCtc(p, steps, classes, this.plateIndex, img.cols / steps);
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

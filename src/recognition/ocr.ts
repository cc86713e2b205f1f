import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import Tesseract from 'tesseract.js';
import type { CharReading } from './candidates.js';

/** Characters that occur on plates; the OCR is told to read nothing else. */
export const PLATE_CHARSET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

export class OcrSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OcrSetupError';
  }
}

export interface OcrLine {
  text: string;
  /** Mean character confidence, 0-100. */
  confidence: number;
  chars: CharReading[];
}

interface TessdataLocation {
  langPath: string;
  gzip: boolean;
}

/**
 * Where eng.traineddata is. Never a download: an explicit folder from the config, or the copy in the npm package
 * @tesseract.js-data/eng. A missing file is a clear error, raised before any worker starts.
 */
export function locateTessdata(folder: string): TessdataLocation {
  if (folder) {
    const dir = path.resolve(folder);
    if (existsSync(path.join(dir, 'eng.traineddata'))) return { langPath: dir, gzip: false };
    if (existsSync(path.join(dir, 'eng.traineddata.gz'))) return { langPath: dir, gzip: true };
    throw new OcrSetupError(
      `no eng.traineddata or eng.traineddata.gz in ${dir} (recognition.ocr.tessdata); ` +
        'point it at a folder that has one, e.g. /usr/share/tesseract-ocr/5/tessdata, or leave it empty to use the npm package @tesseract.js-data/eng',
    );
  }
  let pkgDir: string;
  try {
    pkgDir = path.dirname(createRequire(import.meta.url).resolve('@tesseract.js-data/eng/package.json'));
  } catch {
    throw new OcrSetupError('the npm package @tesseract.js-data/eng is not installed; run the set-up script (scripts/setup.sh)');
  }
  const dir = path.join(pkgDir, '4.0.0_best_int');
  if (!existsSync(path.join(dir, 'eng.traineddata.gz'))) {
    throw new OcrSetupError(`eng.traineddata.gz is missing from ${dir}; reinstall with the set-up script`);
  }
  return { langPath: dir, gzip: true };
}

/**
 * A pool of tesseract.js workers (each a worker thread running tesseract's WebAssembly build), reading single
 * lines of plate characters. The pool never fetches anything: traineddata comes from a local folder.
 */
export class OcrPool {
  private constructor(
    private readonly scheduler: Tesseract.Scheduler,
    readonly size: number,
  ) {}

  static async create(size: number, tessdata: string): Promise<OcrPool> {
    const where = locateTessdata(tessdata);
    const scheduler = Tesseract.createScheduler();
    const workers = await Promise.all(
      Array.from({ length: size }, async () => {
        const worker = await Tesseract.createWorker('eng', Tesseract.OEM.LSTM_ONLY, {
          langPath: where.langPath,
          gzip: where.gzip,
          cacheMethod: 'none',
          errorHandler: () => undefined,
        });
        await worker.setParameters({
          tessedit_pageseg_mode: Tesseract.PSM.SINGLE_LINE,
          tessedit_char_whitelist: PLATE_CHARSET,
          // Per-character alternatives from the LSTM, written into the hOCR output.
          lstm_choice_mode: '2',
          hocr_char_boxes: '1',
          user_defined_dpi: '300',
        });
        return worker;
      }),
    );
    for (const w of workers) scheduler.addWorker(w);
    return new OcrPool(scheduler, size);
  }

  /** Reads one line of plate characters from an encoded image (PNG). */
  async readLine(png: Buffer): Promise<OcrLine> {
    const result = await this.scheduler.addJob('recognize', png, {}, { hocr: true, text: true, blocks: false });
    const chars = parseHocrChars(result.data.hocr ?? '');
    const text = chars.map((c) => c.choices[0]?.ch ?? '').join('');
    const confidence = chars.length ? chars.reduce((s, c) => s + (c.choices[0]?.p ?? 0), 0) / chars.length : 0;
    return { text, confidence: Math.round(confidence * 1000) / 10, chars };
  }

  async close(): Promise<void> {
    await this.scheduler.terminate();
  }
}

const CHAR_SPAN = /<span class='ocrx_cinfo'(?: id='([^']*)')? title='([^']*)'>([^<]*)<\/span>/g;

/**
 * Characters and their LSTM alternatives from tesseract's hOCR (lstm_choice_mode=2): each character span
 * (x_bboxes ...; x_conf C) is followed by its choice spans (x_confs C).
 */
export function parseHocrChars(hocr: string): CharReading[] {
  const out: CharReading[] = [];
  for (const m of hocr.matchAll(CHAR_SPAN)) {
    const id = m[1] ?? '';
    const title = m[2] ?? '';
    const ch = decodeEntities(m[3] ?? '').trim();
    if (!ch || !/^[A-Z0-9]$/.test(ch)) continue;
    if (!id.startsWith('choice_')) {
      const conf = Number(/x_conf ([0-9.]+)/.exec(title)?.[1] ?? 0);
      const box = /x_bboxes (-?\d+) -?\d+ (-?\d+)/.exec(title);
      out.push({
        choices: [{ ch, p: clampP(conf / 100) }],
        ...(box ? { x0: Number(box[1]), x1: Number(box[2]) } : {}),
      });
      continue;
    }
    const current = out[out.length - 1];
    if (!current) continue;
    const best = current.choices[0]!;
    if (current.choices.some((c) => c.ch === ch)) continue;
    const conf = Number(/x_confs ([0-9.]+)/.exec(title)?.[1] ?? 0);
    // Alternatives share what the first choice leaves unexplained, in proportion to their own score.
    current.choices.push({ ch, p: clampP((1 - best.p) * (conf / 100)) });
  }
  return out;
}

function clampP(p: number): number {
  return Math.min(0.999, Math.max(0.001, p));
}

function decodeEntities(s: string): string {
  return s.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'");
}

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

export class OcrTimeoutError extends Error {
  constructor(ms: number) {
    super(`OCR took longer than ${ms} ms; its worker was replaced`);
    this.name = 'OcrTimeoutError';
  }
}

interface Job {
  png: Buffer;
  timeoutMs: number;
  resolve: (line: OcrLine) => void;
  reject: (err: Error) => void;
}

/**
 * A pool of tesseract.js workers (each a worker thread running tesseract's WebAssembly build), reading single
 * lines of plate characters. The pool never fetches anything: traineddata comes from a local folder. A job that
 * takes longer than its time limit is refused with OcrTimeoutError and its worker is terminated and replaced, so a
 * stuck worker never stalls the unit; a worker that fails is replaced the same way.
 */
export class OcrPool {
  private readonly idle: Tesseract.Worker[] = [];
  private readonly live = new Set<Tesseract.Worker>();
  private readonly queue: Job[] = [];
  private closed = false;
  private replacing = 0;

  private constructor(
    private readonly where: TessdataLocation,
    readonly size: number,
    private readonly timeoutMs: number,
  ) {}

  static async create(size: number, tessdata: string, timeoutMs = 10_000): Promise<OcrPool> {
    const pool = new OcrPool(locateTessdata(tessdata), size, timeoutMs);
    const workers = await Promise.all(Array.from({ length: size }, () => pool.startWorker()));
    pool.idle.push(...workers);
    return pool;
  }

  private async startWorker(): Promise<Tesseract.Worker> {
    const worker = await Tesseract.createWorker('eng', Tesseract.OEM.LSTM_ONLY, {
      langPath: this.where.langPath,
      gzip: this.where.gzip,
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
    this.live.add(worker);
    return worker;
  }

  /** Reads one line of plate characters from an encoded image (PNG). */
  readLine(png: Buffer, timeoutMs = this.timeoutMs): Promise<OcrLine> {
    if (this.closed) return Promise.reject(new Error('the OCR pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ png, timeoutMs, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      this.run(this.idle.pop()!, this.queue.shift()!);
    }
  }

  private run(worker: Tesseract.Worker, job: Job): void {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      job.reject(new OcrTimeoutError(job.timeoutMs));
      this.replace(worker);
    }, job.timeoutMs);
    worker.recognize(job.png, {}, { hocr: true, text: false, blocks: false }).then(
      (result) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        job.resolve(lineFromHocr(result.data.hocr ?? ''));
        this.idle.push(worker);
        this.dispatch();
      },
      (err: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        job.reject(new Error(`OCR failed: ${(err as Error)?.message ?? String(err)}`));
        this.replace(worker);
      },
    );
  }

  private replace(worker: Tesseract.Worker): void {
    this.live.delete(worker);
    void worker.terminate().catch(() => undefined);
    if (this.closed) return;
    this.replacing++;
    this.startWorker().then(
      (fresh) => {
        this.replacing--;
        if (this.closed) {
          this.live.delete(fresh);
          void fresh.terminate().catch(() => undefined);
          return;
        }
        this.idle.push(fresh);
        this.dispatch();
      },
      (err: unknown) => {
        this.replacing--;
        // Without a worker the queued jobs would wait forever: refuse them.
        if (this.idle.length === 0 && this.replacing === 0) {
          for (const job of this.queue.splice(0)) job.reject(new Error(`no OCR worker could be started: ${String(err)}`));
        }
      },
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error('the OCR pool is closed'));
    this.idle.length = 0;
    const workers = [...this.live];
    this.live.clear();
    await Promise.all(workers.map((w) => w.terminate().catch(() => undefined)));
  }
}

function lineFromHocr(hocr: string): OcrLine {
  const chars = parseHocrChars(hocr);
  const text = chars.map((c) => c.choices[0]?.ch ?? '').join('');
  const confidence = chars.length ? chars.reduce((s, c) => s + (c.choices[0]?.p ?? 0), 0) / chars.length : 0;
  return { text, confidence: Math.round(confidence * 1000) / 10, chars };
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

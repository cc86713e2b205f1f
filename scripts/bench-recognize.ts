/**
 * Scores the recognizer against ground truth in the openalpr-benchmarks layout:
 *   - a folder of whole photos, each NAME.jpg with NAME.txt: "image<TAB>x<TAB>y<TAB>w<TAB>h<TAB>PLATE";
 *   - a folder with groundtruth.csv ("file,state,PLATE") and the crops under usimages/ (OCR only);
 *   - a folder of photos with no truth at all (no .txt, no groundtruth.csv): photos without a readable plate, where
 *     every read is a false read.
 * Prints top-1 %, top-N %, detection % (IoU > 0.4 with the truth box), false reads per image, median and p90 ms
 * per image, peak memory, and how many reads had a confidence of 90 or more and how many of those were right.
 * Usage: npm run bench:recognize -- DIR [--engine ppocr|plate-ctc|tesseract] [--country us|eu|br] [--topn N] [--limit N] [--json]
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { normalizePlate } from '../src/recognition/formats.js';
import { readImageFile } from '../src/recognition/image.js';
import { Recognizer } from '../src/recognition/recognizer.js';
import { iou, type Box } from '../src/recognition/types.js';
import { scriptArgs } from './script-args.js';
import { percentile } from './stats.js';

interface Truth {
  file: string;
  plate: string;
  box?: Box;
}

function loadTruth(dir: string): { mode: 'crops' | 'frames' | 'negatives'; items: Truth[] } {
  const csv = path.join(dir, 'groundtruth.csv');
  try {
    const lines = readFileSync(csv, 'utf8').split(/\r?\n/).filter(Boolean);
    const sub = readdirSync(dir, { withFileTypes: true }).find((d) => d.isDirectory())?.name ?? '';
    return {
      mode: 'crops',
      items: lines.map((l) => {
        const [file, , plate] = l.split(',');
        return { file: path.join(dir, sub, file!), plate: normalizePlate(plate ?? '') };
      }),
    };
  } catch {
    /* not a crops folder */
  }
  const items: Truth[] = [];
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.txt')).sort()) {
    for (const line of readFileSync(path.join(dir, name), 'utf8').split(/\r?\n/).filter(Boolean)) {
      const [image, x, y, w, h, plate] = line.split('\t');
      items.push({
        file: path.join(dir, image!),
        plate: normalizePlate(plate ?? ''),
        box: { x: Number(x), y: Number(y), width: Number(w), height: Number(h) },
      });
    }
  }
  if (items.length > 0) return { mode: 'frames', items };
  const images = readdirSync(dir).filter((n) => /\.(jpe?g|png|bmp|webp)$/i.test(n)).sort();
  return { mode: 'negatives', items: images.map((n) => ({ file: path.join(dir, n), plate: '' })) };
}

const { values, positionals } = scriptArgs(import.meta.url, {
  allowPositionals: true,
  options: {
    country: { type: 'string' },
    topn: { type: 'string', default: '10' },
    limit: { type: 'string' },
    json: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
    config: { type: 'string' },
    engine: { type: 'string' },
    'row-search': { type: 'string' },
  },
});
const dir = positionals[0];
if (!dir) {
  console.error('usage: npm run bench:recognize -- DIR [--country us|eu|br] [--topn N] [--limit N] [--json]');
  process.exit(2);
}
const { mode, items: all } = loadTruth(dir);
const items = values.limit ? all.slice(0, Number(values.limit)) : all;
const base = path.basename(path.resolve(dir));
const country = (values.country ?? (base === 'br' ? 'br' : base === 'eu' ? 'eu' : 'us')) as 'us' | 'eu' | 'br';
const topN = Number(values.topn);
// The unit's configuration (--config FILE and ALPR_EDGE__* variables apply), with one OCR worker: one core.
const config = loadConfig(values.config);
const engine = (values.engine ?? config.recognition.ocr.engine) as 'ppocr' | 'plate-ctc' | 'tesseract';
const rowSearch = (values['row-search'] ?? config.recognition.ocr.rowSearch) as 'always' | 'when-unsure';
config.recognition = { ...config.recognition, country, topN, ocr: { ...config.recognition.ocr, workers: 1, engine, rowSearch } };
const recognizer = await Recognizer.create(config.recognition);

let top1 = 0;
/**
 * Top-1 counting the letter O and the digit 0 alike: many plates print them the same (Slovakia's RK-026AJ, Britain's
 * OY09 FEU), and the EU set's ground truth writes some such digits as O; the exact figure stays the measure.
 */
let top1Alike = 0;
const alike = (s: string | undefined) => s?.replace(/O/g, '0');
let topn = 0;
let detected = 0;
let falseReads = 0;
let sure = 0;
let sureRight = 0;
const times: number[] = [];
for (const t of items) {
  let texts: string[][] = [];
  let hitBox = false;
  const start = performance.now();
  try {
    if (mode === 'crops') {
      const mat = await readImageFile(t.file, config.recognition);
      const read = await recognizer.readCrop(mat, { country, topN });
      times.push(performance.now() - start);
      texts = read ? [read.candidates.map((c) => c.text)] : [];
      hitBox = read !== undefined;
      if (read && read.confidence >= 90) {
        sure++;
        if (read.text === t.plate) sureRight++;
      }
    } else if (mode === 'negatives') {
      const res = await recognizer.recognizeFile(t.file, { country, topN });
      times.push(res.ms);
      falseReads += res.plates.length;
      sure += res.plates.filter((p) => p.confidence >= 90).length;
      if (values.verbose && res.plates.length) {
        console.error(`${path.basename(t.file)} got=${res.plates.map((p) => `${p.text}@${p.confidence}`).join(',')}`);
      }
    } else {
      const res = await recognizer.recognizeFile(t.file, { country, topN });
      times.push(res.ms);
      const matched = res.plates
        .map((p) => ({ p, o: iou(p.box, t.box!) }))
        .filter((m) => m.o > 0.4 || m.p.text === t.plate)
        .sort((a, b) => b.o - a.o);
      hitBox = res.plates.some((p) => iou(p.box, t.box!) > 0.4);
      falseReads += res.plates.filter((p) => iou(p.box, t.box!) <= 0.4 && p.text !== t.plate).length;
      texts = matched.map((m) => m.p.candidates.map((c) => c.text));
      for (const p of res.plates.filter((q) => q.confidence >= 90)) {
        sure++;
        if (p.text === t.plate) sureRight++;
      }
      if (values.verbose) {
        console.error(
          `${path.basename(t.file)} truth=${t.plate} got=${res.plates.map((p) => `${p.text}@${Math.round(iou(p.box, t.box!) * 100)}`).join(',')}`,
        );
      }
    }
  } catch (err) {
    times.push(performance.now() - start);
    console.error(`${t.file}: ${(err as Error).message}`);
  }
  if (hitBox) detected++;
  if (texts[0]?.[0] === t.plate) top1++;
  if (texts[0]?.[0] !== undefined && alike(texts[0][0]) === alike(t.plate)) top1Alike++;
  if (texts.some((c) => c.includes(t.plate))) topn++;
  if (values.verbose && mode === 'crops') console.error(`${path.basename(t.file)} truth=${t.plate} got=${texts[0]?.slice(0, 3).join('|') ?? '-'}`);
}
const runs = recognizer.modelRuns;
await recognizer.close();
times.sort((a, b) => a - b);
const n = items.length;
const result = {
  set: dir,
  mode,
  engine,
  rowSearch,
  country,
  images: n,
  top1: (100 * top1) / n,
  top1OAlike0: (100 * top1Alike) / n,
  topN: (100 * topn) / n,
  topNsize: topN,
  detection: (100 * detected) / n,
  falseReadsPerImage: mode === 'crops' ? null : falseReads / n,
  readsAt90: sure,
  rightAt90: mode === 'negatives' ? 0 : sureRight,
  accuracyAt90: sure ? (100 * (mode === 'negatives' ? 0 : sureRight)) / sure : null,
  medianMs: percentile(times, 0.5),
  p90Ms: percentile(times, 0.9),
  peakRssMB: process.resourceUsage().maxRSS / 1024,
  // model runs per image: what reading costs, whatever else the machine is doing
  recRunsPerImage: runs ? runs.rec / n : null,
  detRunsPerImage: runs ? runs.det / n : null,
  // the plate model's runs as a gate (recognition.ocr.gate), and those where it found no plate
  gateRunsPerImage: runs ? runs.gate / n : null,
  gatedPerImage: runs ? runs.gated / n : null,
};
if (values.json) console.log(JSON.stringify(result));
else {
  const f = (x: number) => x.toFixed(1);
  console.log(`set ${dir} (${mode}, ${n} images, country ${country}, engine ${engine})`);
  console.log(`top-1 ${f(result.top1)}% (O and 0 alike: ${f(result.top1OAlike0)}%)  top-${topN} ${f(result.topN)}%  detection ${f(result.detection)}%` +
    (result.falseReadsPerImage !== null ? `  false reads/image ${result.falseReadsPerImage.toFixed(2)}` : ''));
  console.log(`median ${f(result.medianMs)} ms  p90 ${f(result.p90Ms)} ms  peak RSS ${f(result.peakRssMB)} MB`);
  console.log(`reads at confidence >= 90: ${sure}, right ${result.rightAt90}` + (result.accuracyAt90 !== null ? ` (${f(result.accuracyAt90)}%)` : ''));
  if (runs) console.log(`model runs per image: recognizer ${result.recRunsPerImage!.toFixed(2)}, detector ${result.detRunsPerImage!.toFixed(2)}, gate ${result.gateRunsPerImage!.toFixed(2)} (no plate: ${result.gatedPerImage!.toFixed(2)}) (row search: ${rowSearch})`);
}

/**
 * Scores the recognizer against ground truth in the openalpr-benchmarks layout:
 *   - a folder of whole photos, each NAME.jpg with NAME.txt: "image<TAB>x<TAB>y<TAB>w<TAB>h<TAB>PLATE";
 *   - a folder with groundtruth.csv ("file,state,PLATE") and the crops under usimages/ (OCR only).
 * Prints top-1 %, top-N %, detection % (IoU > 0.4 with the truth box), false reads per image, median and p90 ms
 * per image and peak memory. Usage: npm run bench:recognize -- DIR [--country us|eu|br] [--topn N] [--limit N] [--json]
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/load.js';
import { normalizePlate } from '../src/recognition/formats.js';
import { readImageFile } from '../src/recognition/image.js';
import { Recognizer } from '../src/recognition/recognizer.js';
import { iou, type Box } from '../src/recognition/types.js';

interface Truth {
  file: string;
  plate: string;
  box?: Box;
}

function loadTruth(dir: string): { mode: 'crops' | 'frames'; items: Truth[] } {
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
  return { mode: 'frames', items };
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    country: { type: 'string' },
    topn: { type: 'string', default: '10' },
    limit: { type: 'string' },
    json: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
    config: { type: 'string' },
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
config.recognition = { ...config.recognition, country, topN, ocr: { ...config.recognition.ocr, workers: 1 } };
const recognizer = await Recognizer.create(config.recognition);

let top1 = 0;
let topn = 0;
let detected = 0;
let falseReads = 0;
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
  if (texts.some((c) => c.includes(t.plate))) topn++;
  if (values.verbose && mode === 'crops') console.error(`${path.basename(t.file)} truth=${t.plate} got=${texts[0]?.slice(0, 3).join('|') ?? '-'}`);
}
await recognizer.close();
times.sort((a, b) => a - b);
const n = items.length;
const result = {
  set: dir,
  mode,
  country,
  images: n,
  top1: (100 * top1) / n,
  topN: (100 * topn) / n,
  topNsize: topN,
  detection: (100 * detected) / n,
  falseReadsPerImage: mode === 'frames' ? falseReads / n : null,
  medianMs: percentile(times, 0.5),
  p90Ms: percentile(times, 0.9),
  peakRssMB: process.resourceUsage().maxRSS / 1024,
};
if (values.json) console.log(JSON.stringify(result));
else {
  const f = (x: number) => x.toFixed(1);
  console.log(`set ${dir} (${mode}, ${n} images, country ${country})`);
  console.log(`top-1 ${f(result.top1)}%  top-${topN} ${f(result.topN)}%  detection ${f(result.detection)}%` +
    (result.falseReadsPerImage !== null ? `  false reads/image ${result.falseReadsPerImage.toFixed(2)}` : ''));
  console.log(`median ${f(result.medianMs)} ms  p90 ${f(result.p90Ms)} ms  peak RSS ${f(result.peakRssMB)} MB`);
}

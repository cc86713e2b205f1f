/**
 * Time per 1080p frame through the recognizer (decode, plate finding, OCR), on the generated fixtures:
 * a frame with one plate and a frame with none. Run it on one core (`npm run bench:frame` uses taskset) to compare
 * with the targets: <= 60 ms median with a plate, <= 15 ms with none.
 *   npm run bench:frame [-- --runs N] [--config FILE]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { decodeImage } from '../src/recognition/image.js';
import { Recognizer } from '../src/recognition/recognizer.js';
import { packageRoot } from '../src/util/paths.js';
import { scriptArgs } from './script-args.js';
import { percentile } from './stats.js';

const { values } = scriptArgs(import.meta.url, { options: { runs: { type: 'string', default: '30' }, config: { type: 'string' } } });
const runs = Number(values.runs);
const config = loadConfig(values.config);
config.recognition = { ...config.recognition, ocr: { ...config.recognition.ocr, workers: 1 } };
const recognizer = await Recognizer.create(config.recognition);
const fixtures = path.join(packageRoot(), 'test-fixtures');
const cases = [
  { name: '1080p, one plate (us-ca-1080p)', file: 'plates/us-ca-1080p.jpg', country: 'us' as const },
  { name: '1080p, one plate (eu-fr-1080p)', file: 'plates/eu-fr-1080p.jpg', country: 'eu' as const },
  { name: '1080p, no plate (street-1080p)', file: 'empty/street-1080p.jpg', country: 'us' as const },
];
const stat = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: percentile(s, 0.5), p90: percentile(s, 0.9) };
};
console.log(`| frame | decode+read median ms | p90 ms | read only (decoded) median ms | plates |`);
console.log(`|---|---|---|---|---|`);
for (const c of cases) {
  const buf = readFileSync(path.join(fixtures, c.file));
  const decoded = decodeImage(buf, config.recognition);
  await recognizer.recognizeBuffer(buf, { country: c.country });
  const total: number[] = [];
  const readOnly: number[] = [];
  let plates: string[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await recognizer.recognizeBuffer(buf, { country: c.country });
    total.push(r.ms);
    plates = r.plates.map((p) => p.text);
    const t0 = performance.now();
    await recognizer.recognizeMat(decoded, { country: c.country });
    readOnly.push(performance.now() - t0);
  }
  const t = stat(total);
  console.log(`| ${c.name} | ${t.median.toFixed(1)} | ${t.p90.toFixed(1)} | ${stat(readOnly).median.toFixed(1)} | ${plates.join(' ') || '-'} |`);
}
await recognizer.close();
console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB, ${runs} runs each`);

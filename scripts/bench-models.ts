/**
 * Time per run of each ONNX model the reader uses, on one core, with no image work around it: PP-OCR's recognizer
 * as shipped and as folded when it loads (recognition.ocr.foldModel, src/recognition/onnx-fold.ts) at the row widths
 * the reader gives it, PP-OCR's text detector, and the plate model (the gate). The two recognizers run in turn,
 * round after round, so that the machine's load falls on both alike; the ratio is the figure to compare across
 * machines. Inputs are seeded noise (a model's time does not depend on its input's values).
 *   npm run bench:models [-- --rounds N] [--widths 96,192,256,320]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { foldElementwise } from '../src/recognition/onnx-fold.js';
import { locatePpocrModels, ONE_CORE, REC_HEIGHT } from '../src/recognition/ppocr.js';
import { packageRoot } from '../src/util/paths.js';
import { scriptArgs } from './script-args.js';
import { percentile } from './stats.js';
import { mulberry32 } from './seeded-random.js';

const { values } = scriptArgs(import.meta.url, {
  options: { rounds: { type: 'string', default: '30' }, widths: { type: 'string', default: '96,192,256,320' } },
});
const rounds = Number(values.rounds);
const widths = values.widths.split(',').map(Number);
const files = locatePpocrModels('');
const rand = mulberry32(1);

const t0 = performance.now();
const folded = foldElementwise(readFileSync(files.rec));
const foldMs = performance.now() - t0;
const sessions = {
  shipped: await ort.InferenceSession.create(files.rec, ONE_CORE),
  folded: await ort.InferenceSession.create(folded.model, ONE_CORE),
  det: await ort.InferenceSession.create(files.det, ONE_CORE),
  gate: await ort.InferenceSession.create(path.join(packageRoot(), 'models', 'plate-ctc.onnx'), ONE_CORE),
};
const input = (dims: number[]) => new ort.Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b) }, () => rand() * 2 - 1), dims);
const cases = [
  ...widths.flatMap((w) => (['shipped', 'folded'] as const).map((s) => ({ name: `recognizer ${s}, 48x${w}`, session: sessions[s], tensor: input([1, 3, REC_HEIGHT, w]) }))),
  { name: 'text detector, 128x320 (a plate region)', session: sessions.det, tensor: input([1, 3, 128, 320]) },
  { name: 'plate model (gate), 32x128', session: sessions.gate, tensor: input([1, 1, 32, 128]) },
];
const times = cases.map(() => [] as number[]);
for (let round = -2; round < rounds; round++) {
  for (const [i, c] of cases.entries()) {
    const start = performance.now();
    await c.session.run({ [c.session.inputNames[0]!]: c.tensor });
    if (round >= 0) times[i]!.push(performance.now() - start);
  }
}
const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 0.5);
console.log('| model, input | median ms | p90 ms |');
console.log('|---|---|---|');
for (const [i, c] of cases.entries()) {
  const s = [...times[i]!].sort((a, b) => a - b);
  console.log(`| ${c.name} | ${percentile(s, 0.5).toFixed(2)} | ${percentile(s, 0.9).toFixed(2)} |`);
}
for (const w of widths) {
  const [a, b] = [cases.findIndex((c) => c.name === `recognizer shipped, 48x${w}`), cases.findIndex((c) => c.name === `recognizer folded, 48x${w}`)];
  console.log(`recognizer 48x${w}: folded / shipped ${(median(times[b]!) / median(times[a]!)).toFixed(2)}`);
}
console.log(
  `folding took ${foldMs.toFixed(0)} ms (${folded.stats.convAffine} scale-and-shift steps after, ${folded.stats.affineConv} before a convolution, ${folded.stats.hardswish} hardswish); ${rounds} rounds; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`,
);
for (const s of Object.values(sessions)) await s.release();

/**
 * The plate's state (issue #15 item 4), measured on plate crops whose groundtruth.csv gives each plate's state
 * ("file,state,PLATE", the openalpr-benchmarks seg_and_ocr layout): the share of crops for which a state is read,
 * how many of those are right, and the same at each confidence level. The plate number's own reading is measured
 * by bench:recognize.
 *   npm run bench:state -- DIR [--limit N] [--json]
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { readImageFile } from '../src/recognition/image.js';
import { Recognizer } from '../src/recognition/recognizer.js';
import { scriptArgs } from './script-args.js';

const { values, positionals } = scriptArgs(import.meta.url, {
  allowPositionals: true,
  options: { limit: { type: 'string' }, json: { type: 'boolean', default: false }, config: { type: 'string' } },
});
const dir = positionals[0];
if (!dir) {
  console.error('usage: npm run bench:state -- DIR (a folder with groundtruth.csv "file,state,PLATE" and the crops)');
  process.exit(2);
}
const sub = readdirSync(dir, { withFileTypes: true }).find((d) => d.isDirectory())?.name ?? '';
let items = readFileSync(path.join(dir, 'groundtruth.csv'), 'utf8')
  .split(/\r?\n/)
  .filter(Boolean)
  .map((l) => {
    const [file, state] = l.split(',');
    return { file: path.join(dir, sub, file!), state: (state ?? '').toUpperCase() };
  });
if (values.limit) items = items.slice(0, Number(values.limit));

const config = loadConfig(values.config);
const recognizer = await Recognizer.create(config.recognition);
const levels = [0, 0.5, 0.7, 0.8, 0.9];
const at = levels.map(() => ({ given: 0, right: 0 }));
let given = 0;
let right = 0;
const wrong: string[] = [];
const t0 = performance.now();
for (const item of items) {
  const read = await recognizer.readCrop(await readImageFile(item.file, config.recognition), { country: 'us' });
  const s = read?.state;
  if (!s) continue;
  given++;
  const ok = s.code === item.state;
  if (ok) right++;
  else if (wrong.length < 40) wrong.push(`${path.basename(item.file)}: ${s.code} (${s.confidence}) for ${item.state}`);
  levels.forEach((l, i) => {
    if (s.confidence >= l) {
      at[i]!.given++;
      if (ok) at[i]!.right++;
    }
  });
}
await recognizer.close();
const pct = (a: number, b: number) => (b === 0 ? '-' : `${((100 * a) / b).toFixed(1)}%`);
const result = {
  crops: items.length,
  stateGiven: given,
  stateGivenShare: pct(given, items.length),
  right,
  rightShareOfGiven: pct(right, given),
  byConfidence: levels.map((l, i) => ({ atLeast: l, given: at[i]!.given, share: pct(at[i]!.given, items.length), right: pct(at[i]!.right, at[i]!.given) })),
  seconds: Math.round((performance.now() - t0) / 100) / 10,
};
if (values.json) console.log(JSON.stringify({ ...result, wrong }, null, 2));
else {
  console.log(`${result.crops} crops: a state read for ${given} (${result.stateGivenShare}), right ${right} (${result.rightShareOfGiven} of those)`);
  console.log('| confidence >= | crops with a state | share of all crops | right |');
  console.log('|---|---|---|---|');
  for (const b of result.byConfidence) console.log(`| ${b.atLeast} | ${b.given} | ${b.share} | ${b.right} |`);
  if (wrong.length) console.log(`\nwrong (first ${wrong.length}):\n  ${wrong.join('\n  ')}`);
}

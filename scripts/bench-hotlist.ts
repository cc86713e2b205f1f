/**
 * Hot list benchmark: import time, memory and match time per read, on generated lists of 100k and 1M entries plus
 * 1,000 partial plates. Targets (one core): 1M entries imported in <= 15 s; match p99 <= 50 µs per read including
 * fuzzy and wildcard matching; RSS <= 300 MB.
 *   npm run bench:hotlist [-- --sizes 100000,1000000] [--reads 20000]
 *
 * Each size is imported in one process (as `alpr-edge hotlist import` does) and matched in others (as the unit
 * does, after loading the lists), so that each one's memory figures are its own. The big list is an NCIC extract
 * (the usual size of a statewide list), matched once with OCR-equivalent characters and once also within one
 * other character (match: distance, the most expensive policy); the partial plates are a plain list. Each read
 * carries 10 texts, as the recognizer gives them (its best text and OCR candidates with characters swapped).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../src/util/clock.js';
import { parseConfig } from '../src/config/load.js';
import { Hotlists } from '../src/hotlist/index.js';
import { ReadStore } from '../src/store/read-store.js';
import { scriptArgs } from './script-args.js';
import { percentile } from './stats.js';

const { values } = scriptArgs(import.meta.url, {
  options: {
    sizes: { type: 'string', default: '100000,1000000' },
    reads: { type: 'string', default: '20000' },
    phase: { type: 'string' },
    dir: { type: 'string' },
    size: { type: 'string' },
    policy: { type: 'string' },
  },
});

// A deterministic generator: the same lists and reads on every run.
let seed = 20261122;
const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
const pick = (s: string) => s[Math.floor(rand() * s.length)]!;
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';
const ALNUM = LETTERS + DIGITS;

/** Plates in a few US layouts: 1ABC234 (California), ABC1234, and six free characters (vanity, older). */
function plate(): string {
  const r = rand();
  if (r < 0.6) return pick(DIGITS) + pick(LETTERS) + pick(LETTERS) + pick(LETTERS) + pick(DIGITS) + pick(DIGITS) + pick(DIGITS);
  if (r < 0.9) return pick(LETTERS) + pick(LETTERS) + pick(LETTERS) + pick(DIGITS) + pick(DIGITS) + pick(DIGITS) + pick(DIGITS);
  return Array.from({ length: 6 }, () => pick(ALNUM)).join('');
}

const CONFUSED: Record<string, string> = { O: '0', '0': 'O', D: '0', Q: 'O', I: '1', '1': 'I', L: '1', B: '8', '8': 'B', S: '5', '5': 'S', Z: '2', '2': 'Z', G: '6', '6': 'G' };

/** Ten texts as the recognizer gives them: the best text, then variants with a character or two swapped or dropped. */
function readOf(best: string): { plate: string; candidates: Array<{ text: string }> } {
  const texts = [best];
  while (texts.length < 10) {
    const chars = best.split('');
    const r = rand();
    if (r < 0.15) texts.push(chars.slice(1).join(''));
    else if (r < 0.3) texts.push(chars.slice(0, -1).join(''));
    else {
      for (let k = 0; k < (r < 0.8 ? 1 : 2); k++) {
        const i = Math.floor(rand() * chars.length);
        chars[i] = CONFUSED[chars[i]!] ?? pick(ALNUM);
      }
      texts.push(chars.join(''));
    }
  }
  return { plate: best, candidates: texts.map((text) => ({ text })) };
}

function ncicLine(p: string, i: number): string {
  const code = 'VFPVVVWAV'[i % 9]!;
  const rec = `CA0194200${code}${String(i).padStart(8, '0')}`; // 18 characters: columns [1:19]
  return `${code}${rec}20261101${p.padEnd(10)}CA2027PC2019TOYTCAM4DBLK`;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const gc = (globalThis as { gc?: () => void }).gc;

function configFor(dir: string) {
  return parseConfig(
    `data: { dir: ${dir} }\nhotlists:\n  lists:\n    - { name: ncic, format: ncic, match: distance, maxDistance: 1 }\n    - { name: partials, format: lines, priority: 1 }\n`,
    'bench',
  );
}

/** The files: an NCIC extract of `size` records and 1,000 partial plates, one a line. */
function generate(dir: string, size: number): void {
  const lines: string[] = [];
  for (let i = 0; i < size; i++) lines.push(ncicLine(plate(), i));
  const listFile = path.join(dir, 'extract.txt');
  writeFileSync(listFile, `${lines.join('\n')}\n`);
  lines.length = 0;
  const partials: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const p = plate().split('');
    const r = rand();
    // as witnesses give them: a character or two unknown, the start or the end only, or "contains"
    if (r < 0.5) {
      p[1 + Math.floor(rand() * 5)] = '?';
      if (rand() < 0.5) p[p.length - 1] = '*';
      partials.push(p.join(''));
    } else if (r < 0.75) partials.push(`${p.slice(0, 4).join('')}*`);
    else if (r < 0.9) partials.push(`*${p.slice(-4).join('')}`);
    else partials.push(`*${p.slice(2, 6).join('')}*`);
  }
  const partialFile = path.join(dir, 'partials.txt');
  writeFileSync(partialFile, `${partials.join('\n')}\n`);
}

/** Phase 1 (a process of its own): import the files, as `alpr-edge hotlist import` does. */
function importPhase(dir: string, size: number): object {
  const listFile = path.join(dir, 'extract.txt');
  const partialFile = path.join(dir, 'partials.txt');
  const config = configFor(dir);
  const store = ReadStore.open(path.join(dir, 'data'), { clock: systemClock, imageBudgetBytes: 1e9 });
  const hotlists = Hotlists.open(store.database, { clock: systemClock, config: config.hotlists });
  let t = performance.now();
  const imported = hotlists.importFile(listFile, { list: 'ncic', user: 'bench' });
  const importS = (performance.now() - t) / 1000;
  hotlists.importFile(partialFile, { list: 'partials', user: 'bench' });
  t = performance.now();
  const again = hotlists.importFile(listFile, { list: 'ncic', user: 'bench' });
  const reimportS = (performance.now() - t) / 1000;
  store.close();
  if (again.status !== 'unchanged' || imported.status !== 'imported' || imported.entries !== size) throw new Error('the import did not go as expected');
  return { importS, reimportS, peakRss: process.resourceUsage().maxRSS * 1024 };
}

/** Phase 2 (a process of its own, as the unit): load the lists, then time reads one by one. */
function matchPhase(dir: string, policy: 'equivalent' | 'distance', reads: number): object {
  // another stream of numbers than the one the list was made from: else the "new" plates would be list plates
  seed = 7_654_321;
  const config = configFor(dir);
  const store = ReadStore.open(path.join(dir, 'data'), { clock: systemClock, imageBudgetBytes: 1e9 });
  // the same imported list, matched with another policy (a bench-only shortcut for re-importing it)
  store.database.prepare("UPDATE hotlists SET match_policy = ?, max_distance = ? WHERE name = 'ncic'").run(policy, policy === 'distance' ? 1 : 0);
  const hotlists = Hotlists.open(store.database, { clock: systemClock, config: config.hotlists });
  gc?.();
  const rssBefore = process.memoryUsage().rss;
  let t = performance.now();
  hotlists.load();
  const loadS = (performance.now() - t) / 1000;
  gc?.();
  const rssLoaded = process.memoryUsage().rss;
  const stats = hotlists.matcher.stats;

  // Hits: list plates read with one OCR confusion or misread character (the plate itself may be among the
  // candidates); misses: new plates (some of which are near a list plate: the false hits of the policy).
  const range = store.database.prepare("SELECT min(id) AS lo, max(id) AS hi FROM hotlist_entries WHERE version_id IS NOT NULL").get() as { lo: number; hi: number };
  const byId = store.database.prepare('SELECT plate FROM hotlist_entries WHERE id = ?').pluck();
  const hitReads = Array.from({ length: reads }, () => {
    const chars = (byId.get(range.lo + Math.floor(rand() * (range.hi - range.lo + 1))) as string).split('');
    const i = Math.floor(rand() * chars.length);
    chars[i] = CONFUSED[chars[i]!] ?? pick(ALNUM);
    return readOf(chars.join(''));
  });
  const missReads = Array.from({ length: reads }, () => readOf(plate()));
  const time = (set: typeof hitReads) => {
    const us: number[] = [];
    let matched = 0;
    let list = 0;
    for (const r of set) {
      const t0 = process.hrtime.bigint();
      const hits = hotlists.match(r);
      us.push(Number(process.hrtime.bigint() - t0) / 1000);
      if (hits.length > 0) matched++;
      if (hits.some((h) => h.list === 'ncic')) list++;
    }
    us.sort((a, b) => a - b);
    return { median: percentile(us, 0.5), p99: percentile(us, 0.99), matched: matched / set.length, list: list / set.length };
  };
  time(missReads.slice(0, 2000)); // warm up (JIT)
  const hit = time(hitReads);
  const miss = time(missReads);
  store.close();
  return { loadS, matcherBytes: stats.bytes, wildcards: stats.wildcards, rssBefore, rssLoaded, peakRss: process.resourceUsage().maxRSS * 1024, hit, miss };
}

interface Timing {
  median: number;
  p99: number;
  matched: number;
  list: number;
}
interface PhaseResult {
  importS: number;
  reimportS: number;
  loadS: number;
  matcherBytes: number;
  rssLoaded: number;
  peakRss: number;
  hit: Timing;
  miss: Timing;
}

/** Runs a phase in a process of its own; its result is the last line it prints (JSON). */
function run(args: string[]): PhaseResult {
  const r = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`bench phase ${args.join(' ')} failed (exit ${r.status})`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as PhaseResult;
}

if (values.phase === 'import') {
  process.stdout.write(`${JSON.stringify(importPhase(values.dir!, Number(values.size)))}\n`);
} else if (values.phase === 'match') {
  process.stdout.write(`${JSON.stringify(matchPhase(values.dir!, values.policy as 'equivalent' | 'distance', Number(values.reads)))}\n`);
} else {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  console.log(`hot list benchmark, ${new Date().toISOString().slice(0, 10)}, ${cpu} (${os.cpus().length} cores), Node ${process.version}`);
  const imports: string[] = [];
  const matches: string[] = [];
  for (const size of values.sizes.split(',').map(Number)) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'alpr-bench-hotlist-'));
    try {
      generate(dir, size);
      const im = run(['--phase', 'import', '--dir', dir, '--size', String(size)]);
      imports.push(`| ${size.toLocaleString('en-US')} | ${im.importS.toFixed(1)} s | ${im.reimportS.toFixed(2)} s | ${mb(im.peakRss)} |`);
      for (const policy of ['equivalent', 'distance'] as const) {
        const x = run(['--phase', 'match', '--dir', dir, '--policy', policy, '--reads', values.reads]);
        matches.push(
          `| ${size.toLocaleString('en-US')} | ${policy === 'distance' ? 'distance 1' : policy} | ${x.loadS.toFixed(1)} s | ${mb(x.matcherBytes)} | ${mb(x.rssLoaded)} (${mb(x.peakRss)} peak) | ` +
            `${x.hit.median.toFixed(1)} / ${x.hit.p99.toFixed(1)} µs | ${x.miss.median.toFixed(1)} / ${x.miss.p99.toFixed(1)} µs | ${(x.hit.list * 100).toFixed(1)}% | ${(x.miss.list * 100).toFixed(1)}% / ${(x.miss.matched * 100).toFixed(1)}% |`,
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log('');
  console.log('| entries (+1,000 partial plates) | import (NCIC file) | re-import, unchanged | peak RSS |');
  console.log('|---|---|---|---|');
  for (const l of imports) console.log(l);
  console.log('');
  console.log('| entries | list policy | load into memory | matcher memory | RSS with lists loaded | hit: median / p99 | miss: median / p99 | hit reads found | miss reads with a hit: of the list / any |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const l of matches) console.log(l);
  console.log('');
  console.log(`${values.reads} reads of each kind, one at a time, each with 10 texts (best text and OCR candidates).`);
}

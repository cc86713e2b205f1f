/**
 * `npm run bench:unit`: frames per second through the whole unit (replay cameras -> scheduler -> recognition
 * worker -> grouping -> read store) for 1, 2 and 4 replay cameras of 1080p frames with cars in them, the share
 * of frames dropped, the latency from a frame's capture to its recognition and to its stored read (grouping
 * delay excluded), and memory over the run.
 *
 *   npm run bench:unit -- [--seconds 60] [--cameras 1,2,4] [--offered 25] [--ocr-workers 1] [--out FILE.json]
 *
 * --offered is the total frame rate the cameras deliver (split evenly); above the unit's capacity the
 * scheduler drops the oldest waiting frames, and the processed rate is the capacity.
 */
import { systemClock } from '../src/util/clock.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { configSchema } from '../src/config/schema.js';
import { createLogger } from '../src/log/logger.js';
import { Unit } from '../src/unit/unit.js';
import { packageRoot } from '../src/util/paths.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '8' },
    cameras: { type: 'string', default: '1,2,4' },
    offered: { type: 'string', default: '25' },
    'ocr-workers': { type: 'string', default: '1' },
    out: { type: 'string' },
    // internal: run one configuration (OpenCV can be loaded once per process, so each runs in its own)
    one: { type: 'string' },
    frames: { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const warmup = Number(values.warmup);
const offered = Number(values.offered);
const root = packageRoot();
const work = values.frames ? path.dirname(values.frames) : mkdtempSync(path.join(tmpdir(), 'alpr-bench-unit-'));

if (!values.frames) {
  // 1080p traffic frames, made in a child process (OpenCV belongs to the unit's recognition worker)
  execFileSync(process.execPath, [path.join(root, 'dist', 'scripts', 'make-traffic.js'), '--out', work, '--jpeg', '--fps', '25', '--frames-per-car', '20', '--gap', '10', '--repeat', '2'], { stdio: 'pipe' });
}
const manifest = JSON.parse(readFileSync(path.join(work, 'traffic.json'), 'utf8')) as { jpegDir: string; frames: number; cars: unknown[] };

const pct = (xs: number[], q: number) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))]! * 10) / 10;
};

interface Row {
  cameras: number;
  offeredFps: number;
  processedFps: number;
  dropShare: number;
  recognizeP50: number | null;
  recognizeP99: number | null;
  storeP50: number | null;
  storeP99: number | null;
  readP50: number | null;
  readP99: number | null;
  reads: number;
  rssStartMB: number;
  rssMaxMB: number;
  rssEndMB: number;
  rssSlopeMBperMin: number;
}

const rows: Row[] = [];
if (values.one === undefined) {
  for (const n of values.cameras.split(',').map(Number)) {
    const args = [process.argv[1]!, '--one', String(n), '--frames', path.join(work, 'traffic.json'), '--seconds', String(seconds), '--warmup', String(warmup), '--offered', String(offered), '--ocr-workers', values['ocr-workers']];
    const out = execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const row = JSON.parse(out.trim().split('\n').at(-1)!) as Row;
    rows.push(row);
    process.stdout.write(`${JSON.stringify(row)}\n`);
  }
} else {
  const n = Number(values.one);
  const dataDir = path.join(work, `data-${n}`);
  const config = configSchema.parse({
    unit: { id: 'bench' },
    data: { dir: dataDir },
    log: { level: 'silent' },
    recognition: { ocr: { workers: Number(values['ocr-workers']) } },
    grouping: { maxDelayMs: 700, leaveAfterMs: 1000 },
    cameras: Array.from({ length: n }, (_, i) => ({
      id: `cam${i + 1}`,
      type: 'replay',
      source: manifest.jpegDir,
      fps: offered / n,
      maxFps: offered / n,
      loop: true,
    })),
  });
  const unit = await Unit.start(config, createLogger('silent'), systemClock);
  let measuring = false;
  const recog: number[] = [];
  const storeMs: number[] = [];
  // capture time -> recognition time of each camera's recent frames, to time each read from its first frame
  const recognizedAt = new Map<string, Map<number, number>>();
  let reads = 0;
  unit.on('frame', (f) => {
    let m = recognizedAt.get(f.cameraId);
    if (!m) recognizedAt.set(f.cameraId, (m = new Map()));
    m.set(f.capturedAt, f.recognizedAt);
    if (m.size > 2000) m.delete(m.keys().next().value!);
    if (measuring) recog.push(f.recognizedAt - f.capturedAt);
  });
  // frame -> stored read, grouping delay excluded: the read's first frame from capture to recognised, plus the
  // time the store took to write the read
  const readLatency: number[] = [];
  unit.on('read', (e) => {
    if (!measuring || e.kind !== 'new') return;
    reads++;
    storeMs.push(e.storeMs);
    const rec = recognizedAt.get(e.read.cameraId)?.get(e.read.firstSeen);
    if (rec !== undefined) readLatency.push(rec - e.read.firstSeen + e.storeMs);
  });
  await new Promise((r) => setTimeout(r, warmup * 1000));
  const before = unit.status().cameras.map((c) => ({ ...c.counters }));
  measuring = true;
  const rss: Array<[number, number]> = [];
  const t0 = Date.now();
  const sampler = setInterval(() => rss.push([(Date.now() - t0) / 60_000, process.memoryUsage().rss / 2 ** 20]), 2000);
  rss.push([0, process.memoryUsage().rss / 2 ** 20]);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  clearInterval(sampler);
  measuring = false;
  const after = unit.status().cameras.map((c) => ({ ...c.counters }));
  const elapsed = (Date.now() - t0) / 1000;
  await unit.stop();
  let off = 0;
  let proc = 0;
  let drop = 0;
  after.forEach((a, i) => {
    off += a.offered - before[i]!.offered;
    proc += a.processed - before[i]!.processed;
    drop += a.dropped - before[i]!.dropped;
  });
  // least-squares slope of RSS over time
  const mx = rss.reduce((s, [x]) => s + x, 0) / rss.length;
  const my = rss.reduce((s, [, y]) => s + y, 0) / rss.length;
  const slope = rss.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / Math.max(1e-9, rss.reduce((s, [x]) => s + (x - mx) ** 2, 0));
  const row: Row = {
    cameras: n,
    offeredFps: Math.round((off / elapsed) * 10) / 10,
    processedFps: Math.round((proc / elapsed) * 10) / 10,
    dropShare: Math.round((drop / Math.max(1, off)) * 1000) / 10,
    recognizeP50: pct(recog, 0.5),
    recognizeP99: pct(recog, 0.99),
    storeP50: pct(storeMs, 0.5),
    storeP99: pct(storeMs, 0.99),
    readP50: pct(readLatency, 0.5),
    readP99: pct(readLatency, 0.99),
    reads,
    rssStartMB: Math.round(rss[0]![1]),
    rssMaxMB: Math.round(Math.max(...rss.map(([, y]) => y))),
    rssEndMB: Math.round(rss.at(-1)![1]),
    rssSlopeMBperMin: Math.round(slope * 100) / 100,
  };
  process.stdout.write(`${JSON.stringify(row)}\n`);
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
}

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const header = `bench:unit ${new Date().toISOString().slice(0, 10)}, ${cpu}, ${os.cpus().length} cores, node ${process.version}; ${manifest.frames} 1080p JPEG frames (${manifest.cars.length} car passes) looped; ${seconds} s measured after ${warmup} s warm-up; ${values['ocr-workers']} OCR worker(s)`;
const table = [
  '| cameras | offered fps | processed fps | dropped | capture→recognised p50 / p99 ms | store p50 / p99 ms | frame→stored read p50 / p99 ms | reads | RSS start / max / end MB | RSS slope MB/min |',
  '|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.cameras} | ${r.offeredFps} | ${r.processedFps} | ${r.dropShare}% | ${r.recognizeP50} / ${r.recognizeP99} | ${r.storeP50} / ${r.storeP99} | ${r.readP50} / ${r.readP99} | ${r.reads} | ${r.rssStartMB} / ${r.rssMaxMB} / ${r.rssEndMB} | ${r.rssSlopeMBperMin} |`,
  ),
].join('\n');
process.stdout.write(`\n${header}\n\n${table}\n`);
if (values.out) writeFileSync(values.out, JSON.stringify({ header, rows }, null, 2));
rmSync(work, { recursive: true, force: true });

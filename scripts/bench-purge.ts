/**
 * `npm run bench:purge`: the retention purge of many expired reads with image files, while the unit goes on
 * storing reads at 50/s through the real path (`ReadStore.insertRead`: image files written and fsynced, then the
 * rows committed) in the same process.
 *
 * Reports the longest insert stall: for each insert, the time from when it was due (a fixed 50/s schedule) to
 * when its read was committed, so a blocked event loop counts as well as a lock wait; with the event loop delay
 * (perf_hooks.monitorEventLoopDelay) and a baseline of the same inserts without a purge. Then the purge rate.
 *
 *   npm run bench:purge -- [--reads 1000000] [--files N (default: all)] [--rate 50] [--batch 500] [--pause-ms 20] [--max-batch-ms 50] [--dir D]
 */
import { systemClock } from '../src/util/clock.js';
import { execSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Purger, retentionSchema } from '../src/retention/index.js';
import { ReadStore, type NewRead } from '../src/store/read-store.js';
import { scriptArgs } from './script-args.js';

const { values } = scriptArgs(import.meta.url, {
  options: {
    reads: { type: 'string', default: '1000000' },
    files: { type: 'string' },
    rate: { type: 'string', default: '50' },
    batch: { type: 'string', default: '500' },
    'pause-ms': { type: 'string', default: '20' },
    'max-batch-ms': { type: 'string', default: '50' },
    'baseline-s': { type: 'string', default: '10' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const N = Number(values.reads);
const FILES = Math.min(N, Number(values.files ?? N));
const RATE = Number(values.rate);
const DAY = 86_400_000;
const base = values.dir ?? mkdtempSync(path.join(tmpdir(), 'alpr-bench-purge-'));
const dataDir = path.join(base, 'data');
const log = (msg: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);

const store = ReadStore.open(dataDir, { clock: systemClock, imageBudgetBytes: 1e12 });
const db = store.database;

// --- Seed: N reads first seen 800-1000 days ago (past both default ages), synced, each with a 200-byte crop file.
const now = Date.now();
const t0 = now - 1000 * DAY;
const span = 200 * DAY;
let seedMs = performance.now();
{
  const ins = db.prepare(
    `INSERT INTO reads (uuid, unit_id, camera_id, plate, confidence, candidates, region, box, first_seen, last_seen, best_seen,
       frame_count, clock_source, latitude, longitude, position_valid, position_source, closed, sync_state, synced_at, created_at, updated_at)
     VALUES (?, 'bench', 'front', ?, 91, '[]', 'us', '{"x":0,"y":0,"width":100,"height":30}', ?, ?, ?, 3, 'gps', 33.9, -118.4, 1, 'gps', 1, 'synced', ?, ?, ?)`,
  );
  const img = db.prepare(`INSERT INTO images (read_id, kind, path, format, bytes, created_at) VALUES (?, 'crop', ?, 'jpeg', 200, ?)`);
  const crop = Buffer.alloc(200, 0x5a);
  const CHUNK = 10_000;
  for (let start = 0; start < N; start += CHUNK) {
    const end = Math.min(N, start + CHUNK);
    const paths: string[] = [];
    db.transaction(() => {
      for (let i = start; i < end; i++) {
        const t = t0 + Math.floor((i / N) * span);
        const id = Number(ins.run(`bench-${i}`, `B${String(i).padStart(7, '0')}`, t, t + 400, t + 200, t, t, t).lastInsertRowid);
        if (i < FILES) {
          const rel = path.join('bench', String(Math.floor(i / 1000)), `${i}.jpg`);
          img.run(id, rel, t);
          paths.push(rel);
        }
      }
    })();
    let folder = '';
    for (const rel of paths) {
      if (path.dirname(rel) !== folder) {
        folder = path.dirname(rel);
        mkdirSync(path.join(store.imagesDir, folder), { recursive: true });
      }
      writeFileSync(path.join(store.imagesDir, rel), crop);
    }
    if ((end / CHUNK) % 20 === 0) log(`seeded ${end} reads`);
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  // The seed leaves gigabytes of dirty pages: flush them so the kernel's writeback does not stall what is measured.
  execSync('sync');
  await new Promise((r) => setTimeout(r, 3000));
}
seedMs = performance.now() - seedMs;
log(`seeded ${N} reads, ${FILES} image files, in ${(seedMs / 1000).toFixed(1)} s`);

// --- Inserts at RATE/s through the real path, each timed from when it was due.
let seq = 0;
function newRead(): NewRead {
  const t = Date.now();
  const n = seq++;
  return {
    uuid: `live-${n}`, unitId: 'bench', cameraId: 'front', plate: `7LIV${String(n).padStart(3, '0')}`, confidence: 90,
    candidates: [{ text: '7LIV', confidence: 90 }], region: 'us', box: { x: 0, y: 0, width: 100, height: 30 },
    firstSeen: t, lastSeen: t + 400, bestSeen: t + 200, frameCount: 3, clockSource: 'system',
    position: { latitude: 33.9, longitude: -118.4, valid: true, speedKmh: 40, headingDeg: 90, fixTime: t, source: 'gps' },
    closed: true, crop: { bytes: Buffer.alloc(200, n % 256), format: 'jpeg' }, frame: { bytes: Buffer.alloc(2000, n % 256), format: 'jpeg' },
  };
}

interface Inserts {
  latencies: number[];
  stop(): Promise<void>;
}

function insertAtRate(): Inserts {
  const latencies: number[] = [];
  const pending = new Set<Promise<void>>();
  const start = performance.now();
  let k = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    // Every insert due by now is started, each timed from its due time (a late tick counts against it).
    while (start + k * (1000 / RATE) <= performance.now()) {
      const due = start + k * (1000 / RATE);
      k++;
      const p = store.insertRead(newRead()).then(() => {
        latencies.push(performance.now() - due);
        pending.delete(p);
      });
      pending.add(p);
    }
    timer = setTimeout(tick, Math.max(0, start + k * (1000 / RATE) - performance.now()));
  };
  tick();
  return {
    latencies,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await Promise.all(pending);
    },
  };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};
const summary = (xs: number[]) =>
  `${xs.length} inserts: median ${pct(xs, 50).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`;

// Baseline: the same inserts with no purge running.
const baseLoop = monitorEventLoopDelay({ resolution: 5 });
baseLoop.enable();
const baseline = insertAtRate();
await new Promise((r) => setTimeout(r, Number(values['baseline-s']) * 1000));
await baseline.stop();
baseLoop.disable();
log(`baseline, no purge: ${summary(baseline.latencies)}; event loop delay max ${(baseLoop.max / 1e6).toFixed(1)} ms`);

// The purge, with inserts going on.
const config = retentionSchema.parse({ batchSize: Number(values.batch), pauseMs: Number(values['pause-ms']), maxBatchMs: Number(values['max-batch-ms']) });
const purger = new Purger(store, config);
const loop = monitorEventLoopDelay({ resolution: 5 });
loop.enable();
const live = insertAtRate();
const purgeStart = performance.now();
const result = await purger.runOnce(Date.now());
const purgeMs = performance.now() - purgeStart;
await live.stop();
loop.disable();
const left = (db.prepare(`SELECT count(*) AS n FROM reads WHERE uuid LIKE 'bench-%'`).get() as { n: number }).n;

const fs = statfsSync(store.imagesDir);
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const out = {
  date: new Date().toISOString(),
  machine: `${os.cpus().length} x ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}, Node ${process.version}, fs type 0x${fs.type.toString(16)}`,
  reads: N,
  imageFiles: FILES,
  batchSize: config.batchSize,
  maxBatchMs: config.maxBatchMs,
  pauseMs: config.pauseMs,
  seedSeconds: +(seedMs / 1000).toFixed(1),
  purge: { ...result, wallMs: Math.round(purgeMs), readsPerSecond: Math.round(result.deleted / (purgeMs / 1000)), expiredLeft: left },
  insertsDuringPurge: {
    count: live.latencies.length,
    medianMs: +pct(live.latencies, 50).toFixed(1),
    p99Ms: +pct(live.latencies, 99).toFixed(1),
    maxMs: +Math.max(...live.latencies).toFixed(1),
  },
  eventLoopDelayDuringPurge: { p99Ms: +(loop.percentile(99) / 1e6).toFixed(1), maxMs: +(loop.max / 1e6).toFixed(1) },
  baselineInserts: {
    count: baseline.latencies.length,
    medianMs: +pct(baseline.latencies, 50).toFixed(1),
    p99Ms: +pct(baseline.latencies, 99).toFixed(1),
    maxMs: +Math.max(...baseline.latencies).toFixed(1),
    eventLoopMaxMs: +(baseLoop.max / 1e6).toFixed(1),
  },
};
log(`purge: ${result.deleted} reads and ${result.imagesDeleted} image files deleted in ${(purgeMs / 1000).toFixed(1)} s (${out.purge.readsPerSecond} reads/s), ${result.batches} transactions`);
log(`during the purge: ${summary(live.latencies)}; event loop delay p99 ${out.eventLoopDelayDuringPurge.p99Ms} ms, max ${out.eventLoopDelayDuringPurge.maxMs} ms`);
log(`longest insert stall: ${out.insertsDuringPurge.maxMs} ms (target <= 100 ms)`);
console.log(JSON.stringify(out, null, 2));
store.close();
if (!values.keep && !values.dir) rmSync(base, { recursive: true, force: true });

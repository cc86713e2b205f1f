/**
 * `npm run bench:sync`: a backlog of reads (no images) pushed to the reference central server over HTTPS on
 * loopback, with a bearer token: time and reads/s. Then whether the unit's capture slows while sync runs: the
 * whole unit on replay cameras, once without sync and once while the sync engine pushes the backlog from the
 * unit's own store and event loop, comparing processed frames per second and frame→recognised latency.
 *
 *   npm run bench:sync -- [--reads 100000] [--batch 1000] [--duty 0.5] [--capture-first on|off] [--seconds 40] [--cameras 2] [--offered 20] [--out FILE.json]
 *
 * The central server runs in its own process (`alpr-edge central serve`) at the lowest CPU priority (nice 19), so
 * that, as on its own machine, it takes only the CPU the unit leaves.
 */
import { systemClock } from '../src/util/clock.js';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { configSchema, type Config } from '../src/config/schema.js';
import { createLogger } from '../src/log/logger.js';
import { ReadStore } from '../src/store/read-store.js';
import { SyncEngine } from '../src/sync/engine.js';
import { Unit } from '../src/unit/unit.js';
import { packageRoot } from '../src/util/paths.js';
import { scriptArgs } from './script-args.js';

const { values } = scriptArgs(import.meta.url, {
  options: {
    reads: { type: 'string', default: '100000' },
    batch: { type: 'string', default: '1000' },
    duty: { type: 'string', default: '0.5' },
    'capture-first': { type: 'string', default: 'on' },
    seconds: { type: 'string', default: '40' },
    warmup: { type: 'string', default: '8' },
    cameras: { type: 'string', default: '2' },
    offered: { type: 'string', default: '20' },
    out: { type: 'string' },
    // internal: one capture run in its own process (OpenCV loads once per process)
    capture: { type: 'string' },
    work: { type: 'string' },
    url: { type: 'string' },
  },
});
const N = Number(values.reads);
const root = packageRoot();
const MAIN = path.join(root, 'dist', 'src', 'cli', 'main.js');
const UNIT = 'bench-unit';
const TOKEN = `bench-${randomUUID()}`;
const work = values.work ?? mkdtempSync(path.join(tmpdir(), 'alpr-bench-sync-'));
const say = (msg: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

/** Seeds `count` closed, unsynced reads without images straight into a store (the way a long offline spell leaves it). */
function seed(dataDir: string, count: number): void {
  const store = ReadStore.open(dataDir, { clock: systemClock, imageBudgetBytes: 1e12 });
  const db = store.database;
  const ins = db.prepare(
    `INSERT INTO reads (uuid, unit_id, camera_id, plate, confidence, candidates, region, box, first_seen, last_seen, best_seen,
       frame_count, clock_source, latitude, longitude, position_valid, position_source, speed_kmh, heading_deg, fix_time, closed, created_at, updated_at)
     VALUES (?, ?, 'front', ?, 91.5, ?, 'us', '{"x":812,"y":604,"width":180,"height":62}', ?, ?, ?, 4, 'system', 33.9192, -118.4165, 1, 'gps', 42.5, 271, ?, 1, ?, ?)`,
  );
  const t0 = Date.now() - 3 * 86_400_000;
  const CHUNK = 10_000;
  for (let start = 0; start < count; start += CHUNK) {
    db.transaction(() => {
      for (let i = start; i < Math.min(count, start + CHUNK); i++) {
        const t = t0 + i * 2000;
        const plate = `B${String(i).padStart(6, '0')}`;
        ins.run(randomUUID(), UNIT, plate, JSON.stringify([{ text: plate, confidence: 91.5 }, { text: `8${plate.slice(1)}`, confidence: 60.2 }]), t, t + 900, t + 400, t, t, t);
      }
    })();
  }
  store.close();
}

function syncConfig(url: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    enabled: true,
    batchSize: Number(values.batch),
    dutyCycle: Number(values.duty),
    server: { url, caFile: path.join(work, 'server.crt'), tokenFile: path.join(work, 'token') },
    images: { mode: 'off' },
    hotlists: { enabled: false },
    ...extra,
  };
}

if (values.capture !== undefined) {
  // --- one capture run: the unit on replay cameras, with or without sync pushing a backlog
  const withSync = values.capture === 'sync';
  const dataDir = path.join(work, `unit-${values.capture}`);
  const cameras = Number(values.cameras);
  const offered = Number(values.offered);
  if (withSync) seed(dataDir, N);
  const manifest = JSON.parse(readFileSync(path.join(work, 'traffic.json'), 'utf8')) as { jpegDir: string };
  const config: Config = configSchema.parse({
    unit: { id: UNIT },
    data: { dir: dataDir },
    log: { level: 'silent' },
    grouping: { maxDelayMs: 700, leaveAfterMs: 1000 },
    cameras: Array.from({ length: cameras }, (_, i) => ({ id: `cam${i + 1}`, type: 'replay', source: manifest.jpegDir, fps: offered / cameras, maxFps: offered / cameras, loop: true })),
    sync: { enabled: false },
  });
  const unit = await Unit.start(config, createLogger('silent'), systemClock);
  const recog: number[] = [];
  let measuring = false;
  unit.on('frame', (f) => measuring && recog.push(f.recognizedAt - f.capturedAt));
  await new Promise((r) => setTimeout(r, Number(values.warmup) * 1000));
  const before = JSON.parse(JSON.stringify(unit.status())) as ReturnType<Unit['status']>;
  measuring = true;
  const t0 = Date.now();
  let pushed = 0;
  let pushSeconds: number | null = null;
  let yieldedMs = 0;
  if (withSync) {
    // the unit's sync engine, on the unit's own store and event loop, started once capture is warm; the window
    // measured is exactly the push of the backlog
    // as the running unit wires it: the push waits while capture drops frames (captureBusy)
    const engine = new SyncEngine({
      config: configSchema.parse({ unit: { id: UNIT }, sync: syncConfig(values.url!) }).sync,
      unitId: UNIT,
      store: unit.store,
      log: createLogger('silent'),
      ...(values['capture-first'] === 'off' ? {} : { captureBusy: () => unit.captureFallingBehind() }),
    });
    const report = await engine.runCycle('manual');
    await engine.stop();
    if (!report.ok) throw new Error(`sync failed: ${report.error?.message}`);
    pushed = report.streams.reads?.sent ?? 0;
    yieldedMs = report.streams.reads?.yieldedMs ?? 0;
    pushSeconds = (Date.now() - t0) / 1000;
  } else {
    await new Promise((r) => setTimeout(r, Number(values.seconds) * 1000));
  }
  measuring = false;
  const after = unit.status();
  const elapsed = (Date.now() - t0) / 1000;
  const processed = after.cameras.reduce((s, c, i) => s + c.counters.processed - before.cameras[i]!.counters.processed, 0);
  const offeredFrames = after.cameras.reduce((s, c, i) => s + c.counters.offered - before.cameras[i]!.counters.offered, 0);
  await unit.stop();
  const s = [...recog].sort((a, b) => a - b);
  const q = (p: number) => (s.length ? Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))]!) : null);
  process.stdout.write(
    `${JSON.stringify({
      run: values.capture,
      offeredFps: Math.round((offeredFrames / elapsed) * 10) / 10,
      processedFps: Math.round((processed / elapsed) * 10) / 10,
      recognizeP50: q(0.5),
      recognizeP99: q(0.99),
      seconds: Math.round(elapsed * 10) / 10,
      readsPushed: pushed,
      readsPerSecond: pushSeconds ? Math.round(pushed / pushSeconds) : null,
      waitedForCaptureMs: yieldedMs,
    })}\n`,
  );
  process.exit(0);
}

// --- the main run
execFileSync('openssl', [
  'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=localhost',
  '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-addext', 'basicConstraints=critical,CA:TRUE',
  '-keyout', path.join(work, 'server.key'), '-out', path.join(work, 'server.crt'),
], { stdio: 'ignore' });
writeFileSync(path.join(work, 'token'), `${TOKEN}\n`, { mode: 0o600 });
writeFileSync(path.join(work, 'tokens'), `${UNIT} ${TOKEN}\n`, { mode: 0o600 });

function startCentral(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  // at the lowest CPU priority: in a car the server is another machine, so here it takes only what the unit leaves
  const child = spawn(
    'nice',
    ['-n', '19', process.execPath, MAIN, 'central', 'serve', '--data', dataDir, '--listen', '127.0.0.1:0', '--cert', path.join(work, 'server.crt'), '--key', path.join(work, 'server.key'), '--tokens', path.join(work, 'tokens')],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ALPR_CENTRAL_LOG_LEVEL: 'warn' } },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve({ child, url: m[1]! });
    });
    child.once('exit', (code) => reject(new Error(`central server exited (${code}) before listening`)));
  });
}
async function stopCentral(c: { child: ChildProcess }): Promise<void> {
  c.child.kill('SIGTERM');
  await new Promise((r) => c.child.once('exit', r));
}
function centralCount(dataDir: string): number {
  const out = execFileSync(process.execPath, [MAIN, 'central', 'ls', '--data', dataDir, '--json'], { encoding: 'utf8' });
  const { units } = JSON.parse(out) as { units: Array<{ unit: string; streams: Record<string, number> }> };
  return units.find((x) => x.unit === UNIT)?.streams.reads ?? 0;
}

// 1. backlog throughput
say(`seeding ${N} reads`);
const backlogDir = path.join(work, 'unit-backlog');
seed(backlogDir, N);
const centralDir = path.join(work, 'central-backlog');
const central = await startCentral(centralDir);
const store = ReadStore.open(backlogDir, { clock: systemClock, imageBudgetBytes: 1e12 });
const config = configSchema.parse({ unit: { id: UNIT }, sync: syncConfig(central.url) });
const engine = new SyncEngine({ config: config.sync, unitId: UNIT, store, log: createLogger('silent') });
say(`pushing ${N} reads to ${central.url}`);
const rss0 = process.memoryUsage().rss;
let rssMax = rss0;
const sampler = setInterval(() => (rssMax = Math.max(rssMax, process.memoryUsage().rss)), 200);
const t0 = performance.now();
const cpu0 = process.cpuUsage();
const report = await engine.runCycle('manual');
const seconds = (performance.now() - t0) / 1000;
const pushCpu = process.cpuUsage(cpu0);
clearInterval(sampler);
await engine.stop();
store.close();
if (!report.ok) throw new Error(`sync failed: ${report.error?.message}`);
await stopCentral(central);
const onServer = centralCount(centralDir);
const backlog = {
  reads: N,
  batch: Number(values.batch),
  duty: Number(values.duty),
  seconds: Math.round(seconds * 10) / 10,
  readsPerSecond: Math.round(N / seconds),
  onServer,
  unitCpuSeconds: Math.round((pushCpu.user + pushCpu.system) / 1e5) / 10,
  rssStartMB: Math.round(rss0 / 2 ** 20),
  rssMaxMB: Math.round(rssMax / 2 ** 20),
};
say(`backlog: ${JSON.stringify(backlog)}`);

// 2. capture with and without sync
say('making 1080p traffic frames');
execFileSync(process.execPath, [path.join(root, 'dist', 'scripts', 'make-traffic.js'), '--out', work, '--jpeg', '--fps', '25', '--frames-per-car', '20', '--gap', '10', '--repeat', '2'], { stdio: 'pipe' });
const capture: Array<Record<string, unknown>> = [];
for (const run of ['baseline', 'sync']) {
  const c = await startCentral(path.join(work, `central-${run}`));
  say(`capture run: ${run}`);
  const out = execFileSync(
    process.execPath,
    [process.argv[1]!, '--capture', run, '--work', work, '--url', c.url, '--reads', String(N), '--batch', values.batch, '--duty', values.duty, '--capture-first', values['capture-first'], '--seconds', values.seconds, '--warmup', values.warmup, '--cameras', values.cameras, '--offered', values.offered],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  capture.push(JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown>);
  say(JSON.stringify(capture.at(-1)));
  await stopCentral(c);
}

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const header = `bench:sync ${new Date().toISOString().slice(0, 10)}, ${cpu}, ${os.cpus().length} cores, node ${process.version}; reference central server in its own process at nice 19, HTTPS + bearer token on loopback`;
const lines = [
  header,
  '',
  '| backlog (reads, no images) | batch | duty cycle | time s | reads/s | on the server | unit CPU s | unit RSS start / max MB |',
  '|---|---|---|---|---|---|---|---|',
  `| ${backlog.reads} | ${backlog.batch} | ${backlog.duty} | ${backlog.seconds} | ${backlog.readsPerSecond} | ${backlog.onServer} | ${backlog.unitCpuSeconds} | ${backlog.rssStartMB} / ${backlog.rssMaxMB} |`,
  '',
  `| capture (${values.cameras} replay cameras, ${values.offered} fps of 1080p offered) | measured s | processed fps | capture→recognised p50 / p99 ms | reads pushed meanwhile (reads/s) | push waited for capture |`,
  '|---|---|---|---|---|---|',
  ...capture.map(
    (c) =>
      `| ${c.run === 'sync' ? `while pushing a ${N}-read backlog` : 'no sync'} | ${c.seconds} | ${c.processedFps} | ${c.recognizeP50} / ${c.recognizeP99} | ${c.run === 'sync' ? `${c.readsPushed} (${c.readsPerSecond})` : '–'} | ${c.run === 'sync' ? `${c.waitedForCaptureMs} ms` : '–'} |`,
  ),
];
process.stdout.write(`\n${lines.join('\n')}\n`);
if (values.out) writeFileSync(values.out, JSON.stringify({ header, backlog, capture }, null, 2));
rmSync(work, { recursive: true, force: true });

/**
 * `npm run bench:unit`: frames per second through the whole unit (replay cameras -> scheduler -> recognition
 * worker -> grouping -> read store -> hot list -> alert outbox) for 1, 2 and 4 replay cameras of 1080p frames
 * with cars in them, the share of frames dropped, the latencies, and memory over the run.
 *
 *   npm run bench:unit -- [--seconds 60] [--cameras 1,2,4] [--offered 25] [--ocr-workers 1]
 *        [--queue-depth N] [--concurrency N] [--max-delay MS] [--texture-reads N] [--screens N] [--label TEXT]
 *        [--out FILE.json]
 *
 * --offered is the total frame rate the cameras deliver (split evenly); above the unit's capacity the
 * scheduler drops the oldest waiting frames, and the processed rate is the capacity. --queue-depth,
 * --concurrency and --max-delay override pipeline.queueDepth, pipeline.concurrency and grouping.maxDelayMs
 * (default: the config's defaults, and maxDelayMs 700); --texture-reads recognition.detector.textureReads. --screens N opens the screens (src/ui) with N alert screens
 * holding their event stream and N consoles polling status and live views every second, from another process.
 *
 * Every plate of the generated traffic is on a hot list, so every car raises an alert. Latencies (ms):
 * - capture→recognised: each processed frame, from its capture to the end of its recognition;
 * - frame→read: from the capture of the first frame of a car that was read (the read's firstSeen) to its read
 *   stored (grouping delay included);
 * - frame→alert: from the same frame to the alert raised in the outbox;
 * - car→alert: from the capture of the car's first frame offered by the camera (read or dropped) to the alert.
 */
import { systemClock } from '../src/util/clock.js';
import type { Frame } from '../src/camera/types.js';
import { Hotlists } from '../src/hotlist/hotlists.js';
import { openStore } from '../src/store/open.js';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { configSchema } from '../src/config/schema.js';
import { createLogger } from '../src/log/logger.js';
import { Unit } from '../src/unit/unit.js';
import { packageRoot } from '../src/util/paths.js';
import { AccessLog } from '../src/access/access-log.js';
import { totpCode } from '../src/access/totp.js';
import { addUser, signIn } from '../src/access/users.js';
import { startUiServer, type UiServer } from '../src/ui/server.js';
import { scriptArgs } from './script-args.js';

/**
 * The screens' side of --screens N, in its own process: N alert screens holding the event stream open, and N
 * consoles asking every second for the status, each camera's live view and its frame, as the pages do.
 */
async function screenClients(url: string, cookies: string[], n: number): Promise<never> {
  const [officer, tech] = cookies as [string, string];
  for (let i = 0; i < n; i++) {
    void (async () => {
      for (;;) {
        try {
          const res = await fetch(`${url}/api/alerts/stream`, { headers: { Cookie: officer } });
          const reader = res.body!.getReader();
          while (!(await reader.read()).done);
        } catch {
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    })();
    setInterval(() => {
      void (async () => {
        try {
          const status = (await (await fetch(`${url}/api/status`, { headers: { Cookie: tech } })).json()) as { cameras: Array<{ id: string }> };
          for (const c of status.cameras) {
            await (await fetch(`${url}/api/cameras/${c.id}/live`, { headers: { Cookie: tech } })).arrayBuffer();
            await (await fetch(`${url}/api/cameras/${c.id}/live.jpg`, { headers: { Cookie: tech } })).arrayBuffer();
          }
        } catch {
          // the unit is stopping
        }
      })();
    }, 1000);
  }
  return new Promise<never>(() => undefined);
}

const { values } = scriptArgs(import.meta.url, {
  options: {
    seconds: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '8' },
    cameras: { type: 'string', default: '1,2,4' },
    offered: { type: 'string', default: '25' },
    'ocr-workers': { type: 'string', default: '1' },
    'queue-depth': { type: 'string' },
    concurrency: { type: 'string' },
    'max-delay': { type: 'string', default: '700' },
    'texture-reads': { type: 'string' },
    label: { type: 'string', default: '' },
    out: { type: 'string' },
    // internal: run one configuration (OpenCV can be loaded once per process, so each runs in its own)
    one: { type: 'string' },
    frames: { type: 'string' },
    // the screens (src/ui) open while the unit runs: N alert screens (event streams) and N consoles polling
    screens: { type: 'string', default: '0' },
    // internal: the screens' clients, in a process of their own (as browsers are)
    clients: { type: 'string' },
    cookies: { type: 'string' },
  },
});
if (values.clients !== undefined) await screenClients(values.clients, values.cookies!.split(','), Number(values.screens));
const seconds = Number(values.seconds);
const warmup = Number(values.warmup);
const offered = Number(values.offered);
const root = packageRoot();
const work = values.frames ? path.dirname(values.frames) : mkdtempSync(path.join(tmpdir(), 'alpr-bench-unit-'));

if (!values.frames) {
  // 1080p traffic frames, made in a child process (OpenCV belongs to the unit's recognition worker)
  execFileSync(process.execPath, [path.join(root, 'dist', 'scripts', 'make-traffic.js'), '--out', work, '--jpeg', '--fps', '25', '--frames-per-car', '20', '--gap', '10', '--repeat', '2'], { stdio: 'pipe' });
}
const manifest = JSON.parse(readFileSync(path.join(work, 'traffic.json'), 'utf8')) as {
  jpegDir: string;
  frames: number;
  cars: Array<{ text: string; firstFrame: number; lastFrame: number }>;
};

const pct = (xs: number[], q: number) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))]! * 10) / 10;
};

interface Row {
  cameras: number;
  screens: number;
  offeredFps: number;
  processedFps: number;
  dropShare: number;
  recognizeP50: number | null;
  recognizeP99: number | null;
  storeP50: number | null;
  storeP99: number | null;
  readP50: number | null;
  readP99: number | null;
  alertP50: number | null;
  alertP99: number | null;
  carAlertP50: number | null;
  carAlertP99: number | null;
  reads: number;
  alerts: number;
  loadStart: number;
  loadEnd: number;
  rssStartMB: number;
  rssMaxMB: number;
  rssEndMB: number;
  rssSlopeMBperMin: number;
}

const rows: Row[] = [];
if (values.one === undefined) {
  for (const n of values.cameras.split(',').map(Number)) {
    const args = [process.argv[1]!, '--one', String(n), '--frames', path.join(work, 'traffic.json'), '--seconds', String(seconds), '--warmup', String(warmup), '--offered', String(offered), '--ocr-workers', values['ocr-workers'], '--max-delay', values['max-delay']];
    if (values['queue-depth']) args.push('--queue-depth', values['queue-depth']);
    if (values.concurrency) args.push('--concurrency', values.concurrency);
    if (values['texture-reads']) args.push('--texture-reads', values['texture-reads']);
    args.push('--screens', values.screens);
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
    recognition: {
      ocr: { workers: Number(values['ocr-workers']) },
      ...(values['texture-reads'] ? { detector: { textureReads: Number(values['texture-reads']) } } : {}),
    },
    grouping: { maxDelayMs: Number(values['max-delay']), leaveAfterMs: 1000 },
    pipeline: {
      ...(values['queue-depth'] ? { queueDepth: Number(values['queue-depth']) } : {}),
      ...(values.concurrency ? { concurrency: Number(values.concurrency) } : {}),
    },
    cameras: Array.from({ length: n }, (_, i) => ({
      id: `cam${i + 1}`,
      type: 'replay',
      source: manifest.jpegDir,
      fps: offered / n,
      maxFps: offered / n,
      loop: true,
    })),
  });
  // the hot list: every plate of the traffic (so every car is a hit and raises an alert)
  const hotlistFile = path.join(work, `hotlist-${n}.txt`);
  writeFileSync(hotlistFile, `${[...new Set(manifest.cars.map((c) => c.text))].join('\n')}\n`);
  {
    const { store } = openStore(config, systemClock);
    try {
      Hotlists.open(store.database, { config: config.hotlists, clock: systemClock }).importFile(hotlistFile, { list: 'bench', format: 'lines', user: 'bench' });
    } finally {
      store.close();
    }
  }
  // which car each frame file shows, to know when a car's first frame was offered
  const carOfFirstFrame = new Map<string, string>();
  for (const c of manifest.cars) carOfFirstFrame.set(path.join(manifest.jpegDir, `frame-${String(c.firstFrame).padStart(5, '0')}.jpg`), c.text);
  const screens = Number(values.screens);
  const cookies: string[] = [];
  if (screens > 0) {
    config.ui = { ...config.ui, enabled: true, host: '127.0.0.1', port: 0 };
    const { store, auditKey } = openStore(config, systemClock);
    try {
      const log = new AccessLog(store.database, auditKey, systemClock);
      const { totp } = await addUser(store.database, log, 'bootstrap', { name: 'admin', agency: 'bench', role: 'admin', password: 'bench password 1' });
      const r = await signIn(store.database, log, { name: 'admin', password: 'bench password 1', totp: totpCode(totp!.secret, systemClock()) });
      if (!r.ok) throw new Error(r.message);
      await addUser(store.database, log, r.principal, { name: 'officer', agency: 'bench', role: 'officer', password: 'bench password 1' });
      await addUser(store.database, log, r.principal, { name: 'tech', agency: 'bench', role: 'technician', password: 'bench password 1' });
    } finally {
      store.close();
    }
  }
  const unit = await Unit.start(config, createLogger('silent'), systemClock);
  let clients: ChildProcess | undefined;
  let ui: UiServer | undefined;
  if (screens > 0) {
    ui = await startUiServer({ unit, log: createLogger('silent') });
    for (const name of ['officer', 'tech']) {
      const res = await fetch(`${ui.url}/api/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name, password: 'bench password 1' }) });
      cookies.push(res.headers.get('set-cookie')!.split(';')[0]!);
    }
    clients = spawn(process.execPath, [process.argv[1]!, '--clients', ui.url, '--cookies', cookies.join(','), '--screens', String(screens)], { stdio: 'inherit' });
  }
  // camera -> plate -> capture time of that car's first frame offered (the scheduler is the cameras' sink)
  const carStart = new Map<string, Map<string, number>>();
  const scheduler = (unit as unknown as { scheduler: { offer(f: Frame): Promise<void> } }).scheduler;
  const offer = scheduler.offer.bind(scheduler);
  scheduler.offer = (f: Frame) => {
    const text = carOfFirstFrame.get(path.resolve(f.origin)) ?? carOfFirstFrame.get(f.origin);
    if (text !== undefined) {
      let m = carStart.get(f.cameraId);
      if (!m) carStart.set(f.cameraId, (m = new Map()));
      m.set(text, f.capturedAt);
    }
    return offer(f);
  };
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
  // frame -> stored read, grouping delay included: from the read's first frame's capture to the read stored
  const readLatency: number[] = [];
  unit.on('read', (e) => {
    if (!measuring || e.kind !== 'new') return;
    reads++;
    storeMs.push(e.storeMs);
    readLatency.push(systemClock() - e.read.firstSeen);
  });
  // frame -> alert raised in the outbox (the first alert of each read)
  const alertLatency: number[] = [];
  const carAlertLatency: number[] = [];
  const alerted = new Set<number>();
  let alerts = 0;
  unit.on('hit', (e) => {
    if (!measuring || alerted.has(e.read.id)) return;
    alerted.add(e.read.id);
    alerts++;
    alertLatency.push(e.alert.alert.raisedAt - e.read.firstSeen);
    const start = carStart.get(e.read.cameraId)?.get(e.read.plate);
    if (start !== undefined && start <= e.read.firstSeen) carAlertLatency.push(e.alert.alert.raisedAt - start);
  });
  const loadStart = os.loadavg()[0]!;
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
  const loadEnd = os.loadavg()[0]!;
  clients?.kill('SIGKILL');
  await ui?.close();
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
    screens,
    offeredFps: Math.round((off / elapsed) * 10) / 10,
    processedFps: Math.round((proc / elapsed) * 10) / 10,
    dropShare: Math.round((drop / Math.max(1, off)) * 1000) / 10,
    recognizeP50: pct(recog, 0.5),
    recognizeP99: pct(recog, 0.99),
    storeP50: pct(storeMs, 0.5),
    storeP99: pct(storeMs, 0.99),
    readP50: pct(readLatency, 0.5),
    readP99: pct(readLatency, 0.99),
    alertP50: pct(alertLatency, 0.5),
    alertP99: pct(alertLatency, 0.99),
    carAlertP50: pct(carAlertLatency, 0.5),
    carAlertP99: pct(carAlertLatency, 0.99),
    reads,
    alerts,
    loadStart: Math.round(loadStart * 10) / 10,
    loadEnd: Math.round(loadEnd * 10) / 10,
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
const pipe = `queueDepth ${values['queue-depth'] ?? 'default'}, concurrency ${values.concurrency ?? 'default'}, maxDelayMs ${values['max-delay']}`;
const header = `bench:unit ${values.label ? `[${values.label}] ` : ''}${new Date().toISOString().slice(0, 10)}, ${cpu}, ${os.cpus().length} cores, node ${process.version}; ${manifest.frames} 1080p JPEG frames (${manifest.cars.length} car passes) looped, every plate on the hot list; ${seconds} s measured after ${warmup} s warm-up; ${values['ocr-workers']} OCR worker(s); ${pipe}`;
const table = [
  '| cameras | screens | offered fps | processed fps | dropped | capture→recognised p50 / p99 ms | store p50 / p99 ms | frame→read p50 / p99 ms | frame→alert p50 / p99 ms | car→alert p50 / p99 ms | reads | alerts | load 1 min start / end | RSS start / max / end MB | RSS slope MB/min |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.cameras} | ${r.screens} | ${r.offeredFps} | ${r.processedFps} | ${r.dropShare}% | ${r.recognizeP50} / ${r.recognizeP99} | ${r.storeP50} / ${r.storeP99} | ${r.readP50} / ${r.readP99} | ${r.alertP50} / ${r.alertP99} | ${r.carAlertP50} / ${r.carAlertP99} | ${r.reads} | ${r.alerts} | ${r.loadStart} / ${r.loadEnd} | ${r.rssStartMB} / ${r.rssMaxMB} / ${r.rssEndMB} | ${r.rssSlopeMBperMin} |`,
  ),
].join('\n');
process.stdout.write(`\n${header}\n\n${table}\n`);
if (values.out) writeFileSync(values.out, JSON.stringify({ header, rows }, null, 2));
rmSync(work, { recursive: true, force: true });

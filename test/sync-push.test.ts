import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { startCentral, type CentralServer } from '../src/central/server.js';
import { configSchema, type Config } from '../src/config/schema.js';
import { Hotlists } from '../src/hotlist/index.js';
import { createLogger } from '../src/log/logger.js';
import { ReadStore, type NewRead } from '../src/store/read-store.js';
import { SyncEngine, type CycleReport } from '../src/sync/engine.js';
import { importInWorker } from '../src/unit/hotlist-import.js';
import { cursorOf } from '../src/sync/streams.js';
import { systemClock } from '../src/util/clock.js';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';
import { adminSession } from './session-helper.js';
import { makePki, type Pki } from './tls.js';
import { newRead, until } from './helpers.js';

/**
 * Push to the reference central server over real HTTP(S) on loopback, through a TCP proxy that breaks the link:
 * whatever happens on the way, every read ends up on the server exactly once and the unit's cursor is right.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const UNIT = 'car-12';
const TOKEN = 'tok-car12-3f9a2c';
const log = createLogger('silent');
// a real JPEG of the fixtures as image bytes
const PLATES = path.join(ROOT, 'test-fixtures', 'plates');
const jpeg = readFileSync(path.join(PLATES, readdirSync(PLATES).filter((f) => f.endsWith('.jpg')).sort()[0]!));

let n = 0;
/** The next read (test/helpers.ts) of this unit, plate SYN<n>, a real JPEG's start as its crop and (`images`) the JPEG as its frame. */
function nextRead(opts: { firstSeen?: number; images?: boolean } = {}): NewRead {
  n++;
  return newRead(n, {
    unitId: UNIT,
    plate: `SYN${String(n).padStart(4, '0')}`,
    ...(opts.firstSeen !== undefined ? { firstSeen: opts.firstSeen } : {}),
    crop: { bytes: jpeg.subarray(0, 3000), format: 'jpeg' },
    frame: opts.images ? { bytes: jpeg, format: 'jpeg' } : undefined,
  });
}

let dir: string;
let pki: Pki;
let central: CentralServer;
let store: ReadStore;

beforeAll(() => {
  pki = makePki(mkdtempSync(path.join(tmpdir(), 'alpr-sync-pki-')));
});
afterAll(() => rmSync(pki.dir, { recursive: true, force: true }));

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'alpr-sync-'));
  writeFileSync(path.join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
  store = ReadStore.open(path.join(dir, 'unit'), { imageBudgetBytes: 200 * 2 ** 20, clock: systemClock });
});
afterEach(async () => {
  store.close();
  await central?.close();
  rmSync(dir, { recursive: true, force: true });
});

function config(sync: Record<string, unknown>, extra: Record<string, unknown> = {}): Config {
  return configSchema.parse({ unit: { id: UNIT }, data: { dir: path.join(dir, 'unit') }, sync: { enabled: true, ...sync }, ...extra });
}

function engine(cfg: Config, hotlists?: Hotlists): SyncEngine {
  return new SyncEngine({ config: cfg.sync, unitId: UNIT, store, hotlists, log, health: () => ({ unitId: UNIT, ok: true }) });
}

async function storeReads(count: number, opts: { images?: boolean } = {}): Promise<string[]> {
  const uuids: string[] = [];
  for (let i = 0; i < count; i++) uuids.push((await store.insertRead(nextRead(opts))).uuid);
  return uuids;
}

/** Every read of the unit is on the server exactly once, with the unit's latest version, and the unit knows it. */
function expectAllSyncedOnce(uuids: string[]): void {
  expect(central.db.count('reads', UNIT)).toBe(uuids.length);
  for (const uuid of uuids) {
    const onServer = central.db.read(UNIT, uuid);
    expect(onServer, uuid).toBeDefined();
    expect(onServer!.body.plate).toBe(store.getReadByUuid(uuid)!.plate);
  }
  const db = store.database;
  expect(db.prepare("SELECT COUNT(*) AS n FROM reads WHERE sync_state = 'pending'").get()).toEqual({ n: 0 });
  expect(cursorOf(db, 'reads')).toBe((db.prepare('SELECT MAX(sync_seq) AS m FROM reads').get() as { m: number }).m);
}

describe('push through a broken link (plain HTTP on loopback, so the proxy can cut inside an answer)', () => {
  let proxy: FaultProxy;
  beforeEach(async () => {
    central = await startCentral({ clock: systemClock, dataDir: path.join(dir, 'central'), insecureHttp: true, tokens: [{ token: TOKEN, unit: UNIT }], log });
    proxy = await startFaultProxy({ host: '127.0.0.1', port: central.port });
  });
  afterEach(async () => proxy.close());

  const cfg = () =>
    config({
      batchSize: 7,
      server: { url: proxy.url('http'), allowInsecureHttp: true, tokenFile: path.join(dir, 'token'), connectTimeoutMs: 500, responseTimeoutMs: 700 },
      images: { mode: 'off' },
    });

  it('server down, hanging, cut mid-answer, cut mid-request, slow: afterwards every read is there once and the cursor is right', async () => {
    const uuids = await storeReads(40);
    const e = engine(cfg());

    await proxy.stop();
    let r = await e.runCycle();
    expect(r.ok).toBe(false);
    expect(r.error!.message).toMatch(/refused the connection/);
    expect(central.db.count('reads')).toBe(0);
    await proxy.start();

    proxy.mode = 'hang';
    r = await e.runCycle();
    expect(r.ok).toBe(false);
    expect(r.error!.kind).toBe('timeout');

    // the server stores the first batch, the answer is lost: the unit does not move its cursor
    proxy.mode = 'cut-response';
    r = await e.runCycle();
    expect(r.ok).toBe(false);
    expect(r.error!.kind).toBe('network');
    expect(central.db.count('reads')).toBe(7);
    expect(cursorOf(store.database, 'reads')).toBe(0);

    proxy.mode = 'cut-request';
    proxy.cutBytes = 300;
    r = await e.runCycle();
    expect(r.ok).toBe(false);
    expect(central.db.count('reads')).toBe(7);

    proxy.mode = 'slow';
    proxy.delayMs = 20;
    r = await e.runCycle();
    expect(r.ok, r.error?.message).toBe(true);
    // the batch whose answer was lost came again: stored once, counted as a duplicate
    expect(r.streams.reads).toMatchObject({ sent: 40, stored: 33, duplicates: 7 });
    expectAllSyncedOnce(uuids);
    await e.stop();
  });

  it('a server answering 500 gets the batch again later; a read changed after it was sent is sent again and replaces the old one', async () => {
    const failing = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'database is locked' }));
      });
    });
    await new Promise<void>((r) => failing.listen(0, '127.0.0.1', r));
    const port = (failing.address() as { port: number }).port;
    const uuids = await storeReads(10);
    const bad = engine(config({ server: { url: `http://127.0.0.1:${port}/`, allowInsecureHttp: true, tokenFile: path.join(dir, 'token') }, images: { mode: 'off' } }));
    const r500 = await bad.runCycle();
    expect(r500.ok).toBe(false);
    expect(r500.error).toMatchObject({ kind: 'server' });
    expect(r500.error!.message).toMatch(/500: database is locked/);
    expect(cursorOf(store.database, 'reads')).toBe(0);
    await bad.stop();
    failing.close();

    const e = engine(cfg());
    expect((await e.runCycle()).ok).toBe(true);
    expectAllSyncedOnce(uuids);

    // more frames of the same car after the sync: a better text
    const read = store.getReadByUuid(uuids[3]!)!;
    await store.updateRead(read.id, {
      plate: 'SYN9999',
      confidence: 97,
      candidates: [{ text: 'SYN9999', confidence: 97 }],
      box: read.box,
      lastSeen: read.lastSeen + 500,
      bestSeen: read.bestSeen,
      frameCount: 5,
      closed: true,
      position: read.position,
    });
    expect(store.getReadByUuid(uuids[3]!)!.syncState).toBe('pending');
    const again = await e.runCycle();
    expect(again.streams.reads).toMatchObject({ sent: 1, stored: 1 });
    expect(central.db.read(UNIT, uuids[3]!)!.body.plate).toBe('SYN9999');
    expectAllSyncedOnce(uuids);
    await e.stop();
  });

  it('a clock set back or forward on the unit changes nothing: the cursor is not a time', async () => {
    const day = 86_400_000;
    const base = Date.UTC(2026, 10, 22, 12);
    const uuids: string[] = [];
    // reads stamped as the clock jumps: an hour back, a day forward, a year back
    for (const t of [base, base - 3_600_000, base + day, base + 2000, base - 365 * day, base + 3000]) {
      uuids.push((await store.insertRead(nextRead({ firstSeen: t }))).uuid);
    }
    const e = engine(cfg());
    expect((await e.runCycle()).ok).toBe(true);
    uuids.push((await store.insertRead(nextRead({ firstSeen: base - 10 * day }))).uuid);
    expect((await e.runCycle()).streams.reads).toMatchObject({ sent: 1 });
    expectAllSyncedOnce(uuids);
    await e.stop();
  });

  it('after a purge that empties the store, new reads still go up: the sequence never starts again below the cursor', async () => {
    const first = await storeReads(3);
    const e = engine(cfg());
    expect((await e.runCycle()).ok).toBe(true);
    // retention deletes every read (synced, past deleteDays)
    store.database.exec('DELETE FROM images; DELETE FROM reads;');
    const later = await storeReads(2);
    const r = await e.runCycle();
    expect(r.streams.reads).toMatchObject({ sent: 2, stored: 2 });
    expect(central.db.count('reads', UNIT)).toBe(5);
    for (const uuid of [...first, ...later]) expect(central.db.read(UNIT, uuid)).toBeDefined();
    await e.stop();
  });

  it('hits (covert ones too), alert events, the access log and faults travel the same way, and health is reported', async () => {
    const [uuid] = await storeReads(1);
    const db = store.database;
    const readId = store.getReadByUuid(uuid!)!.id;
    db.prepare(
      `INSERT INTO hotlist_hits (read_id, list_id, list_name, entry_id, entry_plate, how, matched_text, candidate, category, priority, covert, created_at)
       VALUES (?, 1, 'surveillance', 1, 'SYN0001', 'exact', 'SYN0001', 0, 'covert watch', 3, 1, ?)`,
    ).run(readId, Date.now());
    db.prepare("INSERT INTO unit_faults (at, code, subject, state, message) VALUES (?, 'camera', 'front', 'raised', 'camera front is not connected')").run(Date.now());
    const e = engine(cfg());
    const r = await e.runCycle();
    expect(r.ok, r.error?.message).toBe(true);
    expect(central.db.count('hits', UNIT)).toBe(1);
    expect(central.db.item(UNIT, 'hits', '1')!.body).toMatchObject({ readUuid: uuid, covert: true, list: 'surveillance' });
    expect(central.db.count('faults', UNIT)).toBe(1);
    expect(central.db.health(UNIT)!.body).toMatchObject({ unitId: UNIT, ok: true });
    // nothing new: nothing sent again
    const again = await e.runCycle();
    expect(Object.values(again.streams).reduce((s, x) => s + x.sent, 0)).toBe(0);
    await e.stop();
  });

  it('capture first: a push waits while capture falls behind, never longer than the limit per batch, and still sends everything', async () => {
    const uuids = await storeReads(10);
    // capture is behind until the test says it has caught up; the limit is out of reach (10 min), so the push
    // can only go on because capture caught up
    let behind = true;
    let asked = 0;
    const e = new SyncEngine({
      config: cfg().sync,
      unitId: UNIT,
      store,
      log,
      captureBusy: () => {
        asked++;
        return behind;
      },
      captureYieldMaxMs: 600_000,
    });
    const cycle = e.runCycle();
    await until(() => asked >= 3, 10_000, 'the push to ask about capture a few times');
    // nothing went up while capture was behind
    expect(central.db.count('reads', UNIT)).toBe(0);
    behind = false;
    const r = await cycle;
    expect(r.ok, r.error?.message).toBe(true);
    // the first batch waited until capture caught up, the second went at once
    expect(r.streams.reads).toMatchObject({ sent: 10, batches: 2 });
    expect(r.streams.reads!.yieldedMs).toBeGreaterThan(0);
    expectAllSyncedOnce(uuids);
    await e.stop();

    // capture never catches up (an overloaded unit): each batch waits the limit, then goes up while capture is
    // still behind; the reads all go up. (Capture's frame rate with and without the wait: bench:sync --capture-first)
    const more = await storeReads(10);
    const sentWhileBehind: number[] = [];
    const overloaded = new SyncEngine({
      config: cfg().sync,
      unitId: UNIT,
      store,
      log,
      captureBusy: () => {
        sentWhileBehind.push(central.db.count('reads', UNIT));
        return true;
      },
      captureYieldMaxMs: 120,
    });
    const r2 = await overloaded.runCycle();
    expect(r2.ok, r2.error?.message).toBe(true);
    // 10 reads in batches of 7: two batches, each after a wait of the limit (120 ms; the check runs every 50 ms)
    expect(r2.streams.reads).toMatchObject({ sent: 10, batches: 2 });
    expect(r2.streams.reads!.yieldedMs).toBeGreaterThanOrEqual(2 * 115);
    // capture still said "behind" just before each batch went up: the limit, not capture, let them go
    expect(sentWhileBehind).toContain(10);
    expect(sentWhileBehind).toContain(17);
    expectAllSyncedOnce([...uuids, ...more]);
    await overloaded.stop();
  });

  it('a fault raised goes up at once with the health, not at the next scheduled cycle; changes close together coalesce', async () => {
    await storeReads(3);
    const db = store.database;
    const fault = db.prepare("INSERT INTO unit_faults (at, code, subject, state, message) VALUES (?, 'camera', 'rear', ?, 'camera rear is not connected (61 s)')");
    let ok = true;
    const e = new SyncEngine({ config: cfg().sync, unitId: UNIT, store, log, health: () => ({ unitId: UNIT, ok }), faultPushMinMs: 600 });
    const cycles: CycleReport[] = [];
    e.on('cycle', (r) => cycles.push(r));
    fault.run(Date.now(), 'raised');
    ok = false;
    e.pushFaultsSoon();
    await until(() => cycles.length === 1, 5000, 'the fault pushed');
    expect(cycles[0]).toMatchObject({ trigger: 'faults', ok: true });
    expect(Object.keys(cycles[0]!.streams)).toEqual(['faults']);
    expect(central.db.count('faults', UNIT)).toBe(1);
    expect(central.db.health(UNIT)!.body).toMatchObject({ ok: false });
    // the reads wait for their schedule
    expect(central.db.count('reads', UNIT)).toBe(0);

    // cleared, raised, cleared again within the minimum interval: one more push carries all three
    const t0 = Date.now();
    for (const state of ['cleared', 'raised', 'cleared']) {
      fault.run(Date.now(), state);
      e.pushFaultsSoon();
    }
    ok = true;
    await until(() => cycles.length === 2, 5000, 'the second push');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
    expect(cycles[1]!.streams.faults).toMatchObject({ sent: 3 });
    expect(central.db.count('faults', UNIT)).toBe(4);
    expect(central.db.health(UNIT)!.body).toMatchObject({ ok: true });
    await new Promise((r) => setTimeout(r, 800));
    expect(cycles).toHaveLength(2);
    await e.stop();
  });

  it('backs off after failures, then catches up by itself when the server is back', async () => {
    const uuids = await storeReads(5);
    await proxy.stop();
    const e = new SyncEngine({
      config: configSchema.parse({
        unit: { id: UNIT },
        sync: {
          enabled: true,
          schedule: ['0 0 1 1 *'],
          retry: { initialMs: 40, maxMs: 400 },
          server: { url: proxy.url('http'), allowInsecureHttp: true, tokenFile: path.join(dir, 'token'), connectTimeoutMs: 300 },
          images: { mode: 'off' },
        },
      }).sync,
      unitId: UNIT,
      store,
      log,
      random: () => 0.5,
    });
    const attempts: number[] = [];
    const done = new Promise<void>((resolve) =>
      e.on('cycle', (c) => {
        attempts.push(performance.now());
        if (c.ok) resolve();
      }),
    );
    e.start();
    void e.runCycle('manual');
    await new Promise((r) => setTimeout(r, 700));
    const failedSoFar = attempts.length;
    expect(failedSoFar).toBeGreaterThanOrEqual(3);
    // each wait at least as long as the one before (doubling, capped)
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    expect(gaps[gaps.length - 1]!).toBeGreaterThan(gaps[0]!);
    expect(e.status().consecutiveFailures).toBeGreaterThanOrEqual(3);
    await proxy.start();
    await done;
    expect(e.status().consecutiveFailures).toBe(0);
    expectAllSyncedOnce(uuids);
    await e.stop();
  });

  it('a unit killed in the middle of a batch sends it again after the restart, and it is stored once', async () => {
    const uuids = await storeReads(300);
    const cfgFile = path.join(dir, 'unit.yaml');
    writeFileSync(
      cfgFile,
      YAML.stringify({
        unit: { id: UNIT },
        data: { dir: path.join(dir, 'unit') },
        log: { level: 'warn' },
        sync: {
          enabled: true,
          batchSize: 50,
          server: { url: proxy.url('http'), allowInsecureHttp: true, tokenFile: path.join(dir, 'token') },
          images: { mode: 'off' },
        },
      }),
    );
    store.close();
    // sync now sends data off the unit: only on a signed-in technician's or admin's command
    const env = { ...process.env, ALPR_EDGE_SESSION: await adminSession(path.join(dir, 'unit')) };
    // slow answers: the server has stored a batch well before the unit hears of it
    proxy.mode = 'slow';
    proxy.delayMs = 400;
    const child = spawn(process.execPath, [MAIN, 'sync', 'now', '--config', cfgFile], { stdio: 'ignore', env });
    const deadline = Date.now() + 20_000;
    while (central.db.count('reads') < 100 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(central.db.count('reads')).toBeGreaterThanOrEqual(100);
    store = ReadStore.open(path.join(dir, 'unit'), { imageBudgetBytes: 200 * 2 ** 20, clock: systemClock });
    const acked = cursorOf(store.database, 'reads');
    // the unit's cursor is behind what the server has (the last answers never arrived)
    expect(acked).toBeLessThan(central.db.count('reads'));
    proxy.mode = 'pass';
    const rerun = spawn(process.execPath, [MAIN, 'sync', 'now', '--config', cfgFile], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    rerun.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    rerun.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const code = await new Promise<number | null>((r) => rerun.once('exit', r));
    expect(code, out).toBe(0);
    expect(out).toMatch(/reads: \d+ sent .* \d+ already on the server/);
    expectAllSyncedOnce(uuids);
  }, 60_000);
});

describe('push over HTTPS: who may talk to whom', () => {
  it('a server certificate the unit does not trust: refused at the handshake, a clear error, nothing sent', async () => {
    central = await startCentral({ clock: systemClock, dataDir: path.join(dir, 'central'), tls: { cert: pki.otherCa.server.cert, key: pki.otherCa.server.key }, tokens: [{ token: TOKEN, unit: UNIT }], log });
    await storeReads(3);
    const e = engine(config({ server: { url: central.url, caFile: pki.ca.certFile, tokenFile: path.join(dir, 'token') }, images: { mode: 'off' } }));
    const r = await e.runCycle();
    expect(r.ok).toBe(false);
    expect(r.error!.kind).toBe('tls');
    expect(r.error!.message).toMatch(/certificate is not trusted.*nothing was sent/i);
    expect(central.db.count()).toBe(0);
    expect(cursorOf(store.database, 'reads')).toBe(0);
    await e.stop();
  });

  it('an expired token or an unknown one: 401 with the reason, nothing stored; a token for another unit: 403', async () => {
    central = await startCentral({
      clock: systemClock,
      dataDir: path.join(dir, 'central'),
      tls: { cert: pki.server.cert, key: pki.server.key },
      tokens: [
        { token: TOKEN, unit: UNIT, expiresAt: Date.now() - 60_000 },
        { token: 'tok-other-unit', unit: 'car-99' },
      ],
      log,
    });
    await storeReads(3);
    const e = engine(config({ server: { url: central.url, caFile: pki.ca.certFile, tokenFile: path.join(dir, 'token') }, images: { mode: 'off' } }));
    let r = await e.runCycle();
    expect(r.error).toMatchObject({ kind: 'auth' });
    expect(r.error!.message).toMatch(/401: token expired/);
    writeFileSync(path.join(dir, 'token'), 'tok-never-issued\n');
    r = await e.runCycle();
    expect(r.error!.message).toMatch(/401: unknown token/);
    writeFileSync(path.join(dir, 'token'), 'tok-other-unit\n');
    r = await e.runCycle();
    expect(r.error).toMatchObject({ kind: 'auth' });
    expect(r.error!.message).toMatch(/403/);
    expect(central.db.count()).toBe(0);
    expect(cursorOf(store.database, 'reads')).toBe(0);
    await e.stop();
  });

  it('mutual TLS: a client certificate the server does not know is refused at the handshake; the right one works', async () => {
    central = await startCentral({ clock: systemClock, dataDir: path.join(dir, 'central'), tls: { cert: pki.server.cert, key: pki.server.key, clientCa: pki.ca.cert }, log });
    const uuids = await storeReads(4, { images: true });
    const stranger = engine(
      config({ server: { url: central.url, caFile: pki.ca.certFile, certFile: pki.otherCa.client.certFile, keyFile: pki.otherCa.client.keyFile }, images: { mode: 'off' } }),
    );
    const r = await stranger.runCycle();
    expect(r.ok).toBe(false);
    expect(r.error!.kind).toMatch(/tls|network/);
    expect(central.db.count()).toBe(0);
    await stranger.stop();

    const mine = pki.clientCert(UNIT);
    const e = engine(config({ server: { url: central.url, caFile: pki.ca.certFile, certFile: mine.certFile, keyFile: mine.keyFile }, images: { chunkKB: 8 } }));
    const ok = await e.runCycle();
    expect(ok.ok, ok.error?.message).toBe(true);
    expectAllSyncedOnce(uuids);
    // images went up whole, decrypted, in chunks
    expect(ok.images.uploaded).toBe(8);
    for (const uuid of uuids) {
      expect(central.db.image(UNIT, uuid, 'frame')).toMatchObject({ complete: true });
      expect(central.db.imageBytes(UNIT, uuid, 'frame')!.equals(jpeg)).toBe(true);
    }
    await e.stop();
  });

  it('plain http is refused by the config unless allowed explicitly', () => {
    expect(() => config({ server: { url: 'http://central.example/api' } })).toThrow(/plain http:\/\/ would send reads unencrypted/);
    expect(config({ server: { url: 'http://127.0.0.1:9/', allowInsecureHttp: true } }).sync.server.allowInsecureHttp).toBe(true);
  });
});

describe('images: resumable and rate-limited', () => {
  let proxy: FaultProxy;
  beforeEach(async () => {
    central = await startCentral({ clock: systemClock, dataDir: path.join(dir, 'central'), insecureHttp: true, tokens: [{ token: TOKEN, unit: UNIT }], log });
    proxy = await startFaultProxy({ host: '127.0.0.1', port: central.port });
  });
  afterEach(async () => proxy.close());

  it('an upload cut in the middle resumes at the last chunk the server has', async () => {
    const [uuid] = await storeReads(1, { images: true });
    const chunkKB = 4;
    const e = engine(
      config({
        server: { url: proxy.url('http'), allowInsecureHttp: true, tokenFile: path.join(dir, 'token'), responseTimeoutMs: 2000 },
        images: { chunkKB },
      }),
    );
    // reads first, then the connection dies once a few chunks of the frame are through
    let chunks = 0;
    proxy.onConnection = () => undefined;
    const first = await e.runCycle();
    expect(first.ok).toBe(true);
    expect(central.db.image(UNIT, uuid!, 'frame')).toMatchObject({ complete: true });
    // a new frame image for the read (more frames of the car): cut the link after ~3 chunks
    const read = store.getReadByUuid(uuid!)!;
    const bigger = Buffer.concat([jpeg, randomBytes(20_000)]);
    await store.updateRead(read.id, { ...read, frame: { bytes: bigger, format: 'jpeg' } });
    proxy.mode = 'cut-request';
    proxy.cutBytes = 3 * chunkKB * 1024 + 2000;
    const cut = await e.runCycle();
    expect(cut.ok).toBe(false);
    proxy.mode = 'pass';
    const resumed = await e.runCycle();
    expect(resumed.ok, resumed.error?.message).toBe(true);
    chunks = resumed.images.bytes;
    expect(resumed.images.resumed).toBe(1);
    expect(chunks).toBeLessThan(bigger.length);
    expect(central.db.imageBytes(UNIT, uuid!, 'frame')!.equals(bigger)).toBe(true);
    await e.stop();
  });

  it('deferred images wait for their schedule and for the named interface (Wi-Fi at the depot); the reads do not', async () => {
    const uuids = await storeReads(2, { images: true });
    const deferred = (interfaces: string[]) =>
      engine(config({ server: { url: proxy.url('http'), allowInsecureHttp: true, tokenFile: path.join(dir, 'token') }, images: { mode: 'deferred', schedule: ['0 2 * * *'], interfaces } }));
    // on the road (no such interface up): reads go, images stay
    let e = deferred(['wlan-depot9']);
    let r = await e.runCycle('schedule');
    expect(r.ok).toBe(true);
    expect(r.streams.reads).toMatchObject({ sent: 2 });
    expect(r.images).toMatchObject({ uploaded: 0, deferred: true });
    expect(e.status().backlog.images).toBe(4);
    // the image schedule fires, but the interface is still down: nothing
    r = await e.runCycle('images');
    expect(r.images).toMatchObject({ uploaded: 0, deferred: true });
    await e.stop();
    // at the depot (the loopback interface stands in for its Wi-Fi): the image run sends them
    e = deferred(['lo']);
    r = await e.runCycle('images');
    expect(r.ok, r.error?.message).toBe(true);
    expect(r.images.uploaded).toBe(4);
    for (const uuid of uuids) expect(central.db.image(UNIT, uuid, 'frame')).toMatchObject({ complete: true });
    expect(e.status().backlog.images).toBe(0);
    await e.stop();
  });

  it('keeps to the bandwidth limit', async () => {
    await storeReads(3, { images: true });
    const bytes = 3 * (jpeg.length + 3000);
    const kbps = 64;
    const e = engine(config({ maxKBps: kbps, server: { url: proxy.url('http'), allowInsecureHttp: true, tokenFile: path.join(dir, 'token') } }));
    const t0 = performance.now();
    const r = await e.runCycle();
    const seconds = (performance.now() - t0) / 1000;
    expect(r.ok).toBe(true);
    expect(proxy.bytesToServer).toBeGreaterThan(bytes);
    // it cannot be faster than the limit allows (a burst of a quarter second aside)
    expect(seconds).toBeGreaterThanOrEqual(bytes / (kbps * 1024) - 0.3);
    await e.stop();
  });
});

describe('hot lists back from the server', () => {
  it('imports published lists atomically, applies entries and cancellations at once and once, and skips an unchanged manifest', async () => {
    const lists = path.join(dir, 'lists');
    mkdirSync(lists);
    writeFileSync(path.join(lists, 'stolen.txt'), '7ABC123\n4XYZ999\n5DEF456\n');
    central = await startCentral({ clock: systemClock, dataDir: path.join(dir, 'central'), hotlistsDir: lists, insecureHttp: true, tokens: [{ token: TOKEN, unit: UNIT }], log });
    const cfg = config({ server: { url: central.url, allowInsecureHttp: true, tokenFile: path.join(dir, 'token') }, images: { mode: 'off' } });
    const hotlists = Hotlists.open(store.database, { config: cfg.hotlists, log, clock: systemClock });
    const e = engine(cfg, hotlists);
    const texts = (plate: string) => ({ plate, candidates: [{ text: plate }] });
    let r = await e.runCycle();
    expect(r.ok, r.error?.message).toBe(true);
    expect(r.hotlists!.imported).toEqual([expect.objectContaining({ list: 'stolen', entries: 3 })]);
    expect(hotlists.match(texts('4XYZ999'))).toHaveLength(1);

    // nothing changed: 304, nothing imported again
    r = await e.runCycle();
    expect(r.hotlists!.manifest).toBe('unchanged');

    const { publishCancellation, publishEntry } = await import('../src/central/db.js');
    publishEntry(central.db, { list: 'urgent', plate: '8URG888', reason: 'armed robbery suspect', caseNumber: '26-004512', by: 'dispatch' });
    publishCancellation(central.db, { list: 'stolen', plate: '4XYZ999', reason: 'vehicle recovered', by: 'dispatch' });
    writeFileSync(path.join(lists, 'stolen.txt'), '7ABC123\n4XYZ999\n5DEF456\n9NEW000\n');
    r = await e.runCycle();
    expect(r.ok, r.error?.message).toBe(true);
    expect(r.hotlists).toMatchObject({ entriesAdded: 1, cancellations: 1 });
    expect(r.hotlists!.imported).toEqual([expect.objectContaining({ list: 'stolen', entries: 4 })]);
    expect(hotlists.match(texts('8URG888'))).toHaveLength(1);
    expect(hotlists.match(texts('9NEW000'))).toHaveLength(1);
    // cancelled, and it stays cancelled in the new version of the file that still lists it
    expect(hotlists.match(texts('4XYZ999'))).toHaveLength(0);
    // applied once: the next cycle changes nothing
    r = await e.runCycle();
    expect(r.hotlists).toMatchObject({ entriesAdded: 0, cancellations: 0 });
    hotlists.stop();
    await e.stop();
  });

  it('the running unit imports in a worker thread (its own connection to the store); the list matches when the cycle ends', async () => {
    const lists = path.join(dir, 'lists');
    mkdirSync(lists);
    const plates = Array.from({ length: 20_000 }, (_, i) => `W${String(i).padStart(6, '0')}`);
    writeFileSync(path.join(lists, 'big.txt'), `${plates.join('\n')}\n`);
    central = await startCentral({ clock: systemClock, dataDir: path.join(dir, 'central'), hotlistsDir: lists, insecureHttp: true, tokens: [{ token: TOKEN, unit: UNIT }], log });
    const cfg = config({ server: { url: central.url, allowInsecureHttp: true, tokenFile: path.join(dir, 'token') }, images: { mode: 'off' } });
    const hotlists = Hotlists.open(store.database, { config: cfg.hotlists, log, clock: systemClock });
    const e = new SyncEngine({ config: cfg.sync, unitId: UNIT, store, hotlists, log, importer: importInWorker(cfg, systemClock) });
    const r = await e.runCycle();
    expect(r.ok, r.error?.message).toBe(true);
    expect(r.hotlists!.imported).toEqual([expect.objectContaining({ list: 'big', entries: 20_000 })]);
    expect(hotlists.match({ plate: 'W019999' })).toHaveLength(1);
    // a broken file on the server: rejected by the worker with its reason, the old version stays
    writeFileSync(path.join(lists, 'big.txt'), 'W000001\nnot a plate!\n');
    const bad = await e.runCycle();
    expect(bad.hotlists!.rejected).toEqual([expect.objectContaining({ list: 'big', error: expect.stringMatching(/line 2/) })]);
    expect(hotlists.match({ plate: 'W019999' })).toHaveLength(1);
    hotlists.stop();
    await e.stop();
  });

  it('a list whose file does not match the checksum of the manifest is not imported; the old version keeps matching', async () => {
    const good = '7ABC123\n';
    const crypto = await import('node:crypto');
    const sha = (s: string) => crypto.createHash('sha256').update(s).digest('hex');
    let served = good;
    let manifestSha = sha(good);
    const server = http.createServer((req, res) => {
      if (req.url!.endsWith('/hotlists')) {
        res.writeHead(200, { 'content-type': 'application/json', etag: `"${manifestSha}"` });
        res.end(JSON.stringify({ lists: [{ name: 'stolen', format: 'lines', sha256: manifestSha, href: '/files/stolen' }], entries: [], cancellations: [] }));
      } else {
        res.writeHead(200);
        res.end(served);
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
    const cfg = config({ server: { url, allowInsecureHttp: true }, images: { mode: 'off' } });
    const hotlists = Hotlists.open(store.database, { config: cfg.hotlists, log, clock: systemClock });
    const e = new SyncEngine({ config: { ...cfg.sync }, unitId: UNIT, store, hotlists, log });
    // only the hot list step matters here: the push streams have nothing to send
    let r = await e.runCycle();
    expect(r.hotlists!.imported).toHaveLength(1);
    // the file changes on the way (cut short, altered): the manifest's checksum no longer fits
    manifestSha = sha('7ABC123\n9NEW000\n');
    served = '7ABC123\n9NE';
    r = await e.runCycle();
    expect(r.hotlists!.rejected).toEqual([expect.objectContaining({ list: 'stolen', error: expect.stringMatching(/checksum mismatch/) })]);
    expect(hotlists.match({ plate: '7ABC123' })).toHaveLength(1);
    expect(hotlists.lists()[0]!.version!.checksum).toBe(sha(good));
    // a manifest that is not what the protocol says: reported with the reason, the lists stay as they are, and
    // the reads still go up
    manifestSha = 'not-a-sha';
    r = await e.runCycle();
    expect(r.ok).toBe(true);
    expect(r.hotlistsError).toMatch(/manifest is malformed: lists\.0\.sha256/);
    expect(hotlists.match({ plate: '7ABC123' })).toHaveLength(1);
    hotlists.stop();
    await e.stop();
    server.close();
  });
});


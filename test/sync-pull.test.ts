import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AccessLog, type AccessRecord } from '../src/access/access-log.js';
import { NO_POSITION } from '../src/gps/types.js';
import { createLogger } from '../src/log/logger.js';
import { ReadStore, type NewRead, type StoredRead } from '../src/store/read-store.js';
import { startPullServer } from '../src/sync/pull-server.js';
import { syncSchema, type SyncConfig } from '../src/sync/schema.js';
import { systemClock } from '../src/util/clock.js';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';
import { makePki, type Pki } from './tls.js';
import { capturePino, newRead, type PinoLine } from './helpers.js';

const FIXTURES = path.join(import.meta.dirname, '..', 'test-fixtures');
const jpeg = readFileSync(path.join(FIXTURES, 'plates', 'us-ca-clean.jpg'));
const png = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), randomBytes(3000)]);

const TOKEN = 'c3VwZXItc2VjcmV0LXRva2VuLW9mLWNlbnRyYWw';
const PURPOSE = { 'X-ALPR-Purpose': 'stolen vehicle follow-up', 'X-ALPR-Case': '26-004512' };
const AUTH = { Authorization: `Bearer ${TOKEN}` };

let pki: Pki;
let root: string;
beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'alpr-pull-'));
  pki = makePki(path.join(root, 'pki'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

let dir: string;
let store: ReadStore | undefined;
let accessLog: AccessLog;
let tokensFile: string;
let logLines: PinoLine[];
const cleanups: Array<() => Promise<void> | void> = [];

beforeEach(() => {
  dir = mkdtempSync(path.join(root, 't-'));
  tokensFile = path.join(dir, 'tokens');
  writeFileSync(tokensFile, `# central servers allowed to pull\n\ncentral ${TOKEN}\n`);
  logLines = [];
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  store?.close();
  store = undefined;
});

function openStore(dataKey?: Buffer): ReadStore {
  store = ReadStore.open(path.join(dir, 'data'), { imageBudgetBytes: 100 * 2 ** 20, dataKey: dataKey ?? null, clock: systemClock });
  accessLog = new AccessLog(store.database, randomBytes(32), systemClock);
  return store;
}

interface Server {
  url: string;
  port: number;
}

async function start(over: Partial<SyncConfig['pull']> = {}, st: ReadStore = store ?? openStore()): Promise<Server> {
  const config = syncSchema.parse({
    pull: {
      enabled: true,
      host: '127.0.0.1',
      port: 0,
      certFile: pki.server.certFile,
      keyFile: pki.server.keyFile,
      tokensFile,
      maxPageSize: 3,
      ...over,
    },
  }).pull;
  const { lines, log } = capturePino('debug');
  logLines = lines;
  const server = await startPullServer({
    config,
    store: st,
    accessLog,
    unitId: 'car-12',
    agency: 'CA0194200',
    health: () => ({ cameras: [{ id: 'front', ok: true }], storage: { ok: true } }),
    log,
  });
  cleanups.push(() => server.close());
  return server;
}

/** Read n (test/helpers.ts) of this unit, with a real JPEG as its frame. */
const readN = (n: number, over: Partial<NewRead> = {}): NewRead => newRead(n, { unitId: 'car-12', frame: { bytes: jpeg, format: 'jpeg' }, ...over });

interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json: any;
}

interface ClientOptions {
  headers?: Record<string, string>;
  /** Client certificate. */
  cert?: { cert: string; key: string };
  /** CA to verify the server with (default: the test PKI's). */
  ca?: string;
  timeoutMs?: number;
}

function get(url: string, o: ClientOptions = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const base = { headers: o.headers ?? {}, agent: false as const, timeout: o.timeoutMs ?? 10_000 };
    const onResponse = (res: http.IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('response aborted')));
      res.on('end', () => {
        if (!res.complete) return reject(new Error('response cut short'));
        const body = Buffer.concat(chunks);
        let json: unknown;
        if (String(res.headers['content-type']).startsWith('application/json')) json = JSON.parse(body.toString('utf8'));
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
      });
    };
    const req =
      u.protocol === 'https:'
        ? https.get(u, { ...base, ca: o.ca ?? pki.ca.cert, ...(o.cert ?? {}) }, onResponse)
        : http.get(u, base, onResponse);
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

/** Pulls a stream page by page from after=0 until more is false. */
async function pullAll(server: Server, stream: string, headers: Record<string, string> = { ...AUTH, ...PURPOSE }, after = 0) {
  const pages: Array<{ items: Array<Record<string, unknown>>; next: number; more: boolean }> = [];
  for (;;) {
    const r = await get(`${server.url}/v1/streams/${stream}?after=${after}&limit=100`, { headers });
    expect(r.status).toBe(200);
    pages.push(r.json);
    after = r.json.next;
    if (!r.json.more) return { pages, items: pages.flatMap((p) => p.items), next: after };
  }
}

const records = (): AccessRecord[] => accessLog.list();

describe('pull API: streams', () => {
  it('pages through the reads in order, each once, at most maxPageSize a page, and says when there is no more', async () => {
    const s = openStore();
    for (let n = 1; n <= 7; n++) await s.insertRead(readN(n, n === 4 ? { frame: undefined } : {}));
    const server = await start();
    expect(server.url).toBe(`https://127.0.0.1:${server.port}`);

    const { pages, items, next } = await pullAll(server, 'reads');
    expect(pages.map((p) => p.items.length)).toEqual([3, 3, 1]);
    expect(pages.map((p) => p.more)).toEqual([true, true, false]);
    expect(items.map((i) => i.uuid)).toEqual([1, 2, 3, 4, 5, 6, 7].map((n) => readN(n).uuid));
    expect(items.map((i) => i.key)).toEqual(items.map((i) => i.uuid));
    const revs = items.map((i) => i.rev as number);
    expect([...revs].sort((a, b) => a - b)).toEqual(revs);
    expect(next).toBe(revs.at(-1));
    expect(items[0]).toMatchObject({
      unitId: 'car-12',
      cameraId: 'front',
      plate: '7ABC001',
      candidates: [{ text: '7ABC001', confidence: 91.5 }],
      box: { x: 10, y: 20, width: 120, height: 40 },
      latitude: 33.9,
      positionValid: true,
      closed: true,
      images: expect.arrayContaining([{ kind: 'crop', format: 'jpeg' }, { kind: 'frame', format: 'jpeg' }]),
    });
    expect(items[3]!.images).toEqual([{ kind: 'crop', format: 'jpeg' }]);

    // nothing new: an empty page, the same cursor
    const again = await get(`${server.url}/v1/streams/reads?after=${next}`, { headers: { ...AUTH, ...PURPOSE } });
    expect(again.json).toEqual({ unit: 'car-12', stream: 'reads', items: [], next, more: false });
  });

  it('sends a read changed after it was pulled again, with a higher rev', async () => {
    const s = openStore();
    const stored: StoredRead[] = [];
    for (let n = 1; n <= 4; n++) stored.push(await s.insertRead(readN(n, { closed: false })));
    const server = await start();
    const first = await pullAll(server, 'reads');
    const old = first.items.find((i) => i.uuid === stored[1]!.uuid)!;

    await s.updateRead(stored[1]!.id, {
      plate: '7ABC002',
      confidence: 97,
      candidates: [{ text: '7ABC002', confidence: 97 }],
      box: stored[1]!.box,
      lastSeen: stored[1]!.lastSeen + 1000,
      bestSeen: stored[1]!.bestSeen + 800,
      frameCount: 9,
      closed: true,
      position: NO_POSITION,
    });
    const second = await pullAll(server, 'reads', undefined, first.next);
    expect(second.items).toHaveLength(1);
    expect(second.items[0]).toMatchObject({ uuid: stored[1]!.uuid, frameCount: 9, closed: true, confidence: 97 });
    expect(second.items[0]!.rev as number).toBeGreaterThan(old.rev as number);
    expect(second.items[0]!.rev as number).toBeGreaterThan(first.next);
  });

  it('marksSynced: a pull after N marks the reads up to N synced; a read changed since stays pending', async () => {
    const s = openStore();
    const stored: StoredRead[] = [];
    for (let n = 1; n <= 5; n++) stored.push(await s.insertRead(readN(n, { closed: false })));
    const server = await start({ marksSynced: true });
    const headers = { ...AUTH, ...PURPOSE };
    const state = () => stored.map((r) => s.getReadByUuid(r.uuid)!.syncState);

    const p1 = await get(`${server.url}/v1/streams/reads?after=0&limit=3`, { headers });
    expect(state()).toEqual(['pending', 'pending', 'pending', 'pending', 'pending']);
    // read 2 changes between the pull and the acknowledgement: it is not acknowledged by after=N
    await s.updateRead(stored[1]!.id, { ...stored[1]!, frameCount: 8, closed: true });
    await get(`${server.url}/v1/streams/reads?after=${p1.json.next}&limit=3`, { headers });
    expect(state()).toEqual(['synced', 'pending', 'synced', 'pending', 'pending']);
    expect(records().at(-1)!.result).toMatchObject({ acknowledged: 2 });
    const synced = s.database.prepare('SELECT synced_at FROM reads WHERE uuid = ?').get(stored[0]!.uuid) as { synced_at: number };
    expect(synced.synced_at).toBeGreaterThan(Date.now() - 60_000);
  });

  it('marksSynced false: pulls leave the reads pending', async () => {
    const s = openStore();
    for (let n = 1; n <= 4; n++) await s.insertRead(readN(n));
    const server = await start({ marksSynced: false });
    await pullAll(server, 'reads');
    const { next } = await pullAll(server, 'reads');
    await get(`${server.url}/v1/streams/reads?after=${next}`, { headers: { ...AUTH, ...PURPOSE } });
    expect(s.stats().pendingSync).toBe(4);
  });

  it('writes each pull to the access log: the client, the agency, purpose, case number, what was asked and sent', async () => {
    const s = openStore();
    for (let n = 1; n <= 4; n++) await s.insertRead(readN(n));
    const server = await start();
    const { pages } = await pullAll(server, 'reads');
    const pulls = records().filter((r) => r.action === 'pull');
    expect(pulls).toHaveLength(2);
    expect(pulls[0]).toMatchObject({
      user: 'central',
      agency: 'CA0194200',
      role: 'system',
      action: 'pull',
      purpose: 'stolen vehicle follow-up',
      caseNumber: '26-004512',
      query: { stream: 'reads', after: 0, limit: 3 },
      result: { count: 3, first: pages[0]!.items[0]!.rev, last: pages[0]!.next },
      outcome: 'ok',
    });
    expect(pulls[1]).toMatchObject({ query: { stream: 'reads', after: pages[0]!.next, limit: 3 }, result: { count: 1 } });
    expect(accessLog.verify().ok).toBe(true);
  });

  it('serves the other streams the same way: the access log carries the pulls themselves', async () => {
    openStore();
    const server = await start();
    await pullAll(server, 'hits');
    await pullAll(server, 'faults');
    await pullAll(server, 'alert-events');
    const { items } = await pullAll(server, 'access-log');
    // a pull's own record is written after its page is read
    expect(items.map((i) => i.action)).toEqual(['pull', 'pull', 'pull']);
    expect(items[0]).toMatchObject({ key: String(items[0]!.id), user: 'central', purpose: 'stolen vehicle follow-up' });
  });

  it('answers a bad cursor or limit with 400, an unknown stream or path with 404, and keeps serving', async () => {
    openStore();
    const server = await start();
    const headers = { ...AUTH, ...PURPOSE };
    for (const q of ['after=-1', 'after=abc', 'after=1e3', 'limit=0', 'limit=1.5', 'limit=-3', 'after=99999999999999999999']) {
      const r = await get(`${server.url}/v1/streams/reads?${q}`, { headers });
      expect(r.status, q).toBe(400);
      expect(r.json.error).toMatch(/after|limit/);
    }
    expect((await get(`${server.url}/v1/streams/plates?after=0`, { headers })).status).toBe(404);
    expect((await get(`${server.url}/v1/nothing`, { headers })).status).toBe(404);
    expect((await get(`${server.url}/v1/reads/x/images/crop/extra`, { headers })).status).toBe(404);
    expect((await get(`${server.url}/v1/streams/reads?after=0&limit=100000`, { headers })).status).toBe(200);
    expect(records().filter((r) => r.outcome === 'refused' && r.action === 'pull')).toHaveLength(8);
  });
});

describe('pull API: purpose and authentication', () => {
  it('refuses a request without a specific purpose and case number (400) and logs the refusal', async () => {
    const s = openStore();
    await s.insertRead(readN(1));
    const server = await start();
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{}, /a purpose is required/],
      [{ 'X-ALPR-Purpose': 'stolen vehicle follow-up' }, /case or incident number is required/],
      [{ 'X-ALPR-Purpose': 'investigation', 'X-ALPR-Case': '26-004512' }, /not a specific purpose/],
    ];
    for (const [h, message] of cases) {
      const r = await get(`${server.url}/v1/streams/reads?after=0`, { headers: { ...AUTH, ...h } });
      expect(r.status).toBe(400);
      expect(r.json.error).toMatch(message);
      expect(r.json.items).toBeUndefined();
    }
    const img = await get(`${server.url}/v1/reads/${readN(1).uuid}/images/crop`, { headers: AUTH });
    expect(img.status).toBe(400);
    const rows = records();
    expect(rows).toHaveLength(4);
    expect(rows.every((r) => r.outcome === 'refused' && r.user === 'central' && r.role === 'system')).toBe(true);
    expect(rows.map((r) => r.action)).toEqual(['pull', 'pull', 'pull', 'pull-image']);
    expect(rows[2]).toMatchObject({ purpose: 'investigation', caseNumber: '26-004512', result: { status: 400 } });
    expect(s.stats().pendingSync).toBe(1);
    expect(logLines.some((l) => l.level === 40 && JSON.stringify(l).includes('a purpose is required'))).toBe(true);
  });

  it('refuses a request without a token or with an unknown one (401), and logs it without the token', async () => {
    const s = openStore();
    await s.insertRead(readN(1));
    const server = await start();
    const none = await get(`${server.url}/v1/streams/reads?after=0`, { headers: PURPOSE });
    expect(none.status).toBe(401);
    expect(none.json.error).toMatch(/authentication required/);
    const wrong = await get(`${server.url}/v1/streams/reads?after=0`, { headers: { ...PURPOSE, Authorization: 'Bearer not-the-token' } });
    expect(wrong.status).toBe(401);
    expect(wrong.json).toEqual({ error: 'unknown token' });
    // a token differing in its last character only
    const near = await get(`${server.url}/v1/streams/reads?after=0`, { headers: { ...PURPOSE, Authorization: `Bearer ${TOKEN.slice(0, -1)}x` } });
    expect(near.status).toBe(401);
    // the name of a token is not a token
    expect((await get(`${server.url}/v1/health`, { headers: { Authorization: 'Bearer central' } })).status).toBe(401);
    expect((await get(`${server.url}/v1/health`)).status).toBe(401);

    const rows = records();
    expect(rows).toHaveLength(5);
    expect(rows.every((r) => r.user === '(unauthenticated)' && r.outcome === 'refused' && r.agency === 'CA0194200')).toBe(true);
    expect(rows[0]).toMatchObject({ action: 'pull', purpose: 'stolen vehicle follow-up', caseNumber: '26-004512', result: { status: 401 } });
    expect(JSON.stringify(logLines)).not.toContain('not-the-token');
    expect(JSON.stringify(logLines)).not.toContain(TOKEN);
  });

  it('reads the tokens file at each request: a token added or removed applies at once', async () => {
    openStore();
    const server = await start();
    const headers = { ...PURPOSE, Authorization: 'Bearer second-token-0123456789' };
    expect((await get(`${server.url}/v1/streams/reads?after=0`, { headers })).status).toBe(401);
    writeFileSync(tokensFile, `central ${TOKEN}\n  # the backup server\nbackup second-token-0123456789\nnot a valid line\n`);
    expect((await get(`${server.url}/v1/streams/reads?after=0`, { headers })).status).toBe(200);
    expect(records().at(-1)!.user).toBe('backup');
    writeFileSync(tokensFile, `central ${TOKEN}\n`);
    expect((await get(`${server.url}/v1/streams/reads?after=0`, { headers })).status).toBe(401);
  });

  it('mutual TLS: a client certificate of the CA works and its CN is the user; one of another CA, or none, fails the handshake', async () => {
    const s = openStore();
    await s.insertRead(readN(1));
    const server = await start({ clientCaFile: pki.ca.certFile, tokensFile: '' });
    const good = pki.clientCert('central-hq');
    const r = await get(`${server.url}/v1/streams/reads?after=0`, { headers: PURPOSE, cert: good });
    expect(r.status).toBe(200);
    expect(r.json.items).toHaveLength(1);
    expect(records().at(-1)).toMatchObject({ user: 'central-hq', action: 'pull', outcome: 'ok' });

    await expect(get(`${server.url}/v1/streams/reads?after=0`, { headers: PURPOSE, cert: pki.otherCa.client })).rejects.toThrow();
    await expect(get(`${server.url}/v1/streams/reads?after=0`, { headers: { ...PURPOSE, ...AUTH } })).rejects.toThrow();
    expect(records()).toHaveLength(1);
    // the server still serves after refusing handshakes
    expect((await get(`${server.url}/v1/health`, { cert: good })).status).toBe(200);
  });

  it('with both a client CA and tokens: either authenticates, and a certificate of another CA is refused even with a good token', async () => {
    openStore();
    const server = await start({ clientCaFile: pki.ca.certFile });
    expect((await get(`${server.url}/v1/streams/reads?after=0`, { headers: { ...PURPOSE, ...AUTH } })).status).toBe(200);
    expect((await get(`${server.url}/v1/streams/reads?after=0`, { headers: PURPOSE, cert: pki.clientCert('central-hq') })).status).toBe(200);
    expect((await get(`${server.url}/v1/streams/reads?after=0`, { headers: PURPOSE })).status).toBe(401);
    await expect(get(`${server.url}/v1/streams/reads?after=0`, { headers: { ...PURPOSE, ...AUTH }, cert: pki.otherCa.client })).rejects.toThrow();
    expect(records().map((r) => r.user)).toEqual(['central', 'central-hq', '(unauthenticated)']);
  });

  it('a client that does not trust the unit certificate sends nothing', async () => {
    openStore();
    const server = await start();
    await expect(get(`${server.url}/v1/streams/reads?after=0`, { headers: { ...AUTH, ...PURPOSE }, ca: pki.otherCa.ca.cert })).rejects.toThrow(
      /self.signed|unable to verify|certificate/i,
    );
    expect(records()).toHaveLength(0);
  });

  it('answers health to an authenticated client, without an access record', async () => {
    openStore();
    const server = await start();
    const r = await get(`${server.url}/v1/health`, { headers: AUTH });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ cameras: [{ id: 'front', ok: true }], storage: { ok: true } });
    expect(records()).toHaveLength(0);
    const post = await new Promise<number>((resolve, reject) => {
      const req = https.request(`${server.url}/v1/health`, { method: 'POST', headers: AUTH, ca: pki.ca.cert, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end('{}');
    });
    expect(post).toBe(405);
  });

  it('serves plain HTTP with allowInsecureHttp and tokens', async () => {
    const s = openStore();
    await s.insertRead(readN(1));
    const server = await start({ allowInsecureHttp: true, certFile: '', keyFile: '' });
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    const { items } = await pullAll(server, 'reads');
    expect(items).toHaveLength(1);
  });

  it('will not start without a way to authenticate clients, or without HTTPS unless allowed', async () => {
    openStore();
    const base = {
      config: syncSchema.parse({}).pull,
      store: store!,
      accessLog,
      unitId: 'car-12',
      agency: '',
      health: () => ({}),
      log: createLogger('silent'),
    };
    await expect(startPullServer({ ...base, config: { ...base.config, certFile: pki.server.certFile, keyFile: pki.server.keyFile } })).rejects.toThrow(
      /unauthenticated/,
    );
    await expect(startPullServer({ ...base, config: { ...base.config, tokensFile } })).rejects.toThrow(/HTTPS/);
    await expect(
      startPullServer({ ...base, config: { ...base.config, allowInsecureHttp: true, clientCaFile: pki.ca.certFile } }),
    ).rejects.toThrow(/needs HTTPS/);
  });
});

describe('pull API: images', () => {
  it.each([
    ['a plain store', undefined],
    ['an encrypted store', randomBytes(32)],
  ])('serves the original bytes of a read image from %s, with its format, and logs each fetch', async (_name, dataKey) => {
    const s = openStore(dataKey);
    const crop = Buffer.alloc(1234, 9);
    const read = await s.insertRead(readN(1, { crop: { bytes: png, format: 'png' }, frame: { bytes: jpeg, format: 'jpeg' } }));
    const noFrame = await s.insertRead(readN(2, { crop: { bytes: crop, format: 'jpeg' }, frame: undefined }));
    if (dataKey) expect(readFileSync(s.imagePath(read.cropPath!)).equals(png)).toBe(false);
    const server = await start();
    const headers = { ...AUTH, ...PURPOSE };

    const c = await get(`${server.url}/v1/reads/${read.uuid}/images/crop`, { headers });
    expect(c.status).toBe(200);
    expect(c.headers['content-type']).toBe('image/png');
    expect(c.body.equals(png)).toBe(true);
    const f = await get(`${server.url}/v1/reads/${read.uuid}/images/frame`, { headers });
    expect(f.headers['content-type']).toBe('image/jpeg');
    expect(f.body.equals(jpeg)).toBe(true);
    expect((await get(`${server.url}/v1/reads/${noFrame.uuid}/images/crop`, { headers })).body.equals(crop)).toBe(true);

    const missing = await get(`${server.url}/v1/reads/${noFrame.uuid}/images/frame`, { headers });
    expect(missing.status).toBe(404);
    expect(missing.json.error).toMatch(/no frame image/);
    expect((await get(`${server.url}/v1/reads/00000000-0000-4000-8000-999999999999/images/crop`, { headers })).status).toBe(404);
    expect((await get(`${server.url}/v1/reads/${read.uuid}/images/thumbnail`, { headers })).status).toBe(404);

    const rows = records();
    expect(rows.map((r) => [r.action, r.outcome])).toEqual([
      ['pull-image', 'ok'],
      ['pull-image', 'ok'],
      ['pull-image', 'ok'],
      ['pull-image', 'failed'],
      ['pull-image', 'failed'],
      ['pull-image', 'refused'],
    ]);
    expect(rows[0]).toMatchObject({
      user: 'central',
      agency: 'CA0194200',
      role: 'system',
      purpose: 'stolen vehicle follow-up',
      caseNumber: '26-004512',
      query: { uuid: read.uuid, kind: 'crop' },
      result: { bytes: png.length, format: 'png' },
    });
  });

  it('answers 404 for an image evicted or deleted since the read was stored', async () => {
    const s = openStore();
    const read = await s.insertRead(readN(1));
    rmSync(s.imagePath(read.framePath!));
    const server = await start();
    const r = await get(`${server.url}/v1/reads/${read.uuid}/images/frame`, { headers: { ...AUTH, ...PURPOSE } });
    expect(r.status).toBe(404);
    expect(records().at(-1)).toMatchObject({ action: 'pull-image', outcome: 'failed' });
  });
});

describe('fault proxy in front of the pull API', () => {
  async function proxied(over: Partial<SyncConfig['pull']> = {}): Promise<{ server: Server; proxy: FaultProxy }> {
    const s = openStore();
    for (let n = 1; n <= 3; n++) await s.insertRead(readN(n));
    const server = await start(over);
    const proxy = await startFaultProxy({ host: '127.0.0.1', port: server.port });
    cleanups.push(() => proxy.close());
    return { server, proxy };
  }
  const headers = { ...AUTH, ...PURPOSE };

  it('passes HTTPS through untouched (the certificate verifies for 127.0.0.1)', async () => {
    const { proxy } = await proxied();
    const r = await get(`${proxy.url('https')}/v1/streams/reads?after=0`, { headers });
    expect(r.status).toBe(200);
    expect(r.json.items).toHaveLength(3);
    expect(proxy.connections).toBe(1);
    expect(proxy.bytesToClient).toBeGreaterThan(1000);
  });

  it('cut-response: the server handled the request, the client gets a broken answer; the server goes on', async () => {
    const { proxy } = await proxied({ allowInsecureHttp: true, certFile: '', keyFile: '' });
    proxy.mode = 'cut-response';
    // past the headers, in the middle of the body
    proxy.cutBytes = 600;
    await expect(get(`${proxy.url('http')}/v1/streams/reads?after=0`, { headers })).rejects.toThrow(/aborted|cut short/);
    expect(proxy.bytesToClient).toBe(600);
    expect(records()).toHaveLength(1);
    proxy.mode = 'pass';
    expect((await get(`${proxy.url('http')}/v1/streams/reads?after=0`, { headers })).status).toBe(200);
  });

  it('cut-request: a request cut short reaches no handler, and the server goes on (HTTP and TLS)', async () => {
    const { proxy } = await proxied({ allowInsecureHttp: true, certFile: '', keyFile: '' });
    proxy.mode = 'cut-request';
    proxy.cutBytes = 30;
    await expect(get(`${proxy.url('http')}/v1/streams/reads?after=0`, { headers })).rejects.toThrow();
    expect(proxy.bytesToServer).toBe(30);
    expect(records()).toHaveLength(0);
    proxy.mode = 'pass';
    expect((await get(`${proxy.url('http')}/v1/streams/reads?after=0`, { headers })).status).toBe(200);
  });

  it('cut-request through TLS: a handshake cut short, then a good request', async () => {
    const { proxy } = await proxied();
    proxy.mode = 'cut-request';
    await expect(get(`${proxy.url('https')}/v1/streams/reads?after=0`, { headers })).rejects.toThrow();
    proxy.mode = 'pass';
    expect((await get(`${proxy.url('https')}/v1/streams/reads?after=0`, { headers })).status).toBe(200);
  });

  it('slow: the answer arrives whole, late', async () => {
    const { proxy } = await proxied();
    proxy.mode = 'slow';
    proxy.delayMs = 50;
    const t0 = performance.now();
    const r = await get(`${proxy.url('https')}/v1/streams/reads?after=0`, { headers });
    expect(r.status).toBe(200);
    expect(r.json.items).toHaveLength(3);
    expect(performance.now() - t0).toBeGreaterThan(100);
  });

  it('hang: the connection is accepted and never answered', async () => {
    const { proxy } = await proxied();
    proxy.mode = 'hang';
    await expect(get(`${proxy.url('https')}/v1/health`, { headers, timeoutMs: 300 })).rejects.toThrow(/timed out/);
    expect(proxy.connections).toBe(1);
  });

  it('refuse, stop and start: a dropped connection, then ECONNREFUSED, then service on the same port', async () => {
    const { proxy } = await proxied();
    proxy.mode = 'refuse';
    await expect(get(`${proxy.url('https')}/v1/health`, { headers })).rejects.toThrow();
    expect(proxy.connections).toBe(1);
    await proxy.stop();
    await expect(get(`${proxy.url('https')}/v1/health`, { headers })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(proxy.connections).toBe(1);
    proxy.mode = 'pass';
    await proxy.start();
    expect((await get(`${proxy.url('https')}/v1/health`, { headers })).status).toBe(200);
    expect(proxy.connections).toBe(2);
  });
});

import { systemClock } from '../src/util/clock.js';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { centralCommand } from '../src/cli/central.js';
import { pullFromUnit } from '../src/central/pull.js';
import { CentralDb, publishCancellation, publishEntry, startCentral, type CentralServer } from '../src/central/server.js';
import { makePki, type Pki } from './tls.js';

/**
 * The reference central server as a unit meets it: real HTTPS on loopback, certificates from test/tls.ts,
 * bearer tokens and mutual TLS, batches stored once, images resumed chunk by chunk, hot lists with ETags, and the
 * server pulling from a unit's API.
 */

let dir: string;
let pki: Pki;
let hotlistsDir: string;
/** Tokens and plain TLS. */
let central: CentralServer;
/** Mutual TLS, no tokens: the client certificate's CN is the unit. */
let mtls: CentralServer;

const TOKEN = 'tok-car12-7f3e9a';
const EXPIRED = 'tok-car12-old';
const TOKEN_CAR7 = 'tok-car7-1b2c';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json: any;
}

interface CallOptions {
  token?: string;
  headers?: Record<string, string>;
  body?: Buffer | string | object;
  ca?: string;
  cert?: string;
  key?: string;
}

function call(base: string, method: string, urlPath: string, o: CallOptions = {}): Promise<Answer> {
  const url = new URL(urlPath, base);
  const body = o.body === undefined ? undefined : Buffer.isBuffer(o.body) ? o.body : Buffer.from(typeof o.body === 'string' ? o.body : JSON.stringify(o.body));
  const headers: Record<string, string> = { ...o.headers };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (body) {
    headers['content-length'] ??= String(body.length);
    headers['content-type'] ??= 'application/json';
  }
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(url, { method, headers, agent: false, ca: o.ca ?? pki.ca.cert, cert: o.cert, key: o.key }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        let json: unknown;
        try {
          json = buf.length ? JSON.parse(buf.toString('utf8')) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: buf, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

function read(n: number, rev = n, extra: Record<string, unknown> = {}) {
  const uuid = `0b7e4c1a-0000-4000-8000-${String(n).padStart(12, '0')}`;
  return { key: uuid, rev, uuid, unitId: 'car-12', cameraId: 'front', plate: `7ABC${String(n).padStart(3, '0')}`, confidence: 91, images: [], ...extra };
}

const push = (base: string, unit: string, stream: string, items: unknown[], o: CallOptions = {}) =>
  call(base, 'POST', `/v1/units/${unit}/batches/${stream}`, { token: TOKEN, body: { unit, stream, items }, ...o });

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'alpr-central-'));
  pki = makePki(path.join(dir, 'pki'));
  hotlistsDir = path.join(dir, 'hotlists');
  mkdirSync(hotlistsDir);
  writeFileSync(path.join(hotlistsDir, 'stolen.csv'), 'Plate,State,Reason,Case\n4XYZ999,CA,stolen,26-1\n7ABC123,CA,stolen,26-2\n');
  writeFileSync(path.join(hotlistsDir, 'bolo.txt'), '5KLM321\n');
  writeFileSync(path.join(hotlistsDir, 'README'), 'not a list: no format known\n');
  writeFileSync(path.join(hotlistsDir, 'lists.json'), JSON.stringify({ bolo: { format: 'lines', category: 'BOLO', priority: 3, covert: true } }));
  central = await startCentral({
    clock: systemClock,
    dataDir: path.join(dir, 'central'),
    hotlistsDir,
    tls: { cert: pki.server.cert, key: pki.server.key },
    tokens: [
      { token: TOKEN, unit: 'car-12' },
      { token: EXPIRED, unit: 'car-12', expiresAt: Date.now() - 60_000 },
      { token: TOKEN_CAR7, unit: 'car-7' },
    ],
  });
  mtls = await startCentral({ clock: systemClock, dataDir: path.join(dir, 'central-mtls'), tls: { cert: pki.server.cert, key: pki.server.key, clientCa: pki.ca.cert } });
});

afterAll(async () => {
  await central?.close();
  await mtls?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('push of batches', () => {
  it('stores a batch once when it is sent twice', async () => {
    const items = [read(1), read(2), read(3)];
    let r = await push(central.url, 'car-12', 'reads', items);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ received: 3, stored: 3, duplicates: 0 });
    // the answer was lost: the unit sends the same batch again
    r = await push(central.url, 'car-12', 'reads', items);
    expect(r.json).toEqual({ received: 3, stored: 0, duplicates: 3 });
    expect(central.readCount('car-12')).toBe(3);
    expect(central.db.read('car-12', items[1]!.uuid)?.body.plate).toBe('7ABC002');
  });

  it('keeps the highest rev of an item; a lower or equal one is a duplicate', async () => {
    const base = read(10, 5, { frameCount: 2 });
    await push(central.url, 'car-12', 'reads', [base]);
    // more frames of the same car, then a stale copy, and the same item twice in one batch
    let r = await push(central.url, 'car-12', 'reads', [read(10, 7, { frameCount: 6 })]);
    expect(r.json).toEqual({ received: 1, stored: 1, duplicates: 0 });
    r = await push(central.url, 'car-12', 'reads', [read(10, 6, { frameCount: 4 }), read(10, 7, { frameCount: 6 })]);
    expect(r.json).toEqual({ received: 2, stored: 0, duplicates: 2 });
    r = await push(central.url, 'car-12', 'reads', [read(10, 9, { frameCount: 8 }), read(10, 9, { frameCount: 8 })]);
    expect(r.json).toEqual({ received: 2, stored: 1, duplicates: 1 });
    const kept = central.item('car-12', 'reads', base.key)!;
    expect(kept.rev).toBe(9);
    expect(kept.body.frameCount).toBe(8);
  });

  it('keeps the other streams per unit and key', async () => {
    const hits = [{ key: '1', rev: 0, id: 1, readUuid: read(1).uuid, list: 'stolen', covert: true }];
    expect((await push(central.url, 'car-12', 'hits', hits)).json).toEqual({ received: 1, stored: 1, duplicates: 0 });
    // the same key from another unit is another item
    expect((await push(central.url, 'car-7', 'hits', hits, { token: TOKEN_CAR7 })).json).toEqual({ received: 1, stored: 1, duplicates: 0 });
    expect(central.itemCount('hits')).toBe(2);
    expect(central.item('car-12', 'hits', '1')?.body.covert).toBe(true);
  });

  it('refuses malformed batches with 400 and stores nothing of them', async () => {
    const before = central.itemCount('reads');
    const bad: Array<[string, Buffer | string | object]> = [
      ['not JSON', '{"items": [ '],
      ['items not an array', { unit: 'car-12', stream: 'reads', items: { key: 'a', rev: 1 } }],
      ['an item without a key', { items: [read(50), { rev: 1, plate: 'X' }] }],
      ['an item without a rev', { items: [read(51), { key: 'k' }] }],
      ['a rev that is not a whole number', { items: [{ key: 'k', rev: 1.5 }] }],
      ['the body names another unit', { unit: 'car-7', stream: 'reads', items: [read(52)] }],
      ['a body that is not an object', [read(53)]],
    ];
    for (const [what, body] of bad) {
      const r = await call(central.url, 'POST', '/v1/units/car-12/batches/reads', { token: TOKEN, body });
      expect(r.status, what).toBe(400);
      expect(typeof r.json.error, what).toBe('string');
    }
    expect(central.itemCount('reads')).toBe(before);
    const r = await call(central.url, 'POST', '/v1/units/car-12/batches/plates', { token: TOKEN, body: { items: [] } });
    expect(r.status).toBe(404);
    expect(r.json.error).toMatch(/no stream/);
  });

  it('refuses a body over 64 MiB with 413', async () => {
    const r = await call(central.url, 'POST', '/v1/units/car-12/batches/reads', {
      token: TOKEN,
      body: '{"items": []}',
      headers: { 'content-length': String(65 * 2 ** 20) },
    }).catch((err: NodeJS.ErrnoException) => ({ status: -1, json: { error: err.code } }) as Answer);
    expect(r.status).toBe(413);
  });

  it('takes the latest health report', async () => {
    let r = await call(central.url, 'PUT', '/v1/units/car-12/health', { token: TOKEN, body: { cameras: [{ id: 'front', ok: true }] } });
    expect(r.status).toBe(204);
    r = await call(central.url, 'PUT', '/v1/units/car-12/health', { token: TOKEN, body: { cameras: [{ id: 'front', ok: false }] } });
    expect(r.status).toBe(204);
    expect(central.health('car-12')?.body).toEqual({ cameras: [{ id: 'front', ok: false }] });
    expect((await call(central.url, 'PUT', '/v1/units/car-12/health', { token: TOKEN, body: '[1]' })).status).toBe(400);
  });
});

describe('authentication', () => {
  it('401 for a missing, unknown or expired token; 403 for another unit', async () => {
    let r = await push(central.url, 'car-12', 'reads', [read(60)], { token: '' });
    expect(r.status).toBe(401);
    r = await push(central.url, 'car-12', 'reads', [read(60)], { token: 'tok-made-up' });
    expect(r.status).toBe(401);
    expect(r.json).toEqual({ error: 'unknown token' });
    r = await push(central.url, 'car-12', 'reads', [read(60)], { token: EXPIRED });
    expect(r.status).toBe(401);
    expect(r.json).toEqual({ error: 'token expired' });
    r = await push(central.url, 'car-12', 'reads', [read(60)], { token: TOKEN_CAR7 });
    expect(r.status).toBe(403);
    expect(r.json.error).toMatch(/car-7/);
    r = await call(central.url, 'GET', '/v1/units/car-7/hotlists', { token: TOKEN });
    expect(r.status).toBe(403);
    expect(central.db.read('car-12', read(60).uuid)).toBeUndefined();
  });

  it('reads a tokens file again when it changes', async () => {
    const file = path.join(dir, 'tokens');
    writeFileSync(file, '# unit token [expires]\ncar-3 tok-a\ncar-4 tok-b 2000-01-01T00:00:00Z\n');
    const s = await startCentral({ clock: systemClock, dataDir: path.join(dir, 'central-tokens'), insecureHttp: true, tokensFile: file });
    try {
      expect((await push(s.url, 'car-3', 'faults', [{ key: '1', rev: 0 }], { token: 'tok-a' })).status).toBe(200);
      expect((await push(s.url, 'car-4', 'faults', [{ key: '1', rev: 0 }], { token: 'tok-b' })).json).toEqual({ error: 'token expired' });
      writeFileSync(file, 'car-3 tok-c\n');
      expect((await push(s.url, 'car-3', 'faults', [{ key: '2', rev: 0 }], { token: 'tok-a' })).json).toEqual({ error: 'unknown token' });
      expect((await push(s.url, 'car-3', 'faults', [{ key: '2', rev: 0 }], { token: 'tok-c' })).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('mutual TLS: the certificate CN is the unit; a certificate of another CA is refused at the handshake', async () => {
    const car12 = pki.clientCert('car-12');
    let r = await push(mtls.url, 'car-12', 'reads', [read(70)], { token: '', cert: car12.cert, key: car12.key });
    expect(r.json).toEqual({ received: 1, stored: 1, duplicates: 0 });
    r = await push(mtls.url, 'car-7', 'reads', [read(71)], { token: '', cert: car12.cert, key: car12.key });
    expect(r.status).toBe(403);

    // same CN, wrong CA; and no certificate at all: no HTTP answer, nothing stored
    await expect(push(mtls.url, 'car-12', 'reads', [read(72)], { token: '', cert: pki.otherCa.client.cert, key: pki.otherCa.client.key })).rejects.toThrow();
    await expect(push(mtls.url, 'car-12', 'reads', [read(73)], { token: '' })).rejects.toThrow();
    expect(mtls.readCount()).toBe(1);
  });

  it("the unit refuses a server whose certificate its CA did not sign", async () => {
    await expect(push(central.url, 'car-12', 'reads', [read(74)], { ca: pki.otherCa.ca.cert })).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
    expect(central.db.read('car-12', read(74).uuid)).toBeUndefined();
  });
});

describe('images', () => {
  const uuid = read(1).uuid;
  const image = randomBytes(300_000);
  const sum = sha256(image);
  const put = (start: number, end: number, o: { data?: Buffer; sha?: string; total?: number; path?: string } = {}) =>
    call(central.url, 'PUT', o.path ?? `/v1/units/car-12/images/${uuid}/frame`, {
      token: TOKEN,
      body: (o.data ?? image).subarray(start, end + 1),
      headers: {
        'content-type': 'application/octet-stream',
        'content-range': `bytes ${start}-${end}/${o.total ?? (o.data ?? image).length}`,
        'x-image-sha256': o.sha ?? sum,
        'x-image-format': 'jpeg',
      },
    });
  const head = (p = `/v1/units/car-12/images/${uuid}/frame`) => call(central.url, 'HEAD', p, { token: TOKEN });

  it('resumes an interrupted upload where the server is, and checks the whole image', async () => {
    expect((await head()).status).toBe(404);
    let r = await put(0, 99_999);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ received: 100_000 });

    // the link drops in the middle of the second chunk
    await new Promise<void>((resolve) => {
      const req = https.request(new URL(`/v1/units/car-12/images/${uuid}/frame`, central.url), {
        method: 'PUT',
        agent: false,
        ca: pki.ca.cert,
        headers: {
          authorization: `Bearer ${TOKEN}`,
          'content-length': '100000',
          'content-range': 'bytes 100000-199999/300000',
          'x-image-sha256': sum,
          'x-image-format': 'jpeg',
        },
      });
      req.on('error', () => resolve());
      req.on('close', () => resolve());
      req.write(image.subarray(100_000, 140_000), () => setTimeout(() => req.destroy(), 50));
    });

    r = await head();
    expect(r.status).toBe(200);
    expect(r.headers['x-received-bytes']).toBe('100000');
    expect(r.headers['x-total-bytes']).toBe('300000');
    expect(r.headers['x-image-sha256']).toBe(sum);
    expect(r.headers['x-complete']).toBeUndefined();

    // a start the server does not have: 409 says where to resume
    r = await put(150_000, 199_999);
    expect(r.status).toBe(409);
    expect(r.headers['x-received-bytes']).toBe('100000');
    expect(r.json.received).toBe(100_000);

    r = await put(100_000, 199_999);
    expect(r.json).toEqual({ received: 200_000 });
    r = await put(200_000, 299_999);
    expect(r.status).toBe(201);
    expect(r.json).toEqual({ received: 300_000, complete: true });
    r = await head();
    expect(r.headers['x-complete']).toBe('1');
    expect(central.imageBytes('car-12', uuid, 'frame')!.equals(image)).toBe(true);
  });

  it('discards an image whose SHA-256 does not match (422); start 0 begins again', async () => {
    const p = `/v1/units/car-12/images/${uuid}/crop`;
    const crop = randomBytes(5000);
    let r = await put(0, 2499, { data: crop, sha: sha256('something else'), path: p });
    expect(r.status).toBe(200);
    r = await put(2500, 4999, { data: crop, sha: sha256('something else'), path: p });
    expect(r.status).toBe(422);
    expect(r.json.error).toMatch(/SHA-256/);
    expect((await head(p)).status).toBe(404);

    // a half upload, then the image replaced on the unit: start 0 again with the new one
    r = await put(0, 2499, { data: crop, sha: sha256(crop), path: p });
    expect(r.json).toEqual({ received: 2500 });
    const replaced = randomBytes(3000);
    r = await put(0, 2999, { data: replaced, sha: sha256(replaced), path: p });
    expect(r.status).toBe(201);
    expect(central.imageBytes('car-12', uuid, 'crop')!.equals(replaced)).toBe(true);
  });

  it('refuses a chunk that does not match its Content-Range', async () => {
    const r = await call(central.url, 'PUT', `/v1/units/car-12/images/${uuid}/crop`, {
      token: TOKEN,
      body: Buffer.alloc(10),
      headers: { 'content-range': 'bytes 0-19/20', 'x-image-sha256': sum, 'x-image-format': 'jpeg' },
    });
    expect(r.status).toBe(400);
  });
});

describe('hot lists back', () => {
  it('serves a manifest with an ETag, 304 when unchanged, and files with their SHA-256', async () => {
    let r = await call(central.url, 'GET', '/v1/units/car-12/hotlists', { token: TOKEN });
    expect(r.status).toBe(200);
    const etag = r.headers.etag!;
    expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
    const lists = r.json.lists as Array<Record<string, unknown>>;
    expect(lists.map((l) => l.name)).toEqual(['bolo', 'stolen']);
    const stolenFile = readFileSync(path.join(hotlistsDir, 'stolen.csv'));
    expect(lists[1]).toEqual({ name: 'stolen', format: 'csv', sha256: sha256(stolenFile), bytes: stolenFile.length, href: '/v1/hotlists/files/stolen' });
    expect(lists[0]).toMatchObject({ name: 'bolo', format: 'lines', category: 'BOLO', priority: 3, covert: true });

    r = await call(central.url, 'GET', '/v1/units/car-12/hotlists', { token: TOKEN, headers: { 'if-none-match': etag } });
    expect(r.status).toBe(304);

    r = await call(central.url, 'GET', '/v1/hotlists/files/stolen', { token: TOKEN });
    expect(r.status).toBe(200);
    expect(r.body.equals(stolenFile)).toBe(true);
    expect(r.headers.etag).toBe(`"${sha256(stolenFile)}"`);
    r = await call(central.url, 'GET', '/v1/hotlists/files/stolen', { token: TOKEN, headers: { 'if-none-match': `"${sha256(stolenFile)}"` } });
    expect(r.status).toBe(304);
    expect((await call(central.url, 'GET', '/v1/hotlists/files/README', { token: TOKEN })).status).toBe(404);
    expect((await call(central.url, 'GET', '/v1/hotlists/files/stolen')).status).toBe(401);

    // a new version of a file: a new checksum and a new ETag
    writeFileSync(path.join(hotlistsDir, 'bolo.txt'), '5KLM321\n8DEF456\n');
    r = await call(central.url, 'GET', '/v1/units/car-12/hotlists', { token: TOKEN, headers: { 'if-none-match': etag } });
    expect(r.status).toBe(200);
    expect(r.headers.etag).not.toBe(etag);
    expect(r.json.lists[0].sha256).toBe(sha256('5KLM321\n8DEF456\n'));
  });

  it('publishes entries and cancellations in the manifest', async () => {
    const before = await call(central.url, 'GET', '/v1/units/car-12/hotlists', { token: TOKEN });
    const e = publishEntry(central.db, { list: 'urgent', plate: '7abc 123', state: 'ca', reason: 'amber alert', caseNumber: '26-004512', by: 'dispatch' });
    expect(e.id).toMatch(/^e-\d+-[0-9a-f]+$/);
    expect(e.plate).toBe('7ABC123');
    const c = publishCancellation(central.db, { list: 'stolen', plate: '4XYZ999', state: 'CA', reason: 'recovered', by: 'dispatch' });
    expect(c.id).toMatch(/^c-\d+-[0-9a-f]+$/);
    expect(() => publishEntry(central.db, { list: 'urgent', plate: '7ABC123', reason: '', caseNumber: '1' })).toThrow(/reason/);

    let r = await call(central.url, 'GET', '/v1/units/car-12/hotlists', { token: TOKEN, headers: { 'if-none-match': before.headers.etag! } });
    expect(r.status).toBe(200);
    expect(r.json.entries).toEqual([
      { id: e.id, list: 'urgent', plate: '7ABC123', state: 'CA', reason: 'amber alert', caseNumber: '26-004512', expiresAt: null, by: 'dispatch', createdAt: e.createdAt },
    ]);
    expect(r.json.cancellations).toEqual([{ id: c.id, list: 'stolen', plate: '4XYZ999', state: 'CA', reason: 'recovered', by: 'dispatch', at: c.at }]);

    // the entry cancelled since: a unit seeing both for the first time ends without it either way
    const c2 = publishCancellation(central.db, { list: 'urgent', plate: '7ABC123', reason: 'found' });
    // a plate listed again after a cancellation: the cancellation no longer goes out, or it would cancel the new entry
    const e2 = publishEntry(central.db, { list: 'stolen', plate: '4XYZ999', state: 'CA', reason: 'stolen again', caseNumber: '26-9' });
    r = await call(central.url, 'GET', '/v1/units/car-12/hotlists', { token: TOKEN });
    expect(r.json.entries.map((x: { id: string }) => x.id)).toEqual([e2.id]);
    expect(r.json.cancellations.map((x: { id: string }) => x.id)).toEqual([c2.id]);
  });
});

describe('pull from a unit', () => {
  it('pages every stream from its cursor, stores once, and fetches the images', async () => {
    // a small stand-in for the unit's pull API (src/sync/pull-server.ts), over mutual TLS
    const reads = [1, 2, 3, 4, 5].map((n) => read(100 + n, n, { images: n === 2 ? [{ kind: 'crop', format: 'png' }, { kind: 'frame', format: 'jpeg' }] : [] }));
    const crop = randomBytes(1000);
    const seen: Array<{ path: string; purpose?: string; caseNumber?: string; cn?: string }> = [];
    const unitApi = https.createServer({ cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      const url = new URL(req.url!, 'https://unit');
      const cn = (req.socket as import('node:tls').TLSSocket).getPeerCertificate().subject.CN as string;
      seen.push({ path: url.pathname + url.search, purpose: req.headers['x-alpr-purpose'] as string, caseNumber: req.headers['x-alpr-case'] as string, cn });
      if (!req.headers['x-alpr-purpose'] || !req.headers['x-alpr-case']) return void res.writeHead(400).end('{"error":"purpose and case required"}');
      const m = /^\/v1\/streams\/([a-z-]+)$/.exec(url.pathname);
      if (m) {
        const after = Number(url.searchParams.get('after'));
        const limit = Number(url.searchParams.get('limit'));
        const all = m[1] === 'reads' ? reads : [];
        const page = all.filter((r) => r.rev > after).slice(0, limit);
        const next = page.length ? page[page.length - 1]!.rev : after;
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ unit: 'car-20', stream: m[1], items: page, next, more: all.some((r) => r.rev > next) }));
      }
      if (url.pathname === `/v1/reads/${reads[1]!.uuid}/images/crop`) return void res.writeHead(200, { 'content-type': 'image/png' }).end(crop);
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"no such image"}');
    });
    await new Promise<void>((resolve) => unitApi.listen(0, '127.0.0.1', resolve));
    const baseUrl = `https://127.0.0.1:${(unitApi.address() as AddressInfo).port}`;
    const client = pki.clientCert('central');
    const db = CentralDb.open(path.join(dir, 'central-pull'), systemClock);
    const opts = { db, unit: 'car-20', baseUrl, ca: pki.ca.cert, cert: client.cert, key: client.key, purpose: 'investigation', caseNumber: '26-777', pageSize: 2 };
    try {
      let r = await pullFromUnit({ ...opts, images: true });
      expect(r.reads).toEqual({ pulled: 5, stored: 5, duplicates: 0 });
      expect(r.hits).toEqual({ pulled: 0, stored: 0, duplicates: 0 });
      expect(r.images).toEqual({ fetched: 1, missing: 1 });
      expect(seen.filter((s) => s.path.startsWith('/v1/streams/reads')).map((s) => s.path)).toEqual([
        '/v1/streams/reads?after=0&limit=2',
        '/v1/streams/reads?after=2&limit=2',
        '/v1/streams/reads?after=4&limit=2',
      ]);
      expect(seen.every((s) => s.purpose === 'investigation' && s.caseNumber === '26-777' && s.cn === 'central')).toBe(true);
      expect(db.imageBytes('car-20', reads[1]!.uuid, 'crop')!.equals(crop)).toBe(true);
      expect(db.image('car-20', reads[1]!.uuid, 'crop')?.format).toBe('png');
      expect(db.image('car-20', reads[1]!.uuid, 'frame')).toBeUndefined();

      // again: from the cursor, nothing new
      r = await pullFromUnit(opts);
      expect(r.reads).toEqual({ pulled: 0, stored: 0, duplicates: 0 });
      // a read changed on the unit comes again with a higher rev
      reads.push({ ...reads[0]!, rev: 6, frameCount: 9 } as (typeof reads)[number]);
      r = await pullFromUnit({ ...opts, streams: ['reads'] });
      expect(r).toEqual({ reads: { pulled: 1, stored: 1, duplicates: 0 } });
      expect(db.read('car-20', reads[0]!.uuid)?.rev).toBe(6);

      // the unit says it is another unit: nothing stored under the wrong id
      await expect(pullFromUnit({ ...opts, unit: 'car-21', streams: ['reads'] })).rejects.toThrow(/car-20/);
      expect(db.count('reads', 'car-21')).toBe(0);
    } finally {
      db.close();
      await new Promise((resolve) => unitApi.close(resolve));
    }
  });
});

describe('alpr-edge central (command line)', () => {
  async function run(args: string[]): Promise<{ code: number; out: string }> {
    let out = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    try {
      return { code: await centralCommand(args), out };
    } finally {
      spy.mockRestore();
    }
  }

  it('serve prints its URL first and stops on SIGTERM; publish, cancel and ls', async () => {
    const data = path.join(dir, 'central-cli');
    const level = process.env.ALPR_CENTRAL_LOG_LEVEL;
    process.env.ALPR_CENTRAL_LOG_LEVEL = 'silent';
    let out = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    const serving = centralCommand(['serve', '--data', data, '--listen', '127.0.0.1:0', '--cert', pki.server.certFile, '--key', pki.server.keyFile, '--hotlists', hotlistsDir]);
    try {
      for (let i = 0; i < 200 && !out.includes('\n'); i++) await new Promise((r) => setTimeout(r, 10));
    } finally {
      spy.mockRestore();
    }
    const m = /^central server listening on (https:\/\/127\.0\.0\.1:\d+)\n/.exec(out);
    expect(m, out).not.toBeNull();
    const url = m![1]!;
    expect((await push(url, 'car-12', 'reads', [read(1), read(2)], { token: '' })).json).toEqual({ received: 2, stored: 2, duplicates: 0 });

    let r = await run(['publish', '--data', data, '--list', 'urgent', '--plate', '7ABC123', '--state', 'CA', '--reason', 'amber alert', '--case', '26-1', '--expires', '2099-01-01']);
    expect(r.code).toBe(0);
    const id = /published entry (e-\S+):/.exec(r.out)![1]!;
    r = await run(['cancel', '--data', data, '--list', 'stolen', '--plate', '4XYZ999', '--reason', 'recovered', '--json']);
    expect(JSON.parse(r.out)).toMatchObject({ list: 'stolen', plate: '4XYZ999', state: null });
    const manifest = await call(url, 'GET', '/v1/units/car-12/hotlists');
    expect(manifest.json.entries[0]).toMatchObject({ id, plate: '7ABC123', expiresAt: Date.parse('2099-01-01') });

    r = await run(['ls', '--data', data, '--json']);
    const ls = JSON.parse(r.out) as { units: Array<{ unit: string; streams: Record<string, number> }>; published: { entries: number } };
    expect(ls.units).toEqual([expect.objectContaining({ unit: 'car-12', streams: { reads: 2 } })]);
    expect(ls.published.entries).toBe(1);
    r = await run(['ls', '--data', data]);
    expect(r.out).toMatch(/^unit\s+reads\s+hits/);
    expect(r.out).toMatch(/car-12\s+2\s+0/);

    process.emit('SIGTERM');
    expect(await serving).toBe(0);
    if (level === undefined) delete process.env.ALPR_CENTRAL_LOG_LEVEL;
    else process.env.ALPR_CENTRAL_LOG_LEVEL = level;
    await expect(call(url, 'GET', '/v1/units/car-12/hotlists')).rejects.toThrow();

    await expect(centralCommand(['serve', '--data', data])).rejects.toThrow(/--insecure-http/);
    await expect(centralCommand(['publish', '--data', data, '--list', 'urgent', '--plate', '7ABC123'])).rejects.toThrow(/--reason is required/);
    let err = '';
    const errSpy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      err += String(chunk);
      return true;
    });
    try {
      expect(await centralCommand(['publish', '--data', data, '--list', 'urgent', '--plate', '7A?', '--reason', 'x', '--case', '1'])).toBe(1);
      expect(await centralCommand(['ls', '--data', path.join(dir, 'nothing-here')])).toBe(1);
    } finally {
      errSpy.mockRestore();
    }
    expect(err).toMatch(/partial plate "7A\?" gives 2 character/);
    expect(err).toMatch(/holds no central server data/);
  });
});

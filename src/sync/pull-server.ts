import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { checkPurpose, PurposeError, type AccessEntry, type AccessLog } from '../access/access-log.js';
import type { Logger } from '../log/logger.js';
import type { ReadStore } from '../store/read-store.js';
import type { SyncConfig } from './schema.js';
import { isStream, readPage, STREAMS } from './streams.js';

/**
 * The unit's pull API (docs/sync-protocol.md, "Pull: the unit's API"): the central server fetches the same
 * stream items that push sends, and images, over HTTPS. A client authenticates with a certificate signed by
 * `clientCaFile` (its subject CN is its name) or a bearer token of `tokensFile`; every request for data names a
 * purpose and a case number and is written to the access log, refusals too.
 */

export interface PullServerOptions {
  config: SyncConfig['pull'];
  store: ReadStore;
  /** Every data request is appended here, in the transaction that reads the page. */
  accessLog: AccessLog;
  unitId: string;
  /** The unit's agency (config.unit.agency): the agency of each access record. */
  agency: string;
  /** The unit's current health (GET /v1/health): it holds no plate data. */
  health: () => object;
  log: Logger;
}

export interface PullServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const UNAUTHENTICATED = '(unauthenticated)';
/** Unauthenticated requests written to the access log per minute and remote address. */
const REFUSALS_LOGGED = 10;
const refusals = new Map<string, { minute: number; count: number }>();

/** An answer that ends a request early: status and the JSON error text. */
class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly outcome: AccessEntry['outcome'] = 'refused',
  ) {
    super(message);
  }
}

interface Principal {
  name: string;
  how: 'certificate' | 'token';
}

export async function startPullServer(o: PullServerOptions): Promise<PullServer> {
  const c = o.config;
  // synced_at and the refusal rate limit go by the clock of the access log that records each request
  const now = o.accessLog.clock;
  const tls = c.certFile !== '' && c.keyFile !== '';
  if (!tls && !c.allowInsecureHttp) {
    throw new Error('the pull API needs sync.pull.certFile and keyFile (HTTPS), or allowInsecureHttp: true for a loopback test');
  }
  if ((c.certFile === '') !== (c.keyFile === '')) throw new Error('sync.pull.certFile and keyFile go together');
  if (c.clientCaFile === '' && c.tokensFile === '') {
    throw new Error('the pull API needs sync.pull.clientCaFile (mutual TLS) or tokensFile: it never serves reads to an unauthenticated client');
  }
  if (!tls && c.tokensFile === '') {
    throw new Error('sync.pull.clientCaFile needs HTTPS (certFile and keyFile): over plain HTTP no client could authenticate');
  }

  const read = (file: string, what: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    handle(o, now, req, res).catch((err: unknown) => {
      o.log.error({ err, method: req.method, url: req.url }, 'pull API: request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  };

  let server: http.Server | https.Server;
  if (tls) {
    const mutual = c.clientCaFile !== '';
    server = https.createServer(
      {
        cert: read(c.certFile, 'the pull API certificate (sync.pull.certFile)'),
        key: read(c.keyFile, 'the pull API key (sync.pull.keyFile)'),
        ...(mutual
          ? {
              ca: read(c.clientCaFile, 'the client CA (sync.pull.clientCaFile)'),
              requestCert: true,
              // With tokens too, a client without a certificate may still use a token; one with a certificate that
              // does not verify is cut off at once (below), as without tokens.
              rejectUnauthorized: c.tokensFile === '',
            }
          : {}),
        minVersion: 'TLSv1.2',
      },
      handler,
    );
    if (mutual && c.tokensFile !== '') {
      server.on('secureConnection', (socket: TLSSocket) => {
        if (!socket.authorized && hasPeerCertificate(socket)) {
          o.log.warn({ remote: socket.remoteAddress, error: String(socket.authorizationError) }, 'pull API: client certificate refused');
          socket.destroy();
        }
      });
    }
    server.on('tlsClientError', (err, socket) => {
      o.log.warn({ remote: socket.remoteAddress, error: err.message }, 'pull API: TLS handshake failed');
    });
  } else {
    server = http.createServer(handler);
  }
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    o.log.debug({ error: err.message, code: err.code }, 'pull API: bad request from a client');
    if (socket.writable && err.code !== 'ECONNRESET') socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  // A stalled client must not hold a connection forever.
  server.headersTimeout = 30_000;
  server.requestTimeout = 60_000;

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(new Error(`the pull API cannot listen on ${c.host}:${c.port}: ${err.message}`));
    server.once('error', onError);
    server.listen(c.port, c.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => o.log.error({ err }, 'pull API: server error'));
  const port = (server.address() as AddressInfo).port;
  const host = c.host.includes(':') ? `[${c.host}]` : c.host;
  const url = `${tls ? 'https' : 'http'}://${host}:${port}`;
  o.log.info({ url, mutualTls: tls && c.clientCaFile !== '', tokens: c.tokensFile !== '' }, 'pull API listening');

  return {
    url,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(o: PullServerOptions, now: () => number, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://unit');
  const route = url.pathname.split('/').filter((s) => s !== '').map(safeDecode);
  o.log.debug({ method: req.method, path: url.pathname, query: url.search, remote: req.socket.remoteAddress }, 'pull API request');
  const action = route[1] === 'reads' ? 'pull-image' : route[1] === 'health' ? 'pull-health' : 'pull';

  const principal = await authenticate(o, req);
  if (!principal) {
    const error = req.headers.authorization ? 'unknown token' : 'authentication required: a client certificate or a bearer token';
    // every refusal is answered; the access log takes the first REFUSALS_LOGGED a minute from one address, so a
    // scanner cannot bury the log (the rest are counted in the next row written)
    const remote = req.socket.remoteAddress ?? '?';
    const minute = Math.floor(now() / 60_000);
    const seen = refusals.get(remote);
    const count = seen && seen.minute === minute ? seen.count + 1 : 1;
    const skipped = seen && seen.minute !== minute ? Math.max(0, seen.count - REFUSALS_LOGGED) : 0;
    refusals.set(remote, { minute, count });
    if (refusals.size > 10_000) refusals.clear();
    if (count > REFUSALS_LOGGED) {
      o.log.debug({ remote }, 'pull API: refused (401), not logged again this minute');
      sendJson(res, 401, { error }, { 'WWW-Authenticate': 'Bearer' });
      return;
    }
    o.accessLog.append({
      user: UNAUTHENTICATED,
      agency: o.agency,
      role: 'system',
      action,
      purpose: header(req, 'x-alpr-purpose') ?? null,
      caseNumber: header(req, 'x-alpr-case') ?? null,
      query: { method: req.method, path: url.pathname, search: url.search, remote },
      result: { status: 401, error, ...(skipped ? { earlierRefusalsNotLogged: skipped } : {}) },
      outcome: 'refused',
    });
    o.log.warn({ path: url.pathname, remote: req.socket.remoteAddress }, `pull API: refused (401): ${error}`);
    sendJson(res, 401, { error }, { 'WWW-Authenticate': 'Bearer' });
    return;
  }

  if (req.method !== 'GET') {
    sendJson(res, 405, { error: `${req.method} is not allowed: the pull API answers GET` }, { Allow: 'GET' });
    return;
  }
  if (route.length === 2 && route[0] === 'v1' && route[1] === 'health') {
    sendJson(res, 200, o.health());
    return;
  }
  if (route.length === 3 && route[0] === 'v1' && route[1] === 'streams') {
    await dataRequest(o, req, res, principal, 'pull', { stream: route[2] }, () => streamPage(o, now, url, route[2]!, req, principal));
    return;
  }
  if (route.length === 5 && route[0] === 'v1' && route[1] === 'reads' && route[3] === 'images') {
    await dataRequest(o, req, res, principal, 'pull-image', { uuid: route[2], kind: route[4] }, () =>
      image(o, route[2]!, route[4]!, req, principal),
    );
    return;
  }
  sendJson(res, 404, { error: `no such resource: ${url.pathname}` });
}

type Answer = { status: 200; json: object } | { status: 200; bytes: Buffer; contentType: string };

/**
 * Runs a request for data: the answer (which has logged the access itself), or a refusal, logged here with the
 * purpose and case number as given.
 */
async function dataRequest(
  o: PullServerOptions,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  principal: Principal,
  action: string,
  query: Record<string, unknown>,
  answer: () => Answer | Promise<Answer>,
): Promise<void> {
  let a: Answer;
  try {
    a = await answer();
  } catch (err) {
    const refusal =
      err instanceof Refusal ? err : err instanceof PurposeError ? new Refusal(400, err.message) : undefined;
    if (!refusal) throw err;
    o.accessLog.append({
      user: principal.name,
      agency: o.agency,
      role: 'system',
      action,
      purpose: header(req, 'x-alpr-purpose') ?? null,
      caseNumber: header(req, 'x-alpr-case') ?? null,
      query: { ...query, search: new URL(req.url ?? '/', 'http://unit').search },
      result: { status: refusal.status, error: refusal.message },
      outcome: refusal.outcome,
    });
    const line = { user: principal.name, path: req.url, status: refusal.status };
    if (refusal.outcome === 'refused') o.log.warn(line, `pull API: refused (${refusal.status}): ${refusal.message}`);
    else o.log.info(line, `pull API: ${refusal.message}`);
    sendJson(res, refusal.status, { error: refusal.message });
    return;
  }
  if ('json' in a) sendJson(res, a.status, a.json);
  else {
    res.writeHead(a.status, { 'Content-Type': a.contentType, 'Content-Length': a.bytes.length, 'Cache-Control': 'no-store' });
    res.end(a.bytes);
  }
}

function streamPage(o: PullServerOptions, now: () => number, url: URL, name: string, req: http.IncomingMessage, principal: Principal): Answer {
  if (!isStream(name)) throw new Refusal(404, `no stream "${name}": one of ${STREAMS.join(', ')}`);
  const after = integerParam(url, 'after', 0, 0);
  const limit = Math.min(integerParam(url, 'limit', o.config.maxPageSize, 1), o.config.maxPageSize);
  const { purpose, caseNumber } = checkPurpose(header(req, 'x-alpr-purpose'), header(req, 'x-alpr-case'));
  const db = o.store.database;
  return db.transaction((): Answer => {
    // `after` acknowledges what the client has: a read changed since has a higher sync_seq, and stays pending.
    const acknowledged =
      name === 'reads' && o.config.marksSynced && after > 0
        ? db.prepare("UPDATE reads SET sync_state = 'synced', synced_at = ? WHERE sync_seq <= ? AND sync_state = 'pending'").run(now(), after)
            .changes
        : undefined;
    // One more than asked tells whether there is more, without a second query.
    const page = readPage(db, name, after, limit + 1);
    const more = page.items.length > limit;
    const items = more ? page.items.slice(0, limit) : page.items;
    const positions = more ? page.positions.slice(0, limit) : page.positions;
    const next = positions.length ? positions[positions.length - 1]! : after;
    o.accessLog.append({
      user: principal.name,
      agency: o.agency,
      role: 'system',
      action: 'pull',
      purpose,
      caseNumber,
      query: { stream: name, after, limit },
      result: { count: items.length, first: positions[0] ?? null, last: positions[positions.length - 1] ?? null, ...(acknowledged === undefined ? {} : { acknowledged }) },
      outcome: 'ok',
    });
    return { status: 200, json: { unit: o.unitId, stream: name, items, next, more } };
  })();
}

async function image(o: PullServerOptions, uuid: string, kind: string, req: http.IncomingMessage, principal: Principal): Promise<Answer> {
  if (kind !== 'crop' && kind !== 'frame') throw new Refusal(404, `no image kind "${kind}": crop or frame`);
  const { purpose, caseNumber } = checkPurpose(header(req, 'x-alpr-purpose'), header(req, 'x-alpr-case'));
  const read = o.store.getReadByUuid(uuid);
  if (!read) throw new Refusal(404, `no read ${uuid}`, 'failed');
  const rel = kind === 'crop' ? read.cropPath : read.framePath;
  if (rel === null) throw new Refusal(404, `read ${uuid} has no ${kind} image (never taken, evicted or deleted)`, 'failed');
  let bytes: Buffer;
  try {
    bytes = await o.store.readImage(rel);
  } catch (err) {
    // evicted between the row and the file
    if (!existsSync(o.store.imagePath(rel))) throw new Refusal(404, `read ${uuid} has no ${kind} image (evicted or deleted)`, 'failed');
    throw err;
  }
  const format = path.extname(rel).toLowerCase() === '.png' ? 'png' : 'jpeg';
  o.accessLog.append({
    user: principal.name,
    agency: o.agency,
    role: 'system',
    action: 'pull-image',
    purpose,
    caseNumber,
    query: { uuid, kind },
    result: { bytes: bytes.length, format },
    outcome: 'ok',
  });
  return { status: 200, bytes, contentType: `image/${format}` };
}

/** The client's name: its certificate's CN (verified by the handshake), else the name of its bearer token. */
async function authenticate(o: PullServerOptions, req: http.IncomingMessage): Promise<Principal | undefined> {
  const socket = req.socket as TLSSocket;
  if (socket.encrypted && socket.authorized) {
    const cn = socket.getPeerCertificate().subject?.CN as string | string[] | undefined;
    const name = Array.isArray(cn) ? cn[0] : cn;
    if (name) return { name, how: 'certificate' };
  }
  const auth = req.headers.authorization;
  if (o.config.tokensFile === '' || !auth) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
  if (!m) return undefined;
  const given = createHash('sha256').update(m[1]!).digest();
  let found: string | undefined;
  // Every token is compared, so the time taken says nothing about which one was close.
  for (const t of await loadTokens(o)) {
    if (timingSafeEqual(given, t.digest) && found === undefined) found = t.name;
  }
  return found === undefined ? undefined : { name: found, how: 'token' };
}

/** The tokens file, read at each request (it is small): a token added or removed applies at once. */
async function loadTokens(o: PullServerOptions): Promise<Array<{ name: string; digest: Buffer }>> {
  let text: string;
  try {
    text = await readFile(o.config.tokensFile, 'utf8');
  } catch (err) {
    o.log.warn({ file: o.config.tokensFile, code: (err as NodeJS.ErrnoException).code }, 'pull API: cannot read the tokens file; no token is accepted');
    return [];
  }
  const tokens: Array<{ name: string; digest: Buffer }> = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^(\S+)\s+(\S+)$/.exec(line);
    // the line holds a secret: only its number is logged
    if (!m) o.log.warn({ file: o.config.tokensFile, line: i + 1 }, 'pull API: tokens file line is not "<name> <token>"; ignored');
    else tokens.push({ name: m[1]!, digest: createHash('sha256').update(m[2]!).digest() });
  });
  return tokens;
}

function hasPeerCertificate(socket: TLSSocket): boolean {
  const cert = socket.getPeerCertificate();
  return cert !== null && typeof cert === 'object' && Object.keys(cert).length > 0;
}

function integerParam(url: URL, name: string, fallback: number, min: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return fallback;
  const n = /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new Refusal(400, `${name} must be an integer of at least ${min}, not "${raw}"`);
  return n;
}

/** A header as text: UTF-8 when the bytes are UTF-8 (node hands them over as latin1). */
function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v.join(', ') : v;
  if (s === undefined) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(s, 'latin1'));
  } catch {
    return s;
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store', ...headers });
  res.end(text);
}

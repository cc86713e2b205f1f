import { statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import type { Logger } from '../log/logger.js';
import type { StreamName } from '../sync/streams.js';
import type { Clock } from '../util/clock.js';
import { identify, Tokens } from './auth.js';
import { CentralDb, CentralError, NAME_RE, type ImageKind, type ImageRecord, type StoredItem } from './db.js';
import { HotlistFolder } from './hotlist-folder.js';
import { listFile, manifest } from './hotlist-routes.js';
import { HttpError, send } from './http.js';
import { image } from './image-route.js';
import { route, ROUTE_METHODS, type RouteContext } from './routes.js';
import { accessLogHead, batch, health } from './unit-routes.js';

export { CentralDb, CentralError, publishCancellation, publishEntry, type CancellationInput, type EntryInput } from './db.js';

/**
 * The reference central server (docs/sync-protocol.md, server side): receives the units' pushes into its own
 * SQLite, serves hot lists with their manifest, and takes images in resumable chunks. node:http(s) only, so that a
 * technician can run it next to a unit with nothing else installed, and tests can talk to it over loopback.
 */

export interface CentralOptions {
  /** Holds central.sqlite and images/. */
  dataDir: string;
  /**
   * Published hot list files: every file <name>.<ext> is list <name>. An optional lists.json beside them says
   * { "<name>": { "format": "ncic"|"ca-doj"|"csv"|"lines", "category"?, "priority"?, "covert"? } }; without an
   * entry the format comes from the extension (.txt lines, .csv csv, .ncic ncic, .clew ca-doj).
   */
  hotlistsDir?: string;
  /** The server's clock: token expiry, arrival times, live hot list entries. */
  clock: Clock;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** PEM contents. With clientCa: mutual TLS, a client without a certificate it signed is refused at the handshake. */
  tls?: { cert: string | Buffer; key: string | Buffer; clientCa?: string | Buffer };
  /** Plain HTTP (a loopback test or demo). */
  insecureHttp?: boolean;
  /** Bearer tokens and the unit each stands for; expiresAt in ms since the epoch. */
  tokens?: Array<{ token: string; unit: string; expiresAt?: number }>;
  /** Or a file of lines `<unit> <token> [expires ISO date]` ('#' comments), read again when it changes. */
  tokensFile?: string;
  log?: Logger;
}

export interface CentralServer {
  /** Base URL, e.g. https://127.0.0.1:8443 (a wildcard listen address shows as loopback). */
  url: string;
  port: number;
  db: CentralDb;
  /** Stops listening, ends open connections and closes the database. */
  close(): Promise<void>;
  /** Reads stored, of one unit or all. */
  readCount(unit?: string): number;
  /** Items stored of a stream, of one unit or all. */
  itemCount(stream: StreamName, unit?: string): number;
  item(unit: string, stream: StreamName, key: string): StoredItem | undefined;
  image(unit: string, readUuid: string, kind: ImageKind): ImageRecord | undefined;
  /** The bytes of a complete image. */
  imageBytes(unit: string, readUuid: string, kind: ImageKind): Buffer | undefined;
  health(unit: string): { body: unknown; receivedAt: number } | undefined;
}

export { MAX_BODY_BYTES, MAX_IMAGE_BYTES } from './http.js';
export type { PublishedList } from './hotlist-folder.js';

export async function startCentral(opts: CentralOptions): Promise<CentralServer> {
  const log = opts.log ?? pino({ level: 'silent' });
  if (!opts.tls && !opts.insecureHttp) throw new CentralError('the central server needs tls (cert and key), or insecureHttp for a loopback test');
  if (opts.hotlistsDir !== undefined) {
    let isDir = false;
    try {
      isDir = statSync(opts.hotlistsDir).isDirectory();
    } catch {
      /* reported below */
    }
    if (!isDir) throw new CentralError(`the hot list folder ${opts.hotlistsDir} is not a folder`);
  }
  const mutualTls = opts.tls?.clientCa !== undefined;
  const tokens = new Tokens(opts.tokens, opts.tokensFile, log);
  const db = CentralDb.open(opts.dataDir, opts.clock);
  const hotlists = new HotlistFolder(opts.hotlistsDir, log);
  const ctx: RouteContext = { db, log, hotlists };
  if (!tokens.configured && !mutualTls) log.warn('no tokens and no client CA: any client may push as any unit (a loopback test only)');

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://central');
    const r = route(url.pathname);
    const who = identify(req, tokens, mutualTls, db.clock());
    if (!r) throw new HttpError(404, `no such resource: ${req.method} ${url.pathname}`);
    const method = req.method ?? 'GET';
    if (!ROUTE_METHODS[r.kind].includes(method)) throw new HttpError(405, `${method} is not allowed here`, { allow: ROUTE_METHODS[r.kind].join(', ') });
    if ('unit' in r) {
      if (!NAME_RE.test(r.unit)) throw new HttpError(400, `not a unit id: ${JSON.stringify(r.unit)}`);
      if (who.unit !== null && who.unit !== r.unit) {
        throw new HttpError(403, `this ${who.via === 'token' ? 'token' : 'certificate'} is for unit ${who.unit}, not ${r.unit}`);
      }
    }
    switch (r.kind) {
      case 'batch':
        return batch(ctx, req, res, r.unit, r.stream);
      case 'health':
        return health(ctx, req, res, r.unit);
      case 'head':
        return accessLogHead(ctx, req, res, r.unit);
      case 'image':
        return image(ctx, req, res, r.unit, r.readUuid, r.imageKind);
      case 'manifest':
        return manifest(ctx, req, res);
      case 'file':
        return listFile(ctx, req, res, r.name);
    }
  }

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) {
        if (err.status >= 500) log.error({ method: req.method, url: req.url, err: err.message }, 'request failed');
        else log.info({ method: req.method, url: req.url, status: err.status, err: err.message }, 'request refused');
        send(res, err.status, req.method === 'HEAD' ? undefined : { error: err.message, ...err.extra }, err.headers);
        if (err.headers.connection === 'close') req.resume();
      } else {
        log.error({ method: req.method, url: req.url, err: (err as Error)?.stack ?? String(err) }, 'request failed');
        send(res, 500, { error: `the server failed: ${(err as Error)?.message ?? String(err)}` });
      }
    });
  };

  const server: http.Server = opts.tls
    ? https.createServer(
        {
          cert: opts.tls.cert,
          key: opts.tls.key,
          ...(mutualTls ? { ca: opts.tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
          requestTimeout: 3_600_000,
        },
        onRequest,
      )
    : http.createServer({ requestTimeout: 3_600_000 }, onRequest);
  // a link that goes silent must not hold a socket forever
  server.setTimeout(120_000, (socket) => socket.destroy());
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    log.debug({ err: err.message, code: err.code }, 'bad request from a client');
    if (err.code === 'ECONNRESET' || !socket.writable) socket.destroy();
    else socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });
  server.on('tlsClientError', (err: NodeJS.ErrnoException) => {
    log.info({ err: err.message, code: err.code }, 'TLS handshake refused');
  });

  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((err: unknown) => {
    db.close();
    throw err;
  });
  server.on('error', (err) => log.error({ err: err.message }, 'central server error'));
  const port = (server.address() as AddressInfo).port;
  const shown = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  const url = `${opts.tls ? 'https' : 'http'}://${shown}:${port}`;
  log.info({ url, mutualTls, tokens: tokens.configured, hotlists: opts.hotlistsDir ?? null, data: opts.dataDir }, 'central server listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    db,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => {
          db.close();
          resolve();
        });
        server.closeAllConnections();
      });
      return closing;
    },
    readCount: (unit) => db.count('reads', unit),
    itemCount: (stream, unit) => db.count(stream, unit),
    item: (unit, stream, key) => db.item(unit, stream, key),
    image: (unit, readUuid, kind) => db.image(unit, readUuid, kind),
    imageBytes: (unit, readUuid, kind) => db.imageBytes(unit, readUuid, kind),
    health: (unit) => db.health(unit),
  };
}

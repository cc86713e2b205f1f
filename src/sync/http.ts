import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { SyncConfig } from './schema.js';

/**
 * The unit's HTTP(S) client to the central server: node's own https with the CA, client certificate and bearer
 * token of the config; timeouts for connecting and for a server that stops answering; an upload rate limit; and
 * errors that say what went wrong in words a technician can act on.
 */

export type FailureKind = 'config' | 'tls' | 'auth' | 'refused' | 'network' | 'timeout' | 'server' | 'protocol';

export class SyncError extends Error {
  override name = 'SyncError';
  constructor(
    message: string,
    readonly kind: FailureKind,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface Credentials {
  base: URL;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  token?: string;
}

/** Reads the CA, client certificate and token files named in the config (at each cycle: a renewed token needs no restart). */
export function loadCredentials(server: SyncConfig['server']): Credentials {
  const read = (file: string, what: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new SyncError(`cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'config');
    }
  };
  if (server.url === '') throw new SyncError('sync.server.url is not set', 'config');
  const base = new URL(server.url.endsWith('/') ? server.url : `${server.url}/`);
  if (base.protocol === 'http:' && !server.allowInsecureHttp) {
    throw new SyncError('sync.server.url is plain http:// and sync.server.allowInsecureHttp is false: nothing is sent', 'config');
  }
  const creds: Credentials = { base };
  if (server.caFile) creds.ca = read(server.caFile, 'the server CA file (sync.server.caFile)');
  if (server.certFile) creds.cert = read(server.certFile, 'the client certificate (sync.server.certFile)');
  if (server.keyFile) creds.key = read(server.keyFile, 'the client key (sync.server.keyFile)');
  if (server.tokenFile) {
    const token = read(server.tokenFile, 'the token file (sync.server.tokenFile)').toString('utf8').split(/\r?\n/)[0]!.trim();
    if (token === '') throw new SyncError(`the token file ${server.tokenFile} is empty`, 'config');
    creds.token = token;
  }
  return creds;
}

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface RequestOptions {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT';
  /** Relative to the base URL (no leading slash), or absolute path from the server's root (leading slash). */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** Largest answer accepted (bytes). */
  maxResponseBytes?: number;
}

/** Upload pacing shared by all requests of a client: a token bucket of maxKBps. */
class Pacer {
  private available: number;
  private last = performance.now();
  constructor(private readonly bytesPerSecond: number) {
    this.available = bytesPerSecond / 4;
  }
  async take(n: number): Promise<void> {
    if (this.bytesPerSecond <= 0) return;
    for (;;) {
      const now = performance.now();
      this.available = Math.min(this.bytesPerSecond / 4, this.available + ((now - this.last) / 1000) * this.bytesPerSecond);
      this.last = now;
      if (this.available >= n) {
        this.available -= n;
        return;
      }
      await new Promise((r) => setTimeout(r, Math.max(5, ((n - this.available) / this.bytesPerSecond) * 1000)));
    }
  }
  get chunk(): number {
    return this.bytesPerSecond > 0 ? Math.max(1024, Math.min(64 * 1024, Math.floor(this.bytesPerSecond / 20))) : 1024 * 1024;
  }
}

const TLS_TRUST_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export class SyncHttp {
  private readonly agent: http.Agent;
  private readonly pacer: Pacer;

  constructor(
    private readonly creds: Credentials,
    private readonly timeouts: { connectTimeoutMs: number; responseTimeoutMs: number },
    maxKBps = 0,
  ) {
    const tls = creds.base.protocol === 'https:';
    this.agent = tls
      ? new https.Agent({ keepAlive: true, maxSockets: 2, ca: creds.ca, cert: creds.cert, key: creds.key })
      : new http.Agent({ keepAlive: true, maxSockets: 2 });
    this.pacer = new Pacer(maxKBps * 1024);
  }

  get baseUrl(): string {
    return this.creds.base.href;
  }

  close(): void {
    this.agent.destroy();
  }

  async request(o: RequestOptions): Promise<Response> {
    const url = new URL(o.path.startsWith('/') ? o.path.slice(1) : o.path, o.path.startsWith('/') ? this.creds.base.origin + '/' : this.creds.base);
    const headers: Record<string, string> = { ...o.headers };
    if (this.creds.token) headers.authorization = `Bearer ${this.creds.token}`;
    if (o.body) headers['content-length'] = String(o.body.length);
    const lib = url.protocol === 'https:' ? https : http;
    const where = `${o.method} ${url.pathname}`;
    return new Promise<Response>((resolve, reject) => {
      let settled = false;
      const fail = (err: SyncError) => {
        if (settled) return;
        settled = true;
        clearTimeout(connectTimer);
        req.destroy();
        reject(err);
      };
      const req = lib.request(url, { method: o.method, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > (o.maxResponseBytes ?? 256 * 2 ** 20)) fail(new SyncError(`${where}: the server's answer is larger than ${o.maxResponseBytes} bytes`, 'protocol'));
          else chunks.push(c);
        });
        res.on('end', () => {
          if (settled) return;
          settled = true;
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
        res.on('aborted', () => fail(new SyncError(`${where}: the server closed the connection in the middle of its answer`, 'network')));
        res.on('error', (err) => fail(describe(err, where)));
      });
      // connecting (and the TLS handshake) has its own limit; after that, silence from the server has another
      const connectTimer = setTimeout(
        () => fail(new SyncError(`${where}: could not connect to ${url.host} within ${this.timeouts.connectTimeoutMs} ms`, 'timeout')),
        this.timeouts.connectTimeoutMs,
      );
      req.on('socket', (socket) => {
        // a kept-alive socket is connected already; a new one is not until its (TLS) handshake is done
        if (!socket.connecting) clearTimeout(connectTimer);
        else socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
      });
      req.setTimeout(this.timeouts.responseTimeoutMs, () =>
        fail(new SyncError(`${where}: the server sent nothing for ${this.timeouts.responseTimeoutMs} ms (hung); gave up`, 'timeout')),
      );
      req.on('error', (err) => fail(describe(err, where)));
      void (async () => {
        try {
          if (o.body && o.body.length > 0) {
            const step = this.pacer.chunk;
            for (let at = 0; at < o.body.length && !settled; at += step) {
              const part = o.body.subarray(at, at + step);
              await this.pacer.take(part.length);
              if (!req.write(part)) await new Promise<void>((r) => req.once('drain', r).once('close', r));
            }
          }
          req.end();
        } catch (err) {
          fail(describe(err as Error, where));
        }
      })();
    });
  }

  /** A request whose answer must be 2xx JSON; anything else becomes a SyncError saying what the server said. */
  async json<T>(o: RequestOptions & { json?: unknown }): Promise<{ status: number; headers: http.IncomingHttpHeaders; data: T | undefined }> {
    const body = o.json === undefined ? o.body : Buffer.from(JSON.stringify(o.json));
    const res = await this.request({ ...o, body, headers: { accept: 'application/json', ...(o.json !== undefined ? { 'content-type': 'application/json' } : {}), ...o.headers } });
    if (res.status === 304) return { status: 304, headers: res.headers, data: undefined };
    if (res.status < 200 || res.status >= 300) throw statusError(res, `${o.method} ${o.path}`);
    if (res.body.length === 0) return { status: res.status, headers: res.headers, data: undefined };
    try {
      return { status: res.status, headers: res.headers, data: JSON.parse(res.body.toString('utf8')) as T };
    } catch {
      throw new SyncError(`${o.method} ${o.path}: the server's answer is not JSON (status ${res.status})`, 'protocol', res.status);
    }
  }
}

export function statusError(res: Response, where: string): SyncError {
  let said = '';
  try {
    const parsed = JSON.parse(res.body.toString('utf8')) as { error?: unknown };
    if (typeof parsed.error === 'string') said = parsed.error;
  } catch {
    said = res.body.toString('utf8').slice(0, 200).trim();
  }
  const what = said ? `: ${said}` : '';
  if (res.status === 401) return new SyncError(`${where}: the server refused the unit's credentials (401${what}); check sync.server.tokenFile / certFile`, 'auth', 401);
  if (res.status === 403) return new SyncError(`${where}: the server does not let this unit do that (403${what}); check unit.id and the token's unit`, 'auth', 403);
  if (res.status >= 500) return new SyncError(`${where}: the server failed (${res.status}${what})`, 'server', res.status);
  return new SyncError(`${where}: the server rejected the request (${res.status}${what})`, 'refused', res.status);
}

function describe(err: Error, where: string): SyncError {
  if (err instanceof SyncError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = e.code ?? '';
  if (TLS_TRUST_CODES.has(code)) {
    return new SyncError(`${where}: the server's certificate is not trusted (${code}: ${e.message}); nothing was sent. Check sync.server.caFile and the server's name`, 'tls');
  }
  if (/alert|certificate|ssl|tls/i.test(e.message) || code.startsWith('ERR_SSL') || code === 'EPROTO') {
    return new SyncError(`${where}: the TLS handshake failed (${code || 'TLS'}: ${e.message}); the server may not accept this unit's client certificate (sync.server.certFile). Nothing was sent`, 'tls');
  }
  if (code === 'ECONNREFUSED') return new SyncError(`${where}: the server refused the connection (is it running? ${e.message})`, 'network');
  if (code === 'ECONNRESET' || code === 'EPIPE') return new SyncError(`${where}: the connection was closed by the other end (${code})`, 'network');
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new SyncError(`${where}: the server's name does not resolve (${e.message})`, 'network');
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return new SyncError(`${where}: no route to the server (${code})`, 'network');
  return new SyncError(`${where}: ${code ? `${code}: ` : ''}${e.message}`, 'network');
}

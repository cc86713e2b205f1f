import type { Clock } from '../util/clock.js';
import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { pino } from 'pino';
import { FORMAT_NAMES, type FormatName } from '../hotlist/formats/index.js';
import type { Logger } from '../log/logger.js';
import { isStream, type StreamItem, type StreamName } from '../sync/streams.js';
import {
  CentralDb,
  CentralError,
  checkItems,
  IMAGE_FORMATS,
  IMAGE_KINDS,
  NAME_RE,
  type ImageFormat,
  type ImageKind,
  type ImageRecord,
  type PublishedCancellation,
  type PublishedEntry,
  type StoredItem,
} from './db.js';

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

/** Largest request body: a batch, a health report or an image chunk. */
export const MAX_BODY_BYTES = 64 * 2 ** 20;
/** Largest whole image accepted. */
export const MAX_IMAGE_BYTES = 256 * 2 ** 20;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

// ---- authentication -----------------------------------------------------------------------------------------

interface TokenEntry {
  unit: string;
  expiresAt?: number;
}

/** Who is asking: a unit id, or null when the server has no authentication configured (a loopback demo). */
type Identity = { unit: string | null; via: 'token' | 'certificate' | 'none' };

const sha = (s: string | Buffer): Buffer => createHash('sha256').update(s).digest();

class Tokens {
  /** Keyed by the token's SHA-256, so that a lookup does not time the comparison of secrets. */
  private byHash = new Map<string, TokenEntry>();
  private fileStamp = '';

  constructor(
    private readonly list: CentralOptions['tokens'],
    private readonly file: string | undefined,
    private readonly log: Logger,
  ) {
    for (const t of list ?? []) this.byHash.set(sha(t.token).toString('hex'), { unit: t.unit, expiresAt: t.expiresAt });
    if (file) this.reload(true);
  }

  get configured(): boolean {
    return this.list !== undefined || this.file !== undefined;
  }

  /** Re-reads the tokens file when it changed; a file that cannot be read keeps the tokens read before. */
  private reload(first = false): void {
    if (!this.file) return;
    let stamp: string;
    let text: string;
    try {
      const st = statSync(this.file);
      stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
      if (stamp === this.fileStamp) return;
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      const msg = `cannot read the tokens file ${this.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
      if (first) throw new CentralError(msg);
      this.log.error({ file: this.file }, `${msg}; the tokens read before stay in use`);
      return;
    }
    const next = new Map<string, TokenEntry>();
    for (const t of this.list ?? []) next.set(sha(t.token).toString('hex'), { unit: t.unit, expiresAt: t.expiresAt });
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const [unit, token, expires, ...more] = line.split(/\s+/);
      const where = `${this.file}:${i + 1}`;
      if (!unit || !token || more.length || !NAME_RE.test(unit)) {
        this.log.warn({ where }, 'tokens file: a line is `<unit> <token> [expires ISO date]`; this one is left out');
        return;
      }
      let expiresAt: number | undefined;
      if (expires !== undefined) {
        expiresAt = Date.parse(expires);
        if (Number.isNaN(expiresAt)) {
          this.log.warn({ where, expires }, 'tokens file: the expiry is not an ISO date; the token is left out');
          return;
        }
      }
      next.set(sha(token).toString('hex'), { unit, expiresAt });
    });
    this.byHash = next;
    this.fileStamp = stamp;
    this.log.info({ file: this.file, tokens: next.size }, 'tokens file read');
  }

  lookup(token: string): TokenEntry | undefined {
    this.reload();
    return this.byHash.get(sha(token).toString('hex'));
  }
}

function identify(req: http.IncomingMessage, tokens: Tokens, mutualTls: boolean, now: number): Identity {
  const socket = req.socket as Partial<TLSSocket>;
  let cn: string | null = null;
  if (mutualTls && socket.authorized && typeof socket.getPeerCertificate === 'function') {
    const subjectCn = socket.getPeerCertificate().subject?.CN as string | string[] | undefined;
    cn = Array.isArray(subjectCn) ? (subjectCn[0] ?? null) : (subjectCn ?? null);
  }
  if (tokens.configured) {
    const auth = req.headers.authorization;
    const m = auth ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
    if (!m) throw new HttpError(401, 'a bearer token is required (Authorization: Bearer <token>)', { 'www-authenticate': 'Bearer' });
    const entry = tokens.lookup(m[1]!);
    if (!entry) throw new HttpError(401, 'unknown token', { 'www-authenticate': 'Bearer error="invalid_token"' });
    if (entry.expiresAt !== undefined && entry.expiresAt <= now) {
      throw new HttpError(401, 'token expired', { 'www-authenticate': 'Bearer error="invalid_token"' });
    }
    return { unit: entry.unit, via: 'token' };
  }
  if (mutualTls) {
    if (!cn) throw new HttpError(401, 'the client certificate names no unit (subject CN)');
    return { unit: cn, via: 'certificate' };
  }
  return { unit: null, via: 'none' };
}

// ---- hot list folder ----------------------------------------------------------------------------------------

export interface PublishedList {
  name: string;
  format: FormatName;
  file: string;
  sha256: string;
  bytes: number;
  category?: string;
  priority?: number;
  covert?: boolean;
}

const FORMAT_BY_EXT: Record<string, FormatName> = { '.txt': 'lines', '.csv': 'csv', '.ncic': 'ncic', '.clew': 'ca-doj' };

interface ListSettings {
  format?: FormatName;
  category?: string;
  priority?: number;
  covert?: boolean;
}

function parseListsJson(file: string): Map<string, ListSettings> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file} is not JSON: ${(err as Error).message}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new Error(`${file}: an object of list name → settings is expected`);
  const out = new Map<string, ListSettings>();
  for (const [name, raw] of Object.entries(data)) {
    const at = `${file}: ${name}`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${at}: an object { format, category?, priority?, covert? } is expected`);
    const s: ListSettings = {};
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
      if (k === 'format') {
        if (!FORMAT_NAMES.includes(v as FormatName)) throw new Error(`${at}.format: one of ${FORMAT_NAMES.join(', ')} (got ${JSON.stringify(v)})`);
        s.format = v as FormatName;
      } else if (k === 'category') {
        if (typeof v !== 'string' || v.length > 200) throw new Error(`${at}.category: a text of at most 200 characters`);
        s.category = v;
      } else if (k === 'priority') {
        if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > 9) throw new Error(`${at}.priority: a whole number from 1 (most urgent) to 9 (got ${JSON.stringify(v)})`);
        s.priority = v as number;
      } else if (k === 'covert') {
        if (typeof v !== 'boolean') throw new Error(`${at}.covert: true or false`);
        s.covert = v;
      } else {
        throw new Error(`${at}: unknown key ${JSON.stringify(k)} (allowed: format, category, priority, covert)`);
      }
    }
    out.set(name, s);
  }
  return out;
}

/** The folder of hot list files, checksummed once per version of each file (by size and mtime). */
class HotlistFolder {
  private readonly sums = new Map<string, { stamp: string; sha256: string }>();
  private readonly warned = new Set<string>();

  constructor(
    private readonly dir: string | undefined,
    private readonly log: Logger,
  ) {}

  private warnOnce(key: string, obj: object, msg: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.log.warn(obj, msg);
  }

  private checksum(file: string, size: number, mtimeMs: number): string {
    const stamp = `${size}:${mtimeMs}`;
    const known = this.sums.get(file);
    if (known?.stamp === stamp) return known.sha256;
    const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
    this.sums.set(file, { stamp, sha256 });
    return sha256;
  }

  lists(): PublishedList[] {
    if (!this.dir) return [];
    let names: string[];
    try {
      names = readdirSync(this.dir).sort();
    } catch (err) {
      throw new HttpError(500, `the hot list folder ${this.dir} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    let settings: Map<string, ListSettings>;
    try {
      settings = parseListsJson(path.join(this.dir, 'lists.json'));
    } catch (err) {
      // serving the lists with guessed settings could make a covert list alert: better none until it is fixed
      throw new HttpError(500, `the hot list folder's lists.json is not valid: ${(err as Error).message}`);
    }
    const out: PublishedList[] = [];
    const seen = new Set<string>();
    for (const fileName of names) {
      if (fileName === 'lists.json' || fileName.startsWith('.') || fileName.endsWith('.part') || fileName.endsWith('~')) continue;
      const file = path.join(this.dir, fileName);
      let st;
      try {
        st = statSync(file);
      } catch {
        continue; // removed while listing
      }
      if (!st.isFile()) continue;
      const ext = path.extname(fileName);
      const name = ext ? fileName.slice(0, -ext.length) : fileName;
      if (!NAME_RE.test(name)) {
        this.warnOnce(`name:${fileName}`, { file }, 'hot list file left out: a list name has letters, digits, "_", "." and "-", 1-64 characters');
        continue;
      }
      if (seen.has(name)) {
        this.warnOnce(`dup:${fileName}`, { file, list: name }, 'hot list file left out: another file already gives this list');
        continue;
      }
      const s = settings.get(name) ?? {};
      const format = s.format ?? FORMAT_BY_EXT[ext.toLowerCase()];
      if (!format) {
        this.warnOnce(`format:${fileName}`, { file, list: name }, 'hot list file left out: its format is not in lists.json and its extension is none of .txt, .csv, .ncic, .clew');
        continue;
      }
      seen.add(name);
      out.push({
        name,
        format,
        file,
        sha256: this.checksum(file, st.size, st.mtimeMs),
        bytes: st.size,
        ...(s.category !== undefined ? { category: s.category } : {}),
        ...(s.priority !== undefined ? { priority: s.priority } : {}),
        ...(s.covert !== undefined ? { covert: s.covert } : {}),
      });
    }
    return out;
  }
}

// ---- manifest -----------------------------------------------------------------------------------------------

/**
 * The entries and cancellations a unit should apply. A unit applies all entries, then all cancellations, each
 * once; so an entry cancelled since is left out, and a cancellation that a later entry of the same list and plate
 * undid is left out too (a unit seeing both for the first time must end with the plate wanted). Expired entries
 * are left out.
 */
function liveEntries(db: CentralDb, now: number): { entries: PublishedEntry[]; cancellations: PublishedCancellation[] } {
  const { entries, cancellations } = db.published();
  const covers = (c: PublishedCancellation, e: PublishedEntry) => c.list === e.list && c.plate === e.plate && (c.state === null || c.state === e.state);
  const strip = <T extends { seq: number }>({ seq: _seq, ...rest }: T): Omit<T, 'seq'> => rest;
  return {
    entries: entries
      .filter((e) => (e.expiresAt === null || e.expiresAt > now) && !cancellations.some((c) => c.seq > e.seq && covers(c, e)))
      .map(strip),
    cancellations: cancellations.filter((c) => !entries.some((e) => e.seq > c.seq && covers(c, e))).map(strip),
  };
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

// ---- requests -----------------------------------------------------------------------------------------------

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.reject(new HttpError(413, `the body is larger than ${limit} bytes`, { connection: 'close' }));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) {
        done = true;
        chunks.length = 0;
        reject(new HttpError(413, `the body is larger than ${limit} bytes`, { connection: 'close' }));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(chunks, size));
    });
    req.on('error', (err) => {
      if (done) return;
      done = true;
      reject(new HttpError(400, `the request broke off: ${err.message}`));
    });
    req.on('close', () => {
      if (done) return;
      done = true;
      reject(new HttpError(400, 'the request broke off before its end'));
    });
  });
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch (err) {
    throw new HttpError(400, `the body is not JSON: ${(err as Error).message}`);
  }
}

function validateBatch(data: unknown, unit: string, stream: StreamName): StreamItem[] {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new HttpError(400, 'the body must be an object { unit, stream, items }');
  const b = data as Record<string, unknown>;
  if (b.unit !== undefined && b.unit !== unit) throw new HttpError(400, `the body is for unit ${JSON.stringify(b.unit)}, the path for ${JSON.stringify(unit)}`);
  if (b.stream !== undefined && b.stream !== stream) throw new HttpError(400, `the body is of stream ${JSON.stringify(b.stream)}, the path of ${JSON.stringify(stream)}`);
  try {
    return checkItems(b.items);
  } catch (err) {
    if (err instanceof CentralError) throw new HttpError(400, err.message);
    throw err;
  }
}

const CONTENT_RANGE = /^bytes (\d{1,15})-(\d{1,15})\/(\d{1,15})$/;

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) }),
    ...headers,
  });
  res.end(text);
}

type Route =
  | { kind: 'batch'; unit: string; stream: string }
  | { kind: 'health'; unit: string }
  | { kind: 'head'; unit: string }
  | { kind: 'image'; unit: string; readUuid: string; imageKind: string }
  | { kind: 'manifest'; unit: string }
  | { kind: 'file'; name: string };

const ROUTE_METHODS: Record<Route['kind'], string[]> = {
  batch: ['POST'],
  health: ['PUT'],
  head: ['POST', 'GET'],
  image: ['HEAD', 'PUT'],
  manifest: ['GET', 'HEAD'],
  file: ['GET', 'HEAD'],
};

function route(pathname: string): Route | undefined {
  let parts: string[];
  try {
    parts = pathname.split('/').slice(1).map(decodeURIComponent);
  } catch {
    throw new HttpError(400, 'the path is not valid URL encoding');
  }
  const [v, a, b, c, d, e, f, ...more] = parts;
  if (v !== 'v1' || more.length) return undefined;
  if (a === 'units' && b !== undefined) {
    if (c === 'batches' && d !== undefined && e === undefined) return { kind: 'batch', unit: b, stream: d };
    if (c === 'health' && d === undefined) return { kind: 'health', unit: b };
    if (c === 'access-log' && d === 'head' && e === undefined) return { kind: 'head', unit: b };
    if (c === 'hotlists' && d === undefined) return { kind: 'manifest', unit: b };
    if (c === 'images' && d !== undefined && e !== undefined && f === undefined) return { kind: 'image', unit: b, readUuid: d, imageKind: e };
    return undefined;
  }
  if (a === 'hotlists' && b === 'files' && c !== undefined && d === undefined) return { kind: 'file', name: c };
  return undefined;
}

// ---- the server ---------------------------------------------------------------------------------------------

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
        return batch(req, res, r.unit, r.stream);
      case 'health':
        return health(req, res, r.unit);
      case 'head':
        return accessLogHead(req, res, r.unit);
      case 'image':
        return image(req, res, r.unit, r.readUuid, r.imageKind);
      case 'manifest':
        return manifest(req, res);
      case 'file':
        return listFile(req, res, r.name);
    }
  }

  async function batch(req: http.IncomingMessage, res: http.ServerResponse, unit: string, stream: string): Promise<void> {
    if (!isStream(stream)) throw new HttpError(404, `no stream ${JSON.stringify(stream)} (reads, hits, alert-events, access-log, faults)`);
    const items = validateBatch(parseJson(await readBody(req, MAX_BODY_BYTES)), unit, stream);
    const count = db.storeBatch(unit, stream, items);
    log.info({ unit, stream, ...count }, 'batch stored');
    send(res, 200, count);
  }

  async function health(req: http.IncomingMessage, res: http.ServerResponse, unit: string): Promise<void> {
    const data = parseJson(await readBody(req, MAX_BODY_BYTES));
    if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new HttpError(400, "the health report must be a JSON object");
    db.putHealth(unit, data);
    log.debug({ unit }, 'health received');
    send(res, 204, undefined);
  }

  /**
   * The unit's access log head, after its access-log batches: acknowledged when it continues the head acknowledged
   * before; refused (409) and recorded when the unit's log went back (CentralDb.acceptHead). GET: the head last
   * acknowledged (null: none yet).
   */
  async function accessLogHead(req: http.IncomingMessage, res: http.ServerResponse, unit: string): Promise<void> {
    if (req.method === 'GET') {
      // what `audit verify --central` compares the unit's log with
      send(res, 200, { acknowledged: db.accessLogHead(unit) });
      return;
    }
    const data = parseJson(await readBody(req, MAX_BODY_BYTES)) as Record<string, unknown> | null;
    const ok =
      typeof data === 'object' && data !== null && Number.isSafeInteger(data.id) && (data.id as number) > 0 &&
      typeof data.mac === 'string' && /^[0-9a-f]{64}$/.test(data.mac) && typeof data.at === 'number' && Number.isFinite(data.at);
    if (!ok) throw new HttpError(400, 'the head must be { id: the last record number (1 or more), mac: its 64 hex MAC, at: its time in ms }');
    const head = { id: data.id as number, mac: data.mac as string, at: data.at as number };
    const r = db.acceptHead(unit, head);
    if (!r.ok) {
      log.warn({ unit, head: head.id, acknowledged: r.acknowledged?.id ?? null, problem: r.problem }, "a unit's access log went back: head refused and recorded");
      throw new HttpError(409, `access log head #${head.id} refused: ${r.problem}`, {}, { acknowledged: r.acknowledged });
    }
    log.debug({ unit, head: head.id }, 'access log head acknowledged');
    send(res, 200, { acknowledged: r.acknowledged });
  }

  async function image(req: http.IncomingMessage, res: http.ServerResponse, unit: string, readUuid: string, kind: string): Promise<void> {
    if (!IMAGE_KINDS.includes(kind as ImageKind)) throw new HttpError(404, `no image kind ${JSON.stringify(kind)} (crop, frame)`);
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(readUuid)) throw new HttpError(400, `not a read uuid: ${JSON.stringify(readUuid)}`);
    const k = kind as ImageKind;
    if (req.method === 'HEAD') {
      const img = db.image(unit, readUuid, k);
      if (!img || img.sha256 === null) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, {
        'x-received-bytes': String(img.received),
        'x-total-bytes': String(img.total ?? 0),
        'x-image-sha256': img.sha256,
        ...(img.complete ? { 'x-complete': '1' } : {}),
      });
      res.end();
      return;
    }
    const range = CONTENT_RANGE.exec(String(req.headers['content-range'] ?? ''));
    if (!range) throw new HttpError(400, 'Content-Range: bytes <start>-<end>/<total> is required');
    const [start, end, total] = [Number(range[1]), Number(range[2]), Number(range[3])];
    if (end < start || end >= total) throw new HttpError(400, `Content-Range ${req.headers['content-range']} is not a range inside the image`);
    if (total > MAX_IMAGE_BYTES) throw new HttpError(413, `an image is at most ${MAX_IMAGE_BYTES} bytes`, { connection: 'close' });
    const sha256 = String(req.headers['x-image-sha256'] ?? '').toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new HttpError(400, 'X-Image-SHA256: the hex SHA-256 of the whole image is required');
    const format = String(req.headers['x-image-format'] ?? 'jpeg').toLowerCase();
    if (!IMAGE_FORMATS.includes(format as ImageFormat)) throw new HttpError(400, `X-Image-Format must be jpeg or png (got ${JSON.stringify(format)})`);
    const chunk = await readBody(req, MAX_BODY_BYTES);
    if (chunk.length !== end - start + 1) {
      throw new HttpError(400, `the chunk has ${chunk.length} bytes; Content-Range ${req.headers['content-range']} says ${end - start + 1}`);
    }
    const r = db.receiveChunk(unit, readUuid, k, { start, total, sha256, format: format as ImageFormat, chunk });
    switch (r.status) {
      case 'conflict':
        log.info({ unit, readUuid, kind, start, received: r.received }, 'image chunk out of place; the unit resumes where the server is');
        send(res, 409, { error: `Content-Range starts at ${start}: ${r.why}`, received: r.received }, { 'x-received-bytes': String(r.received) });
        return;
      case 'partial':
        send(res, 200, { received: r.received });
        return;
      case 'complete':
        log.info({ unit, readUuid, kind, bytes: total }, 'image received');
        send(res, 201, { received: r.received, complete: true });
        return;
      case 'mismatch':
        log.warn({ unit, readUuid, kind, expected: sha256, got: r.sha256 }, 'image does not match its SHA-256; discarded');
        send(res, 422, { error: `the image received has SHA-256 ${r.sha256}, not ${sha256}: discarded, send it again from 0` });
        return;
    }
  }

  function manifest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const now = db.clock();
    const lists = hotlists.lists().map(({ file: _file, ...l }) => ({ ...l, href: `/v1/hotlists/files/${encodeURIComponent(l.name)}` }));
    const content = { lists, ...liveEntries(db, now) };
    const etag = `"${createHash('sha256').update(JSON.stringify(content)).digest('hex')}"`;
    if (etagMatches(req.headers['if-none-match'], etag)) {
      res.writeHead(304, { etag }).end();
      return;
    }
    send(res, 200, req.method === 'HEAD' ? undefined : { generatedAt: now, ...content }, { etag, 'cache-control': 'no-cache' });
  }

  function listFile(req: http.IncomingMessage, res: http.ServerResponse, name: string): void {
    const list = hotlists.lists().find((l) => l.name === name);
    if (!list) throw new HttpError(404, `no hot list ${JSON.stringify(name)}`);
    const etag = `"${list.sha256}"`;
    if (etagMatches(req.headers['if-none-match'], etag)) {
      res.writeHead(304, { etag }).end();
      return;
    }
    res.writeHead(200, { etag, 'content-type': 'application/octet-stream', 'content-length': String(list.bytes), 'cache-control': 'no-cache' });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    // a file replaced while it goes out no longer matches the manifest's checksum: the unit rejects it
    const stream = createReadStream(list.file, { end: Math.max(0, list.bytes - 1) });
    stream.on('error', (err) => {
      log.error({ file: list.file, err: err.message }, 'hot list file could not be sent');
      res.destroy();
    });
    stream.pipe(res);
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

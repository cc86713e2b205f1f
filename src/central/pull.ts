import http from 'node:http';
import https from 'node:https';
import { pino } from 'pino';
import type { Logger } from '../log/logger.js';
import { STREAMS, type StreamName } from '../sync/streams.js';
import { CentralError, checkItems, IMAGE_KINDS, type CentralDb, type ImageKind } from './db.js';

/**
 * The central server pulling from a unit's API (docs/sync-protocol.md, "Pull"): each stream page by page from the
 * cursor kept for that unit and stream, each page stored with the same upsert as a push and the cursor moved in
 * the same transaction, so that a pull cut off anywhere goes on where it stopped and stores nothing twice.
 * Optionally the images of the reads pulled, fetched whole.
 */

export interface PullOptions {
  db: CentralDb;
  /** The unit's id: what the items are stored under (the unit's answers must name it). */
  unit: string;
  /** The unit's API, e.g. https://10.0.0.12:8443 */
  baseUrl: string;
  /** PEM of the CA that signed the unit's API certificate (else the system's CAs). */
  ca?: string | Buffer;
  /** Client certificate and key (mutual TLS). */
  cert?: string | Buffer;
  key?: string | Buffer;
  token?: string;
  /** Why the data is pulled, and under which case: the unit logs both with each request and refuses without. */
  purpose: string;
  caseNumber: string;
  /** Default: all. */
  streams?: StreamName[];
  /** Also fetch the images of the reads pulled (and of reads pulled before whose images are still missing). */
  images?: boolean;
  /** Items asked for per page (default 1000; the unit may send fewer). */
  pageSize?: number;
  /** Give up on a request when the unit sends nothing for this long (default 30 s). */
  timeoutMs?: number;
  log?: Logger;
}

export interface PullCount {
  pulled: number;
  stored: number;
  duplicates: number;
}

/** Per stream pulled; `images` only when images were asked for. */
export type PullResult = { [S in StreamName]?: PullCount } & {
  images?: { fetched: number; missing: number };
  /**
   * The unit's access log head, taken as the last access-log record pulled (when any were): acknowledged when it
   * continues the head acknowledged before, else refused and recorded (CentralDb.acceptHead: the log went back).
   */
  accessLogHead?: { id: number; acknowledged: boolean; problem?: string };
};

export class PullError extends Error {
  override name = 'PullError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

const MAX_PAGE_BYTES = 256 * 2 ** 20;
const MAX_IMAGE_BYTES = 256 * 2 ** 20;

export async function pullFromUnit(opts: PullOptions): Promise<PullResult> {
  const log = opts.log ?? pino({ level: 'silent' });
  const base = new URL(opts.baseUrl.endsWith('/') ? opts.baseUrl : `${opts.baseUrl}/`);
  if (base.protocol !== 'https:' && base.protocol !== 'http:') throw new PullError(`${opts.baseUrl}: not an http(s) URL`);
  if (opts.purpose.trim() === '' || opts.caseNumber.trim() === '') throw new PullError('a purpose and a case number are required: the unit logs both with every pull');
  const pageSize = opts.pageSize ?? 1000;
  if (!Number.isInteger(pageSize) || pageSize < 1) throw new PullError(`pageSize must be a whole number ≥ 1 (got ${pageSize})`);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const tls = base.protocol === 'https:';
  const agent = tls ? new https.Agent({ keepAlive: true, maxSockets: 1, ca: opts.ca, cert: opts.cert, key: opts.key }) : new http.Agent({ keepAlive: true, maxSockets: 1 });
  const headers: Record<string, string> = { 'x-alpr-purpose': opts.purpose, 'x-alpr-case': opts.caseNumber };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;

  const get = (relative: string, accept: string, maxBytes: number): Promise<Answer> => {
    const url = new URL(relative, base);
    const where = `GET ${url.pathname}${url.search}`;
    return new Promise<Answer>((resolve, reject) => {
      const req = (tls ? https : http).request(url, { method: 'GET', agent, headers: { ...headers, accept } }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) req.destroy(new PullError(`${where}: the unit's answer is larger than ${maxBytes} bytes`));
          else chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', (err) => reject(err instanceof PullError ? err : new PullError(`${where}: ${err.message}`)));
      });
      req.setTimeout(timeoutMs, () => req.destroy(new PullError(`${where}: the unit sent nothing for ${timeoutMs} ms; gave up`)));
      req.on('error', (err: NodeJS.ErrnoException) =>
        reject(err instanceof PullError ? err : new PullError(`${where}: ${err.code ? `${err.code}: ` : ''}${err.message}`)),
      );
      req.end();
    });
  };

  const refused = (a: Answer, where: string): PullError => {
    let said = '';
    try {
      const e = (JSON.parse(a.body.toString('utf8')) as { error?: unknown }).error;
      said = typeof e === 'string' ? e : '';
    } catch {
      said = a.body.toString('utf8').slice(0, 200).trim();
    }
    return new PullError(`${where}: the unit answered ${a.status}${said ? `: ${said}` : ''}`, a.status);
  };

  const result: PullResult = {};
  let lastLogItem: Record<string, unknown> | undefined;
  try {
    for (const stream of opts.streams ?? STREAMS) {
      const count: PullCount = { pulled: 0, stored: 0, duplicates: 0 };
      result[stream] = count;
      let cursor = opts.db.pullCursor(opts.unit, stream);
      for (;;) {
        const where = `GET /v1/streams/${stream}?after=${cursor}`;
        const a = await get(`v1/streams/${encodeURIComponent(stream)}?after=${cursor}&limit=${pageSize}`, 'application/json', MAX_PAGE_BYTES);
        if (a.status !== 200) throw refused(a, where);
        let page: { unit?: unknown; stream?: unknown; items?: unknown; next?: unknown; more?: unknown };
        try {
          page = JSON.parse(a.body.toString('utf8')) as typeof page;
        } catch {
          throw new PullError(`${where}: the unit's answer is not JSON`);
        }
        if (typeof page !== 'object' || page === null) throw new PullError(`${where}: the unit's answer is not an object`);
        if (page.unit !== undefined && page.unit !== opts.unit) {
          throw new PullError(`${where}: the unit says it is ${JSON.stringify(page.unit)}, not ${opts.unit}: nothing stored`);
        }
        if (page.stream !== undefined && page.stream !== stream) throw new PullError(`${where}: the unit answered with stream ${JSON.stringify(page.stream)}`);
        if (typeof page.next !== 'number' || !Number.isSafeInteger(page.next) || page.next < 0) throw new PullError(`${where}: the answer has no cursor (next)`);
        if (typeof page.more !== 'boolean') throw new PullError(`${where}: the answer does not say whether there is more`);
        let items;
        try {
          items = checkItems(page.items);
        } catch (err) {
          if (err instanceof CentralError) throw new PullError(`${where}: ${err.message}; nothing of the page stored`);
          throw err;
        }
        const next = page.next;
        const now = opts.db.clock();
        const c = opts.db.database
          .transaction(() => {
            const stored = opts.db.upsertItems(opts.unit, stream, items, now);
            opts.db.setPullCursor(opts.unit, stream, next, now);
            if (opts.images && stream === 'reads') {
              for (const item of items) {
                const uuid = typeof item.uuid === 'string' ? item.uuid : item.key;
                const kinds = Array.isArray(item.images)
                  ? (item.images as Array<{ kind?: unknown }>).map((i) => i?.kind).filter((k): k is ImageKind => IMAGE_KINDS.includes(k as ImageKind))
                  : [];
                if (kinds.length) opts.db.images.wantImages(opts.unit, uuid, kinds, now);
              }
            }
            return stored;
          })
          .immediate();
        const last = items.at(-1);
        if (stream === 'access-log' && last) lastLogItem = last;
        count.pulled += c.received;
        count.stored += c.stored;
        count.duplicates += c.duplicates;
        log.debug({ unit: opts.unit, stream, after: cursor, next, ...c }, 'page pulled');
        if (!page.more) break;
        if (next <= cursor) throw new PullError(`${where}: the unit says there is more but its cursor does not move (next=${next})`);
        cursor = next;
      }
      log.info({ unit: opts.unit, stream, ...count }, 'stream pulled');
      if (stream === 'access-log' && lastLogItem) {
        const { id, mac, at } = lastLogItem as { id?: unknown; mac?: unknown; at?: unknown };
        if (Number.isSafeInteger(id) && typeof mac === 'string' && typeof at === 'number') {
          const h = opts.db.acceptHead(opts.unit, { id: id as number, mac, at });
          result.accessLogHead = h.ok ? { id: id as number, acknowledged: true } : { id: id as number, acknowledged: false, problem: h.problem };
          if (!h.ok) log.warn({ unit: opts.unit, head: id, problem: h.problem }, "the unit's access log went back: head refused and recorded");
        }
      }
    }

    if (opts.images) {
      const images = { fetched: 0, missing: 0 };
      result.images = images;
      for (const img of opts.db.images.missingImages(opts.unit)) {
        const where = `GET /v1/reads/${img.readUuid}/images/${img.kind}`;
        const a = await get(`v1/reads/${encodeURIComponent(img.readUuid)}/images/${img.kind}`, 'image/jpeg, image/png', MAX_IMAGE_BYTES);
        if (a.status === 404 || a.status === 410) {
          // evicted or deleted on the unit before it was fetched: nothing more to wait for
          if (img.sha256 === null) opts.db.images.forgetImage(opts.unit, img.readUuid, img.kind);
          images.missing++;
          continue;
        }
        if (a.status !== 200) throw refused(a, where);
        const format = /png/i.test(String(a.headers['content-type'] ?? '')) ? 'png' : 'jpeg';
        opts.db.images.storeImage(opts.unit, img.readUuid, img.kind, format, a.body);
        images.fetched++;
      }
      log.info({ unit: opts.unit, ...images }, 'images pulled');
    }
  } finally {
    agent.destroy();
  }
  return result;
}

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type http from 'node:http';
import type { CentralDb, PublishedCancellation, PublishedEntry } from './db.js';
import { etagMatches, HttpError, send } from './http.js';
import type { RouteContext } from './routes.js';

/** The hot lists a unit fetches: the manifest (lists, live entries and cancellations), and each list's file. */

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

export function manifest(ctx: RouteContext, req: http.IncomingMessage, res: http.ServerResponse): void {
  const { db, hotlists } = ctx;
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

export function listFile(ctx: RouteContext, req: http.IncomingMessage, res: http.ServerResponse, name: string): void {
  const { log, hotlists } = ctx;
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

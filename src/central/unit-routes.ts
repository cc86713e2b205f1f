import type http from 'node:http';
import { isStream, type StreamItem, type StreamName } from '../sync/streams.js';
import { CentralError, checkItems } from './records.js';
import { HttpError, MAX_BODY_BYTES, parseJson, readBody, send } from './http.js';
import type { RouteContext } from './routes.js';

/** What a unit pushes: batches of a stream, its health report, and the head of its access log. */

export async function batch(ctx: RouteContext, req: http.IncomingMessage, res: http.ServerResponse, unit: string, stream: string): Promise<void> {
  const { db, log } = ctx;
  if (!isStream(stream)) throw new HttpError(404, `no stream ${JSON.stringify(stream)} (reads, hits, alert-events, access-log, faults)`);
  const items = validateBatch(parseJson(await readBody(req, MAX_BODY_BYTES)), unit, stream);
  const count = db.storeBatch(unit, stream, items);
  log.info({ unit, stream, ...count }, 'batch stored');
  send(res, 200, count);
}

export async function health(ctx: RouteContext, req: http.IncomingMessage, res: http.ServerResponse, unit: string): Promise<void> {
  const { db, log } = ctx;
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
export async function accessLogHead(ctx: RouteContext, req: http.IncomingMessage, res: http.ServerResponse, unit: string): Promise<void> {
  const { db, log } = ctx;
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

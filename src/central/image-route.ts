import type http from 'node:http';
import { IMAGE_FORMATS, IMAGE_KINDS, type ImageFormat, type ImageKind } from './records.js';
import { HttpError, MAX_BODY_BYTES, MAX_IMAGE_BYTES, readBody, send } from './http.js';
import type { RouteContext } from './routes.js';

/**
 * A read's image, in resumable chunks: PUT with Content-Range and the SHA-256 of the whole image; HEAD says how
 * much the server has, so that a unit resumes where it is.
 */

const CONTENT_RANGE = /^bytes (\d{1,15})-(\d{1,15})\/(\d{1,15})$/;

export async function image(ctx: RouteContext, req: http.IncomingMessage, res: http.ServerResponse, unit: string, readUuid: string, kind: string): Promise<void> {
  const { db, log } = ctx;
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
  const r = db.images.receiveChunk(unit, readUuid, k, { start, total, sha256, format: format as ImageFormat, chunk });
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

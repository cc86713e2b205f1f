import type { FastifyRequest } from 'fastify';
import { DataAccess, hitHistory, type SearchQuery } from '../access/data.js';
import { Releases } from '../access/releases.js';
import { sniffImage } from '../recognition/image-header.js';
import { HttpRefusal } from './auth.js';
import type { UiContext } from './context.js';

/**
 * The data user's search: `search`, `show` (with images) and `hits` of the command line through the same
 * functions, so with the same purpose and case number required and the same access log records; and a release
 * request (Releases.request).
 */
export function searchRoutes(ctx: UiContext): () => void {
  const { app, unit, db, accessLog, who, actor } = ctx;
  const data = new DataAccess(db, accessLog);
  const purposeOf = (b: { purpose?: unknown; caseNumber?: unknown }) => ({
    ...(typeof b.purpose === 'string' ? { purpose: b.purpose } : {}),
    ...(typeof b.caseNumber === 'string' ? { caseNumber: b.caseNumber } : {}),
  });
  const timeOf = (v: unknown, name: string): number | undefined => {
    if (v === undefined || v === null || v === '') return undefined;
    const t = typeof v === 'string' ? Date.parse(v) : NaN;
    if (Number.isNaN(t)) throw new HttpRefusal(400, `${name}: ${JSON.stringify(v)} is not a date/time`);
    return t;
  };

  app.post('/api/search', async (req) => {
    const p = actor(req, 'reads.search', 'search');
    const b = (req.body ?? {}) as Record<string, unknown>;
    const q: SearchQuery = {};
    if (typeof b.plate === 'string' && b.plate !== '') q.plate = b.plate;
    q.from = timeOf(b.from, 'from');
    q.to = timeOf(b.to, 'to');
    if (typeof b.camera === 'string' && b.camera !== '') q.cameraId = b.camera;
    q.limit = typeof b.limit === 'number' ? Math.max(1, Math.min(500, Math.floor(b.limit))) : 100;
    return { reads: data.search(p, purposeOf(b), q) };
  });

  app.post('/api/releases', async (req) => {
    const p = actor(req, 'reads.export', 'release-request');
    const b = (req.body ?? {}) as Record<string, unknown>;
    if (b.mode !== 'full' && b.mode !== 'aggregate') throw new HttpRefusal(400, 'mode: full or aggregate');
    const selector: SearchQuery = {};
    if (typeof b.plate === 'string' && b.plate !== '') selector.plate = b.plate;
    selector.from = timeOf(b.from, 'from');
    selector.to = timeOf(b.to, 'to');
    if (typeof b.camera === 'string' && b.camera !== '') selector.cameraId = b.camera;
    const text = (v: unknown) => (typeof v === 'string' ? v : '');
    const r = new Releases(db, accessLog, { minCellCount: unit.config.access.releaseMinCellCount }).request(p, {
      mode: b.mode,
      agency: text(b.agency),
      requester: text(b.requester),
      purpose: text(b.purpose),
      caseNumber: text(b.caseNumber),
      selector,
    });
    return { id: r.id, mode: r.mode, agency: r.agency, requestedBy: r.requestedBy, note: `release ${r.id} needs the approval of an admin other than ${r.requestedBy} (alpr-edge release show ${r.id})` };
  });

  app.post('/api/hits', async (req) => {
    const p = actor(req, 'hits.history', 'hits');
    const b = (req.body ?? {}) as Record<string, unknown>;
    return {
      hits: hitHistory(db, accessLog, p, purposeOf(b), {
        ...(typeof b.plate === 'string' && b.plate !== '' ? { plate: b.plate } : {}),
        ...(typeof b.list === 'string' && b.list !== '' ? { list: b.list } : {}),
        from: timeOf(b.from, 'from'),
        to: timeOf(b.to, 'to'),
        limit: 100,
      }),
    };
  });

  const readQuery = (req: FastifyRequest) => {
    const q = req.query as { purpose?: string; case?: string };
    return { ...(q.purpose ? { purpose: q.purpose } : {}), ...(q.case ? { caseNumber: q.case } : {}) };
  };
  app.get('/api/reads/:id', async (req) => {
    const p = who(req, 'reads.search');
    const id = Number((req.params as { id: string }).id);
    if (!Number.isSafeInteger(id) || id < 1) throw new HttpRefusal(400, 'a read id is a positive number');
    return data.show(p, readQuery(req), id);
  });
  app.get('/api/reads/:id/:kind', async (req, reply) => {
    const { kind } = req.params as { kind: string };
    if (kind !== 'crop' && kind !== 'frame') return reply.code(404).send({ error: 'no such image' });
    const p = who(req, 'reads.images');
    const id = Number((req.params as { id: string }).id);
    if (!Number.isSafeInteger(id) || id < 1) throw new HttpRefusal(400, 'a read id is a positive number');
    const read = data.show(p, readQuery(req), id, { images: true });
    const rel = kind === 'crop' ? read.cropPath : read.framePath;
    if (!rel) return reply.code(404).send({ error: `the ${kind} of read ${id} is no longer stored` });
    const bytes = await unit.store.readImage(rel);
    return reply.type(sniffImage(bytes).format === 'png' ? 'image/png' : 'image/jpeg').send(bytes);
  });

  return () => undefined;
}

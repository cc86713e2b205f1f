import { ConfigError, parseConfig } from '../config/load.js';
import { sniffImage } from '../recognition/image-header.js';
import { HttpRefusal } from './auth.js';
import type { UiContext } from './context.js';

/**
 * The technician's console: the unit's status (Unit.status(), what `alpr-edge status` shows), each camera's
 * latest frame with the plates found in it (kept in memory only, replaced by the next frame), and `config check`
 * of a pasted config.
 */
export function consoleRoutes(ctx: UiContext): () => void {
  const { app, unit, accessLog, who, actor } = ctx;
  // one status a second, however many consoles are open: gathering it queries the store and the file system on
  // the unit's main thread, which also runs capture
  let status: { at: number; body: string } | undefined;
  app.get('/api/status', async (req, reply) => {
    who(req, 'unit.operate');
    const now = performance.now();
    if (!status || now - status.at >= 1000) status = { at: now, body: JSON.stringify(unit.status()) };
    return reply.type('application/json; charset=utf-8').send(status.body);
  });

  const latest = new Map<string, { image: Buffer; capturedAt: number; boxes: Array<{ x: number; y: number; width: number; height: number; confidence: number }> }>();
  const onFrame = (f: { cameraId: string; capturedAt: number; image?: Buffer; found?: ReadonlyArray<{ box: { x: number; y: number; width: number; height: number }; confidence: number }> }) => {
    if (!f.image) return;
    // kept in memory only, replaced by the next frame: the live view is not stored
    latest.set(f.cameraId, { image: f.image, capturedAt: f.capturedAt, boxes: (f.found ?? []).map((p) => ({ ...p.box, confidence: Math.round(p.confidence) })) });
  };
  unit.on('frame', onFrame);
  const liveLogged = new Set<string>();

  app.get('/api/cameras/:id/live', async (req) => {
    const p = who(req, 'unit.operate');
    const { id } = req.params as { id: string };
    const f = latest.get(id);
    if (!liveLogged.has(`${p.sessionId}|${id}`)) {
      liveLogged.add(`${p.sessionId}|${id}`);
      if (liveLogged.size > 10_000) liveLogged.clear();
      accessLog.append({ user: p.user, agency: p.agency, role: p.role, action: 'live-view', purpose: 'aiming and checking a camera', query: { camera: id, session: p.sessionId }, outcome: 'ok' });
    }
    if (!f) return { camera: id, capturedAt: null, boxes: [] };
    return { camera: id, capturedAt: f.capturedAt, boxes: f.boxes };
  });

  app.get('/api/cameras/:id/live.jpg', async (req, reply) => {
    who(req, 'unit.operate');
    const f = latest.get((req.params as { id: string }).id);
    if (!f) return reply.code(404).send({ error: 'no frame yet' });
    return reply.type(sniffImage(f.image).format === 'png' ? 'image/png' : 'image/jpeg').send(f.image);
  });

  app.post('/api/config/check', async (req) => {
    actor(req, 'unit.operate', 'config-check');
    const b = (req.body ?? {}) as { text?: unknown };
    if (typeof b.text !== 'string') throw new HttpRefusal(400, 'text: the configuration to check');
    try {
      parseConfig(b.text, 'pasted config');
      return { ok: true, problems: [] };
    } catch (err) {
      if (err instanceof ConfigError) return { ok: false, problems: err.problems };
      throw err;
    }
  });

  return () => {
    unit.off('frame', onFrame);
    latest.clear();
  };
}

import type { AlertAck } from '../alerts/types.js';
import { sniffImage } from '../recognition/image-header.js';
import { alertsAfter, lastSeq, openAlerts, reasonProblem, screenAlert } from './alert-feed.js';
import { HttpRefusal, sessionLive } from './auth.js';
import type { UiContext } from './context.js';

/**
 * The officer's alert screen: the open alerts, a server-sent event stream fed by the unit's hits and the outbox's
 * answers (with Last-Event-ID catch-up), the images of an alert (each fetch logged) and the officer's answer,
 * recorded by the outbox as a terminal's is (channel 'ui').
 */
export function alertRoutes(ctx: UiContext): () => void {
  const { app, unit, db, accessLog, clock, who, actor } = ctx;
  const streams = new Set<{ send(event: string, data: unknown, id?: number): void; end(): void; sessionId: string }>();
  const liveSince = () => clock() - unit.config.alerts.expireAfterMs;

  app.get('/api/alerts', async (req) => {
    who(req, 'alerts.ack');
    return { alerts: openAlerts(db, liveSince()), lastSeq: lastSeq(db) };
  });

  app.get('/api/alerts/stream', async (req, reply) => {
    const p = who(req, 'alerts.ack');
    if (streams.size >= unit.config.ui.maxStreams) throw new HttpRefusal(503, `too many screens open (ui.maxStreams ${unit.config.ui.maxStreams})`);
    const lastIdHeader = req.headers['last-event-id'];
    const lastId = typeof lastIdHeader === 'string' && /^\d{1,15}$/.test(lastIdHeader) ? Number(lastIdHeader) : null;
    // the alerts a screen is shown are plate data leaving the store: each stream opened is logged, with what it caught up on
    const queue = openAlerts(db, liveSince());
    const missed = lastId === null ? [] : alertsAfter(db, lastId);
    accessLog.append({
      user: p.user,
      agency: p.agency,
      role: p.role,
      action: 'alerts-stream',
      purpose: 'hot list alerts to the officer',
      query: { lastEventId: lastId, session: p.sessionId },
      result: { open: queue.map((a) => a.id), caughtUp: missed.map((a) => a.id) },
      outcome: 'ok',
    });
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'X-Accel-Buffering': 'no',
      Connection: 'keep-alive',
    });
    const stream = {
      sessionId: p.sessionId,
      send(event: string, payload: unknown, id?: number) {
        res.write(`${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(payload)}\n\n`);
      },
      end() {
        res.end();
      },
    };
    res.write('retry: 2000\n\n');
    stream.send('queue', { alerts: queue, missed: missed.map((a) => a.id) }, lastSeq(db));
    streams.add(stream);
    const ping = setInterval(() => {
      if (!sessionLive(db, p.sessionId, clock())) {
        stream.send('ended', { reason: 'the session has ended: sign in again' });
        res.end();
        return;
      }
      res.write(': ping\n\n');
    }, 15_000);
    res.on('close', () => {
      clearInterval(ping);
      streams.delete(stream);
    });
  });

  const onHit = (e: { alert: { alert: { id: string }; suppressed: string | null } }) => {
    if (e.alert.suppressed !== null || streams.size === 0) return;
    const a = screenAlert(db, e.alert.alert.id);
    if (!a) return;
    const { readId: _readId, ...shown } = a;
    for (const s of streams) {
      if (!sessionLive(db, s.sessionId, clock())) {
        s.send('ended', { reason: 'the session has ended: sign in again' });
        s.end();
        continue;
      }
      s.send('alert', shown, shown.seq);
    }
    if (streams.size > 0) {
      // who was shown it: one record per alert, naming the sessions
      accessLog.append({
        user: '(alert screens)',
        agency: unit.config.unit.agency,
        role: 'system',
        action: 'alert-shown',
        purpose: 'hot list alerts to the officer',
        query: { alert: shown.id, sessions: [...streams].map((s) => s.sessionId) },
        outcome: 'ok',
      });
    }
  };
  const onAck = (ack: AlertAck) => {
    for (const s of streams) s.send('answered', { id: ack.alertId, accepted: ack.accepted, reason: ack.reasonCode ?? null, by: ack.by ?? null, channel: ack.channel });
  };
  unit.on('hit', onHit);
  unit.alerts.on('ack', onAck);

  app.get('/api/alerts/:id/:kind', async (req, reply) => {
    const { id, kind } = req.params as { id: string; kind: string };
    if (kind !== 'crop' && kind !== 'frame') return reply.code(404).send({ error: 'no such image' });
    const p = who(req, 'alerts.ack');
    const a = screenAlert(db, id);
    if (!a) return reply.code(404).send({ error: 'no such alert' });
    const read = unit.store.getRead(a.readId);
    const rel = kind === 'crop' ? read?.cropPath : read?.framePath;
    accessLog.append({
      user: p.user,
      agency: p.agency,
      role: p.role,
      action: 'alert-image',
      purpose: `responding to hot list alert ${id}`,
      caseNumber: a.caseNumber,
      query: { alert: id, read: a.readId, image: kind },
      result: rel ? { images: [rel] } : { count: 0 },
      outcome: 'ok',
    });
    if (!rel) return reply.code(404).send({ error: `the ${kind} of this read is no longer stored` });
    const bytes = await unit.store.readImage(rel);
    return reply.type(sniffImage(bytes).format === 'png' ? 'image/png' : 'image/jpeg').send(bytes);
  });

  app.post('/api/alerts/:id/answer', async (req) => {
    const { id } = req.params as { id: string };
    const p = actor(req, 'alerts.ack', 'alert-answer');
    const b = (req.body ?? {}) as { accepted?: unknown; reason?: unknown };
    if (typeof b.accepted !== 'boolean') throw new HttpRefusal(400, 'accepted: true or false');
    const problem = reasonProblem(b.reason);
    if (problem) throw new HttpRefusal(400, problem);
    if (!b.accepted && !b.reason) throw new HttpRefusal(400, 'a rejection needs a reason');
    const a = screenAlert(db, id);
    if (!a) throw new HttpRefusal(404, 'no such alert');
    const ack: AlertAck = { alertId: id, accepted: b.accepted, by: p.user, receivedAt: clock(), channel: 'ui' };
    if (typeof b.reason === 'string' && b.reason !== '') ack.reasonCode = b.reason;
    unit.alerts.recordAck(ack);
    accessLog.append({
      user: p.user,
      agency: p.agency,
      role: p.role,
      action: 'alert-answer',
      purpose: `responding to hot list alert ${id}`,
      caseNumber: a.caseNumber,
      query: { alert: id, accepted: b.accepted, reason: ack.reasonCode ?? null },
      result: { first: a.answer === null },
      outcome: 'ok',
    });
    return { ok: true, first: a.answer === null, answer: screenAlert(db, id)!.answer };
  });

  return () => {
    unit.off('hit', onHit);
    unit.alerts.off('ack', onAck);
    for (const s of streams) s.end();
    streams.clear();
  };
}

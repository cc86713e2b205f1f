import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AccessLog } from '../access/access-log.js';
import { DataAccess, hitHistory, type SearchQuery } from '../access/data.js';
import { Releases } from '../access/releases.js';
import { PurposeError } from '../access/access-log.js';
import { AccessDenied, can, permissionsOf, type Permission, type Principal } from '../access/roles.js';
import { revokeSession } from '../access/session.js';
import { signIn } from '../access/users.js';
import type { AlertAck } from '../alerts/types.js';
import { ConfigError, parseConfig } from '../config/load.js';
import type { Logger } from '../log/logger.js';
import { sniffImage } from '../recognition/image-header.js';
import type { Unit } from '../unit/unit.js';
import { packageRoot } from '../util/paths.js';
import { alertsAfter, lastSeq, openAlerts, reasonProblem, screenAlert } from './alert-feed.js';
import { clearedCookie, csrfMatches, csrfOf, HttpRefusal, principalOf, sessionCookie, sessionIdOf, sessionLive, tokenOf } from './auth.js';
import { isLoopbackHost } from './schema.js';

/**
 * The unit's screens (docs/ui.md): a fastify server in the unit's process serving the front end built at
 * `npm run build` (src/ui/web, nothing fetched at run time) and a JSON API. Every request for data goes through
 * the access functions the command line uses (signIn, requireSession, DataAccess, hitHistory) and so is written
 * to the access log as the CLI's is; an officer's answer to an alert is recorded by the alert outbox exactly as a
 * serial or MQTT terminal's is (channel 'ui').
 */

export interface UiServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface UiServerOptions {
  unit: Unit;
  log: Logger;
}

/** The screens and who may open them. */
const PAGES: Record<string, { title: string; permission: Permission | null }> = {
  '/alerts': { title: 'Alerts', permission: 'alerts.ack' },
  '/console': { title: 'Console', permission: 'unit.operate' },
  '/search': { title: 'Search', permission: 'reads.search' },
};

/** Sign-ins checked at once (argon2 takes 64 MiB and half a second each): more wait their turn or are refused. */
const MAX_SIGN_INS = 2;
/** Refusals of requests without a session written to the access log per minute; the rest are counted. */
const ANONYMOUS_REFUSALS_LOGGED = 60;

function webDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const beside = path.join(here, 'web');
  if (existsSync(path.join(beside, 'app.js'))) return beside;
  // run from the TypeScript sources (tests): the front end built by `npm run build`
  return path.join(packageRoot(), 'dist', 'src', 'ui', 'web');
}

function page(name: string, title: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>alpr-edge · ${title}</title><link rel="stylesheet" href="/static/style.css"></head>
<body data-page="${name}"><noscript>This screen needs JavaScript (it is served by the unit itself; nothing is fetched from elsewhere).</noscript>
<script type="module" src="/static/app.js"></script></body></html>
`;
}

export async function startUiServer(o: UiServerOptions): Promise<UiServer> {
  const { unit, log } = o;
  const c = unit.config.ui;
  const db = unit.store.database;
  const clock = unit.clock;
  const accessLog = new AccessLog(db, unit.auditKey, clock);
  const data = new DataAccess(db, accessLog);
  const tls = c.certFile !== '' && c.keyFile !== '';
  if (!tls && !isLoopbackHost(c.host)) throw new Error(`ui.host ${c.host} is not a loopback address: the screens need ui.certFile and ui.keyFile (HTTPS)`);
  const readPem = (file: string, what: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const tlsOptions = tls ? { cert: readPem(c.certFile, 'ui.certFile'), key: readPem(c.keyFile, 'ui.keyFile'), minVersion: 'TLSv1.2' as const } : null;

  const dir = webDir();
  const statics = new Map<string, { body: Buffer; type: string }>();
  for (const [file, type] of [
    ['app.js', 'text/javascript; charset=utf-8'],
    ['style.css', 'text/css; charset=utf-8'],
  ] as const) {
    const p = path.join(dir, file);
    if (!existsSync(p)) throw new Error(`the screens' ${file} is missing from ${dir}: run \`npm run build\``);
    statics.set(file, { body: readFileSync(p), type });
  }

  let server!: http.Server | https.Server;
  const app = Fastify({
    logger: false,
    bodyLimit: c.bodyLimitKB * 1024,
    routerOptions: { maxParamLength: 100 },
    connectionTimeout: 120_000,
    keepAliveTimeout: 5000,
    requestTimeout: 30_000,
    forceCloseConnections: true,
    return503OnClosing: true,
    serverFactory: (handler) => {
      const opts = { maxHeaderSize: 16 * 1024 };
      server = tlsOptions ? https.createServer({ ...opts, ...tlsOptions }, handler) : http.createServer(opts, handler);
      server.maxConnections = c.maxConnections;
      server.headersTimeout = 10_000;
      return server;
    },
  });

  // ---- refusals, headers ----
  const anonymous = { minute: -1, logged: 0, skipped: 0 };
  /** Records a refusal that requireSession did not (a missing CSRF token, a bad origin, a malformed request). */
  const recordRefusal = (req: FastifyRequest, token: string | undefined, action: string, reason: string): void => {
    const known = token ? sessionIdOf(db, token) : undefined;
    if (!known) {
      const minute = Math.floor(clock() / 60_000);
      if (anonymous.minute !== minute) {
        anonymous.skipped = Math.max(0, anonymous.logged - ANONYMOUS_REFUSALS_LOGGED);
        anonymous.minute = minute;
        anonymous.logged = 0;
      }
      if (++anonymous.logged > ANONYMOUS_REFUSALS_LOGGED) return;
    }
    accessLog.append({
      user: known?.user ?? '(not signed in)',
      agency: known?.agency ?? '',
      role: known?.role ?? null,
      action,
      query: { method: req.method, path: req.url.split('?')[0], remote: req.socket.remoteAddress, ...(known ? { session: known.id } : {}) },
      result: { reason, ...(!known && anonymous.skipped ? { earlierRefusalsNotLogged: anonymous.skipped } : {}) },
      outcome: 'refused',
    });
    log.warn({ path: req.url.split('?')[0], remote: req.socket.remoteAddress, reason }, 'screens: request refused');
  };

  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'no-referrer');
    reply.header('X-Frame-Options', 'DENY');
    reply.header(
      'Content-Security-Policy',
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; media-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    );
    if (tls) reply.header('Strict-Transport-Security', 'max-age=31536000');
    if (!reply.getHeader('Cache-Control')) reply.header('Cache-Control', 'no-store');
    return payload;
  });

  app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    if (err instanceof HttpRefusal) return reply.code(err.status).send({ error: err.message });
    if (err instanceof AccessDenied) return reply.code(403).send({ error: err.message });
    if (err instanceof PurposeError) return reply.code(400).send({ error: err.message });
    if (err.statusCode && err.statusCode < 500) return reply.code(err.statusCode).send({ error: err.message });
    log.error({ err: err.message, path: req.url.split('?')[0] }, 'screens: request failed');
    return reply.code(500).send({ error: 'internal error (see the unit log)' });
  });

  const tokenFrom = (req: FastifyRequest) => tokenOf(req.headers.cookie, tls);

  /** The signed-in person for a read-only request. */
  const who = (req: FastifyRequest, permission: Permission | null): Principal => principalOf(db, accessLog, tokenFrom(req), permission);

  /**
   * The signed-in person for a request that changes something: a live session, and the CSRF token of that
   * session in X-CSRF-Token. Without either, nothing is done and the refusal is logged.
   */
  const actor = (req: FastifyRequest, permission: Permission | null, action: string): Principal => {
    const token = tokenFrom(req);
    const p = principalOf(db, accessLog, token, permission);
    const given = req.headers['x-csrf-token'];
    if (!csrfMatches(token!, typeof given === 'string' ? given : undefined)) {
      recordRefusal(req, token, action, 'missing or wrong CSRF token');
      throw new HttpRefusal(403, 'refused: the request has no valid CSRF token (reload the page)');
    }
    return p;
  };

  // a state-changing request must come from the screens' own pages
  app.addHook('preHandler', async (req) => {
    if (req.method === 'GET' || req.method === 'HEAD') return;
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `${tls ? 'https' : 'http'}://${req.headers.host}`) {
      recordRefusal(req, tokenFrom(req), 'ui-request', `cross-origin request from ${origin.slice(0, 100)}`);
      throw new HttpRefusal(403, 'refused: cross-origin request');
    }
  });

  // ---- static files and pages ----
  app.get('/static/:file', async (req, reply) => {
    const s = statics.get((req.params as { file: string }).file);
    if (!s) return reply.code(404).send({ error: 'no such file' });
    return reply.header('Content-Type', s.type).header('Cache-Control', 'no-cache').send(s.body);
  });
  app.get('/favicon.ico', async (_req, reply) => reply.code(204).send());
  app.get('/login', async (_req, reply) => reply.type('text/html; charset=utf-8').send(page('login', 'Sign in')));
  app.get('/', async (req, reply) => {
    const token = tokenFrom(req);
    if (!token) return reply.redirect('/login');
    let p: Principal;
    try {
      p = who(req, null);
    } catch {
      return reply.redirect('/login');
    }
    return reply.redirect(homeOf(p));
  });
  for (const [route, def] of Object.entries(PAGES)) {
    app.get(route, async (req, reply) => {
      if (!tokenFrom(req)) return reply.redirect('/login');
      try {
        who(req, def.permission);
      } catch (err) {
        if (err instanceof HttpRefusal && err.status === 401) return reply.redirect('/login');
        if (err instanceof HttpRefusal) return reply.code(err.status).type('text/html; charset=utf-8').send(page('refused', 'Not allowed'));
        throw err;
      }
      return reply.type('text/html; charset=utf-8').send(page(route.slice(1), def.title));
    });
  }

  // ---- sign-in, session ----
  let signingIn = 0;
  app.post('/api/login', async (req, reply) => {
    const b = (req.body ?? {}) as { name?: unknown; password?: unknown; code?: unknown };
    if (typeof b.name !== 'string' || typeof b.password !== 'string' || (b.code !== undefined && typeof b.code !== 'string')) {
      throw new HttpRefusal(400, 'name and password (and the one-time code where the role needs one) are required');
    }
    if (b.name.length > 200 || b.password.length > 1024 || (typeof b.code === 'string' && b.code.length > 16)) throw new HttpRefusal(400, 'too long');
    if (signingIn >= MAX_SIGN_INS) throw new HttpRefusal(503, 'the unit is busy checking other sign-ins: try again in a moment');
    signingIn++;
    let r;
    try {
      r = await signIn(db, accessLog, { name: b.name, password: b.password, ...(b.code ? { totp: b.code } : {}) }, clock(), unit.config.access);
    } finally {
      signingIn--;
    }
    if (!r.ok) return reply.code(401).send({ error: r.message });
    reply.header('Set-Cookie', sessionCookie(r.token, tls, (r.expiresAt - clock()) / 1000));
    return { user: r.principal.user, role: r.principal.role, csrf: csrfOf(r.token), home: homeOf(r.principal) };
  });

  app.get('/api/session', async (req) => {
    const p = who(req, null);
    return {
      user: p.user,
      agency: p.agency,
      role: p.role,
      unit: unit.config.unit.id,
      csrf: csrfOf(tokenFrom(req)!),
      permissions: permissionsOf(p.role),
      home: homeOf(p),
      screens: Object.entries(PAGES)
        .filter(([, d]) => d.permission === null || can(p.role, d.permission))
        .map(([route, d]) => ({ path: route, title: d.title })),
    };
  });

  app.post('/api/logout', async (req, reply) => {
    actor(req, null, 'logout');
    revokeSession(db, accessLog, tokenFrom(req)!, clock());
    reply.header('Set-Cookie', clearedCookie(tls));
    return { ok: true };
  });

  // ---- the officer's alerts ----
  const streams = new Set<{ send(event: string, data: unknown, id?: number): void; end(): void; sessionId: string }>();
  const liveSince = () => clock() - unit.config.alerts.expireAfterMs;

  app.get('/api/alerts', async (req) => {
    who(req, 'alerts.ack');
    return { alerts: openAlerts(db, liveSince()), lastSeq: lastSeq(db) };
  });

  app.get('/api/alerts/stream', async (req, reply) => {
    const p = who(req, 'alerts.ack');
    if (streams.size >= c.maxStreams) throw new HttpRefusal(503, `too many screens open (ui.maxStreams ${c.maxStreams})`);
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

  // ---- the technician's console ----
  app.get('/api/status', async (req) => {
    who(req, 'unit.operate');
    return unit.status();
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

  // ---- the data user's search ----
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

  app.setNotFoundHandler(async (_req, reply) => reply.code(404).send({ error: 'not found' }));

  await app.listen({ host: c.host, port: c.port });
  const port = (server.address() as AddressInfo).port;
  const host = c.host.includes(':') ? `[${c.host}]` : c.host;
  const url = `${tls ? 'https' : 'http'}://${host}:${port}`;
  log.info({ url }, 'screens listening');
  return {
    url,
    port,
    close: async () => {
      unit.off('hit', onHit);
      unit.off('frame', onFrame);
      unit.alerts.off('ack', onAck);
      for (const s of streams) s.end();
      streams.clear();
      await app.close();
    },
  };
}

function homeOf(p: Principal): string {
  if (can(p.role, 'alerts.ack') && p.role !== 'admin') return '/alerts';
  if (can(p.role, 'reads.search')) return '/search';
  if (can(p.role, 'unit.operate')) return '/console';
  return '/alerts';
}

export type { FastifyReply };

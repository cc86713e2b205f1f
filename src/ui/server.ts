import Fastify, { type FastifyRequest } from 'fastify';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AccessLog, PurposeError } from '../access/access-log.js';
import { AccessDenied, can, permissionsOf, type Permission, type Principal } from '../access/roles.js';
import { revokeSession } from '../access/session.js';
import { signIn } from '../access/users.js';
import type { Logger } from '../log/logger.js';
import type { Unit } from '../unit/unit.js';
import { packageRoot } from '../util/paths.js';
import { alertRoutes } from './alert-routes.js';
import { clearedCookie, csrfMatches, csrfOf, HttpRefusal, principalOf, sessionCookie, sessionIdOf, tokenOf } from './auth.js';
import { consoleRoutes } from './console-routes.js';
import type { UiContext } from './context.js';
import { isLoopbackHost } from '../config/ui.js';
import { searchRoutes } from './search-routes.js';

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
  for (const file of ['app.js', 'style.css']) {
    if (!existsSync(path.join(dir, file))) throw new Error(`the screens' ${file} is missing from ${dir}: run \`npm run build\``);
  }
  // app.js and the modules it imports (one file each, read once here: nothing else in the folder is served)
  for (const file of readdirSync(dir)) {
    const type = file.endsWith('.js') ? 'text/javascript; charset=utf-8' : file.endsWith('.css') ? 'text/css; charset=utf-8' : undefined;
    if (type) statics.set(file, { body: readFileSync(path.join(dir, file)), type });
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

  const ctx: UiContext = { app, unit, db, accessLog, clock, log, who, actor };
  const undo = [alertRoutes, consoleRoutes, searchRoutes].map((routes) => routes(ctx));

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
      for (const u of undo) u();
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


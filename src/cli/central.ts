import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import { intOption, osUser, parse, UsageError } from './args.js';
import { CENTRAL_CANCEL_OPTIONS, CENTRAL_LS_OPTIONS, CENTRAL_PULL_OPTIONS, CENTRAL_PUBLISH_OPTIONS, CENTRAL_SERVE_OPTIONS } from './commands.js';
import { commandHelp, findCommand, usageOf } from './help.js';
import { isStream, STREAMS, type StreamName } from '../sync/streams.js';
import type { CentralDb, UnitSummary } from '../central/db.js';
import { systemClock } from '../util/clock.js';

/**
 * `alpr-edge central ...`: the reference central server of docs/sync-protocol.md, for the tests and for a
 * technician trying a unit without the agency's server. Its own data folder; no unit config.
 * Exit 0: done; 1: failed (the message says why); 2: usage.
 */
export async function centralCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === 'help' || sub === '--help') {
    if (sub === undefined) throw new UsageError(`which central command?\nusage: ${usageOf('central')}`);
    process.stdout.write(commandHelp({ command: findCommand('central')! }));
    return 0;
  }
  try {
    switch (sub) {
      case 'serve':
        return await serveCmd(rest);
      case 'publish':
        return await publishCmd(rest);
      case 'cancel':
        return await cancelCmd(rest);
      case 'pull':
        return await pullCmd(rest);
      case 'ls':
        return await lsCmd(rest);
      default:
        throw new UsageError(`unknown central command ${JSON.stringify(sub)}\nusage: ${usageOf('central')}`);
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e instanceof Error && (['CentralError', 'PullError'].includes(e.name) || e.code !== undefined)) {
      process.stderr.write(`alpr-edge: central ${sub}: ${e.message}\n`);
      return 1;
    }
    throw err;
  }
}

function required(value: string | undefined, flag: string, usage: string): string {
  if (value === undefined || value.trim() === '') throw new UsageError(`${flag} is required\nusage: ${usage}`);
  return value;
}

function readFile(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const e = new Error(`cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    e.name = 'CentralError';
    throw e;
  }
}

async function openDb(dir: string): Promise<CentralDb> {
  const { CentralDb } = await import('../central/db.js');
  return CentralDb.open(dir, systemClock);
}

/** Runs `fn` on the central server's database in `dir`, and closes it. */
async function withDb<R>(dir: string, fn: (db: CentralDb) => Promise<R>): Promise<R> {
  const db = await openDb(dir);
  try {
    return await fn(db);
  } finally {
    db.close();
  }
}

/** A central command's options and usage line; it takes no other arguments. */
function subcommand<T extends ParseArgsConfig['options']>(argv: string[], name: string, options: T) {
  const usage = usageOf('central', name);
  const { values, positionals } = parse(argv, options);
  if (positionals.length) throw new UsageError(`unexpected ${JSON.stringify(positionals[0])}\nusage: ${usage}`);
  return { values, usage };
}

/** HOST:PORT, [IPv6]:PORT, or :PORT (loopback). */
function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value);
  if (!m) throw new UsageError(`--listen must be HOST:PORT, e.g. 127.0.0.1:8443 or [::1]:8443 (got ${JSON.stringify(value)})`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port: intOption(m[3], '--listen port', 0, 65_535)! };
}

async function serveCmd(argv: string[]): Promise<number> {
  const { values, usage } = subcommand(argv, 'serve', CENTRAL_SERVE_OPTIONS);
  const dataDir = required(values.data, '--data', usage);
  const { host, port } = parseListen(values.listen ?? '127.0.0.1:8443');
  if ((values.cert === undefined) !== (values.key === undefined)) throw new UsageError(`--cert and --key go together\nusage: ${usage}`);
  if (values.cert === undefined && !values['insecure-http']) {
    throw new UsageError(`give --cert and --key (HTTPS), or --insecure-http for a loopback test\nusage: ${usage}`);
  }
  if (values.cert !== undefined && values['insecure-http']) throw new UsageError('--insecure-http and --cert exclude each other');
  if (values['client-ca'] !== undefined && values.cert === undefined) throw new UsageError('--client-ca needs --cert and --key (mutual TLS is TLS)');
  const tls =
    values.cert !== undefined && values.key !== undefined
      ? {
          cert: readFile(values.cert, 'the certificate'),
          key: readFile(values.key, 'the key'),
          ...(values['client-ca'] !== undefined ? { clientCa: readFile(values['client-ca'], 'the client CA') } : {}),
        }
      : undefined;
  const { createLogger } = await import('../log/logger.js');
  const { startCentral } = await import('../central/server.js');
  // logs go to stderr: stdout's first line is the address, for whoever started the server
  const log = createLogger(process.env.ALPR_CENTRAL_LOG_LEVEL ?? 'info', 2);
  const server = await startCentral({
    dataDir,
    hotlistsDir: values.hotlists,
    host,
    port,
    tls,
    clock: systemClock,
    insecureHttp: values['insecure-http'] ?? false,
    tokensFile: values.tokens,
    log,
  });
  process.stdout.write(`central server listening on ${server.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      log.info({ signal }, 'central server stopping');
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await server.close();
  return 0;
}

async function publishCmd(argv: string[]): Promise<number> {
  const { values, usage } = subcommand(argv, 'publish', CENTRAL_PUBLISH_OPTIONS);
  let expiresAt: number | undefined;
  if (values.expires !== undefined) {
    expiresAt = Date.parse(values.expires);
    if (Number.isNaN(expiresAt)) throw new UsageError(`--expires must be an ISO date, e.g. 2026-12-31 or 2026-12-31T18:00:00Z (got ${JSON.stringify(values.expires)})`);
  }
  const input = {
    list: required(values.list, '--list', usage),
    plate: required(values.plate, '--plate', usage),
    state: values.state,
    reason: required(values.reason, '--reason', usage),
    caseNumber: required(values.case, '--case', usage),
    expiresAt,
    by: values.by ?? osUser(),
  };
  return withDb(required(values.data, '--data', usage), async (db) => {
    const { publishEntry } = await import('../central/db.js');
    const e = publishEntry(db, input);
    if (values.json) process.stdout.write(`${JSON.stringify(e)}\n`);
    else {
      process.stdout.write(
        `published entry ${e.id}: list ${e.list}, plate ${e.plate}${e.state ? ` (${e.state})` : ''}, case ${e.caseNumber}` +
          `${e.expiresAt !== null ? `, until ${new Date(e.expiresAt).toISOString()}` : ''}\n`,
      );
    }
    return 0;
  });
}

async function cancelCmd(argv: string[]): Promise<number> {
  const { values, usage } = subcommand(argv, 'cancel', CENTRAL_CANCEL_OPTIONS);
  const input = {
    list: required(values.list, '--list', usage),
    plate: required(values.plate, '--plate', usage),
    state: values.state,
    reason: required(values.reason, '--reason', usage),
    by: values.by ?? osUser(),
  };
  return withDb(required(values.data, '--data', usage), async (db) => {
    const { publishCancellation } = await import('../central/db.js');
    const c = publishCancellation(db, input);
    if (values.json) process.stdout.write(`${JSON.stringify(c)}\n`);
    else process.stdout.write(`published cancellation ${c.id}: list ${c.list}, plate ${c.plate}${c.state ? ` (${c.state})` : ''}\n`);
    return 0;
  });
}

async function pullCmd(argv: string[]): Promise<number> {
  const { values, usage } = subcommand(argv, 'pull', CENTRAL_PULL_OPTIONS);
  const unit = required(values.unit, '--unit', usage);
  const url = required(values.url, '--url', usage);
  const purpose = required(values.purpose, '--purpose', usage);
  const caseNumber = required(values.case, '--case', usage);
  const dataDir = required(values.data, '--data', usage);
  if ((values.cert === undefined) !== (values.key === undefined)) throw new UsageError(`--cert and --key go together\nusage: ${usage}`);
  const streams = values.stream?.map((s) => {
    if (!isStream(s)) throw new UsageError(`--stream must be one of ${STREAMS.join(', ')} (got ${JSON.stringify(s)})`);
    return s;
  });
  const pageSize = intOption(values['page-size'], '--page-size', 1, 10_000);
  let token: string | undefined;
  if (values['token-file'] !== undefined) {
    token = readFile(values['token-file'], 'the token file').toString('utf8').split(/\r?\n/)[0]!.trim();
    if (token === '') throw new UsageError(`the token file ${values['token-file']} is empty (its first line is the token)`);
  }
  const ca = values.ca !== undefined ? readFile(values.ca, 'the CA') : undefined;
  const cert = values.cert !== undefined ? readFile(values.cert, 'the certificate') : undefined;
  const key = values.key !== undefined ? readFile(values.key, 'the key') : undefined;
  const { createLogger } = await import('../log/logger.js');
  const { pullFromUnit } = await import('../central/pull.js');
  return withDb(dataDir, async (db) => {
    const r = await pullFromUnit({
      db,
      unit,
      baseUrl: url,
      ca,
      cert,
      key,
      token,
      purpose,
      caseNumber,
      streams: streams as StreamName[] | undefined,
      images: values.images ?? false,
      pageSize,
      log: createLogger(process.env.ALPR_CENTRAL_LOG_LEVEL ?? 'warn', 2),
    });
    for (const s of STREAMS) {
      const c = r[s];
      if (c) process.stdout.write(`${s}: pulled ${c.pulled}, stored ${c.stored}, duplicates ${c.duplicates}\n`);
    }
    if (r.images) process.stdout.write(`images: fetched ${r.images.fetched}, no longer on the unit ${r.images.missing}\n`);
    return 0;
  });
}

async function lsCmd(argv: string[]): Promise<number> {
  const { values, usage } = subcommand(argv, 'ls', CENTRAL_LS_OPTIONS);
  const dataDir = required(values.data, '--data', usage);
  if (!existsSync(path.join(dataDir, 'central.sqlite'))) {
    process.stderr.write(`alpr-edge: central ls: ${dataDir} holds no central server data (central.sqlite)\n`);
    return 1;
  }
  return withDb(dataDir, async (db) => {
    const units = db.summary(values.unit);
    const { entries, cancellations } = db.published();
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ units, published: { entries: entries.length, cancellations: cancellations.length } }, null, 2)}\n`);
      return 0;
    }
    process.stdout.write(table(units));
    process.stdout.write(`published: ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}, ${cancellations.length} cancellation(s)\n`);
    return 0;
  });
}

function table(units: UnitSummary[]): string {
  if (units.length === 0) return 'no unit has sent anything yet\n';
  const iso = (t: number | null | undefined) => (t ? new Date(t).toISOString() : '-');
  const head = ['unit', ...STREAMS, 'images complete/partial', 'last item', 'health', 'access log head'];
  const rows = units.map((u) => [
    u.unit,
    ...STREAMS.map((s) => String(u.streams[s] ?? 0)),
    `${u.images.complete}/${u.images.partial}${u.images.wanted ? ` (+${u.images.wanted} to pull)` : ''}`,
    iso(u.lastReceivedAt),
    iso(u.health?.receivedAt),
    // a head refused because the unit's log went back is the thing to look at
    `${u.accessLog.head ? `#${u.accessLog.head.id}` : '-'}${u.accessLog.regressions ? ` WENT BACK (${u.accessLog.regressions} refused)` : ''}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `${cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`;
  return line(head) + rows.map(line).join('');
}

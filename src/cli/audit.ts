import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { AccessLog, type ReferenceHead, type VerifyResult } from '../access/access-log.js';
import { acknowledgedHeads, statusFileHead } from '../access/audit-head.js';
import { auditReport, reportCsv } from '../access/report.js';
import { requirePrincipal } from '../access/session.js';
import type { Config } from '../config/schema.js';
import { openStore } from '../store/open.js';
import type Database from 'better-sqlite3';
import { STATUS_FILE } from '../unit/unit.js';
import { systemClock } from '../util/clock.js';
import { parse, UsageError } from './args.js';
import { AUDIT_REPORT_OPTIONS, AUDIT_VERIFY_OPTIONS } from './commands.js';
import { loadCredentials, SyncHttp } from '../sync/http.js';
import { isChainHead } from '../access/audit-head.js';
import { usageOf } from './help.js';

function time(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new UsageError(`${name}: ${JSON.stringify(v)} is not a date/time (ISO 8601, e.g. 2026-11-22T08:00Z)`);
  return t;
}

/** The heads kept outside the log that it is checked against: the central servers' acknowledgements, the status file's. */
export function referenceHeads(db: Database.Database, dataDir: string): { references: ReferenceHead[]; statusNote: string } {
  const status = statusFileHead(path.join(dataDir, STATUS_FILE));
  return { references: [...(status.head ? [status.head] : []), ...acknowledgedHeads(db)], statusNote: status.note };
}

const iso = (t: number | null | undefined) => (t === null || t === undefined ? '?' : new Date(t).toISOString());
const short = (mac: string) => `${mac.slice(0, 16)}…`;

/**
 * Asks the configured central server (sync.server) for the head it acknowledged for this unit: a reference that an
 * attacker who rewrote the acknowledgement stored on the unit does not control. A string: why it could not be asked.
 */
async function askCentral(config: Config): Promise<ReferenceHead | null | string> {
  let http: SyncHttp | undefined;
  try {
    http = new SyncHttp(loadCredentials(config.sync.server), config.sync.server);
    const res = await http.json<{ acknowledged?: unknown }>({ method: 'GET', path: `v1/units/${encodeURIComponent(config.unit.id)}/access-log/head` });
    const ack = res.data?.acknowledged;
    if (ack === null) return null;
    if (!isChainHead(ack)) return `the answer of ${http.baseUrl} holds no head: ${JSON.stringify(res.data)}`;
    return { kind: 'central', source: `the central server ${http.baseUrl} (asked now)`, id: ack.id, mac: ack.mac, recordedAt: null };
  } catch (err) {
    return `${config.sync.server.url || '(sync.server.url not set)'}: ${(err as Error).message}`;
  } finally {
    http?.close();
  }
}

/** What `audit verify` prints: what was checked, and when broken, what and where. */
export function verifyText(v: VerifyResult, statusNote: string, centralNote = ''): string {
  const lines: string[] = [];
  lines.push(v.ok ? 'access log INTACT' : `access log BROKEN: ${v.problems.length}${v.problems.length >= 100 ? '+' : ''} problem(s)`);
  const range = v.head === null || v.first === null ? 'none (the log is empty)' : `#${v.first}-#${v.head.id}`;
  lines.push(`  records      ${range}: ${v.checked} checked (each record's keyed MAC over its content and number, its link to the record before, no number missing)`);
  const s = v.start;
  lines.push(
    `  start        ${
      s === null
        ? '-'
        : s.kind === 'genesis'
          ? 'record #1, the first ever written'
          : s.kind === 'anchor'
            ? `right after #${s.anchor.first}-#${s.anchor.last}, purged by ${s.anchor.by} at ${iso(s.anchor.at)} (signed anchor: record #${s.anchor.record})`
            : `NOT ACCOUNTED FOR: records #${s.missing[0]}-#${s.missing[1]} removed without a signed retention anchor`
    }`,
  );
  lines.push(`  head         ${v.head ? `#${v.head.id} at ${iso(v.head.at)}, MAC ${short(v.head.mac)}` : '-'}`);
  const status = v.references.find((r) => r.kind === 'status-file');
  lines.push(
    `  status file  ${status ? `head #${status.id} (written ${iso(status.recordedAt)}): ${status.ok ? 'OK' : 'FAILED'}, ${status.detail}` : `not checked: ${statusNote}`}`,
  );
  const acks = v.references.filter((r) => r !== status);
  if (acks.length === 0) lines.push('  central ack  not checked: no acknowledgement stored (upstream sync has not reached a server that takes the head)');
  for (const a of acks) {
    lines.push(
      `  central ack  ${a.source.replace(/^the central server /, '')}: head #${a.id} acknowledged${a.recordedAt === null ? '' : ` ${iso(a.recordedAt)}`}: ${a.ok ? 'OK' : 'FAILED'}, ${a.detail}`,
    );
  }
  if (centralNote) lines.push(`  central now  ${centralNote}`);
  if (!v.ok) {
    lines.push('problems:');
    for (const p of v.problems) lines.push(`  ${p.id === null ? 'head' : `record #${p.id}`}: ${p.problem}`);
  }
  return `${lines.join('\n')}\n`;
}

export async function auditCommand(argv: string[], config: Config): Promise<number> {
  const [sub, ...rest] = argv;
  const { store, auditKey } = openStore(config, systemClock);
  const log = new AccessLog(store.database, auditKey, systemClock);
  try {
    const who = requirePrincipal(config, store.database, log, 'audit.read');
    const { references, statusNote } = referenceHeads(store.database, store.dataDir);
    if (sub === 'verify') {
      const { values } = parse(rest, AUDIT_VERIFY_OPTIONS);
      let centralNote = '';
      let unreachable = false;
      if (values.central) {
        const asked = await askCentral(config);
        if (typeof asked === 'string') {
          centralNote = `NOT CHECKED: the central server could not be asked: ${asked}`;
          unreachable = true;
        } else if (asked === null) centralNote = 'the central server has acknowledged no head of this unit yet';
        else references.push(asked);
      }
      const v = log.verify(references);
      store.database.transaction(() =>
        log.append({
          user: who.user,
          agency: who.agency,
          role: who.role,
          action: 'audit-verify',
          result: { ok: v.ok, checked: v.checked, first: v.first, head: v.head?.id ?? null, references: v.references.length, problems: v.problems.length },
          outcome: 'ok',
        }),
      )();
      process.stdout.write(verifyText(v, statusNote, centralNote));
      return v.ok && !unreachable ? 0 : 1;
    }
    if (sub === 'report') {
      const { values } = parse(rest, AUDIT_REPORT_OPTIONS);
      const to = time(values.to, '--to') ?? systemClock();
      const from = time(values.from, '--from') ?? to - 30 * 86_400_000;
      const report = auditReport(store.database, log, who, from, to, references);
      const text = values.format === 'csv' ? reportCsv(report) : `${JSON.stringify(report, null, 2)}\n`;
      if (values.out) writeFileSync(values.out, text, { mode: 0o600 });
      else process.stdout.write(text);
      if (!report.chain.ok) process.stderr.write(verifyText(report.chain, statusNote));
      return report.chain.ok ? 0 : 1;
    }
    throw new UsageError(`usage: ${usageOf('audit')}`);
  } finally {
    store.close();
  }
}

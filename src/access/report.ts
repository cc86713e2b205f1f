import type Database from 'better-sqlite3';
import type { AccessLog, AccessRecord, ReferenceHead, VerifyResult } from './access-log.js';
import { DataAccess } from './data.js';
import type { Principal } from './roles.js';

/**
 * The periodic audit (P15): who accessed what and why, the releases, the hot list changes, the refused sign-ins
 * and accesses, and holds past their review date — from the logs, for a period. Only roles with 'audit.read'.
 */
export interface AuditReport {
  from: string;
  to: string;
  generatedBy: string;
  /** The access log's verification (AccessLog.verify), against the reference heads given. */
  chain: VerifyResult;
  accesses: AccessRecord[];
  refusals: AccessRecord[];
  releases: unknown[];
  hotlistChanges: unknown[];
  holdsPastReview: unknown[];
}

export function auditReport(db: Database.Database, log: AccessLog, who: Principal, from: number, to: number, references: readonly ReferenceHead[] = []): AuditReport {
  new DataAccess(db, log).authorize(who, 'audit.read', 'audit-report', { from, to });
  const all = log.list({ from, to });
  const report: AuditReport = {
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    generatedBy: who.user,
    chain: log.verify(references),
    accesses: all.filter((r) => r.outcome === 'ok'),
    refusals: all.filter((r) => r.outcome !== 'ok'),
    releases: db.prepare('SELECT * FROM releases WHERE requested_at >= ? AND requested_at < ? ORDER BY id').all(from, to),
    hotlistChanges: db
      .prepare('SELECT at, user_name, action, list_name, entry_id, plate, case_number, reason FROM hotlist_changes WHERE at >= ? AND at < ? ORDER BY id')
      .all(from, to),
    holdsPastReview: db.prepare('SELECT * FROM holds WHERE released_at IS NULL AND review_at < ? ORDER BY review_at').all(log.clock()),
  };
  db.transaction(() =>
    log.append({ user: who.user, agency: who.agency, role: who.role, action: 'audit-report', query: { from, to }, result: { accesses: report.accesses.length, refusals: report.refusals.length }, outcome: 'ok' }),
  )();
  return report;
}

/** The report's access records as CSV (one row per access or refusal). */
export function reportCsv(r: AuditReport): string {
  const cell = (v: unknown) => {
    const s = v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const rows = [['id', 'time', 'user', 'agency', 'role', 'action', 'purpose', 'case', 'query', 'result', 'outcome']];
  for (const a of [...r.accesses, ...r.refusals].sort((x, y) => x.id - y.id)) {
    rows.push([String(a.id), new Date(a.at).toISOString(), a.user, a.agency, a.role ?? '', a.action, a.purpose ?? '', a.caseNumber ?? '', a.query as string, a.result as string, a.outcome].map(cell));
  }
  return rows.map((r) => r.join(',')).join('\n') + '\n';
}

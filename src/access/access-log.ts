import type Database from 'better-sqlite3';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../util/clock.js';

// The table, its append-only triggers and the purge flag are migration 4 (src/store/migrations.ts).


export interface AccessEntry {
  user: string;
  agency: string;
  role: string | null;
  action: string;
  purpose?: string | null;
  caseNumber?: string | null;
  query?: unknown;
  result?: unknown;
  outcome: 'ok' | 'refused' | 'failed';
}

export interface AccessRecord extends Required<Omit<AccessEntry, 'query' | 'result'>> {
  id: number;
  at: number;
  query: unknown;
  result: unknown;
}

export interface VerifyResult {
  ok: boolean;
  checked: number;
  /** First problems found: the row id and what is wrong. */
  problems: Array<{ id: number; problem: string }>;
}

const GENESIS = '0'.repeat(64);

/** A row of `access_log` as stored. */
export interface AccessLogRow {
  id: number;
  at: number;
  user_name: string;
  agency: string;
  role: string | null;
  action: string;
  purpose: string | null;
  case_number: string | null;
  query: string | null;
  result: string | null;
  outcome: string;
  prev_mac: string;
  mac: string;
}

export class AccessLog {
  constructor(
    private readonly db: Database.Database,
    private readonly key: Buffer,
    /** The clock that stamps each record, and that the access functions writing to this log decide by. */
    readonly clock: Clock,
  ) {}

  /**
   * Appends one record; call it inside the transaction of the access it records. Called outside one (a refusal,
   * a subscription), it takes its own IMMEDIATE transaction, so that another process appending at the same time
   * (a technician's command) cannot slip in between reading the last MAC and writing the next.
   */
  append(e: AccessEntry): { id: number; mac: string } {
    if (!this.db.inTransaction) return this.db.transaction(() => this.appendInTransaction(e)).immediate();
    return this.appendInTransaction(e);
  }

  private appendInTransaction(e: AccessEntry): { id: number; mac: string } {
    const last = this.db.prepare('SELECT mac FROM access_log ORDER BY id DESC LIMIT 1').get() as { mac: string } | undefined;
    const prev = last?.mac ?? this.anchor();
    const at = this.clock();
    const fields = {
      at,
      user_name: e.user,
      agency: e.agency,
      role: e.role,
      action: e.action,
      purpose: e.purpose ?? null,
      case_number: e.caseNumber ?? null,
      query: e.query === undefined ? null : JSON.stringify(e.query),
      result: e.result === undefined ? null : JSON.stringify(e.result),
      outcome: e.outcome,
    };
    // the id is part of the MAC, so it is chosen here: AUTOINCREMENT's counter + 1 (never reused, even after a purge)
    const id = (this.db.prepare(`SELECT seq + 1 AS n FROM sqlite_sequence WHERE name = 'access_log'`).get() as { n: number } | undefined)?.n ?? 1;
    const mac = this.mac(prev, { id, ...fields });
    const info = this.db
      .prepare(
        `INSERT INTO access_log (id, at, user_name, agency, role, action, purpose, case_number, query, result, outcome, prev_mac, mac)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(id, at, fields.user_name, fields.agency, fields.role, fields.action, fields.purpose, fields.case_number, fields.query, fields.result, fields.outcome, prev, mac);
    return { id: Number(info.lastInsertRowid), mac };
  }

  /** Checks every row's MAC and the chain from the first remaining row to the last. */
  verify(): VerifyResult {
    const problems: VerifyResult['problems'] = [];
    let prev: string | null = null;
    let prevId = 0;
    let checked = 0;
    for (const row of this.db.prepare('SELECT * FROM access_log ORDER BY id').iterate() as IterableIterator<AccessLogRow>) {
      checked++;
      const expectedPrev = prev ?? (row.id === 1 ? GENESIS : this.anchor(row.id));
      if (row.prev_mac !== expectedPrev) {
        problems.push({ id: row.id, problem: prev === null ? 'the first row does not continue the chain (rows before it removed outside retention?)' : `does not follow row ${prevId} (a row was removed, inserted or reordered)` });
      }
      const { mac, prev_mac, ...fields } = row;
      if (this.mac(prev_mac, fields) !== mac) problems.push({ id: row.id, problem: 'its content was changed (MAC mismatch)' });
      prev = mac;
      prevId = row.id;
      if (problems.length >= 100) break;
    }
    return { ok: problems.length === 0, checked, problems };
  }

  list(opts: { from?: number; to?: number; user?: string } = {}): AccessRecord[] {
    const rows = this.db
      .prepare(`SELECT * FROM access_log WHERE at >= ? AND at < ? AND (? IS NULL OR user_name = ?) ORDER BY id`)
      .all(opts.from ?? 0, opts.to ?? Number.MAX_SAFE_INTEGER, opts.user ?? null, opts.user ?? null) as AccessLogRow[];
    return rows.map(accessRecordOf);
  }

  /** Deletes the rows older than `before`, oldest first, keeping the chain verifiable (see purgeAccessLogBatch). */
  purgeBefore(before: number): number {
    let n = 0;
    for (let k; (k = purgeAccessLogBatch(this.db, before, 10_000)) > 0; ) n += k;
    return n;
  }

  private anchor(nextId?: number): string {
    const exists = this.db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'access_log_anchor'`).get();
    if (!exists) return GENESIS;
    const row = (nextId === undefined
      ? this.db.prepare('SELECT mac FROM access_log_anchor ORDER BY next_id DESC LIMIT 1').get()
      : this.db.prepare('SELECT mac FROM access_log_anchor WHERE next_id = ?').get(nextId)) as { mac: string } | undefined;
    return row?.mac ?? GENESIS;
  }

  private mac(prev: string, fields: Record<string, unknown>): string {
    const h = createHmac('sha256', this.key);
    h.update(prev);
    for (const k of ['id', 'at', 'user_name', 'agency', 'role', 'action', 'purpose', 'case_number', 'query', 'result', 'outcome']) {
      h.update(`\u0000${k}=${fields[k] === null || fields[k] === undefined ? '\u0001' : String(fields[k])}`);
    }
    return h.digest('hex');
  }
}

/** A stored row as the record callers see (the MAC chain fields left out). */
export function accessRecordOf(r: AccessLogRow): AccessRecord {
  return {
    id: r.id,
    at: r.at,
    user: r.user_name,
    agency: r.agency,
    role: r.role,
    action: r.action,
    purpose: r.purpose,
    caseNumber: r.case_number,
    query: r.query === null ? null : (JSON.parse(r.query) as unknown),
    result: r.result === null ? null : (JSON.parse(r.result) as unknown),
    outcome: r.outcome as AccessRecord['outcome'],
  };
}

/**
 * Deletes up to `limit` access log rows older than `before` in one transaction, strictly oldest first: the rows
 * before the first one at or after `before` (a prefix of the chain, so a row that follows a kept one stays even if
 * a clock step back dated it earlier). The MAC of the last deleted row is kept as the anchor the first remaining
 * row continues from, so `verify` still checks the rest. The one path by which rows leave the log (retention).
 */
export function purgeAccessLogBatch(db: Database.Database, before: number, limit: number): number {
  return db.transaction(() => {
    const bound = (db.prepare('SELECT min(id) AS id FROM access_log WHERE at >= ?').get(before) as { id: number | null }).id;
    const last = db
      .prepare('SELECT id, mac FROM (SELECT id, mac FROM access_log WHERE id < ? ORDER BY id LIMIT ?) ORDER BY id DESC LIMIT 1')
      .get(bound ?? Number.MAX_SAFE_INTEGER, limit) as { id: number; mac: string } | undefined;
    if (!last) return 0;
    db.exec('CREATE TABLE IF NOT EXISTS access_log_anchor (next_id INTEGER PRIMARY KEY, mac TEXT NOT NULL)');
    db.prepare('INSERT OR REPLACE INTO access_log_anchor (next_id, mac) VALUES (?, ?)').run(last.id + 1, last.mac);
    db.prepare('INSERT INTO access_log_purge (allowed) VALUES (1)').run();
    const n = db.prepare('DELETE FROM access_log WHERE id <= ?').run(last.id).changes;
    db.prepare('DELETE FROM access_log_purge').run();
    return n;
  })();
}

/**
 * A purpose must name the case: a case, incident or report number (something with a digit), not a bare word such
 * as "investigation" (CA DOJ model policy 429.4). Returns the case number found, or throws with what is needed.
 */
export function checkPurpose(purpose: string | undefined, caseNumber: string | undefined): { purpose: string; caseNumber: string } {
  const p = (purpose ?? '').trim();
  const c = (caseNumber ?? '').trim();
  if (p === '') throw new PurposeError('a purpose is required: say why, with the case or incident number (e.g. --purpose "stolen vehicle follow-up" --case 26-004512)');
  if (c === '' || !/\d/.test(c) || c.length < 3) {
    throw new PurposeError(
      `a case or incident number is required with the purpose (at least 3 characters with a digit, e.g. --case 26-004512); "${p}" alone is not a specific purpose`,
    );
  }
  const bare = /^(investigation|investigative|law enforcement|official use|official business|research|check|query|search|lookup)s?\.?$/i;
  if (bare.test(p)) {
    throw new PurposeError(`"${p}" is not a specific purpose: name what is investigated (e.g. "burglary suspect vehicle"), with the case number`);
  }
  return { purpose: p, caseNumber: c };
}

export class PurposeError extends Error {
  override name = 'PurposeError';
}

/**
 * The key of the access log's MAC chain: derived from the unit's data key when there is one (src/store/keys.ts),
 * else a random key kept in the data folder (`audit.key`, 0600) — which still detects edits made with the
 * sqlite3 tool by someone who does not also read that file.
 */
export function loadAuditKey(dataDir: string, derived?: Buffer): Buffer {
  if (derived) return derived;
  const file = path.join(dataDir, 'audit.key');
  if (!existsSync(file)) {
    const key = randomBytes(32);
    writeFileSync(file, key.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
    return key;
  }
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
  if (key.length !== 32) throw new Error(`${file} is not a 64-hex-character key; the access log cannot be verified without it`);
  return key;
}

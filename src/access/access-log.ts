import type Database from 'better-sqlite3';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The access log (P2): every access to stored data — and every sign-in, refused or not — is one row, written in
 * the same transaction as the access itself (the caller wraps both in `db.transaction`). Append-only: triggers
 * refuse UPDATE and DELETE (the retention purge of rows older than the configured period is the one exception,
 * and it deletes strictly oldest first). Tamper-evident: each row carries an HMAC over its content and the
 * previous row's MAC, keyed with the unit's audit key, so an edited, deleted, inserted or reordered row breaks
 * the chain for `alpr-edge audit verify`, and the chain cannot be recomputed without the key.
 */

export const ACCESS_LOG_SQL = `
CREATE TABLE access_log (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  at          INTEGER NOT NULL,                 -- ms since the epoch, UTC
  user_name   TEXT    NOT NULL,
  agency      TEXT    NOT NULL,
  role        TEXT,
  action      TEXT    NOT NULL,                 -- login, search, show, image, export, release, hold, ...
  purpose     TEXT,
  case_number TEXT,
  query       TEXT,                             -- JSON: the plate or other fields used
  result      TEXT,                             -- JSON: what came back (count, ids)
  outcome     TEXT    NOT NULL CHECK (outcome IN ('ok', 'refused', 'failed')),
  prev_mac    TEXT    NOT NULL,
  mac         TEXT    NOT NULL
);
CREATE INDEX access_log_at ON access_log (at);
CREATE INDEX access_log_user ON access_log (user_name, at);
-- a row may be removed only by the retention purge, which sets this flag inside its own transaction
CREATE TABLE access_log_purge (allowed INTEGER NOT NULL);
CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log
BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;
CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log
WHEN NOT EXISTS (SELECT 1 FROM access_log_purge WHERE allowed = 1)
BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;
`;

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

interface Row {
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
    private readonly now: () => number = Date.now,
  ) {}

  /** Appends one record; call it inside the transaction of the access it records. */
  append(e: AccessEntry): { id: number; mac: string } {
    const last = this.db.prepare('SELECT mac FROM access_log ORDER BY id DESC LIMIT 1').get() as { mac: string } | undefined;
    const prev = last?.mac ?? this.anchor();
    const at = this.now();
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
    for (const row of this.db.prepare('SELECT * FROM access_log ORDER BY id').iterate() as IterableIterator<Row>) {
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
      .all(opts.from ?? 0, opts.to ?? Number.MAX_SAFE_INTEGER, opts.user ?? null, opts.user ?? null) as Row[];
    return rows.map((r) => ({
      id: r.id,
      at: r.at,
      user: r.user_name,
      agency: r.agency,
      role: r.role,
      action: r.action,
      purpose: r.purpose,
      caseNumber: r.case_number,
      query: r.query === null ? null : JSON.parse(r.query),
      result: r.result === null ? null : JSON.parse(r.result),
      outcome: r.outcome as AccessRecord['outcome'],
    }));
  }

  /**
   * Deletes rows older than `before`, oldest first, keeping the chain verifiable: the MAC of the last deleted
   * row is kept as the anchor the first remaining row continues from.
   */
  purgeBefore(before: number): number {
    return this.db.transaction(() => {
      const last = this.db.prepare('SELECT id, mac FROM access_log WHERE at < ? ORDER BY id DESC LIMIT 1').get(before) as { id: number; mac: string } | undefined;
      if (!last) return 0;
      this.db.exec('CREATE TABLE IF NOT EXISTS access_log_anchor (next_id INTEGER PRIMARY KEY, mac TEXT NOT NULL)');
      this.db.prepare('INSERT OR REPLACE INTO access_log_anchor (next_id, mac) VALUES (?, ?)').run(last.id + 1, last.mac);
      this.db.prepare('INSERT INTO access_log_purge (allowed) VALUES (1)').run();
      const n = this.db.prepare('DELETE FROM access_log WHERE id <= ?').run(last.id).changes;
      this.db.prepare('DELETE FROM access_log_purge').run();
      return n;
    })();
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

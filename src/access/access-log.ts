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

/** The last record of the chain: its number and MAC (and time), as kept outside the log to detect truncation. */
export interface ChainHead {
  id: number;
  mac: string;
  at: number;
}

/**
 * A head seen elsewhere (the central server's acknowledgement stored on the unit, the unit's status file): the log
 * must still contain it, at the same number with the same MAC, or have removed it by a signed retention purge.
 */
export interface ReferenceHead {
  kind: 'status-file' | 'central';
  /** Where it comes from, in words: "the status file", "the central server https://...". */
  source: string;
  id: number;
  mac: string;
  /** When the reference was recorded (ms since the epoch), if known. */
  recordedAt?: number | null;
}

/** A retention purge's anchor: a record of the log itself, MAC'd like any other, saying what it removed. */
export interface PurgeAnchor {
  /** The anchor's own record number. */
  record: number;
  at: number;
  by: string;
  first: number;
  last: number;
  lastMac: string;
  /**
   * Whether the log the purge found started as it should (at record 1, or right after a signed anchor): false when
   * records before `first` had been removed without one, which the purge then could not show any more.
   */
  startAccounted: boolean;
  /** When not accounted for: the log then started after the unsigned anchor of an older version (or a forged one). */
  startLegacy: boolean;
}

export interface VerifyResult {
  ok: boolean;
  /** Records read and checked (MAC and link to the one before). */
  checked: number;
  /** Numbers of the first and last record left (null: the log is empty). */
  first: number | null;
  head: ChainHead | null;
  /**
   * How the log starts: at record 1 (nothing ever removed), right after a signed anchor of a retention purge, or not
   * accounted for (records removed without a valid anchor: a problem). null for an empty log.
   */
  start: { kind: 'genesis' } | { kind: 'anchor'; anchor: PurgeAnchor } | { kind: 'unaccounted'; missing: [number, number] } | null;
  /** Each reference head given, and what was found. */
  references: Array<ReferenceHead & { ok: boolean; detail: string }>;
  /** First problems found: the record (null: the log as a whole) and what is wrong. */
  problems: Array<{ id: number | null; problem: string }>;
}

/** The action of a retention purge's anchor record. */
export const PURGE_ACTION = 'access-log-purge';

/** Who or what purges (retention in the unit: the unit itself). */
export interface PurgeActor {
  user: string;
  agency: string;
  role: string | null;
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
    const prev = last?.mac ?? this.legacyAnchor() ?? GENESIS;
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

  /**
   * Checks the whole log: every record's MAC (its content and number, keyed), that each follows the one before it
   * (its prev_mac is that record's MAC, and its number is the next one: no record missing in between), how the log
   * starts (record 1, or right after the range a signed retention anchor says it purged), and that every reference
   * head (the central server's acknowledgements, the status file's head) is still in the log. Records removed at
   * either end, or edited, inserted or reordered, are problems.
   */
  verify(references: readonly ReferenceHead[] = []): VerifyResult {
    const problems: VerifyResult['problems'] = [];
    const note = (id: number | null, problem: string) => {
      if (problems.length < 100) problems.push({ id, problem });
    };
    let prev: AccessLogRow | null = null;
    let first: AccessLogRow | null = null;
    let checked = 0;
    /** Valid (MAC-checked) anchors by the last record number they purged. */
    const anchors = new Map<number, PurgeAnchor>();
    for (const row of this.db.prepare('SELECT * FROM access_log ORDER BY id').iterate() as IterableIterator<AccessLogRow>) {
      checked++;
      first ??= row;
      const { mac, prev_mac, ...fields } = row;
      const macOk = this.mac(prev_mac, fields) === mac;
      if (!macOk) note(row.id, 'its content or number was changed, or it was written without the key (MAC mismatch)');
      if (prev !== null) {
        if (row.id !== prev.id + 1) {
          note(
            row.id,
            `${row.id - 1 > prev.id + 1 ? `records #${prev.id + 1}-#${row.id - 1} are` : `record #${prev.id + 1} is`} missing between #${prev.id} and #${row.id}` +
              (prev_mac === prev.mac ? ' (the chain was cut there and continued)' : ''),
          );
        } else if (prev_mac !== prev.mac) {
          note(row.id, `does not follow record #${prev.id} (a record was removed, inserted or reordered)`);
        }
      }
      if (macOk && row.action === PURGE_ACTION && row.outcome === 'ok') {
        const a = anchorOf(row);
        if (a) anchors.set(a.last, a);
      }
      prev = row;
    }
    let start: VerifyResult['start'] = null;
    if (first) {
      if (first.id === 1) {
        start = { kind: 'genesis' };
        if (first.prev_mac !== GENESIS) note(1, 'record #1 does not start the chain (its prev_mac is not the genesis value)');
      } else {
        const a = anchors.get(first.id - 1);
        if (a && a.lastMac === first.prev_mac) {
          start = { kind: 'anchor', anchor: a };
          if (!a.startAccounted) {
            note(
              a.record,
              `retention anchor #${a.record} purged #${a.first}-#${a.last}, but records before #${a.first} had already been removed ${
                a.startLegacy ? 'under an unsigned anchor (the access_log_anchor table of an older version, or a forged one)' : 'without a signed anchor'
              } when it ran`,
            );
          }
        } else {
          start = { kind: 'unaccounted', missing: [1, first.id - 1] };
          const range = `#1${first.id > 2 ? `-#${first.id - 1}` : ''}`;
          if (a) note(first.id, `the first record left does not follow the last record (#${a.last}) that the retention anchor #${a.record} says it purged`);
          else if (this.legacyAnchor(first.id)) {
            note(
              first.id,
              `records ${range} were removed with an unsigned anchor (the access_log_anchor table): written by retention before anchors were signed, or forged; the log cannot show that retention removed them`,
            );
          } else note(first.id, `records ${range} were removed and no signed retention anchor in the log accounts for them`);
        }
      }
    }
    const head: ChainHead | null = prev ? { id: prev.id, mac: prev.mac, at: prev.at } : null;
    const refs = references.map((r) => {
      const check = this.checkReference(r, head, first?.id ?? null, start);
      if (!check.ok) note(null, `${r.source}: ${check.detail}`);
      return { ...r, ...check };
    });
    return { ok: problems.length === 0, checked, first: first?.id ?? null, head, start, references: refs, problems };
  }

  /** Whether the log still holds a head seen elsewhere. */
  private checkReference(r: ReferenceHead, head: ChainHead | null, first: number | null, start: VerifyResult['start']): { ok: boolean; detail: string } {
    if (head === null) return { ok: false, detail: `saw record #${r.id}, but the log is empty: every record was removed` };
    if (r.id > head.id) {
      return {
        ok: false,
        detail: `saw the log end at #${r.id}, but it ends at #${head.id} now: the newest ${r.id - head.id} record(s) were removed`,
      };
    }
    if (first !== null && r.id >= first) {
      const row = this.db.prepare('SELECT mac FROM access_log WHERE id = ?').get(r.id) as { mac: string } | undefined;
      if (!row) return { ok: false, detail: `saw record #${r.id}, which is missing now` };
      if (row.mac !== r.mac) return { ok: false, detail: `saw record #${r.id} with another MAC: the record there now is not the one it saw (the log was cut and rewritten)` };
      return { ok: true, detail: `record #${r.id} is in the log, with the same MAC` };
    }
    // before the first record left: removed since, which only a signed retention anchor may account for
    if (start?.kind === 'anchor') {
      const a = start.anchor;
      if (r.id === a.last && r.mac !== a.lastMac) return { ok: false, detail: `saw record #${r.id} with another MAC than the one retention anchor #${a.record} says it purged` };
      return { ok: true, detail: `record #${r.id} was purged by retention (anchor #${a.record})` };
    }
    return { ok: false, detail: `saw record #${r.id}, which was removed without a signed retention anchor` };
  }

  list(opts: { from?: number; to?: number; user?: string } = {}): AccessRecord[] {
    const rows = this.db
      .prepare(`SELECT * FROM access_log WHERE at >= ? AND at < ? AND (? IS NULL OR user_name = ?) ORDER BY id`)
      .all(opts.from ?? 0, opts.to ?? Number.MAX_SAFE_INTEGER, opts.user ?? null, opts.user ?? null) as AccessLogRow[];
    return rows.map(accessRecordOf);
  }

  /** Deletes the records older than `before`, oldest first, each batch leaving a signed anchor (see purgeBatch). */
  purgeBefore(before: number, by: PurgeActor): number {
    let n = 0;
    for (let k; (k = this.purgeBatch(before, 10_000, by)) > 0; ) n += k;
    return n;
  }

  /**
   * Deletes up to `limit` records older than `before` in one transaction, strictly oldest first: the records before
   * the first one at or after `before` (a prefix of the chain, so a record that follows a kept one stays even if a
   * clock step back dated it earlier). In the same transaction it appends the purge's anchor: a record like any
   * other (chained, MAC'd with the key) saying who purged which range (first and last number) and the MAC of the
   * last record purged, which the first record left continues from. `verify` accepts a log that starts right after
   * such an anchor's range, and nothing else but record 1. The one path by which records leave the log (retention).
   * Returns the number of records deleted.
   */
  purgeBatch(before: number, limit: number, by: PurgeActor): number {
    const db = this.db;
    return db
      .transaction(() => {
        const bound = (db.prepare('SELECT min(id) AS id FROM access_log WHERE at >= ?').get(before) as { id: number | null }).id;
        const range = db
          .prepare('SELECT min(id) AS first, max(id) AS last, count(*) AS n FROM (SELECT id FROM access_log WHERE id < ? ORDER BY id LIMIT ?)')
          .get(bound ?? Number.MAX_SAFE_INTEGER, limit) as { first: number | null; last: number | null; n: number };
        if (range.n === 0 || range.first === null || range.last === null) return 0;
        const lastMac = (db.prepare('SELECT mac FROM access_log WHERE id = ?').get(range.last) as { mac: string }).mac;
        const startAccounted = this.startAccounted(range.first);
        const startLegacy = !startAccounted && range.first > 1 && this.legacyAnchor(range.first) !== undefined;
        this.appendInTransaction({
          user: by.user,
          agency: by.agency,
          role: by.role,
          action: PURGE_ACTION,
          purpose: 'retention',
          query: { before },
          result: { first: range.first, last: range.last, records: range.n, lastMac, startAccounted, ...(startLegacy ? { startLegacy } : {}) },
          outcome: 'ok',
        });
        db.prepare('INSERT INTO access_log_purge (allowed) VALUES (1)').run();
        const n = db.prepare('DELETE FROM access_log WHERE id <= ?').run(range.last).changes;
        db.prepare('DELETE FROM access_log_purge').run();
        return n;
      })
      .immediate();
  }

  /**
   * Whether the log starting at record `first` starts as it should: `first` is record 1 of the chain, or follows a
   * retention anchor in the log whose MAC is right (the key) and whose range ends right before it. A purge records
   * the answer in its anchor, so that removing the oldest records outside retention is not hidden by the next purge.
   */
  private startAccounted(first: number): boolean {
    const row = this.db.prepare('SELECT * FROM access_log WHERE id = ?').get(first) as AccessLogRow | undefined;
    if (!row) return false;
    if (first === 1) return row.prev_mac === GENESIS;
    for (const a of this.db.prepare('SELECT * FROM access_log WHERE action = ? ORDER BY id DESC').iterate(PURGE_ACTION) as IterableIterator<AccessLogRow>) {
      const { mac, prev_mac, ...fields } = a;
      const anchor = anchorOf(a);
      if (anchor && anchor.last === first - 1 && anchor.lastMac === row.prev_mac && this.mac(prev_mac, fields) === mac) return true;
    }
    return false;
  }

  /**
   * The unsigned anchor an older version's retention kept in the access_log_anchor table (next_id -> MAC), if any:
   * appends still continue from it when it is all that is left, but `verify` does not accept it as the start.
   */
  private legacyAnchor(nextId?: number): string | undefined {
    const exists = this.db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'access_log_anchor'`).get();
    if (!exists) return undefined;
    const row = (nextId === undefined
      ? this.db.prepare('SELECT mac FROM access_log_anchor ORDER BY next_id DESC LIMIT 1').get()
      : this.db.prepare('SELECT mac FROM access_log_anchor WHERE next_id = ?').get(nextId)) as { mac: string } | undefined;
    return row?.mac;
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

/** The anchor a purge record states, or null when its result is not one (not an anchor). */
function anchorOf(row: AccessLogRow): PurgeAnchor | null {
  let r: unknown;
  try {
    r = row.result === null ? null : JSON.parse(row.result);
  } catch {
    return null;
  }
  if (typeof r !== 'object' || r === null) return null;
  const { first, last, lastMac, startAccounted, startLegacy } = r as Record<string, unknown>;
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || typeof lastMac !== 'string') return null;
  return { record: row.id, at: row.at, by: row.user_name, first: first as number, last: last as number, lastMac, startAccounted: startAccounted === true, startLegacy: startLegacy === true };
}

/** The log's last record, or null when it is empty. */
export function chainHead(db: Database.Database): ChainHead | null {
  return (db.prepare('SELECT id, mac, at FROM access_log ORDER BY id DESC LIMIT 1').get() as ChainHead | undefined) ?? null;
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

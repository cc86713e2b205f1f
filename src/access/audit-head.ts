import type Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { chainHead, type ChainHead, type ReferenceHead } from './access-log.js';

/**
 * The access log's head kept outside the log, so that removing its newest records is detected (`audit verify`):
 *  - the head each upstream destination acknowledged having received (access_log_acks, migration 9; the central
 *    server keeps its own copy, and refuses and records a head that goes back: src/central/db.ts),
 *  - the head in the unit's status file, which the running unit only moves forward (HeadWatch).
 */

const HEX64 = /^[0-9a-f]{64}$/;

/** Whether a value is a head (a record number, its MAC, its time). */
export function isChainHead(v: unknown): v is ChainHead {
  if (typeof v !== 'object' || v === null) return false;
  const h = v as Record<string, unknown>;
  return Number.isSafeInteger(h.id) && (h.id as number) > 0 && typeof h.mac === 'string' && HEX64.test(h.mac) && Number.isFinite(h.at);
}

/**
 * The last record numbered `id` or below, as a head (null when there is none): what a push sends after the stream
 * up to its cursor. When the records up to the cursor were removed since they went up, it is an earlier one (or a
 * rewritten one), which the server refuses: the log went back.
 */
export function headAtOrBefore(db: Database.Database, id: number): ChainHead | null {
  return (db.prepare('SELECT id, mac, at FROM access_log WHERE id <= ? ORDER BY id DESC LIMIT 1').get(id) as ChainHead | undefined) ?? null;
}

/** Records a destination's acknowledgement of a head (never moves an acknowledgement back). */
export function recordAck(db: Database.Database, destinationId: number, head: ChainHead, now: number): void {
  db.prepare(
    `INSERT INTO access_log_acks (destination_id, head_id, head_mac, head_at, acked_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (destination_id) DO UPDATE SET head_id = excluded.head_id, head_mac = excluded.head_mac, head_at = excluded.head_at,
       acked_at = excluded.acked_at WHERE excluded.head_id >= access_log_acks.head_id`,
  ).run(destinationId, head.id, head.mac, head.at, now);
}

/** Every destination's acknowledged head, as references for `verify`. */
export function acknowledgedHeads(db: Database.Database): Array<ReferenceHead & { url: string; agency: boolean }> {
  const rows = db
    .prepare(
      `SELECT a.head_id, a.head_mac, a.acked_at, d.url, d.agency FROM access_log_acks a
       LEFT JOIN sync_destinations d ON d.id = a.destination_id ORDER BY a.destination_id`,
    )
    .all() as Array<{ head_id: number; head_mac: string; acked_at: number; url: string | null; agency: number | null }>;
  return rows.map((r) => ({
    kind: 'central' as const,
    source: `the central server ${r.url ?? '(unrecorded destination)'}${r.agency === 1 ? '' : ' (not the agency server)'}`,
    id: r.head_id,
    mac: r.head_mac,
    recordedAt: r.acked_at,
    url: r.url ?? '',
    agency: r.agency === 1,
  }));
}

/**
 * The head in a status file written by the unit (`accessLog.head`), or why there is none: the file is missing
 * (the unit has not run here), or written by a version without the head, or unreadable.
 */
export function statusFileHead(file: string): { head: ReferenceHead | null; chain: ChainHead | null; note: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { head: null, chain: null, note: code === 'ENOENT' ? `no status file (${file}): the unit has not run here` : `the status file ${file} cannot be read (${code ?? (err as Error).message})` };
  }
  let status: { updatedAt?: unknown; accessLog?: { head?: unknown } };
  try {
    status = JSON.parse(text) as typeof status;
  } catch {
    return { head: null, chain: null, note: `the status file ${file} is not JSON` };
  }
  const head = status.accessLog?.head;
  if (head === null || head === undefined) return { head: null, chain: null, note: `the status file ${file} holds no access log head` };
  if (!isChainHead(head)) return { head: null, chain: null, note: `the status file ${file} holds a malformed access log head` };
  return {
    head: { kind: 'status-file', source: 'the status file', id: head.id, mac: head.mac, recordedAt: typeof status.updatedAt === 'number' ? status.updatedAt : null },
    chain: { id: head.id, mac: head.mac, at: head.at },
    note: '',
  };
}

/**
 * The head the running unit writes into its status file: it moves only forward. At each look it takes the log's
 * current head if the log still holds the head seen before (same number, same MAC, or purged from the old end);
 * otherwise it keeps the head seen before and says what went wrong, so that the status file keeps the evidence of a
 * truncation made while the unit runs (or, from the previous status file, while it was stopped).
 */
export class HeadWatch {
  private known: ChainHead | null;
  private problemSeen: string | null = null;

  constructor(
    private readonly db: Database.Database,
    /** The head of the previous status file (the unit's last run), if any. */
    previous: ChainHead | null,
    private readonly onProblem?: (message: string) => void,
  ) {
    this.known = previous;
  }

  /** The head to write now, and the problem found (null: the log went forward, or stayed). */
  observe(): { head: ChainHead | null; problem: string | null } {
    const now = chainHead(this.db);
    const known = this.known;
    if (known === null) {
      this.known = now;
      return { head: now, problem: this.problemSeen };
    }
    let problem: string | null = null;
    if (now === null) problem = `the access log is empty, but it held record #${known.id}`;
    else if (now.id < known.id) problem = `the access log ends at #${now.id}, but it held record #${known.id}: newer records were removed`;
    else {
      const first = (this.db.prepare('SELECT min(id) AS id FROM access_log').get() as { id: number }).id;
      const row = known.id >= first ? (this.db.prepare('SELECT mac FROM access_log WHERE id = ?').get(known.id) as { mac: string } | undefined) : { mac: known.mac };
      if (!row) problem = `record #${known.id} of the access log is missing`;
      else if (row.mac !== known.mac) problem = `record #${known.id} of the access log is not the one seen before (another MAC): the log was cut and rewritten`;
    }
    if (problem === null) {
      this.known = now;
      return { head: now, problem: this.problemSeen };
    }
    if (problem !== this.problemSeen) this.onProblem?.(problem);
    this.problemSeen = problem;
    return { head: known, problem };
  }
}

/** The head of a status file as the unit wrote it (for a HeadWatch at start), or null. */
export function previousHead(file: string): ChainHead | null {
  return statusFileHead(file).chain;
}

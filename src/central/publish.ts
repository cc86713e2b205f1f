import { normalisePlate } from '../hotlist/plate.js';
import type { CentralDb } from './db.js';
import { CentralError, NAME_RE, type PublishedCancellation, type PublishedEntry } from './records.js';

/** Urgent entries and cancellations published to every unit (`alpr-edge central publish` and `cancel`), checked first. */

export interface EntryInput {
  list: string;
  plate: string;
  state?: string | null;
  reason: string;
  caseNumber: string;
  /** ms since the epoch; none: until cancelled. */
  expiresAt?: number | null;
  by?: string | null;
  now?: number;
}

export interface CancellationInput {
  list: string;
  plate: string;
  state?: string | null;
  reason: string;
  by?: string | null;
  at?: number;
}

function checkList(list: string): string {
  if (!NAME_RE.test(list)) throw new CentralError(`list ${JSON.stringify(list)}: letters, digits, "_", "." and "-", 1-64 characters`);
  return list;
}

function checkPlate(raw: string): string {
  const n = normalisePlate(raw, { wildcards: true });
  if ('error' in n) throw new CentralError(n.error);
  return n.plate;
}

function checkState(state: string | null | undefined): string | null {
  if (state === undefined || state === null || state.trim() === '') return null;
  const s = state.trim().toUpperCase();
  if (!/^[A-Z]{2}$/.test(s)) throw new CentralError(`state ${JSON.stringify(state)}: a two-letter state or province code`);
  return s;
}

function checkText(value: string | null | undefined, what: string, max: number, required: boolean): string | null {
  const v = value?.trim() ?? '';
  if (v === '') {
    if (required) throw new CentralError(`${what} is required`);
    return null;
  }
  if (v.length > max) throw new CentralError(`${what} is longer than ${max} characters`);
  return v;
}

/** An urgent entry every unit adds to its list at its next manifest (or at once over MQTT). */
export function publishEntry(db: CentralDb, e: EntryInput): PublishedEntry {
  const now = e.now ?? db.clock();
  if (e.expiresAt != null && !(Number.isFinite(e.expiresAt) && e.expiresAt > now)) throw new CentralError('expiresAt must lie in the future');
  return db.insertEntry({
    list: checkList(e.list),
    plate: checkPlate(e.plate),
    state: checkState(e.state),
    reason: checkText(e.reason, 'reason', 500, true)!,
    caseNumber: checkText(e.caseNumber, 'case number', 100, true)!,
    expiresAt: e.expiresAt ?? null,
    by: checkText(e.by, 'by', 100, false),
    createdAt: now,
  });
}

/** Cancels every live entry of the list with that plate (and state, when given) on every unit. */
export function publishCancellation(db: CentralDb, c: CancellationInput): PublishedCancellation {
  return db.insertCancellation({
    list: checkList(c.list),
    plate: checkPlate(c.plate),
    state: checkState(c.state),
    reason: checkText(c.reason, 'reason', 500, true)!,
    by: checkText(c.by, 'by', 100, false),
    at: c.at ?? db.clock(),
  });
}

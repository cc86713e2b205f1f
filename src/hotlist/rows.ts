import type { Hit } from './matcher.js';
import type { ListInfo, MatchPolicy } from './segment.js';
import type { EntryRecord, HotlistChange, StoredHit } from './types.js';

/** The hot list tables' rows (migration 2) as SQLite gives them, and the objects the rest of the code sees. */

export interface ListRow {
  id: number;
  name: string;
  source: string;
  format: string;
  category: string;
  priority: number;
  covert: number;
  match_policy: MatchPolicy;
  max_distance: number;
  retention_ms: number | null;
  version_id: number | null;
  expires_at: number | null;
}

export interface EntryRow {
  id: number;
  list_id: number;
  list_name: string;
  version_id: number | null;
  list_version_id: number | null;
  origin: 'import' | 'manual';
  plate: string;
  state: string | null;
  code: string | null;
  reason: string | null;
  case_number: string | null;
  listed_at: number | null;
  details: string | null;
  line: number | null;
  added_by: string | null;
  added_at: number;
  expires_at: number | null;
  cancelled_at: number | null;
  cancelled_by: string | null;
  cancel_reason: string | null;
}

export interface ChangeRow {
  id: number;
  at: number;
  user_name: string;
  action: HotlistChange['action'];
  list_id: number | null;
  list_name: string;
  entry_id: number | null;
  plate: string | null;
  case_number: string | null;
  reason: string | null;
  detail: string | null;
}

export interface HitRow {
  id: number;
  read_id: number;
  list_id: number;
  list_name: string;
  entry_id: number;
  entry_plate: string;
  entry_state: string;
  how: Hit['how'];
  distance: number;
  matched_text: string;
  candidate: number;
  category: string;
  priority: number;
  covert: number;
  code: string | null;
  reason: string | null;
  case_number: string | null;
  state_mismatch: number;
  created_at: number;
}

export const ENTRY_SELECT = `SELECT e.*, l.name AS list_name, l.version_id AS list_version_id FROM hotlist_entries e JOIN hotlists l ON l.id = e.list_id`;

export function toEntry(r: EntryRow): EntryRecord {
  return {
    id: r.id,
    listId: r.list_id,
    list: r.list_name,
    origin: r.origin,
    plate: r.plate,
    state: r.state,
    code: r.code,
    reason: r.reason,
    caseNumber: r.case_number,
    listedAt: r.listed_at,
    details: r.details === null ? null : (JSON.parse(r.details) as Record<string, string>),
    line: r.line,
    addedBy: r.added_by,
    addedAt: r.added_at,
    expiresAt: r.expires_at,
    cancelledAt: r.cancelled_at,
    cancelledBy: r.cancelled_by,
    cancelReason: r.cancel_reason,
    current: r.version_id === null || r.version_id === r.list_version_id,
  };
}

export function toListInfo(r: ListRow): ListInfo {
  return {
    id: r.id,
    name: r.name,
    category: r.category,
    priority: r.priority,
    covert: r.covert === 1,
    policy: r.match_policy,
    maxDistance: r.max_distance,
    expiresAt: r.expires_at,
  };
}

export function toChange(r: Pick<ChangeRow, 'id' | 'at' | 'user_name' | 'action' | 'list_id' | 'list_name' | 'entry_id'>): HotlistChange {
  return {
    id: r.id,
    at: r.at,
    user: r.user_name,
    action: r.action,
    listId: r.list_id,
    listName: r.list_name,
    entryId: r.entry_id,
  };
}

export function toStoredHit(r: HitRow): StoredHit {
  return {
    id: r.id,
    readId: r.read_id,
    entryId: r.entry_id,
    listId: r.list_id,
    list: r.list_name,
    category: r.category,
    priority: r.priority,
    covert: r.covert === 1,
    plate: r.entry_plate,
    state: r.entry_state || null,
    code: r.code,
    how: r.how,
    distance: r.distance,
    text: r.matched_text,
    candidate: r.candidate,
    stateMismatch: r.state_mismatch === 1,
    reason: r.reason,
    caseNumber: r.case_number,
    createdAt: r.created_at,
  };
}

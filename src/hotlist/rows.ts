import { rowMap } from '../util/rows.js';
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

const ENTRY = rowMap<EntryRecord>()(
  `id list_id list=list_name origin plate state code reason case_number listed_at details:json line added_by added_at expires_at
   cancelled_at cancelled_by cancel_reason current`,
  { current: (r) => r.version_id === null || r.version_id === r.list_version_id },
);
const LIST = rowMap<ListInfo>()('id name category priority covert:bool policy=match_policy max_distance expires_at');
const CHANGE = rowMap<HotlistChange>()('id at user=user_name action list_id list_name entry_id');
const HIT = rowMap<StoredHit>()(
  `id read_id entry_id list_id list=list_name category priority covert:bool plate=entry_plate state code how distance text=matched_text
   candidate state_mismatch:bool reason case_number created_at`,
  { state: (r) => (r.entry_state as string) || null },
);

export const toEntry = (r: EntryRow): EntryRecord => ENTRY.toObject(r);
export const toListInfo = (r: ListRow): ListInfo => LIST.toObject(r);
export const toChange = (r: Pick<ChangeRow, 'id' | 'at' | 'user_name' | 'action' | 'list_id' | 'list_name' | 'entry_id'>): HotlistChange => CHANGE.toObject(r);
export const toStoredHit = (r: HitRow): StoredHit => HIT.toObject(r);

/** Hot lists: import of the agencies' formats, lists and manual entries in SQLite, matching every read in memory. */
export { Hotlists } from './hotlists.js';
export { findHits } from './hits.js';
export {
  HotlistError,
  HotlistImportError,
  type AddEntryOptions,
  type HitHistoryQuery,
  type HitSummary,
  type EntryRecord,
  type HotlistChange,
  type HotlistOptions,
  type ImportOptions,
  type ImportResult,
  type ListSettings,
  type ListSummary,
  type PurgeResult,
  type StoredHit,
} from './types.js';
export { explainHit, HotlistMatcher, type Hit, type MatchHow, type ReadTexts } from './matcher.js';
export { canonicalPlate, normalisePlate, EQUIVALENT_GROUPS } from './plate.js';
export { FORMAT_NAMES, FORMATS, type FormatName, type LineProblem } from './formats/index.js';
export type { MatchPolicy } from './segment.js';

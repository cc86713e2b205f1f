import type { HotlistsConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../util/clock.js';
import { Problems, type FileRecord, type FormatName, type LineProblem } from './formats/index.js';
import type { Hit } from './matcher.js';
import type { MatchPolicy } from './segment.js';

/** What the hot lists give their callers: options, results, records, and the errors of a request refused. */

/**
 * The hot lists' slice of the configuration, still defined in config/schema.ts: the only file of this folder that
 * imports config/ (allowed in test/import-cycles.test.ts until the slice moves here).
 */
export type { HotlistDefinition, HotlistsConfig } from '../config/schema.js';

export interface HotlistOptions {
  config: HotlistsConfig;
  /** Check recent reads again when lists or entries arrive, and emit the hits found (the running unit does). */
  recheckOnChange?: boolean;
  /** Decides expiry, stamps changes and hits. */
  clock: Clock;
  log?: Logger;
}

export interface ImportOptions {
  list: string;
  /** Format of the file; default: the list's format in the config. */
  format?: FormatName;
  category?: string;
  priority?: number;
  covert?: boolean;
  source?: string;
  /** Who imports (recorded with the version and in the change record). */
  user: string;
  /** Name of the file in messages and records; default: the path given. */
  fileName?: string;
}

export type ImportResult =
  | {
      status: 'imported';
      list: string;
      versionId: number;
      entries: number;
      wildcards: number;
      skipped: { junk: number; state: number };
      /** Entries of the file that stay cancelled (cancelled here in the version before, still in the file). */
      keptCancelled: number;
      replacedVersionId: number | null;
      ms: number;
      warnings: string[];
    }
  | { status: 'unchanged'; list: string; versionId: number; entries: number; ms: number };

export interface AddEntryOptions {
  list: string;
  /** A full plate, or a partial one with `?` (one character) and `*` (any run). */
  plate: string;
  state?: string;
  reason: string;
  caseNumber: string;
  /** ms since the epoch; default: now + hotlists.manualEntryDays. */
  expiresAt?: number;
  user: string;
}

/**
 * An entry of a list: the fields of its record in the file (the plate normalised; a manual entry has no code,
 * listing date or details), where it came from, and whether it is cancelled.
 */
export interface EntryRecord extends FileRecord {
  id: number;
  listId: number;
  list: string;
  origin: 'import' | 'manual';
  line: number | null;
  addedBy: string | null;
  addedAt: number;
  expiresAt: number | null;
  cancelledAt: number | null;
  cancelledBy: string | null;
  cancelReason: string | null;
  /** Whether the entry is of the list's version in use (imported) or is a manual entry. */
  current: boolean;
}

/** A list's settings: the import command's options, else the list's definition in the config, else the defaults. */
export interface ListSettings {
  source: string;
  format: string;
  category: string;
  priority: number;
  covert: boolean;
  policy: MatchPolicy;
  maxDistance: number;
  retentionMs: number | null;
}

export interface ListSummary extends ListSettings {
  id: number;
  name: string;
  expiresAt: number | null;
  /** Entries of the version in use, and how many of them are cancelled. */
  entries: number;
  cancelled: number;
  /** Manual entries that can match (not cancelled, not expired). */
  manualEntries: number;
  version: { id: number; file: string; checksum: string; importedAt: number; importedBy: string } | null;
}

export interface StoredHit extends Hit {
  id: number;
  readId: number;
  reason: string | null;
  caseNumber: string | null;
  createdAt: number;
}

export interface HotlistChange {
  id: number;
  at: number;
  user: string;
  action: 'list' | 'import' | 'import-rejected' | 'add' | 'cancel' | 'purge-entries' | 'purge-list';
  listId: number | null;
  listName: string;
  entryId: number | null;
}

export interface PurgeResult {
  lists: string[];
  entries: number;
  /** Rows of replaced or rejected versions left behind by an interrupted import or clean-up. */
  leftovers: number;
}

/** A request that cannot be done as asked (no such list or entry, a bad plate): the message says why. */
export class HotlistError extends Error {
  override name = 'HotlistError';
}

/** A file rejected as a whole; the list keeps the version it had. */
export class HotlistImportError extends HotlistError {
  override name = 'HotlistImportError';
  constructor(
    readonly file: string,
    readonly list: string,
    readonly problems: LineProblem[],
  ) {
    super(`${file} was rejected (${problems.length}${problems.length >= Problems.MAX ? '+' : ''} problem(s)); list ${list} is unchanged`);
  }
}

export type { HitSummary } from './hit-summary.js';

export interface HitHistoryQuery {
  /** A plate, or a partial plate: `?` one character, `*` any run. */
  plate?: string;
  list?: string;
  from?: number;
  to?: number;
  limit?: number;
}

import type { StreamItem, StreamName } from '../sync/streams.js';

/** What the central server stores and answers, as its callers see it; and the checks of names and pushed items. */

export class CentralError extends Error {
  override name = 'CentralError';
}

/** Unit ids, read uuids and list names as the unit's config allows them; also safe as file names. */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const UUID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export const IMAGE_KINDS = ['crop', 'frame'] as const;
export type ImageKind = (typeof IMAGE_KINDS)[number];
export const IMAGE_FORMATS = ['jpeg', 'png'] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

export interface BatchCount {
  received: number;
  stored: number;
  duplicates: number;
}

export interface StoredItem {
  unit: string;
  stream: string;
  key: string;
  rev: number;
  body: StreamItem;
  receivedAt: number;
}

export interface ImageRecord {
  unit: string;
  readUuid: string;
  kind: ImageKind;
  format: string | null;
  /** Of the whole image being received; null for an image only wanted (a pull will fetch it). */
  sha256: string | null;
  total: number | null;
  received: number;
  complete: boolean;
  path: string | null;
  updatedAt: number;
}

export interface PublishedEntry {
  id: string;
  list: string;
  plate: string;
  state: string | null;
  reason: string;
  caseNumber: string;
  expiresAt: number | null;
  by: string | null;
  createdAt: number;
}

export interface PublishedCancellation {
  id: string;
  list: string;
  plate: string;
  state: string | null;
  reason: string;
  by: string | null;
  at: number;
}

/** What happened to a chunk of an image (see receiveChunk). */
export type ChunkResult =
  | { status: 'conflict'; received: number; why: string }
  | { status: 'partial'; received: number }
  | { status: 'complete'; received: number }
  | { status: 'mismatch'; sha256: string };

/** A unit's access log head: its last record's number, MAC and time. */
export interface LogHead {
  id: number;
  mac: string;
  at: number;
}

/** A head refused because the unit's access log went back. */
export interface LogRegression {
  unit: string;
  at: number;
  acknowledged: LogHead | null;
  claimed: { id: number; mac: string };
  problem: string;
}

export interface UnitSummary {
  unit: string;
  streams: Partial<Record<StreamName, number>>;
  /** The access log head last acknowledged, and how many heads were refused (the log went back). */
  accessLog: { head: LogHead | null; regressions: number };
  lastReceivedAt: number | null;
  images: { complete: number; partial: number; wanted: number; bytes: number };
  health: { receivedAt: number } | null;
}

/**
 * Checks the items of a batch or a pulled page: each an object with a non-empty string `key` and a whole `rev`.
 * Throws a CentralError naming the first bad item; nothing of a bad batch is stored.
 */
export function checkItems(items: unknown): StreamItem[] {
  if (!Array.isArray(items)) throw new CentralError('items must be an array');
  items.forEach((item: unknown, i) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new CentralError(`items[${i}] is not an object`);
    const it = item as Record<string, unknown>;
    if (typeof it.key !== 'string' || it.key === '' || it.key.length > 200) {
      throw new CentralError(`items[${i}].key must be a non-empty string of at most 200 characters`);
    }
    if (typeof it.rev !== 'number' || !Number.isSafeInteger(it.rev) || it.rev < 0) {
      throw new CentralError(`items[${i}].rev must be a whole number, 0 or more (item ${JSON.stringify(it.key)})`);
    }
  });
  return items as StreamItem[];
}

import { deletionHashes, hashBytes, HashIndex } from './hash-index.js';
import { CANONICAL_CODE, MAX_PLATE_LENGTH } from './plate.js';

/**
 * The in-memory form of a list's entries: a segment is the imported version of a list, or its entries added by
 * hand (small, rebuilt on each addition). Entries are rows of typed arrays, not objects: a million entries with
 * their indexes take about 50 MB (90 MB with the distance index) instead of the 400 MB that objects and Maps
 * would, and loading them makes little garbage.
 */

export type MatchPolicy = 'exact' | 'equivalent' | 'distance';

/** What a hit needs to know of its list; updated in place when the list's settings change. */
export interface ListInfo {
  id: number;
  name: string;
  category: string;
  priority: number;
  covert: boolean;
  policy: MatchPolicy;
  maxDistance: number;
  /** The list stops matching at this time (ms); null: never. */
  expiresAt: number | null;
}

/** A partial plate: matched by the wildcard index, not by the hash indexes. */
export interface WildcardEntry {
  row: number;
  /** The pattern as entered (normalised), and its codes as is and in OCR-equivalent form. */
  text: string;
  raw: Uint8Array;
  canon: Uint8Array;
}

/** Bytes per entry in the plate arrays. */
export const STRIDE = MAX_PLATE_LENGTH;
/**
 * The distance-2 index holds every two-character deletion of every entry (28 keys for a 7-character plate), and
 * on a large list it alerts on strangers: at a million entries about one read in a few matches some entry within
 * two characters. Larger lists are matched within one character, and told so.
 */
export const DISTANCE2_MAX_ENTRIES = 100_000;

export class Segment {
  /** Set when the list's policy could not be followed in full (distance 2 on a large list). */
  warning: string | null = null;
  /** The distance the deletion index covers: 0 (none), 1 or 2. */
  readonly distance: number;
  readonly canonIndex: HashIndex;
  readonly delIndex: HashIndex | null;

  constructor(
    public list: ListInfo,
    readonly n: number,
    readonly ids: Float64Array,
    /** Plate length of each row; 0 for a wildcard entry (its pattern is in `wildcards`). */
    readonly len: Uint8Array,
    readonly raw: Uint8Array,
    readonly canon: Uint8Array,
    /** Two letters as (first << 8 | second); 0: none. */
    readonly states: Uint16Array,
    /** Index into codeNames + 1; 0: none. */
    readonly codes: Uint8Array,
    readonly codeNames: readonly string[],
    /** Expiry of each row (ms; Infinity: none); null when no row has one (imported lists expire as a whole). */
    readonly expires: Float64Array | null,
    /** 1 once the entry is cancelled or purged: it never matches again. */
    readonly dead: Uint8Array,
    readonly wildcards: readonly WildcardEntry[],
  ) {
    let distance = list.policy === 'distance' ? list.maxDistance : 0;
    if (distance > 1 && n > DISTANCE2_MAX_ENTRIES) {
      distance = 1;
      this.warning = `match distance ${list.maxDistance} is allowed on lists of at most ${DISTANCE2_MAX_ENTRIES} entries; this one (${n}) is matched within 1 character`;
    }
    this.distance = distance;
    this.canonIndex = HashIndex.build(n, (emit) => {
      for (let r = 0; r < n; r++) {
        if (len[r]! > 0) emit(hashBytes(canon, r * STRIDE, len[r]!), r);
      }
    });
    // about two keys a bucket: a bucket's items share a cache line, so this costs little time and saves 16 MB a million
    this.delIndex = distance > 0 ? HashIndex.build(n * (distance === 1 ? 4 : 14), (emit) => this.deletions(distance, emit)) : null;
  }

  /** Every variant of every entry with 1 (and, for distance 2, 2) characters left out. */
  private deletions(distance: number, emit: (hash: number, item: number) => void): void {
    const { canon, len, n } = this;
    const del = new Uint32Array(STRIDE);
    for (let r = 0; r < n; r++) {
      const l = len[r]!;
      const off = r * STRIDE;
      deletionHashes(canon, off, l, del);
      for (let i = 0; i < l; i++) {
        // leaving out either of two equal neighbours gives the same variant: one is enough
        if (i > 0 && canon[off + i] === canon[off + i - 1]) continue;
        emit(del[i]!, r);
      }
      if (distance < 2) continue;
      for (let i = 0; i < l; i++) {
        for (let j = i + 1; j < l; j++) emit(hashBytes(canon, off, l, i, j), r);
      }
    }
  }

  /** The row of an entry id, or -1 (ids are in ascending order). */
  rowOf(entryId: number): number {
    let lo = 0;
    let hi = this.n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.ids[mid]!;
      if (v === entryId) return mid;
      if (v < entryId) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  plate(row: number): string {
    const l = this.len[row]!;
    if (l === 0) return this.wildcards.find((w) => w.row === row)?.text ?? '';
    return String.fromCharCode(...this.raw.subarray(row * STRIDE, row * STRIDE + l));
  }

  state(row: number): string | null {
    const s = this.states[row]!;
    return s === 0 ? null : String.fromCharCode(s >> 8, s & 0xff);
  }

  code(row: number): string | null {
    const c = this.codes[row]!;
    return c === 0 ? null : this.codeNames[c - 1]!;
  }

  /** Whether the row can match at `now`. */
  live(row: number, now: number): boolean {
    return this.dead[row] === 0 && (this.expires === null || this.expires[row]! > now);
  }

  get bytes(): number {
    return (
      this.ids.byteLength +
      this.len.byteLength +
      this.raw.byteLength +
      this.canon.byteLength +
      this.states.byteLength +
      this.codes.byteLength +
      (this.expires?.byteLength ?? 0) +
      this.dead.byteLength +
      this.canonIndex.bytes +
      (this.delIndex?.bytes ?? 0)
    );
  }
}

/** Collects entries (in ascending id order) into the arrays of a segment. */
export class SegmentBuilder {
  private n = 0;
  private cap: number;
  private ids: Float64Array;
  private len: Uint8Array;
  private raw: Uint8Array;
  private canon: Uint8Array;
  private states: Uint16Array;
  private codes: Uint8Array;
  private expires: Float64Array;
  private readonly codeNames: string[] = [];
  private readonly wildcards: WildcardEntry[] = [];
  private lastId = -Infinity;
  private anyExpiry = false;

  constructor(capacity = 64) {
    this.cap = Math.max(1, capacity);
    this.ids = new Float64Array(this.cap);
    this.len = new Uint8Array(this.cap);
    this.raw = new Uint8Array(this.cap * STRIDE);
    this.canon = new Uint8Array(this.cap * STRIDE);
    this.states = new Uint16Array(this.cap);
    this.codes = new Uint8Array(this.cap);
    this.expires = new Float64Array(this.cap);
  }

  /** `plate`: normalised (A-Z, 0-9, and ? * for a partial plate). */
  add(id: number, plate: string, state: string | null, code: string | null, expiresAt: number | null): void {
    if (id <= this.lastId) throw new Error(`hot list entries must be added in ascending id order (${id} after ${this.lastId})`);
    this.lastId = id;
    if (this.n === this.cap) this.grow();
    const r = this.n++;
    this.ids[r] = id;
    this.states[r] = state && state.length === 2 ? (state.charCodeAt(0) << 8) | state.charCodeAt(1) : 0;
    if (code) {
      let c = this.codeNames.indexOf(code);
      if (c < 0 && this.codeNames.length < 255) c = this.codeNames.push(code) - 1;
      this.codes[r] = c + 1;
    }
    this.expires[r] = expiresAt ?? Infinity;
    if (expiresAt !== null) this.anyExpiry = true;
    if (plate.includes('?') || plate.includes('*')) {
      const raw = Uint8Array.from(plate, (ch) => ch.charCodeAt(0));
      this.wildcards.push({ row: r, text: plate, raw, canon: raw.map((c) => CANONICAL_CODE[c]!) });
      this.len[r] = 0;
      return;
    }
    const l = Math.min(plate.length, STRIDE);
    this.len[r] = l;
    const off = r * STRIDE;
    for (let i = 0; i < l; i++) {
      const c = plate.charCodeAt(i);
      this.raw[off + i] = c;
      this.canon[off + i] = CANONICAL_CODE[c & 0x7f]!;
    }
  }

  private grow(): void {
    const cap = this.cap * 2;
    const grow = <T extends Float64Array | Uint8Array | Uint16Array>(a: T, size: number): T => {
      const b = new (a.constructor as new (n: number) => T)(size);
      b.set(a);
      return b;
    };
    this.ids = grow(this.ids, cap);
    this.len = grow(this.len, cap);
    this.raw = grow(this.raw, cap * STRIDE);
    this.canon = grow(this.canon, cap * STRIDE);
    this.states = grow(this.states, cap);
    this.codes = grow(this.codes, cap);
    this.expires = grow(this.expires, cap);
    this.cap = cap;
  }

  build(list: ListInfo): Segment {
    const n = this.n;
    // trimmed copies: a list of a million leaves no half-empty doubled arrays behind
    return new Segment(
      list,
      n,
      this.ids.slice(0, n),
      this.len.slice(0, n),
      this.raw.slice(0, n * STRIDE),
      this.canon.slice(0, n * STRIDE),
      this.states.slice(0, n),
      this.codes.slice(0, n),
      this.codeNames,
      this.anyExpiry ? this.expires.slice(0, n) : null,
      new Uint8Array(n),
      this.wildcards,
    );
  }
}

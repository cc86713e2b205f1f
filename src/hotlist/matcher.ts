import { deletionHashes, hashBytes } from './hash-index.js';
import { CANONICAL_CODE } from './plate.js';
import { STRIDE, type ListInfo, type Segment } from './segment.js';
import { globMatch, MAX_TEXT_LENGTH, WildcardIndex, type PatternRef } from './wildcards.js';

/**
 * Matching reads against every list in memory. A read is matched on its best text and on each of its OCR
 * candidates (an O read for a 0 in the best text is often right in the second candidate), each text:
 *   - exactly, and with OCR-equivalent characters (O/0/D/Q, I/1/L, B/8, S/5, Z/2, G/6): one hash lookup of the
 *     text's equivalent form per list;
 *   - within N differing characters (substituted, missing or extra), on lists whose policy allows it, for the
 *     best text and the next different candidate: the symmetric-deletion method, in which an entry and a text
 *     within N edits share a variant with at most N characters left out of each, so lookups of the text's
 *     deletion variants in an index of the entries' deletion variants find every such entry (each then checked
 *     with an edit distance);
 *   - against partial plates (wildcards.ts).
 * Everything here is synchronous and allocates nothing for a read that matches nothing.
 */

export type MatchHow = 'exact' | 'equivalent' | 'distance' | 'wildcard';

/** A read's texts: its best text and its OCR candidates (best first), as the read store keeps them. */
export interface ReadTexts {
  plate: string;
  candidates?: ReadonlyArray<{ text: string }>;
  /** The US state read on the plate, if one was: a hit on an entry of another state is marked, not dropped. */
  state?: { code: string; confidence: number } | null;
}

export interface Hit {
  entryId: number;
  listId: number;
  list: string;
  category: string;
  /** The list's alert level: 1 is the most urgent. */
  priority: number;
  /** Record the hit, do not alert the officer. */
  covert: boolean;
  /** The entry's plate, or its pattern for a partial plate. */
  plate: string;
  state: string | null;
  /** NCIC list code or CLEW file kind of the entry. */
  code: string | null;
  how: MatchHow;
  /** Characters that differ beyond OCR-equivalent ones (how = distance); 0 otherwise. */
  distance: number;
  /** The read's text that matched. */
  text: string;
  /** 0: the read's best text matched; n: its n-th OCR candidate did. */
  candidate: number;
  /**
   * The read's state was read confidently (>= STATE_CONFIDENT) and is not the entry's state. The hit stands
   * (plate numbers repeat across states, and a state name can be misread) but the officer is told.
   */
  stateMismatch: boolean;
}

/** A state read on a plate with at least this confidence (0-1) can disagree with an entry's state. */
export const STATE_CONFIDENT = 0.8;

/** Whether a confidently read state differs from the entry's (an entry without a state never differs). */
export function stateDisagrees(read: ReadTexts['state'], entryState: string | null): boolean {
  return !!read && read.confidence >= STATE_CONFIDENT && !!entryState && entryState.toUpperCase() !== read.code;
}

const MAX_TEXTS = 64;
/**
 * Matching within a distance looks at the read's first two different texts only: its best text and the next OCR
 * candidate. The candidates are already the recognizer's alternatives for doubtful characters; allowing one more
 * difference in each of ten of them would multiply both the lookups and the strangers found (see "Choosing a
 * policy" in docs/hotlists.md).
 */
const DISTANCE_TEXTS = 2;
const HOW_RANK: Record<MatchHow, number> = { exact: 0, equivalent: 1, distance: 2, wildcard: 4 };

export class HotlistMatcher {
  private segments: Segment[] = [];
  private wildcards = new WildcardIndex([]);
  private wildOut = new Int32Array(0);

  // The texts of the read being matched, in preallocated arrays (a read is matched in microseconds; allocating
  // and collecting a few objects per text would be a good part of that).
  private readonly raw = new Uint8Array(MAX_TEXTS * MAX_TEXT_LENGTH);
  private readonly canon = new Uint8Array(MAX_TEXTS * MAX_TEXT_LENGTH);
  private readonly len = new Uint8Array(MAX_TEXTS);
  private readonly hash = new Uint32Array(MAX_TEXTS);
  /** Position of the text in the read (0: best text, n: n-th candidate). */
  private readonly rank = new Uint8Array(MAX_TEXTS);
  /** The first text with the same OCR-equivalent form (itself if none before it). */
  private readonly group = new Uint8Array(MAX_TEXTS);
  private readonly delHash = new Uint32Array(MAX_TEXT_LENGTH);
  private readonly lev0 = new Int32Array(MAX_TEXT_LENGTH + 2);
  private readonly lev1 = new Int32Array(MAX_TEXT_LENGTH + 2);

  // Hits of the read being matched: (segment, row) and how, the best kept per entry.
  private found: Array<{ seg: Segment; row: number; how: MatchHow; distance: number; text: number }> = [];

  /** Replaces the segments of a list (none: the list is gone). */
  setList(listId: number, segments: Segment[]): void {
    this.segments = [...this.segments.filter((s) => s.list.id !== listId), ...segments];
    this.rebuildWildcards();
  }

  removeList(listId: number): void {
    this.setList(listId, []);
  }

  /** The lists in memory (their info objects: a caller may update their settings in place). */
  lists(): ListInfo[] {
    return [...new Set(this.segments.map((s) => s.list))];
  }

  segmentsOf(listId: number): Segment[] {
    return this.segments.filter((s) => s.list.id === listId);
  }

  /** Stops an entry from matching, at once. Returns false when no list in memory holds it. */
  kill(entryId: number): boolean {
    for (const s of this.segments) {
      const row = s.rowOf(entryId);
      if (row >= 0) {
        s.dead[row] = 1;
        return true;
      }
    }
    return false;
  }

  get stats(): { lists: number; entries: number; wildcards: number; bytes: number } {
    return {
      lists: new Set(this.segments.map((s) => s.list.id)).size,
      entries: this.segments.reduce((n, s) => n + s.n, 0),
      wildcards: this.wildcards.size,
      bytes: this.segments.reduce((n, s) => n + s.bytes, 0),
    };
  }

  private rebuildWildcards(): void {
    const refs: PatternRef[] = [];
    for (const seg of this.segments) for (const entry of seg.wildcards) refs.push({ seg, entry });
    this.wildcards = new WildcardIndex(refs);
    this.wildOut = new Int32Array(refs.length);
  }

  /** The hot list entries a read matches at time `now` (expired lists and entries do not), most urgent first; [] for most reads. */
  match(read: ReadTexts, now: number): Hit[] {
    const texts = this.prepare(read);
    if (texts === 0) return [];
    this.found.length = 0;
    for (const seg of this.segments) {
      const list = seg.list;
      if (list.expiresAt !== null && list.expiresAt <= now) continue;
      for (let t = 0; t < texts; t++) {
        if (this.group[t] !== t) continue; // same OCR-equivalent form as an earlier text: same lookups
        this.lookupEqual(seg, t, texts, now);
        if (seg.delIndex && t < DISTANCE_TEXTS) this.lookupDistance(seg, t, now);
      }
    }
    if (this.wildcards.size > 0) this.matchWildcards(texts, now);
    if (this.found.length === 0) return [];
    const hits = this.found.map(({ seg, row, how, distance, text }): Hit => ({
      entryId: seg.ids[row]!,
      listId: seg.list.id,
      list: seg.list.name,
      category: seg.list.category,
      priority: seg.list.priority,
      covert: seg.list.covert,
      plate: seg.plate(row),
      state: seg.state(row),
      code: seg.code(row),
      how,
      distance,
      text: String.fromCharCode(...this.raw.subarray(text * MAX_TEXT_LENGTH, text * MAX_TEXT_LENGTH + this.len[text]!)),
      candidate: this.rank[text]!,
      stateMismatch: stateDisagrees(read.state, seg.state(row)),
    }));
    this.found.length = 0;
    return hits.sort((a, b) => a.priority - b.priority || HOW_RANK[a.how] - HOW_RANK[b.how] || a.distance - b.distance || a.list.localeCompare(b.list));
  }

  /** Normalises the read's texts into the scratch arrays, leaving out repeats; returns how many there are. */
  private prepare(read: ReadTexts): number {
    let n = 0;
    const cands = read.candidates ?? [];
    for (let k = -1; k < cands.length && n < MAX_TEXTS; k++) {
      const s = k < 0 ? read.plate : cands[k]!.text;
      const off = n * MAX_TEXT_LENGTH;
      let l = 0;
      for (let i = 0; i < s.length; i++) {
        let c = s.charCodeAt(i);
        if (c >= 97 && c <= 122) c -= 32;
        if (!((c >= 65 && c <= 90) || (c >= 48 && c <= 57))) continue;
        if (l === MAX_TEXT_LENGTH) {
          l = MAX_TEXT_LENGTH + 1;
          break;
        }
        this.raw[off + l] = c;
        this.canon[off + l] = CANONICAL_CODE[c]!;
        l++;
      }
      if (l === 0 || l > MAX_TEXT_LENGTH) continue;
      let dup = false;
      let group = n;
      for (let t = 0; t < n && !dup; t++) {
        if (this.len[t] !== l) continue;
        const toff = t * MAX_TEXT_LENGTH;
        let sameRaw = true;
        let sameCanon = true;
        for (let i = 0; i < l; i++) {
          if (this.raw[toff + i] !== this.raw[off + i]) sameRaw = false;
          if (this.canon[toff + i] !== this.canon[off + i]) {
            sameCanon = false;
            break;
          }
        }
        if (sameRaw && sameCanon) dup = true;
        else if (sameCanon && group === n) group = this.group[t]!;
      }
      if (dup) continue;
      this.len[n] = l;
      this.group[n] = group;
      this.rank[n] = k + 1;
      this.hash[n] = group === n ? hashBytes(this.canon, off, l) : this.hash[group]!;
      n++;
    }
    return n;
  }

  /** Entries equal to text t in OCR-equivalent form: exact if one of the texts of its group is equal as read. */
  private lookupEqual(seg: Segment, t: number, texts: number, now: number): void {
    const idx = seg.canonIndex;
    const h = this.hash[t]!;
    const l = this.len[t]!;
    const toff = t * MAX_TEXT_LENGTH;
    for (let i = idx.start(h), end = idx.end(h); i < end; i++) {
      const row = idx.item(i, h);
      if (row < 0 || seg.len[row] !== l) continue;
      const roff = row * STRIDE;
      if (!sameBytes(seg.canon, roff, this.canon, toff, l) || !seg.live(row, now)) continue;
      // the first text of the group that is the entry exactly, else the group's first text
      let exact = -1;
      for (let u = t; u < texts && exact < 0; u++) {
        if (this.group[u] !== t) continue;
        if (sameBytes(seg.raw, roff, this.raw, u * MAX_TEXT_LENGTH, l)) exact = u;
      }
      if (exact >= 0) this.record(seg, row, 'exact', 0, exact);
      else if (seg.list.policy !== 'exact') this.record(seg, row, 'equivalent', 0, t);
    }
  }

  /** Entries within the list's distance of text t (beyond OCR-equivalent characters). */
  private lookupDistance(seg: Segment, t: number, now: number): void {
    const l = this.len[t]!;
    const off = t * MAX_TEXT_LENGTH;
    const d = seg.distance;
    const c = this.canon;
    // the text itself among the entries' deletions (an entry with characters more)
    this.probeDistance(seg, seg.delIndex!, this.hash[t]!, t, now);
    const del = this.delHash;
    deletionHashes(c, off, l, del);
    for (let i = 0; i < l; i++) {
      if (i > 0 && c[off + i] === c[off + i - 1]) continue;
      const h = del[i]!;
      this.probeDistance(seg, seg.canonIndex, h, t, now); // an entry with a character less
      this.probeDistance(seg, seg.delIndex!, h, t, now); // one character different (or more, up to d)
    }
    if (d < 2) return;
    for (let i = 0; i < l; i++) {
      for (let j = i + 1; j < l; j++) {
        const h = hashBytes(c, off, l, i, j);
        this.probeDistance(seg, seg.canonIndex, h, t, now);
        this.probeDistance(seg, seg.delIndex!, h, t, now);
      }
    }
  }

  private probeDistance(seg: Segment, idx: Segment['canonIndex'], h: number, t: number, now: number): void {
    const l = this.len[t]!;
    for (let i = idx.start(h), end = idx.end(h); i < end; i++) {
      const row = idx.item(i, h);
      if (row < 0) continue;
      const rl = seg.len[row]!;
      if (rl === 0 || Math.abs(rl - l) > seg.distance) continue;
      const dist = this.editDistance(seg.canon, row * STRIDE, rl, t, seg.distance);
      // 0: equal in OCR-equivalent form, which lookupEqual has recorded
      if (dist > 0 && dist <= seg.distance && seg.live(row, now)) this.record(seg, row, 'distance', dist, t);
    }
  }

  /** Levenshtein distance between an entry and text t (OCR-equivalent forms), or max + 1 once it exceeds max. */
  private editDistance(e: Uint8Array, eoff: number, el: number, t: number, max: number): number {
    const q = this.canon;
    const qoff = t * MAX_TEXT_LENGTH;
    const ql = this.len[t]!;
    let prev = this.lev0;
    let cur = this.lev1;
    for (let j = 0; j <= ql; j++) prev[j] = j;
    for (let i = 1; i <= el; i++) {
      cur[0] = i;
      let rowMin = i;
      const ec = e[eoff + i - 1];
      for (let j = 1; j <= ql; j++) {
        const sub = prev[j - 1]! + (ec === q[qoff + j - 1] ? 0 : 1);
        const v = Math.min(sub, prev[j]! + 1, cur[j - 1]! + 1);
        cur[j] = v;
        if (v < rowMin) rowMin = v;
      }
      if (rowMin > max) return max + 1;
      const swap = prev;
      prev = cur;
      cur = swap;
    }
    return prev[ql]!;
  }

  private matchWildcards(texts: number, now: number): void {
    const out = this.wildOut;
    for (let t = 0; t < texts; t++) {
      const off = t * MAX_TEXT_LENGTH;
      const l = this.len[t]!;
      const n = this.wildcards.candidates(this.canon, off, l, out);
      for (let k = 0; k < n; k++) {
        const { seg, entry } = this.wildcards.patterns[out[k]!]!;
        const list = seg.list;
        if ((list.expiresAt !== null && list.expiresAt <= now) || !seg.live(entry.row, now)) continue;
        const ok = list.policy === 'exact' ? globMatch(entry.raw, this.raw, off, l) : globMatch(entry.canon, this.canon, off, l);
        if (ok) this.record(seg, entry.row, 'wildcard', 0, t);
      }
    }
  }

  /** Keeps the best way an entry was matched: exact, then equivalent, then the smallest distance; then the best text. */
  private record(seg: Segment, row: number, how: MatchHow, distance: number, text: number): void {
    for (const f of this.found) {
      if (f.seg !== seg || f.row !== row) continue;
      const better =
        HOW_RANK[how] < HOW_RANK[f.how] ||
        (how === f.how && (distance < f.distance || (distance === f.distance && this.rank[text]! < this.rank[f.text]!)));
      if (better) Object.assign(f, { how, distance, text });
      return;
    }
    this.found.push({ seg, row, how, distance, text });
  }
}

/** Whether the `n` bytes of `a` from `aoff` are those of `b` from `boff`. */
function sameBytes(a: Uint8Array, aoff: number, b: Uint8Array, boff: number, n: number): boolean {
  for (let j = 0; j < n; j++) if (a[aoff + j] !== b[boff + j]) return false;
  return true;
}

/** In words, for `alpr-edge hotlist test` and the alert: why the read's text matched the entry. */
export function explainHit(hit: Hit): string {
  const from = hit.candidate === 0 ? 'the read' : `OCR candidate ${hit.candidate}`;
  switch (hit.how) {
    case 'exact':
      return `${from} ${hit.text} is the entry exactly`;
    case 'equivalent': {
      const diffs: string[] = [];
      for (let i = 0; i < hit.text.length; i++) {
        if (hit.text[i] !== hit.plate[i]) diffs.push(`${hit.text[i]} for ${hit.plate[i]} at ${i + 1}`);
      }
      return `${from} ${hit.text} is the entry with OCR-equivalent characters (${diffs.join(', ')})`;
    }
    case 'distance':
      return `${from} ${hit.text} differs from the entry in ${hit.distance} character(s) beyond OCR-equivalent ones`;
    case 'wildcard':
      return `${from} ${hit.text} fits the partial plate ${hit.plate}`;
  }
}

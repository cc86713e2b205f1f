import { CANONICAL_CODE, MAX_PLATE_LENGTH } from './plate.js';
import type { Segment, WildcardEntry } from './segment.js';

/**
 * Partial plates (`?` one character, `*` any run, also none), all lists together. Testing each of a thousand
 * patterns against every text of every read would cost far more than the 50 µs a read may take, so most patterns
 * are never tested: a pattern constrains the characters at the start of a text (before its first `*`) and at the
 * end (after its last `*`), and its length. One bitset per (position, character) says which patterns accept that
 * character there; a text's candidates are the AND of its characters' bitsets and its length's, a few hundred
 * word operations for a thousand patterns. Only the survivors are tested in full.
 *
 * A pattern that begins and ends with `*` ("contains ...") constrains neither end: it is found through a pair of
 * adjacent characters it contains, or, lacking one, tested against every text.
 *
 * The bitsets are built on OCR-equivalent characters, which accept at least what the exact form does; the test
 * in full follows the list's policy.
 */

export interface PatternRef {
  seg: Segment;
  entry: WildcardEntry;
}

/** Texts longer than this are not plates (nor partial ones); they are not matched. */
export const MAX_TEXT_LENGTH = 16;

/** Character classes of the OCR-equivalent alphabet: 27 (10 digits and the 17 letters left); 27: anything else. */
const CLASSES = 28;
const CLASS_OF = new Uint8Array(128).fill(CLASSES - 1);
{
  let k = 0;
  for (let c = 0; c < 128; c++) {
    const ch = String.fromCharCode(c);
    if (/[A-Z0-9]/.test(ch) && CANONICAL_CODE[c] === c) CLASS_OF[c] = k++;
  }
}
const QUESTION = '?'.charCodeAt(0);
const STAR = '*'.charCodeAt(0);
const POSITIONS = MAX_PLATE_LENGTH;

export class WildcardIndex {
  readonly patterns: readonly PatternRef[];
  private readonly words: number;
  private readonly pre: Uint32Array;
  private readonly suf: Uint32Array;
  private readonly lenOk: Uint32Array;
  private readonly maxPre: number;
  private readonly maxSuf: number;
  /** "Contains" patterns by a pair of adjacent characters (c1 << 7 | c2), and those without one. */
  private readonly floating: Array<number[] | undefined> = new Array<number[] | undefined>(128 * 128);
  private floatingCount = 0;
  private readonly always: number[] = [];
  private readonly acc: Uint32Array;
  private readonly stamp: Uint32Array;
  private query = 0;

  constructor(patterns: PatternRef[]) {
    this.patterns = patterns;
    const P = patterns.length;
    const W = (this.words = Math.max(1, Math.ceil(P / 32)));
    this.pre = new Uint32Array(POSITIONS * CLASSES * W).fill(0xffffffff);
    this.suf = new Uint32Array(POSITIONS * CLASSES * W).fill(0xffffffff);
    this.lenOk = new Uint32Array((MAX_TEXT_LENGTH + 1) * W);
    this.acc = new Uint32Array(W);
    this.stamp = new Uint32Array(P);
    let maxPre = 0;
    let maxSuf = 0;
    patterns.forEach(({ entry }, p) => {
      const c = entry.canon;
      const firstStar = c.indexOf(STAR);
      const lastStar = c.lastIndexOf(STAR);
      const word = p >>> 5;
      const bit = 1 << (p & 31);
      if (firstStar === 0 && lastStar === c.length - 1) {
        this.addFloating(p, c);
        return;
      }
      const prefix = firstStar < 0 ? c : c.subarray(0, firstStar);
      const suffix = firstStar < 0 ? c.subarray(0, 0) : c.subarray(lastStar + 1);
      const constrain = (table: Uint32Array, pos: number, ch: number) => {
        if (ch === QUESTION) return;
        const keep = CLASS_OF[ch]!;
        for (let k = 0; k < CLASSES; k++) if (k !== keep) table[(pos * CLASSES + k) * W + word]! &= ~bit;
      };
      prefix.forEach((ch, pos) => constrain(this.pre, pos, ch));
      for (let pos = 0; pos < suffix.length; pos++) constrain(this.suf, pos, suffix[suffix.length - 1 - pos]!);
      maxPre = Math.max(maxPre, prefix.length);
      maxSuf = Math.max(maxSuf, suffix.length);
      const fixed = firstStar < 0;
      const minLen = c.length - (fixed ? 0 : c.filter((x) => x === STAR).length);
      for (let L = 0; L <= MAX_TEXT_LENGTH; L++) {
        if (fixed ? L === c.length : L >= minLen) this.lenOk[L * W + word]! |= bit;
      }
    });
    this.maxPre = maxPre;
    this.maxSuf = maxSuf;
  }

  private addFloating(p: number, c: Uint8Array): void {
    for (let i = 0; i + 1 < c.length; i++) {
      if (c[i] !== QUESTION && c[i] !== STAR && c[i + 1] !== QUESTION && c[i + 1] !== STAR) {
        const key = (c[i]! << 7) | c[i + 1]!;
        (this.floating[key] ??= []).push(p);
        this.floatingCount++;
        return;
      }
    }
    this.always.push(p);
  }

  get size(): number {
    return this.patterns.length;
  }

  /**
   * Writes to `out` the numbers of the patterns that may match the text (OCR-equivalent codes `canon[off ..
   * off + len]`) and returns how many. The caller tests each in full.
   */
  candidates(canon: Uint8Array, off: number, len: number, out: Int32Array): number {
    const P = this.patterns.length;
    if (P === 0 || len > MAX_TEXT_LENGTH) return 0;
    const W = this.words;
    const acc = this.acc;
    const { pre, suf, lenOk } = this;
    let any = 0;
    for (let w = 0, b = len * W; w < W; w++) any |= acc[w] = lenOk[b + w]!;
    // the first and last characters first: they turn most patterns away, and once none is left the rest is skipped
    const npre = Math.min(len, this.maxPre);
    const nsuf = Math.min(len, this.maxSuf);
    for (let pos = 0; any !== 0 && pos < Math.max(npre, nsuf); pos++) {
      any = 0;
      if (pos < npre) {
        const base = (pos * CLASSES + CLASS_OF[canon[off + pos]!]!) * W;
        for (let w = 0; w < W; w++) any |= acc[w]! &= pre[base + w]!;
      }
      if (pos < nsuf) {
        any = 0;
        const base = (pos * CLASSES + CLASS_OF[canon[off + len - 1 - pos]!]!) * W;
        for (let w = 0; w < W; w++) any |= acc[w]! &= suf[base + w]!;
      }
    }
    let n = 0;
    for (let w = 0; any !== 0 && w < W; w++) {
      let bits = acc[w]!;
      while (bits !== 0) {
        const low = bits & -bits;
        out[n++] = (w << 5) + 31 - Math.clz32(low);
        bits ^= low;
      }
    }
    if (this.floatingCount > 0 || this.always.length > 0) {
      // a "contains" pattern can be reached through several pairs of the text: stamp it so it is listed once
      const q = ++this.query;
      for (let i = 0; i + 1 < len; i++) {
        const list = this.floating[(canon[off + i]! << 7) | canon[off + i + 1]!];
        if (!list) continue;
        for (const p of list) {
          if (this.stamp[p] !== q) {
            this.stamp[p] = q;
            out[n++] = p;
          }
        }
      }
      for (const p of this.always) out[n++] = p;
    }
    return n;
  }
}

/** Whether the text `t[off .. off + len]` matches the pattern (`?` one character, `*` any run, also none). */
export function globMatch(p: Uint8Array, t: Uint8Array, off: number, len: number): boolean {
  let pi = 0;
  let ti = 0;
  let starP = -1;
  let starT = 0;
  while (ti < len) {
    const pc = pi < p.length ? p[pi]! : -1;
    if (pc === STAR) {
      starP = pi++;
      starT = ti;
    } else if (pc === QUESTION || (pc !== -1 && pc === t[off + ti])) {
      pi++;
      ti++;
    } else if (starP >= 0) {
      pi = starP + 1;
      ti = ++starT;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === STAR) pi++;
  return pi === p.length;
}

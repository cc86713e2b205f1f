/**
 * A read-only multimap from 32-bit key hashes to entry numbers (rows, below 2^24), in two typed arrays
 * (compressed rows: the items of bucket b are items[offsets[b] .. offsets[b + 1]]). A million entries cost 8 MB
 * here where a JavaScript Map of strings costs about 80 MB; a lookup is two array reads. Buckets hold hashes, not
 * keys: each item carries in its top 8 bits 8 more bits of its key's hash (its tag), which turns away all but one
 * in 256 of the items that only share the bucket, without reading the entry; the caller checks the rest against
 * the key it looked for.
 */
export class HashIndex {
  private constructor(
    private readonly mask: number,
    private readonly offsets: Uint32Array,
    private readonly items: Uint32Array,
  ) {}

  /** Most rows an index can refer to (the top 8 bits of an item hold its tag). */
  static readonly MAX_ITEMS = 1 << 24;

  /**
   * Builds the index from `forEachKey`, which must emit the same (hash, item) pairs each time it is called: it is
   * called twice (count, then fill), so no array of all pairs is ever held. `expected`: about how many pairs.
   */
  static build(expected: number, forEachKey: (emit: (hash: number, item: number) => void) => void): HashIndex {
    if (expected > HashIndex.MAX_ITEMS * 32) throw new Error(`a hot list index holds at most ${HashIndex.MAX_ITEMS} entries`);
    let buckets = 1;
    while (buckets < expected) buckets *= 2;
    const mask = buckets - 1;
    const offsets = new Uint32Array(buckets + 1);
    let total = 0;
    forEachKey((hash) => {
      offsets[(hash & mask) + 1]!++;
      total++;
    });
    for (let b = 1; b <= buckets; b++) offsets[b]! += offsets[b - 1]!;
    const items = new Uint32Array(total);
    const cursor = offsets.slice(0, buckets);
    forEachKey((hash, item) => {
      if (item >= HashIndex.MAX_ITEMS) throw new Error(`a hot list holds at most ${HashIndex.MAX_ITEMS} entries in memory`);
      items[cursor[hash & mask]!++] = ((hash >>> 24) << 24) | item;
    });
    return new HashIndex(mask, offsets, items);
  }

  /** First and end (exclusive) positions in `items` of the bucket a hash falls in. */
  start(hash: number): number {
    return this.offsets[hash & this.mask]!;
  }

  end(hash: number): number {
    return this.offsets[(hash & this.mask) + 1]!;
  }

  /** The item at position i if its tag fits the hash, else -1. */
  item(i: number, hash: number): number {
    const v = this.items[i]!;
    return v >>> 24 === hash >>> 24 ? v & 0xffffff : -1;
  }

  get bytes(): number {
    return this.offsets.byteLength + this.items.byteLength;
  }
}

// Keys are hashed as a polynomial (Horner's rule, modulo 2^32), so that the hash of a key with one character left
// out follows from prefix and suffix sums without going over the key again (deletionHashes), then mixed so that
// the bucket (low bits) and the tag (high bits) depend on every character.
const BASE = 0x01000193;
const MAX_KEY = 32;
const POW = new Int32Array(MAX_KEY + 1);
POW[0] = 1;
for (let i = 1; i <= MAX_KEY; i++) POW[i] = Math.imul(POW[i - 1]!, BASE);

function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hash of `len` bytes of `buf` from `off`, leaving out the bytes at positions `skip1` and `skip2` (-1: none). */
export function hashBytes(buf: Uint8Array, off: number, len: number, skip1 = -1, skip2 = -1): number {
  let h = 0;
  for (let i = 0; i < len; i++) {
    if (i === skip1 || i === skip2) continue;
    h = (Math.imul(h, BASE) + buf[off + i]!) | 0;
  }
  return mix(h);
}

const prefix = new Int32Array(MAX_KEY + 1);
const suffix = new Int32Array(MAX_KEY + 1);

/**
 * out[i] = hashBytes(buf, off, len, i) for each position i < len (len <= 32), in one pass over the key: the
 * polynomial of the characters before i, shifted over those after it, plus the polynomial of those after it.
 */
export function deletionHashes(buf: Uint8Array, off: number, len: number, out: Uint32Array): void {
  prefix[0] = 0;
  for (let i = 0; i < len; i++) prefix[i + 1] = (Math.imul(prefix[i]!, BASE) + buf[off + i]!) | 0;
  suffix[len] = 0;
  for (let i = len - 1; i >= 0; i--) suffix[i] = (Math.imul(buf[off + i]!, POW[len - 1 - i]!) + suffix[i + 1]!) | 0;
  for (let i = 0; i < len; i++) out[i] = mix((Math.imul(prefix[i]!, POW[len - 1 - i]!) + suffix[i + 1]!) | 0);
}

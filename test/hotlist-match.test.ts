import { describe, expect, it } from 'vitest';
import { explainHit, HotlistMatcher, type Hit } from '../src/hotlist/matcher.js';
import { canonicalPlate } from '../src/hotlist/plate.js';
import { SegmentBuilder, type ListInfo, type MatchPolicy } from '../src/hotlist/segment.js';

/** Matching in memory: each way a read can hit an entry, and a cross-check against a plain implementation. */

/** Any fixed time: no list or entry here expires unless a test says so. */
const NOW = Date.UTC(2026, 10, 22);

let nextList = 1;
function list(policy: MatchPolicy, maxDistance = 0, extra: Partial<ListInfo> = {}): ListInfo {
  const id = nextList++;
  return { id, name: `list${id}`, category: 'test', priority: 5, covert: false, policy, maxDistance, expiresAt: null, ...extra };
}

function matcherWith(info: ListInfo, plates: Array<string | [string, number | null]>, firstId = 1): HotlistMatcher {
  const m = new HotlistMatcher();
  const b = new SegmentBuilder();
  plates.forEach((p, i) => {
    const [plate, expires] = typeof p === 'string' ? [p, null] : p;
    b.add(firstId + i, plate, 'CA', 'V', expires);
  });
  m.setList(info.id, [b.build(info)]);
  return m;
}

const summary = (hits: Hit[]) => hits.map((h) => `${h.plate} ${h.how}${h.how === 'distance' ? h.distance : ''} ${h.text}#${h.candidate}`);

describe('matching a read', () => {
  it('exact: the read is the entry; the hit says which entry, list and how', () => {
    const info = list('exact');
    const m = matcherWith(info, ['7ABC123', '5KDW837']);
    const hits = m.match({ plate: '7ABC123' }, NOW);
    expect(hits).toEqual([
      {
        entryId: 1,
        listId: info.id,
        list: info.name,
        category: 'test',
        priority: 5,
        covert: false,
        plate: '7ABC123',
        state: 'CA',
        code: 'V',
        how: 'exact',
        distance: 0,
        text: '7ABC123',
        candidate: 0,
        stateMismatch: false,
      },
    ]);
    expect(m.match({ plate: '7ABC124' }, NOW)).toEqual([]);
  });

  it('OCR-equivalent characters (O/0/D/Q, I/1/L, B/8, S/5, Z/2, G/6) match on an equivalent list, not on an exact one', () => {
    const plates = ['7ABC123', '5KDW837', 'SIG6O2Q'];
    const eq = matcherWith(list('equivalent'), plates);
    const ex = matcherWith(list('exact'), plates);
    for (const [read, entry] of [
      ['7A8C1Z3', '7ABC123'],
      ['5K0W837', '5KDW837'],
      ['5KQW837', '5KDW837'],
      ['51G60ZD', 'SIG6O2Q'],
      ['SLGGOZO', 'SIG6O2Q'],
    ]) {
      expect(summary(eq.match({ plate: read! }, NOW)), read).toEqual([`${entry} equivalent ${read}#0`]);
      expect(ex.match({ plate: read! }, NOW), read).toEqual([]);
    }
    // other letters are not equivalent to anything
    expect(eq.match({ plate: '7AEC123' }, NOW)).toEqual([]);
  });

  it('an OCR candidate that is the entry hits even when the best text does not', () => {
    const m = matcherWith(list('exact'), ['7ABC123']);
    const hits = m.match({ plate: '7ABC128', candidates: [{ text: '7ABC128' }, { text: '7ABG128' }, { text: '7ABC123' }] }, NOW);
    expect(summary(hits)).toEqual(['7ABC123 exact 7ABC123#3']);
    expect(explainHit(hits[0]!)).toBe('OCR candidate 3 7ABC123 is the entry exactly');
  });

  it('an exact candidate is preferred over an equivalent best text', () => {
    const m = matcherWith(list('equivalent'), ['7ABC1O3']);
    const hits = m.match({ plate: '7ABC103', candidates: [{ text: '7ABC103' }, { text: '7ABC1O3' }] }, NOW);
    expect(summary(hits)).toEqual(['7ABC1O3 exact 7ABC1O3#2']);
    expect(explainHit(m.match({ plate: '7ABC103' }, NOW)[0]!)).toBe('the read 7ABC103 is the entry with OCR-equivalent characters (0 for O at 6)');
  });

  it('distance 1: one character substituted, missing or extra (beyond OCR-equivalent ones)', () => {
    const m = matcherWith(list('distance', 1), ['7ABC123']);
    expect(summary(m.match({ plate: '7ABC124' }, NOW))).toEqual(['7ABC123 distance1 7ABC124#0']);
    expect(summary(m.match({ plate: '7ABC12' }, NOW))).toEqual(['7ABC123 distance1 7ABC12#0']);
    expect(summary(m.match({ plate: '7ABC1234' }, NOW))).toEqual(['7ABC123 distance1 7ABC1234#0']);
    expect(summary(m.match({ plate: 'X7ABC123' }, NOW))).toEqual(['7ABC123 distance1 X7ABC123#0']);
    // B read as 8 is equivalent, the 4 is the one difference
    expect(summary(m.match({ plate: '7A8C124' }, NOW))).toEqual(['7ABC123 distance1 7A8C124#0']);
    expect(summary(m.match({ plate: '7ABC123' }, NOW))).toEqual(['7ABC123 exact 7ABC123#0']);
    expect(m.match({ plate: '7AXC124' }, NOW)).toEqual([]);
    expect(m.match({ plate: '7ABC12345' }, NOW)).toEqual([]);
  });

  it('distance applies to the best text and the next different OCR candidate, not to every candidate', () => {
    const m = matcherWith(list('distance', 1), ['7ABC123']);
    const far = ['9XYZ000', '9XYZ001'];
    expect(summary(m.match({ plate: far[0]!, candidates: [{ text: far[0]! }, { text: '7ABC124' }] }, NOW))).toEqual(['7ABC123 distance1 7ABC124#2']);
    expect(m.match({ plate: far[0]!, candidates: [{ text: far[0]! }, { text: far[1]! }, { text: '7ABC124' }] }, NOW)).toEqual([]);
    // equivalent and exact matches are looked for in every candidate
    expect(summary(m.match({ plate: far[0]!, candidates: [{ text: far[0]! }, { text: far[1]! }, { text: '9XYZ002' }, { text: '7A8C123' }] }, NOW))).toEqual([
      '7ABC123 equivalent 7A8C123#4',
    ]);
  });

  it('distance 2 where the policy allows it; an equivalent list never matches at a distance', () => {
    const d2 = matcherWith(list('distance', 2), ['7ABC123']);
    expect(summary(d2.match({ plate: '7AXC124' }, NOW))).toEqual(['7ABC123 distance2 7AXC124#0']);
    expect(summary(d2.match({ plate: 'ABC12' }, NOW))).toEqual(['7ABC123 distance2 ABC12#0']);
    expect(d2.match({ plate: '7XXC124' }, NOW)).toEqual([]);
    expect(matcherWith(list('equivalent'), ['7ABC123']).match({ plate: '7ABC124' }, NOW)).toEqual([]);
  });

  it('partial plates: ? one character, * any run (also none); OCR-equivalent unless the list is exact', () => {
    const m = matcherWith(list('equivalent'), ['7AB?12*', '*K9X*', '??X5*9']);
    const hitsOf = (plate: string) => summary(m.match({ plate }, NOW));
    expect(hitsOf('7ABX12')).toEqual(['7AB?12* wildcard 7ABX12#0']);
    expect(hitsOf('7ABX12QRS')).toEqual(['7AB?12* wildcard 7ABX12QRS#0']);
    expect(hitsOf('7A8X1Z9')).toEqual(['7AB?12* wildcard 7A8X1Z9#0']);
    expect(hitsOf('7ABXY12')).toEqual([]);
    expect(hitsOf('8ABX12')).toEqual([]);
    expect(hitsOf('1K9X22')).toEqual(['*K9X* wildcard 1K9X22#0']);
    expect(hitsOf('K9X')).toEqual(['*K9X* wildcard K9X#0']);
    expect(hitsOf('ABX59')).toEqual(['??X5*9 wildcard ABX59#0']);
    expect(hitsOf('ABXS1239')).toEqual(['??X5*9 wildcard ABXS1239#0']);
    const exact = matcherWith(list('exact'), ['7AB?12*']);
    expect(exact.match({ plate: '7A8X12' }, NOW)).toEqual([]);
    expect(summary(exact.match({ plate: '7A8X12', candidates: [{ text: '7ABX12' }] }, NOW))).toEqual(['7AB?12* wildcard 7ABX12#1']);
  });

  it('a killed (cancelled) entry stops matching at once; an expired entry or list does not match', () => {
    const now = Date.UTC(2026, 10, 22);
    const info = list('equivalent');
    const m = matcherWith(info, ['7ABC123', ['5KDW837', now - 1], ['8XYZ001', now + 1000], '7XY?12*'], 10);
    expect(m.match({ plate: '5KDW837' }, now)).toEqual([]);
    expect(summary(m.match({ plate: '8XYZ001' }, now))).toHaveLength(1);
    expect(m.kill(10)).toBe(true);
    expect(m.match({ plate: '7ABC123' }, now)).toEqual([]);
    expect(m.match({ plate: '7XYZ12' }, now)).toHaveLength(1);
    expect(m.kill(13)).toBe(true);
    expect(m.match({ plate: '7XYZ12' }, now)).toEqual([]);
    expect(m.kill(99)).toBe(false);
    info.expiresAt = now;
    expect(m.match({ plate: '8XYZ001' }, now)).toEqual([]);
  });

  it('hits of several lists come most urgent first', () => {
    const m = new HotlistMatcher();
    const low = list('equivalent', 0, { priority: 7 });
    const high = list('exact', 0, { priority: 1 });
    for (const [info, id] of [
      [low, 1],
      [high, 2],
    ] as const) {
      const b = new SegmentBuilder();
      b.add(id, '7ABC123', null, null, null);
      m.setList(info.id, [b.build(info)]);
    }
    expect(m.match({ plate: '7ABC123' }, NOW).map((h) => h.priority)).toEqual([1, 7]);
    m.removeList(high.id);
    expect(m.match({ plate: '7ABC123' }, NOW).map((h) => h.priority)).toEqual([7]);
  });
});

describe('matching agrees with a plain implementation', () => {
  // A deterministic generator, so that a failure can be reproduced.
  let seed = 12345;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  // a small alphabet makes near misses common, which is what is being tested
  const SMALL = 'AB8OD0S5Z2CX';
  const plate = (chars: string, min: number, max: number) =>
    Array.from({ length: min + Math.floor(rand() * (max - min + 1)) }, () => chars[Math.floor(rand() * chars.length)]).join('');

  function levenshtein(a: string, b: string): number {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0]![j] = j;
    for (let i = 1; i <= a.length; i++) {
      for (let j = 1; j <= b.length; j++) {
        d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      }
    }
    return d[a.length]![b.length]!;
  }
  const glob = (pattern: string, text: string) => new RegExp(`^${pattern.replace(/\?/g, '.').replace(/\*/g, '.*')}$`).test(text);

  function naive(entries: string[], policy: MatchPolicy, maxDistance: number, text: string): string[] {
    const out: string[] = [];
    entries.forEach((e, i) => {
      const wild = /[?*]/.test(e);
      if (wild) {
        if (policy === 'exact' ? glob(e, text) : glob(canonicalPlate(e), canonicalPlate(text))) out.push(`${i + 1} wildcard`);
      } else if (e === text) out.push(`${i + 1} exact`);
      else if (policy !== 'exact' && canonicalPlate(e) === canonicalPlate(text)) out.push(`${i + 1} equivalent`);
      else if (policy === 'distance' && Math.abs(e.length - text.length) <= maxDistance) {
        const d = levenshtein(canonicalPlate(e), canonicalPlate(text));
        if (d <= maxDistance) out.push(`${i + 1} distance${d}`);
      }
    });
    return out.sort();
  }

  for (const [policy, maxDistance] of [
    ['exact', 0],
    ['equivalent', 0],
    ['distance', 1],
    ['distance', 2],
  ] as const) {
    it(`${policy}${maxDistance ? ` ${maxDistance}` : ''}: 2000 entries (with partial plates), 1200 reads`, () => {
      const entries: string[] = [];
      for (let i = 0; i < 2000; i++) {
        if (i % 50 === 0) {
          // a partial plate: a few characters with ? and * around and between them
          const p = plate(SMALL, 3, 5).split('');
          const at = Math.floor(rand() * (p.length + 1));
          p.splice(at, 0, rand() < 0.5 ? '?' : '*');
          entries.push((rand() < 0.3 ? '*' : '') + p.join('') + (rand() < 0.3 ? '*' : ''));
        } else entries.push(plate(SMALL, 4, 7));
      }
      const info = list(policy, maxDistance);
      const m = matcherWith(info, entries);
      let hits = 0;
      for (let r = 0; r < 1200; r++) {
        const text = r % 3 === 0 ? entries[Math.floor(rand() * entries.length)]!.replace(/[?*]/g, 'X') : plate(SMALL, 3, 8);
        const got = m
          .match({ plate: text }, NOW)
          .map((h) => `${h.entryId} ${h.how}${h.how === 'distance' ? h.distance : ''}`)
          .sort();
        expect(got, text).toEqual(naive(entries, policy, maxDistance, text));
        hits += got.length;
      }
      expect(hits).toBeGreaterThan(400);
    });
  }
});

describe("the plate's state against the entry's", () => {
  it('a hit on an entry of another state is kept and marked when the state was read confidently', () => {
    const m = new HotlistMatcher();
    const info = list('equivalent');
    const b = new SegmentBuilder();
    b.add(1, '7ABC123', 'CA', null, null);
    b.add(2, '5KDW837', null, null, null);
    m.setList(info.id, [b.build(info)]);
    expect(m.match({ plate: '7ABC123', state: { code: 'NV', confidence: 0.95 } }, NOW)[0]).toMatchObject({ plate: '7ABC123', state: 'CA', stateMismatch: true });
    expect(m.match({ plate: '7ABC123', state: { code: 'CA', confidence: 0.95 } }, NOW)[0]!.stateMismatch).toBe(false);
    // a faint state reading, no state read, or an entry without a state: no mismatch
    expect(m.match({ plate: '7ABC123', state: { code: 'NV', confidence: 0.5 } }, NOW)[0]!.stateMismatch).toBe(false);
    expect(m.match({ plate: '7ABC123' }, NOW)[0]!.stateMismatch).toBe(false);
    expect(m.match({ plate: '5KDW837', state: { code: 'NV', confidence: 0.99 } }, NOW)[0]!.stateMismatch).toBe(false);
  });
});

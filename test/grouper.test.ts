import { describe, expect, it } from 'vitest';
import { distance, Grouper, type GroupingOptions, type SightingPlate, type TrackView } from '../src/pipeline/grouper.js';
import { manualClock } from '../src/util/clock.js';

function plate(text: string, confidence: number, alts: string[] = [], x = 100): SightingPlate {
  return {
    text,
    confidence,
    box: { x, y: 50, width: 120, height: 40 },
    region: 'us',
    candidates: [{ text, confidence }, ...alts.map((t) => ({ text: t, confidence: confidence * 0.6 }))],
  };
}

/** A grouper whose writes are recorded, with the camera's time driven by the test. */
function harness(opts: GroupingOptions = { maxDelayMs: 700, leaveAfterMs: 1000, maxDistance: 2 }) {
  const emitted: Array<TrackView<string>> = [];
  const updated: Array<TrackView<string>> = [];
  const g = new Grouper<string>(opts, {
    emit: async (t) => {
      emitted.push(t);
    },
    update: async (t) => {
      updated.push(t);
    },
  });
  let cameraTime = 0;
  let busy = false;
  const add = (t: number, plates: SightingPlate[], tag = `f${t}`) => {
    cameraTime = Math.max(cameraTime, t);
    g.add('cam', t, plates.map((p) => ({ plate: p, extra: tag })));
  };
  const tick = async (now: number) => {
    g.tick(now, () => busy, () => cameraTime);
    await new Promise((r) => setTimeout(r, 0));
  };
  return { g, emitted, updated, add, tick, setBusy: (b: boolean) => (busy = b) };
}

describe('grouping sightings into reads', () => {
  it('one car over many frames is one read, with the majority text even when one frame misreads', async () => {
    const h = harness();
    h.add(0, [plate('7ABC123', 90)]);
    h.add(100, [plate('7A8C123', 70, ['7ABC123'])]); // B read as 8 once
    h.add(200, [plate('7ABC123', 95)], 'best');
    h.add(300, [plate('7ABC123', 88)]);
    await h.tick(350);
    expect(h.emitted).toHaveLength(0); // not yet due
    await h.tick(800); // maxDelayMs after first seen: reported while still in view
    expect(h.emitted).toHaveLength(1);
    expect(h.emitted[0]).toMatchObject({ text: '7ABC123', frameCount: 4, firstSeen: 0, lastSeen: 300, closed: false });
    expect(h.emitted[0]!.best.extra).toBe('best');
    expect(h.emitted[0]!.candidates[0]!.text).toBe('7ABC123');
    // more frames of the same car update the same read; when it has left, the read is closed
    h.add(900, [plate('7ABC123', 91)]);
    h.add(2000, []);
    await h.tick(2000);
    expect(h.emitted).toHaveLength(1);
    const last = h.updated.at(-1)!;
    expect(last).toMatchObject({ closed: true, frameCount: 5, lastSeen: 900 });
  });

  it('two cars in the same frames are two reads', async () => {
    const h = harness();
    for (let t = 0; t <= 400; t += 100) h.add(t, [plate('7ABC123', 90, [], 100), plate('5XYZ987', 85, [], 600)]);
    await h.tick(800);
    expect(h.emitted.map((t) => t.text).sort()).toEqual(['5XYZ987', '7ABC123']);
    expect(h.emitted.every((t) => t.frameCount === 5)).toBe(true);
  });

  it('a car that passes quickly is reported when it leaves, before the delay', async () => {
    const h = harness({ maxDelayMs: 5000, leaveAfterMs: 300, maxDistance: 2 });
    h.add(0, [plate('7ABC123', 90)]);
    h.add(100, [plate('7ABC123', 90)]);
    h.add(500, []); // the camera moved on without it
    await h.tick(500);
    expect(h.emitted).toHaveLength(1);
    expect(h.emitted[0]).toMatchObject({ closed: true, frameCount: 2 });
  });

  it('does not close a plate while the camera still has frames waiting, however late the clock', async () => {
    const h = harness();
    h.add(0, [plate('7ABC123', 90)]);
    h.setBusy(true);
    await h.tick(10_000);
    expect(h.emitted.filter((t) => t.closed)).toHaveLength(0); // reported (delay), but not closed
    h.setBusy(false);
    await h.tick(10_000);
    expect([...h.emitted, ...h.updated].filter((t) => t.closed)).toHaveLength(1);
  });

  it('the same plate seen again much later is a new read', async () => {
    const h = harness();
    h.add(0, [plate('7ABC123', 90)]);
    h.add(5000, []);
    await h.tick(5000);
    h.add(6000, [plate('7ABC123', 90)]);
    h.add(9000, []);
    await h.tick(9000);
    expect(h.emitted).toHaveLength(2);
  });

  it('a failed write is retried and the frame waits for it', async () => {
    let fail = true;
    const emitted: string[] = [];
    const g = new Grouper<string>(
      { maxDelayMs: 0, leaveAfterMs: 100, maxDistance: 2 },
      {
        emit: async (t) => {
          if (fail) throw new Error('disk full');
          emitted.push(t.text);
        },
        update: async () => undefined,
      },
    );
    let durable = false;
    g.add('cam', 0, [{ plate: plate('7ABC123', 90), extra: 'x' }], () => (durable = true));
    g.tick(10, () => false, () => 0);
    await new Promise((r) => setTimeout(r, 0));
    expect(durable).toBe(false);
    fail = false;
    g.tick(5000, () => false, () => 0);
    await new Promise((r) => setTimeout(r, 0));
    g.tick(7000, () => false, () => 0);
    await new Promise((r) => setTimeout(r, 0));
    expect(emitted).toEqual(['7ABC123']);
    expect(durable).toBe(true);
  });

  it('a sighting on the hot list is reported at once, a plain one after maxDelayMs; later frames update the same read', async () => {
    const clock = manualClock(1_000_000);
    const hot = new Set(['7ABC123']);
    const checked: string[] = [];
    const h = harness({
      maxDelayMs: 700,
      leaveAfterMs: 1000,
      maxDistance: 2,
      reportNow: (p) => {
        checked.push(p.text);
        return [p.text, ...p.candidates.map((c) => c.text)].some((t) => hot.has(t));
      },
    });
    const t0 = clock();
    await h.tick(t0);
    h.add(t0, [plate('7ABC123', 90, [], 100), plate('5XYZ987', 85, [], 600)]);
    clock.advance(100);
    await h.tick(clock()); // the first tick after the frame
    expect(h.emitted.map((t) => t.text)).toEqual(['7ABC123']);
    expect(h.emitted[0]).toMatchObject({ firstSeen: t0, frameCount: 1, closed: false });
    // more frames: the hit's read is updated (no second read), the plain one waits for maxDelayMs
    for (let i = 1; i <= 5; i++) {
      h.add(t0 + i * 100, [plate('7ABC123', 92, [], 100), plate('5XYZ987', 85, [], 600)]);
      clock.set(t0 + i * 100);
      await h.tick(clock());
    }
    expect(h.emitted.map((t) => t.text)).toEqual(['7ABC123']);
    clock.set(t0 + 700);
    await h.tick(clock());
    expect(h.emitted.map((t) => t.text)).toEqual(['7ABC123', '5XYZ987']);
    // both leave: each read closed once, none reported twice as new
    h.add(t0 + 2000, []);
    clock.set(t0 + 2000);
    await h.tick(clock());
    expect(h.emitted).toHaveLength(2);
    const closed = h.updated.filter((t) => t.closed);
    expect(closed.map((t) => t.text).sort()).toEqual(['5XYZ987', '7ABC123']);
    expect(closed.find((t) => t.text === '7ABC123')!.frameCount).toBe(6);
    expect(checked.length).toBeGreaterThan(0);
  });

  it('a hit among the candidates of a misread counts, and a reported read that gets a hit sighting is updated at once', async () => {
    const hot = new Set(['7ABC123']);
    const h = harness({
      maxDelayMs: 5000,
      leaveAfterMs: 10_000,
      maxDistance: 2,
      reportNow: (p) => [p.text, ...p.candidates.map((c) => c.text)].some((t) => hot.has(t)),
    });
    h.add(0, [plate('7A8C123', 80, ['7ABC123'])]);
    await h.tick(10);
    expect(h.emitted.map((t) => t.text)).toEqual(['7A8C123']);
    expect(h.emitted[0]!.candidates.map((c) => c.text)).toContain('7ABC123');

    // a plain read first, then a frame whose text is on the list: updated now, not after the 5 s throttle
    const g = harness({ maxDelayMs: 300, leaveAfterMs: 10_000, maxDistance: 2, reportNow: (p) => hot.has(p.text) });
    g.add(0, [plate('7ABC12', 70)]);
    await g.tick(300);
    expect(g.emitted).toHaveLength(1);
    g.add(400, [plate('7ABC123', 90)]);
    await g.tick(400);
    expect(g.emitted).toHaveLength(1);
    expect(g.updated.at(-1)).toMatchObject({ frameCount: 2, closed: false });
    expect(g.updated.at(-1)!.candidates.map((c) => c.text)).toContain('7ABC123');
  });

  it('a failing hot list check does not lose the sighting: it is reported after maxDelayMs', async () => {
    const h = harness({
      maxDelayMs: 700,
      leaveAfterMs: 1000,
      maxDistance: 2,
      reportNow: () => {
        throw new Error('lists not loaded');
      },
    });
    h.add(0, [plate('7ABC123', 90)]);
    await h.tick(100);
    expect(h.emitted).toHaveLength(0);
    await h.tick(700);
    expect(h.emitted).toHaveLength(1);
  });

  it('edit distance', () => {
    expect(distance('7ABC123', '7ABC123')).toBe(0);
    expect(distance('7ABC123', '7A8C123')).toBe(1);
    expect(distance('7ABC123', 'ABC123')).toBe(1);
    expect(distance('7ABC123', '5XYZ987')).toBe(7);
  });
});

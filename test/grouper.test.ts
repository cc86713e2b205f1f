import { describe, expect, it } from 'vitest';
import { distance, Grouper, type SightingPlate, type TrackView } from '../src/pipeline/grouper.js';

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
function harness(opts = { maxDelayMs: 700, leaveAfterMs: 1000, maxDistance: 2 }) {
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

  it('edit distance', () => {
    expect(distance('7ABC123', '7ABC123')).toBe(0);
    expect(distance('7ABC123', '7A8C123')).toBe(1);
    expect(distance('7ABC123', 'ABC123')).toBe(1);
    expect(distance('7ABC123', '5XYZ987')).toBe(7);
  });
});

import { describe, expect, it } from 'vitest';
import type { Frame, FrameOutcome } from '../src/camera/types.js';
import { Scheduler } from '../src/pipeline/scheduler.js';
import { manualClock } from '../src/util/clock.js';

const clock = manualClock(1_700_000_000_000);

function frame(cameraId: string, seq: number, outcomes: Map<string, FrameOutcome>): Frame {
  return {
    cameraId,
    seq,
    capturedAt: clock(),
    image: Buffer.alloc(10),
    origin: `${cameraId}#${seq}`,
    settle: (o) => outcomes.set(`${cameraId}#${seq}`, o),
  };
}

/** A processor whose frames finish only when the test says so. */
function gatedProcessor() {
  const started: string[] = [];
  const gates: Array<() => void> = [];
  const processor = (f: Frame) =>
    new Promise<void>((resolve) => {
      started.push(f.origin);
      gates.push(() => {
        f.settle?.('processed');
        resolve();
      });
    });
  return { started, processor, release: () => gates.shift()?.() };
}

const tickOver = () => new Promise((r) => setTimeout(r, 0));

describe('frame scheduling with back-pressure', () => {
  it('when recognition lags, a live camera keeps its latest frames and drops (and counts) the oldest', async () => {
    const outcomes = new Map<string, FrameOutcome>();
    const p = gatedProcessor();
    const s = new Scheduler(p.processor, { queueDepth: 2, concurrency: 1, clock });
    s.addCamera('cam', 'live');
    for (let i = 1; i <= 10; i++) await s.offer(frame('cam', i, outcomes));
    // frame 1 went straight to recognition; of 2..10 only the two newest wait
    expect(p.started).toEqual(['cam#1']);
    expect(s.waitingFrames).toBe(2);
    expect(s.counters('cam')).toMatchObject({ offered: 10, dropped: 7 });
    for (let i = 2; i <= 8; i++) expect(outcomes.get(`cam#${i}`)).toBe('dropped');
    p.release();
    await tickOver();
    p.release();
    await tickOver();
    p.release();
    await tickOver();
    expect(p.started).toEqual(['cam#1', 'cam#9', 'cam#10']);
    expect(s.idle).toBe(true);
    expect(s.counters('cam')).toMatchObject({ processed: 3, dropped: 7 });
  });

  it('memory stays bounded whatever the input rate', async () => {
    const p = gatedProcessor();
    const s = new Scheduler(p.processor, { queueDepth: 3, concurrency: 2, clock });
    s.addCamera('a', 'live');
    s.addCamera('b', 'live');
    const outcomes = new Map<string, FrameOutcome>();
    for (let i = 1; i <= 1000; i++) {
      await s.offer(frame('a', i, outcomes));
      await s.offer(frame('b', i, outcomes));
    }
    expect(s.waitingFrames + s.inflightFrames).toBeLessThanOrEqual(2 * 3 + 2);
  });

  it('a queued camera (watched folder) waits for room instead of losing frames', async () => {
    const outcomes = new Map<string, FrameOutcome>();
    const p = gatedProcessor();
    const s = new Scheduler(p.processor, { queueDepth: 1, concurrency: 1, clock });
    s.addCamera('dir', 'queued');
    await s.offer(frame('dir', 1, outcomes)); // into recognition
    await s.offer(frame('dir', 2, outcomes)); // waits in the queue
    let thirdAccepted = false;
    const third = s.offer(frame('dir', 3, outcomes)).then(() => (thirdAccepted = true));
    await tickOver();
    expect(thirdAccepted).toBe(false);
    p.release();
    await third;
    expect(thirdAccepted).toBe(true);
    expect(s.counters('dir')!.dropped).toBe(0);
  });

  it('serves cameras in turn, so a busy camera does not starve a quiet one', async () => {
    const outcomes = new Map<string, FrameOutcome>();
    const p = gatedProcessor();
    const s = new Scheduler(p.processor, { queueDepth: 4, concurrency: 1, clock });
    s.addCamera('busy', 'live');
    s.addCamera('quiet', 'live');
    for (let i = 1; i <= 4; i++) await s.offer(frame('busy', i, outcomes));
    await s.offer(frame('quiet', 1, outcomes));
    p.release();
    await tickOver();
    expect(p.started.slice(0, 2)).toEqual(['busy#1', 'quiet#1']);
  });

  it('rates are counted on the clock it was given', async () => {
    const outcomes = new Map<string, FrameOutcome>();
    const p = gatedProcessor();
    const c = manualClock(5_000_000);
    const s = new Scheduler(p.processor, { queueDepth: 1, concurrency: 1, clock: c });
    s.addCamera('cam', 'live');
    for (let i = 1; i <= 5; i++) await s.offer(frame('cam', i, outcomes)); // 1 in recognition, 5 waits, 2..4 dropped
    p.release();
    await tickOver();
    expect(s.rates('cam', 1000)).toEqual({ in: 5, processed: 1, dropped: 3 });
    c.advance(1500);
    expect(s.rates('cam', 1000)).toEqual({ in: 0, processed: 0, dropped: 0 });
    expect(s.rates('cam', 2000)).toEqual({ in: 2.5, processed: 0.5, dropped: 1.5 });
  });

  it('with queueDepth 1, under overload the frame recognised next is always the newest offered', async () => {
    const outcomes = new Map<string, FrameOutcome>();
    const p = gatedProcessor();
    const s = new Scheduler(p.processor, { queueDepth: 1, concurrency: 1, clock });
    s.addCamera('cam', 'live');
    let seq = 0;
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 3; i++) await s.offer(frame('cam', ++seq, outcomes));
      p.release();
      await tickOver();
      expect(p.started.at(-1)).toBe(`cam#${seq}`);
    }
  });

  it('drain stops intake, drops what waits and waits for frames in recognition', async () => {
    const outcomes = new Map<string, FrameOutcome>();
    const p = gatedProcessor();
    const s = new Scheduler(p.processor, { queueDepth: 4, concurrency: 1, clock });
    s.addCamera('cam', 'live');
    for (let i = 1; i <= 3; i++) await s.offer(frame('cam', i, outcomes));
    const drained = s.drain(5000);
    expect(outcomes.get('cam#2')).toBe('dropped');
    await s.offer(frame('cam', 4, outcomes));
    expect(outcomes.get('cam#4')).toBe('dropped');
    p.release();
    expect(await drained).toBe(true);
    expect(outcomes.get('cam#1')).toBe('processed');
  });
});

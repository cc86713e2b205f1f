import { systemClock } from '../src/util/clock.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log/logger.js';
import { ReadStore } from '../src/store/read-store.js';
import { FaultMonitor, type FaultInputs } from '../src/unit/faults.js';

const log = createLogger('silent');
const T0 = Date.UTC(2026, 10, 22, 12, 0, 0);

function healthy(now: number): FaultInputs {
  return {
    now,
    startedAt: T0,
    cameras: [{ id: 'front', enabled: true, finished: false, connected: true, lastFrameAt: now - 100, lastError: null }],
    recognition: { workerAlive: true, lastError: null },
    disk: { freeBytes: 10 * 2 ** 30, totalBytes: 32 * 2 ** 30 },
    imageBudgetExceeded: false,
    gps: { expected: true, connected: true, fixValid: true, lastFixAt: now - 1000 },
    clockJumpMs: 0,
    uplink: { enabled: true, consecutiveFailures: 0, lastError: null, lastSuccessAt: now - 60_000 },
  };
}

describe('the unit watches itself (P16)', () => {
  let dir: string;
  let store: ReadStore;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'alpr-faults-'));
    store = ReadStore.open(dir, { clock: systemClock, imageBudgetBytes: 2 ** 20 });
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const rows = () => store.database.prepare('SELECT code, subject, state, message FROM unit_faults ORDER BY id').all() as Array<{ code: string; subject: string; state: string; message: string }>;

  it('raises each fault once when it appears and clears it when the part works again', () => {
    const m = new FaultMonitor(store.database, log);
    const now = T0 + 600_000;
    expect(m.check(healthy(now))).toEqual([]);
    const broken: FaultInputs = {
      ...healthy(now + 2000),
      cameras: [{ id: 'front', enabled: true, finished: false, connected: false, lastFrameAt: now - 90_000, lastError: 'ENODEV' }],
      recognition: { workerAlive: false, lastError: 'worker exited' },
      disk: { freeBytes: 100 * 2 ** 20, totalBytes: 32 * 2 ** 30 },
      gps: { expected: true, connected: true, fixValid: false, lastFixAt: now - 400_000 },
      clockJumpMs: -3_600_000,
      uplink: { enabled: true, consecutiveFailures: 4, lastError: 'the server refused the connection', lastSuccessAt: now - 3_600_000 },
    };
    const open = m.check(broken);
    expect(open.map((f) => f.code).sort()).toEqual(['camera', 'clock', 'gps', 'recognition', 'storage', 'uplink']);
    expect(open.find((f) => f.code === 'camera')!.message).toMatch(/front.*not connected.*ENODEV/);
    expect(open.find((f) => f.code === 'clock')!.message).toMatch(/jumped by -3600 s/);
    // the same faults again: nothing new written
    m.check({ ...broken, now: now + 4000, clockJumpMs: 0 });
    expect(rows().filter((r) => r.state === 'raised')).toHaveLength(6);
    // everything works again (the clock fault stays ten minutes after the jump)
    const later = now + 4000 + 601_000;
    expect(m.check(healthy(later))).toEqual([]);
    const cleared = rows().filter((r) => r.state === 'cleared');
    expect(cleared.map((r) => r.code).sort()).toEqual(['camera', 'clock', 'gps', 'recognition', 'storage', 'uplink']);
  });

  it('a fault open when the unit stopped is cleared by the first check after a restart, not raised twice', () => {
    const first = new FaultMonitor(store.database, log);
    first.check({ ...healthy(T0 + 600_000), recognition: { workerAlive: false, lastError: 'crash' } });
    const second = new FaultMonitor(store.database, log);
    expect(second.faults().map((f) => f.code)).toEqual(['recognition']);
    second.check({ ...healthy(T0 + 700_000), recognition: { workerAlive: false, lastError: 'crash' } });
    expect(rows().filter((r) => r.state === 'raised')).toHaveLength(1);
    second.check(healthy(T0 + 800_000));
    expect(rows().map((r) => r.state)).toEqual(['raised', 'cleared']);
  });

  it("a system clock that disagrees with the GPS receiver's is a clock fault", () => {
    const m = new FaultMonitor(store.database, log);
    const now = T0 + 600_000;
    expect(m.check({ ...healthy(now), gps: { ...healthy(now).gps, clockSkewMs: 800 } })).toEqual([]);
    const open = m.check({ ...healthy(now + 2000), gps: { ...healthy(now).gps, clockSkewMs: -42_000 } });
    expect(open).toEqual([expect.objectContaining({ code: 'clock', subject: 'gps', message: expect.stringMatching(/42.0 s behind the GPS receiver's/) })]);
    expect(m.check({ ...healthy(now + 4000), gps: { ...healthy(now).gps, clockSkewMs: 300 } })).toEqual([]);
  });

  it('gives a new camera and a new GPS time to start before calling them faulty', () => {
    const m = new FaultMonitor(store.database, log);
    const justStarted: FaultInputs = {
      ...healthy(T0 + 5000),
      cameras: [{ id: 'front', enabled: true, finished: false, connected: false, lastFrameAt: null, lastError: null }],
      gps: { expected: true, connected: true, fixValid: false, lastFixAt: null },
    };
    expect(m.check(justStarted)).toEqual([]);
    // a disabled or finished camera is never a fault
    const done: FaultInputs = {
      ...healthy(T0 + 900_000),
      cameras: [
        { id: 'off', enabled: false, finished: true, connected: false, lastFrameAt: null, lastError: null },
        { id: 'replay', enabled: true, finished: true, connected: false, lastFrameAt: T0, lastError: null },
      ],
    };
    expect(m.check(done)).toEqual([]);
  });
});

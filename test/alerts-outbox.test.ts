import { systemClock } from '../src/util/clock.js';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newRead, until } from './helpers.js';
import { alertsSchema } from '../src/alerts/config.js';
import { AlertOutbox, type RaiseInput } from '../src/alerts/outbox.js';
import type { AlertAck, AlertChannel, AlertDelivery, ChannelStatus } from '../src/alerts/types.js';
import { NO_POSITION } from '../src/gps/types.js';
import { ReadStore } from '../src/store/read-store.js';

/**
 * The outbox's own rules (order, retry, nothing lost, dedup, cap, late/expired, audit) with a channel that
 * stands in for the transport: the serial and MQTT channels have their own tests on real lines and brokers,
 * and test/unit-alerts.test.ts runs the whole chain on them.
 */
class RecordingChannel implements AlertChannel {
  readonly name = 'serial' as const;
  received: AlertDelivery[] = [];
  down = false;
  private ackHandler: ((a: AlertAck) => void) | undefined;
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async deliver(d: AlertDelivery): Promise<void> {
    if (this.down) throw new Error('terminal not answering');
    this.received.push(d);
  }
  onAck(h: (a: AlertAck) => void): void {
    this.ackHandler = h;
  }
  ack(a: AlertAck): void {
    this.ackHandler?.(a);
  }
  status(): ChannelStatus {
    return { name: 'serial', connected: !this.down, inFlight: 0, delivered: this.received.length, lastError: null, detail: '' };
  }
}

let dir: string;
let store: ReadStore;
let readId: number;
beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'alpr-outbox-'));
  store = ReadStore.open(dir, { clock: systemClock, imageBudgetBytes: 1e8 });
  const r = await store.insertRead(
    newRead(1, { uuid: 'r1', unitId: 'u', plate: '7ABC123', confidence: 95, firstSeen: 1, position: NO_POSITION, crop: { bytes: Buffer.from('x'), format: 'jpeg' }, frame: undefined }),
  );
  readId = r.id;
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function input(over: Partial<RaiseInput> = {}, hit: Partial<RaiseInput['hit']> = {}): RaiseInput {
  return {
    readId, hitId: null, unitId: 'u', plate: '7ABC123', confidence: 95, cameraId: 'front', seenAt: 1,
    latitude: null, longitude: null, positionValid: false, cropRef: null, frameRef: null, covert: false,
    hit: { list: 'stolen', category: 'stolen vehicle', priority: 3, matchKind: 'exact', entryPlate: '7ABC123', entryId: 1, ...hit },
    ...over,
  };
}

describe('alert outbox', () => {
  it('delivers in order, keeps alerts while the terminal is down, then delivers each once, marked late', async () => {
    const clock = { t: 1_000_000 };
    const config = alertsSchema.parse({ lateAfterMs: 2000, expireAfterMs: 60_000 });
    const outbox = new AlertOutbox(store.database, config, undefined, () => clock.t);
    const ch = new RecordingChannel();
    outbox.attach(ch);
    outbox.raise(input({}, { entryId: 1 }));
    await until(() => ch.received.length === 1, 5000, '1 received at the channel', () => ch.received.length);
    ch.down = true;
    const ids = [2, 3, 4].map((e) => outbox.raise(input({ plate: `PLATE${e}` }, { entryId: e })).alert.id);
    await new Promise((r) => setTimeout(r, 300));
    expect(ch.received).toHaveLength(1);
    expect(outbox.stats().pending.serial).toBe(3);
    clock.t += 5000; // the terminal comes back five seconds later
    ch.down = false;
    await until(() => ch.received.length === 4, 10_000, '4 received at the channel', () => ch.received.length);
    expect(ch.received.slice(1).map((d) => d.alert.id)).toEqual(ids);
    expect(ch.received[1]!.lateMs).toBeGreaterThanOrEqual(5000);
    expect(ch.received[1]!.expired).toBe(false);
    expect(ch.received[0]!.alert.notice).toMatch(/UNVERIFIED/);
    // every attempt is audited
    const failed = store.database.prepare(`SELECT count(*) AS n FROM alert_events WHERE kind = 'attempt-failed'`).get() as { n: number };
    expect(failed.n).toBeGreaterThanOrEqual(1);
    await outbox.stop();
  });

  it('an alert older than expireAfterMs is delivered as expired', async () => {
    const clock = { t: 1_000_000 };
    const outbox = new AlertOutbox(store.database, alertsSchema.parse({ expireAfterMs: 10_000 }), undefined, () => clock.t);
    const ch = new RecordingChannel();
    ch.down = true;
    outbox.attach(ch);
    outbox.raise(input());
    clock.t += 60_000;
    ch.down = false;
    await until(() => ch.received.length === 1, 10_000, '1 received at the channel', () => ch.received.length);
    expect(ch.received[0]!.expired).toBe(true);
    await outbox.stop();
  });

  it('pending alerts survive a restart of the unit', async () => {
    const config = alertsSchema.parse({});
    const first = new AlertOutbox(store.database, config, undefined, systemClock);
    const ch = new RecordingChannel();
    ch.down = true;
    first.attach(ch);
    const { alert } = first.raise(input());
    await first.stop();
    const again = new AlertOutbox(store.database, config, undefined, systemClock);
    const ch2 = new RecordingChannel();
    again.attach(ch2);
    await until(() => ch2.received.length === 1, 5000, '1 received at the channel', () => ch2.received.length);
    expect(ch2.received[0]!.alert.id).toBe(alert.id);
    expect(again.raise(input({ plate: 'OTHER1' }, { entryId: 9 })).alert.seq).toBe(alert.seq + 1);
    await again.stop();
  });

  it('the same vehicle against the same entry alerts once per window, again if the priority is raised', async () => {
    const outbox = new AlertOutbox(store.database, alertsSchema.parse({ dedupWindowMs: 600_000 }), undefined, systemClock);
    const ch = new RecordingChannel();
    outbox.attach(ch);
    expect(outbox.raise(input({}, { priority: 3 })).suppressed).toBeNull();
    expect(outbox.raise(input({ plate: '7A8C123' }, { priority: 3 })).suppressed).toBe('duplicate'); // an OCR variant: same car
    expect(outbox.raise(input({}, { priority: 1 })).suppressed).toBeNull(); // raised to more urgent
    expect(outbox.raise(input({}, { entryId: 2 })).suppressed).toBeNull(); // another entry
    expect(outbox.raise(input({ covert: true }, { entryId: 3 })).suppressed).toBe('covert');
    await until(() => ch.received.length === 3, 5000, '3 received at the channel', () => ch.received.length);
    await new Promise((r) => setTimeout(r, 100));
    expect(ch.received).toHaveLength(3);
    await outbox.stop();
  });

  it('caps unacknowledged alerts; an acknowledgement is recorded and frees a place', async () => {
    const outbox = new AlertOutbox(store.database, alertsSchema.parse({ maxUnacknowledged: 2 }), undefined, systemClock);
    const ch = new RecordingChannel();
    outbox.attach(ch);
    const a = outbox.raise(input({}, { entryId: 1 }));
    outbox.raise(input({}, { entryId: 2 }));
    expect(outbox.raise(input({}, { entryId: 3 })).suppressed).toBe('cap');
    ch.ack({ alertId: a.alert.id, accepted: false, reasonCode: 'NOT-MATCH', by: 'officer 4411', receivedAt: Date.now(), channel: 'serial' });
    const row = store.database.prepare('SELECT ack_accepted, ack_reason, ack_by FROM alerts WHERE id = ?').get(a.alert.id);
    expect(row).toEqual({ ack_accepted: 0, ack_reason: 'NOT-MATCH', ack_by: 'officer 4411' });
    expect(outbox.raise(input({}, { entryId: 4 })).suppressed).toBeNull();
    ch.ack({ alertId: 'no-such-alert', accepted: true, receivedAt: Date.now(), channel: 'serial' });
    const unknown = store.database.prepare(`SELECT count(*) AS n FROM alert_events WHERE kind = 'ack-unknown'`).get() as { n: number };
    expect(unknown.n).toBe(1);
    await outbox.stop();
  });
});

/**
 * The contract every alert channel (src/alerts/types.ts AlertChannel) keeps, run against each implementation in
 * test/alert-channel-contract.test.ts, as test/camera-contract.ts does for cameras. What the outbox and the
 * officer rely on: an alert sent is shown at the terminal once, with what it says, and only then reported
 * delivered; an alert nobody takes is handed back (rejected) and not counted; the officer's answer reaches
 * onAck stamped by the unit's clock; stop() hands back what is in flight, refuses new alerts, goes quiet on the
 * far end, is harmless twice and leaves the port (or listening socket) to the next channel; the optional
 * capabilities a channel has are exactly those it declares, and each does what AlertChannel says.
 */
import { expect, it } from 'vitest';
import type { AlertAck, AlertChannel, AlertDelivery } from '../src/alerts/types.js';
import { VERIFY_NOTICE } from '../src/alerts/types.js';
import type { HealthPayload } from '../src/alerts/mqtt-topics.js';
import type { ManualClock } from '../src/util/clock.js';
import { until } from './helpers.js';

/** The optional methods of AlertChannel (kept in step with src/alerts/types.ts by the compiler, below). */
export const OPTIONAL_CAPABILITIES = ['onRetryNow', 'onUrgentHotlist', 'onReadsAccess', 'publishRead', 'publishHealth', 'reportFaults'] as const;
export type Capability = (typeof OPTIONAL_CAPABILITIES)[number];
// every name above is an optional method of AlertChannel, and every optional method is named above
type OptionalKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? K : never }[keyof T];
const allNamed: [OptionalKeys<AlertChannel>] extends [Capability] ? ([Capability] extends [OptionalKeys<AlertChannel>] ? true : false) : false = true;
void allNamed;

/** What an alert looked like where the officer saw it. */
export interface Shown {
  delivery: Pick<AlertDelivery, 'alert' | 'expired'> & { lateMs?: number | undefined };
}

/** The patrol terminal at the far end of a channel (a simulator from src/alerts/terminal-*.ts). */
export interface ContractTerminal {
  /**
   * Switches the terminal on (a new one each time, as after a power cycle, answering as usual); resolves once
   * it listens. Called after the channel started (an embedded broker lives in the channel).
   */
  on(): Promise<void>;
  /** Switches it off: it takes nothing and answers nothing. */
  off(): Promise<void>;
  /** Leaves it on and hearing the unit, but it never takes an alert (no ACK, no receipt) until switched on again. */
  mute(): Promise<void>;
  /** Every alert shown, in order, by every terminal switched on in this test (each terminal shows an alert once). */
  shown(): Shown[];
  /** The officer answers an alert; resolves once the answer has left the terminal. */
  answer(alertId: string, accepted: boolean, reasonCode?: string): Promise<void>;
  /** The terminal hears the unit now (serial heartbeats; the unit's retained MQTT presence "online"). */
  hearsUnit(): boolean;
  /** reportFaults: the FAULT reports the terminal got, in order. */
  faults?(): Array<{ code: string; subject: string; state: 'RAISED' | 'CLEARED' }>;
  /** publishHealth: the last health the terminal got from the unit. */
  health?(): Record<string, unknown> | undefined;
}

export interface AlertChannelRig {
  name: AlertChannel['name'];
  /** The clock every channel of the rig was given. */
  clock: ManualClock;
  /**
   * A new channel, not started, with a short wait for the terminal's answer (a few hundred ms), or with
   * `patient` one far longer than any test. Called again after a stop with the same port, broker and client.
   */
  make(opts?: { patient?: boolean }): AlertChannel;
  terminal: ContractTerminal;
  /** Resolves once the channel's own end is up (its port open, its broker connected), with or without a terminal. */
  linkUp(channel: AlertChannel): Promise<unknown>;
  /** The optional methods this implementation declares. */
  capabilities: readonly Capability[];
  /** Stops every channel and terminal made, frees the cable or broker of this test. */
  cleanUp(): Promise<void>;
}

const T_RAISED = Date.UTC(2026, 2, 14, 9, 26, 53);

/** Alert number n, as the outbox hands it over. */
export function alertDelivery(n: number, over: Partial<AlertDelivery> = {}): AlertDelivery {
  return {
    alert: {
      id: `C${String(n).padStart(4, '0')}-5e1d`,
      seq: n,
      unitId: 'U7',
      raisedAt: T_RAISED + n * 1000,
      plate: `7ABC${String(n).padStart(3, '0')}`,
      confidence: 0.91,
      cameraId: 'front',
      seenAt: T_RAISED + n * 1000 - 250,
      latitude: 34.05,
      longitude: -118.25,
      positionValid: true,
      hit: { list: 'stolen', category: 'stolen vehicle', priority: 2, matchKind: 'exact', entryPlate: `7ABC${String(n).padStart(3, '0')}`, entryId: n },
      cropRef: null,
      frameRef: null,
      notice: VERIFY_NOTICE,
    },
    expired: false,
    ...over,
  };
}

async function connected(rig: AlertChannelRig, channel: AlertChannel): Promise<void> {
  await until(() => channel.status().connected && rig.terminal.hearsUnit(), 10_000, 'the channel and the terminal hearing each other', () => channel.status());
}

const ids = (rig: AlertChannelRig) => rig.terminal.shown().map((s) => s.delivery.alert.id);

/** Settles within a turn of the event loop after what it waits on (no timing: only what already happened). */
async function settledNow(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

/** Defines the contract's tests for one implementation (call inside a describe). */
export function alertChannelContract(makeRig: () => Promise<AlertChannelRig>): void {
  it('an alert sent is shown at the terminal once, with what it says, and only then reported delivered', async () => {
    const rig = await makeRig();
    try {
      const channel = rig.make();
      expect(channel.name).toBe(rig.name);
      // not started: nothing goes, and the outbox is told so
      await expect(channel.deliver(alertDelivery(1))).rejects.toThrow();
      await channel.start();
      await rig.terminal.on();
      await connected(rig, channel);
      const late = alertDelivery(1, { lateMs: 125_000 });
      const expired = alertDelivery(2, { expired: true, lateMs: 1_000_000 });
      await channel.deliver(late);
      // delivered means shown: the terminal has it by the time deliver resolves
      expect(ids(rig)).toEqual([late.alert.id]);
      await channel.deliver(expired);
      expect(ids(rig)).toEqual([late.alert.id, expired.alert.id]);
      const [first, second] = rig.terminal.shown();
      expect(first!.delivery.alert).toEqual(late.alert);
      expect(first!.delivery).toMatchObject({ lateMs: 125_000, expired: false });
      expect(second!.delivery).toMatchObject({ lateMs: 1_000_000, expired: true });
      expect(channel.status()).toMatchObject({ name: rig.name, connected: true, inFlight: 0, delivered: 2, lastError: null });
    } finally {
      await rig.cleanUp();
    }
  });

  it("the officer's answers reach onAck, stamped by the unit's clock", async () => {
    const rig = await makeRig();
    try {
      const channel = rig.make();
      const acks: AlertAck[] = [];
      channel.onAck((ack) => acks.push(ack));
      await channel.start();
      await rig.terminal.on();
      await connected(rig, channel);
      const hit = alertDelivery(3);
      await channel.deliver(hit);
      rig.clock.set(T_RAISED + 3_600_000);
      await rig.terminal.answer(hit.alert.id, false, 'NOT-MATCH');
      await until(() => acks.length === 1, 10_000, 'the rejection at onAck');
      expect(acks[0]).toMatchObject({ alertId: hit.alert.id, accepted: false, reasonCode: 'NOT-MATCH', channel: rig.name, receivedAt: T_RAISED + 3_600_000 });
      rig.clock.advance(60_000);
      await rig.terminal.answer(hit.alert.id, true);
      await until(() => acks.length === 2, 10_000, 'the acceptance at onAck');
      expect(acks[1]).toMatchObject({ alertId: hit.alert.id, accepted: true, channel: rig.name, receivedAt: T_RAISED + 3_660_000 });
      expect(acks[1]!.reasonCode).toBeUndefined();
    } finally {
      await rig.cleanUp();
    }
  });

  it('an alert no terminal takes is handed back and not counted; it goes once a terminal is there', async () => {
    const rig = await makeRig();
    try {
      const channel = rig.make();
      await channel.start();
      await rig.linkUp(channel);
      const hit = alertDelivery(4);
      // sent (the port is open, the broker connected), but nobody takes it
      await expect(channel.deliver(hit)).rejects.toThrow();
      expect(channel.status()).toMatchObject({ inFlight: 0, delivered: 0 });
      expect(ids(rig)).toEqual([]);
      await rig.terminal.on();
      await connected(rig, channel);
      // the outbox tries again (it would after its back-off); the terminal shows the alert once
      await until(() => channel.deliver(hit).then(() => true, () => false), 10_000, 'the alert taken by the terminal', () => channel.status());
      expect(ids(rig)).toEqual([hit.alert.id]);
      expect(channel.status()).toMatchObject({ inFlight: 0, delivered: 1 });
    } finally {
      await rig.cleanUp();
    }
  });

  it('stop() hands back what is in flight, refuses new alerts, goes quiet, is harmless twice and frees the way for the next channel', async () => {
    const rig = await makeRig();
    try {
      const channel = rig.make({ patient: true });
      await channel.start();
      await rig.terminal.on();
      await connected(rig, channel);
      // a terminal that hears the unit but never takes the alert: it waits far longer than this test
      await rig.terminal.mute();
      await connected(rig, channel);
      const pending = channel.deliver(alertDelivery(5));
      pending.catch(() => undefined);
      await until(() => channel.status().inFlight === 1, 10_000, 'the alert in flight', () => channel.status());
      await channel.stop();
      expect(await settledNow(pending), 'deliver() settled when stop() resolved').toBe(true);
      await expect(pending).rejects.toThrow();
      expect(channel.status()).toMatchObject({ connected: false, inFlight: 0, delivered: 0 });
      await expect(channel.deliver(alertDelivery(6))).rejects.toThrow();
      await channel.stop();
      // the far end no longer hears the unit
      await until(() => !rig.terminal.hearsUnit(), 10_000, 'the terminal no longer hearing the unit');
      // a new channel on the same port (a restart of the unit) opens it and delivers
      const next = rig.make();
      await next.start();
      await rig.terminal.on();
      await connected(rig, next);
      await next.deliver(alertDelivery(7));
      expect(ids(rig)).toContain(alertDelivery(7).alert.id);
      expect(ids(rig)).not.toContain(alertDelivery(6).alert.id);
      await next.stop();
    } finally {
      await rig.cleanUp();
    }
  });

  it('has exactly the optional capabilities it declares, and each does what AlertChannel says', async () => {
    const rig = await makeRig();
    try {
      const channel = rig.make();
      const has = OPTIONAL_CAPABILITIES.filter((c) => typeof channel[c] === 'function');
      expect(has).toEqual(OPTIONAL_CAPABILITIES.filter((c) => rig.capabilities.includes(c)));
      let retries = 0;
      channel.onRetryNow?.(() => (retries += 1));
      const urgent: unknown[] = [];
      channel.onUrgentHotlist?.((payload) => urgent.push(payload));
      const readsAccess: unknown[] = [];
      channel.onReadsAccess?.((a) => readsAccess.push(a));
      await channel.start();
      await rig.terminal.on();
      await connected(rig, channel);

      if (channel.reportFaults) {
        const since = T_RAISED;
        channel.reportFaults([{ code: 'camera', subject: 'rear', message: 'camera rear is not connected (61 s)', since }]);
        channel.reportFaults([]);
        await until(() => (rig.terminal.faults?.() ?? []).length >= 2, 10_000, 'the fault raised and cleared at the terminal', () => rig.terminal.faults?.());
        expect(rig.terminal.faults!()).toEqual([
          { code: 'camera', subject: 'rear', state: 'RAISED' },
          { code: 'camera', subject: 'rear', state: 'CLEARED' },
        ]);
      }
      if (channel.publishHealth) {
        expect(channel.publishHealth(health('running'))).toBe(true);
        await until(() => rig.terminal.health?.()?.state === 'running', 10_000, 'the health at the terminal', () => rig.terminal.health?.());
      }
      if (channel.publishRead) {
        // the rigs run with publishReads off (the default): no plate text leaves, nobody is recorded as receiving it
        expect(channel.publishRead({ unitId: 'U7' } as never)).toBe(false);
      }
      if (channel.onRetryNow) {
        // an attempt that gets no answer, then the answer comes while nobody waits: trying again is worth it now
        // and the next attempt completes without showing the alert twice
        const hit = alertDelivery(8);
        await rig.terminal.off();
        await expect(channel.deliver(hit)).rejects.toThrow();
        const before = retries;
        await rig.terminal.on();
        await until(() => retries > before, 10_000, 'the channel asking for a retry now');
        await channel.deliver(hit);
        expect(ids(rig).filter((id) => id === hit.alert.id)).toHaveLength(1);
      }
      expect(urgent).toEqual([]);
      expect(readsAccess).toEqual([]);
    } finally {
      await rig.cleanUp();
    }
  });
}

function health(state: string): HealthPayload {
  return {
    unitId: 'U7',
    state,
    at: '2026-03-14T09:26:53.589Z',
    cameras: [{ id: 'front', connected: true, fpsProcessed: 4, lastError: null }],
    recognition: { workerAlive: true, latencyP99Ms: 180 },
    gps: { source: 'none', connected: false, fixValid: false },
    store: { reads: 12, pendingSync: 0, imageBytes: 123_456, readsWaitingInMemory: 0, framesDroppedForStorage: 0 },
    disk: null,
    alerts: { pending: { mqtt: 0 }, unacknowledged: 1 },
    sync: null,
    faults: [],
  } as HealthPayload;
}

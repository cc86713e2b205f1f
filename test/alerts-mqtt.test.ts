import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertsSchema, mqttChannelSchema, type MqttChannelConfig } from '../src/alerts/config.js';
import { cropForAlert, jpegSize } from '../src/alerts/crop.js';
import { AlertOutbox, type RaiseInput } from '../src/alerts/outbox.js';
import { NO_POSITION } from '../src/gps/types.js';
import { ReadStore } from '../src/store/read-store.js';
import { cv } from '../src/recognition/cv.js';
import { makePki } from './tls.js';
import { EmbeddedBroker } from '../src/alerts/embedded-broker.js';
import { MqttAlertChannel, type ChannelLogger, type ReadsAccess } from '../src/alerts/mqtt.js';
import { ackTopic, filterCovers, parseAck, parseReceipt, unitTopic, type ReadPayload } from '../src/alerts/mqtt-topics.js';
import { systemClock } from '../src/util/clock.js';
import { MqttTerminal, formatAlert, runMqttTerminal } from '../src/alerts/terminal-mqtt.js';
import { VERIFY_NOTICE, type AlertAck, type AlertDelivery } from '../src/alerts/types.js';
import type { Logger } from '../src/log/logger.js';
import { freePort, Mosquitto } from './mosquitto.js';
import { CapturingLogger, newRead, until } from './helpers.js';

// The unit's pino logger is what the runtime hands the channel (checked by the compiler).
const loggerFits = (logger: Logger): ChannelLogger => logger;
void loggerFits;

const UNIT = 'U7';
const UNIT_PASSWORD = 'unit-pw-4f9a:c2';
const OFFICER = 'officer12';
const OFFICER_PASSWORD = 'officer-pw-81be';
// Quick back-off and a PUBACK wait well above a loaded machine's latency.
const FAST = { ackTimeoutMs: 4000, reconnectMinMs: 100, reconnectMaxMs: 400, clock: systemClock };

let dir: string;
let clientCount = 0;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function alert(n: number, extra: Partial<AlertDelivery> = {}): AlertDelivery {
  return {
    alert: {
      id: `A${String(n).padStart(4, '0')}-7f3c`,
      seq: n,
      unitId: UNIT,
      raisedAt: 1_700_000_000_000 + n * 1000,
      plate: `7ABC${String(n).padStart(3, '0')}`,
      confidence: 0.91,
      cameraId: 'front',
      seenAt: 1_700_000_000_000 + n * 1000 - 250,
      latitude: 34.05123,
      longitude: -118.24368,
      positionValid: true,
      hit: {
        list: 'CA-SVS',
        category: 'stolen vehicle',
        priority: 1,
        matchKind: 'exact',
        entryPlate: `7ABC${String(n).padStart(3, '0')}`,
        entryId: 100 + n,
        entryState: 'CA',
      },
      cropRef: `crops/${n}.jpg`,
      frameRef: `frames/${n}.jpg`,
      notice: VERIFY_NOTICE,
    },
    expired: false,
    ...extra,
  };
}

function secretFile(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}

function channelConfig(extra: Partial<MqttChannelConfig>): MqttChannelConfig {
  return {
    enabled: true,
    mode: 'external',
    url: 'mqtt://127.0.0.1:1',
    credentialsFile: '',
    caFile: '',
    clientId: '',
    listenHost: '127.0.0.1',
    listenPort: 1883,
    tlsCertFile: '',
    tlsKeyFile: '',
    receiptTimeoutMs: 2000,
    cropMaxBytes: 49_152,
    publishReads: false,
    ...extra,
  };
}

/** A plain MQTT client, as any device on the car network could open. */
function rawClient(url: string, login: { username?: string; password?: string; clientId?: string } = {}): Promise<MqttClient> {
  clientCount += 1;
  return mqtt.connectAsync(url, {
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 3000,
    clientId: login.clientId ?? `raw-${clientCount}`,
    ...(login.username !== undefined ? { username: login.username } : {}),
    ...(login.password !== undefined ? { password: login.password } : {}),
  });
}

function terminal(url: string, extra: { clientId?: string; sendReceipts?: boolean; caFile?: string } = {}): MqttTerminal {
  clientCount += 1;
  return new MqttTerminal(url, {
    unitId: UNIT,
    username: OFFICER,
    password: OFFICER_PASSWORD,
    clientId: extra.clientId ?? `terminal-${clientCount}`,
    terminalId: 'T-1042',
    ...(extra.sendReceipts !== undefined ? { sendReceipts: extra.sendReceipts } : {}),
    ...(extra.caFile !== undefined ? { caFile: extra.caFile } : {}),
    // Faster than the unit's back-off, so after an outage the terminal listens before the unit publishes.
    reconnectPeriodMs: 50,
    clock: systemClock,
  });
}

/** A small outbox: each alert in order, retried after a rejection until the channel takes it. */
async function drainOutbox(channel: MqttAlertChannel, queue: AlertDelivery[], timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let rejections = 0;
  while (queue.length > 0) {
    if (Date.now() > deadline) throw new Error(`outbox still holds ${queue.length} alerts`);
    try {
      await channel.deliver(queue[0]!);
      queue.shift();
    } catch {
      rejections += 1;
      await sleep(50);
    }
  }
  return rejections;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'alpr-mqtt-test-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface ChannelExtras {
  config?: Partial<MqttChannelConfig>;
  readImage?: (ref: string) => Promise<Buffer>;
}

interface Rig {
  /** Where terminals connect. */
  url: string;
  makeChannel(logger?: ChannelLogger, extra?: ChannelExtras): MqttAlertChannel;
}

const rigs: Array<{ name: string; setUp(): Promise<Rig>; tearDown(): Promise<void> }> = (() => {
  let mosquitto: Mosquitto | null = null;
  return [
    {
      name: 'mosquitto',
      async setUp(): Promise<Rig> {
        mosquitto = await Mosquitto.start({ users: { unit: UNIT_PASSWORD, [OFFICER]: OFFICER_PASSWORD } });
        const credentialsFile = secretFile('unit-credentials', `unit:${UNIT_PASSWORD}\n`);
        const url = mosquitto.url;
        return {
          url,
          makeChannel: (logger, extra = {}) =>
            new MqttAlertChannel(channelConfig({ mode: 'external', url, credentialsFile, ...extra.config }), UNIT, logger, {
              ...FAST,
              ...(extra.readImage ? { readImage: extra.readImage } : {}),
            }),
        };
      },
      async tearDown(): Promise<void> {
        await mosquitto?.dispose();
      },
    },
    {
      name: 'the embedded broker',
      async setUp(): Promise<Rig> {
        const port = await freePort();
        const credentialsFile = secretFile('terminal-credentials', `${OFFICER}:${OFFICER_PASSWORD}\n`);
        return {
          url: `mqtt://127.0.0.1:${port}`,
          makeChannel: (logger, extra = {}) =>
            new MqttAlertChannel(
              channelConfig({ mode: 'embedded', listenHost: '127.0.0.1', listenPort: port, credentialsFile, ...extra.config }),
              UNIT,
              logger,
              { ...FAST, ...(extra.readImage ? { readImage: extra.readImage } : {}) },
            ),
        };
      },
      async tearDown(): Promise<void> {},
    },
  ];
})();

describe.each(rigs)('MQTT alert channel on $name', ({ setUp, tearDown }) => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await setUp();
  });
  afterAll(async () => {
    await tearDown();
  });

  it("resolves deliver on the terminal's receipt, and a terminal gets each alert once with its late and expired marks", async () => {
    const channel = rig.makeChannel();
    await channel.start();
    const officer = terminal(rig.url);
    try {
      expect(await channel.waitUntilConnected(5000)).toBe(true);
      await officer.connect();
      const late = alert(1, { lateMs: 125_000 });
      const expired = alert(2, { expired: true, lateMs: 1_000_000 });
      await channel.deliver(late);
      await channel.deliver(expired);
      await until(() => officer.alerts.length === 2, 5000, 'two alerts at the terminal');
      await sleep(100);
      expect(officer.alerts.map((a) => a.payload.alert.id)).toEqual([late.alert.id, expired.alert.id]);
      expect(officer.received).toBe(2);
      expect(officer.duplicates).toBe(0);
      const first = officer.alerts[0]!.payload;
      expect(first.alert).toEqual(late.alert);
      expect(first.lateMs).toBe(125_000);
      expect(first.expired).toBe(false);
      expect(typeof first.sentAt).toBe('number');
      expect(officer.alerts[1]!.payload.expired).toBe(true);
      const status = channel.status();
      expect(status).toMatchObject({ name: 'mqtt', connected: true, inFlight: 0, delivered: 2, lastError: null });
    } finally {
      await officer.close();
      await channel.stop();
    }
  });

  it("passes an officer's answers to onAck, and counts and ignores malformed ones", async () => {
    const channel = rig.makeChannel();
    const acks: AlertAck[] = [];
    channel.onAck((ack) => acks.push(ack));
    await channel.start();
    const officer = terminal(rig.url);
    const raw = await rawClient(rig.url, { username: OFFICER, password: OFFICER_PASSWORD });
    try {
      expect(await channel.waitUntilConnected(5000)).toBe(true);
      await officer.connect();
      const hit = alert(3);
      await channel.deliver(hit);
      await until(() => officer.alerts.length === 1, 5000, 'the alert at the terminal');
      const answeredAt = Date.now();
      await officer.reject(hit.alert.id, 'NOT-MATCH');
      await until(() => acks.length === 1, 5000, 'the rejection');
      const heardAt = Date.now();
      expect(acks[0]).toMatchObject({ alertId: hit.alert.id, accepted: false, reasonCode: 'NOT-MATCH', by: 'T-1042', channel: 'mqtt' });
      // stamped by the unit when the answer came in: after the officer answered, by the time it was handed on
      expect(acks[0]!.receivedAt).toBeGreaterThanOrEqual(answeredAt);
      expect(acks[0]!.receivedAt).toBeLessThanOrEqual(heardAt);

      const topic = ackTopic(UNIT, hit.alert.id);
      for (const bad of ['not json', '{"accepted":"yes"}', '{"accepted":true,"comment":"x"}', '[]', '', `{"accepted":false,"reasonCode":"${'X'.repeat(65)}"}`]) {
        await raw.publishAsync(topic, bad, { qos: 1 });
      }
      await officer.accept(hit.alert.id);
      await until(() => acks.length === 2, 5000, 'the acceptance');
      expect(acks[1]).toMatchObject({ alertId: hit.alert.id, accepted: true, by: 'T-1042' });
      expect(acks[1]!.reasonCode).toBeUndefined();
      expect(channel.malformedAcks).toBe(6);
      expect(channel.status().detail).toMatch(/6 malformed acks/);
    } finally {
      await raw.endAsync();
      await officer.close();
      await channel.stop();
    }
  });

  it('keeps a retained "online", and the last will says "offline" when the unit dies without a word', async () => {
    const channel = rig.makeChannel();
    await channel.start();
    const watcher = terminal(rig.url);
    try {
      expect(await channel.waitUntilConnected(5000)).toBe(true);
      channel.publishHealth({
        unitId: UNIT, state: 'running', at: '2026-03-14T09:26:53.589Z',
        cameras: [{ id: 'front', connected: true, fpsProcessed: 4, lastError: null }],
        recognition: { workerAlive: true, latencyP99Ms: 180 }, gps: { source: 'none', connected: false, fixValid: false },
        store: { reads: 12, pendingSync: 0, imageBytes: 123_456, readsWaitingInMemory: 0, framesDroppedForStorage: 0 }, disk: null, alerts: { pending: { mqtt: 0 }, unacknowledged: 1 },
        sync: null, faults: [],
      });
      await watcher.connect();
      await until(() => watcher.statuses.at(-1)?.status === 'online', 5000, 'online');
      await until(() => watcher.health.get(UNIT)?.state === 'running', 5000, 'health');
      channel.kill();
      await until(() => watcher.statuses.at(-1)?.status === 'offline', 5000, 'the last will');
      expect(watcher.statuses.at(-1)!.retained).toBe(false);
      // A terminal that turns up later learns it from the retained message.
      const latecomer = terminal(rig.url);
      await latecomer.connect();
      try {
        await until(() => latecomer.statuses.length > 0, 5000, 'the retained status');
        expect(latecomer.statuses[0]).toMatchObject({ status: 'offline', retained: true });
      } finally {
        await latecomer.close();
      }
      await expect(channel.deliver(alert(4))).rejects.toThrow(/not started/);
    } finally {
      await watcher.close();
      await channel.stop();
    }
  });

  it('never shows the credentials in status, detail or logs', async () => {
    const logger = new CapturingLogger();
    const channel = rig.makeChannel(logger);
    await channel.start();
    try {
      expect(await channel.waitUntilConnected(5000)).toBe(true);
      const shown = JSON.stringify(channel.status()) + logger.text();
      expect(logger.lines.length).toBeGreaterThan(0);
      for (const secret of [UNIT_PASSWORD, OFFICER_PASSWORD, 'unit:', OFFICER]) expect(shown).not.toContain(secret);
    } finally {
      await channel.stop();
    }
  });
});


const CROP_FIXTURE = new URL('../test-fixtures/crops/us-ca-3FGH456.jpg', import.meta.url);

interface OutboxRig {
  channel: MqttAlertChannel;
  outbox: AlertOutbox;
  store: ReadStore;
  cropBytes: Buffer;
  raise(n: number): string;
  delivery(alertId: string): { state: string; attempts: number; last_error: string | null; delivered_at: number | null };
  /** The terminal named in the alert's "delivered" event, or null. */
  deliveredBy(alertId: string): string | null;
  close(): Promise<void>;
}

/**
 * The whole MQTT delivery path on a real store: an encrypted SQLite store holding a read with a real plate crop,
 * the outbox and the channel, as the unit wires them.
 */
async function outboxOn(rig: Rig, config: Partial<MqttChannelConfig>, readImage?: (store: ReadStore, ref: string) => Promise<Buffer>): Promise<OutboxRig> {
  const store = ReadStore.open(mkdtempSync(join(dir, 'store-')), { clock: systemClock, imageBudgetBytes: 1e8, dataKey: randomBytes(32) });
  const cropBytes = readFileSync(CROP_FIXTURE);
  const read = await store.insertRead(
    newRead(1, {
      uuid: `r-${randomBytes(4).toString('hex')}`, unitId: UNIT, plate: '3FGH456', confidence: 76.8, firstSeen: 1, position: NO_POSITION,
      crop: { bytes: cropBytes, format: 'jpeg' }, frame: undefined,
    }),
  );
  const channel = rig.makeChannel(undefined, { config, readImage: (ref) => (readImage ?? ((s, r) => s.readImage(r)))(store, ref) });
  const outbox = new AlertOutbox(store.database, alertsSchema.parse({}), undefined, systemClock);
  outbox.attach(channel);
  await channel.start();
  const input = (n: number): RaiseInput => ({
    readId: read.id, hitId: null, unitId: UNIT, plate: '3FGH456', confidence: 76.8, cameraId: 'front', seenAt: 1,
    latitude: null, longitude: null, positionValid: false, cropRef: read.cropPath, frameRef: read.framePath, covert: false,
    // a different entry each: not duplicates of each other
    hit: { list: 'stolen', category: 'stolen vehicle', priority: 1, matchKind: 'exact', entryPlate: '3FGH456', entryId: 1000 + n },
  });
  return {
    channel,
    outbox,
    store,
    cropBytes,
    raise: (n) => outbox.raise(input(n)).alert.id,
    delivery: (alertId) =>
      store.database
        .prepare(`SELECT state, attempts, last_error, delivered_at FROM alert_deliveries WHERE alert_id = ? AND channel = 'mqtt'`)
        .get(alertId) as { state: string; attempts: number; last_error: string | null; delivered_at: number | null },
    deliveredBy: (alertId) => {
      const row = store.database
        .prepare(`SELECT detail FROM alert_events WHERE alert_id = ? AND channel = 'mqtt' AND kind = 'delivered'`)
        .get(alertId) as { detail: string } | undefined;
      return row === undefined ? null : ((JSON.parse(row.detail) as { by?: string }).by ?? null);
    },
    close: async () => {
      await outbox.stop();
      await channel.stop();
      store.close();
    },
  };
}

describe.each(rigs)('MQTT delivery means a terminal has the alert, on $name (#16 item 6)', ({ setUp, tearDown }) => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await setUp();
  });
  afterAll(async () => {
    await tearDown();
  });

  it('a terminal that connects after the hits gets every alert, and none is marked delivered before its receipt', async () => {
    const receiptTimeoutMs = 300;
    const r = await outboxOn(rig, { receiptTimeoutMs });
    let officer: MqttTerminal | null = null;
    try {
      expect(await r.channel.waitUntilConnected(5000)).toBe(true);
      const ids = [1, 2, 3, 4].map((n) => r.raise(n));
      // nobody subscribed: the broker takes the alert (PUBACK), no terminal has it; pending, and tried again
      await until(() => r.delivery(ids[0]!).attempts >= 2, 15_000, 'two attempts of the first alert');
      expect(ids.map((id) => r.delivery(id).state)).toEqual(['pending', 'pending', 'pending', 'pending']);
      expect(r.delivery(ids[0]!).last_error).toMatch(/no terminal's receipt within 300 ms/);

      // a terminal that holds its receipt back: it has the first alert, which is still not delivered
      officer = terminal(rig.url, { sendReceipts: false });
      await officer.connect();
      await until(() => officer!.alerts.length === 1, 20_000, 'the first alert at the terminal');
      await sleep(receiptTimeoutMs * 3);
      expect(ids.map((id) => r.delivery(id).state)).toEqual(['pending', 'pending', 'pending', 'pending']);
      expect(officer.alerts.map((a) => a.payload.alert.id)).toEqual([ids[0]]);

      // its receipt marks it delivered (not before), and the others follow, each on its own receipt
      officer.setReceipts(true);
      const receiptSentAt = Date.now();
      await officer.acknowledge(UNIT, ids[0]!);
      await until(() => ids.every((id) => r.delivery(id).state === 'delivered'), 20_000, 'all four delivered');
      expect(r.delivery(ids[0]!).delivered_at).toBeGreaterThanOrEqual(receiptSentAt);
      for (const id of ids) expect(r.deliveredBy(id)).toBe('T-1042');
      await until(() => officer!.alerts.length === 4, 5000, 'every alert at the terminal');
      expect(officer.alerts.map((a) => a.payload.alert.id)).toEqual(ids);

      // the alert carries the plate crop: a JPEG the terminal decodes, the very bytes the store holds
      const crop = officer.alerts[0]!.payload.crop!;
      expect(crop).toMatchObject({ format: 'jpeg' });
      const jpeg = Buffer.from(crop.base64, 'base64');
      expect(jpeg.equals(r.cropBytes)).toBe(true);
      const decoded = cv.imdecode(jpeg);
      expect([decoded.cols, decoded.rows]).toEqual([crop.width, crop.height]);
    } finally {
      await officer?.close();
      await r.close();
    }
  });

  it('a terminal that never sends its receipt: the alert stays pending and is sent again; at stop it stays pending for the next start', async () => {
    const r = await outboxOn(rig, { receiptTimeoutMs: 200 });
    const officer = terminal(rig.url, { sendReceipts: false });
    try {
      expect(await r.channel.waitUntilConnected(5000)).toBe(true);
      await officer.connect();
      const ids = [1, 2].map((n) => r.raise(n));
      await until(() => officer.received >= 3, 20_000, 'the first alert three times at the terminal');
      // shown once; the second waits behind the first (alerts go in the order they were raised)
      expect(officer.alerts.map((a) => a.payload.alert.id)).toEqual([ids[0]]);
      expect(officer.duplicates).toBeGreaterThanOrEqual(2);
      expect(r.delivery(ids[0]!).attempts).toBeGreaterThanOrEqual(2);
      expect(ids.map((id) => r.delivery(id).state)).toEqual(['pending', 'pending']);
      await r.outbox.stop();
      await r.channel.stop();
      expect(r.outbox.stats().pending).toEqual({ mqtt: 2 });
      expect(ids.map((id) => r.delivery(id).state)).toEqual(['pending', 'pending']);
      expect(r.deliveredBy(ids[0]!)).toBeNull();

      // the next start sends them again, and a terminal's receipts deliver them
      officer.setReceipts(true);
      const channel = rig.makeChannel(undefined, { config: { receiptTimeoutMs: 2000 } });
      const outbox = new AlertOutbox(r.store.database, alertsSchema.parse({}), undefined, systemClock);
      outbox.attach(channel);
      await channel.start();
      try {
        await until(() => ids.every((id) => r.delivery(id).state === 'delivered'), 20_000, 'both delivered after the restart');
        expect(officer.alerts.map((a) => a.payload.alert.id)).toEqual(ids);
        for (const id of ids) expect(r.deliveredBy(id)).toBe('T-1042');
      } finally {
        await outbox.stop();
        await channel.stop();
      }
    } finally {
      await officer.close();
      await r.outbox.stop();
      await r.channel.stop();
      r.store.close();
    }
  });

  it('a stop does not wait out the wait for a receipt: the alert the terminal has but did not confirm stays pending', async () => {
    const waitMs = 60_000;
    const r = await outboxOn(rig, { receiptTimeoutMs: waitMs });
    const officer = terminal(rig.url, { sendReceipts: false });
    try {
      expect(await r.channel.waitUntilConnected(5000)).toBe(true);
      await officer.connect();
      const id = r.raise(1);
      await until(() => officer.alerts.length === 1, 5000, 'the alert at the terminal');
      const since = performance.now();
      // an ordering, not a duration: the stop comes before half of the receipt wait has passed
      let timer: NodeJS.Timeout | undefined;
      const halfway = new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve('half the receipt wait passed first'), since + waitMs / 2 - performance.now());
      });
      const stop = async (): Promise<string> => {
        await r.outbox.stop();
        await r.channel.stop();
        return 'stopped';
      };
      expect(await Promise.race([stop(), halfway])).toBe('stopped');
      clearTimeout(timer);
      expect(r.delivery(id)).toMatchObject({ state: 'pending', attempts: 1 });
      expect(r.delivery(id).last_error).toMatch(/unit stopped/);
    } finally {
      await officer.close();
      await r.outbox.stop();
      await r.channel.stop();
      r.store.close();
    }
  });

  it("an officer's answer counts as the terminal's receipt; a crop that cannot be read leaves the alert without one", async () => {
    const r = await outboxOn(rig, { receiptTimeoutMs: 60_000 }, async () => {
      throw new Error('image evicted');
    });
    const officer = terminal(rig.url, { sendReceipts: false });
    try {
      expect(await r.channel.waitUntilConnected(5000)).toBe(true);
      await officer.connect();
      const id = r.raise(1);
      await until(() => officer.alerts.length === 1, 5000, 'the alert at the terminal');
      expect(officer.alerts[0]!.payload.crop).toBeUndefined();
      expect(r.delivery(id).state).toBe('pending');
      await officer.accept(id);
      await until(() => r.delivery(id).state === 'delivered', 5000, 'delivered');
      expect(r.deliveredBy(id)).toBe('T-1042');
    } finally {
      await officer.close();
      await r.close();
    }
  });
});

describe('the plate crop in an alert', () => {
  it('is sent as stored when it fits, scaled down to fit the bound otherwise, and always decodes', async () => {
    const small = readFileSync(CROP_FIXTURE);
    const same = await cropForAlert(small, 49_152);
    expect(Buffer.from(same!.base64, 'base64').equals(small)).toBe(true);
    expect(jpegSize(small)).toEqual({ width: same!.width, height: same!.height });

    const frame = readFileSync(new URL('../test-fixtures/plates/us-ca-clean.jpg', import.meta.url));
    const bound = Math.floor(frame.length / 4);
    const fitted = (await cropForAlert(frame, bound))!;
    const jpeg = Buffer.from(fitted.base64, 'base64');
    expect(jpeg.length).toBeLessThanOrEqual(bound);
    const decoded = cv.imdecode(jpeg);
    expect([decoded.cols, decoded.rows]).toEqual([fitted.width, fitted.height]);
    expect(fitted.width).toBeLessThan(jpegSize(frame)!.width);

    expect(await cropForAlert(small, 0)).toBeNull();
    expect(await cropForAlert(Buffer.from('not a jpeg'), 49_152)).toBeNull();
  });

  it('the terminal simulator prints its size and saves it where asked (--crops)', async () => {
    const port = await freePort();
    const credentialsFile = secretFile('crops-credentials', `${OFFICER}:${OFFICER_PASSWORD}\n`);
    const bytes = readFileSync(CROP_FIXTURE);
    const channel = new MqttAlertChannel(channelConfig({ mode: 'embedded', listenHost: '127.0.0.1', listenPort: port, credentialsFile }), UNIT, undefined, {
      ...FAST,
      readImage: async () => bytes,
    });
    await channel.start();
    const input = new PassThrough();
    const output = new PassThrough();
    let printed = '';
    output.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    const cropsDir = join(dir, 'crops-seen');
    const session = runMqttTerminal(
      `mqtt://127.0.0.1:${port}`,
      { unitId: UNIT, username: OFFICER, password: OFFICER_PASSWORD, terminalId: 'MDT-9', clock: systemClock },
      { input, output, cropsDir },
    );
    try {
      await until(() => printed.includes('listening'), 5000, 'the terminal to listen');
      const hit = alert(901);
      await expect(channel.deliver(hit)).resolves.toEqual({ by: 'MDT-9' });
      await until(() => printed.includes('crop saved'), 5000, 'the crop saved');
      const size = jpegSize(bytes)!;
      expect(printed).toContain(`crop      JPEG ${size.width}x${size.height}, ${bytes.length} bytes`);
      expect(readFileSync(join(cropsDir, `${hit.alert.id}.jpg`)).equals(bytes)).toBe(true);
    } finally {
      input.end();
      await session;
      await channel.stop();
    }
  });
});

describe('MQTT alert channel through a mosquitto outage', () => {
  let broker: Mosquitto;
  let credentialsFile: string;
  beforeAll(async () => {
    broker = await Mosquitto.start({ users: { unit: UNIT_PASSWORD, [OFFICER]: OFFICER_PASSWORD } });
    credentialsFile = secretFile('outage-credentials', `unit:${UNIT_PASSWORD}\n`);
  });
  afterAll(async () => {
    await broker.dispose();
  });

  const makeChannel = (logger?: ChannelLogger): MqttAlertChannel =>
    new MqttAlertChannel(channelConfig({ mode: 'external', url: broker.url, credentialsFile }), UNIT, logger, FAST);

  it('rejects at once while the broker is down; the kept alerts then arrive once each, in order', async () => {
    const channel = makeChannel();
    await channel.start();
    const officer = terminal(broker.url, { clientId: 'outage-terminal' });
    try {
      expect(await channel.waitUntilConnected(5000)).toBe(true);
      await officer.connect();
      const all = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => alert(100 + n));
      await drainOutbox(channel, all.slice(0, 2));

      await broker.stop();
      await until(() => !channel.status().connected && !officer.ready, 5000, 'the unit and the terminal to notice');
      const kept: AlertDelivery[] = [];
      for (const d of all.slice(2, 6)) {
        // "at once": the answer is settled before the event loop turns even once (no reconnect, no ack timer,
        // no offline queue waited on), so the outbox can move on; a clock figure would fail on a busy machine
        const outcome = channel.deliver(d).then(
          () => 'delivered',
          (err: Error) => err,
        );
        const first = await Promise.race([outcome, new Promise((r) => setImmediate(() => r('still waiting')))]);
        expect(first).toBeInstanceOf(Error);
        expect((first as Error).message).toMatch(/not connected/);
        kept.push(d);
      }
      expect(channel.status()).toMatchObject({ connected: false, inFlight: 0, delivered: 2 });
      expect(channel.status().lastError).not.toBeNull();
      await sleep(600); // a few reconnect tries against a closed port

      await broker.start();
      await officer.waitReady(5000);
      kept.push(...all.slice(6));
      await drainOutbox(channel, kept);
      await until(() => officer.alerts.length === 8, 5000, 'all eight alerts at the terminal');
      await sleep(300);
      expect(officer.alerts.map((a) => a.payload.alert.id)).toEqual(all.map((d) => d.alert.id));
      expect(officer.received).toBe(8);
      expect(officer.duplicates).toBe(0);
      expect(channel.status()).toMatchObject({ connected: true, inFlight: 0, delivered: 8, lastError: null });
    } finally {
      await officer.close();
      await channel.stop();
    }
  });

  it('gives back an alert caught in flight when the broker dies, and mqtt.js does not send it again behind the outbox', async () => {
    const channel = makeChannel();
    await channel.start();
    const officer = terminal(broker.url);
    try {
      expect(await channel.waitUntilConnected(5000)).toBe(true);
      await officer.connect();
      const caught = alert(201);
      broker.pause();
      // the outcome is taken at once, so a rejection while the test sleeps is never "unhandled"
      const attempt = channel.deliver(caught).then(
        () => null,
        (err: Error) => err,
      );
      await sleep(150);
      expect(channel.status().inFlight).toBe(1);
      await broker.kill();
      expect((await attempt)?.message).toMatch(/closed before its PUBACK/);
      expect(channel.status().inFlight).toBe(0);

      await broker.start();
      await officer.waitReady(5000);
      await until(() => channel.status().connected, 5000, 'the unit to reconnect');
      await sleep(300);
      expect(officer.received).toBe(0);
      await drainOutbox(channel, [caught]);
      await until(() => officer.alerts.length === 1, 5000, 'the alert at the terminal');
      await sleep(300);
      expect(officer.received).toBe(1);
      expect(officer.alerts[0]!.payload.alert.id).toBe(caught.alert.id);
    } finally {
      await officer.close();
      await channel.stop();
    }
  });

  it('says "offline" itself when stopped', async () => {
    const channel = makeChannel();
    const watcher = terminal(broker.url);
    await watcher.connect();
    try {
      await channel.start();
      await until(() => watcher.statuses.at(-1)?.status === 'online', 5000, 'online');
      await channel.stop();
      await until(() => watcher.statuses.at(-1)?.status === 'offline', 5000, 'offline');
    } finally {
      await watcher.close();
    }
  });

  it('reports a refused login without showing the password', async () => {
    const logger = new CapturingLogger();
    const wrong = secretFile('wrong-credentials', 'unit:not-the-password\n');
    const channel = new MqttAlertChannel(channelConfig({ mode: 'external', url: broker.url, credentialsFile: wrong }), UNIT, logger, FAST);
    await channel.start();
    try {
      await until(() => channel.status().lastError !== null, 5000, 'the refusal');
      expect(channel.status().lastError).toMatch(/Bad User Name or Password|Not authorized/i);
      await expect(channel.deliver(alert(301))).rejects.toThrow(/not connected/);
      const shown = JSON.stringify(channel.status()) + logger.text();
      expect(shown).not.toContain('not-the-password');
    } finally {
      await channel.stop();
    }
  });
});

describe('embedded MQTT broker access', () => {
  let port: number;
  let url: string;
  let channel: MqttAlertChannel;
  beforeAll(async () => {
    port = await freePort();
    url = `mqtt://127.0.0.1:${port}`;
    const credentialsFile = secretFile('embedded-credentials', `${OFFICER}:${OFFICER_PASSWORD}\n`);
    channel = new MqttAlertChannel(
      channelConfig({ mode: 'embedded', listenHost: '127.0.0.1', listenPort: port, credentialsFile }),
      UNIT,
      undefined,
      FAST,
    );
    await channel.start();
    expect(channel.status().connected).toBe(true);
  });
  afterAll(async () => {
    await channel.stop();
  });

  it('refuses an anonymous client and a wrong password, and lets the right account in', async () => {
    await expect(rawClient(url)).rejects.toThrow(/Connection refused: Not authorized/);
    await expect(rawClient(url, { username: OFFICER, password: 'guess' })).rejects.toThrow(/Connection refused: Bad username or password/);
    await expect(rawClient(url, { username: 'nobody', password: OFFICER_PASSWORD })).rejects.toThrow(/Bad username or password/);
    const ok = await rawClient(url, { username: OFFICER, password: OFFICER_PASSWORD });
    await ok.endAsync();
  });

  it("refuses a terminal that takes the unit's client id", async () => {
    await expect(rawClient(url, { username: OFFICER, password: OFFICER_PASSWORD, clientId: `alpr-edge-${UNIT}` })).rejects.toThrow(
      /Identifier rejected/,
    );
    expect(channel.status().connected).toBe(true);
  });

  it('lets a terminal publish only acks, and subscribe only under its unit', async () => {
    const officer = terminal(url);
    await officer.connect();
    const forger = await rawClient(url, { username: OFFICER, password: OFFICER_PASSWORD });
    try {
      const forged = alert(401);
      const closed = new Promise<void>((resolve) => forger.once('close', () => resolve()));
      forger.publish(unitTopic(UNIT, 'alerts'), JSON.stringify({ ...forged, sentAt: Date.now() }), { qos: 1 });
      await closed;
      await sleep(200);
      expect(officer.received).toBe(0);

      const snoop = await rawClient(url, { username: OFFICER, password: OFFICER_PASSWORD });
      try {
        await expect(snoop.subscribeAsync('#')).rejects.toThrow(/Subscribe error/);
        await expect(snoop.subscribeAsync('alpr/OTHER/#')).rejects.toThrow(/Subscribe error/);
        const granted = await snoop.subscribeAsync(`alpr/${UNIT}/#`);
        expect(granted[0]!.qos).toBe(0);
        const status = new Promise<string>((resolve) => snoop.once('message', (_t, payload) => resolve(payload.toString())));
        expect(await status).toBe('online');
      } finally {
        await snoop.endAsync();
      }
    } finally {
      forger.end(true);
      await officer.close();
    }
  });

  it("keeps the unit's account on its own loopback listener and terminals on theirs", async () => {
    const broker = new EmbeddedBroker({ unitId: UNIT, users: [{ username: OFFICER, password: OFFICER_PASSWORD }], unitClientId: 'the-unit' });
    await broker.start('127.0.0.1', 0);
    try {
      const terminals = `mqtt://127.0.0.1:${broker.address()!.port}`;
      const unitOnly = broker.unitUrl()!;
      expect(unitOnly).not.toBe(terminals);
      const unit = broker.unitCredentials;
      await expect(rawClient(terminals, { ...unit, clientId: 'the-unit' })).rejects.toThrow(/Bad username or password/);
      await expect(rawClient(unitOnly, { username: OFFICER, password: OFFICER_PASSWORD })).rejects.toThrow(/Bad username or password/);
      const own = await rawClient(unitOnly, { ...unit, clientId: 'the-unit' });
      const officer = await rawClient(terminals, { username: OFFICER, password: OFFICER_PASSWORD });
      await own.endAsync();
      await officer.endAsync();
    } finally {
      await broker.stop();
    }
  });

  it('lets anonymous clients in only when told to (tests), and needs an account otherwise', async () => {
    expect(() => new EmbeddedBroker({ unitId: UNIT, users: [], unitClientId: 'u' })).toThrow(/anonymous clients are not allowed/);
    const open = new EmbeddedBroker({ unitId: UNIT, users: [], unitClientId: 'u', allowAnonymous: true });
    await open.start('127.0.0.1', 0);
    try {
      const address = open.address()!;
      const anonymous = await rawClient(`mqtt://127.0.0.1:${address.port}`);
      await anonymous.endAsync();
    } finally {
      await open.stop();
    }
    expect(open.address()).toBeNull();
  });

  it('prints alerts for a person and takes their answers from the input', async () => {
    const acks: AlertAck[] = [];
    channel.onAck((ack) => acks.push(ack));
    const input = new PassThrough();
    const output = new PassThrough();
    let printed = '';
    output.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    const session = runMqttTerminal(url, { unitId: UNIT, username: OFFICER, password: OFFICER_PASSWORD, terminalId: 'MDT-9', clock: systemClock }, { input, output });
    await until(() => printed.includes('listening'), 5000, 'the terminal to listen');
    const hit = alert(501, { lateMs: 65_000 });
    hit.alert.hit = { ...hit.alert.hit, matchKind: 'distance', distance: 1, entryPlate: '7ABC5O1' };
    await channel.deliver(hit);
    await until(() => printed.includes(hit.alert.id), 5000, 'the alert printed');
    expect(printed).toContain('7ABC501');
    expect(printed).toContain('CA-SVS / stolen vehicle, priority 1');
    expect(printed).toContain('near match of 7ABC5O1 (1 character differs)');
    expect(printed).toContain('[LATE by 1 min 5 s]');
    expect(printed).toContain('34.05123, -118.24368');
    expect(printed).toContain(VERIFY_NOTICE);
    input.write(`r ${hit.alert.id.slice(0, 5)} CLEARED\n`);
    await until(() => acks.length === 1, 5000, 'the answer');
    expect(acks[0]).toMatchObject({ alertId: hit.alert.id, accepted: false, reasonCode: 'CLEARED', by: 'MDT-9' });
    input.end();
    await session;
    expect(formatAlert({ ...alert(502), expired: true, sentAt: 0 })).toContain('[EXPIRED: not a live hit]');
  });
});

describe('who receives reads over MQTT (publishReads), for the access log', () => {
  const read: ReadPayload = {
    uuid: 'r-1',
    unitId: UNIT,
    cameraId: 'front',
    plate: '7ABC123',
    confidence: 91,
    firstSeen: 1,
    lastSeen: 2,
    latitude: null,
    longitude: null,
    positionValid: false,
    closed: true,
  };

  it('matches subscription filters as a broker does', () => {
    const reads = unitTopic(UNIT, 'reads');
    for (const f of ['#', 'alpr/#', `alpr/${UNIT}/#`, `alpr/+/reads`, `alpr/${UNIT}/+`, '+/+/+', reads, `alpr/${UNIT}/reads/#`]) {
      expect(filterCovers(f, reads), f).toBe(true);
    }
    for (const f of [`alpr/${UNIT}/alerts`, `alpr/${UNIT}/+/ack`, 'alpr/+', `alpr/OTHER/#`, `alpr/${UNIT}/reads/x`, '+/+', `alpr/${UNIT}`]) {
      expect(filterCovers(f, reads), f).toBe(false);
    }
  });

  it('embedded broker: a terminal subscribing to a filter that covers reads is reported with its username; one that does not, is not', async () => {
    const port = await freePort();
    const credentialsFile = secretFile('reads-credentials', `${OFFICER}:${OFFICER_PASSWORD}\n`);
    const make = (publishReads: boolean) =>
      new MqttAlertChannel(channelConfig({ mode: 'embedded', listenHost: '127.0.0.1', listenPort: port, credentialsFile, publishReads }), UNIT, undefined, FAST);
    const channel = make(true);
    const seen: ReadsAccess[] = [];
    channel.onReadsAccess((a) => seen.push(a));
    await channel.start();
    const officer = await rawClient(`mqtt://127.0.0.1:${port}`, { username: OFFICER, password: OFFICER_PASSWORD, clientId: 'mdt-17' });
    try {
      await officer.subscribeAsync(unitTopic(UNIT, 'alerts'));
      await sleep(100);
      expect(seen).toEqual([]);
      await officer.subscribeAsync(`alpr/${UNIT}/#`);
      await until(() => seen.length === 1, 5000, 'the reads subscription reported');
      expect(seen[0]).toEqual({
        who: OFFICER,
        role: 'terminal',
        topic: unitTopic(UNIT, 'reads'),
        filter: `alpr/${UNIT}/#`,
        clientId: 'mdt-17',
        broker: `embedded broker 127.0.0.1:${port}`,
      });
      // and what was reported is real: the terminal gets the plate text
      const got = new Promise<string>((resolve) => officer.on('message', (topic, payload) => topic.endsWith('/reads') && resolve(payload.toString())));
      expect(channel.publishRead(read)).toBe(true);
      expect(JSON.parse(await got)).toMatchObject({ plate: '7ABC123' });
    } finally {
      await officer.endAsync();
      await channel.stop();
    }

    // with publishReads off nothing carries plate text, and nothing is reported
    const quiet = make(false);
    const none: ReadsAccess[] = [];
    quiet.onReadsAccess((a) => none.push(a));
    await quiet.start();
    const other = await rawClient(`mqtt://127.0.0.1:${port}`, { username: OFFICER, password: OFFICER_PASSWORD });
    try {
      await other.subscribeAsync(`alpr/${UNIT}/#`);
      await sleep(200);
      expect(none).toEqual([]);
      expect(quiet.publishRead(read)).toBe(false);
    } finally {
      await other.endAsync();
      await quiet.stop();
    }
  });

  it('external broker: publishing reads there is reported once, as a system access naming the broker', async () => {
    const mosquitto = await Mosquitto.start({ users: { unit: UNIT_PASSWORD } });
    try {
      const credentialsFile = secretFile('reads-unit-credentials', `unit:${UNIT_PASSWORD}\n`);
      const channel = new MqttAlertChannel(channelConfig({ mode: 'external', url: mosquitto.url, credentialsFile, publishReads: true }), UNIT, undefined, FAST);
      const seen: ReadsAccess[] = [];
      channel.onReadsAccess((a) => seen.push(a));
      await channel.start();
      try {
        expect(await channel.waitUntilConnected(5000)).toBe(true);
        expect(seen).toEqual([
          { who: `mqtt broker ${mosquitto.url}`, role: 'system', topic: unitTopic(UNIT, 'reads'), filter: null, clientId: `alpr-edge-${UNIT}`, broker: mosquitto.url },
        ]);
        expect(JSON.stringify(seen)).not.toContain(UNIT_PASSWORD);
      } finally {
        await channel.stop();
      }
    } finally {
      await mosquitto.dispose();
    }
  });
});

describe('MQTT channel configuration errors', () => {
  it('says which file is missing or wrong, and refuses a password in the URL', async () => {
    const missing = new MqttAlertChannel(channelConfig({ credentialsFile: join(dir, 'nope') }), UNIT, undefined, { clock: systemClock });
    await expect(missing.start()).rejects.toThrow(/mqtt.credentialsFile .*nope: cannot read it \(ENOENT\)/);
    const unset = new MqttAlertChannel(channelConfig({ mode: 'embedded' }), UNIT, undefined, { clock: systemClock });
    await expect(unset.start()).rejects.toThrow(/mqtt.credentialsFile is not set/);
    const noColon = new MqttAlertChannel(channelConfig({ credentialsFile: secretFile('bad', 'justapassword\n') }), UNIT, undefined, {
      clock: systemClock,
    });
    await expect(noColon.start()).rejects.toThrow(/expected "username:password"/);
    const inUrl = new MqttAlertChannel(
      channelConfig({ url: 'mqtt://unit:hunter2@127.0.0.1:1883', credentialsFile: secretFile('ok', 'unit:x\n') }),
      UNIT,
      undefined,
      { clock: systemClock },
    );
    const refused = await inUrl.start().then(
      () => null,
      (err: Error) => err.message,
    );
    expect(refused).toMatch(/holds a username or password/);
    expect(refused).not.toContain('hunter2');
    expect(() => new MqttAlertChannel(channelConfig({}), 'unit/7', undefined, { clock: systemClock })).toThrow(/cannot be an MQTT topic level/);
  });

  it('parses acks strictly and says why one is refused', () => {
    const topic = ackTopic(UNIT, 'A1');
    expect(parseAck(topic, Buffer.from('{"accepted":true,"by":"T1"}'))).toEqual({
      ok: true,
      value: { unitId: UNIT, alertId: 'A1', accepted: true, by: 'T1' },
    });
    const mistyped = parseAck(topic, Buffer.from('{"accepted":"yes"}'));
    expect(mistyped.ok).toBe(false);
    expect(!mistyped.ok && mistyped.reason).toMatch(/^accepted: /);
    const extra = parseAck(topic, Buffer.from('{"accepted":true,"reason":"x"}'));
    expect(!extra.ok && extra.reason).toMatch(/reason/);
    expect(parseAck('alpr/U7/alerts', Buffer.from('{"accepted":true}'))).toMatchObject({ ok: false, reason: expect.stringMatching(/not an ack topic/) });
    expect(parseAck(topic, Buffer.alloc(2000, 32))).toMatchObject({ ok: false, reason: expect.stringMatching(/2000 bytes/) });
  });
});

/** Whether a plain MQTT client gets a CONNACK from `url` within `ms` ('refused' on an error or a closed socket). */
async function tryConnect(url: string, ms: number, options: Record<string, unknown> = {}): Promise<'connected' | 'refused'> {
  const client = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: ms, username: OFFICER, password: OFFICER_PASSWORD, ...options });
  try {
    return await new Promise<'connected' | 'refused'>((resolve) => {
      client.once('connect', () => resolve('connected'));
      client.once('error', () => resolve('refused'));
      client.once('close', () => resolve('refused'));
      setTimeout(() => resolve('refused'), ms + 500);
    });
  } finally {
    client.end(true);
  }
}

describe('the embedded broker: where it listens and TLS', () => {
  it('listens on the loopback only unless told otherwise', async () => {
    expect(mqttChannelSchema.parse({}).listenHost).toBe('127.0.0.1');
    const port = await freePort();
    const credentialsFile = secretFile('default-listen-credentials', `${OFFICER}:${OFFICER_PASSWORD}\n`);
    const { listenHost } = mqttChannelSchema.parse({});
    const channel = new MqttAlertChannel(channelConfig({ mode: 'embedded', listenHost, listenPort: port, credentialsFile }), UNIT, undefined, FAST);
    await channel.start();
    try {
      expect(channel.status().detail).toContain(`embedded broker 127.0.0.1:${port}`);
      expect(await tryConnect(`mqtt://127.0.0.1:${port}`, 3000)).toBe('connected');
    } finally {
      await channel.stop();
    }
  });

  it('with a certificate and key, terminals must speak TLS and trust its CA; alerts and receipts go through', async () => {
    const pki = makePki(join(dir, 'pki'));
    const port = await freePort();
    const credentialsFile = secretFile('tls-credentials', `${OFFICER}:${OFFICER_PASSWORD}\n`);
    const logger = new CapturingLogger();
    const channel = new MqttAlertChannel(
      channelConfig({ mode: 'embedded', listenHost: '127.0.0.1', listenPort: port, credentialsFile, tlsCertFile: pki.server.certFile, tlsKeyFile: pki.server.keyFile }),
      UNIT,
      logger,
      FAST,
    );
    await channel.start();
    const officer = terminal(`mqtts://127.0.0.1:${port}`, { caFile: pki.ca.certFile });
    try {
      // the unit's own client is on its loopback listener, without a certificate
      expect(channel.status()).toMatchObject({ connected: true });
      expect(channel.status().detail).toContain('TLS');
      expect(await tryConnect(`mqtt://127.0.0.1:${port}`, 2000)).toBe('refused');
      expect(await tryConnect(`mqtts://127.0.0.1:${port}`, 2000, { ca: readFileSync(pki.otherCa.ca.certFile), rejectUnauthorized: true })).toBe('refused');
      await officer.connect();
      const hit = alert(701);
      await expect(channel.deliver(hit)).resolves.toEqual({ by: 'T-1042' });
      expect(officer.alerts.map((a) => a.payload.alert.id)).toEqual([hit.alert.id]);
      expect(logger.text()).toContain('over TLS');
    } finally {
      await officer.close();
      await channel.stop();
    }
  });

  it('refuses half a TLS configuration, and warns of a plain listener beyond the loopback', async () => {
    const credentialsFile = secretFile('half-tls-credentials', `${OFFICER}:${OFFICER_PASSWORD}\n`);
    const half = new MqttAlertChannel(
      channelConfig({ mode: 'embedded', listenHost: '127.0.0.1', listenPort: await freePort(), credentialsFile, tlsCertFile: join(dir, 'cert.pem') }),
      UNIT,
      undefined,
      FAST,
    );
    await expect(half.start()).rejects.toThrow(/alerts.mqtt.tlsKeyFile is not set/);
    const logger = new CapturingLogger();
    const open = new MqttAlertChannel(channelConfig({ mode: 'embedded', listenHost: '0.0.0.0', listenPort: await freePort(), credentialsFile }), UNIT, logger, FAST);
    await open.start();
    try {
      expect(logger.text()).toMatch(/listens beyond this machine without TLS/);
    } finally {
      await open.stop();
    }
  });
});

describe('the terminal simulator', () => {
  it('shows confidence as the 0-100 figure it is', () => {
    const hit = alert(801);
    hit.alert.confidence = 76.8;
    const shown = formatAlert({ ...hit, sentAt: 0 });
    expect(shown).toContain('confidence 76.8%');
    expect(shown).not.toContain('7680');
  });

  it('parses receipts strictly', () => {
    const topic = unitTopic(UNIT, 'acks');
    expect(parseReceipt(topic, Buffer.from('{"alertId":"A1","terminalId":"T-1"}'))).toEqual({
      ok: true,
      value: { unitId: UNIT, alertId: 'A1', terminalId: 'T-1' },
    });
    expect(parseReceipt(topic, Buffer.from('{"alertId":"A1"}')).ok).toBe(false);
    expect(parseReceipt(topic, Buffer.from('{"alertId":"A/1","terminalId":"T"}')).ok).toBe(false);
    expect(parseReceipt(topic, Buffer.from('{"alertId":"A1","terminalId":"T","x":1}')).ok).toBe(false);
    expect(parseReceipt(unitTopic(UNIT, 'alerts'), Buffer.from('{"alertId":"A1","terminalId":"T"}')).ok).toBe(false);
  });
});

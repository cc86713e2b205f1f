import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttChannelConfig } from '../src/alerts/config.js';
import { EmbeddedBroker } from '../src/alerts/embedded-broker.js';
import { MqttAlertChannel, type ChannelLogger, type ReadsAccess } from '../src/alerts/mqtt.js';
import { ackTopic, filterCovers, parseAck, unitTopic, type ReadPayload } from '../src/alerts/mqtt-topics.js';
import { systemClock } from '../src/util/clock.js';
import { MqttTerminal, formatAlert, runMqttTerminal } from '../src/alerts/terminal-mqtt.js';
import { VERIFY_NOTICE, type AlertAck, type AlertDelivery } from '../src/alerts/types.js';
import type { Logger } from '../src/log/logger.js';
import { freePort, Mosquitto } from './mosquitto.js';

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

async function until(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
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

function recordingLogger(): ChannelLogger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (obj, msg) => lines.push(`${msg} ${JSON.stringify(obj)}`),
    warn: (obj, msg) => lines.push(`${msg} ${JSON.stringify(obj)}`),
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

function terminal(url: string, extra: { clientId?: string } = {}): MqttTerminal {
  clientCount += 1;
  return new MqttTerminal(url, {
    unitId: UNIT,
    username: OFFICER,
    password: OFFICER_PASSWORD,
    clientId: extra.clientId ?? `terminal-${clientCount}`,
    terminalId: 'T-1042',
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

interface Rig {
  /** Where terminals connect. */
  url: string;
  makeChannel(logger?: ChannelLogger): MqttAlertChannel;
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
          makeChannel: (logger) => new MqttAlertChannel(channelConfig({ mode: 'external', url, credentialsFile }), UNIT, logger, FAST),
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
          makeChannel: (logger) =>
            new MqttAlertChannel(
              channelConfig({ mode: 'embedded', listenHost: '127.0.0.1', listenPort: port, credentialsFile }),
              UNIT,
              logger,
              FAST,
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

  it('resolves deliver on PUBACK, and a terminal gets each alert once with its late and expired marks', async () => {
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
      await until('two alerts at the terminal', () => officer.alerts.length === 2);
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
      await until('the alert at the terminal', () => officer.alerts.length === 1);
      const answeredAt = Date.now();
      await officer.reject(hit.alert.id, 'NOT-MATCH');
      await until('the rejection', () => acks.length === 1);
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
      await until('the acceptance', () => acks.length === 2);
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
      channel.publishHealth({ cameras: 2, ocr: 'ok' });
      await watcher.connect();
      await until('online', () => watcher.statuses.at(-1)?.status === 'online');
      await until('health', () => watcher.health.get(UNIT)?.ocr === 'ok');
      channel.kill();
      await until('the last will', () => watcher.statuses.at(-1)?.status === 'offline');
      expect(watcher.statuses.at(-1)!.retained).toBe(false);
      // A terminal that turns up later learns it from the retained message.
      const latecomer = terminal(rig.url);
      await latecomer.connect();
      try {
        await until('the retained status', () => latecomer.statuses.length > 0);
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
    const logger = recordingLogger();
    const channel = rig.makeChannel(logger);
    await channel.start();
    try {
      expect(await channel.waitUntilConnected(5000)).toBe(true);
      const shown = JSON.stringify(channel.status()) + logger.lines.join('\n');
      expect(logger.lines.length).toBeGreaterThan(0);
      for (const secret of [UNIT_PASSWORD, OFFICER_PASSWORD, 'unit:', OFFICER]) expect(shown).not.toContain(secret);
    } finally {
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
      await until('the unit and the terminal to notice', () => !channel.status().connected && !officer.ready);
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
      await until('all eight alerts at the terminal', () => officer.alerts.length === 8);
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
      await until('the unit to reconnect', () => channel.status().connected);
      await sleep(300);
      expect(officer.received).toBe(0);
      await drainOutbox(channel, [caught]);
      await until('the alert at the terminal', () => officer.alerts.length === 1);
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
      await until('online', () => watcher.statuses.at(-1)?.status === 'online');
      await channel.stop();
      await until('offline', () => watcher.statuses.at(-1)?.status === 'offline');
    } finally {
      await watcher.close();
    }
  });

  it('reports a refused login without showing the password', async () => {
    const logger = recordingLogger();
    const wrong = secretFile('wrong-credentials', 'unit:not-the-password\n');
    const channel = new MqttAlertChannel(channelConfig({ mode: 'external', url: broker.url, credentialsFile: wrong }), UNIT, logger, FAST);
    await channel.start();
    try {
      await until('the refusal', () => channel.status().lastError !== null);
      expect(channel.status().lastError).toMatch(/Bad User Name or Password|Not authorized/i);
      await expect(channel.deliver(alert(301))).rejects.toThrow(/not connected/);
      const shown = JSON.stringify(channel.status()) + logger.lines.join('\n');
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
    await until('the terminal to listen', () => printed.includes('listening'));
    const hit = alert(501, { lateMs: 65_000 });
    hit.alert.hit = { ...hit.alert.hit, matchKind: 'distance', distance: 1, entryPlate: '7ABC5O1' };
    await channel.deliver(hit);
    await until('the alert printed', () => printed.includes(hit.alert.id));
    expect(printed).toContain('7ABC501');
    expect(printed).toContain('CA-SVS / stolen vehicle, priority 1');
    expect(printed).toContain('near match of 7ABC5O1 (1 character differs)');
    expect(printed).toContain('[LATE by 1 min 5 s]');
    expect(printed).toContain('34.05123, -118.24368');
    expect(printed).toContain(VERIFY_NOTICE);
    input.write(`r ${hit.alert.id.slice(0, 5)} CLEARED\n`);
    await until('the answer', () => acks.length === 1);
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
      await until('the reads subscription reported', () => seen.length === 1);
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

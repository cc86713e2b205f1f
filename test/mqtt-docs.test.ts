import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertsSchema, mqttChannelSchema } from '../src/alerts/config.js';
import { jpegSize } from '../src/alerts/crop.js';
import { MqttAlertChannel } from '../src/alerts/mqtt.js';
import {
  classifyTopic,
  healthSchema,
  parseAck,
  parseAlertPayload,
  parseReceipt,
  parseStatus,
  parseUrgentHotlist,
  readPayload,
  TOPICS,
  unitTopic,
  type MqttTopicKey,
} from '../src/alerts/mqtt-topics.js';
import { AlertOutbox } from '../src/alerts/outbox.js';
import { MqttTerminal } from '../src/alerts/terminal-mqtt.js';
import type { AlertAck } from '../src/alerts/types.js';
import { configSchema } from '../src/config/schema.js';
import { Hotlists } from '../src/hotlist/index.js';
import { createLogger } from '../src/log/logger.js';
import { cv } from '../src/recognition/cv.js';
import { ReadStore } from '../src/store/read-store.js';
import { HotlistSync, urgentSchema } from '../src/sync/hotlist-sync.js';
import { manualClock, systemClock } from '../src/util/clock.js';
import { freePort, Mosquitto } from './mosquitto.js';
import { until } from './helpers.js';

/**
 * docs/mqtt.md cannot drift from the code: its topic table is TOPICS (direction, QoS, retain), its config table is
 * the schema's defaults, and every JSON example in it is read by the code's own parser and covers every field of
 * the same message built by the real code (the outbox, the channel, the embedded broker, the terminal simulator).
 * `PRINT_MQTT_EXAMPLES=1 npx vitest run test/mqtt-docs.test.ts` prints the real messages, to refresh the doc.
 */

const ROOT = path.join(import.meta.dirname, '..');
const DOC = readFileSync(path.join(ROOT, 'docs', 'mqtt.md'), 'utf8');
const UNIT = 'car-12';

/** `<!-- example: KEY -->` then a fenced block: the doc's examples by topic key. */
function docExamples(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const re = /<!-- example: ([^\s]+) -->\s*\n```[a-z]*\n([\s\S]*?)\n```/g;
  for (const m of DOC.matchAll(re)) {
    const list = found.get(m[1]!) ?? [];
    list.push(m[2]!);
    found.set(m[1]!, list);
  }
  return found;
}

/** Every key path of a JSON value ("alert.hit.list", arrays as "[]"). */
function keyPaths(value: unknown, prefix = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v) => keyPaths(v, `${prefix}[]`));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => {
      const p = prefix === '' ? k : `${prefix}.${k}`;
      return [p, ...keyPaths(v, p)];
    });
  }
  return [];
}

let dir: string;
/** The messages the real code sent, by topic key (the raw bytes). */
let real: Map<MqttTopicKey, Buffer[]>;

/** Runs the real chain once: outbox → channel → embedded broker → terminal simulator, and keeps every message. */
async function realMessages(): Promise<Map<MqttTopicKey, Buffer[]>> {
  const clock = manualClock(Date.parse('2026-03-14T09:26:53.589Z'));
  const store = ReadStore.open(path.join(dir, 'store'), { clock, imageBudgetBytes: 1e8 });
  const read = await store.insertRead({
    uuid: '0b6f3e7c-3d41-4a53-9b9e-5f1c2a7d8e90', unitId: UNIT, cameraId: 'front', plate: '3FGH456', confidence: 93.5, candidates: [],
    region: 'us', state: { code: 'CA', confidence: 0.97 }, box: { x: 412, y: 288, width: 164, height: 52 },
    firstSeen: clock() - 211, lastSeen: clock() - 40, bestSeen: clock() - 120, frameCount: 5, clockSource: 'gps',
    position: { latitude: 34.052235, longitude: -118.243683, valid: true, fixTime: clock() - 500, speedKmh: 38, headingDeg: 92, source: 'gps' },
    closed: true, crop: { bytes: readFileSync(path.join(ROOT, 'test-fixtures', 'crops', 'us-ca-3FGH456.jpg')), format: 'jpeg' },
  });
  const port = await freePort();
  const credentialsFile = path.join(dir, 'mdt.cred');
  writeFileSync(credentialsFile, 'mdt-car12:terminal secret 7\n', { mode: 0o600 });
  const config = mqttChannelSchema.parse({
    enabled: true, mode: 'embedded', listenPort: port, credentialsFile, publishReads: true, receiptTimeoutMs: 300,
    // a small crop keeps the doc's example short; the default bound is 48 KiB
    cropMaxBytes: 900,
  });
  const channel = new MqttAlertChannel(config, UNIT, undefined, { clock, readImage: (ref) => store.readImage(ref), reconnectMinMs: 100 });
  const outbox = new AlertOutbox(store.database, alertsSchema.parse({}), undefined, clock);
  outbox.attach(channel);
  await channel.start();
  const seen = new Map<MqttTopicKey, Buffer[]>();
  const listener = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, username: 'mdt-car12', password: 'terminal secret 7', clientId: 'docs-listener' });
  listener.on('message', (topic, payload) => {
    const key = classifyTopic(topic)?.key;
    if (key !== undefined) seen.set(key, [...(seen.get(key) ?? []), Buffer.from(payload)]);
  });
  await listener.subscribeAsync(`alpr/${UNIT}/#`, { qos: 1 });
  const terminal = new MqttTerminal(`mqtt://127.0.0.1:${port}`, { unitId: UNIT, credentialsFile, terminalId: 'MDT-12', clientId: 'mdt-12', clock: systemClock });
  try {
    // raised while no terminal listens (the listener sends no receipt); delivered 125 s later: marked late
    const { alert } = outbox.raise({
      readId: read.id, hitId: null, unitId: UNIT, plate: read.plate, confidence: read.confidence, cameraId: read.cameraId,
      seenAt: read.firstSeen, latitude: 34.052235, longitude: -118.243683, positionValid: true, plateState: { code: 'CA', confidence: 0.97 },
      cropRef: read.cropPath, frameRef: read.framePath, covert: false,
      hit: { list: 'ncic-stolen', category: 'STOLEN VEHICLE', priority: 1, matchKind: 'exact', entryPlate: '3FGH456', entryId: 5531, entryState: 'CA' },
    });
    await until(() => (seen.get('alerts')?.length ?? 0) >= 1, 10_000, 'an alert seen on the broker');
    clock.advance(125_000);
    await terminal.connect();
    await until(() => (outbox.stats().pending.mqtt ?? 0) === 0, 10_000, 'the outbox emptied', () => outbox.stats());
    await terminal.reject(alert.id, 'NOT-MATCH');
    expect(channel.publishRead(readPayload(store.getRead(read.id)!))).toBe(true);
    await until(() => ['acks', 'alerts/+/ack', 'reads', 'status'].every((k) => seen.has(k as MqttTopicKey)), 10_000, 'acks, answers, reads and status seen', () => [...seen.keys()]);
  } finally {
    await terminal.close();
    await listener.endAsync();
    await outbox.stop();
    await channel.stop();
    store.close();
  }
  return seen;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'alpr-mqtt-docs-'));
  real = await realMessages();
  if (process.env.PRINT_MQTT_EXAMPLES) {
    for (const [key, payloads] of real) {
      const last = payloads.at(-1)!.toString();
      console.log(`--- ${key}\n${key === 'status' ? last : JSON.stringify(JSON.parse(last), null, 2)}`);
    }
  }
}, 60_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('docs/mqtt.md', () => {
  const examples = docExamples();

  it('lists every topic with the direction, QoS and retain flag the code uses', () => {
    const who = { unit: 'unit → terminal', terminal: 'terminal → unit', central: 'agency → unit' } as const;
    for (const [key, spec] of Object.entries(TOPICS)) {
      const topic = `alpr/<unit>/${key.replace('+', '<alert id>')}`;
      const row = DOC.split('\n').find((line) => line.startsWith(`| \`${topic}\``));
      expect(row, `a row for ${topic} in the topic table`).toBeDefined();
      const cells = row!.split('|').map((c) => c.trim());
      expect(cells[2], `${topic}: direction`).toBe(who[spec.from]);
      expect(cells[3], `${topic}: QoS`).toBe(String(spec.qos));
      expect(cells[4], `${topic}: retain`).toBe(spec.retain ? 'yes' : 'no');
      expect(examples.has(key), `an example for ${key}`).toBe(true);
    }
  });

  it("states the config keys with the schema's defaults", () => {
    const defaults = mqttChannelSchema.parse({}) as Record<string, unknown>;
    const table = DOC.slice(DOC.indexOf('<!-- mqtt-config -->')).split('\n\n')[0]!;
    const rows = table.split('\n').filter((line) => /^\| `[a-zA-Z]+` *\|/.test(line));
    const documented = new Map(
      rows.map((r) => {
        const cells = r.split('|').map((c) => c.trim());
        return [cells[1]!.replaceAll('`', ''), cells[2]!] as const;
      }),
    );
    expect([...documented.keys()].sort()).toEqual(Object.keys(defaults).sort());
    for (const [key, value] of Object.entries(defaults)) {
      expect(documented.get(key), `alerts.mqtt.${key}'s default`).toBe(value === '' ? '(none)' : `\`${String(value)}\``);
    }
    for (const m of DOC.matchAll(/alerts\.mqtt\.([a-zA-Z]+)/g)) expect(Object.keys(defaults), `alerts.mqtt.${m[1]} exists`).toContain(m[1]);
  });

  it('gives a mosquitto ACL under which an alert, its receipt, an answer and an urgent entry go through', async () => {
    const acl = /<!-- mosquitto-acl -->\s*\n```\n([\s\S]*?)\n```/.exec(DOC)![1]!;
    const aclFile = path.join(dir, 'acl');
    writeFileSync(aclFile, `${acl}\n`, { mode: 0o600 });
    const broker = await Mosquitto.start({
      users: { [UNIT]: 'unit-pw', 'mdt-car12': 'mdt-pw', central: 'central-pw' },
      extraConfig: [`acl_file ${aclFile}`],
    });
    const credentialsFile = path.join(dir, 'acl-unit.cred');
    writeFileSync(credentialsFile, `${UNIT}:unit-pw\n`, { mode: 0o600 });
    const channel = new MqttAlertChannel(mqttChannelSchema.parse({ enabled: true, url: broker.url, credentialsFile }), UNIT, undefined, { clock: systemClock });
    const answers: AlertAck[] = [];
    const urgent: unknown[] = [];
    channel.onAck((a) => answers.push(a));
    channel.onUrgentHotlist((p) => urgent.push(p));
    const terminal = new MqttTerminal(broker.url, { unitId: UNIT, username: 'mdt-car12', password: 'mdt-pw', terminalId: 'MDT-12', clock: systemClock });
    try {
      await channel.start();
      expect(await channel.waitUntilConnected(5000)).toBe(true);
      await terminal.connect();
      const sent = parseAlertPayload(Buffer.from(examples.get('alerts')![0]!));
      const delivery = sent.ok ? { alert: sent.value.alert, expired: false } : null;
      await expect(channel.deliver(delivery!)).resolves.toEqual({ by: 'MDT-12' });
      await terminal.accept(delivery!.alert.id);
      await until(() => answers.length === 1, 10_000, 'the answer');
      expect(answers[0]).toMatchObject({ alertId: delivery!.alert.id, accepted: true, by: 'MDT-12' });
      const central = await mqtt.connectAsync(broker.url, { protocolVersion: 4, username: 'central', password: 'central-pw', clientId: 'dispatch' });
      await central.publishAsync(unitTopic(UNIT, 'hotlist/urgent'), examples.get('hotlist/urgent')![0]!, { qos: 1 });
      await central.endAsync();
      await until(() => urgent.length === 1, 10_000, 'the urgent entry');
    } finally {
      await terminal.close();
      await channel.stop();
      await broker.dispose();
    }
  });

  it("gives an openssl recipe whose self-signed certificate the embedded broker serves and a terminal trusts", async () => {
    const recipe = /```sh\n(openssl req -x509[\s\S]*?mqtt-cert\.pem)\n/.exec(DOC)![1]!;
    const pki = path.join(dir, 'recipe');
    mkdirSync(pki);
    execFileSync('bash', ['-c', recipe.replaceAll('10.20.0.1', '127.0.0.1').replaceAll('/etc/alpr-edge', pki)], { stdio: 'pipe' });
    const port = await freePort();
    const credentialsFile = path.join(dir, 'recipe.cred');
    writeFileSync(credentialsFile, 'mdt-car12:terminal secret 7\n', { mode: 0o600 });
    const channel = new MqttAlertChannel(
      mqttChannelSchema.parse({
        enabled: true, mode: 'embedded', listenHost: '127.0.0.1', listenPort: port, credentialsFile,
        tlsCertFile: path.join(pki, 'mqtt-cert.pem'), tlsKeyFile: path.join(pki, 'mqtt-key.pem'),
      }),
      UNIT,
      undefined,
      { clock: systemClock },
    );
    const terminal = new MqttTerminal(`mqtts://127.0.0.1:${port}`, { unitId: UNIT, credentialsFile, caFile: path.join(pki, 'mqtt-cert.pem'), terminalId: 'MDT-12', clock: systemClock });
    try {
      await channel.start();
      await terminal.connect();
      const sent = parseAlertPayload(Buffer.from(examples.get('alerts')![0]!));
      await expect(channel.deliver({ alert: sent.ok ? sent.value.alert : (null as never), expired: false })).resolves.toEqual({ by: 'MDT-12' });
    } finally {
      await terminal.close();
      await channel.stop();
    }
  });

  it('has a status example the code reads, as the unit sends it', () => {
    for (const e of examples.get('status')!) expect(parseStatus(Buffer.from(e))).toMatchObject({ ok: true });
    expect(real.get('status')!.map((b) => b.toString())).toContain('online');
  });

  it('has alert examples the code reads, showing every field the unit sends, with a crop that decodes', () => {
    const sent = real.get('alerts')!.map((b) => JSON.parse(b.toString()) as unknown);
    const sentPaths = new Set(sent.flatMap((p) => keyPaths(p)));
    for (const e of examples.get('alerts')!) {
      const parsed = parseAlertPayload(Buffer.from(e));
      expect(parsed.ok ? null : parsed.reason).toBeNull();
      const paths = new Set(keyPaths(JSON.parse(e)));
      for (const p of sentPaths) expect(paths, `the doc's alert example shows ${p}`).toContain(p);
      const crop = parsed.ok ? parsed.value.crop : undefined;
      expect(crop).toBeDefined();
      const jpeg = Buffer.from(crop!.base64, 'base64');
      expect(jpegSize(jpeg)).toEqual({ width: crop!.width, height: crop!.height });
      const image = cv.imdecode(jpeg);
      expect([image.cols, image.rows]).toEqual([crop!.width, crop!.height]);
    }
    // the real one was late (raised with no terminal listening) and carried the crop
    const last = parseAlertPayload(real.get('alerts')!.at(-1)!);
    expect(last.ok && last.value.lateMs).toBeGreaterThanOrEqual(125_000);
    expect(last.ok && last.value.crop?.format).toBe('jpeg');
  });

  it('has receipt and answer examples the code reads, with the fields the terminal simulator sends', () => {
    const cases: Array<[MqttTopicKey, (b: Buffer) => { ok: boolean }]> = [
      ['acks', (b) => parseReceipt(unitTopic(UNIT, 'acks'), b)],
      ['alerts/+/ack', (b) => parseAck(`alpr/${UNIT}/alerts/2f1c9a4e-8d7b-4e0f-a1c3-6b5d4e3f2a10/ack`, b)],
    ];
    for (const [key, parse] of cases) {
      const sentPaths = new Set(real.get(key)!.flatMap((b) => keyPaths(JSON.parse(b.toString()))));
      for (const e of examples.get(key)!) {
        expect(parse(Buffer.from(e)), `${key}: ${e}`).toMatchObject({ ok: true });
        const paths = new Set(keyPaths(JSON.parse(e)));
        for (const p of sentPaths) expect(paths, `the doc's ${key} example shows ${p}`).toContain(p);
      }
    }
  });

  it('has a reads example with every field of a published read', () => {
    const sent = JSON.parse(real.get('reads')!.at(-1)!.toString()) as Record<string, unknown>;
    for (const e of examples.get('reads')!) {
      const doc = JSON.parse(e) as Record<string, unknown>;
      expect(Object.keys(doc).sort()).toEqual(Object.keys(sent).sort());
      for (const k of Object.keys(sent)) expect(typeof doc[k], k).toBe(typeof sent[k]);
    }
  });

  it('has a health example that is exactly the schema the unit publishes', () => {
    for (const e of examples.get('health')!) {
      const parsed = healthSchema.safeParse(JSON.parse(e));
      expect(parsed.error?.message).toBeUndefined();
    }
  });

  it('has urgent hot list examples that the unit applies', () => {
    const store = ReadStore.open(path.join(dir, 'urgent'), { clock: systemClock, imageBudgetBytes: 1e6 });
    const config = configSchema.parse({ unit: { id: UNIT } });
    const log = createLogger('silent');
    const hotlists = Hotlists.open(store.database, { config: config.hotlists, clock: systemClock, log });
    try {
      const sync = new HotlistSync(store.database, hotlists, log);
      for (const e of examples.get('hotlist/urgent')!) {
        const parsed = parseUrgentHotlist(Buffer.from(e));
        expect(parsed.ok).toBe(true);
        expect(urgentSchema.safeParse(parsed.ok ? parsed.value : null).success).toBe(true);
        expect(sync.applyUrgent(parsed.ok ? parsed.value : null), e).toMatchObject({ ok: true });
      }
    } finally {
      hotlists.stop();
      store.close();
    }
  });
});

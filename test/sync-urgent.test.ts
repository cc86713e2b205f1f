import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttChannelConfig } from '../src/alerts/config.js';
import { MqttAlertChannel } from '../src/alerts/mqtt.js';
import { unitTopic } from '../src/alerts/mqtt-topics.js';
import { configSchema } from '../src/config/schema.js';
import { Hotlists } from '../src/hotlist/index.js';
import { createLogger } from '../src/log/logger.js';
import { ReadStore } from '../src/store/read-store.js';
import { HotlistSync } from '../src/sync/hotlist-sync.js';
import { Mosquitto } from './mosquitto.js';
import { systemClock } from '../src/util/clock.js';
import { until } from './helpers.js';

/**
 * An urgent hot list entry or cancellation reaches the unit over MQTT without waiting for the sync schedule: a
 * real mosquitto whose ACL lets only the agency's `central` account publish on the urgent topics. A terminal
 * (an officer's laptop on the same broker) cannot, and a malformed message changes nothing.
 */

const UNIT = 'car-12';
const log = createLogger('silent');
let dir: string;
let broker: Mosquitto;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'alpr-urgent-'));
  const acl = path.join(dir, 'acl');
  writeFileSync(
    acl,
    ['user unit', 'topic readwrite alpr/car-12/#', 'topic read alpr/all/#', '', 'user central', 'topic write alpr/+/hotlist/urgent', '', 'user officer', 'topic read alpr/car-12/#', 'topic write alpr/car-12/alerts/+/ack', ''].join('\n'),
  );
  broker = await Mosquitto.start({ users: { unit: 'unit-pw', central: 'central-pw', officer: 'officer-pw' }, extraConfig: [`acl_file ${acl}`] });
});
afterAll(async () => {
  await broker.dispose();
  rmSync(dir, { recursive: true, force: true });
});

function channelConfig(credentialsFile: string): MqttChannelConfig {
  return { enabled: true, mode: 'external', url: broker.url, credentialsFile, caFile: '', clientId: '', listenHost: '127.0.0.1', listenPort: 1883, tlsCertFile: '', tlsKeyFile: '', receiptTimeoutMs: 5000, cropMaxBytes: 0, publishReads: false };
}

async function publishAs(user: string, password: string, topic: string, payload: unknown): Promise<void> {
  const client = await mqtt.connectAsync(broker.url, { username: user, password, protocolVersion: 4, clientId: `${user}-${Math.random().toString(36).slice(2, 8)}` });
  await client.publishAsync(topic, typeof payload === 'string' ? payload : JSON.stringify(payload), { qos: 1 });
  await client.endAsync();
}

describe('urgent hot list messages over MQTT', () => {
  it('the agency adds and cancels at once; a terminal cannot; garbage is refused; each message applies once', async () => {
    const store = ReadStore.open(path.join(dir, 'unit'), { clock: systemClock, imageBudgetBytes: 2 ** 20 });
    const config = configSchema.parse({ unit: { id: UNIT } });
    const hotlists = Hotlists.open(store.database, { config: config.hotlists, clock: systemClock, log });
    const urgent = new HotlistSync(store.database, hotlists, log);
    const credentials = path.join(dir, 'credentials');
    writeFileSync(credentials, 'unit:unit-pw\n', { mode: 0o600 });
    const channel = new MqttAlertChannel(channelConfig(credentials), UNIT, undefined, { clock: systemClock });
    const results: Array<{ ok: boolean; message: string }> = [];
    channel.onUrgentHotlist((payload) => results.push(urgent.applyUrgent(payload)));
    await channel.start();
    expect(await channel.waitUntilConnected(5000)).toBe(true);
    // the subscription is made on connect; give the broker a moment to register it
    await new Promise((r) => setTimeout(r, 200));
    const wanted = (plate: string) => hotlists.match({ plate }).length > 0;

    const entry = { op: 'add', id: 'e-901', list: 'urgent', plate: '8URG888', state: 'CA', reason: 'armed robbery suspect vehicle', caseNumber: '26-004512', by: 'dispatch' };
    await publishAs('central', 'central-pw', unitTopic(UNIT, 'hotlist/urgent'), entry);
    await until(() => wanted('8URG888'), 5000, 'the urgent entry');

    // the same entry again (a retransmission): applied once
    await publishAs('central', 'central-pw', unitTopic(UNIT, 'hotlist/urgent'), entry);
    await until(() => results.length === 2, 5000, 'the repeated message');
    expect(results[1]!.message).toMatch(/applied before/);
    expect(hotlists.lists().find((l) => l.name === 'urgent')!.manualEntries).toBe(1);

    // an officer's terminal on the same broker tries to cancel it: the broker drops the message
    await publishAs('officer', 'officer-pw', unitTopic(UNIT, 'hotlist/urgent'), { op: 'cancel', id: 'c-fake', list: 'urgent', plate: '8URG888', reason: 'prank' });
    // garbage from the agency's side is refused with a reason
    await publishAs('central', 'central-pw', unitTopic(UNIT, 'hotlist/urgent'), '{"op":"cancel","plate":');
    await publishAs('central', 'central-pw', unitTopic(UNIT, 'hotlist/urgent'), { op: 'cancel', id: 'c-bad', list: 'urgent', plate: '8URG888' });
    await until(() => results.length === 3, 5000, 'the malformed cancellation');
    expect(results[2]).toMatchObject({ ok: false, message: expect.stringMatching(/reason/) });
    expect(wanted('8URG888')).toBe(true);

    // the agency cancels it, for every unit at once
    await publishAs('central', 'central-pw', 'alpr/all/hotlist/urgent', { op: 'cancel', id: 'c-902', list: 'urgent', plate: '8URG888', reason: 'vehicle stopped, suspect in custody', by: 'dispatch' });
    await until(() => !wanted('8URG888'), 5000, 'the cancellation');
    expect(results.at(-1)!.message).toMatch(/1 entry cancelled/);
    const applied = store.database.prepare('SELECT kind, server_id, via FROM sync_applied ORDER BY kind').all();
    expect(applied).toEqual([
      { kind: 'cancellation', server_id: 'c-902', via: 'mqtt' },
      { kind: 'entry', server_id: 'e-901', via: 'mqtt' },
    ]);
    await channel.stop();
    hotlists.stop();
    store.close();
  });
});

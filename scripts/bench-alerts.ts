/**
 * `npm run bench:alerts`: latency from a stored hit to the alert at the terminal, on the serial and MQTT
 * channels together, as the unit runs them: a real serial line (two pseudo-terminals joined by socat) with the
 * terminal simulator at the far end, and the unit's embedded MQTT broker with a subscribing terminal.
 * Each of N alerts is raised (committed to the outbox: "the stored hit") and timed until the terminal has
 * decoded it, in the same process and clock.
 *
 *   npm run bench:alerts -- [--alerts 1000] [--gap-ms 10] [--mqtt-terminal-after 0]
 *
 * `--mqtt-terminal-after K`: the MQTT terminal subscribes only after K alerts were raised (#16 item 6: alerts raised
 * before a terminal first subscribed must still reach it; delivery on MQTT waits for the terminal's receipt).
 */
import { systemClock } from '../src/util/clock.js';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { alertsSchema } from '../src/alerts/config.js';
import { MqttAlertChannel } from '../src/alerts/mqtt.js';
import { AlertOutbox } from '../src/alerts/outbox.js';
import { SerialAlertChannel } from '../src/alerts/serial.js';
import { MqttTerminal } from '../src/alerts/terminal-mqtt.js';
import { SerialTerminal } from '../src/alerts/terminal-serial.js';
import { NO_POSITION } from '../src/gps/types.js';
import { ReadStore } from '../src/store/read-store.js';
import { scriptArgs } from './script-args.js';

const { values } = scriptArgs(import.meta.url, {
  options: { alerts: { type: 'string', default: '1000' }, 'gap-ms': { type: 'string', default: '10' }, 'mqtt-terminal-after': { type: 'string', default: '0' } },
});
const N = Number(values.alerts);
const mqttAfter = Number(values['mqtt-terminal-after']);
const gap = Number(values['gap-ms']);
const dir = mkdtempSync(path.join(tmpdir(), 'alpr-bench-alerts-'));

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });

const socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${dir}/unit`, `pty,raw,echo=0,link=${dir}/term`], { stdio: 'ignore' });
while (!(existsSync(`${dir}/unit`) && existsSync(`${dir}/term`))) await new Promise((r) => setTimeout(r, 20));

const store = ReadStore.open(path.join(dir, 'data'), { clock: systemClock, imageBudgetBytes: 1e8 });
const read = await store.insertRead({
  uuid: 'bench', unitId: 'bench', cameraId: 'front', plate: '7ABC123', confidence: 95, candidates: [], region: 'us',
  box: { x: 0, y: 0, width: 10, height: 10 }, firstSeen: Date.now(), lastSeen: Date.now(), bestSeen: Date.now(), frameCount: 3,
  clockSource: 'system', position: NO_POSITION, closed: true, crop: { bytes: Buffer.from('crop'), format: 'jpeg' },
});
const config = alertsSchema.parse({
  dedupWindowMs: 0,
  maxUnacknowledged: 10_000,
  serial: { enabled: true, port: `${dir}/unit`, heartbeatMs: 1000 },
  mqtt: { enabled: true, mode: 'embedded', listenHost: '127.0.0.1', listenPort: await freePort(), credentialsFile: path.join(dir, 'mqtt.cred') },
});
writeFileSync(config.mqtt.credentialsFile, 'car12:bench-secret\n', { mode: 0o600 });

const serial = new SerialAlertChannel(config.serial, undefined, { clock: systemClock });
const mqtt = new MqttAlertChannel(config.mqtt, 'bench', undefined, { clock: systemClock });
const outbox = new AlertOutbox(store.database, config, undefined, systemClock);
outbox.attach(serial);
outbox.attach(mqtt);
await serial.start();
await mqtt.start();
await mqtt.waitUntilConnected(10_000);

const raisedAt = new Map<string, number>();
const serialMs: number[] = [];
const mqttMs: number[] = [];
const serialTerm = new SerialTerminal({ clock: systemClock, path: `${dir}/term`, heartbeatMs: 1000 });
serialTerm.on('alert', (a) => serialMs.push(performance.now() - raisedAt.get(a.delivery.alert.id)!));
await serialTerm.start();
const mqttTerm = new MqttTerminal(`mqtt://127.0.0.1:${config.mqtt.listenPort}`, { clock: systemClock, unitId: 'bench', credentialsFile: config.mqtt.credentialsFile });
mqttTerm.onAlert((a) => mqttMs.push(performance.now() - raisedAt.get(a.payload.alert.id)!));
const connectMqttTerminal = async () => {
  await mqttTerm.connect();
  await mqttTerm.waitReady(10_000);
};
if (mqttAfter === 0) await connectMqttTerminal();
await new Promise((r) => setTimeout(r, 500));

for (let i = 0; i < N; i++) {
  if (mqttAfter > 0 && i === mqttAfter) await connectMqttTerminal();
  const t0 = performance.now();
  const { alert } = outbox.raise({
    readId: read.id, hitId: null, unitId: 'bench', plate: '7ABC123', confidence: 95, cameraId: 'front', seenAt: Date.now(),
    latitude: 34.05, longitude: -118.25, positionValid: true, cropRef: read.cropPath, frameRef: null, covert: false,
    hit: { list: 'stolen', category: 'stolen vehicle', priority: 2, matchKind: 'exact', entryPlate: '7ABC123', entryId: i + 1 },
  });
  raisedAt.set(alert.id, t0);
  await new Promise((r) => setTimeout(r, gap));
}
const end = Date.now() + 60_000;
while ((serialMs.length < N || mqttMs.length < N) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));

const pct = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))]! * 100) / 100 : null;
};
const worst = (xs: number[]) => xs.map((v, i) => [i, Math.round(v)]).sort((a, b) => b[1]! - a[1]!).slice(0, 8);
if (process.env.BENCH_DEBUG) console.error({ serialWorst: worst(serialMs), mqttWorst: worst(mqttMs) });
const line = (name: string, xs: number[]) =>
  `| ${name} | ${xs.length} / ${N} | ${pct(xs, 0.5)} | ${pct(xs, 0.99)} | ${pct(xs, 1)} |`;
process.stdout.write(
  [
    `bench:alerts ${new Date().toISOString().slice(0, 10)}, ${os.cpus()[0]?.model ?? 'CPU'}, ${os.cpus().length} cores, node ${process.version}; ${N} alerts ${gap} ms apart, both channels at once${mqttAfter > 0 ? `; the MQTT terminal subscribed after ${mqttAfter} alerts` : ''}`,
    '',
    '| channel | received | stored hit -> decoded at the terminal, median ms | p99 ms | max ms |',
    '|---|---|---|---|---|',
    line('serial (socat pty, 115200 baud setting)', serialMs),
    line('MQTT (embedded broker, QoS 1)', mqttMs),
    '',
    `MQTT deliveries recorded: ${(store.database.prepare(`SELECT count(*) AS n FROM alert_deliveries WHERE channel = 'mqtt' AND state = 'delivered'`).get() as { n: number }).n} / ${N}`,
    '',
  ].join('\n'),
);
await outbox.stop();
await serialTerm.stop();
await mqttTerm.close();
await serial.stop();
await mqtt.stop();
store.close();
socat.kill();
rmSync(dir, { recursive: true, force: true });
process.exit(0);

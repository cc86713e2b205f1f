import Database from 'better-sqlite3';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertsSchema, type MqttChannelConfig } from '../src/alerts/config.js';
import { MqttAlertChannel } from '../src/alerts/mqtt.js';
import { AlertOutbox } from '../src/alerts/outbox.js';
import { SerialTerminal, type ReceivedAlert } from '../src/alerts/terminal-serial.js';
import { NO_POSITION } from '../src/gps/types.js';
import { ReadStore } from '../src/store/read-store.js';
import { systemClock } from '../src/util/clock.js';
import { freePort } from './mosquitto.js';
import { adminSession } from './session-helper.js';
import { newRead, SocatPair, until } from './helpers.js';

/**
 * A stop must not wait out the alert channels (#16 item 3): with a terminal that never ACKs and a retry a minute
 * away, the unit stops before the retry would be due, the alert stays pending in the outbox, and the next start
 * delivers it (the unit as systemd runs it: `alpr-edge run`, SIGTERM). MQTT with the broker unreachable: the outbox and channel stop before the reconnect back-off.
 * Orderings, not durations: the machine running the tests is busy.
 */

const ROOT = path.join(import.meta.dirname, '..');
const PLATES = path.join(ROOT, 'test-fixtures', 'plates');
const MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const RETRY_MS = 60_000;

let dir: string;
let socat: SocatPair | undefined;
const terminals: SerialTerminal[] = [];
let unitProcess: ChildProcess | undefined;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'alpr-stop-'));
});
afterAll(async () => {
  unitProcess?.kill('SIGKILL');
  for (const t of terminals) await t.stop();
  socat?.kill();
  rmSync(dir, { recursive: true, force: true });
});

/** Which of stop() and "half the retry wait has passed since `since`" comes first. */
async function stopBefore(stop: () => Promise<void>, since: number, retryInMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const halfway = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve('half the retry wait passed first'), since + retryInMs / 2 - performance.now());
  });
  const first = await Promise.race([stop().then(() => 'stopped'), halfway]);
  clearTimeout(timer);
  return first;
}

function terminal(autoAck: boolean): SerialTerminal {
  const t = new SerialTerminal({ path: `${dir}/term-tty`, autoAck, heartbeatMs: 200, retryMinMs: 50, retryMaxMs: 200, clock: systemClock });
  terminals.push(t);
  return t;
}

describe('a unit stops promptly, keeping what it did not deliver', () => {
  it('serial terminal that never ACKs, next retry 60 s away: stop comes first, the alert stays pending and the next start delivers it', async () => {
    socat = await SocatPair.open(`${dir}/unit-tty`, `${dir}/term-tty`);
    const config = path.join(dir, 'unit.yaml');
    const yaml = (cameras: string) => `unit: { id: car-3 }
data: { dir: ${JSON.stringify(path.join(dir, 'data'))} }
log: { level: info }
grouping: { maxDelayMs: 300, leaveAfterMs: 30000 }
alerts:
  serial: { enabled: true, port: ${JSON.stringify(`${dir}/unit-tty`)}, ackTimeoutMs: ${RETRY_MS}, maxRetries: 1, heartbeatMs: 500 }
${cameras}
`;
    writeFileSync(config, yaml(`cameras:\n  - { id: hot, type: replay, source: ${JSON.stringify(PLATES)}, pattern: "us-ca-clean.jpg", fps: 2, loop: true }`));
    const listFile = path.join(dir, 'stolen.txt');
    writeFileSync(listFile, '7ABC123\n');
    const session = await adminSession(path.join(dir, 'data'));
    const env = { ...process.env, ALPR_EDGE_SESSION: session };
    execFileSync(process.execPath, [MAIN, 'hotlist', 'import', listFile, '--list', 'stolen', '--format', 'lines', '--config', config], { encoding: 'utf8', env });

    // the terminal is on and hears the unit, but never ACKs an alert
    const silent = terminal(false);
    const shown: Array<{ at: number; a: ReceivedAlert }> = [];
    silent.on('alert', (a: ReceivedAlert) => shown.push({ at: performance.now(), a }));
    await silent.start();

    const hits: Array<{ alert: string; suppressed: string | null }> = [];
    const child = spawn(process.execPath, [MAIN, 'run', '--config', config, '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env });
    unitProcess = child;
    let buf = '';
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const line of lines) {
        const e = JSON.parse(line) as { event: string; alert?: string; suppressed?: string | null };
        if (e.event === 'hit') hits.push({ alert: e.alert!, suppressed: e.suppressed ?? null });
      }
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await until(() => shown.length >= 1, 90_000, 'the first ALERT frame at the terminal', () => stderr.slice(-2000));
    const alertId = shown[0]!.a.delivery.alert.id;
    expect(hits.map((h) => h.alert)).toContain(alertId);

    // the retransmission is due RETRY_MS after the first send: SIGTERM, and the unit exits before it
    expect(await stopBefore(async () => {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }, shown[0]!.at, RETRY_MS)).toBe('stopped');
    unitProcess = undefined;
    expect(shown[0]!.a.copies).toBe(1);
    expect(stderr).toContain('left pending for the next start');
    await silent.stop();

    // nothing accepted is lost: the alert is still pending for the serial channel, not delivered
    const db = new Database(path.join(dir, 'data', 'alpr-edge.db'), { readonly: true });
    try {
      const row = db.prepare(`SELECT state, delivered_at, last_error FROM alert_deliveries WHERE channel = 'serial' AND alert_id = ?`).get(alertId) as
        | { state: string; delivered_at: number | null; last_error: string | null }
        | undefined;
      expect(row).toMatchObject({ state: 'pending', delivered_at: null });
      expect(row!.last_error).toMatch(/stopped/);
    } finally {
      db.close();
    }

    // the next start (no cameras), with a terminal that answers, delivers it
    writeFileSync(config, yaml('cameras: []'));
    const answering = terminal(true);
    const delivered: ReceivedAlert[] = [];
    answering.on('alert', (a: ReceivedAlert) => delivered.push(a));
    await answering.start();
    const again = spawn(process.execPath, [MAIN, 'run', '--config', config], { stdio: 'ignore' });
    unitProcess = again;
    const exitedAgain = new Promise<number | null>((resolve) => again.once('exit', (code) => resolve(code)));
    await until(() => delivered.some((a) => a.delivery.alert.id === alertId), 30_000, 'the alert at the next start');
    const stateNow = () => {
      const d = new Database(path.join(dir, 'data', 'alpr-edge.db'), { readonly: true });
      try {
        return (d.prepare(`SELECT state FROM alert_deliveries WHERE alert_id = ? AND channel = 'serial'`).get(alertId) as { state: string }).state;
      } finally {
        d.close();
      }
    };
    await until(() => stateNow() === 'delivered', 10_000, 'the delivery recorded');
    again.kill('SIGTERM');
    expect(await exitedAgain).toBe(0);
    unitProcess = undefined;
  }, 180_000);

  it('MQTT broker unreachable, reconnect 60 s away: the outbox and channel stop first, the alert stays pending', async () => {
    const store = ReadStore.open(path.join(dir, 'mqtt'), { clock: systemClock, imageBudgetBytes: 1e8 });
    try {
      const read = await store.insertRead(
        newRead(1, { uuid: 'r1', unitId: 'u', plate: '7ABC123', confidence: 95, firstSeen: 1, position: NO_POSITION, crop: { bytes: Buffer.from('x'), format: 'jpeg' }, frame: undefined }),
      );
      const port = await freePort(); // closed: nothing listens there
      const credentialsFile = path.join(dir, 'mqtt-credentials');
      writeFileSync(credentialsFile, 'unit:not-used-the-broker-is-not-there\n', { mode: 0o600 });
      const mqttConfig: MqttChannelConfig = {
        enabled: true,
        mode: 'external',
        url: `mqtt://127.0.0.1:${port}`,
        credentialsFile,
        caFile: '',
        clientId: '',
        listenHost: '127.0.0.1',
        listenPort: 1883,
        tlsCertFile: '',
        tlsKeyFile: '',
        receiptTimeoutMs: 5000,
        cropMaxBytes: 0,
        publishReads: false,
      };
      const channel = new MqttAlertChannel(mqttConfig, 'u', undefined, {
        reconnectMinMs: RETRY_MS,
        reconnectMaxMs: RETRY_MS,
        connectTimeoutMs: 2000,
        clock: systemClock,
      });
      const outbox = new AlertOutbox(store.database, alertsSchema.parse({}), undefined, systemClock);
      outbox.attach(channel);
      await channel.start();
      const { alert } = outbox.raise({
        readId: read.id, hitId: null, unitId: 'u', plate: '7ABC123', confidence: 95, cameraId: 'front', seenAt: 1,
        latitude: null, longitude: null, positionValid: false, cropRef: null, frameRef: null, covert: false,
        hit: { list: 'stolen', category: 'stolen vehicle', priority: 3, matchKind: 'exact', entryPlate: '7ABC123', entryId: 1 },
      });
      // the connection has been refused (the reconnect is now RETRY_MS away) and the outbox has tried the alert
      await until(() => channel.status().lastError !== null, 10_000, 'the refused connection');
      const refusedAt = performance.now();
      const attempts = () =>
        (store.database.prepare(`SELECT attempts FROM alert_deliveries WHERE alert_id = ?`).get(alert.id) as { attempts: number }).attempts;
      await until(() => attempts() >= 1, 10_000, 'a failed attempt');
      const stop = async () => {
        await outbox.stop();
        await channel.stop();
      };
      expect(await stopBefore(stop, refusedAt, RETRY_MS)).toBe('stopped');
      expect(outbox.stats().pending).toEqual({ mqtt: 1 });
    } finally {
      store.close();
    }
  }, 60_000);
});

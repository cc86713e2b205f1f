import { systemClock } from '../src/util/clock.js';
import Database from 'better-sqlite3';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SerialTerminal, type ReceivedAlert } from '../src/alerts/terminal-serial.js';
import { MqttTerminal } from '../src/alerts/terminal-mqtt.js';
import { jpegSize } from '../src/alerts/crop.js';
import { healthSchema } from '../src/alerts/mqtt-topics.js';
import { cv } from '../src/recognition/cv.js';
import { freePort } from './mosquitto.js';
import { adminSession } from './session-helper.js';
import { SocatPair, until } from './helpers.js';

/**
 * Hot list hits through the whole unit to the patrol terminal: the compiled unit replays plates, some of which
 * are on an imported hot list; the terminal (the simulator, on the far end of a real socat serial line) is off
 * when the hits happen, comes on later, gets every alert once, marked late, and answers; the answers are recorded.
 */

const ROOT = path.join(import.meta.dirname, '..');
const MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const PLATES = path.join(ROOT, 'test-fixtures', 'plates');

let dir: string;
let socat: SocatPair | undefined;
let unit: ChildProcess | undefined;
let terminal: SerialTerminal | undefined;
let mqttTerminal: MqttTerminal | undefined;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'alpr-alerts-'));
});
afterAll(async () => {
  await terminal?.stop();
  await mqttTerminal?.close();
  unit?.kill('SIGKILL');
  socat?.kill();
  rmSync(dir, { recursive: true, force: true });
});

describe('alerts from the whole unit to the terminal over a serial line', () => {
  it('every hit reaches the terminal once, late when the terminal was off, covert hits never; answers are recorded', async () => {
    socat = await SocatPair.open(`${dir}/unit-tty`, `${dir}/term-tty`);

    const config = path.join(dir, 'unit.yaml');
    writeFileSync(
      config,
      `unit: { id: car-12 }
data: { dir: ${JSON.stringify(path.join(dir, 'data'))} }
log: { level: info }
grouping: { maxDelayMs: 300, leaveAfterMs: 600 }
pipeline: { queueDepth: 16 }
alerts:
  lateAfterMs: 500
  serial: { enabled: true, port: ${JSON.stringify(`${dir}/unit-tty`)}, ackTimeoutMs: 300, maxRetries: 1, heartbeatMs: 500 }
cameras:
  - { id: front, type: replay, source: ${JSON.stringify(PLATES)}, pattern: "us-*", fps: 4 }
`,
    );
    // the hot lists, imported as a technician would before the shift
    writeFileSync(path.join(dir, 'stolen.txt'), '7ABC123\nABC1234\n6TRJ244\n');
    writeFileSync(path.join(dir, 'watch.txt'), '5KDW837\n');
    const session = await adminSession(path.join(dir, 'data'));
    const cli = (...args: string[]) =>
      execFileSync(process.execPath, [MAIN, ...args, '--config', config], { encoding: 'utf8', env: { ...process.env, ALPR_EDGE_SESSION: session } });
    cli('hotlist', 'import', path.join(dir, 'stolen.txt'), '--list', 'stolen', '--format', 'lines', '--category', 'stolen vehicle', '--priority', '2');
    cli('hotlist', 'import', path.join(dir, 'watch.txt'), '--list', 'watch', '--format', 'lines', '--covert');

    const events: Array<{ event: string; plate: string; list?: string; alert?: string; suppressed?: string | null }> = [];
    let stderr = '';
    // the admin watches the reads go by (a unit with users prints reads only to a signed-in user who may search)
    unit = spawn(process.execPath, [MAIN, 'run', '--config', config, '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ALPR_EDGE_SESSION: session } });
    let buf = '';
    unit.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) if (l.trim()) events.push(JSON.parse(l));
    });
    unit.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const hits = () => events.filter((e) => e.event === 'hit');
    await until(() => hits().length >= 4, 60_000, 'four hits', () => stderr.slice(-3000));
    expect(hits().map((h) => h.plate).sort()).toEqual(['5KDW837', '6TRJ244', '7ABC123', 'ABC1234']);
    expect(hits().find((h) => h.plate === '5KDW837')!.suppressed).toBe('covert');

    // the terminal is switched on only now
    await new Promise((r) => setTimeout(r, 800));
    const shown: ReceivedAlert[] = [];
    let repeats = 0;
    terminal = new SerialTerminal({ clock: systemClock, path: `${dir}/term-tty`, heartbeatMs: 500 });
    terminal.on('alert', (a) => shown.push(a));
    terminal.on('repeat', () => repeats++);
    await terminal.start();
    await until(() => shown.length >= 3, 30_000, 'three alerts at the terminal', () => stderr.slice(-3000));
    await new Promise((r) => setTimeout(r, 1000));
    // each once, in the order raised, late, never the covert one, with the reminder to verify
    expect(shown.map((a) => a.delivery.alert.plate)).toEqual(
      hits().filter((h) => !h.suppressed).map((h) => h.plate),
    );
    for (const a of shown) {
      expect(a.delivery.lateMs).toBeGreaterThanOrEqual(500);
      expect(a.delivery.alert.hit).toMatchObject({ list: 'stolen', category: 'stolen vehicle', priority: 2, matchKind: 'exact' });
      expect(a.delivery.alert.notice).toMatch(/UNVERIFIED/);
    }
    // the officer answers two of them
    await terminal.respond(shown[0]!.delivery.alert.id, true, null, 'officer-4411');
    await terminal.respond(shown[1]!.delivery.alert.id, false, 'NOT-MATCH', 'officer-4411');

    unit.kill('SIGTERM');
    expect(await new Promise((r) => unit!.on('exit', r))).toBe(0);
    const db = new Database(path.join(dir, 'data', 'alpr-edge.db'), { readonly: true });
    const alerts = db.prepare('SELECT id, suppressed, ack_accepted, ack_reason, ack_by FROM alerts ORDER BY seq').all() as Array<{
      id: string;
      suppressed: string | null;
      ack_accepted: number | null;
      ack_reason: string | null;
      ack_by: string | null;
    }>;
    expect(alerts).toHaveLength(4);
    expect(alerts.filter((a) => a.suppressed === 'covert')).toHaveLength(1);
    const byId = new Map(alerts.map((a) => [a.id, a]));
    expect(byId.get(shown[0]!.delivery.alert.id)).toMatchObject({ ack_accepted: 1, ack_by: 'officer-4411' });
    expect(byId.get(shown[1]!.delivery.alert.id)).toMatchObject({ ack_accepted: 0, ack_reason: 'NOT-MATCH' });
    const delivered = db.prepare(`SELECT count(*) AS n FROM alert_deliveries WHERE channel = 'serial' AND state = 'delivered'`).get() as { n: number };
    expect(delivered.n).toBe(3);
    const audit = db.prepare(`SELECT kind, count(*) AS n FROM alert_events GROUP BY kind`).all() as Array<{ kind: string; n: number }>;
    const count = (k: string) => audit.find((a) => a.kind === k)?.n ?? 0;
    expect(count('raised')).toBe(4);
    expect(count('delivered')).toBe(3);
    expect(count('attempt-failed')).toBeGreaterThanOrEqual(1); // the terminal was off
    expect(count('ack')).toBe(2);
    db.close();
  });
});

describe('alerts from the whole unit to a terminal over MQTT (embedded broker)', () => {
  it('a terminal that subscribes after the hits gets every alert, with its plate crop; each delivered only on its receipt (#16 item 6)', async () => {
    const base = path.join(dir, 'mqtt');
    const port = await freePort();
    const credentials = path.join(dir, 'mdt.cred');
    writeFileSync(credentials, 'mdt-car12:terminal secret 7\n', { mode: 0o600 });
    const config = path.join(dir, 'unit-mqtt.yaml');
    writeFileSync(
      config,
      `unit: { id: car-12 }
data: { dir: ${JSON.stringify(path.join(base, 'data'))} }
log: { level: info }
grouping: { maxDelayMs: 300, leaveAfterMs: 600 }
pipeline: { queueDepth: 16 }
alerts:
  lateAfterMs: 500
  mqtt: { enabled: true, mode: embedded, listenPort: ${port}, credentialsFile: ${JSON.stringify(credentials)}, receiptTimeoutMs: 500 }
cameras:
  - { id: front, type: replay, source: ${JSON.stringify(PLATES)}, pattern: "us-*", fps: 4 }
`,
    );
    writeFileSync(path.join(dir, 'stolen-mqtt.txt'), '7ABC123\nABC1234\n6TRJ244\n');
    const session = await adminSession(path.join(base, 'data'));
    const cli = (...args: string[]) =>
      execFileSync(process.execPath, [MAIN, ...args, '--config', config], { encoding: 'utf8', env: { ...process.env, ALPR_EDGE_SESSION: session } });
    cli('hotlist', 'import', path.join(dir, 'stolen-mqtt.txt'), '--list', 'stolen', '--format', 'lines', '--category', 'stolen vehicle', '--priority', '2');

    const events: Array<{ event: string; plate: string; alert?: string; suppressed?: string | null }> = [];
    let stderr = '';
    unit = spawn(process.execPath, [MAIN, 'run', '--config', config, '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ALPR_EDGE_SESSION: session } });
    let buf = '';
    unit.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) if (l.trim()) events.push(JSON.parse(l));
    });
    unit.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const hits = () => events.filter((e) => e.event === 'hit');
    await until(() => hits().length >= 3, 60_000, 'three hits', () => stderr.slice(-3000));

    // nobody has subscribed yet: the broker takes the alerts, nothing is delivered
    const dbPath = path.join(base, 'data', 'alpr-edge.db');
    const deliveries = () => {
      const db = new Database(dbPath, { readonly: true, fileMustExist: true });
      try {
        return db.prepare(`SELECT d.state, d.attempts FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id WHERE d.channel = 'mqtt' ORDER BY a.seq`).all() as Array<{ state: string; attempts: number }>;
      } finally {
        db.close();
      }
    };
    await until(() => (deliveries()[0]?.attempts ?? 0) >= 1, 30_000, 'a first attempt', () => stderr.slice(-3000));
    expect(deliveries().map((d) => d.state)).toEqual(['pending', 'pending', 'pending']);

    // the terminal subscribes only now
    mqttTerminal = new MqttTerminal(`mqtt://127.0.0.1:${port}`, { unitId: 'car-12', credentialsFile: credentials, terminalId: 'MDT-12', clock: systemClock });
    await mqttTerminal.connect();
    await until(() => mqttTerminal!.alerts.length >= 3, 30_000, 'three alerts at the terminal', () => stderr.slice(-3000));
    await until(() => deliveries().every((d) => d.state === 'delivered'), 30_000, 'the deliveries recorded', () => stderr.slice(-3000));
    expect(mqttTerminal.alerts.map((a) => a.payload.alert.plate)).toEqual(hits().map((h) => h.plate));
    for (const a of mqttTerminal.alerts) {
      // the plate crop the unit stored, as a JPEG the terminal decodes
      const crop = a.payload.crop!;
      const jpeg = Buffer.from(crop.base64, 'base64');
      expect(jpegSize(jpeg)).toEqual({ width: crop.width, height: crop.height });
      const image = cv.imdecode(jpeg);
      expect([image.cols, image.rows]).toEqual([crop.width, crop.height]);
    }
    // the unit's health, as published, is exactly the documented schema (docs/mqtt.md)
    await until(() => mqttTerminal!.health.has('car-12'), 30_000, 'the health');
    const health = healthSchema.safeParse(mqttTerminal.health.get('car-12'));
    expect(health.error?.message).toBeUndefined();
    expect(health.data).toMatchObject({ unitId: 'car-12', state: 'running', sync: null });
    unit.kill('SIGTERM');
    expect(await new Promise((r) => unit!.on('exit', r))).toBe(0);
    const db = new Database(dbPath, { readonly: true });
    const delivered = db.prepare(`SELECT detail FROM alert_events WHERE channel = 'mqtt' AND kind = 'delivered'`).all() as Array<{ detail: string }>;
    expect(delivered.map((d) => (JSON.parse(d.detail) as { by?: string }).by)).toEqual(['MDT-12', 'MDT-12', 'MDT-12']);
    db.close();
  });
});

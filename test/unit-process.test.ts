import { systemClock } from '../src/util/clock.js';
import Database from 'better-sqlite3';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { ReadStore } from '../src/store/read-store.js';
import { freePort } from './mosquitto.js';
import { adminSession } from './session-helper.js';
import { until } from './helpers.js';

/**
 * The unit as systemd runs it: `node dist/src/cli/main.js run --config FILE`, a real child process, killed the
 * way real units are killed.
 */

const ROOT = path.join(import.meta.dirname, '..');
const MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const PLATES = path.join(ROOT, 'test-fixtures', 'plates');

let dir: string;
let child: ChildProcess | undefined;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'alpr-unit-'));
});
afterEach(() => {
  child?.kill('SIGKILL');
  child = undefined;
  rmSync(dir, { recursive: true, force: true });
});

function writeConfig(extra = ''): string {
  const file = path.join(dir, 'unit.yaml');
  writeFileSync(
    file,
    `unit: { id: test-unit }
data: { dir: ${JSON.stringify(path.join(dir, 'data'))} }
log: { level: info }
gps: { source: fixed, latitude: 34.05, longitude: -118.25 }
grouping: { maxDelayMs: 300, leaveAfterMs: 600 }
cameras:
  - { id: cam1, type: replay, source: ${JSON.stringify(PLATES)}, pattern: "us-*", fps: 4, loop: true }
${extra}`,
  );
  return file;
}

interface Printed {
  event: string;
  id: number;
  uuid: string;
  plate: string;
  crop: string;
}

/** Starts the unit; collects the reads it prints (--json) on stdout. */
function startUnit(config: string, env: NodeJS.ProcessEnv = {}) {
  const printed: Printed[] = [];
  let stderr = '';
  const proc = spawn(process.execPath, [MAIN, 'run', '--config', config, '--json'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim()) printed.push(JSON.parse(line) as Printed);
    }
  });
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  child = proc;
  return { proc, printed, exited, stderr: () => stderr };
}

describe('the unit as a process', () => {
  it('killed with SIGKILL mid-run: every read it reported is in the database, which opens cleanly', async () => {
    const u = startUnit(writeConfig());
    await until(() => u.printed.filter((p) => p.event === 'new').length >= 4, 60_000, '4 reads', u.stderr);
    u.proc.kill('SIGKILL');
    await u.exited;
    const reported = u.printed.filter((p) => p.event === 'new');
    const dbFile = path.join(dir, 'data', 'alpr-edge.db');
    const db = new Database(dbFile);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    for (const r of reported) {
      const row = db.prepare('SELECT plate FROM reads WHERE uuid = ?').get(r.uuid) as { plate: string } | undefined;
      expect(row?.plate, `read ${r.uuid} (${r.plate}) reported but not stored`).toBe(r.plate);
      expect(existsSync(path.join(dir, 'data', 'images', r.crop))).toBe(true);
    }
    db.close();
    // the store opens (migrations already applied) and the unit starts again on the same data
    const store = ReadStore.open(path.join(dir, 'data'), { clock: systemClock, imageBudgetBytes: 1e9 });
    expect(store.stats().reads).toBeGreaterThanOrEqual(reported.length);
    store.close();
  });

  it('under systemd: READY, watchdog pings, then a graceful SIGTERM stop that stores open reads', async () => {
    const require = createRequire(import.meta.url);
    const unix = require('unix-dgram') as {
      createSocket(t: 'unix_dgram', cb: (msg: Buffer) => void): { bind(p: string): void; close(): void };
    };
    const sockPath = path.join(dir, 'notify.sock');
    const messages: string[] = [];
    const sock = unix.createSocket('unix_dgram', (msg) => messages.push(msg.toString()));
    sock.bind(sockPath);
    try {
      const u = startUnit(writeConfig(), { NOTIFY_SOCKET: sockPath, WATCHDOG_USEC: '400000' });
      await until(() => messages.some((m) => m.split('\n').includes('READY=1')), 60_000, 'READY=1', u.stderr);
      await until(() => messages.filter((m) => m === 'WATCHDOG=1').length >= 2, 5000, 'two watchdog pings', () => messages.join('|'));
      await until(() => u.printed.some((p) => p.event === 'new'), 60_000, 'a read', u.stderr);
      u.proc.kill('SIGTERM');
      expect(await u.exited).toBe(0);
      expect(messages).toContain('STOPPING=1');
      const status = JSON.parse(readFileSync(path.join(dir, 'data', 'status.json'), 'utf8')) as { state: string };
      expect(status.state).toBe('stopped');
      // a graceful stop closes every read that was still open
      const db = new Database(path.join(dir, 'data', 'alpr-edge.db'), { readonly: true });
      const open = db.prepare('SELECT count(*) AS n FROM reads WHERE closed = 0').get() as { n: number };
      db.close();
      expect(open.n).toBe(0);
      // files are the unit's user's only
      expect(statSync(path.join(dir, 'data')).mode & 0o777).toBe(0o700);
      expect(statSync(path.join(dir, 'data', 'status.json')).mode & 0o777).toBe(0o600);
    } finally {
      sock.close();
    }
  });

  it('a camera that cannot work does not stop the others; the status command shows it', async () => {
    const cfg = writeConfig(`  - { id: ghost, type: replay, source: ${JSON.stringify(path.join(dir, 'missing'))} }
  - { id: pole, type: directory, path: ${JSON.stringify(path.join(dir, 'unreadable'))}, pollMs: 200 }
`);
    const u = startUnit(cfg);
    await until(() => u.printed.some((p) => p.event === 'new'), 60_000, 'a read from the working camera', u.stderr);
    await until(() => existsSync(path.join(dir, 'data', 'status.json')), 5000, 'status file');
    await new Promise((r) => setTimeout(r, 2500)); // the status file is rewritten every 2 s
    const st = spawn(process.execPath, [MAIN, 'status', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    st.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((r) => st.on('exit', r));
    expect(code).toBe(1); // not healthy: a camera is not connected
    expect(out).toMatch(/unit test-unit: running \(pid \d+/);
    expect(out).toMatch(/cam1 +replay +connected/);
    expect(out).toMatch(/ghost[\s\S]*no such file or folder/);
    expect(out).toMatch(/pole +directory +NOT CONNECTED[\s\S]*cannot read folder/);
    expect(out).toMatch(/reads: \d+ stored/);
    expect(out).toContain('gps: fixed');
    u.proc.kill('SIGTERM');
    expect(await u.exited).toBe(0);
  });

  it('the status file cannot be written: status asks the running unit over its socket (owner only) and says running; killed, NOT RUNNING', async () => {
    const cfg = writeConfig();
    const u = startUnit(cfg);
    const data = path.join(dir, 'data');
    const file = path.join(data, 'status.json');
    await until(() => u.printed.some((p) => p.event === 'new') && existsSync(file), 60_000, 'a read and the status file', u.stderr);
    // a folder where the unit writes its next status file: every write fails from now on (EISDIR), as on a full disk
    await until(
      () => {
        rmSync(`${file}.tmp`, { force: true });
        try {
          mkdirSync(`${file}.tmp`);
          return true;
        } catch {
          return false;
        }
      },
      5000,
      'the status file blocked',
    );
    // what the file says is an hour old now, and stays so
    const stale = JSON.parse(readFileSync(file, 'utf8')) as { updatedAt: number };
    writeFileSync(file, JSON.stringify({ ...stale, updatedAt: stale.updatedAt - 3_600_000 }));
    await until(() => /cannot write the status file/.test(u.stderr()), 10_000, 'the unit noticing', u.stderr);
    const sock = path.join(data, 'run', 'status.sock');
    expect(statSync(path.join(data, 'run')).mode & 0o777).toBe(0o700);
    expect(statSync(sock).mode & 0o777).toBe(0o600);
    const st = spawnSync(process.execPath, [MAIN, 'status', '--config', cfg], { encoding: 'utf8' });
    expect(st.stdout).toMatch(/unit test-unit: running \(pid \d+/);
    expect(st.stdout).toMatch(/WARNING: the status file cannot be written since .*EISDIR/);
    const json = JSON.parse(spawnSync(process.execPath, [MAIN, 'status', '--config', cfg, '--json'], { encoding: 'utf8' }).stdout) as { running: boolean; source: string };
    expect(json).toMatchObject({ running: true, source: 'unit' });
    // the log says it once, not every 2 s
    await new Promise((r) => setTimeout(r, 4500));
    expect(u.stderr().match(/cannot write the status file/g)).toHaveLength(1);
    // killed: the socket is left behind, nobody answers, the process is gone: NOT RUNNING
    u.proc.kill('SIGKILL');
    await u.exited;
    expect(existsSync(sock)).toBe(true);
    const after = spawnSync(process.execPath, [MAIN, 'status', '--config', cfg], { encoding: 'utf8' });
    expect(after.stdout).toMatch(/unit test-unit: NOT RUNNING \(state running, process gone/);
    expect(after.status).toBe(1);
  });

  it('reads published over MQTT: the terminal that subscribes to them is in the access log, which still verifies', async () => {
    const port = await freePort();
    const credentials = path.join(dir, 'mqtt-terminal');
    writeFileSync(credentials, 'mdt-officer:mdt-pw-7731\n', { mode: 0o600 });
    const cfg = writeConfig(`alerts:
  mqtt: { enabled: true, mode: embedded, listenHost: 127.0.0.1, listenPort: ${port}, credentialsFile: ${JSON.stringify(credentials)}, publishReads: true }
`);
    const u = startUnit(cfg);
    await until(() => /embedded MQTT broker listening/.test(u.stderr()), 60_000, 'the embedded broker', u.stderr);
    const terminal = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      protocolVersion: 4,
      reconnectPeriod: 0,
      clientId: 'mdt-3',
      username: 'mdt-officer',
      password: 'mdt-pw-7731',
    });
    const plates: string[] = [];
    terminal.on('message', (topic, payload) => {
      if (topic === 'alpr/test-unit/reads') plates.push((JSON.parse(payload.toString()) as { plate: string }).plate);
    });
    await terminal.subscribeAsync('alpr/test-unit/#');
    await until(() => plates.length > 0, 60_000, 'a read over MQTT', u.stderr);
    await terminal.endAsync();
    u.proc.kill('SIGTERM');
    expect(await u.exited).toBe(0);

    const db = new Database(path.join(dir, 'data', 'alpr-edge.db'), { readonly: true });
    const rows = db.prepare(`SELECT user_name, role, action, purpose, query FROM access_log WHERE action LIKE '%reads'`).all() as Array<{
      user_name: string;
      role: string;
      action: string;
      purpose: string;
      query: string;
    }>;
    db.close();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ user_name: 'mdt-officer', role: 'terminal', action: 'subscribe-reads' });
    expect(rows[0]!.purpose).toMatch(/publishReads/);
    expect(JSON.parse(rows[0]!.query)).toMatchObject({ topic: 'alpr/test-unit/reads', filter: 'alpr/test-unit/#', clientId: 'mdt-3' });
    // an auditor signs in afterwards and checks the chain the unit's entries are part of
    const session = await adminSession(path.join(dir, 'data'), 'auditor');
    const verify = spawnSync(process.execPath, [MAIN, 'audit', 'verify', '--config', cfg], { encoding: 'utf8', env: { ...process.env, ALPR_EDGE_SESSION: session } });
    expect(verify.stdout + verify.stderr).toMatch(/^access log INTACT\n/);
    // the head the unit wrote in its status file at its stop is still in the log
    expect(verify.stdout).toMatch(/status file +head #\d+ \(written [^)]+\): OK, record #\d+ is in the log, with the same MAC/);
    expect(verify.status).toBe(0);
  });
});

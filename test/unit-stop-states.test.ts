import Database from 'better-sqlite3';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from './helpers.js';

/**
 * A stop under systemd in the states #16 item 3 names beyond the alert channels (test/unit-stop.test.ts has those):
 * sync mid-batch with a server that never answers, a camera whose capture hangs opening its stream, and the
 * recognition worker busy with a queue of frames. Each time the compiled unit gets SIGTERM and must exit with 0
 * before systemd would SIGKILL it (the unit file's TimeoutStopSec), keeping every read it reported. The bound is the
 * unit file's own limit, not a tuned duration: on an idle machine these stops take a few seconds.
 */

const ROOT = path.join(import.meta.dirname, '..');
const PLATES = path.join(ROOT, 'test-fixtures', 'plates');
const MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const STOP_LIMIT_MS = Number(/^TimeoutStopSec=(\d+)$/m.exec(readFileSync(path.join(ROOT, 'systemd', 'alpr-edge.service'), 'utf8'))![1]) * 1000;

let dir: string;
const children: ChildProcess[] = [];
const servers: Server[] = [];
const sockets: Socket[] = [];

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'alpr-stop-states-'));
});
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  for (const s of sockets) s.destroy();
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});


/** A TCP server that accepts, reads what it is sent and never answers: a hung central server or camera. */
async function silentServer(): Promise<{ port: number; connections: () => number; received: () => string }> {
  let count = 0;
  let data = '';
  const server = createServer((socket) => {
    count++;
    sockets.push(socket);
    socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
    socket.on('error', () => undefined);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { port, connections: () => count, received: () => data };
}

interface RunningUnit {
  child: ChildProcess;
  /** ids of the reads the unit reported (`--json` events), each on disk by then */
  reported: Set<number>;
  log: () => string;
  exited: Promise<number | null>;
}

function startUnit(name: string, yaml: string): RunningUnit {
  const config = path.join(dir, `${name}.yaml`);
  writeFileSync(config, `unit: { id: ${name} }\ndata: { dir: ${JSON.stringify(path.join(dir, name))} }\nlog: { level: info }\n${yaml}`);
  const child = spawn(process.execPath, [MAIN, 'run', '--config', config, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const reported = new Set<number>();
  let buf = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const line of lines) {
      const e = JSON.parse(line) as { event: string; id?: number };
      if (e.event === 'new' && e.id !== undefined) reported.add(e.id);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, reported, log: () => stderr, exited };
}

/** SIGTERM, then which comes first: the unit's exit, or systemd's SIGKILL at TimeoutStopSec. */
async function stopUnderSystemd(unit: RunningUnit): Promise<{ first: string; code: number | null }> {
  unit.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const sigkill = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('systemd would have killed it'), STOP_LIMIT_MS)));
  const first = await Promise.race([unit.exited.then(() => 'exited'), sigkill]);
  clearTimeout(timer);
  return { first, code: await unit.exited };
}

function storedIds(name: string): { ids: Set<number>; synced: number } {
  const db = new Database(path.join(dir, name, 'alpr-edge.db'), { readonly: true });
  try {
    const ids = new Set((db.prepare('SELECT id FROM reads').all() as Array<{ id: number }>).map((r) => r.id));
    const synced = (db.prepare("SELECT COUNT(*) AS n FROM reads WHERE sync_state != 'pending'").get() as { n: number }).n;
    return { ids, synced };
  } finally {
    db.close();
  }
}

describe('a stop finishes within TimeoutStopSec in every state, keeping every reported read', () => {
  it('sync mid-batch, the server holding the request without answering', async () => {
    const server = await silentServer();
    writeFileSync(path.join(dir, 'token'), 'tok-stop-1\n', { mode: 0o600 });
    const unit = startUnit(
      'car-sync',
      `grouping: { maxDelayMs: 300, leaveAfterMs: 600 }
cameras:
  - { id: front, type: replay, source: ${JSON.stringify(PLATES)}, pattern: "us-*", fps: 4 }
sync:
  enabled: true
  schedule: ["* * * * * *"]
  server: { url: "http://127.0.0.1:${server.port}", allowInsecureHttp: true, tokenFile: ${JSON.stringify(path.join(dir, 'token'))}, responseTimeoutMs: 3600000 }
  hotlists: { enabled: false }
`,
    );
    // a batch of reads is on its way to the server, which never answers
    await until(() => unit.reported.size >= 1 && /POST /.test(server.received()), 90_000, 'a sync batch in flight', () => `server got: ${server.received().slice(0, 500)}\n${unit.log().slice(-3000)}`);
    const { first, code } = await stopUnderSystemd(unit);
    expect(first, unit.log().slice(-3000)).toBe('exited');
    expect(code).toBe(0);
    const { ids, synced } = storedIds('car-sync');
    for (const id of unit.reported) expect(ids.has(id), `read ${id} reported but not stored`).toBe(true);
    // nothing was acknowledged, so nothing is marked synced: the next cycle sends them again
    expect(synced).toBe(0);
  }, 240_000);

  it('a camera whose capture hangs opening its stream, beside one that works', async () => {
    const camera = await silentServer();
    const unit = startUnit(
      'car-cam',
      `grouping: { maxDelayMs: 300, leaveAfterMs: 600 }
cameras:
  - { id: front, type: replay, source: ${JSON.stringify(PLATES)}, pattern: "us-*", fps: 4 }
  - { id: hung, type: opencv, source: "http://127.0.0.1:${camera.port}/video.mjpg" }
`,
    );
    // the capture process is inside OpenCV's open, waiting on a server that never answers
    await until(() => unit.reported.size >= 1 && camera.connections() >= 1, 90_000, 'the hung capture and a read', () => unit.log().slice(-3000));
    const { first, code } = await stopUnderSystemd(unit);
    expect(first, unit.log().slice(-3000)).toBe('exited');
    expect(code).toBe(0);
    const { ids } = storedIds('car-cam');
    for (const id of unit.reported) expect(ids.has(id), `read ${id} reported but not stored`).toBe(true);
    // the capture process did not outlive the unit
    const left = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(`127.0.0.1:${camera.port}`));
    expect(left).toEqual([]);
  }, 240_000);

  it('the recognition worker busy, with frames waiting in the queue', async () => {
    const unit = startUnit(
      'car-busy',
      `pipeline: { queueDepth: 8 }
grouping: { maxDelayMs: 300, leaveAfterMs: 600 }
cameras:
  - { id: busy, type: replay, source: ${JSON.stringify(PLATES)}, fps: 30, loop: true }
`,
    );
    await until(() => unit.reported.size >= 3, 120_000, 'reads from a busy worker', () => unit.log().slice(-3000));
    const { first, code } = await stopUnderSystemd(unit);
    expect(first, unit.log().slice(-3000)).toBe('exited');
    expect(code).toBe(0);
    const { ids } = storedIds('car-busy');
    for (const id of unit.reported) expect(ids.has(id), `read ${id} reported but not stored`).toBe(true);
  }, 240_000);
});

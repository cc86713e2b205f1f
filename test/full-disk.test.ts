import Database from 'better-sqlite3';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FaultFrame } from '../src/alerts/serial-protocol.js';
import { SerialTerminal } from '../src/alerts/terminal-serial.js';
import type { UnitStatus } from '../src/unit/unit.js';
import { systemClock } from '../src/util/clock.js';
import { freePort } from './mosquitto.js';
import { SocatPair, until } from './helpers.js';

/**
 * #16 item 4, as the tester did it: the unit's data folder on a 20 MB file system, a replay camera delivering
 * frames fast, and the disk filled by someone else's file. What a technician would notice is asserted: `status`
 * says running with a storage fault (the status file cannot be written), the log has a bounded number of lines
 * about it, memory stays bounded over a fixed number of frames, frames dropped are counted, no read reported
 * stored is lost, space freed lets the waiting reads be stored and clears the fault, and a stop on a full disk
 * says what it could not store. Counts, not durations: the machine running the tests is busy.
 *
 * The file system is a tmpfs the test mounts (as root, or with passwordless sudo); where mounting is not allowed
 * the test is skipped, saying why.
 */

const ROOT = path.join(import.meta.dirname, '..');
const MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const PLATES = path.join(ROOT, 'test-fixtures', 'plates');
const PENDING_MAX = 20;

let base: string;
let mnt: string;
let mounted = false;
let unmount: string[] | undefined;
let whyNot = '';
let unit: ChildProcess | undefined;
let socat: SocatPair | undefined;
let terminal: SerialTerminal | undefined;
let mqttTerminal: mqtt.MqttClient | undefined;

beforeAll(() => {
  base = mkdtempSync(path.join(tmpdir(), 'alpr-fulldisk-'));
  mnt = path.join(base, 'mnt');
  mkdirSync(mnt);
  // as root, or through passwordless sudo (a CI runner) with the file system owned by this user
  const uid = process.getuid?.() ?? -1;
  const asRoot = uid === 0;
  const opts = `size=20m,mode=0700${asRoot ? '' : `,uid=${uid},gid=${process.getgid?.() ?? uid}`}`;
  const cmd = asRoot ? ['mount'] : ['sudo', '-n', 'mount'];
  const r = spawnSync(cmd[0]!, [...cmd.slice(1), '-t', 'tmpfs', '-o', opts, 'tmpfs', mnt], { encoding: 'utf8' });
  if (r.status === 0) {
    mounted = true;
    unmount = asRoot ? ['umount', '-l', mnt] : ['sudo', '-n', 'umount', '-l', mnt];
  } else {
    whyNot = `${cmd.join(' ')} -t tmpfs -o ${opts} tmpfs ${mnt} was refused (uid ${uid}; needs root or passwordless sudo): ${(r.stderr || r.error?.message || '').trim()}`;
  }
});

afterAll(async () => {
  unit?.kill('SIGKILL');
  await terminal?.stop();
  await mqttTerminal?.endAsync();
  socat?.kill();
  if (unmount) spawnSync(unmount[0]!, unmount.slice(1));
  rmSync(base, { recursive: true, force: true });
});

/** Fills the file system with `file` until a write is refused (ENOSPC). */
function fill(file: string): void {
  const fd = openSync(file, 'a');
  try {
    for (const size of [1 << 20, 64 << 10, 4 << 10, 512]) {
      const chunk = Buffer.alloc(size, 1);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** The unit's status from its socket, as `alpr-edge status` asks it. */
function ask(sock: string): Promise<UnitStatus> {
  return new Promise((resolve, reject) => {
    let data = '';
    const c = connect(sock);
    c.setEncoding('utf8');
    c.on('data', (d: string) => (data += d));
    c.on('end', () => {
      try {
        resolve(JSON.parse(data) as UnitStatus);
      } catch (err) {
        reject(err as Error);
      }
    });
    c.on('error', reject);
  });
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

interface LogLine {
  level: number;
  msg: string;
  part?: string;
  [k: string]: unknown;
}

describe('a full disk (#16 item 4)', () => {
  it('on a 20 MB file system filled by someone else: running with a storage fault, bounded log and memory, nothing reported lost, recovery, a stop that says what it lost', async (ctx) => {
    if (!mounted) {
      console.warn(`full-disk test skipped: ${whyNot}`);
      ctx.skip(whyNot);
      return;
    }
    const dataDir = path.join(mnt, 'data');
    const config = path.join(base, 'unit.yaml');
    // the two channels a fault must reach: a serial terminal (FAULT frames) and an MQTT terminal (health)
    socat = await SocatPair.open(`${base}/unit-tty`, `${base}/term-tty`);
    terminal = new SerialTerminal({ path: `${base}/term-tty`, autoAck: true, heartbeatMs: 500, clock: systemClock });
    const serialFaults: FaultFrame[] = [];
    terminal.on('fault', (f) => serialFaults.push(f));
    await terminal.start();
    const port = await freePort();
    const credentials = path.join(base, 'mqtt-terminal');
    writeFileSync(credentials, 'mdt-officer:mdt-pw-7731\n', { mode: 0o600 });
    writeFileSync(
      config,
      `unit: { id: disk-unit }
data: { dir: ${JSON.stringify(dataDir)} }
log: { level: info }
gps: { source: fixed, latitude: 34.05, longitude: -118.25 }
grouping: { maxDelayMs: 300, leaveAfterMs: 600 }
store: { pendingReadsMax: ${PENDING_MAX} }
alerts:
  serial: { enabled: true, port: ${JSON.stringify(`${base}/unit-tty`)}, heartbeatMs: 500 }
  mqtt: { enabled: true, mode: embedded, listenHost: 127.0.0.1, listenPort: ${port}, credentialsFile: ${JSON.stringify(credentials)} }
cameras:
  - { id: cam1, type: replay, source: ${JSON.stringify(PLATES)}, pattern: "us-*", fps: 50, maxFps: 50, loop: true }
`,
    );
    const printed: Array<{ event: string; uuid: string }> = [];
    const logs: LogLine[] = [];
    let out = '';
    let err = '';
    const proc = spawn(process.execPath, [MAIN, 'run', '--config', config, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    unit = proc;
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      let nl;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (line.trim()) printed.push(JSON.parse(line) as { event: string; uuid: string });
      }
    });
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      let nl;
      while ((nl = err.indexOf('\n')) >= 0) {
        const line = err.slice(0, nl);
        err = err.slice(nl + 1);
        if (line.trim()) logs.push(JSON.parse(line) as LogLine);
      }
    });
    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    const tail = () => logs.slice(-15).map((l) => JSON.stringify(l)).join('\n');
    const sock = path.join(dataDir, 'run', 'status.sock');
    await until(() => printed.filter((p) => p.event === 'new').length >= 10, 90_000, '10 reads stored', tail);
    mqttTerminal = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, reconnectPeriod: 0, clientId: 'mdt-7', username: 'mdt-officer', password: 'mdt-pw-7731' });
    let health: { faults?: Array<{ code: string; subject: string; message: string }>; store?: Record<string, number> } = {};
    mqttTerminal.on('message', (topic, payload) => {
      if (topic === 'alpr/disk-unit/health') health = JSON.parse(payload.toString()) as typeof health;
    });
    await mqttTerminal.subscribeAsync('alpr/disk-unit/health');

    // the status socket is the unit's user's only
    expect(statSync(path.join(dataDir, 'run')).mode & 0o777).toBe(0o700);
    expect(statSync(sock).isSocket()).toBe(true);
    expect(statSync(sock).mode & 0o777).toBe(0o600);

    // someone else's file takes every free byte, and again whenever the unit frees some by deleting images
    const filler = path.join(mnt, 'filler');
    const logsBefore = logs.length;
    let status = await ask(sock);
    await until(
      async () => {
        fill(filler);
        status = await ask(sock);
        return status.storage!.failing && status.storage!.framesDropped > 0;
      },
      120_000,
      'reads refused and frames dropped',
      () => `${JSON.stringify(status.storage)}\n${tail()}`,
    );
    // memory over a fixed number of frames: from 300 frames dropped (memory settled after the last reads) on. RSS
    // swings by some tens of MB with the garbage collector (on Node 24 in particular), so each end of the stretch
    // is the lowest RSS seen over WINDOW frames there, and the two windows' starts are FRAMES_MEASURED frames apart
    // (114 MB of JPEGs were they kept; the bound is half of that)
    await until(
      async () => {
        fill(filler);
        status = await ask(sock);
        return status.storage!.framesDropped >= 300;
      },
      120_000,
      '300 frames dropped',
      () => `${JSON.stringify(status.storage)}\n${tail()}`,
    );
    const dropped0 = status.storage!.framesDropped;
    const FRAMES_MEASURED = 2000;
    const WINDOW = 300;
    const FRAME_BYTES = 57 * 2 ** 20 / 1000; // the replayed 1080p JPEGs, about 57 KB each
    const samples: Array<{ dropped: number; rss: number }> = [];
    expect(status.storage!.pendingReads).toBeLessThanOrEqual(PENDING_MAX + 64);
    await until(
      async () => {
        fill(filler);
        status = await ask(sock);
        samples.push({ dropped: status.storage!.framesDropped, rss: rssBytes(proc.pid!) });
        return status.storage!.framesDropped >= dropped0 + FRAMES_MEASURED + WINDOW;
      },
      300_000,
      `${FRAMES_MEASURED + WINDOW} more frames dropped`,
      () => `${JSON.stringify(status.storage)}\n${tail()}`,
    );
    const lowest = (from: number, to: number) => {
      const inWindow = samples.filter((x) => x.dropped >= from && x.dropped < to);
      expect(inWindow.length).toBeGreaterThan(0);
      return Math.min(...inWindow.map((x) => x.rss));
    };
    const rss0 = lowest(dropped0, dropped0 + WINDOW);
    const rss1 = lowest(dropped0 + FRAMES_MEASURED, Infinity);
    const mb = (b: number) => (b / 2 ** 20).toFixed(1);
    console.log(`full disk: lowest RSS ${mb(rss0)} MB over frames dropped ${dropped0}-${dropped0 + WINDOW}, ${mb(rss1)} MB over ${dropped0 + FRAMES_MEASURED}-${status.storage!.framesDropped} (highest ${mb(Math.max(...samples.map((x) => x.rss)))} MB); ${status.storage!.pendingReads} reads waiting`);
    expect(rss1 - rss0).toBeLessThan((FRAMES_MEASURED * FRAME_BYTES) / 2);
    expect(status.storage!.pendingReads).toBeGreaterThanOrEqual(PENDING_MAX);
    expect(status.storage!.pendingReads).toBeLessThanOrEqual(PENDING_MAX + 64);
    // the technician's view: running, a storage fault, the status file not written, the counts
    const st = spawnSync(process.execPath, [MAIN, 'status', '--config', config], { encoding: 'utf8' });
    console.log(`alpr-edge status on the full disk:\n${st.stdout}`);
    expect(st.status).toBe(1); // not healthy
    expect(st.stdout).toMatch(/unit disk-unit: running \(pid \d+/);
    expect(st.stdout).toMatch(/WARNING: the status file cannot be written since .*ENOSPC/);
    expect(st.stdout).toMatch(/READS NOT STORED since .*: \d+ waiting in memory \(at most 20\), \d+ camera frames dropped/);
    expect(st.stdout).toMatch(/storage reads since .*reads cannot be stored/);
    expect(st.stdout).toMatch(/plate crops deleted to keep free space/);
    expect(st.stdout).toMatch(/cam1 +replay +connected .*\d+ more DROPPED while reads could not be stored/);
    // the status file is stale: without the socket `status` would have said NOT RUNNING
    const file = JSON.parse(readFileSync(path.join(dataDir, 'status.json'), 'utf8')) as UnitStatus;
    expect(status.updatedAt - file.updatedAt).toBeGreaterThan(10_000);
    // the log: a bounded number of lines about storage, not one per failed write (the tester saw 350 a second)
    const during = logs.slice(logsBefore).filter((l) => !/^read (stored|closed|updated)$/.test(l.msg));
    const storageLines = during.filter((l) => l.part === 'store' || /status file|store|disk/i.test(l.msg));
    console.log(`log while the disk was full: ${during.length} lines besides reads (${storageLines.length} about storage) for ${status.storage!.failedWrites} refused writes and ${status.storage!.framesDropped} frames dropped`);
    expect(status.storage!.failedWrites).toBeGreaterThan(0);
    expect(storageLines.length).toBeLessThanOrEqual(12);
    expect(during.length).toBeLessThanOrEqual(30);
    expect(logs.filter((l) => /will retry/.test(l.msg))).toEqual([]);
    expect(during.some((l) => l.level === 50 && /reads cannot be stored/.test(l.msg))).toBe(true);
    expect(during.some((l) => /new camera frames are dropped/.test(l.msg))).toBe(true);
    // the fault is reported on every channel: the serial terminal's FAULT frame, the MQTT terminal's health
    expect(status.faults.some((f) => f.code === 'storage' && f.subject === 'reads')).toBe(true);
    await until(() => serialFaults.some((f) => f.code === 'storage' && f.subject === 'reads' && f.state === 'RAISED'), 20_000, 'the FAULT frame on the serial line', () => JSON.stringify(serialFaults));
    await until(() => (health.faults ?? []).some((f) => f.code === 'storage' && f.subject === 'reads'), 20_000, 'the fault in the MQTT health', () => JSON.stringify(health));
    expect(health.store!.readsWaitingInMemory).toBeGreaterThan(0);
    expect(health.store!.framesDroppedForStorage).toBeGreaterThan(0);

    // space returns: the waiting reads are stored, the fault clears, the status file is written again
    const waiting = status.storage!.pendingReads;
    const late0 = status.storage!.storedLate;
    unlinkSync(filler);
    await until(
      async () => {
        status = await ask(sock);
        return !status.storage!.failing && status.storage!.pendingReads === 0 && !status.faults.some((f) => f.subject === 'reads');
      },
      60_000,
      'the waiting reads stored and the fault cleared',
      () => `${JSON.stringify(status.storage)}\n${tail()}`,
    );
    expect(status.storage!.storedLate - late0).toBeGreaterThanOrEqual(waiting);
    await until(() => serialFaults.some((f) => f.code === 'storage' && f.subject === 'reads' && f.state === 'CLEARED'), 20_000, 'the fault cleared on the serial line', () => JSON.stringify(serialFaults));
    expect(logs.some((l) => /reads can be stored again/.test(l.msg))).toBe(true);
    await until(() => (JSON.parse(readFileSync(path.join(dataDir, 'status.json'), 'utf8')) as UnitStatus).storage?.statusFileError === null, 10_000, 'the status file written again');

    // full again, then a stop while reads wait: each one not stored is said, and counted
    await until(
      async () => {
        fill(filler);
        status = await ask(sock);
        return status.storage!.failing && status.storage!.pendingReads >= 3;
      },
      120_000,
      'reads waiting again',
      () => `${JSON.stringify(status.storage)}\n${tail()}`,
    );
    const atStop = status.storage!.pendingReads;
    const printedAtStop = printed.length;
    fill(filler);
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    unit = undefined;
    const lostLines = logs.filter((l) => /^read (lost|not completed) at stop/.test(l.msg));
    const summary = logs.find((l) => /read\(s\) lost at stop/.test(l.msg));
    const storedAtStop = printed.slice(printedAtStop).filter((p) => p.event === 'new' || p.event === 'closed').length;
    // every read waiting at the stop was either stored then or logged as not stored
    expect(lostLines.length + storedAtStop).toBeGreaterThanOrEqual(atStop);
    if (lostLines.length > 0) {
      expect(summary).toMatchObject({ lost: lostLines.filter((l) => /lost/.test(l.msg)).length, notCompleted: lostLines.filter((l) => /not completed/.test(l.msg)).length });
      // no plate text in the log
      for (const l of lostLines) expect(Object.keys(l)).not.toContain('plate');
    }
    console.log(`stop on a full disk: ${atStop} reads waiting, ${storedAtStop} stored at the stop, ${lostLines.length} logged as not stored`);

    // nothing reported stored is lost: every read printed as stored is in the database
    unlinkSync(filler);
    const db = new Database(path.join(dataDir, 'alpr-edge.db'));
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      const has = db.prepare('SELECT 1 FROM reads WHERE uuid = ?');
      const reported = [...new Set(printed.filter((p) => p.event === 'new').map((p) => p.uuid))];
      expect(reported.length).toBeGreaterThan(10);
      const missing = reported.filter((u) => has.get(u) === undefined);
      expect(missing).toEqual([]);
    } finally {
      db.close();
    }
    expect(existsSync(sock)).toBe(false);
  }, 600_000);
});

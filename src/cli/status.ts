import { existsSync, readFileSync, renameSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import type { SyncStatus } from '../sync/engine.js';
import { STATUS_FILE, STATUS_SOCKET, type UnitStatus } from '../unit/unit.js';
import { systemClock } from '../util/clock.js';
import { parse } from './args.js';
import { fmtBytes } from '../ui/web/format.js';
import { STATUS_OPTIONS } from './commands.js';

/** A status file older than this means the unit is not running (it rewrites it every 2 s). */
const STALE_MS = 10_000;

/** How long `status` waits for the running unit to answer on its socket. */
const SOCKET_WAIT_MS = 3000;

/**
 * `alpr-edge status`: asks the running unit over its Unix socket (data folder, run/status.sock), or, where none
 * answers, reads the status file the unit keeps in its data folder, and prints the unit's health at a glance:
 * cameras, recognition, last read time, GPS, storage, disk. It shows no plate data. A unit whose status file
 * cannot be written (a full disk) still answers on its socket: NOT RUNNING means no unit answered and the file
 * says it stopped, its process is gone, or it is stale.
 * Exit 0: running; 1: not running or not healthy (a camera not connected, a stale status file).
 */
export async function statusCommand(argv: string[], config: Config): Promise<number> {
  const { values } = parse(argv, STATUS_OPTIONS);
  const dataDir = path.resolve(config.data.dir);
  const file = path.join(dataDir, STATUS_FILE);
  const asked = await askUnit(path.join(dataDir, STATUS_SOCKET));
  let status: UnitStatus;
  if (asked.status) status = asked.status;
  else {
    if (!existsSync(file)) {
      process.stdout.write(`alpr-edge is not running here: no status file at ${file} (data.dir = ${config.data.dir})${asked.why ? `; ${asked.why}` : ''}\n`);
      return 1;
    }
    try {
      status = JSON.parse(readFileSync(file, 'utf8')) as UnitStatus;
    } catch (err) {
      process.stdout.write(`cannot read ${file}: ${(err as Error).message}${asked.why ? `; ${asked.why}` : ''}\n`);
      return 1;
    }
  }
  const now = systemClock();
  const alive = isAlive(status.pid);
  // the unit answering is the truth; a status file is only as fresh as its last write
  const fromUnit = asked.status !== undefined;
  const running = status.state !== 'stopped' && alive && (fromUnit || now - status.updatedAt < STALE_MS);
  // a live process whose file is stale and whose socket did not answer: not "not running", and not healthy
  const unanswered = !running && !fromUnit && status.state !== 'stopped' && alive;
  // sizes are measured now, whether or not the unit is running
  const dbBytes = ['alpr-edge.db', 'alpr-edge.db-wal'].reduce((n, f) => n + sizeOf(path.join(dataDir, f)), 0);
  let disk = status.disk;
  try {
    const s = statfsSync(dataDir);
    disk = { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
  } catch {
    // keep the unit's last figure
  }
  // P14: reads and images in clear on a disk that may leave with the car
  const warnings: string[] = [];
  if (status.store.encrypted === false) {
    warnings.push('the store is NOT encrypted: no data key configured (store.keyFile or the alpr-edge-data-key credential; `alpr-edge key create`, then `alpr-edge store encrypt`)');
  }
  const healthy =
    running &&
    status.cameras.every((c) => c.connected || c.finished) &&
    (status.alerts?.channels ?? []).every((c) => c.connected) &&
    (status.faults ?? []).length === 0;
  const st = status.storage;
  if (st?.statusFileError) {
    warnings.push(`the status file cannot be written since ${new Date(st.statusFileError.since).toISOString()}: ${st.statusFileError.message}`);
  }
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({ running, healthy, source: fromUnit ? 'unit' : 'file', ...(asked.why && !fromUnit ? { socket: asked.why } : {}), warnings, status: { ...status, disk } }, null, 2)}\n`,
    );
    return healthy ? 0 : 1;
  }
  const ago = (t: number | null) => (t === null ? 'never' : `${fmtAge(now - t)} ago (${new Date(t).toISOString()})`);
  const lines: string[] = warnings.map((w) => `WARNING: ${w}`);
  lines.push(
    `unit ${status.unitId}: ${
      running
        ? `running (pid ${status.pid}, up ${fmtAge(now - status.startedAt)}${status.state === 'running' ? '' : `, ${status.state}`})`
        : unanswered
          ? `NOT ANSWERING (pid ${status.pid} is alive, but it did not answer on its socket${asked.why ? ` (${asked.why})` : ''} and its status file was written ${ago(status.updatedAt)}): hung, or not an alpr-edge unit`
          : `NOT RUNNING (state ${status.state}${alive ? '' : ', process gone'}; status written ${ago(status.updatedAt)})`
    }`,
  );
  lines.push('cameras:');
  if (status.cameras.length === 0) lines.push('  (none configured)');
  for (const c of status.cameras) {
    const state = c.connected ? 'connected' : c.finished ? 'finished' : 'NOT CONNECTED';
    lines.push(
      `  ${c.id.padEnd(12)} ${c.type.padEnd(9)} ${state.padEnd(13)} fps in ${c.fps.in.toFixed(1)} / processed ${c.fps.processed.toFixed(1)} / dropped ${c.fps.dropped.toFixed(1)}` +
        `  frames ${c.counters.offered} (dropped ${c.counters.dropped}, failed ${c.counters.failed}${c.droppedForStorage ? `; ${c.droppedForStorage} more DROPPED while reads could not be stored` : ''})  last frame ${ago(c.lastFrameAt)}`,
    );
    if (c.detail) lines.push(`  ${''.padEnd(12)} ${c.detail}`);
    if (c.lastError) lines.push(`  ${''.padEnd(12)} last error: ${c.lastError}`);
  }
  const r = status.recognition;
  lines.push(
    `recognition: ${r.ocrWorkers} OCR worker(s), ${r.framesInRecognition} frame(s) in recognition, ${r.framesWaiting} waiting, capture-to-read p50 ${r.latencyMs.p50 ?? '-'} ms p99 ${r.latencyMs.p99 ?? '-'} ms${r.workerAlive ? '' : ', WORKER NOT RUNNING'}${r.lastError ? `, last error: ${r.lastError}` : ''}`,
  );
  if (status.hotlists) lines.push(`hot lists: ${status.hotlists.lists} list(s), ${status.hotlists.entries} entries that can match`);
  if (status.alerts) {
    const a = status.alerts;
    const chans = a.channels.length === 0 ? 'no channel enabled' : a.channels.map((c) => `${c.name} ${c.connected ? 'connected' : 'NOT CONNECTED'} (${a.pending[c.name] ?? 0} pending${c.lastError ? `; ${c.lastError}` : ''})`).join(', ');
    lines.push(`alerts: ${a.raised} raised (${a.suppressed} not sent to the terminal), ${a.unacknowledged} unacknowledged; ${chans}`);
  }
  lines.push(`reads: ${status.reads.stored} stored, ${status.reads.pendingSync} not yet synced, last read ${ago(status.reads.lastReadAt)}`);
  const g = status.gps;
  const fix = g.lastFix;
  if (g.source === 'fixed' && fix) lines.push(`gps: fixed position ${fix.latitude.toFixed(5)},${fix.longitude.toFixed(5)}`);
  else lines.push(
    `gps: ${g.source}${g.source === 'gps' ? (g.connected ? ' (receiver connected)' : ' (RECEIVER NOT CONNECTED)') : ''}` +
      (fix
        ? `, last fix ${fix.valid ? 'valid' : 'INVALID'} ${fix.latitude.toFixed(5)},${fix.longitude.toFixed(5)} ${ago(fix.time)}${fix.satellites !== undefined ? `, ${fix.satellites} satellites` : ''}`
        : ', no fix') +
      (g.badSentences ? `, ${g.badSentences} bad sentence(s)` : '') +
      (g.lastError ? `, last error: ${g.lastError}` : ''),
  );
  const s = status.store;
  lines.push(
    `store: ${s.dataDir}: database ${fmtBytes(dbBytes)}, images ${fmtBytes(s.imageBytes)} of ${fmtBytes(s.imageBudgetBytes)} budget (${s.frameImages} frame images, ${s.evictedFrames} evicted` +
      (s.evictedCrops ? `, ${s.evictedCrops} plate crops deleted to keep free space` : '') +
      (s.imagesNotWritten ? `, ${s.imagesNotWritten} images not written for want of space` : '') +
      ')',
  );
  lines.push(
    (disk ? `disk: ${fmtBytes(disk.freeBytes)} free of ${fmtBytes(disk.totalBytes)}` : 'disk: unknown') +
      (s.diskReserveBytes ? `; images are deleted to keep ${fmtBytes(Math.min(s.diskReserveBytes, (disk?.totalBytes ?? Infinity) / 10))} free` : ''),
  );
  if (st && (st.failing || st.pendingReads > 0)) {
    lines.push(
      `READS NOT STORED${st.since !== null ? ` since ${new Date(st.since).toISOString()} (${fmtAge(now - st.since)})` : ''}: ${st.pendingReads} waiting in memory (at most ${st.pendingReadsMax}), ` +
        `${st.framesDropped} camera frames dropped, ${st.failedWrites} writes refused${st.lastError ? `; last error: ${st.lastError}` : ''}`,
    );
  } else if (st && (st.framesDropped > 0 || st.storedLate > 0)) {
    lines.push(`reads stored late: ${st.storedLate} waited in memory; ${st.framesDropped} camera frames dropped meanwhile`);
  }
  if (st?.lostAtStop) lines.push(`READS LOST at stop: ${st.lostAtStop} (see the log)`);
  if (status.sync) {
    const y = status.sync;
    const waiting = Object.entries(y.backlog).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ') || 'nothing';
    lines.push(
      `sync: ${y.server}${y.destination && !y.destination.agencyServer ? " (NOT the agency's server)" : ''}; last success ${ago(y.lastSuccessAt)}; waiting: ${waiting}` +
        (y.lastError ? `; ${y.consecutiveFailures} FAILED in a row, last: ${y.lastError.message}` : '') +
        (y.nextRunAt ? `; next ${new Date(y.nextRunAt).toISOString()}` : ''),
    );
    if (y.lastChange) {
      const c = y.lastChange;
      lines.push(`  destination changed ${ago(c.at)} by ${c.by}: ${c.from ?? '(none)'} -> ${c.to}${c.agency ? '' : " (NOT the agency's server)"}, from ${c.source}`);
    }
  } else lines.push('sync: off (sync.enabled is false)');
  const faults = status.faults ?? [];
  lines.push(faults.length === 0 ? 'faults: none' : `FAULTS (${faults.length}):`);
  for (const f of faults) lines.push(`  ${f.code}${f.subject ? ` ${f.subject}` : ''} since ${new Date(f.since).toISOString()}: ${f.message}`);
  if (status.systemd.notify) lines.push(`systemd: notify on, watchdog ${status.systemd.watchdogMs ?? 'off'} ms`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return healthy ? 0 : 1;
}

/**
 * After a sync run outside the unit (`alpr-edge sync now`, the demo's last cycle) while the unit is not running: the
 * status file's sync section and count of reads not yet synced are brought up to date, so that `alpr-edge status`
 * shows the last sync rather than what the unit saw when it stopped. A running unit rewrites the file itself.
 */
export function refreshStoppedStatus(config: Pick<Config, 'data'>, update: { sync: SyncStatus; pendingSync: number }): void {
  const file = path.join(path.resolve(config.data.dir), STATUS_FILE);
  let status: UnitStatus;
  try {
    status = JSON.parse(readFileSync(file, 'utf8')) as UnitStatus;
  } catch {
    return; // no unit has run here: nothing to bring up to date
  }
  if (status.state !== 'stopped' && isAlive(status.pid)) return;
  status.sync = { ...update.sync, running: false, nextRunAt: null };
  status.reads.pendingSync = update.pendingSync;
  writeFileSync(`${file}.tmp`, JSON.stringify(status, null, 2), { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

/** The running unit's status from its socket; `why` says why there is none. */
function askUnit(sock: string): Promise<{ status?: UnitStatus; why?: string }> {
  return new Promise((resolve) => {
    let data = '';
    let done = false;
    const finish = (r: { status?: UnitStatus; why?: string }) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      conn.destroy();
      resolve(r);
    };
    const conn = connect(sock);
    const timer = setTimeout(() => finish({ why: `no answer on ${sock} within ${SOCKET_WAIT_MS / 1000} s` }), SOCKET_WAIT_MS);
    conn.setEncoding('utf8');
    conn.on('data', (d: string) => (data += d));
    conn.on('end', () => {
      try {
        const parsed = JSON.parse(data) as UnitStatus & { error?: string };
        if (parsed.error !== undefined) finish({ why: `the unit answered on ${sock} but could not take its status: ${parsed.error}` });
        else finish({ status: parsed });
      } catch (err) {
        finish({ why: `the answer on ${sock} is not a status: ${(err as Error).message}` });
      }
    });
    conn.on('error', (err: NodeJS.ErrnoException) =>
      finish({ why: err.code === 'ENOENT' ? `no status socket at ${sock}` : err.code === 'ECONNREFUSED' ? `nothing listens on ${sock}` : `${sock}: ${err.message}` }),
    );
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, owned by another user
  }
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

function fmtAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

import Database from 'better-sqlite3';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePki, type Pki } from './tls.js';
import { until } from './helpers.js';

/**
 * The compiled unit and the compiled reference central server, each in its own process, over HTTPS on loopback:
 * the unit replays plates, gets a covert hot list from the server, pushes its reads, hits, faults and health on a
 * one-second schedule; then the server pulls over the unit's API, which logs the pull as an access with its
 * purpose.
 */

const ROOT = path.join(import.meta.dirname, '..');
const MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const PLATES = path.join(ROOT, 'test-fixtures', 'plates');
const UNIT = 'car-12';

let dir: string;
let pki: Pki;
const children: ChildProcess[] = [];

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'alpr-unit-sync-'));
  pki = makePki(path.join(dir, 'pki'));
});
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** `alpr-edge status --json` (exit 1 when the unit is not healthy: a finished replay camera is fine). */
function statusJson(config: string): string {
  try {
    return execFileSync(process.execPath, [MAIN, 'status', '--config', config, '--json'], { encoding: 'utf8' });
  } catch (err) {
    return (err as { stdout: string }).stdout;
  }
}

function central(...args: string[]): string {
  return execFileSync(process.execPath, [MAIN, 'central', ...args], { encoding: 'utf8' });
}

describe('a unit and the central server', () => {
  it('reads, covert hits, faults and health go up on the schedule; hot lists come down; the server can also pull, logged', async () => {
    // the central server: HTTPS, one token for this unit, a covert list published
    const lists = path.join(dir, 'lists');
    mkdirSync(lists);
    writeFileSync(path.join(lists, 'watch.txt'), '7ABC123\n6TRJ244\n');
    writeFileSync(path.join(lists, 'lists.json'), JSON.stringify({ watch: { format: 'lines', covert: true, category: 'surveillance' } }));
    writeFileSync(path.join(dir, 'tokens'), `${UNIT} tok-${UNIT}-7d1e\n`);
    writeFileSync(path.join(dir, 'token'), `tok-${UNIT}-7d1e\n`, { mode: 0o600 });
    const centralDir = path.join(dir, 'central');
    const server = spawn(
      process.execPath,
      [MAIN, 'central', 'serve', '--data', centralDir, '--hotlists', lists, '--listen', '127.0.0.1:0', '--cert', pki.server.certFile, '--key', pki.server.keyFile, '--tokens', path.join(dir, 'tokens')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(server);
    let serverOut = '';
    server.stdout!.on('data', (c: Buffer) => (serverOut += c.toString()));
    server.stderr!.on('data', (c: Buffer) => (serverOut += c.toString()));
    await until(() => /listening on (\S+)/.test(serverOut), 10_000, 'the central server', () => serverOut);
    const url = /listening on (\S+)/.exec(serverOut)![1]!;

    // the unit: replays US plates, syncs every second, serves the pull API with a token of the agency
    writeFileSync(path.join(dir, 'pull-tokens'), 'agency-central tok-pull-55aa\n', { mode: 0o600 });
    const config = path.join(dir, 'unit.yaml');
    writeFileSync(
      config,
      `unit: { id: ${UNIT}, agency: ESPD }
data: { dir: ${JSON.stringify(path.join(dir, 'data'))} }
log: { level: info }
grouping: { maxDelayMs: 300, leaveAfterMs: 600 }
retention: { reads: { purgeUnsynced: false } }
cameras:
  - { id: front, type: replay, source: ${JSON.stringify(PLATES)}, pattern: "us-*", fps: 2 }
sync:
  enabled: true
  schedule: ["* * * * * *"]
  server: { url: ${JSON.stringify(url)}, caFile: ${JSON.stringify(pki.ca.certFile)}, tokenFile: ${JSON.stringify(path.join(dir, 'token'))} }
  images: { mode: with-reads }
  pull:
    enabled: true
    port: 0
    certFile: ${JSON.stringify(pki.server.certFile)}
    keyFile: ${JSON.stringify(pki.server.keyFile)}
    tokensFile: ${JSON.stringify(path.join(dir, 'pull-tokens'))}
`,
    );
    const unit = spawn(process.execPath, [MAIN, 'run', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(unit);
    let unitLog = '';
    unit.stdout!.on('data', (c: Buffer) => (unitLog += c.toString()));
    unit.stderr!.on('data', (c: Buffer) => (unitLog += c.toString()));

    const summary = () => (JSON.parse(central('ls', '--data', centralDir, '--json')) as { units: Array<{ unit: string; streams: Record<string, number>; images: { complete: number } }> }).units;
    const mine = () => summary().find((u) => u.unit === UNIT);
    // the replay ends; every read, and the hits of the covert list, reach the server
    await until(() => /camera source finished/.test(unitLog), 60_000, 'the replay to finish', () => unitLog.slice(-3000));
    await new Promise((r) => setTimeout(r, 3000));
    const local = new Database(path.join(dir, 'data', 'alpr-edge.db'), { readonly: true });
    const localReads = (local.prepare('SELECT COUNT(*) AS n FROM reads').get() as { n: number }).n;
    const localHits = (local.prepare('SELECT COUNT(*) AS n FROM hotlist_hits WHERE covert = 1').get() as { n: number }).n;
    expect(localReads).toBeGreaterThan(5);
    expect(localHits).toBeGreaterThanOrEqual(2);
    await until(() => (mine()?.streams.reads ?? 0) === localReads && (mine()?.streams.hits ?? 0) === localHits, 20_000, 'reads and hits on the server', () => JSON.stringify(mine()) + unitLog.slice(-2000));
    const pending = (local.prepare("SELECT COUNT(*) AS n FROM reads WHERE sync_state = 'pending'").get() as { n: number }).n;
    expect(pending).toBe(0);
    // no alert went to any terminal for a covert list; the hits are the agency's to see
    expect((local.prepare('SELECT COUNT(*) AS n FROM alerts WHERE suppressed IS NULL').get() as { n: number }).n).toBe(0);
    const cdb = new Database(path.join(centralDir, 'central.sqlite'), { readonly: true });
    const hit = JSON.parse((cdb.prepare("SELECT body FROM items WHERE stream = 'hits' LIMIT 1").get() as { body: string }).body) as Record<string, unknown>;
    expect(hit).toMatchObject({ list: 'watch', covert: true, category: 'surveillance' });
    const health = JSON.parse((cdb.prepare('SELECT body FROM health WHERE unit = ?').get(UNIT) as { body: string }).body) as Record<string, unknown>;
    expect(health).toMatchObject({ unitId: UNIT, state: 'running' });
    expect(health).toHaveProperty('faults');
    await until(() => (mine()?.images?.complete ?? 0) >= localReads, 20_000, 'images on the server', () => JSON.stringify(mine()));

    // the agency's server pulls instead: with its token and a purpose; the unit logs it as an access
    const status = JSON.parse(statusJson(config)) as { status: { sync: { backlog: Record<string, number> }; faults: unknown[] } };
    expect(status.status.sync.backlog.reads).toBe(0);
    const pullUrl = /"url":"(https:\/\/127\.0\.0\.1:\d+)"[^\n]*pull API listening/.exec(unitLog)?.[1];
    expect(pullUrl, unitLog.slice(0, 4000)).toBeDefined();
    writeFileSync(path.join(dir, 'pull-token'), 'tok-pull-55aa\n');
    const pulledDir = path.join(dir, 'central-pull');
    const out = central('pull', '--data', pulledDir, '--unit', UNIT, '--url', pullUrl!, '--ca', pki.ca.certFile, '--token-file', path.join(dir, 'pull-token'), '--purpose', 'nightly collection for the ALPR system of record', '--case', 'ESPD-ALPR-2026-01');
    expect(out).toMatch(/reads/);
    const pulled = (JSON.parse(central('ls', '--data', pulledDir, '--json')) as { units: Array<{ unit: string; streams: Record<string, number> }> }).units.find((u) => u.unit === UNIT)!;
    expect(pulled.streams.reads).toBe(localReads);
    const pulls = local.prepare("SELECT user_name, action, purpose, case_number, outcome FROM access_log WHERE action = 'pull'").all() as Array<Record<string, string>>;
    expect(pulls.length).toBeGreaterThan(0);
    expect(pulls[0]).toMatchObject({ user_name: 'agency-central', purpose: 'nightly collection for the ALPR system of record', case_number: 'ESPD-ALPR-2026-01', outcome: 'ok' });

    unit.kill('SIGTERM');
    expect(await new Promise((r) => unit.once('exit', r))).toBe(0);
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    local.close();
    cdb.close();
  }, 120_000);
});

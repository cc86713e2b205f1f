import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { newRead } from './helpers.js';
import YAML from 'yaml';
import { AccessLog, loadAuditKey } from '../src/access/access-log.js';
import { totpCode } from '../src/access/totp.js';
import { addUser, signIn } from '../src/access/users.js';
import { startCentral, type CentralServer } from '../src/central/server.js';
import { ConfigError, parseConfig } from '../src/config/load.js';
import { createLogger } from '../src/log/logger.js';
import { ReadStore, type NewRead } from '../src/store/read-store.js';
import { systemClock } from '../src/util/clock.js';
import { adminSession } from './session-helper.js';

/**
 * Issue #16, items 1, 5 and 7: what the testers did to get data out, or to learn about the unit, done again against the
 * built command line with a real SQLite store and real HTTP servers on loopback (the reference central server,
 * in-process); each now fails.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const UNIT = 'car-16';
const PASSWORD = 'test password 123';
const log = createLogger('silent');
const PLATES = path.join(ROOT, 'test-fixtures', 'plates');
const jpeg = readFileSync(path.join(PLATES, readdirSync(PLATES).filter((f) => f.endsWith('.jpg')).sort()[0]!));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

let tmp: string;
let home: string;

/** The command line in a child process, asynchronously: the central servers answer from this process meanwhile. */
function cli(args: string[], env: Record<string, string> = {}, input = ''): Promise<Run> {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ALPR_EDGE')) clean[k] = v;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, env: { ...clean, HOME: home, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.once('error', reject);
    child.once('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

let n = 0;
/** The next read (test/helpers.ts) of this unit, plate SEC<n>, with a real JPEG's start as its crop and no frame. */
const nextRead = (): NewRead =>
  newRead(++n, { uuid: `00000000-0000-4000-9000-${String(n).padStart(12, '0')}`, unitId: UNIT, plate: `SEC${String(n).padStart(4, '0')}`, crop: { bytes: jpeg.subarray(0, 3000), format: 'jpeg' }, frame: undefined });

function openStore(dataDir: string): ReadStore {
  return ReadStore.open(dataDir, { clock: systemClock, imageBudgetBytes: 1e8 });
}

async function storeReads(dataDir: string, count: number): Promise<void> {
  const store = openStore(dataDir);
  try {
    for (let i = 0; i < count; i++) await store.insertRead(nextRead());
  } finally {
    store.close();
  }
}

interface LogRow {
  action: string;
  user_name: string;
  outcome: string;
  query: unknown;
  result: unknown;
}

function accessLog(dataDir: string): LogRow[] {
  const store = openStore(dataDir);
  try {
    return (store.database.prepare('SELECT action, user_name, outcome, query, result FROM access_log ORDER BY id').all() as Array<LogRow & { query: string | null; result: string | null }>).map(
      (r) => ({ ...r, query: r.query === null ? null : JSON.parse(r.query), result: r.result === null ? null : JSON.parse(r.result) }),
    );
  } finally {
    store.close();
  }
}

function pending(dataDir: string): number {
  const store = openStore(dataDir);
  try {
    return (store.database.prepare("SELECT COUNT(*) AS n FROM reads WHERE sync_state = 'pending'").get() as { n: number }).n;
  } finally {
    store.close();
  }
}

/** An admin (password and one-time code) and a technician (password), signed in: their session tokens. */
async function team(dataDir: string): Promise<{ admin: string; tech: string }> {
  const store = openStore(dataDir);
  try {
    const alog = new AccessLog(store.database, loadAuditKey(dataDir), systemClock);
    const { totp } = await addUser(store.database, alog, 'bootstrap', { name: 'ada', agency: 'TEST', role: 'admin', password: PASSWORD });
    const a = await signIn(store.database, alog, { name: 'ada', password: PASSWORD, totp: totpCode(totp!.secret, Date.now()) });
    if (!a.ok) throw new Error(a.message);
    await addUser(store.database, alog, a.principal, { name: 'tess', agency: 'TEST', role: 'technician', password: PASSWORD });
    const t = await signIn(store.database, alog, { name: 'tess', password: PASSWORD });
    if (!t.ok) throw new Error(t.message);
    return { admin: a.token, tech: t.token };
  } finally {
    store.close();
  }
}

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error(`${path.relative(ROOT, MAIN)} is missing: build first (npm run build)`);
});

beforeEach(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'alpr-security-'));
  home = path.join(tmp, 'home');
  mkdirSync(home, { mode: 0o700 });
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

describe('#16 item 1: reads leave the unit only on a signed-in, logged command, to a recorded destination', () => {
  let agency: CentralServer;
  let elsewhere: CentralServer;
  afterEach(async () => {
    await agency?.close();
    await elsewhere?.close();
  });

  it('sync now: no session refused; a technician pushes to the agency; an environment override is refused to a technician, recorded for an admin, and inherits nothing', async () => {
    const dataDir = path.join(tmp, 'unit');
    agency = await startCentral({ clock: systemClock, dataDir: path.join(tmp, 'agency'), insecureHttp: true, tokens: [{ token: 'agency-token', unit: UNIT }], log });
    elsewhere = await startCentral({ clock: systemClock, dataDir: path.join(tmp, 'elsewhere'), insecureHttp: true, tokens: [{ token: 'other-token', unit: UNIT }], log });
    writeFileSync(path.join(tmp, 'agency-token'), 'agency-token\n', { mode: 0o600 });
    writeFileSync(path.join(tmp, 'other-token'), 'other-token\n', { mode: 0o600 });
    const cfg = path.join(tmp, 'unit.yaml');
    writeFileSync(
      cfg,
      YAML.stringify({
        unit: { id: UNIT, agency: 'TEST' },
        data: { dir: dataDir },
        log: { level: 'warn' },
        sync: { server: { url: agency.url, allowInsecureHttp: true, tokenFile: path.join(tmp, 'agency-token') } },
      }),
    );
    await storeReads(dataDir, 5);
    const { admin, tech } = await team(dataDir);
    // the tester's environment: another server, its token, plain HTTP allowed
    const divert = {
      ALPR_EDGE__SYNC__SERVER__URL: elsewhere.url,
      ALPR_EDGE__SYNC__SERVER__ALLOW_INSECURE_HTTP: 'true',
      ALPR_EDGE__SYNC__SERVER__TOKEN_FILE: path.join(tmp, 'other-token'),
    };

    // 1. no session: refused, nothing sent anywhere, the refusal logged
    const anon = await cli(['sync', 'now', '--config', cfg], divert);
    expect(anon.status, anon.stderr).toBe(1);
    expect(anon.stderr).toMatch(/not signed in/);
    expect(elsewhere.db.count('reads', UNIT)).toBe(0);
    expect(agency.db.count('reads', UNIT)).toBe(0);
    expect(accessLog(dataDir).at(-1)).toMatchObject({ user_name: '(not signed in)', action: 'unit.operate', outcome: 'refused' });
    expect(pending(dataDir)).toBe(5);

    // 2. a technician, the configured server: sent, marked synced, in the access log (who, where, how many)
    const first = await cli(['sync', 'now', '--config', cfg], { ALPR_EDGE_SESSION: tech });
    expect(first.status, first.stderr + first.stdout).toBe(0);
    expect(agency.db.count('reads', UNIT)).toBe(5);
    expect(pending(dataDir)).toBe(0);
    // the access log's head went with it, and the server acknowledged it (audit verify checks the log against it)
    expect(first.stdout).toMatch(/access log head #\d+ acknowledged by the server/);
    let rows = accessLog(dataDir);
    expect(rows.find((r) => r.action === 'sync-destination-change')).toMatchObject({ user_name: 'tess', query: { from: null, to: `${agency.url}/` }, result: { agencyServer: true } });
    expect(rows.find((r) => r.action === 'sync now')).toMatchObject({ user_name: 'tess', outcome: 'ok', query: { destination: `${agency.url}/`, agencyServer: true }, result: { waiting: { reads: 5 } } });
    expect(rows.find((r) => r.action === 'sync now done')).toMatchObject({ user_name: 'tess', outcome: 'ok', result: { sent: { reads: 5 } } });

    // 3. more reads; the technician with the tester's environment: refused, nothing sent, logged
    await storeReads(dataDir, 3);
    const techDivert = await cli(['sync', 'now', '--config', cfg], { ...divert, ALPR_EDGE_SESSION: tech });
    expect(techDivert.status).toBe(1);
    expect(techDivert.stderr).toMatch(/not the agency's server recorded on this unit .*ALPR_EDGE__SYNC__SERVER__URL/);
    expect(elsewhere.db.count('reads', UNIT)).toBe(0);
    expect(accessLog(dataDir).at(-1)).toMatchObject({ user_name: 'tess', action: 'sync now', outcome: 'refused', query: { destination: `${elsewhere.url}/` } });

    // 4. an admin may, and it is recorded as a destination change; the other server starts from nothing (no
    // inherited cursor) and what it receives is not marked synced for the agency's server
    const adminDivert = await cli(['sync', 'now', '--config', cfg], { ...divert, ALPR_EDGE_SESSION: admin });
    expect(adminDivert.status, adminDivert.stderr + adminDivert.stdout).toBe(0);
    expect(adminDivert.stdout).toMatch(/NOT the agency's server/);
    // nor does the unit take hot lists or cancellations from it
    expect(adminDivert.stdout).toMatch(/hot lists NOT updated .*not the agency's server/);
    expect(elsewhere.db.count('reads', UNIT)).toBe(8);
    expect(agency.db.count('reads', UNIT)).toBe(5);
    expect(pending(dataDir)).toBe(3);
    rows = accessLog(dataDir);
    expect(rows.filter((r) => r.action === 'sync-destination-change').at(-1)).toMatchObject({
      user_name: 'ada',
      query: { from: `${agency.url}/`, to: `${elsewhere.url}/`, source: expect.stringContaining('ALPR_EDGE__SYNC__SERVER__URL') },
      result: { agencyServer: false },
    });
    expect(rows.filter((r) => r.action === 'sync now done').at(-1)).toMatchObject({ user_name: 'ada', result: { sent: { reads: 8 } } });

    // sync status (no override) shows the change and what still waits for the agency's server
    const st = await cli(['sync', 'status', '--config', cfg]);
    expect(st.status).toBe(0);
    expect(st.stdout).toContain(`destination changed`);
    expect(st.stdout).toContain(`-> ${elsewhere.url}/ (NOT the agency's server)`);
    expect(st.stdout).toMatch(/waiting: reads 3,/);

    // 5. back on the agency's server: the three it lacks go up, nothing is left pending, the change is recorded
    const back = await cli(['sync', 'now', '--config', cfg], { ALPR_EDGE_SESSION: tech });
    expect(back.status, back.stderr + back.stdout).toBe(0);
    expect(back.stdout).toMatch(/reads: 3 sent/);
    expect(agency.db.count('reads', UNIT)).toBe(8);
    expect(pending(dataDir)).toBe(0);
    expect(accessLog(dataDir).filter((r) => r.action === 'sync-destination-change').at(-1)).toMatchObject({
      user_name: 'tess',
      query: { from: `${elsewhere.url}/`, to: `${agency.url}/` },
      result: { agencyServer: true },
    });
  }, 180_000);

  it('the demo refuses a store with user accounts (it would send them to its own server)', async () => {
    const dataDir = path.join(tmp, 'unit');
    await storeReads(dataDir, 2);
    await adminSession(dataDir);
    const r = await cli(['demo'], { ALPR_EDGE__DATA__DIR: dataDir });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/refused: the store .* has user accounts/);
    expect(pending(dataDir)).toBe(2);
    expect(existsSync(path.join(dataDir, 'demo-central'))).toBe(false);
  }, 60_000);
});

describe('#16 item 7', () => {
  it('(a) a locked-out account and an unknown name get the same answer and exit code; the log keeps the reasons', async () => {
    const dataDir = path.join(tmp, 'unit');
    const cfg = path.join(tmp, 'unit.yaml');
    writeFileSync(cfg, YAML.stringify({ unit: { id: UNIT }, data: { dir: dataDir }, log: { level: 'warn' } }));
    const store = openStore(dataDir);
    let fifth = '';
    try {
      const alog = new AccessLog(store.database, loadAuditKey(dataDir), systemClock);
      const { totp } = await addUser(store.database, alog, 'bootstrap', { name: 'ada', agency: 'TEST', role: 'admin', password: PASSWORD });
      const a = await signIn(store.database, alog, { name: 'ada', password: PASSWORD, totp: totpCode(totp!.secret, Date.now()) });
      if (!a.ok) throw new Error(a.message);
      await addUser(store.database, alog, a.principal, { name: 'olly', agency: 'TEST', role: 'officer', password: PASSWORD });
      for (let i = 0; i < 5; i++) {
        const r = await signIn(store.database, alog, { name: 'olly', password: `wrong ${i}` });
        if (!r.ok) fifth = r.message;
      }
      // the attempt that locks the account says no more than any other failure
      const ghost = await signIn(store.database, alog, { name: 'ghost', password: 'wrong 4' });
      expect(ghost.ok).toBe(false);
      if (!ghost.ok) expect(fifth).toBe(ghost.message);
    } finally {
      store.close();
    }
    // the right password during the lock-out, and a name that does not exist: the same answer
    const locked = await cli(['login', '--user', 'olly', '--config', cfg], {}, `${PASSWORD}\n\n`);
    const unknown = await cli(['login', '--user', 'ghost', '--config', cfg], {}, `${PASSWORD}\n\n`);
    expect(locked.status).toBe(1);
    expect(unknown.status).toBe(locked.status);
    expect(unknown.stderr).toBe(locked.stderr);
    expect(locked.stderr).not.toMatch(/lock(ed)? until|too many/);
    const logins = accessLog(dataDir).filter((r) => r.action === 'login' && r.outcome === 'refused');
    expect(logins.at(-2)).toMatchObject({ user_name: 'olly', result: { reason: 'locked' } });
    expect(logins.at(-1)).toMatchObject({ user_name: 'ghost', result: { reason: 'unknown user' } });
  }, 60_000);

  it("(b) the reference central server's data folder is 0700 and its database 0600", async () => {
    const dataDir = path.join(tmp, 'central');
    const central = await startCentral({ clock: systemClock, dataDir, insecureHttp: true, tokens: [{ token: 't', unit: UNIT }], log });
    try {
      expect(statSync(dataDir).mode & 0o777).toBe(0o700);
      expect(statSync(path.join(dataDir, 'images')).mode & 0o777).toBe(0o700);
      for (const f of readdirSync(dataDir).filter((f) => f.startsWith('central.sqlite'))) {
        expect(statSync(path.join(dataDir, f)).mode & 0o777, f).toBe(0o600);
      }
    } finally {
      await central.close();
    }
    // a folder someone else made open to others is refused rather than used
    const shared = path.join(tmp, 'shared');
    mkdirSync(shared, { mode: 0o755 });
    await expect(startCentral({ clock: systemClock, dataDir: shared, insecureHttp: true, tokens: [], log })).rejects.toThrow(/can be entered by other users/);
  });

  it('(d) a "billion laughs" config is a located error, not a stack trace', async () => {
    const bomb = ['unit: { id: x }', 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (const [i, name] of ['b', 'c', 'd', 'e', 'f', 'g', 'h'].entries()) {
      const prev = String.fromCharCode('a'.charCodeAt(0) + i);
      bomb.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    const text = `${bomb.join('\n')}\n`;
    expect(() => parseConfig(text, 'bomb.yaml')).toThrow(ConfigError);
    try {
      parseConfig(text, 'bomb.yaml');
    } catch (err) {
      expect((err as ConfigError).problems[0]).toMatchObject({ file: 'bomb.yaml', line: 3 });
      expect((err as Error).message).toMatch(/^bomb\.yaml:3:\d+: .*aliases expand too far/);
    }
    const file = path.join(tmp, 'bomb.yaml');
    writeFileSync(file, text);
    const r = await cli(['config', 'check', file]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/bomb\.yaml:3:\d+: .*aliases expand too far/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('(c, e) the demo says its store is unencrypted; status afterwards warns of it and shows the last sync', async () => {
    const data = path.join(tmp, 'demo');
    const demo = await cli(['demo'], { ALPR_EDGE__DATA__DIR: data });
    expect(demo.status, demo.stderr).toBe(0);
    expect(demo.stderr).toMatch(/the demo store is NOT encrypted/);
    // the unit itself warns at start
    expect(demo.stderr).toMatch(/"msg":"the store is NOT encrypted/);
    expect(demo.stderr).toMatch(/nothing is left to sync/);
    const st = await cli(['status', '--config', 'config/demo.yaml'], { ALPR_EDGE__DATA__DIR: data });
    expect(st.stdout).toMatch(/^WARNING: the store is NOT encrypted/);
    expect(st.stdout).toMatch(/reads: \d+ stored, 0 not yet synced/);
    expect(st.stdout).toMatch(/sync: http:\/\/127\.0\.0\.1:\d+; last success \d+s ago/);
    expect(st.stdout).toMatch(/waiting: nothing/);
    const json = await cli(['status', '--json', '--config', 'config/demo.yaml'], { ALPR_EDGE__DATA__DIR: data });
    const parsed = JSON.parse(json.stdout) as { warnings: string[]; status: { sync: { lastSuccessAt: number | null } } };
    expect(parsed.warnings[0]).toMatch(/NOT encrypted/);
    expect(parsed.status.sync.lastSuccessAt).not.toBeNull();
  }, 120_000);
});


describe('#16 item 5: a release holds what was approved, goes out once, and needs an independent approver', () => {
  it('aggregate by plate refused, small cells left out; 19 reads approved are the 19 exported; one export; a second admin made by the requester cannot approve', async () => {
    const dataDir = path.join(tmp, 'unit');
    const cfg = path.join(tmp, 'unit.yaml');
    writeFileSync(cfg, YAML.stringify({ unit: { id: UNIT, agency: 'TEST' }, data: { dir: dataDir }, log: { level: 'warn' } }));
    const tokens: Record<string, string> = {};
    const store = openStore(dataDir);
    try {
      const alog = new AccessLog(store.database, loadAuditKey(dataDir), systemClock);
      const signed = async (name: string, secret: string) => {
        const r = await signIn(store.database, alog, { name, password: PASSWORD, totp: totpCode(secret, Date.now()) });
        if (!r.ok) throw new Error(r.message);
        tokens[name] = r.token;
        return r.principal;
      };
      const ada = await signed('ada', (await addUser(store.database, alog, 'bootstrap', { name: 'ada', agency: 'TEST', role: 'admin', password: PASSWORD })).totp!.secret);
      for (const [name, role] of [['bob', 'admin'], ['dana', 'data-user'], ['eve', 'data-user']] as const) {
        await signed(name, (await addUser(store.database, alog, ada, { name, agency: 'TEST', role, password: PASSWORD })).totp!.secret);
      }
      for (let i = 0; i < 19; i++) await store.insertRead(nextRead());
      // one car seen twice by the rear camera
      for (let i = 0; i < 2; i++) await store.insertRead({ ...nextRead(), cameraId: 'rear', plate: '5KDW837', candidates: [{ text: '5KDW837', confidence: 90 }] });
    } finally {
      store.close();
    }
    const as = (user: string, args: string[], input = '') => cli([...args, '--config', cfg], { ALPR_EDGE_SESSION: tokens[user]! }, input);
    const why = ['--agency', 'City of Calabasas', '--requester', 'Traffic study', '--purpose', 'traffic counts per camera', '--case', 'REQ-2026-17'];

    // what the tester did: an aggregate release of one plate
    let r = await as('dana', ['release', 'request', '--mode', 'aggregate', '--plate', '5KDW837', ...why]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/refused: an aggregate release cannot select a plate/);
    expect((await as('dana', ['release', 'ls'])).stdout).toBe('');
    // the day's counts instead: the rear camera's cell (one car) is left out, and the release says so
    r = await as('dana', ['release', 'request', '--mode', 'aggregate', '--from', '2026-11-22T00:00Z', ...why]);
    expect(r.status, r.stderr).toBe(0);
    r = await as('bob', ['release', 'approve', '1']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/21 read\(s\) of 20 vehicle\(s\)/);
    expect(r.stdout).toMatch(/1 released, 1 left out with fewer than 5 vehicles/);
    r = await as('dana', ['release', 'export', '1', '--out', path.join(tmp, 'agg')]);
    expect(r.status, r.stderr).toBe(0);
    const agg = readFileSync(path.join(tmp, 'agg', 'release.json'), 'utf8');
    expect(agg).not.toMatch(/5KDW837|rear/);
    expect(JSON.parse(agg)).toMatchObject({ data: [{ day: '2026-11-22', camera: 'front', reads: 19, vehicles: 19 }], aggregate: { minVehiclesPerCell: 5, cellsSuppressed: 1 } });

    // what the tester did: approved at 19 reads, exported after the store had 38
    r = await as('dana', ['release', 'request', '--mode', 'full', '--camera', 'front', '--from', '2026-11-22T00:00Z', ...why, '--agency', 'County DA', '--requester', 'J. Park', '--purpose', 'burglary series suspect vehicles', '--case', '26-1001']);
    expect(r.status, r.stderr).toBe(0);
    r = await as('bob', ['release', 'show', '2']);
    expect(r.stdout).toMatch(/contents if approved now: 19 read\(s\)/);
    const digest = /--digest ([0-9a-f]{64})/.exec(r.stdout)![1]!;
    r = await as('bob', ['release', 'approve', '2', '--digest', digest]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/approved contents \(fixed\): 19 read\(s\)/);
    await storeReads(dataDir, 19);
    r = await as('dana', ['release', 'export', '2', '--out', path.join(tmp, 'full')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`release 2: 19 read(s), 20 file(s)`);
    expect(r.stdout).toContain(digest);
    expect(JSON.parse(readFileSync(path.join(tmp, 'full', 'release.json'), 'utf8')).data).toHaveLength(19);
    const exported = accessLog(dataDir).filter((e) => e.action === 'release-export' && e.outcome === 'ok');
    expect(exported.at(-1)).toMatchObject({ user_name: 'dana', result: { count: 19, digest, export: 1 } });

    // what the tester did: another data user exports it, and the requester again
    r = await as('eve', ['release', 'export', '2', '--out', path.join(tmp, 'eve')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/refused: only dana, who requested release 2, or an admin may export it/);
    r = await as('dana', ['release', 'export', '2', '--out', path.join(tmp, 'again')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/refused: release 2 was exported already .*needs an admin, with a reason/);
    expect(existsSync(path.join(tmp, 'eve')) || existsSync(path.join(tmp, 'again'))).toBe(false);

    // what the tester did: an admin refused on their own request makes a second admin and approves with it
    r = await as('ada', ['release', 'request', '--mode', 'full', '--plate', '5KDW837', ...why, '--agency', 'County DA', '--requester', 'J. Park', '--purpose', 'burglary series suspect vehicles', '--case', '26-1001']);
    expect(r.status, r.stderr).toBe(0);
    r = await as('ada', ['release', 'approve', '3']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/refused: a release must be approved by someone other than the user who requested it/);
    r = await as('ada', ['user', 'add', 'ada2', '--role', 'admin'], `${PASSWORD}\n`);
    expect(r.status, r.stderr).toBe(0);
    const store2 = openStore(dataDir);
    try {
      const signedIn = await signIn(store2.database, new AccessLog(store2.database, loadAuditKey(dataDir), systemClock), { name: 'ada2', password: PASSWORD, totp: totpCode(/secret: ([A-Z2-7]+)/.exec(r.stdout)![1]!, Date.now()) });
      if (!signedIn.ok) throw new Error(signedIn.message);
      tokens.ada2 = signedIn.token;
    } finally {
      store2.close();
    }
    r = await as('ada2', ['release', 'approve', '3']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/refused: ada2 may not approve release 3: the account of ada2 was created by ada, who requested it/);
    r = await as('ada', ['release', 'ls']);
    expect(r.stdout).toMatch(/^3 .*NOT APPROVED/m);
    // bob, made by ada before the request, is not independent of her either
    r = await as('bob', ['release', 'approve', '3']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/the account of bob was created by ada/);
    const refusals = accessLog(dataDir).filter((e) => e.outcome === 'refused' && e.action.startsWith('release-')).map((e) => [e.user_name, e.action]);
    expect(refusals).toEqual([
      ['dana', 'release-request'],
      ['eve', 'release-export'],
      ['dana', 'release-export'],
      ['ada', 'release-approve'],
      ['ada2', 'release-approve'],
      ['bob', 'release-approve'],
    ]);
  }, 180_000);
});

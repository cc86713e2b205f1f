import { systemClock } from '../src/util/clock.js';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../src/access/totp.js';
import { NO_POSITION } from '../src/gps/types.js';
import { ReadStore } from '../src/store/read-store.js';

/**
 * Who may see stored reads, as people use the command line: the first admin, a data user with two factors, an
 * officer, an auditor; searches and images need a session and a purpose; everything lands in the access log,
 * whose chain `audit verify` checks; the database and images are encrypted with the unit's key.
 */

const MAIN = path.join(import.meta.dirname, '..', 'dist', 'src', 'cli', 'main.js');
let dir: string;
let config: string;
const PW = 'correct horse battery staple';

function cli(args: string[], input = '', session = 'session') {
  const r = spawnSync(process.execPath, [MAIN, ...args, '--config', config], {
    input,
    encoding: 'utf8',
    env: { ...process.env, ALPR_EDGE__ACCESS__SESSION_FILE: path.join(dir, session) },
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const secretOf = (out: string) => /secret: ([A-Z2-7]+)/.exec(out)![1]!;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'alpr-cli-data-'));
  config = path.join(dir, 'unit.yaml');
  spawnSync(process.execPath, [MAIN, 'key', 'create', path.join(dir, 'data.key')]);
  writeFileSync(config, `unit: { id: car-12, agency: ESPD }\ndata: { dir: ${JSON.stringify(path.join(dir, 'data'))} }\nstore: { keyFile: ${JSON.stringify(path.join(dir, 'data.key'))} }\n`);
  const { loadDataKey } = await import('../src/store/keys.js');
  const store = ReadStore.open(path.join(dir, 'data'), { clock: systemClock, imageBudgetBytes: 1e8, dataKey: loadDataKey({ keyFile: path.join(dir, 'data.key') }) });
  for (const [i, plate] of [[1, '7ABC123'], [2, '7ABC124'], [3, '5XYZ987']] as const) {
    await store.insertRead({
      uuid: `r${i}`, unitId: 'car-12', cameraId: 'front', plate, confidence: 90, candidates: [], region: 'us',
      box: { x: 0, y: 0, width: 10, height: 10 }, firstSeen: Date.now() - i * 60_000, lastSeen: Date.now(), bestSeen: Date.now(),
      frameCount: 2, clockSource: 'system', position: NO_POSITION, closed: true, crop: { bytes: Buffer.from(`JPEG-crop-${plate}`), format: 'jpeg' },
    });
  }
  store.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('data commands need a signed-in user, a purpose, and leave a trace', () => {
  it('sign-ins, roles, purposes, images, and a verified access log', () => {
    // nobody signed in: nothing
    let r = cli(['search', '--plate', '7ABC*', '--purpose', 'stolen vehicle', '--case', '26-1001']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('not signed in');

    // the first admin, then a data user and an officer
    r = cli(['user', 'bootstrap', 'ada'], `${PW}\n`);
    expect(r.status, r.stderr).toBe(0);
    const adaSecret = secretOf(r.stdout);
    expect(cli(['login', '--user', 'ada'], `${PW}\n${totpCode(adaSecret, Date.now())}\n`, 'ada').status).toBe(0);
    r = cli(['user', 'add', 'dana', '--role', 'data-user'], `${PW}\n`, 'ada');
    expect(r.status, r.stderr).toBe(0);
    const danaSecret = secretOf(r.stdout);
    expect(cli(['user', 'add', 'olly', '--role', 'officer'], `${PW}\n`, 'ada').status).toBe(0);
    expect(cli(['user', 'add', 'audrey', '--role', 'auditor'], `${PW}\n`, 'ada').status).toBe(0);

    // a data user without the second factor is refused; with it, signed in
    expect(cli(['login', '--user', 'dana'], `${PW}\n\n`, 'dana').status).toBe(1);
    expect(cli(['login', '--user', 'dana'], `${PW}\n${totpCode(danaSecret, Date.now())}\n`, 'dana').status).toBe(0);
    // a bare purpose is refused; a specific one with a case number finds the reads
    r = cli(['search', '--plate', '7ABC*', '--purpose', 'investigation', '--case', '26-1001'], '', 'dana');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/not a specific purpose/);
    r = cli(['search', '--plate', '7ABC*', '--purpose', 'stolen vehicle follow-up', '--case', '26-1001', '--json'], '', 'dana');
    expect(r.status, r.stderr).toBe(0);
    const found = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: number; plate: string });
    expect(found.map((f) => f.plate).sort()).toEqual(['7ABC123', '7ABC124']);
    // images: written decrypted for the data user
    r = cli(['show', String(found[0]!.id), '--purpose', 'stolen vehicle follow-up', '--case', '26-1001', '--images', path.join(dir, 'out')], '', 'dana');
    expect(r.status, r.stderr).toBe(0);
    const files = readdirSync(path.join(dir, 'out'));
    expect(readFileSync(path.join(dir, 'out', files[0]!), 'utf8')).toMatch(/^JPEG-crop-7ABC12/);

    // an officer cannot search history
    expect(cli(['login', '--user', 'olly'], `${PW}\n\n`, 'olly').status).toBe(0);
    r = cli(['search', '--plate', '7ABC123', '--purpose', 'stolen vehicle follow-up', '--case', '26-1001'], '', 'olly');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/refused: role officer may not search/);

    // an evidence hold: placed by the admin, refused to the officer
    r = cli(['hold', 'place', '--plate', '7ABC123', '--case', '26-1001', '--reason', 'evidence in burglary 26-1001', '--contact', 'Det. Ruiz x4411'], '', 'ada');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/hold 1 placed on 1 read\(s\), case 26-1001/);
    r = cli(['hold', 'place', '--plate', '7ABC124', '--case', '26-1001', '--reason', 'x', '--contact', 'y'], '', 'olly');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/refused/);

    // the auditor: the chain verifies and the report names who looked for what and why
    expect(cli(['login', '--user', 'audrey'], `${PW}\n\n`, 'audrey').status).toBe(0);
    r = cli(['audit', 'verify'], '', 'audrey');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^access log INTACT\n/);
    r = cli(['audit', 'report', '--format', 'csv'], '', 'audrey');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/dana,ESPD,data-user,search,stolen vehicle follow-up,26-1001/);
    expect(r.stdout).toMatch(/olly,ESPD,officer,search,.*refused/);
    expect(r.stdout).toMatch(/dana,ESPD,data-user,search,investigation,26-1001.*refused/);

    // watching reads go by on a unit in service needs a session that may search reads too
    r = cli(['run', '--json', '--exit-when-done'], '', 'nobody');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/refused: not signed in/);

    // on disk, without the key, nothing of it can be read
    const db = readFileSync(path.join(dir, 'data', 'alpr-edge.db'));
    expect(db.includes(Buffer.from('7ABC123'))).toBe(false);
    expect(db.subarray(0, 15).toString()).not.toBe('SQLite format 3');
    expect(existsSync(path.join(dir, 'data', 'audit.key'))).toBe(false); // the log's MAC key comes from the data key
    // about 30 command runs, each signing in with argon2: close to vitest's 60 s default on a busy machine
  }, 240_000);
});

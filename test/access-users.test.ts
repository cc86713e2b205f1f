import { systemClock } from '../src/util/clock.js';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AccessLog, type AccessRecord } from '../src/access/access-log.js';
import { AccessDenied, type Principal } from '../src/access/roles.js';
import { accessDefaults } from '../src/access/schema.js';
import { requireSession, tokenHash } from '../src/access/session.js';
import { base32Decode, base32Encode, hotp, totpCode } from '../src/access/totp.js';
import {
  addUser,
  deleteUser,
  disableUser,
  enableUser,
  getUser,
  listUsers,
  resetTotp,
  signIn,
  UserError,
  type SignInResult,
} from '../src/access/users.js';
import { loginCommand, logoutCommand, passwdCommand, userCommand, whoamiCommand, type CommandIO, type UserCommandConfig } from '../src/cli/user.js';
import { configSchema } from '../src/config/schema.js';
import { ReadStore } from '../src/store/read-store.js';

/**
 * Users and sign-in (issue 6, P1 P4 P5 P6): each rule is attacked — wrong password, wrong, missing and replayed
 * one-time codes, lock-out, suspended, deactivated and deleted accounts, roles reaching beyond their grant,
 * expired sessions — and every attempt must be in the access log, whose chain must still verify.
 */

const MIN = 60_000;
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 22, 9, 0, 0);
const PW = 'correct horse battery';

let dir: string;
let store: ReadStore;
let db: ReadStore['database'];
let now: number;
let log: AccessLog;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'alpr-access-'));
  store = ReadStore.open(path.join(dir, 'data'), { clock: systemClock, imageBudgetBytes: 2 ** 20 });
  db = store.database;
  // the tables come with the store's migration 4
  now = T0;
  log = new AccessLog(db, randomBytes(32), () => now);
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const logins = (user: string): AccessRecord[] => log.list({ user }).filter((r) => r.action === 'login');
const lastRecord = (): AccessRecord => log.list().at(-1)!;

function expectRefused(r: SignInResult, reason: string): void {
  expect(r.ok).toBe(false);
  if (!r.ok) expect(r.reason).toBe(reason);
}

async function session(name: string, secret: string | null, at = now): Promise<Principal & { token: string }> {
  const r = await signIn(db, log, { name, password: PW, totp: secret ? totpCode(secret, at) : undefined }, at);
  if (!r.ok) throw new Error(`sign-in of ${name} refused: ${r.reason}`);
  return { ...r.principal, token: r.token };
}

/** ada (admin, bootstrapped), dan (data user), olly (officer), tess (technician): ada's, olly's and tess's sessions, the secrets. */
async function team() {
  const ada = await addUser(db, log, 'bootstrap', { name: 'ada', agency: 'LAPD', role: 'admin', password: PW });
  const admin = await session('ada', ada.totp!.secret);
  now += 31_000; // the next sign-ins of ada need a code of a later step
  const dan = await addUser(db, log, admin, { name: 'dan', agency: 'LAPD', role: 'data-user', password: PW }, { now });
  await addUser(db, log, admin, { name: 'olly', agency: 'LAPD', role: 'officer', password: PW }, { now });
  await addUser(db, log, admin, { name: 'tess', agency: 'LAPD', role: 'technician', password: PW }, { now });
  // officers and technicians sign in with the password alone
  const olly = await session('olly', null);
  const tess = await session('tess', null);
  return { admin, adaSecret: ada.totp!.secret, danSecret: dan.totp!.secret, olly, tess };
}

describe('TOTP (RFC 6238)', () => {
  it('gives the RFC 6238 test values for SHA-1', () => {
    const key = Buffer.from('12345678901234567890');
    for (const [t, code] of [
      [59, '94287082'],
      [1111111109, '07081804'],
      [1234567890, '89005924'],
      [2000000000, '69279037'],
    ] as const) {
      expect(hotp(key, Math.floor(t / 30), 8)).toBe(code);
    }
    expect(base32Encode(key)).toBe('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
    expect(base32Decode('gezd gnbv-gy3t qojq gezdgnbvgy3tqojq')).toEqual(key);
    expect(totpCode('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 59_000)).toBe('287082');
  });
});

describe('users', () => {
  it('bootstrap creates the first admin once; a second bootstrap is refused and logged', async () => {
    const first = await addUser(db, log, 'bootstrap', { name: 'Ada', agency: 'LAPD', role: 'admin', password: PW });
    expect(first.user).toMatchObject({ name: 'ada', role: 'admin', state: 'active', twoFactor: true, createdBy: '(bootstrap)' });
    expect(first.totp!.secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(first.totp!.url).toMatch(/^otpauth:\/\/totp\/alpr-edge:ada\?secret=[A-Z2-7]{32}&issuer=alpr-edge&algorithm=SHA1&digits=6&period=30$/);
    const hash = (db.prepare('SELECT password_hash FROM users WHERE name = ?').get('ada') as { password_hash: string }).password_hash;
    expect(hash.startsWith('$argon2id$')).toBe(true);
    expect(hash).not.toContain(PW);

    await expect(addUser(db, log, 'bootstrap', { name: 'mallory', agency: 'X', role: 'admin', password: PW })).rejects.toThrow(AccessDenied);
    expect(getUser(db, 'mallory')).toBeUndefined();
    expect(lastRecord()).toMatchObject({ action: 'user.bootstrap', outcome: 'refused', query: { user: 'mallory' }, result: { reason: 'users exist already' } });
    await expect(addUser(db, log, 'bootstrap', { name: 'x', agency: 'X', role: 'officer', password: PW })).rejects.toThrow(UserError);
  });

  it('refuses short passwords and duplicate names', async () => {
    await expect(addUser(db, log, 'bootstrap', { name: 'ada', agency: 'LAPD', role: 'admin', password: 'short pass' })).rejects.toThrow(/at least 12/);
    const { admin } = await team();
    await expect(addUser(db, log, admin, { name: 'DAN', agency: 'LAPD', role: 'officer', password: PW }, { now })).rejects.toThrow(/exists already/);
  });

  it('a non-admin cannot add users: refused and logged', async () => {
    const { danSecret, olly } = await team();
    const dan = await session('dan', danSecret);
    for (const actor of [dan, olly]) {
      await expect(addUser(db, log, actor, { name: 'eve', agency: 'LAPD', role: 'admin', password: PW }, { now })).rejects.toThrow(/may not manage users/);
      expect(lastRecord()).toMatchObject({ user: actor.user, action: 'user.add', outcome: 'refused', query: { user: 'eve' } });
    }
    // a made-up principal with the admin role but no live session is refused too
    const forged: Principal = { user: 'dan', agency: 'LAPD', role: 'admin', sessionId: 'forged' };
    await expect(addUser(db, log, forged, { name: 'eve', agency: 'LAPD', role: 'admin', password: PW }, { now })).rejects.toThrow(AccessDenied);
    expect(getUser(db, 'eve')).toBeUndefined();
  });

  it('the last active admin cannot be disabled; users are never removed from the table', async () => {
    const { admin } = await team();
    expect(() => disableUser(db, log, admin, 'ada', undefined, now)).toThrow(/last active admin/);
    deleteUser(db, log, admin, 'tess', 'left the agency', now);
    expect(() => db.prepare('DELETE FROM users WHERE name = ?').run('tess')).toThrow(/never deleted/);
    expect(listUsers(db).map((u) => `${u.name}:${u.state}`)).toEqual(['ada:active', 'dan:active', 'olly:active', 'tess:deleted']);
    expect(JSON.stringify(listUsers(db))).not.toMatch(/argon2|secret/);
  });
});

describe('sign-in', () => {
  it('a wrong password, an unknown user, a wrong or missing code are refused alike, and logged with the real reason', async () => {
    const { danSecret } = await team();
    const cases: Array<[Parameters<typeof signIn>[2], string]> = [
      [{ name: 'dan', password: 'not the password', totp: totpCode(danSecret, now) }, 'wrong password'],
      [{ name: 'nobody', password: PW, totp: '123456' }, 'unknown user'],
      [{ name: 'dan', password: PW, totp: String((Number(totpCode(danSecret, now)) + 1) % 1_000_000).padStart(6, '0') }, 'wrong one-time code'],
      [{ name: 'dan', password: PW }, 'missing one-time code'],
      [{ name: 'dan', password: PW, totp: totpCode(danSecret, now - 5 * MIN) }, 'wrong one-time code'],
    ];
    for (const [creds, reason] of cases) {
      const r = await signIn(db, log, creds, now);
      expectRefused(r, reason);
      if (!r.ok) expect(r.message).toBe('sign-in refused: wrong user name, password or one-time code');
      expect(lastRecord()).toMatchObject({ action: 'login', outcome: 'refused', query: { user: creds.name }, result: { reason } });
    }
    expect(getUser(db, 'dan')!.failedLogins).toBe(4);
    expect(db.prepare('SELECT count(*) AS n FROM sessions WHERE user_name = ?').get('dan')).toEqual({ n: 0 });
    // the right password and code still work, and reset the count
    await session('dan', danSecret);
    expect(getUser(db, 'dan')).toMatchObject({ failedLogins: 0, lastLoginAt: now });
    expect(logins('dan').at(-1)).toMatchObject({ outcome: 'ok', role: 'data-user', agency: 'LAPD' });
  });

  it('a one-time code is accepted once: replayed within its window it is refused', async () => {
    const { danSecret } = await team();
    const code = totpCode(danSecret, now);
    expect((await signIn(db, log, { name: 'dan', password: PW, totp: code }, now)).ok).toBe(true);
    expectRefused(await signIn(db, log, { name: 'dan', password: PW, totp: code }, now + 10_000), 'reused one-time code');
    // the code of the previous step is inside the ±1 window but older than the one used: refused too
    expectRefused(await signIn(db, log, { name: 'dan', password: PW, totp: totpCode(danSecret, now - 30_000) }, now + 10_000), 'reused one-time code');
    expect((await signIn(db, log, { name: 'dan', password: PW, totp: totpCode(danSecret, now + 30_000) }, now + 30_000)).ok).toBe(true);
  });

  it('an officer signs in with the password alone; a data user never does', async () => {
    await team();
    expect((await signIn(db, log, { name: 'olly', password: PW }, now)).ok).toBe(true);
    expectRefused(await signIn(db, log, { name: 'dan', password: PW }, now), 'missing one-time code');
  });

  it(`locks the account after ${accessDefaults().maxFailedLogins} failures, for ${accessDefaults().lockoutMinutes} minutes`, async () => {
    const { danSecret } = await team();
    // what someone who does not know the account is told: the lock-out must not tell them more (no enumeration)
    const stranger = await signIn(db, log, { name: 'nobody-here', password: 'wrong password 0', totp: '000000' }, now);
    expect(stranger.ok).toBe(false);
    const unknownAnswer = stranger.ok ? '' : stranger.message;
    for (let i = 1; i <= 5; i++) {
      const r = await signIn(db, log, { name: 'dan', password: `wrong password ${i}`, totp: totpCode(danSecret, now) }, now);
      expectRefused(r, 'wrong password');
      if (i === 5 && !r.ok) expect(r.message).toBe(unknownAnswer);
    }
    // the right password and code during the lock-out: still refused, logged as locked
    now += 14 * MIN;
    const during = await signIn(db, log, { name: 'dan', password: PW, totp: totpCode(danSecret, now) }, now);
    expectRefused(during, 'locked');
    if (!during.ok) expect(during.message).toBe(unknownAnswer);
    // the access log keeps the real reason
    expect(lastRecord()).toMatchObject({ user: 'dan', action: 'login', outcome: 'refused', result: { reason: 'locked' } });
    now += 2 * MIN;
    await session('dan', danSecret);
    expect(logins('dan').map((r) => r.result)).toEqual([
      ...Array.from({ length: 5 }, () => ({ reason: 'wrong password' })),
      { reason: 'locked' },
      { session: expect.any(String) },
    ]);
  });

  it('an account unused for inactivityDays is suspended; its sign-in is refused and logged as such', async () => {
    const { admin, danSecret } = await team();
    now += 366 * DAY;
    const r = await signIn(db, log, { name: 'dan', password: PW, totp: totpCode(danSecret, now) }, now);
    expectRefused(r, 'suspended');
    if (!r.ok) expect(r.message).toMatch(/account dan is suspended \(unused too long\)/);
    expect(getUser(db, 'dan')).toMatchObject({ state: 'suspended', stateChangedBy: '(inactivity)' });
    const records = log.list().filter((x) => x.query && (x.query as { user?: string }).user === 'dan').slice(-2);
    expect(records[0]).toMatchObject({ user: '(inactivity)', action: 'user.suspend', outcome: 'ok' });
    expect(records[1]).toMatchObject({ user: 'dan', action: 'login', outcome: 'refused', result: { reason: 'suspended', passwordOk: true } });
    // the admin too was unused; the unit's admin signing in after a year is suspended as well
    expect(getUser(db, 'ada')!.state).toBe('suspended');
    expect(admin.user).toBe('ada');
  });

  it("a deactivated user's attempt is refused and logged; their open session ends at once", async () => {
    const { admin, danSecret } = await team();
    const dan = await session('dan', danSecret);
    disableUser(db, log, admin, 'dan', 'on leave', now);
    expect(() => requireSession(db, log, dan.token, 'reads.search', now)).toThrow(/session ended/);
    now += 31_000;
    const r = await signIn(db, log, { name: 'dan', password: PW, totp: totpCode(danSecret, now) }, now);
    expectRefused(r, 'deactivated');
    expect(lastRecord()).toMatchObject({ user: 'dan', action: 'login', outcome: 'refused', result: { reason: 'deactivated', passwordOk: true } });
    // with a wrong password the state is not told, but the log has it
    const guess = await signIn(db, log, { name: 'dan', password: 'a wrong password' }, now);
    expectRefused(guess, 'deactivated');
    if (!guess.ok) expect(guess.message).not.toMatch(/deactivated/);
    enableUser(db, log, admin, 'dan', 'back', now);
    now += 31_000;
    expect((await signIn(db, log, { name: 'dan', password: PW, totp: totpCode(danSecret, now) }, now)).ok).toBe(true);
  });

  it("a deleted user (a leaver) cannot sign in; the row stays for the log", async () => {
    const { admin, danSecret } = await team();
    deleteUser(db, log, admin, 'dan', 'left the agency', now);
    expect(db.prepare('SELECT password_hash, totp_secret FROM users WHERE name = ?').get('dan')).toEqual({ password_hash: null, totp_secret: null });
    expectRefused(await signIn(db, log, { name: 'dan', password: PW, totp: totpCode(danSecret, now) }, now), 'deleted');
    expect(() => enableUser(db, log, admin, 'dan', undefined, now)).toThrow(/deleted/);
  });

  it('a reset second factor: the old secret no longer signs in', async () => {
    const { admin, danSecret } = await team();
    const fresh = resetTotp(db, log, admin, 'dan', { now });
    expectRefused(await signIn(db, log, { name: 'dan', password: PW, totp: totpCode(danSecret, now) }, now), 'wrong one-time code');
    expect((await signIn(db, log, { name: 'dan', password: PW, totp: totpCode(fresh.secret, now) }, now)).ok).toBe(true);
  });
});

describe('sessions', () => {
  it('only the hash of the token is stored', async () => {
    const { danSecret } = await team();
    const dan = await session('dan', danSecret);
    expect(dan.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const dump = JSON.stringify(db.prepare('SELECT * FROM sessions').all());
    expect(dump).not.toContain(dan.token);
    expect(dump).toContain(tokenHash(dan.token));
  });

  it('an officer may not search stored reads; a technician may not view images: refused and logged', async () => {
    const { olly, tess } = await team();
    expect(() => requireSession(db, log, olly.token, 'reads.search', now)).toThrow(new AccessDenied('role officer may not search stored reads'));
    expect(lastRecord()).toMatchObject({ user: 'olly', role: 'officer', action: 'reads.search', outcome: 'refused', result: { reason: 'permission denied' } });
    expect(() => requireSession(db, log, tess.token, 'reads.images', now)).toThrow(/^role technician may not view the images of stored reads$/);
    expect(lastRecord()).toMatchObject({ user: 'tess', role: 'technician', action: 'reads.images', outcome: 'refused' });
    expect(() => requireSession(db, log, olly.token, 'hits.history', now)).toThrow(/role officer may not/);
    expect(requireSession(db, log, olly.token, 'alerts.ack', now)).toMatchObject({ user: 'olly', role: 'officer', agency: 'LAPD' });
    expect(requireSession(db, log, tess.token, 'unit.operate', now).role).toBe('technician');
  });

  it('no token, a made-up token: not signed in', async () => {
    await team();
    expect(() => requireSession(db, log, undefined, 'reads.search', now)).toThrow(new AccessDenied('not signed in: run `alpr-edge login`'));
    expect(lastRecord()).toMatchObject({ user: '(not signed in)', action: 'reads.search', outcome: 'refused', result: { reason: 'not signed in' } });
    expect(() => requireSession(db, log, randomBytes(32).toString('base64url'), 'reads.search', now)).toThrow(/not signed in/);
  });

  it('expires when idle, and at its maximum age however much it is used', async () => {
    const { danSecret } = await team();
    const idle = await session('dan', danSecret);
    now += 29 * MIN;
    expect(requireSession(db, log, idle.token, 'reads.search', now).user).toBe('dan'); // restarts the idle timer
    now += 29 * MIN;
    expect(requireSession(db, log, idle.token, 'reads.search', now).user).toBe('dan');
    now += 31 * MIN;
    expect(() => requireSession(db, log, idle.token, 'reads.search', now)).toThrow(/^session expired \(idle too long\): run `alpr-edge login`$/);
    expect(lastRecord()).toMatchObject({ user: 'dan', action: 'reads.search', outcome: 'refused', result: { reason: 'session expired: idle too long' } });

    now += MIN;
    const busy = await session('dan', danSecret);
    for (let t = 0; t < 8 * 60 - 20; t += 20) {
      now += 20 * MIN;
      requireSession(db, log, busy.token, 'reads.search', now);
    }
    now += 20 * MIN;
    expect(() => requireSession(db, log, busy.token, 'reads.search', now)).toThrow(/session expired \(maximum session length reached\)/);
  });

  it('refuses to run inside a transaction, where its refusal record would be rolled back', async () => {
    await team();
    expect(() => db.transaction(() => requireSession(db, log, undefined, 'reads.search', now))()).toThrow(/outside a transaction/);
  });

  it('the access log chain verifies after all of it', async () => {
    const { admin, danSecret, olly } = await team();
    await signIn(db, log, { name: 'dan', password: 'wrong password!' }, now);
    await session('dan', danSecret);
    expect(() => requireSession(db, log, olly.token, 'reads.search', now)).toThrow(AccessDenied);
    disableUser(db, log, admin, 'olly', undefined, now);
    await signIn(db, log, { name: 'olly', password: PW }, now);
    now += 400 * DAY;
    await signIn(db, log, { name: 'tess', password: PW }, now);
    const v = log.verify();
    expect(v).toMatchObject({ ok: true, problems: [] });
    expect(v.checked).toBeGreaterThan(10);
    expect(log.list().map((r) => r.action)).toEqual(
      expect.arrayContaining(['user.bootstrap', 'user.add', 'login', 'reads.search', 'user.disable', 'user.suspend']),
    );
  });
});

// ---- the command line ----

function fakeIO(lines: string[]): CommandIO & { stdout: string; stderr: string } {
  const io = {
    interactive: false,
    stdout: '',
    stderr: '',
    async ask() {
      return lines.shift();
    },
    out(t: string) {
      io.stdout += t;
    },
    err(t: string) {
      io.stderr += t;
    },
    close() {},
  };
  return io;
}

describe('alpr-edge login / user / whoami / logout', () => {
  let cliDir: string;
  let config: UserCommandConfig;
  let savedEnv: string | undefined;

  beforeAll(() => {
    savedEnv = process.env.ALPR_EDGE_SESSION;
    delete process.env.ALPR_EDGE_SESSION;
    cliDir = mkdtempSync(path.join(tmpdir(), 'alpr-access-cli-'));
    mkdirSync(path.join(cliDir, 'home'), { mode: 0o700 });
    config = {
      ...configSchema.parse({ data: { dir: path.join(cliDir, 'data') }, unit: { id: 'car-12' } }),
      access: { ...accessDefaults(), sessionFile: path.join(cliDir, 'home', 'session') },
    };
  });
  afterAll(() => {
    if (savedEnv !== undefined) process.env.ALPR_EDGE_SESSION = savedEnv;
    rmSync(cliDir, { recursive: true, force: true });
  });

  const sessionFile = () => path.join(cliDir, 'home', 'session');
  const secretIn = (out: string) => /secret: ([A-Z2-7]+)/.exec(out)![1]!;

  it('bootstrap, login, add a user, list, whoami, logout; nothing works without a session', async () => {
    // no user yet, no session: user management is refused
    let io = fakeIO([PW]);
    expect(await userCommand(['add', 'dan', '--role', 'data-user'], config, io)).toBe(1);
    expect(io.stderr).toMatch(/not signed in: run `alpr-edge login`/);

    io = fakeIO([PW]);
    expect(await userCommand(['bootstrap', 'ada', '--agency', 'LAPD'], config, io)).toBe(0);
    expect(io.stdout).toMatch(/otpauth:\/\/totp\/alpr-edge%20car-12:ada\?secret=/);
    // to a script (not a terminal): the text alone, no QR code
    expect(io.stdout).not.toMatch(/[█▀▄]/);
    const adaSecret = secretIn(io.stdout);

    io = fakeIO([PW]);
    expect(await userCommand(['bootstrap', 'eve', '--agency', 'LAPD'], config, io)).toBe(1);
    expect(io.stderr).toMatch(/has users already/);

    io = fakeIO([PW, '000000']);
    expect(await loginCommand(['--user', 'ada'], config, io)).toBe(1);
    expect(io.stderr).toMatch(/sign-in refused: wrong user name, password or one-time code/);
    expect(existsSync(sessionFile())).toBe(false);

    io = fakeIO([PW, totpCode(adaSecret, Date.now())]);
    expect(await loginCommand(['--user', 'ada'], config, io)).toBe(0);
    expect(io.stdout).toMatch(/signed in as ada \(role admin, agency LAPD\)/);
    expect(statSync(sessionFile()).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(sessionFile())).mode & 0o777).toBe(0o700);

    io = fakeIO(['short']);
    expect(await userCommand(['add', 'dan', '--role', 'data-user'], config, io)).toBe(1);
    expect(io.stderr).toMatch(/at least 12 characters/);
    io = fakeIO([PW]);
    expect(await userCommand(['add', 'dan', '--role', 'data-user'], config, io)).toBe(0);
    expect(io.stdout).toMatch(/created dan \(role data-user, agency LAPD\)/);
    io = fakeIO([PW]);
    expect(await userCommand(['add', 'olly', '--role', 'officer'], config, io)).toBe(0);
    expect(io.stdout).toMatch(/no one-time code for olly's role/);

    io = fakeIO([]);
    expect(await userCommand(['ls', '--json'], config, io)).toBe(0);
    const users = (JSON.parse(io.stdout) as { users: Array<{ name: string; role: string; state: string }> }).users;
    expect(users.map((u) => [u.name, u.role, u.state])).toEqual([
      ['ada', 'admin', 'active'],
      ['dan', 'data-user', 'active'],
      ['olly', 'officer', 'active'],
    ]);
    expect(io.stdout).not.toMatch(/argon2|secret|totp_/i);

    io = fakeIO([]);
    expect(await whoamiCommand([], config, io)).toBe(0);
    expect(io.stdout).toMatch(/^ada \(role admin, agency LAPD\)/);

    io = fakeIO([]);
    expect(await userCommand(['disable', 'olly', '--reason', 'on leave'], config, io)).toBe(0);
    expect(io.stdout).toBe('olly is deactivated\n');

    // the officer signs in (password only) and cannot manage users; a deactivated officer cannot sign in
    io = fakeIO([PW, '']);
    expect(await loginCommand(['--user', 'olly'], config, io)).toBe(1);
    expect(io.stderr).toMatch(/account olly is deactivated/);
    expect(existsSync(sessionFile())).toBe(true); // ada's session is untouched by a refused sign-in

    io = fakeIO([]);
    expect(await logoutCommand([], config, io)).toBe(0);
    expect(io.stdout).toBe('signed out\n');
    expect(existsSync(sessionFile())).toBe(false);

    io = fakeIO([]);
    expect(await whoamiCommand([], config, io)).toBe(1);
    expect(io.stderr).toMatch(/not signed in: run `alpr-edge login`/);
    io = fakeIO([]);
    expect(await userCommand(['ls'], config, io)).toBe(1);

    // the log of the unit verifies, with every step in it
    const s = ReadStore.open(path.join(cliDir, 'data'), { clock: systemClock, imageBudgetBytes: 2 ** 20 });
    try {
      const { loadAuditKey } = await import('../src/access/access-log.js');
      const l = new AccessLog(s.database, loadAuditKey(path.join(cliDir, 'data')), systemClock);
      expect(l.verify().ok).toBe(true);
      expect(l.list().map((r) => `${r.action}:${r.outcome}`)).toEqual([
        'users.manage:refused',
        'user.bootstrap:ok',
        'user.bootstrap:refused',
        'login:refused',
        'login:ok',
        'user.add:ok',
        'user.add:ok',
        'user.disable:ok',
        'login:refused',
        'logout:ok',
        'session:refused',
        'users.manage|audit.read:refused',
      ]);
    } finally {
      s.close();
    }
  });

  it('passwd: a signed-in user changes their own password, giving the current one; the old one stops working', async () => {
    const dir2 = mkdtempSync(path.join(tmpdir(), 'alpr-passwd-'));
    mkdirSync(path.join(dir2, 'home'), { mode: 0o700 });
    const cfg: UserCommandConfig = {
      ...configSchema.parse({ data: { dir: path.join(dir2, 'data') }, unit: { id: 'car-12' } }),
      access: { ...accessDefaults(), sessionFile: path.join(dir2, 'home', 'session') },
    };
    try {
      let io = fakeIO([]);
      expect(await passwdCommand([], cfg, io)).toBe(1);
      expect(io.stderr).toMatch(/not signed in/);
      io = fakeIO([PW]);
      expect(await userCommand(['bootstrap', 'kim', '--agency', 'ESPD'], cfg, io)).toBe(0);
      const secret = secretIn(io.stdout);
      io = fakeIO([PW, totpCode(secret, Date.now())]);
      expect(await loginCommand(['--user', 'kim'], cfg, io)).toBe(0);

      // a session left open is not enough: the current password is asked for
      io = fakeIO(['not my password at all', 'a brand new passphrase']);
      expect(await passwdCommand([], cfg, io)).toBe(1);
      expect(io.stderr).toMatch(/current password is wrong; nothing was changed/);
      io = fakeIO([PW, 'short']);
      expect(await passwdCommand([], cfg, io)).toBe(1);
      expect(io.stderr).toMatch(/at least 12 characters/);
      io = fakeIO([PW, 'a brand new passphrase']);
      expect(await passwdCommand([], cfg, io)).toBe(0);
      expect(io.stdout).toMatch(/password changed for kim/);
      // the session in use goes on
      io = fakeIO([]);
      expect(await whoamiCommand([], cfg, io)).toBe(0);

      const s = ReadStore.open(path.join(dir2, 'data'), { clock: systemClock, imageBudgetBytes: 2 ** 20 });
      try {
        const { loadAuditKey } = await import('../src/access/access-log.js');
        const l = new AccessLog(s.database, loadAuditKey(path.join(dir2, 'data')), systemClock);
        const later = Date.now() + 31_000;
        expectRefused(await signIn(s.database, l, { name: 'kim', password: PW, totp: totpCode(secret, later) }, later), 'wrong password');
        expect((await signIn(s.database, l, { name: 'kim', password: 'a brand new passphrase', totp: totpCode(secret, later + 30_000) }, later + 30_000)).ok).toBe(true);
        expect(l.list().filter((r) => r.action === 'user.passwd').map((r) => r.outcome)).toEqual(['refused', 'ok']);
        expect(l.verify().ok).toBe(true);
      } finally {
        s.close();
      }
    } finally {
      rmSync(dir2, { recursive: true, force: true });
    }
  });

  it('on a terminal the one-time-code enrolment is also shown as a QR code', async () => {
    const dir3 = mkdtempSync(path.join(tmpdir(), 'alpr-qr-'));
    const cfg: UserCommandConfig = {
      ...configSchema.parse({ data: { dir: path.join(dir3, 'data') }, unit: { id: 'car-12' } }),
      access: { ...accessDefaults(), sessionFile: path.join(dir3, 'session') },
    };
    try {
      const io = Object.assign(fakeIO([PW, PW]), { interactive: true });
      expect(await userCommand(['bootstrap', 'kim', '--agency', 'ESPD'], cfg, io)).toBe(0);
      const qr = io.stdout.split('\n').filter((l) => /[█▀▄]/.test(l));
      // a QR symbol for the otpauth URL: at least version 3 (29 modules, two per character row) plus its border
      expect(qr.length).toBeGreaterThanOrEqual(16);
      expect(new Set(qr.map((l) => [...l].length)).size).toBe(1);
      expect(io.stdout).toMatch(/url: +otpauth:\/\/totp\//);
    } finally {
      rmSync(dir3, { recursive: true, force: true });
    }
  });

  it('a session file others can read is not used', async () => {
    const { writeFileSync, chmodSync } = await import('node:fs');
    writeFileSync(sessionFile(), 'whatever\n');
    chmodSync(sessionFile(), 0o644);
    const io = fakeIO([]);
    expect(await whoamiCommand([], config, io)).toBe(1);
    expect(io.stderr).toMatch(/can be read by other users/);
    rmSync(sessionFile());
  });

  it('the compiled command reads the password and the code from stdin lines', () => {
    const compiled = path.join(import.meta.dirname, '..', 'dist', 'src', 'cli', 'user.js');
    if (!existsSync(compiled)) throw new Error('dist/src/cli/user.js is missing: build first with `npm run build`');
    const script = `
      const { loginCommand, whoamiCommand } = await import(${JSON.stringify(compiled)});
      const config = JSON.parse(process.env.TEST_CONFIG);
      const code = await loginCommand(['--user', 'dan'], config);
      process.exitCode = code === 0 ? await whoamiCommand([], config) : code;`;
    // dan (data-user) was added in the round trip above; his secret is not known here, so the sign-in is refused
    let r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      input: `${PW}\n123456\n`,
      env: { ...process.env, TEST_CONFIG: JSON.stringify(config) },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stderr).toMatch(/sign-in refused: wrong user name, password or one-time code/);
    expect(r.status).toBe(1);
    // with dan's real code (read from the database here, as his authenticator app would show it)
    const s = ReadStore.open(path.join(cliDir, 'data'), { clock: systemClock, imageBudgetBytes: 2 ** 20 });
    const secret = (s.database.prepare('SELECT totp_secret FROM users WHERE name = ?').get('dan') as { totp_secret: string }).totp_secret;
    s.close();
    r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      input: `${PW}\n${totpCode(secret, Date.now())}\n`,
      env: { ...process.env, TEST_CONFIG: JSON.stringify(config) },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/signed in as dan \(role data-user, agency LAPD\)[\s\S]*^dan \(role data-user, agency LAPD\)/m);
    expect(r.status).toBe(0);
    expect(readFileSync(sessionFile(), 'utf8')).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
  });
});

import { createInterface, type Interface } from 'node:readline';
import { AccessLog } from '../access/access-log.js';
import { AccessDenied, permissionsOf, ROLES, type Role } from '../access/roles.js';
import { accessConfigOf, checkSession, currentSession, removeSessionFile, requirePrincipal, revokeSession, SESSION_ENV, writeSessionFile, type SessionConfig } from '../access/session.js';
import {
  addUser,
  deleteUser,
  disableUser,
  enableUser,
  listUsers,
  resetPassword,
  changeOwnPassword,
  resetTotp,
  signIn,
  UserError,
  type TotpEnrolment,
  type UserRecord,
} from '../access/users.js';
import type { Config } from '../config/schema.js';
import { openStore } from '../store/open.js';
import type { ReadStore } from '../store/read-store.js';
import { renderUnicodeCompact } from 'uqr';
import { systemClock } from '../util/clock.js';
import { osUser, parse, UsageError } from './args.js';
import { LOGIN_OPTIONS, USER_ADD_OPTIONS, USER_BOOTSTRAP_OPTIONS, USER_LS_OPTIONS, USER_STATE_OPTIONS, WHOAMI_OPTIONS } from './commands.js';
import { usageOf } from './help.js';

/**
 * Where a command reads passwords and codes and writes its output. On a terminal, secrets are read without echo;
 * otherwise one line of stdin each (password first, then the one-time code), which is what scripts and tests use.
 */
export interface CommandIO {
  /** One line of input, or undefined at the end of input. */
  ask(question: string, secret: boolean): Promise<string | undefined>;
  readonly interactive: boolean;
  out(text: string): void;
  err(text: string): void;
  close(): void;
}

export type UserCommandConfig = Config & SessionConfig;

/** The process's terminal or stdin/stdout/stderr. */
export function processIO(): CommandIO {
  const interactive = process.stdin.isTTY === true;
  let rl: Interface | undefined;
  let lines: AsyncIterator<string> | undefined;
  return {
    interactive,
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
    async ask(question, secret) {
      if (interactive) {
        if (secret) {
          // a readline interface left open would echo what is typed
          rl?.close();
          rl = undefined;
          return readHidden(question);
        }
        rl ??= createInterface({ input: process.stdin, output: process.stderr, terminal: true });
        return new Promise((resolve) => rl!.question(question, resolve));
      }
      rl ??= createInterface({ input: process.stdin, terminal: false });
      lines ??= rl[Symbol.asyncIterator]();
      const next = await lines.next();
      return next.done ? undefined : next.value;
    },
    close() {
      rl?.close();
    },
  };
}

/** Reads a line from the terminal without echoing it. Ctrl-C aborts the command. */
function readHidden(question: string): Promise<string | undefined> {
  const stdin = process.stdin;
  process.stderr.write(question);
  return new Promise((resolve) => {
    let value = '';
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = (result: string | undefined) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      resolve(result);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done(value);
        if (ch === '\u0004') return done(value === '' ? undefined : value); // Ctrl-D
        if (ch === '\u0003') {
          done(undefined);
          process.exit(130); // Ctrl-C: what a shell expects
        }
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

interface AccessContext {
  store: ReadStore;
  db: ReadStore['database'];
  log: AccessLog;
}

/**
 * Opens the store as every data command does (src/store/open.ts: encrypted with the unit's data key when one is
 * configured), with the users tables and the access log keyed like theirs, so that one chain holds all records.
 */
function openAccess(config: UserCommandConfig): AccessContext {
  const { store, auditKey } = openStore(config, systemClock);
  try {
    const log = new AccessLog(store.database, auditKey, systemClock);
    return { store, db: store.database, log };
  } catch (err) {
    store.close();
    throw err;
  }
}

/** Runs a command body with the store open, turning refusals into exit status 1 with their message. */
async function withAccess(config: UserCommandConfig, io: CommandIO, what: string, body: (ctx: AccessContext) => Promise<number> | number): Promise<number> {
  let ctx: AccessContext | undefined;
  try {
    ctx = openAccess(config);
    return await body(ctx);
  } catch (err) {
    if (err instanceof AccessDenied || err instanceof UserError) {
      io.err(`alpr-edge: ${what}: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    ctx?.store.close();
    io.close();
  }
}

function noArguments(positionals: string[], command: string): void {
  if (positionals.length > 0) throw new UsageError(`${command} takes no arguments\nusage: ${usageOf(command)}`);
}

/** The token of this shell's session (undefined: not signed in), or why it cannot be read. */
function sessionOf(config: UserCommandConfig): { token: string | undefined; error?: undefined } | { token?: undefined; error: Error } {
  try {
    return { token: currentSession(config) };
  } catch (err) {
    return { error: err as Error };
  }
}

const time = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

// ---- login, logout, whoami ----

export async function loginCommand(argv: string[], config: UserCommandConfig, io: CommandIO = processIO()): Promise<number> {
  const { values, positionals } = parse(argv, LOGIN_OPTIONS);
  noArguments(positionals, 'login');
  return withAccess(config, io, 'login', async ({ db, log }) => {
    let name = values.user;
    if (name === undefined) {
      const dflt = osUser();
      name = io.interactive ? ((await io.ask(`user [${dflt}]: `, false))?.trim() || dflt) : dflt;
    }
    const password = await io.ask('password: ', true);
    if (password === undefined) throw new UsageError('no password given (stdin ended)');
    const totp = await io.ask('one-time code (empty if your role has none): ', true);
    // a new sign-in replaces the previous session of this shell user
    let previous: string | undefined;
    try {
      previous = currentSession(config);
    } catch {
      previous = undefined;
    }
    const now = systemClock();
    const result = await signIn(db, log, { name, password, totp: totp?.trim() }, now, accessConfigOf(config));
    if (!result.ok) {
      io.err(`alpr-edge: ${result.message}\n`);
      return 1;
    }
    if (previous !== undefined && process.env[SESSION_ENV] === undefined) revokeSession(db, log, previous, now);
    const file = writeSessionFile(config, result.token);
    const p = result.principal;
    io.out(
      `signed in as ${p.user} (role ${p.role}, agency ${p.agency}); the session ends after ${Math.round(result.idleMs / 60_000)} minutes unused, at the latest ${time(result.expiresAt)}\n` +
        `session kept in ${file}\n`,
    );
    return 0;
  });
}

export async function logoutCommand(argv: string[], config: UserCommandConfig, io: CommandIO = processIO()): Promise<number> {
  const { positionals } = parse(argv, {});
  noArguments(positionals, 'logout');
  return withAccess(config, io, 'logout', ({ db, log }) => {
    const session = sessionOf(config);
    if (session.error) io.err(`alpr-edge: ${session.error.message}\n`);
    const ended = session.token !== undefined && revokeSession(db, log, session.token);
    const removed = removeSessionFile(config);
    if (ended) io.out('signed out\n');
    else io.out(removed ? 'the session had already ended; its file is removed\n' : 'not signed in\n');
    if (process.env[SESSION_ENV] !== undefined) io.err(`alpr-edge: ${SESSION_ENV} is set in this shell; unset it\n`);
    return 0;
  });
}

export async function whoamiCommand(argv: string[], config: UserCommandConfig, io: CommandIO = processIO()): Promise<number> {
  const { values, positionals } = parse(argv, WHOAMI_OPTIONS);
  noArguments(positionals, 'whoami');
  return withAccess(config, io, 'whoami', ({ db, log }) => {
    const session = sessionOf(config);
    if (session.error) {
      requirePrincipal(config, db, log, null); // records the attempt and throws
      throw session.error;
    }
    const s = checkSession(db, log, session.token, null);
    const p = s.principal;
    if (values.json) {
      io.out(JSON.stringify({ user: p.user, agency: p.agency, role: p.role, session: p.sessionId, since: s.createdAt, endsAt: s.endsAt, permissions: permissionsOf(p.role) }) + '\n');
    } else {
      io.out(`${p.user} (role ${p.role}, agency ${p.agency}); signed in at ${time(s.createdAt)}, session ends ${time(s.endsAt)} unless used\nmay: ${permissionsOf(p.role).join(', ')}\n`);
    }
    return 0;
  });
}

export async function passwdCommand(argv: string[], config: UserCommandConfig, io: CommandIO = processIO()): Promise<number> {
  const { positionals } = parse(argv, {});
  noArguments(positionals, 'passwd');
  return withAccess(config, io, 'passwd', async ({ db, log }) => {
    const actor = requirePrincipal(config, db, log, null);
    const current = await io.ask('current password: ', true);
    if (current === undefined || current === '') throw new UsageError('no current password given');
    const password = await newPassword(io);
    await changeOwnPassword(db, log, actor, current, password);
    io.out(`password changed for ${actor.user}; your other sessions are ended\n`);
    return 0;
  });
}

// ---- alpr-edge user ... ----

export async function userCommand(argv: string[], config: UserCommandConfig, io: CommandIO = processIO()): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined) throw new UsageError(`which user command?\nusage: ${usageOf('user')}`);
  const issuer = `alpr-edge ${config.unit.id}`;
  const policy = accessConfigOf(config);
  switch (sub) {
    case 'bootstrap': {
      const { values, positionals } = parse(rest, USER_BOOTSTRAP_OPTIONS);
      const name = onlyName(positionals, 'bootstrap');
      const agency = values.agency ?? config.unit.agency;
      if (agency.trim() === '') throw new UsageError('--agency is required (or unit.agency in the config)');
      return withAccess(config, io, 'user bootstrap', async ({ db, log }) => {
        const password = await newPassword(io);
        const { user, totp } = await addUser(db, log, 'bootstrap', { name, agency, role: 'admin', password }, { policy, issuer });
        io.out(`created ${user.name} (role admin, agency ${user.agency})\n`);
        showEnrolment(io, user.name, totp);
        return 0;
      });
    }
    case 'add': {
      const { values, positionals } = parse(rest, USER_ADD_OPTIONS);
      const name = onlyName(positionals, 'add');
      const role = values.role;
      if (role === undefined || !ROLES.includes(role as Role)) throw new UsageError(`--role is required: one of ${ROLES.join(', ')}`);
      return withAccess(config, io, 'user add', async ({ db, log }) => {
        const actor = requirePrincipal(config, db, log, 'users.manage');
        const password = await newPassword(io);
        const agency = values.agency ?? actor.agency;
        const { user, totp } = await addUser(db, log, actor, { name, agency, role: role as Role, password }, { policy, issuer });
        io.out(`created ${user.name} (role ${user.role}, agency ${user.agency})\n`);
        showEnrolment(io, user.name, totp);
        return 0;
      });
    }
    case 'ls': {
      const { values, positionals } = parse(rest, USER_LS_OPTIONS);
      if (positionals.length > 0) throw new UsageError(`usage: ${usageOf('user', 'ls')}`);
      return withAccess(config, io, 'user ls', ({ db, log }) => {
        requirePrincipal(config, db, log, ['users.manage', 'audit.read']);
        const users = listUsers(db);
        if (values.json) io.out(JSON.stringify({ users }) + '\n');
        else io.out(formatUsers(users, systemClock()));
        return 0;
      });
    }
    case 'disable':
    case 'enable':
    case 'delete': {
      const { values, positionals } = parse(rest, USER_STATE_OPTIONS);
      const name = onlyName(positionals, sub);
      return withAccess(config, io, `user ${sub}`, ({ db, log }) => {
        const actor = requirePrincipal(config, db, log, 'users.manage');
        const change = sub === 'disable' ? disableUser : sub === 'enable' ? enableUser : deleteUser;
        const user = change(db, log, actor, name, values.reason);
        io.out(`${user.name} is ${user.state}\n`);
        return 0;
      });
    }
    case 'reset-password': {
      const { positionals } = parse(rest, {});
      const name = onlyName(positionals, 'reset-password');
      return withAccess(config, io, 'user reset-password', async ({ db, log }) => {
        const actor = requirePrincipal(config, db, log, 'users.manage');
        const password = await newPassword(io);
        const user = await resetPassword(db, log, actor, name, password);
        io.out(`new password set for ${user.name}; their sessions are ended\n`);
        return 0;
      });
    }
    case 'reset-totp': {
      const { positionals } = parse(rest, {});
      const name = onlyName(positionals, 'reset-totp');
      return withAccess(config, io, 'user reset-totp', ({ db, log }) => {
        const actor = requirePrincipal(config, db, log, 'users.manage');
        const totp = resetTotp(db, log, actor, name, { issuer });
        io.out(`new one-time-code secret for ${name}; their sessions are ended\n`);
        showEnrolment(io, name, totp);
        return 0;
      });
    }
    default:
      throw new UsageError(`unknown user command ${JSON.stringify(sub)}\nusage: ${usageOf('user')}`);
  }
}

function onlyName(positionals: string[], sub: string): string {
  if (positionals.length !== 1) throw new UsageError(`usage: ${usageOf('user', sub)}`);
  return positionals[0]!;
}

/** A new password: asked twice on a terminal, one line of stdin otherwise. */
async function newPassword(io: CommandIO): Promise<string> {
  const first = await io.ask('new password (at least 12 characters): ', true);
  if (first === undefined || first === '') throw new UsageError('no password given');
  if (io.interactive) {
    const again = await io.ask('the same again: ', true);
    if (again !== first) throw new UserError('the two passwords differ; nothing was changed');
  }
  return first;
}

function showEnrolment(io: CommandIO, name: string, totp: TotpEnrolment | null): void {
  if (!totp) {
    io.out(`no one-time code for ${name}'s role: the password alone signs in\n`);
    return;
  }
  io.out(
    `one-time-code secret of ${name} (shown once: enter it in an authenticator app now, then keep it nowhere else):\n` +
      `  secret: ${totp.secret}\n  url:    ${totp.url}\n`,
  );
  // on a terminal, the same URL as a QR code for the app's camera (a script reading the output gets the text only)
  if (io.interactive) io.out(`\n${renderUnicodeCompact(totp.url, { border: 2 })}\n`);
}

function formatUsers(users: UserRecord[], now: number): string {
  const rows = users.map((u) => [
    u.name,
    u.role,
    u.agency,
    u.state + (u.lockedUntil !== null && u.lockedUntil > now ? ' (locked)' : ''),
    u.twoFactor ? 'yes' : 'no',
    u.lastLoginAt === null ? 'never' : time(u.lastLoginAt),
    `${time(u.createdAt)} by ${u.createdBy}`,
  ]);
  const head = ['NAME', 'ROLE', 'AGENCY', 'STATE', '2FA', 'LAST SIGN-IN', 'CREATED'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

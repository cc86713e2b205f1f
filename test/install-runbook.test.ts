import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { totpCode } from '../src/access/totp.js';
import { cv } from '../src/recognition/cv.js';
import { makePki } from './tls.js';
import { SocatPair, until } from './helpers.js';

/**
 * docs/install.md, run as written: every command of its ```sh blocks, in order, on this machine. The runbook's
 * paths move into a temporary root (/etc/alpr-edge, /var/lib/alpr-edge, /usr/local; /opt/alpr-edge is this
 * checkout, built by setup.sh), the unit's user is the user running the test, `sudo` is dropped, and the agency's
 * side is real: the reference central server over HTTPS with its own CA, a serial line made of two pseudo-terminals
 * (socat), a replay camera of a fixture frame where the runbook names /dev/video0. What cannot run here is listed in
 * SYSTEM_STEPS with what the test does instead; a runbook line that matches no rule fails the test, so a new step
 * cannot go unchecked. Systemd is simulated: `systemctl enable --now` starts the installed unit file's ExecStart with
 * its Environment= lines.
 */

const ROOT = path.join(import.meta.dirname, '..');
const MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const PW_ADA = 'a long admin pass phrase 4417';
const PW_BEN = 'an officer pass phrase 9021';
const children: ChildProcess[] = [];
const cables: SocatPair[] = [];
let T = '';

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  for (const c of cables) c.kill();
  if (T) rmSync(T, { recursive: true, force: true });
});

/** The ```sh blocks of the runbook, one entry per command (continuation lines and here-documents joined). */
export function runbookCommands(markdown: string): string[] {
  const commands: string[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== '```sh') continue;
    for (i++; i < lines.length && lines[i]!.trim() !== '```'; i++) {
      let cmd = lines[i]!;
      if (cmd.trim() === '') continue;
      while (cmd.endsWith('\\')) cmd = `${cmd.slice(0, -1)}${lines[++i]!.trim()}`;
      const heredoc = /<<'?(\w+)'?/.exec(cmd);
      if (heredoc) {
        while (lines[++i] !== heredoc[1]) cmd += `\n${lines[i]}`;
        cmd += `\n${heredoc[1]}`;
      }
      commands.push(cmd);
    }
  }
  return commands;
}

/** Steps that need the real machine, and what the test does about each instead. */
const SYSTEM_STEPS: Array<[RegExp, string]> = [
  [/^git archive /, 'the test runs this checkout, which is what the archive holds'],
  [/^scp /, 'copies between two machines'],
  [/^sudo mkdir -p \/opt\/alpr-edge$/, '/opt/alpr-edge is this checkout'],
  [/^sudo tar -xzf /, '/opt/alpr-edge is this checkout'],
  [/^sudo apt-get install /, 'Debian packages: `scripts/setup.sh test` installed what the tests need'],
  [/^cd \/opt\/alpr-edge && sudo bash scripts\/setup\.sh$/, 'already run by the test command (`scripts/setup.sh test`); a second run would rebuild dist/ under the other tests'],
  [/^sudo useradd /, 'no system user: the unit runs as the user running the test (ALPR_EDGE_USER)'],
  [/^sudo systemctl daemon-reload$/, 'systemd is simulated'],
  [/^systemctl status alpr-edge/, 'systemd is simulated; `alpr-edge status` checks the same'],
];

interface Done {
  cmd: string;
  status: number | null;
  stdout: string;
  stderr: string;
}

describe('docs/install.md, run as written', () => {
  it('takes a fresh unit to a running service with an admin, an officer, a hot list, an aimed camera, an alert on the terminal and a sync', async () => {
    T = mkdtempSync(path.join(tmpdir(), 'alpr-runbook-'));
    const home = path.join(T, 'home');
    mkdirSync(home);
    mkdirSync(path.join(T, 'etc', 'systemd', 'system'), { recursive: true });
    mkdirSync(path.join(T, 'var', 'lib'), { recursive: true });
    mkdirSync(path.join(T, 'usr', 'local', 'bin'), { recursive: true });
    const me = userInfo();

    // the agency's side: its CA, this unit's token, the central server, the first hot list file
    const pki = makePki(path.join(T, 'pki'));
    copyFileSync(pki.ca.certFile, path.join(home, 'agency-ca.pem'));
    writeFileSync(path.join(home, 'sync-token'), 'tok-car-12-5be1\n', { mode: 0o600 });
    writeFileSync(path.join(T, 'tokens'), 'car-12 tok-car-12-5be1\n');
    writeFileSync(path.join(home, 'stolen.txt'), '7ABC123\n6TRJ244\n');
    const server = spawn(
      process.execPath,
      [MAIN, 'central', 'serve', '--data', path.join(T, 'central'), '--listen', '127.0.0.1:0', '--cert', pki.server.certFile, '--key', pki.server.keyFile, '--tokens', path.join(T, 'tokens')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(server);
    let serverOut = '';
    server.stdout!.on('data', (c: Buffer) => (serverOut += c.toString()));
    server.stderr!.on('data', (c: Buffer) => (serverOut += c.toString()));
    await until(() => /listening on (\S+)/.test(serverOut), 20_000, 'the central server', () => serverOut);
    const centralUrl = /listening on (\S+)/.exec(serverOut)![1]!;

    // the terminal's serial cable
    cables.push(await SocatPair.open(`${T}/ttyUnit`, `${T}/ttyTerminal`));

    const fixtureCamera = [
      '    type: replay',
      `    source: ${ROOT}/test-fixtures/plates`,
      '    pattern: "us-ca-1080p*"',
      '    loop: true',
      '    fps: 1',
    ].join('\n');
    /** The runbook's machine, moved into T. */
    const rewrite = (cmd: string): string =>
      cmd
        .replace(/^sudo /, '')
        .replace(/ \| sudo /g, ' | ')
        .replace('    type: opencv\n    source: /dev/video0', fixtureCamera)
        .replace('https://central.agency.example:8443', centralUrl)
        .replace(/terminal --serial \/dev\/ttyUSB0/, `terminal --serial ${T}/ttyTerminal`)
        .replace('/dev/ttyUSB0', `${T}/ttyUnit`)
        .replace(/ -o alpr-edge -g alpr-edge/g, '')
        .replace(/chown alpr-edge:alpr-edge/g, `chown ${me.uid}:${me.gid}`)
        .replaceAll('/opt/alpr-edge', ROOT)
        .replaceAll('/usr/local/bin/alpr-edge', `${T}/usr/local/bin/alpr-edge`)
        .replaceAll('/etc/', `${T}/etc/`)
        .replaceAll('/var/lib/alpr-edge', `${T}/var/lib/alpr-edge`)
        .replace(/(^|&& )bash (\S+\/scripts\/install-node\.sh)/, `$1PREFIX=${T}/usr/local bash $2`);
    // this node first (its native modules are built for it), then the runbook's /usr/local/bin
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: `${path.dirname(process.execPath)}:${T}/usr/local/bin:${process.env.PATH}`,
      HOME: home,
      ALPR_EDGE_HOME: ROOT,
      ALPR_EDGE_USER: me.username,
      ALPR_EDGE_CONFIG: `${T}/etc/alpr-edge/alpr-edge.yaml`,
      ALPR_EDGE_CLI_HOME: `${T}/var/lib/alpr-edge/cli`,
    };
    delete env.ALPR_EDGE_SESSION;
    delete env.SUDO_USER;
    delete env.ALPR_EDGE__DATA__DIR;
    const sh = (cmd: string, input = ''): Done => {
      const r = spawnSync('bash', ['-c', cmd], { cwd: home, env, input, encoding: 'utf8', timeout: 180_000 });
      return { cmd, status: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const ok = (d: Done): Done => {
      expect(d.status, `${d.cmd}\n--- stdout\n${d.stdout}\n--- stderr\n${d.stderr}`).toBe(0);
      return d;
    };

    const commands = runbookCommands(readFileSync(path.join(ROOT, 'docs', 'install.md'), 'utf8'));
    expect(commands.length).toBeGreaterThan(25);
    const skipped: string[] = [];
    let adaSecret = '';
    let entryId = '';
    let service: ChildProcess | undefined;
    let serviceLog = '';
    let terminalOut = '';
    let standIn: ChildProcess | undefined;
    for (const original of commands) {
      const system = SYSTEM_STEPS.find(([re]) => re.test(original));
      if (system) {
        skipped.push(`${original}: ${system[1]}`);
        continue;
      }
      const cmd = rewrite(original);
      if (/^alpr-edge user bootstrap /.test(original)) {
        const d = ok(sh(cmd, `${PW_ADA}\n`));
        adaSecret = /secret: ([A-Z2-7]+)/.exec(d.stdout)![1]!;
      } else if (/^alpr-edge login --user ada/.test(original)) {
        ok(sh(cmd, `${PW_ADA}\n${totpCode(adaSecret, Date.now())}\n`));
      } else if (/^alpr-edge user add ben /.test(original)) {
        expect(ok(sh(cmd, `${PW_BEN}\n`)).stdout).toContain('created ben (role officer, agency ESPD)');
      } else if (/^alpr-edge hotlist add /.test(original)) {
        const d = ok(sh(cmd));
        entryId = /\bentry #(\d+)/.exec(d.stdout)?.[1] ?? '';
        expect(entryId, d.stdout + d.stderr).not.toBe('');
      } else if (/^alpr-edge hotlist cancel ENTRY_ID /.test(original)) {
        expect(ok(sh(cmd.replace('ENTRY_ID', entryId))).stdout).toContain(`entry #${entryId} (5KDW837, list ca-stolen) cancelled by ada`);
      } else if (/^alpr-edge terminal --serial /.test(original)) {
        // the cable moves from the car's terminal to the technician's laptop
        standIn?.kill('SIGTERM');
        await until(() => standIn?.exitCode !== null, 20_000, 'the stand-in terminal to stop');
        // the officer's side: the test alert arrives, is acknowledged, the simulator quits
        const terminal = spawn('bash', ['-c', cmd], { cwd: home, env, stdio: ['pipe', 'pipe', 'pipe'] });
        children.push(terminal);
        terminal.stdout!.on('data', (c: Buffer) => (terminalOut += c.toString()));
        terminal.stderr!.on('data', (c: Buffer) => (terminalOut += c.toString()));
        await until(() => /5KDW837/.test(terminalOut), 90_000, 'the test alert on the terminal', () => terminalOut + serviceLog.slice(-3000));
        terminal.stdin!.write('a 1\n');
        await until(() => /answer to \S+ recorded by the unit/.test(terminalOut), 30_000, 'the unit to record the acknowledgement', () => terminalOut);
        terminal.stdin!.write('q\n');
        await until(() => terminal.exitCode !== null, 20_000, 'the simulator to quit', () => terminalOut);
      } else if (/^sudo systemctl enable --now alpr-edge$/.test(original)) {
        // systemd, simulated: the installed unit file's ExecStart, with its Environment= lines
        const unitFile = readFileSync(`${T}/etc/systemd/system/alpr-edge.service`, 'utf8');
        const execStart = /^ExecStart=(.+)$/m.exec(unitFile)![1]!;
        const unitEnv = Object.fromEntries([...unitFile.matchAll(/^Environment=([A-Z_]+)=(.*)$/gm)].map((m) => [m[1]!, rewrite(m[2]!)]));
        expect(unitEnv.ALPR_EDGE_CONFIG).toBe(env.ALPR_EDGE_CONFIG);
        service = spawn('bash', ['-c', `exec ${rewrite(execStart)}`], { cwd: `${T}/var/lib/alpr-edge`, env: { ...env, ...unitEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
        children.push(service);
        service.stdout!.on('data', (c: Buffer) => (serviceLog += c.toString()));
        service.stderr!.on('data', (c: Buffer) => (serviceLog += c.toString()));
        // the car's terminal, plugged into the serial line all along (a simulator stands in for it)
        standIn = spawn(process.execPath, [MAIN, 'terminal', '--serial', `${T}/ttyTerminal`, '--officer', 'car-12-terminal'], { stdio: ['pipe', 'ignore', 'ignore'] });
        children.push(standIn);
        await until(() => sh('alpr-edge status').status === 0, 90_000, 'the service to run with its camera connected', () => serviceLog.slice(-3000) + sh('alpr-edge status').stdout);
      } else if (/^alpr-edge camera snapshot /.test(original)) {
        const d = ok(sh(cmd));
        expect(d.stderr).toMatch(/front: one frame .* with 1 plate\(s\) boxed/);
        expect(d.stderr).toMatch(/plate 1: \d+x\d+ px .*large enough/);
        expect(cv.imdecode(readFileSync(path.join(home, 'front.jpg'))).cols).toBe(1920);
      } else {
        ok(sh(cmd));
      }
    }

    // what the runbook promised
    expect(skipped.length).toBe(SYSTEM_STEPS.length);
    expect(sh(`${T}/usr/local/bin/node --version`).stdout.trim()).toBe('v20.20.2');
    const key = statSync(`${T}/etc/alpr-edge/data.key`);
    expect(key.mode & 0o777).toBe(0o600);
    expect(key.uid).toBe(me.uid);
    const status = sh('alpr-edge status');
    expect(status.status, status.stdout + status.stderr).toBe(0);
    expect(status.stdout + status.stderr).not.toMatch(/NOT encrypted/);
    expect(existsSync(`${T}/var/lib/alpr-edge/alpr-edge.db`)).toBe(true);
    expect(existsSync(path.join(home, 'data')), 'a second store in the folder the commands ran from').toBe(false);
    // the reads are on the agency's server
    const central = spawnSync(process.execPath, [MAIN, 'central', 'ls', '--data', path.join(T, 'central'), '--json'], { encoding: 'utf8' });
    const units = (JSON.parse(central.stdout) as { units: Array<{ unit: string; streams: Record<string, number> }> }).units;
    expect(units.find((u) => u.unit === 'car-12')?.streams.reads ?? 0).toBeGreaterThan(0);
    service?.kill('SIGTERM');
    await until(() => service!.exitCode !== null, 30_000, 'the service to stop', () => serviceLog.slice(-2000));
  }, 600_000);
});


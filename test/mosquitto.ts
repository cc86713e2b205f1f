import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real mosquitto for tests: its own config in a temp folder, listening on a free loopback port, started,
 * stopped (SIGTERM), killed (SIGKILL), frozen (SIGSTOP) and started again on the same port.
 */

export const MOSQUITTO_BIN = process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';
const MOSQUITTO_PASSWD_BIN = process.env.MOSQUITTO_PASSWD_BIN ?? '/usr/bin/mosquitto_passwd';

export interface MosquittoOptions {
  /** username → password; with none, anonymous clients are let in. */
  users?: Record<string, string>;
  /** Extra config lines (e.g. an acl_file). */
  extraConfig?: string[];
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export class Mosquitto {
  readonly port: number;
  readonly dir: string;
  readonly configFile: string;
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private output = '';

  private constructor(port: number, dir: string, configFile: string) {
    this.port = port;
    this.dir = dir;
    this.configFile = configFile;
  }

  /** Writes the config and starts the broker; resolves once it accepts connections. */
  static async start(options: MosquittoOptions = {}): Promise<Mosquitto> {
    if (!existsSync(MOSQUITTO_BIN)) throw new Error(`mosquitto not found at ${MOSQUITTO_BIN} (the set-up script installs it; or set MOSQUITTO_BIN)`);
    const dir = mkdtempSync(join(tmpdir(), 'alpr-mosquitto-'));
    const port = await freePort();
    const lines = [`listener ${port} 127.0.0.1`, 'persistence false', 'log_dest stderr', 'log_type error', 'log_type warning'];
    // Run as root, mosquitto 2 drops to the user "mosquitto", which could not read a private temp folder.
    if (process.getuid?.() === 0) lines.push('user root');
    const users = Object.entries(options.users ?? {});
    if (users.length === 0) {
      lines.push('allow_anonymous true');
    } else {
      const passwordFile = join(dir, 'passwd');
      writeFileSync(passwordFile, '', { mode: 0o600 });
      for (const [username, password] of users) {
        execFileSync(MOSQUITTO_PASSWD_BIN, ['-b', passwordFile, username, password], { stdio: 'pipe' });
      }
      lines.push('allow_anonymous false', `password_file ${passwordFile}`);
    }
    lines.push(...(options.extraConfig ?? []));
    const configFile = join(dir, 'mosquitto.conf');
    writeFileSync(configFile, `${lines.join('\n')}\n`, { mode: 0o600 });
    const broker = new Mosquitto(port, dir, configFile);
    await broker.start();
    return broker;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** What mosquitto wrote to stderr (for a failing test's message). */
  get log(): string {
    return this.output;
  }

  /** (Re)starts it on the same port. */
  async start(): Promise<void> {
    if (this.child !== null) throw new Error('mosquitto already running');
    const child = spawn(MOSQUITTO_BIN, ['-c', this.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        if (this.child === child) this.child = null;
        resolve();
      });
    });
    const deadline = Date.now() + 5000;
    for (;;) {
      if (this.child !== child) throw new Error(`mosquitto exited at start:\n${this.output}`);
      if (await canConnect(this.port)) return;
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`mosquitto did not listen on ${this.port} within 5 s:\n${this.output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Stops it the ordinary way (SIGTERM); clients see their connection closed. */
  async stop(): Promise<void> {
    await this.signalAndWait('SIGTERM');
  }

  /** Kills it outright (SIGKILL): whatever it had not processed is lost. */
  async kill(): Promise<void> {
    await this.signalAndWait('SIGKILL');
  }

  /** Freezes it (SIGSTOP): connections stay open, nothing is answered. */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  /** Kills it if running and removes its folder. */
  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async signalAndWait(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (child === null) return;
    // A frozen process must be woken to act on SIGTERM (SIGKILL needs no waking, and must not: a woken broker
    // would first handle what it had been sent).
    child.kill(signal);
    if (signal !== 'SIGKILL') child.kill('SIGCONT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(timer);
  }
}

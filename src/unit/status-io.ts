import { chmodSync, mkdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../util/clock.js';

export const STATUS_FILE = 'status.json';

/**
 * The running unit answers on this Unix socket (under the data folder; folder 0700, socket 0600) with its status
 * as one JSON line, so that `alpr-edge status` tells the truth when the status file cannot be written (a full
 * disk).
 */
export const STATUS_SOCKET = path.join('run', 'status.sock');

/** A Unix socket's path must fit in sockaddr_un (108 bytes with its NUL). */
const MAX_SOCKET_PATH = 107;

/** status.json in the data folder, written atomically; a failure is logged when it starts, at most once a minute while it lasts, and when it ends. */
export class StatusFile {
  private failure: { message: string; since: number; loggedAt: number } | null = null;

  constructor(
    private readonly dataDir: string,
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** The status socket's path, once it listens (named in the warning). */
    private readonly socketPath: () => string | undefined,
  ) {}

  /** Why the status file could not be written, since when; null when the last write worked. */
  get error(): { message: string; since: number } | null {
    return this.failure && { message: this.failure.message, since: this.failure.since };
  }

  write(status: object): void {
    const file = path.join(this.dataDir, STATUS_FILE);
    const now = this.clock();
    try {
      mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
      writeFileSync(`${file}.tmp`, JSON.stringify(status, null, 2), { mode: 0o600 });
      renameSync(`${file}.tmp`, file);
      if (this.failure) {
        this.logger.info({ file, since: new Date(this.failure.since).toISOString() }, 'the status file is written again');
        this.failure = null;
      }
    } catch (err) {
      // a half-written file (a full disk) is not left to take space
      try {
        unlinkSync(`${file}.tmp`);
      } catch {
        // not there
      }
      const message = (err as Error).message;
      const e = this.failure;
      const socket = this.socketPath();
      if (!e || now - e.loggedAt >= 60_000 || now < e.loggedAt) {
        this.logger.warn(
          { file, err: message, socket: socket ?? null },
          socket ? 'cannot write the status file; `alpr-edge status` asks the running unit over its socket instead' : 'cannot write the status file',
        );
        this.failure = { message, since: e?.since ?? now, loggedAt: now };
      } else e.message = message;
    }
  }
}

/**
 * Answers `alpr-edge status` on a Unix socket under the data folder (run/ 0700, the socket 0600): one JSON line
 * of the unit's status per connection. Without it (a path too long for a socket, a folder that cannot be made),
 * status falls back to the status file; the unit runs on.
 */
export class StatusSocket {
  private server: Server | undefined;
  path: string | undefined;

  constructor(
    private readonly dataDir: string,
    private readonly logger: Logger,
    private readonly body: () => string,
  ) {}

  async listen(): Promise<void> {
    const sock = path.join(this.dataDir, STATUS_SOCKET);
    if (Buffer.byteLength(sock) > MAX_SOCKET_PATH) {
      this.logger.warn({ socket: sock }, 'the data folder path is too long for the status socket; `alpr-edge status` reads the status file only');
      return;
    }
    try {
      mkdirSync(path.dirname(sock), { recursive: true, mode: 0o700 });
      chmodSync(path.dirname(sock), 0o700);
      // left by a unit that was killed (a unit still running here would be a second unit on one store)
      try {
        unlinkSync(sock);
      } catch {
        // none
      }
      const server = createServer((conn) => {
        conn.on('error', () => undefined);
        conn.end(`${this.body()}\n`);
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(sock, () => {
          server.off('error', reject);
          resolve();
        });
      });
      chmodSync(sock, 0o600);
      server.on('error', (err) => this.logger.warn({ err: err.message }, 'status socket'));
      server.unref();
      this.server = server;
      this.path = sock;
    } catch (err) {
      this.logger.warn({ socket: sock, err: (err as Error).message }, 'cannot open the status socket; `alpr-edge status` reads the status file only');
    }
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    try {
      if (this.path) unlinkSync(this.path);
    } catch {
      // gone already (server.close removes it)
    }
  }
}

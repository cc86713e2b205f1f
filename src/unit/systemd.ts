import { createRequire } from 'node:module';

/**
 * The systemd notification protocol (sd_notify): READY=1 once the unit is up, WATCHDOG=1 pings, STATUS= lines,
 * STOPPING=1. Outside systemd (no NOTIFY_SOCKET) every call is a no-op. The message is one datagram on the
 * AF_UNIX socket systemd names; Node has no datagram unix sockets, so the small `unix-dgram` binding sends it.
 */
export class SystemdNotifier {
  private readonly socketPath: string | undefined;
  private socket: { send(buf: Buffer, off: number, len: number, path: string, cb?: (err?: Error) => void): void; close(): void } | undefined;
  private watchdogTimer: NodeJS.Timeout | undefined;
  lastError: string | null = null;

  constructor(env: NodeJS.ProcessEnv = process.env) {
    const p = env.NOTIFY_SOCKET;
    // an abstract socket is written with a leading "@"; on the wire its name starts with a NUL byte
    this.socketPath = p ? (p.startsWith('@') ? `\0${p.slice(1)}` : p) : undefined;
    const usec = Number(env.WATCHDOG_USEC);
    const pid = env.WATCHDOG_PID ? Number(env.WATCHDOG_PID) : process.pid;
    this.watchdogMs = Number.isFinite(usec) && usec > 0 && pid === process.pid ? usec / 1000 : undefined;
  }

  /** The watchdog interval systemd asked for (ms), if any. */
  readonly watchdogMs: number | undefined;

  get enabled(): boolean {
    return this.socketPath !== undefined;
  }

  notify(fields: Record<string, string | number>): void {
    if (!this.socketPath) return;
    const msg = Buffer.from(
      Object.entries(fields)
        .map(([k, v]) => `${k}=${String(v).replace(/\n/g, ' ')}`)
        .join('\n'),
    );
    try {
      if (!this.socket) {
        const require = createRequire(import.meta.url);
        const unix = require('unix-dgram') as { createSocket(type: 'unix_dgram'): NonNullable<SystemdNotifier['socket']> & { on(ev: string, fn: (e: Error) => void): void } };
        const s = unix.createSocket('unix_dgram');
        s.on('error', (err: Error) => {
          this.lastError = err.message;
        });
        this.socket = s;
      }
      this.socket.send(msg, 0, msg.length, this.socketPath, (err?: Error) => {
        if (err) this.lastError = err.message;
      });
    } catch (err) {
      this.lastError = (err as Error).message;
    }
  }

  ready(status: string): void {
    this.notify({ READY: 1, STATUS: status, MAINPID: process.pid });
  }

  status(status: string): void {
    this.notify({ STATUS: status });
  }

  stopping(): void {
    this.notify({ STOPPING: 1 });
  }

  /**
   * Pings the watchdog at half its interval while `healthy()` says so. The ping comes from the event loop, so a
   * main loop that is stuck stops the pings and systemd restarts the service.
   */
  startWatchdog(healthy: () => boolean): void {
    if (!this.watchdogMs || !this.socketPath) return;
    this.watchdogTimer = setInterval(() => {
      if (healthy()) this.notify({ WATCHDOG: 1 });
    }, this.watchdogMs / 2);
    this.watchdogTimer.unref();
  }

  close(): void {
    if (this.watchdogTimer) clearInterval(this.watchdogTimer);
    this.socket?.close();
    this.socket = undefined;
  }
}

/**
 * A serial port that reopens itself, cut into lines: what the alert channel, the terminal simulator and the GPS
 * receiver share. The port may be missing at start or vanish when a USB adapter is pulled; the link says why in
 * lastError, logs a failure once (not at every retry), and reopens the port with a doubling wait. It never
 * throws out of the event loop: every port error becomes lost() and a later reopen.
 */
import { SerialPort } from 'serialport';

/** The part of a pino logger this module uses. */
export interface LinkLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Port and framing of a serial line. */
export interface SerialLineConfig {
  port: string;
  baudRate: number;
  dataBits: 7 | 8;
  parity: 'none' | 'even' | 'odd';
  stopBits: 1 | 2;
}

/** Cuts a byte stream into lines; each kind of line (alert frames, NMEA sentences) has its own rules. */
export interface LineSplitter {
  push(chunk: Buffer): void;
  /** Forgets a partial line (a reopened port starts mid-stream). */
  reset(): void;
}

export interface SerialLinkOptions {
  /** First wait before reopening a missing or lost port; doubles after each failure up to retryMaxMs. */
  retryMinMs?: number;
  retryMaxMs?: number;
}

export interface SerialLinkHandlers {
  /** The port opened (first time or again). */
  open(): void;
  /** The open port failed or closed; the link is already trying to reopen it. */
  lost(reason: string): void;
  /** One line as the splitter gives it: without its line ending; null for a line too long (refused, not kept). */
  line(line: string | null): void;
}

export class SerialLink {
  private readonly splitter: LineSplitter;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private running = false;
  private port: SerialPort | null = null;
  private opening: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryMs: number;
  private loggedFailure: string | null = null;
  /** Why the port is not open (null while open or before start). */
  lastError: string | null = null;
  /** When the port last opened (performance.now(), ms): for how long a line has been silent. */
  openedAt = 0;
  opens = 0;

  constructor(
    private readonly line: SerialLineConfig,
    private readonly handlers: SerialLinkHandlers,
    makeSplitter: (onLine: (line: string | null) => void) => LineSplitter,
    private readonly logger?: LinkLogger,
    options: SerialLinkOptions = {},
    /** Says what the port is in log lines ("alert terminal", "GPS receiver"). */
    private readonly label = 'serial',
  ) {
    this.retryMinMs = options.retryMinMs ?? 1000;
    this.retryMaxMs = options.retryMaxMs ?? 30_000;
    this.retryMs = this.retryMinMs;
    this.splitter = makeSplitter((l) => this.handlers.line(l));
  }

  get isOpen(): boolean {
    return this.port !== null;
  }

  /** "/dev/ttyUSB0 115200 8N1" */
  describe(): string {
    const { port, baudRate, dataBits, parity, stopBits } = this.line;
    return `${port} ${baudRate} ${dataBits}${parity[0]!.toUpperCase()}${stopBits}`;
  }

  /** Resolves after the first attempt to open the port, whether or not it opened; never rejects for a port. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.retryMs = this.retryMinMs;
    if (this.line.port === '') {
      this.lastError = 'no serial port configured';
      this.logger?.warn({}, `${this.label}: no serial port configured`);
      return;
    }
    await this.open();
  }

  /**
   * Closes the port and cancels any reopen. Safe to call twice. Prompt: it waits at most CLOSE_WAIT_MS for an
   * open in progress and for the close itself (a port whose output cannot drain must not hold up a unit's stop).
   */
  async stop(): Promise<void> {
    this.running = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    // an open still in progress retires its port itself once it completes (running is false)
    await atMost(this.opening, CLOSE_WAIT_MS);
    const port = this.port;
    this.port = null;
    if (port) await atMost(retire(port), CLOSE_WAIT_MS);
  }

  /** Queues bytes for the port; false when the port is not open (nothing was sent). */
  write(data: string | Buffer): boolean {
    const port = this.port;
    if (!port) return false;
    port.write(data, (err) => {
      if (err) this.lost(port, `write failed: ${err.message}`);
    });
    return true;
  }

  private open(): Promise<void> {
    this.opening = new Promise<void>((resolve) => {
      const { port: path, baudRate, dataBits, parity, stopBits } = this.line;
      let port: SerialPort;
      try {
        port = new SerialPort({ path, baudRate, dataBits, parity, stopBits, autoOpen: false });
      } catch (err) {
        this.failed(`cannot open ${path}: ${messageOf(err)}`);
        resolve();
        return;
      }
      // Without a listener an 'error' event would throw out of the event loop and end the process.
      port.on('error', (err) => this.lost(port, err.message));
      port.open((err) => {
        if (err) {
          void retire(port);
          this.failed(`cannot open ${path}: ${err.message}`);
        } else if (!this.running) {
          void retire(port);
        } else {
          this.opened(port);
        }
        resolve();
      });
    }).finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  private opened(port: SerialPort): void {
    this.port = port;
    this.openedAt = performance.now();
    this.opens++;
    this.retryMs = this.retryMinMs;
    this.loggedFailure = null;
    this.lastError = null;
    // A reopened port starts mid-stream: what was kept of a line belongs to the old one.
    this.splitter.reset();
    port.on('data', (chunk: Buffer) => this.splitter.push(chunk));
    // Zero bytes read: the other end is gone, though the binding did not call it an error.
    port.on('end', () => this.lost(port, 'end of data'));
    port.on('close', (err: Error | null) => this.lost(port, err?.message ?? 'closed'));
    this.logger?.info({ port: this.line.port, line: this.describe() }, `${this.label} port open`);
    this.handlers.open();
  }

  private lost(port: SerialPort, reason: string): void {
    if (this.port !== port) return;
    this.port = null;
    void retire(port);
    if (!this.running) return;
    this.lastError = `lost ${this.line.port}: ${reason}`;
    this.logger?.warn({ port: this.line.port, error: reason }, `${this.label} port lost; reopening`);
    this.scheduleRetry();
    this.handlers.lost(this.lastError);
  }

  private failed(message: string): void {
    this.lastError = message;
    if (message !== this.loggedFailure) {
      this.loggedFailure = message;
      this.logger?.warn({ port: this.line.port, error: message, retryInMs: this.retryMs }, `cannot open ${this.label} port; retrying`);
    }
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (!this.running || this.retryTimer) return;
    const wait = this.retryMs;
    this.retryMs = Math.min(this.retryMaxMs, this.retryMs * 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.running) void this.open();
    }, wait);
    // Retries alone should not keep a process alive that is otherwise done.
    this.retryTimer.unref();
  }
}

/** How long stop() waits for an open in progress, and for a port to close. */
const CLOSE_WAIT_MS = 2000;

/** Waits for p, but no longer than ms (the timer does not keep the process alive). */
async function atMost(p: Promise<void> | null, ms: number): Promise<void> {
  if (!p) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)).unref())]);
  clearTimeout(timer);
}

/** Stops listening to a port we are done with and closes it if it is still open. */
function retire(port: SerialPort): Promise<void> {
  for (const event of ['data', 'end', 'close', 'error']) port.removeAllListeners(event);
  // A dead port may still report an error while closing; nobody needs it, but it must not go unheard.
  port.on('error', () => {});
  return new Promise((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve()));
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Alerts to the in-car terminal over a serial line (protocol: docs/serial-protocol.md). One alert is on the wire
 * at a time: it is sent, sent again with a doubling wait until the terminal ACKs it, and handed back to the outbox
 * when the retry budget is spent or the port goes. The port may be missing at start or vanish when a USB-serial
 * adapter is pulled; the channel says so in status() and reopens it by itself, waiting longer between tries.
 */
import { SerialLink, type LineSplitter, type SerialLinkOptions } from '../util/serial-link.js';
import type { SerialChannelConfig } from './config.js';
import {
  MAX_FRAME_LENGTH,
  decodeFrame,
  encodeAck,
  encodeAlert,
  encodeFault,
  encodeHeartbeat,
  encodeNak,
  type DecodeResult,
  type NakReason,
  type RespFrame,
} from './serial-protocol.js';
import type { AlertAck, AlertChannel, AlertDelivery, ChannelStatus } from './types.js';
import type { Clock } from '../util/clock.js';

/** The part of a pino logger this module uses. */
export interface AlertLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** A splitter for alert frames, for SerialLink. */
export const frameSplitter = (onLine: (line: string | null) => void): LineSplitter => new FrameSplitter(MAX_FRAME_LENGTH, onLine);

/**
 * Cuts the byte stream into frames: a line ends at LF (a CR before it is dropped), and a `$` always starts a new
 * frame, so the half frame left by a cable pulled mid-frame is given up as a line of its own instead of spoiling
 * the next good one. A line past maxLength is given as null and the rest of it skipped, so a stream without
 * newlines (wrong baud rate) cannot grow memory.
 */
export class FrameSplitter implements LineSplitter {
  private readonly buf: Buffer;
  private length = 0;
  private overlong = false;

  constructor(
    private readonly maxLength: number,
    private readonly onLine: (line: string | null) => void,
  ) {
    // One byte of the maximum is the LF itself.
    this.buf = Buffer.alloc(maxLength - 1);
  }

  push(chunk: Buffer): void {
    for (const byte of chunk) {
      if (byte === 0x0a) {
        this.endLine();
      } else if (byte === 0x24) {
        this.endLine();
        this.keep(byte);
      } else {
        this.keep(byte);
      }
    }
  }

  reset(): void {
    this.length = 0;
    this.overlong = false;
  }

  private keep(byte: number): void {
    if (this.overlong) return;
    if (this.length === this.buf.length) {
      this.length = 0;
      this.overlong = true;
      this.onLine(null);
      return;
    }
    this.buf[this.length++] = byte;
  }

  private endLine(): void {
    if (this.overlong) {
      this.overlong = false;
      return;
    }
    let end = this.length;
    if (end > 0 && this.buf[end - 1] === 0x0d) end--;
    // latin1: one character per byte, so noise stays visible to the decoder instead of turning into U+FFFD.
    const line = this.buf.toString('latin1', 0, end);
    this.length = 0;
    if (line.trim() !== '') this.onLine(line);
  }
}

export interface SerialChannelOptions extends SerialLinkOptions {
  /** Refused frames are logged at most once per this, with how many there were. */
  logEveryMs?: number;
  /** Longest wait for one ACK, however many times the doubling has run. */
  maxAckWaitMs?: number;
  /** The unit's clock: the time in heartbeats and on recorded answers. */
  clock: Clock;
}

/** What the channel has seen and done since it was made (status().detail says the same in words). */
export interface SerialChannelCounters {
  /** ALERT frames written, first sends and retransmissions. */
  alertFrames: number;
  retransmits: number;
  acks: number;
  /** ACKs for an alert not on the wire (late duplicates, another session's): ignored. */
  strayAcks: number;
  naks: number;
  strayNaks: number;
  resps: number;
  /** A RESP repeated by the terminal (our ACK was lost): ACKed again, recorded once. */
  repeatedResps: number;
  heartbeatsIn: number;
  heartbeatsOut: number;
  /** Frames of a kind the terminal should not send (an ALERT): ignored. */
  unexpected: number;
  /** Lines that were not a good frame, by reason. */
  refused: Record<NakReason, number>;
}

/** How many officer's answers are remembered to spot a repeated RESP. */
const REMEMBERED_RESPS = 256;

interface InFlight {
  delivery: AlertDelivery;
  resolve: () => void;
  reject: (err: Error) => void;
}

interface OnWire extends InFlight {
  id: string;
  frame: string;
  sends: number;
  timer: NodeJS.Timeout | null;
}

export class SerialAlertChannel implements AlertChannel {
  readonly name = 'serial' as const;
  private readonly link: SerialLink;
  private readonly logEveryMs: number;
  private readonly clock: Clock;
  private readonly maxAckWaitMs: number;
  private readonly handlers: Array<(ack: AlertAck) => void> = [];
  private readonly queue: InFlight[] = [];
  private current: OnWire | null = null;
  private running = false;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private heartbeatSeq = 0;
  private faults = new Map<string, { code: string; subject: string; message: string; since: number }>();
  private lastHeardAt: number | null = null;
  private delivered = 0;
  private lastDeliveryError: string | null = null;
  private readonly seenResps = new Set<string>();
  private refusedSinceLog = 0;
  private lastRefusedLogAt = -Infinity;
  private readonly counters: SerialChannelCounters = {
    alertFrames: 0,
    retransmits: 0,
    acks: 0,
    strayAcks: 0,
    naks: 0,
    strayNaks: 0,
    resps: 0,
    repeatedResps: 0,
    heartbeatsIn: 0,
    heartbeatsOut: 0,
    unexpected: 0,
    refused: { CHECKSUM: 0, FORMAT: 0, TYPE: 0, LENGTH: 0 },
  };

  constructor(
    private readonly config: SerialChannelConfig,
    private readonly logger: AlertLogger | undefined,
    options: SerialChannelOptions,
  ) {
    this.clock = options.clock;
    this.logEveryMs = options.logEveryMs ?? 60_000;
    this.maxAckWaitMs = options.maxAckWaitMs ?? Math.max(config.ackTimeoutMs, 30_000);
    this.link = new SerialLink(
      config,
      {
        open: () => this.onOpen(),
        lost: (reason) => this.onLost(reason),
        line: (line) => this.onLine(line),
      },
      frameSplitter,
      logger,
      options,
      'alert terminal',
    );
  }

  /** Resolves after the first attempt to open the port; a missing port is retried in the background. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.heartbeatTimer = setInterval(() => this.sendHeartbeat(), this.config.heartbeatMs);
    this.heartbeatTimer.unref();
    await this.link.start();
  }

  /** Closes the port, cancels timers and hands back every alert not yet ACKed (rejected). Safe to call twice. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
    const stopped = 'serial alert channel stopped';
    for (const waiting of this.queue.splice(0)) waiting.reject(new Error(stopped));
    if (this.current) this.finish(this.current, stopped);
    await this.link.stop();
  }

  /**
   * Sends one alert and resolves on the terminal's ACK for its id. Calls made while an alert is on the wire wait
   * their turn. Rejects at once when the port is not open, when the port goes while waiting, and when no ACK came
   * after 1 + maxRetries sends.
   */
  deliver(d: AlertDelivery): Promise<void> {
    if (!this.running) return Promise.reject(new Error('serial alert channel is not running'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ delivery: d, resolve, reject });
      this.next();
    });
  }

  onAck(handler: (ack: AlertAck) => void): void {
    this.handlers.push(handler);
  }

  status(): ChannelStatus {
    // silences are durations: the monotonic timer, as lastHeardAt and the link's openedAt
    const now = performance.now();
    const silence = 3 * this.config.heartbeatMs;
    const open = this.link.isOpen;
    const hearing = this.lastHeardAt !== null && now - this.lastHeardAt <= silence;
    let lastError: string | null;
    if (!this.running) lastError = this.link.lastError ?? 'not running';
    else if (!open) lastError = this.link.lastError ?? `${this.config.port} is not open`;
    else if (!hearing && now - this.link.openedAt > silence) {
      const since = Math.max(this.link.openedAt, this.lastHeardAt ?? 0);
      lastError = `no frames from the terminal on ${this.config.port} for ${Math.round((now - since) / 1000)} s`;
    } else lastError = this.lastDeliveryError;
    return {
      name: 'serial',
      connected: open && hearing,
      inFlight: this.queue.length + (this.current ? 1 : 0),
      delivered: this.delivered,
      lastError,
      detail: this.detail(now),
    };
  }

  /** A copy of the counters, for tests and the status command. */
  stats(): SerialChannelCounters {
    return { ...this.counters, refused: { ...this.counters.refused } };
  }

  private detail(now: number): string {
    const c = this.counters;
    const heard = this.lastHeardAt === null ? 'never' : `${((now - this.lastHeardAt) / 1000).toFixed(1)} s ago`;
    const r = c.refused;
    return (
      `${this.link.describe()} ${this.link.isOpen ? 'open' : 'closed'}, terminal last heard ${heard}; ` +
      `alert frames ${c.alertFrames} (retransmits ${c.retransmits}), ACKs ${c.acks} (stray ${c.strayAcks}), ` +
      `NAKs ${c.naks} (stray ${c.strayNaks}), RESPs ${c.resps} (repeated ${c.repeatedResps}), ` +
      `HB in ${c.heartbeatsIn} out ${c.heartbeatsOut}, unexpected ${c.unexpected}, ` +
      `refused checksum ${r.CHECKSUM} format ${r.FORMAT} type ${r.TYPE} length ${r.LENGTH}`
    );
  }

  /** Puts the next waiting alert on the wire, if none is. */
  private next(): void {
    while (!this.current && this.queue.length > 0) {
      const waiting = this.queue.shift()!;
      const id = waiting.delivery.alert.id;
      if (!this.running) {
        waiting.reject(new Error('serial alert channel stopped'));
        continue;
      }
      let frame: string;
      try {
        frame = encodeAlert(waiting.delivery);
      } catch (err) {
        this.fail(waiting, `alert ${id} cannot be sent: ${messageOf(err)}`);
        continue;
      }
      if (!this.link.isOpen) {
        this.fail(waiting, `terminal port not open (${this.link.lastError ?? this.config.port})`);
        continue;
      }
      this.current = { ...waiting, id, frame, sends: 0, timer: null };
      this.transmit(this.current);
    }
  }

  private transmit(c: OnWire): void {
    if (!this.link.write(c.frame)) {
      this.finish(c, `terminal port not open (${this.link.lastError ?? this.config.port})`);
      return;
    }
    c.sends++;
    this.counters.alertFrames++;
    if (c.sends > 1) this.counters.retransmits++;
    const wait = Math.min(this.maxAckWaitMs, this.config.ackTimeoutMs * 2 ** (c.sends - 1));
    c.timer = setTimeout(() => {
      c.timer = null;
      if (c.sends > this.config.maxRetries) {
        this.finish(c, `no ACK from the terminal for alert ${c.id} after ${c.sends} sends`);
      } else {
        this.transmit(c);
      }
    }, wait);
  }

  /** Ends the alert on the wire: resolved without an error, rejected with one. */
  private finish(c: OnWire, error?: string): void {
    if (this.current !== c) return;
    if (c.timer) clearTimeout(c.timer);
    c.timer = null;
    this.current = null;
    if (error === undefined) {
      this.delivered++;
      this.lastDeliveryError = null;
      c.resolve();
    } else {
      this.fail(c, error);
    }
    this.next();
  }

  private fail(waiting: InFlight, error: string): void {
    this.lastDeliveryError = error;
    waiting.reject(new Error(error));
  }

  private onOpen(): void {
    this.lastHeardAt = null;
    // Say hello at once: the terminal need not wait a whole interval to know the unit is there.
    this.sendHeartbeat();
    for (const f of this.faults.values()) this.sendFault(f, 'RAISED');
  }

  private onLost(reason: string): void {
    this.lastHeardAt = null;
    if (this.current) this.finish(this.current, `${reason} while waiting for the ACK of alert ${this.current.id}`);
  }

  private sendHeartbeat(): void {
    if (!this.running || !this.link.isOpen) return;
    if (this.link.write(encodeHeartbeat(this.heartbeatSeq, this.clock()))) {
      this.heartbeatSeq = (this.heartbeatSeq + 1) % 1_000_000_000;
      this.counters.heartbeatsOut++;
    }
  }

  private onLine(line: string | null): void {
    const result: DecodeResult =
      line === null
        ? { ok: false, reason: 'LENGTH', error: `line longer than ${MAX_FRAME_LENGTH} bytes` }
        : decodeFrame(line);
    if (!result.ok) {
      this.refused(result, line ?? '');
      return;
    }
    const now = performance.now();
    const wasSilent = this.lastHeardAt === null || now - this.lastHeardAt > 3 * this.config.heartbeatMs;
    this.lastHeardAt = now;
    // A terminal switched on (or plugged in) after the unit's port opened missed what was sent at the open:
    // the first frame heard after a silence gets it the open faults again.
    if (wasSilent) for (const f of this.faults.values()) this.sendFault(f, 'RAISED');
    const frame = result.frame;
    switch (frame.type) {
      case 'HB':
        this.counters.heartbeatsIn++;
        return;
      case 'ACK':
        if (this.current?.id === frame.id) {
          this.counters.acks++;
          this.finish(this.current);
        } else {
          this.counters.strayAcks++;
        }
        return;
      case 'NAK':
        this.onNak(frame.id, frame.reason);
        return;
      case 'RESP':
        this.onResp(frame);
        return;
      case 'ALERT':
      case 'FAULT':
        this.counters.unexpected++;
        return;
    }
  }

  /**
   * The unit's open faults (P16): each new one is sent as FAULT RAISED, each gone as FAULT CLEARED; all open ones
   * again whenever the line opens. Not acknowledged: the status and the sync report carry them as well.
   */
  reportFaults(faults: ReadonlyArray<{ code: string; subject: string; message: string; since: number }>): void {
    const next = new Map(faults.map((f) => [`${f.code}/${f.subject}`, f]));
    for (const [key, f] of next) if (!this.faults.has(key)) this.sendFault(f, 'RAISED');
    for (const [key, f] of this.faults) if (!next.has(key)) this.sendFault(f, 'CLEARED');
    this.faults = next;
  }

  private sendFault(f: { code: string; subject: string; message: string; since: number }, state: 'RAISED' | 'CLEARED'): void {
    if (!this.running || !this.link.isOpen) return;
    this.link.write(encodeFault({ code: f.code, subject: f.subject, state, since: f.since, message: f.message }));
  }

  /** The terminal could not take the alert (damaged on the way): send it again now; it counts as a retry. */
  private onNak(id: string, reason: string): void {
    const c = this.current;
    if (!c || c.id !== id) {
      this.counters.strayNaks++;
      return;
    }
    this.counters.naks++;
    if (c.timer) clearTimeout(c.timer);
    c.timer = null;
    if (c.sends > this.config.maxRetries) {
      this.finish(c, `the terminal refused alert ${id} (NAK ${reason}) after ${c.sends} sends`);
    } else {
      this.transmit(c);
    }
  }

  /** The officer's answer: recorded by the handlers, then ACKed so the terminal stops sending it. */
  private onResp(frame: RespFrame): void {
    this.counters.resps++;
    const key = JSON.stringify([frame.id, frame.accepted, frame.reasonCode, frame.by]);
    if (this.seenResps.has(key)) {
      this.counters.repeatedResps++;
      this.link.write(encodeAck(frame.id));
      return;
    }
    const ack: AlertAck = { alertId: frame.id, accepted: frame.accepted, receivedAt: this.clock(), channel: 'serial' };
    if (frame.reasonCode !== null) ack.reasonCode = frame.reasonCode;
    if (frame.by !== null) ack.by = frame.by;
    try {
      for (const handler of this.handlers) handler(ack);
    } catch (err) {
      // Not recorded: no ACK, so the terminal sends it again and a later try may record it.
      this.logger?.warn({ alert: frame.id, error: messageOf(err) }, "officer's answer not recorded");
      this.link.write(encodeNak(frame.id, 'NOT-RECORDED'));
      return;
    }
    this.seenResps.add(key);
    if (this.seenResps.size > REMEMBERED_RESPS) this.seenResps.delete(this.seenResps.values().next().value!);
    this.link.write(encodeAck(frame.id));
  }

  private refused(result: Extract<DecodeResult, { ok: false }>, line: string): void {
    this.counters.refused[result.reason]++;
    // A damaged answer from the officer is worth asking for again; a damaged HB or ACK is covered by timeouts.
    if (result.type === 'RESP' && result.id !== undefined && result.reason !== 'LENGTH') {
      this.link.write(encodeNak(result.id, result.reason));
    }
    this.refusedSinceLog++;
    const now = performance.now();
    if (now - this.lastRefusedLogAt < this.logEveryMs) return;
    this.logger?.warn(
      {
        port: this.config.port,
        refused: this.refusedSinceLog,
        error: result.error,
        line: line.replace(/[^\x20-\x7e]/g, '?').slice(0, 80),
      },
      'frames from the terminal refused',
    );
    this.refusedSinceLog = 0;
    this.lastRefusedLogAt = now;
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

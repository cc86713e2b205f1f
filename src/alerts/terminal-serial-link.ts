/**
 * The terminal's end of the serial link (docs/serial-protocol.md): ACKs every ALERT frame (a retransmitted alert is
 * ACKed again but reported once), sends heartbeats, and sends the officer's answer (RESP) until the unit ACKs it.
 * Options make it misbehave on purpose (lost ACKs, damaged ACKs, NAKs) so the unit's retransmission can be seen at
 * work. The interactive simulator around it is src/alerts/terminal-serial.ts.
 */
import { EventEmitter } from 'node:events';
import { SerialLink } from '../util/serial-link.js';
import { frameSplitter, type AlertLogger } from './serial.js';
import {
  MAX_FRAME_LENGTH,
  decodeFrame,
  encodeAck,
  encodeHeartbeat,
  encodeNak,
  encodeResp,
  type AlertFrame,
  type FaultFrame,
  type HeartbeatFrame,
  type NakFrame,
} from './serial-protocol.js';
import type { AlertDelivery } from './types.js';
import type { Clock } from '../util/clock.js';

export interface SerialTerminalOptions {
  path: string;
  baudRate?: number;
  dataBits?: 7 | 8;
  parity?: 'none' | 'even' | 'odd';
  stopBits?: 1 | 2;
  /** ACK every ALERT frame as it arrives (default true). Off: the test ACKs with ack(). */
  autoAck?: boolean;
  /** Heartbeat interval; 0 sends none (default 1000). */
  heartbeatMs?: number;
  /** The unit counts as heard while a frame arrived within this (default 3 × heartbeatMs, or 3 s). */
  silenceMs?: number;
  /** Wait for the unit's ACK of a RESP before sending it again (default 1000), and how many times (default 5). */
  respTimeoutMs?: number;
  respRetries?: number;
  /** Alerts remembered for de-duplication and answers (default 1000). */
  remember?: number;
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Misbehaviour, for tests. The first `dropAcks` ALERT frames get no answer at all (the ACK is "lost"). */
  dropAcks?: number;
  /** The next `nakAlerts` ALERT frames are answered with NAK CHECKSUM, as if they arrived damaged. */
  nakAlerts?: number;
  /** The next `badChecksumAcks` ALERT frames are ACKed with a wrong checksum. */
  badChecksumAcks?: number;
  /** The terminal's clock: the time in its heartbeats and of each alert's arrival. */
  clock: Clock;
}

/** An alert as the terminal shows it. */
export interface ReceivedAlert {
  /** 1, 2, 3...: what a person types to answer it. */
  number: number;
  delivery: AlertDelivery;
  /** When the terminal first got it (ms). */
  receivedAt: number;
  /** ALERT frames received for it (more than 1: the unit sent it again). */
  copies: number;
  answer: { accepted: boolean; reasonCode: string | null; by: string | null; recorded: boolean } | null;
}

export interface SerialTerminalEvents {
  /** A new alert, once per alert id. */
  alert: [ReceivedAlert];
  /** The same alert again (the unit did not get our ACK). */
  repeat: [ReceivedAlert];
  /** The unit ACKed our RESP for this alert id: the answer is recorded. */
  recorded: [string];
  nak: [NakFrame];
  heartbeat: [HeartbeatFrame];
  /** The unit reports a fault of its own, or its end. */
  fault: [FaultFrame];
  /** A line that was not a good frame, and why. */
  refused: [string];
  open: [];
  lost: [string];
}

export interface SerialTerminalStatus {
  open: boolean;
  /** A frame came from the unit within silenceMs. */
  hearing: boolean;
  lastError: string | null;
  alerts: number;
  alertFrames: number;
  acksSent: number;
  heartbeatsIn: number;
  refused: number;
}

interface PendingResp {
  frame: string;
  sends: number;
  timer: NodeJS.Timeout | null;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class SerialTerminal extends EventEmitter<SerialTerminalEvents> {
  private readonly link: SerialLink;
  private readonly opts: Required<Omit<SerialTerminalOptions, 'path' | 'silenceMs'>> & { silenceMs: number };
  private readonly alerts = new Map<string, ReceivedAlert>();
  private readonly pendingResps = new Map<string, PendingResp>();
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private heartbeatSeq = 0;
  private lastHeardAt: number | null = null;
  private alertCount = 0;
  private counts = { alertFrames: 0, acksSent: 0, heartbeatsIn: 0, refused: 0 };

  constructor(options: SerialTerminalOptions, logger?: AlertLogger) {
    super();
    const heartbeatMs = options.heartbeatMs ?? 1000;
    this.opts = {
      baudRate: 115_200,
      dataBits: 8,
      parity: 'none',
      stopBits: 1,
      autoAck: true,
      respTimeoutMs: 1000,
      respRetries: 5,
      remember: 1000,
      retryMinMs: 500,
      retryMaxMs: 5000,
      dropAcks: 0,
      nakAlerts: 0,
      badChecksumAcks: 0,
      ...withoutUndefined(options),
      clock: options.clock,
      heartbeatMs,
      silenceMs: options.silenceMs ?? (heartbeatMs > 0 ? 3 * heartbeatMs : 3000),
    };
    const o = this.opts;
    this.link = new SerialLink(
      { port: options.path, baudRate: o.baudRate, dataBits: o.dataBits, parity: o.parity, stopBits: o.stopBits },
      {
        open: () => {
          this.lastHeardAt = null;
          this.sendHeartbeat();
          this.emit('open');
        },
        lost: (reason) => this.emit('lost', reason),
        line: (line) => this.onLine(line),
      },
      frameSplitter,
      logger,
      { retryMinMs: o.retryMinMs, retryMaxMs: o.retryMaxMs },
      'terminal simulator',
    );
  }

  get isOpen(): boolean {
    return this.link.isOpen;
  }

  async start(): Promise<void> {
    if (this.opts.heartbeatMs > 0 && !this.heartbeatTimer) {
      this.heartbeatTimer = setInterval(() => this.sendHeartbeat(), this.opts.heartbeatMs);
      this.heartbeatTimer.unref();
    }
    await this.link.start();
  }

  async stop(): Promise<void> {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
    for (const [id, pending] of this.pendingResps) {
      if (pending.timer) clearTimeout(pending.timer);
      pending.reject(new Error(`terminal stopped before the unit recorded the answer to ${id}`));
    }
    this.pendingResps.clear();
    await this.link.stop();
  }

  status(): SerialTerminalStatus {
    return {
      open: this.link.isOpen,
      hearing: this.lastHeardAt !== null && performance.now() - this.lastHeardAt <= this.opts.silenceMs,
      lastError: this.link.lastError,
      alerts: this.alerts.size,
      ...this.counts,
    };
  }

  /** Alerts shown, oldest first. */
  list(): ReceivedAlert[] {
    return [...this.alerts.values()];
  }

  /** An alert by its id, its number on this terminal, or a unique start of its id. */
  find(ref: string): ReceivedAlert | undefined {
    const exact = this.alerts.get(ref);
    if (exact) return exact;
    const all = this.list();
    if (/^#?\d+$/.test(ref)) {
      const byNumber = all.find((a) => a.number === Number(ref.replace('#', '')));
      if (byNumber) return byNumber;
    }
    const prefixed = all.filter((a) => a.delivery.alert.id.startsWith(ref));
    return prefixed.length === 1 ? prefixed[0] : undefined;
  }

  /** Sends the transport receipt for an alert (what autoAck does by itself). */
  ack(id: string): boolean {
    const ok = this.link.write(encodeAck(id));
    if (ok) this.counts.acksSent++;
    return ok;
  }

  nak(id: string, reason: string): boolean {
    return this.link.write(encodeNak(id, reason));
  }

  /** Raw bytes onto the line, for tests: garbage, half frames, frames with a wrong checksum. */
  sendRaw(data: string | Buffer): boolean {
    return this.link.write(data);
  }

  /**
   * The officer's answer. Sent until the unit ACKs it (resolves) or respRetries more sends went unanswered
   * (rejects). The alert id need not be one this terminal has seen.
   */
  respond(id: string, accepted: boolean, reasonCode?: string | null, by?: string | null): Promise<void> {
    const frame = encodeResp(id, accepted, reasonCode, by);
    const shown = this.alerts.get(id);
    if (shown) shown.answer = { accepted, reasonCode: reasonCode ?? null, by: by ?? null, recorded: false };
    const earlier = this.pendingResps.get(id);
    if (earlier) {
      if (earlier.timer) clearTimeout(earlier.timer);
      earlier.reject(new Error(`answer to ${id} replaced by a newer one`));
    }
    return new Promise<void>((resolve, reject) => {
      const pending: PendingResp = { frame, sends: 0, timer: null, resolve, reject };
      this.pendingResps.set(id, pending);
      this.sendResp(id, pending);
    });
  }

  private sendResp(id: string, pending: PendingResp): void {
    if (this.pendingResps.get(id) !== pending) return;
    if (pending.sends > this.opts.respRetries) {
      this.pendingResps.delete(id);
      pending.reject(new Error(`the unit did not confirm the answer to ${id} after ${pending.sends} sends`));
      return;
    }
    this.link.write(pending.frame);
    pending.sends++;
    pending.timer = setTimeout(() => this.sendResp(id, pending), this.opts.respTimeoutMs);
  }

  private sendHeartbeat(): void {
    if (this.link.isOpen && this.link.write(encodeHeartbeat(this.heartbeatSeq, this.opts.clock()))) {
      this.heartbeatSeq = (this.heartbeatSeq + 1) % 1_000_000_000;
    }
  }

  private onLine(line: string | null): void {
    const result = line === null ? null : decodeFrame(line);
    if (result === null || !result.ok) {
      this.counts.refused++;
      // A damaged alert whose id can still be read is asked for again at once rather than after a timeout.
      if (result && result.type === 'ALERT' && result.id !== undefined && result.reason !== 'LENGTH') {
        this.nak(result.id, result.reason);
      }
      this.emit('refused', result?.error ?? `line longer than ${MAX_FRAME_LENGTH} bytes`);
      return;
    }
    this.lastHeardAt = performance.now();
    const frame = result.frame;
    switch (frame.type) {
      case 'ALERT':
        this.onAlert(frame);
        return;
      case 'HB':
        this.counts.heartbeatsIn++;
        this.emit('heartbeat', frame);
        return;
      case 'ACK': {
        const pending = this.pendingResps.get(frame.id);
        if (!pending) return;
        if (pending.timer) clearTimeout(pending.timer);
        this.pendingResps.delete(frame.id);
        const shown = this.alerts.get(frame.id);
        if (shown?.answer) shown.answer.recorded = true;
        pending.resolve();
        this.emit('recorded', frame.id);
        return;
      }
      case 'NAK': {
        this.emit('nak', frame);
        const pending = this.pendingResps.get(frame.id);
        if (pending) {
          if (pending.timer) clearTimeout(pending.timer);
          this.sendResp(frame.id, pending);
        }
        return;
      }
      case 'RESP':
        // Only a terminal answers alerts; a unit sending RESP is misconfigured (two units on one line?).
        this.emit('refused', `RESP from the unit for ${frame.id}: ignored`);
        return;
      case 'FAULT':
        this.emit('fault', frame);
        return;
    }
  }

  private onAlert(frame: AlertFrame): void {
    const n = this.counts.alertFrames++;
    const o = this.opts;
    const id = frame.delivery.alert.id;
    if (n >= o.dropAcks && n < o.dropAcks + o.nakAlerts) {
      // As if it arrived damaged: not shown, asked for again.
      this.nak(id, 'CHECKSUM');
      return;
    }
    const known = this.alerts.get(id);
    if (known) {
      known.copies++;
      // The newest copy says best how late it is now.
      known.delivery = frame.delivery;
    } else {
      this.alerts.set(id, {
        number: ++this.alertCount,
        delivery: frame.delivery,
        receivedAt: this.opts.clock(),
        copies: 1,
        answer: null,
      });
      if (this.alerts.size > o.remember) this.alerts.delete(this.alerts.keys().next().value!);
    }
    if (n >= o.dropAcks + o.nakAlerts && o.autoAck) {
      if (n < o.dropAcks + o.nakAlerts + o.badChecksumAcks) {
        this.link.write(encodeAck(id).replace(/\*([0-9A-F]{2})\r\n$/, (_, cs: string) => `*${flipHex(cs)}\r\n`));
        this.counts.acksSent++;
      } else {
        this.ack(id);
      }
    }
    const shown = this.alerts.get(id)!;
    if (known) this.emit('repeat', shown);
    else this.emit('alert', shown);
  }
}

function flipHex(cs: string): string {
  return ((parseInt(cs, 16) ^ 0xff) & 0xff).toString(16).toUpperCase().padStart(2, '0');
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

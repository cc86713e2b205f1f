import type Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { AlertsConfig } from './config.js';
import { VERIFY_NOTICE, type AlertAck, type AlertChannel, type AlertMessage } from './types.js';
import type { Clock } from '../util/clock.js';

/**
 * The persistent alert outbox. A hit becomes an alert row and one delivery row per channel in one transaction
 * (the alert exists on disk before any channel hears of it); each channel has a loop that delivers its pending
 * alerts one at a time, in the order they were raised, and marks each delivered once the far end has taken it. A
 * terminal or broker that is down only delays delivery: the loop retries with a growing pause, nothing is dropped.
 * An alert delivered more than `lateAfterMs` after it was raised says how late; one older than `expireAfterMs`
 * is delivered marked expired (tables: migration 3 in src/store/migrations.ts). Every step (raised, suppressed, each failed attempt, delivered, the officer's
 * answer) is an audit event row.
 */


const STOPPED_BEFORE_ACK = 'the unit stopped before the far end took it; sent again at the next start';

/**
 * What the unit knows when a read has hit a hot list entry: the alert's message but for what the outbox gives it
 * (id, seq, raisedAt, notice), with the read and hit it comes from and whether the list is covert.
 */
export interface RaiseInput extends Omit<AlertMessage, 'id' | 'seq' | 'raisedAt' | 'notice'> {
  readId: number;
  hitId: number | null;
  covert: boolean;
}

export interface RaiseResult {
  alert: AlertMessage;
  /** Why the terminal is not told: covert list, a duplicate within the window, too many unacknowledged. */
  suppressed: 'covert' | 'duplicate' | 'cap' | null;
}

export interface OutboxStats {
  raised: number;
  suppressed: number;
  pending: Record<string, number>;
  unacknowledged: number;
}

/** Canonical form for "the same vehicle": OCR-equivalent characters folded (O/0/D/Q, I/1/L, B/8, S/5, Z/2, G/6). */
function vehicleKey(plate: string): string {
  const fold: Record<string, string> = { O: '0', D: '0', Q: '0', I: '1', L: '1', B: '8', S: '5', Z: '2', G: '6' };
  return plate
    .toUpperCase()
    .replace(/[^A-Z0-9]/g, '')
    .replace(/[ODQILBSZG]/g, (c) => fold[c]!);
}

export class AlertOutbox extends EventEmitter<{ delivered: [{ alertId: string; channel: string; at: number; lateMs?: number }]; ack: [AlertAck] }> {
  private readonly channels = new Map<string, { channel: AlertChannel; wake: () => void; loop: Promise<void> }>();
  private running = true;
  private nextSeq: number;
  /** Settles when stop() is called: a delivery waiting for the far end is given up at once (it stays pending). */
  private stopRequested!: () => void;
  private readonly stopSignal = new Promise<'stopped'>((resolve) => (this.stopRequested = () => resolve('stopped')));

  constructor(
    private readonly db: Database.Database,
    private readonly config: AlertsConfig,
    private readonly logger: { info(o: object, m: string): void; warn(o: object, m: string): void } | undefined,
    /** The unit's clock: when alerts are queued, sent, expire and are answered. */
    private readonly now: Clock,
  ) {
    super();
    this.nextSeq = ((db.prepare('SELECT max(seq) AS s FROM alerts').get() as { s: number | null }).s ?? 0) + 1;
  }

  /**
   * Records a hit as an alert and queues it on every attached channel (unless suppressed). Synchronous: when it
   * returns, the alert and its deliveries are committed.
   */
  raise(input: RaiseInput): RaiseResult {
    const now = this.now();
    const key = `${vehicleKey(input.plate)}|${input.hit.entryId}`;
    const alert: AlertMessage = {
      id: randomUUID(),
      seq: this.nextSeq,
      unitId: input.unitId,
      raisedAt: now,
      plate: input.plate,
      confidence: input.confidence,
      cameraId: input.cameraId,
      seenAt: input.seenAt,
      latitude: input.latitude,
      longitude: input.longitude,
      positionValid: input.positionValid,
      ...(input.plateState ? { plateState: input.plateState } : {}),
      hit: input.hit,
      cropRef: input.cropRef,
      frameRef: input.frameRef,
      notice: VERIFY_NOTICE,
    };
    let suppressed: RaiseResult['suppressed'] = null;
    this.db.transaction(() => {
      if (input.covert) suppressed = 'covert';
      else {
        // the same vehicle against the same entry within the window: once, unless the priority was raised
        const earlier = this.db
          .prepare(
            `SELECT min(priority) AS p FROM alerts WHERE dedup_key = ? AND raised_at >= ? AND (suppressed IS NULL OR suppressed = 'cap')`,
          )
          .get(key, now - this.config.dedupWindowMs) as { p: number | null };
        if (earlier.p !== null && input.hit.priority >= earlier.p) suppressed = 'duplicate';
      }
      if (suppressed === null) {
        const open = this.db
          .prepare(`SELECT count(*) AS n FROM alerts WHERE ack_at IS NULL AND suppressed IS NULL AND raised_at >= ?`)
          .get(now - this.config.expireAfterMs) as { n: number };
        if (open.n >= this.config.maxUnacknowledged) suppressed = 'cap';
      }
      this.db
        .prepare(
          `INSERT INTO alerts (id, seq, read_id, hit_id, raised_at, dedup_key, priority, suppressed, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(alert.id, alert.seq, input.readId, input.hitId, now, key, input.hit.priority, suppressed, JSON.stringify(alert));
      this.event(alert.id, null, 'raised', { list: input.hit.list, entryId: input.hit.entryId, how: input.hit.matchKind });
      if (suppressed) this.event(alert.id, null, 'suppressed', { why: suppressed });
      else {
        for (const name of this.channels.keys()) {
          this.db
            .prepare(`INSERT INTO alert_deliveries (alert_id, channel, seq, state) VALUES (?, ?, ?, 'pending')`)
            .run(alert.id, name, alert.seq);
        }
      }
    })();
    this.nextSeq++;
    if (!suppressed) for (const c of this.channels.values()) c.wake();
    return { alert, suppressed };
  }

  /**
   * Starts delivering on a channel. A delivery is marked delivered only when the channel's deliver() resolves,
   * i.e. when a terminal has the alert (see AlertChannel.deliver); the terminal that took it is in the event. Alerts raised while the channel was not attached (e.g. before a restart with
   * the channel newly enabled) are not back-filled; pending deliveries from before a restart are resumed.
   */
  attach(channel: AlertChannel): void {
    if (this.channels.has(channel.name)) throw new Error(`channel ${channel.name} already attached`);
    channel.onAck((ack) => this.recordAck(ack));
    let wake: () => void = () => undefined;
    let woken = false;
    const entry = {
      channel,
      wake: () => {
        woken = true;
        wake();
      },
      loop: Promise.resolve(),
    };
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        if (woken || !this.running) {
          woken = false;
          return resolve();
        }
        const t = setTimeout(done, ms);
        function done() {
          clearTimeout(t);
          resolve();
        }
        wake = done;
      }).then(() => {
        woken = false;
      });
    this.channels.set(channel.name, entry);
    channel.onRetryNow?.(() => entry.wake());
    entry.loop = this.deliverLoop(channel, sleep);
  }

  private async deliverLoop(channel: AlertChannel, sleep: (ms: number) => Promise<void>): Promise<void> {
    let backoff = 250;
    while (this.running) {
      const row = this.db
        .prepare(
          `SELECT d.alert_id, d.attempts, a.payload, a.raised_at FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id
           WHERE d.channel = ? AND d.state = 'pending' ORDER BY d.seq LIMIT 1`,
        )
        .get(channel.name) as { alert_id: string; attempts: number; payload: string; raised_at: number } | undefined;
      if (!row) {
        await sleep(60_000);
        continue;
      }
      const alert = JSON.parse(row.payload) as AlertMessage;
      const age = this.now() - row.raised_at;
      const lateMs = age > this.config.lateAfterMs ? age : undefined;
      const expired = age > this.config.expireAfterMs;
      let by: string | null = null;
      try {
        const sending = channel.deliver({ alert, lateMs, expired });
        // given up at stop (below), the channel's stop() still rejects it: that is expected, not an error
        sending.catch(() => undefined);
        const outcome = await Promise.race([sending.then((receipt) => ({ by: receipt?.by ?? null })), this.stopSignal]);
        if (outcome === 'stopped') {
          // The unit is stopping: no waiting out an ACK or a retry. Without the far end's ACK the alert is not
          // delivered; it stays pending on disk and is sent again at the next start (the terminal drops a repeat).
          this.db.transaction(() => {
            this.db
              .prepare(`UPDATE alert_deliveries SET attempts = attempts + 1, last_attempt_at = ?, last_error = ? WHERE alert_id = ? AND channel = ?`)
              .run(this.now(), STOPPED_BEFORE_ACK, row.alert_id, channel.name);
            this.event(row.alert_id, channel.name, 'attempt-failed', { error: STOPPED_BEFORE_ACK, attempt: row.attempts + 1 });
          })();
          this.logger?.info({ channel: channel.name, alert: row.alert_id }, 'unit stopping: alert left pending for the next start');
          break;
        }
        by = outcome.by;
      } catch (err) {
        const message = (err as Error).message;
        this.db.transaction(() => {
          this.db
            .prepare(`UPDATE alert_deliveries SET attempts = attempts + 1, last_attempt_at = ?, last_error = ? WHERE alert_id = ? AND channel = ?`)
            .run(this.now(), message, row.alert_id, channel.name);
          this.event(row.alert_id, channel.name, 'attempt-failed', { error: message, attempt: row.attempts + 1 });
        })();
        if (row.attempts === 0) this.logger?.warn({ channel: channel.name, alert: row.alert_id, err: message }, 'alert not delivered yet; will retry');
        await sleep(backoff);
        backoff = Math.min(30_000, backoff * 2);
        continue;
      }
      backoff = 250;
      const at = this.now();
      this.db.transaction(() => {
        this.db
          .prepare(
            `UPDATE alert_deliveries SET state = 'delivered', attempts = attempts + 1, last_attempt_at = ?, delivered_at = ?, late_ms = ?, expired = ? WHERE alert_id = ? AND channel = ?`,
          )
          .run(at, at, lateMs ?? null, expired ? 1 : 0, row.alert_id, channel.name);
        this.event(row.alert_id, channel.name, 'delivered', { lateMs, expired, ...(by !== null ? { by } : {}) });
      })();
      this.emit('delivered', { alertId: row.alert_id, channel: channel.name, at, lateMs });
    }
  }

  /** The officer's answer, from any channel: recorded (the first answer is the alert's; every one is audited). */
  recordAck(ack: AlertAck): void {
    const known = this.db.prepare('SELECT ack_at FROM alerts WHERE id = ?').get(ack.alertId) as { ack_at: number | null } | undefined;
    this.db.transaction(() => {
      if (!known) {
        this.event(ack.alertId, ack.channel, 'ack-unknown', ack);
        return;
      }
      if (known.ack_at === null) {
        this.db
          .prepare('UPDATE alerts SET ack_at = ?, ack_accepted = ?, ack_reason = ?, ack_by = ?, ack_channel = ? WHERE id = ?')
          .run(ack.receivedAt, ack.accepted ? 1 : 0, ack.reasonCode ?? null, ack.by ?? null, ack.channel, ack.alertId);
      }
      this.event(ack.alertId, ack.channel, 'ack', { accepted: ack.accepted, reasonCode: ack.reasonCode, by: ack.by });
    })();
    if (!known) this.logger?.warn({ alert: ack.alertId, channel: ack.channel }, 'acknowledgement for an unknown alert');
    this.emit('ack', ack);
  }

  stats(): OutboxStats {
    const a = this.db
      .prepare(
        `SELECT count(*) AS raised, coalesce(sum(suppressed IS NOT NULL), 0) AS suppressed,
                coalesce(sum(suppressed IS NULL AND ack_at IS NULL), 0) AS unacked FROM alerts`,
      )
      .get() as { raised: number; suppressed: number; unacked: number };
    const pending: Record<string, number> = {};
    for (const r of this.db
      .prepare(`SELECT channel, count(*) AS n FROM alert_deliveries WHERE state = 'pending' GROUP BY channel`)
      .all() as Array<{ channel: string; n: number }>) {
      pending[r.channel] = r.n;
    }
    return { raised: a.raised, suppressed: a.suppressed, pending, unacknowledged: a.unacked };
  }

  /**
   * Stops the delivery loops promptly: a loop pausing before a retry is woken, and a delivery still waiting for
   * the far end's ACK (or PUBACK) is given up without being marked delivered. Alerts not delivered stay pending,
   * on disk, and are sent again at the next start. Call it before the channels' stop().
   */
  async stop(): Promise<void> {
    this.running = false;
    this.stopRequested();
    for (const c of this.channels.values()) c.wake();
    await Promise.allSettled([...this.channels.values()].map((c) => c.loop));
  }

  private event(alertId: string, channel: string | null, kind: string, detail: unknown): void {
    this.db
      .prepare('INSERT INTO alert_events (at, alert_id, channel, kind, detail) VALUES (?, ?, ?, ?, ?)')
      .run(this.now(), alertId, channel, kind, JSON.stringify(detail ?? null));
  }
}

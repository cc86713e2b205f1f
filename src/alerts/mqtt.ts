import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { MqttChannelConfig } from './config.js';
import { AlertCrops } from './crop.js';
import type { EmbeddedBroker } from './embedded-broker.js';
import { displayUrl, externalBroker, formatAddress, startEmbeddedBroker, withTimeout, type BrokerClient, type ChannelLogger } from './mqtt-broker.js';
import { readInbound } from './mqtt-inbound.js';
import { encodePayload, TOPIC_ROOT, topicLevelProblem, TOPICS, ackFilter, unitTopic, type HealthPayload, type MqttTopicMap, type ReadPayload } from './mqtt-topics.js';
import type { AlertAck, AlertChannel, AlertDelivery, ChannelStatus, DeliveryReceipt, ReadsAccess } from './types.js';
import type { Clock } from '../util/clock.js';

export { displayUrl, readCredentialsFile, type ChannelLogger } from './mqtt-broker.js';

/**
 * Alerts over MQTT (docs/mqtt.md). The unit publishes each alert once per deliver() call on `alpr/<unit>/alerts`
 * (QoS 1) and resolves only when a terminal's receipt for its id comes back on `alpr/<unit>/acks`: the broker's
 * PUBACK says the broker has it, not that any terminal does (a broker without a session for the terminal drops
 * it). No receipt within `receiptTimeoutMs` rejects, and the outbox sends it again after its back-off; a receipt
 * that comes between two attempts is kept and the outbox is woken to take it. Officers' answers come back on
 * `alpr/<unit>/alerts/<id>/ack` (an answer is also a receipt: the terminal has the alert).
 *
 * Never twice on its own: mqtt.js keeps every unacknowledged QoS 1 publish in its outgoing store and sends it
 * again after a reconnect. The outbox also sends an alert again after deliver() rejects. Both together would
 * put the same alert on the wire twice, so this channel lets the outbox own retries alone:
 * - while the link is down deliver() rejects at once and publishes nothing (mqtt.js's offline queue is never
 *   used for alerts; `queueQoSZero: false` keeps reads and health out of it too);
 * - a publish that has no PUBACK when the link drops, or after `ackTimeoutMs`, is taken out of mqtt.js's store
 *   (`removeOutgoingMessage`) before deliver() rejects, so only the outbox's retry will carry it.
 * A broker that took the publish but whose PUBACK was lost can still forward it twice (QoS 1 is at least
 * once); the payload carries the alert id, and a terminal drops an id it has shown (terminal-mqtt.ts does).
 */

export type { ReadsAccess };

export interface MqttChannelOptions {
  /** How long deliver() waits for the PUBACK of a connected broker before giving the alert back. */
  ackTimeoutMs?: number;
  /** Reconnect back-off: first wait, doubled after each failed try up to the maximum. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** How long a CONNECT may wait for its CONNACK. */
  connectTimeoutMs?: number;
  /** Keep-alive (seconds): how soon a silently dead link is noticed. */
  keepaliveS?: number;
  /** The unit's clock: when each alert was sent and each answer received. */
  clock: Clock;
  /** Reads an image of the store by its reference (cropRef); without it alerts carry no crop. */
  readImage?: (ref: string) => Promise<Buffer>;
}

const DEFAULTS: Required<Omit<MqttChannelOptions, 'clock' | 'readImage'>> = {
  ackTimeoutMs: 5000,
  reconnectMinMs: 1000,
  reconnectMaxMs: 30_000,
  connectTimeoutMs: 10_000,
  keepaliveS: 15,
};

interface PendingDelivery {
  alertId: string;
  /** The callback handed to mqtt.js (its PUBACK); also how its outgoing entry is found again. */
  callback: (err?: Error | null) => void;
  /** Waiting for the PUBACK, then for a terminal's receipt. */
  timer: NodeJS.Timeout;
  settle(err: Error | null, receipt?: DeliveryReceipt): void;
}

/** Receipts kept for alerts not being sent right now (they came after an attempt gave up). */
const KEPT_RECEIPTS = 1000;

export class MqttAlertChannel implements AlertChannel {
  readonly name = 'mqtt' as const;
  private readonly config: MqttChannelConfig;
  private readonly unitId: string;
  private readonly logger: ChannelLogger | undefined;
  private readonly options: Required<Omit<MqttChannelOptions, 'readImage'>> & Pick<MqttChannelOptions, 'readImage'>;
  private readonly clientId: string;
  private client: MqttClient | null = null;
  private broker: EmbeddedBroker | null = null;
  private connectUrl = '';
  private online = false;
  private stopping = false;
  private reconnectTries = 0;
  private readonly pending = new Set<PendingDelivery>();
  private readonly ackHandlers: Array<(ack: AlertAck) => void> = [];
  private readonly urgentHandlers: Array<(payload: Record<string, unknown>, topic: string) => void> = [];
  private readonly readsAccessHandlers: Array<(a: ReadsAccess) => void> = [];
  private readsPublishingReported = false;
  private delivered = 0;
  private malformed = 0;
  private lastError: string | null = null;
  private lastMalformed: string | null = null;
  private connectWaiters: Array<() => void> = [];
  private readonly retryHandlers: Array<() => void> = [];
  /** alert id → the terminal whose receipt came while no attempt was waiting for it. */
  private readonly receipts = new Map<string, string | null>();
  private readonly crops: AlertCrops;
  private receiptsHeard = 0;

  constructor(config: MqttChannelConfig, unitId: string, logger: ChannelLogger | undefined, options: MqttChannelOptions) {
    const problem = topicLevelProblem(unitId);
    if (problem !== null) throw new Error(`unit id ${JSON.stringify(unitId)} cannot be an MQTT topic level: it ${problem}`);
    this.config = config;
    this.unitId = unitId;
    this.logger = logger;
    this.options = { ...DEFAULTS, ...options };
    this.clientId = config.clientId !== '' ? config.clientId : `alpr-edge-${unitId}`;
    this.crops = new AlertCrops(options.readImage, config.cropMaxBytes, logger);
  }

  async start(): Promise<void> {
    if (this.client !== null) throw new Error('mqtt channel already started');
    this.stopping = false;
    const base: IClientOptions = {
      clientId: this.clientId,
      // A persistent session: acks a terminal sends while the unit's link is down wait at the broker.
      clean: false,
      keepalive: this.options.keepaliveS,
      connectTimeout: this.options.connectTimeoutMs,
      reconnectPeriod: this.options.reconnectMinMs,
      // See the top of the file: nothing is queued while offline; subscriptions are made again on each connect.
      queueQoSZero: false,
      resubscribe: false,
      will: {
        topic: unitTopic(this.unitId, 'status'),
        payload: encodePayload('status', 'offline'),
        qos: TOPICS.status.qos,
        retain: TOPICS.status.retain,
      },
    };
    let broker: BrokerClient;
    if (this.config.mode === 'embedded') {
      const embedded = await startEmbeddedBroker(this.config, this.unitId, this.clientId, this.logger, {
        onAlertsSubscribed: () => {
          this.retryNow();
          this.abandonAll('a terminal subscribed after it was sent; sending it again');
        },
        onReadsSubscribed: (a) => this.tellReadsAccess(a),
      });
      this.broker = embedded.broker;
      broker = embedded;
    } else {
      broker = externalBroker(this.config, this.logger);
    }
    this.connectUrl = broker.url;
    const options: IClientOptions = { ...base, ...broker.options };
    const client = mqtt.connect(this.connectUrl, options);
    this.client = client;
    client.on('connect', () => this.onConnect(client));
    client.on('close', () => this.onClose());
    client.on('reconnect', () => this.onReconnect(client));
    client.on('error', (err) => this.noteError(err.message));
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    // On a loopback broker of our own the first connection takes milliseconds; let callers start with it up.
    if (this.config.mode === 'embedded') await this.waitUntilConnected(2000);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.abandonAll('mqtt channel stopped');
    const client = this.client;
    this.client = null;
    if (client !== null) {
      if (this.online) {
        // A clean DISCONNECT suppresses the last will, so say "offline" ourselves first.
        await withTimeout(
          client.publishAsync(unitTopic(this.unitId, 'status'), encodePayload('status', 'offline'), {
            qos: TOPICS.status.qos,
            retain: TOPICS.status.retain,
          }),
          1000,
        ).catch(() => undefined);
      }
      await withTimeout(client.endAsync(), 2000).catch(() => client.end(true));
    }
    this.online = false;
    if (this.broker !== null) {
      await this.broker.stop();
      this.broker = null;
    }
    this.wakeConnectWaiters();
  }

  /**
   * Drops the connection without a DISCONNECT and without saying "offline", as a crash or a cut cable would:
   * the broker then publishes the last will. The channel does not reconnect; stop() still cleans up. For
   * tests and fault drills.
   */
  kill(): void {
    const client = this.client;
    if (client === null) return;
    this.stopping = true;
    this.abandonAll('mqtt channel killed');
    this.client = null;
    this.online = false;
    client.end(true);
  }

  async deliver(d: AlertDelivery): Promise<DeliveryReceipt> {
    const client = this.client;
    if (client === null || this.stopping) throw new Error('mqtt channel not started');
    const alertId = d.alert.id;
    const problem = topicLevelProblem(alertId);
    if (problem !== null) throw new Error(`alert id ${JSON.stringify(alertId)} cannot be an MQTT topic level: it ${problem}`);
    // a terminal's receipt came after an earlier attempt gave up: the terminal has it, nothing to send
    if (this.receipts.has(alertId)) {
      const early = this.receipts.get(alertId) ?? null;
      this.receipts.delete(alertId);
      this.crops.forget(alertId);
      this.delivered += 1;
      return { by: early };
    }
    const notConnected = () => new Error(`MQTT broker not connected${this.lastError !== null ? ` (${this.lastError})` : ''}`);
    if (!this.online || !client.connected) throw notConnected();
    const crop = await this.crops.cropFor(d);
    if (this.client !== client || this.stopping) throw new Error('mqtt channel stopped');
    if (!this.online || !client.connected) throw notConnected();
    const payload = encodePayload('alerts', { ...d, sentAt: this.options.clock(), ...(crop !== null ? { crop } : {}) });
    return new Promise<DeliveryReceipt>((resolve, reject) => {
      let settled = false;
      const entry: PendingDelivery = {
        alertId,
        // mqtt.js calls it with null or undefined on a PUBACK, with an error otherwise
        callback: (err?: Error | null) => {
          if (err !== undefined && err !== null) {
            entry.settle(err);
            return;
          }
          // the broker has it; delivered only once a terminal says so
          clearTimeout(entry.timer);
          if (!settled) {
            entry.timer = setTimeout(
              () => this.abandon(entry, `no terminal's receipt within ${this.config.receiptTimeoutMs} ms (the broker took it; no terminal said it has it)`),
              this.config.receiptTimeoutMs,
            );
          }
        },
        timer: setTimeout(() => this.abandon(entry, `no PUBACK within ${this.options.ackTimeoutMs} ms`), this.options.ackTimeoutMs),
        settle: (err, receipt) => {
          if (settled) return;
          settled = true;
          clearTimeout(entry.timer);
          this.pending.delete(entry);
          if (err === null) {
            this.delivered += 1;
            this.crops.forget(alertId);
            resolve(receipt ?? { by: null });
          } else {
            this.noteError(err.message);
            reject(err);
          }
        },
      };
      this.pending.add(entry);
      client.publish(unitTopic(this.unitId, 'alerts'), payload, { qos: TOPICS.alerts.qos, retain: TOPICS.alerts.retain }, entry.callback);
    });
  }

  /** A terminal has the alert (its receipt, or its officer's answer). */
  private receiptFor(alertId: string, terminalId: string | null): void {
    this.receiptsHeard += 1;
    let waited = false;
    for (const entry of this.pending) {
      if (entry.alertId === alertId) {
        entry.settle(null, { by: terminalId });
        waited = true;
      }
    }
    if (waited) return;
    this.receipts.set(alertId, terminalId);
    if (this.receipts.size > KEPT_RECEIPTS) this.receipts.delete(this.receipts.keys().next().value as string);
    this.retryNow();
  }

  /** Registers the handler called when the outbox should try again now (see AlertChannel.onRetryNow). */
  onRetryNow(handler: () => void): void {
    this.retryHandlers.push(handler);
  }

  private retryNow(): void {
    for (const handler of this.retryHandlers) handler();
  }

  onAck(handler: (ack: AlertAck) => void): void {
    this.ackHandlers.push(handler);
  }

  /**
   * Urgent hot list entries and cancellations from the agency, on `alpr/<unit>/hotlist/urgent` and (on an external
   * broker) `alpr/all/hotlist/urgent`. The handler validates and applies them; the broker's ACL decides who may
   * publish there (on the embedded broker nobody may: it serves the car's own network).
   */
  onUrgentHotlist(handler: (payload: Record<string, unknown>, topic: string) => void): void {
    this.urgentHandlers.push(handler);
  }

  /** Who receives plate text from this channel (see ReadsAccess); register before start(). */
  onReadsAccess(handler: (a: ReadsAccess) => void): void {
    this.readsAccessHandlers.push(handler);
  }

  private tellReadsAccess(a: ReadsAccess): void {
    for (const h of this.readsAccessHandlers) {
      try {
        h(a);
      } catch (err) {
        this.logger?.warn({ err: (err as Error).message }, 'MQTT: recording who receives reads failed');
      }
    }
  }

  /** Publishes a read on `reads` when `publishReads` is on; false when it is off or the link is down. */
  publishRead(read: ReadPayload): boolean {
    if (!this.config.publishReads) return false;
    return this.publishNow('reads', read);
  }

  /** Publishes the unit's health on `health` (retained); false when the link is down (the next one will do). */
  publishHealth(health: HealthPayload): boolean {
    return this.publishNow('health', health);
  }

  /** Resolves once connected, or false after `timeoutMs`. */
  async waitUntilConnected(timeoutMs: number): Promise<boolean> {
    if (this.online) return true;
    if (this.client === null) return false;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.connectWaiters = this.connectWaiters.filter((w) => w !== wake);
        resolve(this.online);
      }, timeoutMs);
      const wake = (): void => {
        clearTimeout(timer);
        resolve(this.online);
      };
      this.connectWaiters.push(wake);
    });
  }

  /** Ack payloads refused as malformed since start. */
  get malformedAcks(): number {
    return this.malformed;
  }

  status(): ChannelStatus {
    const where =
      this.config.mode === 'embedded'
        ? `embedded broker ${formatAddress(this.broker?.address() ?? null, this.config.listenHost, this.config.listenPort)}`
        : `broker ${displayUrl(this.config.url)}`;
    const parts = [where, `client ${this.clientId}`];
    if (this.broker !== null) parts.push(`${this.broker.stats().clients} clients${this.broker.usesTls ? ', TLS' : ''}`);
    parts.push(`${this.receiptsHeard} receipts from terminals`);
    if (this.malformed > 0) parts.push(`${this.malformed} malformed acks (last: ${this.lastMalformed ?? ''})`);
    return {
      name: 'mqtt',
      connected: this.online,
      inFlight: this.pending.size,
      delivered: this.delivered,
      lastError: this.lastError,
      detail: parts.join(', '),
    };
  }

  private publishNow<K extends 'reads' | 'health'>(key: K, payload: MqttTopicMap[K]): boolean {
    const client = this.client;
    if (client === null || !this.online) return false;
    const spec = TOPICS[key];
    client.publish(unitTopic(this.unitId, key), encodePayload(key, payload), { qos: spec.qos, retain: spec.retain });
    return true;
  }

  private onConnect(client: MqttClient): void {
    if (client !== this.client) return;
    // an alert waits for the terminal's receipt: no Nagle delay on the small packets of that round trip
    (client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
    this.reconnectTries = 0;
    client.options.reconnectPeriod = this.options.reconnectMinMs;
    this.online = true;
    this.lastError = null;
    this.logger?.info({ url: displayUrl(this.connectUrl), clientId: this.clientId }, 'MQTT connected');
    if (this.config.publishReads && this.config.mode !== 'embedded' && !this.readsPublishingReported) {
      this.readsPublishingReported = true;
      const broker = displayUrl(this.connectUrl);
      this.tellReadsAccess({ who: `mqtt broker ${broker}`, role: 'system', topic: unitTopic(this.unitId, 'reads'), filter: null, clientId: this.clientId, broker });
    }
    client.publish(unitTopic(this.unitId, 'status'), encodePayload('status', 'online'), {
      qos: TOPICS.status.qos,
      retain: TOPICS.status.retain,
    });
    const answers = { [ackFilter(this.unitId)]: { qos: TOPICS['alerts/+/ack'].qos }, [unitTopic(this.unitId, 'acks')]: { qos: TOPICS.acks.qos } };
    client.subscribe(answers, (err) => {
      if (err) {
        this.noteError(`cannot subscribe to acks: ${err.message}`);
        this.logger?.warn({ err: err.message }, 'MQTT: subscription to acks refused');
      }
    });
    if (this.urgentHandlers.length > 0 && this.config.mode !== 'embedded') {
      const filters = [unitTopic(this.unitId, 'hotlist/urgent'), `${TOPIC_ROOT}/all/hotlist/urgent`];
      client.subscribe(filters, { qos: TOPICS['hotlist/urgent'].qos }, (err) => {
        if (err) this.logger?.warn({ err: err.message }, 'MQTT: subscription to urgent hot list messages refused');
      });
    }
    this.wakeConnectWaiters();
  }

  private onClose(): void {
    const wasOnline = this.online;
    this.online = false;
    // Whatever was sent and not acknowledged goes back to the outbox, and out of mqtt.js's store.
    this.abandonAll('connection to the MQTT broker closed before its PUBACK');
    if (wasOnline && !this.stopping) {
      this.lastError ??= 'connection to the MQTT broker lost';
      this.logger?.warn({ url: displayUrl(this.connectUrl), lastError: this.lastError }, 'MQTT connection lost');
    }
  }

  private onReconnect(client: MqttClient): void {
    // mqtt.js reconnects at options.reconnectPeriod, read when the next wait is set up: double it each try.
    this.reconnectTries += 1;
    client.options.reconnectPeriod = Math.min(
      this.options.reconnectMaxMs,
      this.options.reconnectMinMs * 2 ** Math.min(this.reconnectTries, 16),
    );
  }

  private onMessage(topic: string, payload: Buffer): void {
    const m = readInbound(topic, payload, this.unitId, this.options.clock);
    switch (m.kind) {
      case 'malformed':
        this.malformed += 1;
        this.lastMalformed = m.reason;
        this.logger?.warn({ topic, reason: m.reason }, `MQTT: malformed ${m.what} ignored`);
        return;
      case 'urgent':
        for (const handler of this.urgentHandlers) {
          try {
            handler(m.payload, topic);
          } catch (err) {
            this.logger?.warn({ topic, err: (err as Error).message }, 'MQTT: urgent hot list message not applied');
          }
        }
        return;
      case 'receipt':
        this.receiptFor(m.alertId, m.terminalId);
        return;
      case 'ack':
        // an answer means the terminal has the alert, even if its receipt was lost
        this.receiptFor(m.ack.alertId, m.ack.by ?? null);
        for (const handler of this.ackHandlers) {
          try {
            handler(m.ack);
          } catch (err) {
            this.logger?.warn({ alertId: m.ack.alertId, err: (err as Error).message }, 'MQTT: ack handler failed');
          }
        }
    }
  }

  /** Gives one alert back to the outbox, and takes it out of mqtt.js's store so it is never resent behind its back. */
  private abandon(entry: PendingDelivery, reason: string): void {
    // settle() first: removeOutgoingMessage calls the callback with its own "Message removed".
    entry.settle(new Error(reason));
    const client = this.client;
    if (client === null) return;
    for (const [id, outgoing] of Object.entries(client.outgoing)) {
      if (outgoing.cb === entry.callback) client.removeOutgoingMessage(Number(id));
    }
  }

  private abandonAll(reason: string): void {
    for (const entry of [...this.pending]) this.abandon(entry, reason);
  }

  private noteError(message: string): void {
    if (message !== this.lastError && !this.stopping) this.logger?.warn({ err: message }, 'MQTT error');
    this.lastError = message;
  }

  private wakeConnectWaiters(): void {
    const waiters = this.connectWaiters;
    this.connectWaiters = [];
    for (const wake of waiters) wake();
  }
}


import type { Clock } from '../util/clock.js';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { displayUrl, readCredentialsFile } from './mqtt.js';
import {
  ackTopic,
  classifyTopic,
  encodePayload,
  parseAlertPayload,
  parseHealth,
  parseStatus,
  topicLevelProblem,
  TOPICS,
  unitTopic,
  unitTopicFilter,
  type AckPayload,
  type AlertPayload,
  type UnitPresence,
} from './mqtt-topics.js';

/**
 * A patrol terminal simulator on MQTT, for technicians testing an installation (`alpr-edge terminal --mqtt
 * URL`) and for tests: sends a receipt on `acks` for every copy of an alert it gets (only that marks the alert
 * delivered on the unit), shows each alert once (by alert id, whatever the broker or the unit sends again), and
 * answers it. It keeps a persistent session (clean: false), as docs/mqtt.md asks of every terminal.
 */

export interface MqttTerminalOptions {
  /** Unit whose alerts to show; '+' (the default) listens to every unit the broker lets it see. */
  unitId?: string;
  /** Credentials: a "username:password" file, or the two given directly (tests). */
  credentialsFile?: string;
  username?: string;
  password?: string;
  /** CA certificate (PEM) for an mqtts:// broker. */
  caFile?: string;
  clientId?: string;
  /** Put in the `by` of each answer; default the username, else the client id. */
  terminalId?: string;
  /** 4 (MQTT 3.1.1, the default: the embedded broker speaks nothing else) or 5. */
  protocolVersion?: 4 | 5;
  reconnectPeriodMs?: number;
  connectTimeoutMs?: number;
  /** Send a receipt on `acks` for each alert received (default true; false: a terminal that never acknowledges, for tests). */
  sendReceipts?: boolean;
  /** The terminal's clock: when each alert and status arrived. */
  clock: Clock;
}

export interface TerminalAlert {
  payload: AlertPayload;
  /** The unit whose topic it came on (answers go back under it). */
  unitId: string;
  receivedAt: number;
}

export interface TerminalStatus {
  unitId: string;
  status: UnitPresence;
  /** A retained message the broker kept from before this terminal subscribed. */
  retained: boolean;
  at: number;
}

/** How many alert ids are remembered to drop redeliveries. */
const SEEN_LIMIT = 10_000;

export class MqttTerminal {
  /** Each alert once, in the order it first arrived. */
  readonly alerts: TerminalAlert[] = [];
  readonly statuses: TerminalStatus[] = [];
  readonly health = new Map<string, Record<string, unknown>>();
  /** Alert messages received, counting redeliveries. */
  received = 0;
  /** Redeliveries of an alert already shown (dropped). */
  duplicates = 0;
  /** Messages that were not what their topic says (dropped). */
  malformed = 0;
  /** Receipts published on `acks` (one per alert message received, repeats included). */
  receiptsSent = 0;
  lastError: string | null = null;

  private readonly url: string;
  private readonly clock: Clock;
  private readonly unitId: string;
  private readonly options: IClientOptions;
  readonly terminalId: string;
  private client: MqttClient | null = null;
  private readonly seen = new Set<string>();
  private readonly alertHandlers: Array<(alert: TerminalAlert) => void> = [];
  private readonly statusHandlers: Array<(status: TerminalStatus) => void> = [];
  private readonly linkHandlers: Array<(up: boolean) => void> = [];
  private subscribed = false;
  private readyWaiters: Array<() => void> = [];
  private sendReceipts: boolean;

  constructor(url: string, options: MqttTerminalOptions) {
    this.clock = options.clock;
    this.url = url;
    this.sendReceipts = options.sendReceipts ?? true;
    this.unitId = options.unitId ?? '+';
    const problem = this.unitId === '+' ? null : topicLevelProblem(this.unitId);
    if (problem !== null) throw new Error(`unit id ${JSON.stringify(this.unitId)} cannot be an MQTT topic level: it ${problem}`);
    let username = options.username;
    let password = options.password;
    if (options.credentialsFile !== undefined && options.credentialsFile !== '') {
      const credentials = readCredentialsFile(options.credentialsFile, 'terminal credentials file');
      username = credentials.username;
      password = credentials.password;
    }
    const clientId = options.clientId ?? `alpr-terminal-${process.pid}-${Math.random().toString(16).slice(2, 8)}`;
    this.terminalId = options.terminalId ?? username ?? clientId;
    let ca: Buffer | undefined;
    if (options.caFile !== undefined && options.caFile !== '') {
      try {
        ca = readFileSync(options.caFile);
      } catch (err) {
        throw new Error(`CA file ${options.caFile}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
    }
    this.options = {
      clientId,
      protocolVersion: options.protocolVersion ?? 4,
      // A session the broker keeps: alerts sent while the terminal's link is down wait for it.
      clean: false,
      ...(options.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {}),
      resubscribe: false,
      queueQoSZero: false,
      reconnectPeriod: options.reconnectPeriodMs ?? 1000,
      connectTimeout: options.connectTimeoutMs ?? 10_000,
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password } : {}),
      ...(ca !== undefined ? { ca, rejectUnauthorized: true } : {}),
    };
  }

  /** Connects and subscribes; rejects with the broker's reason if the first try fails (e.g. not authorised). */
  async connect(): Promise<void> {
    if (this.client !== null) throw new Error('terminal already connected');
    const client = mqtt.connect(this.url, this.options);
    this.client = client;
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet.retain));
    client.on('error', (err) => {
      this.lastError = err.message;
    });
    client.on('close', () => {
      const was = this.subscribed;
      this.subscribed = false;
      if (was) for (const handler of this.linkHandlers) handler(false);
    });
    client.on('connect', () => {
      // receipts are small and answer the unit's wait: send them without Nagle's delay
      (client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
      this.subscribe(client);
    });
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error): void => {
        cleanup();
        client.end(true);
        this.client = null;
        reject(new Error(`cannot connect to ${displayUrl(this.url)}: ${err.message}`));
      };
      const ok = (): void => {
        cleanup();
        resolve();
      };
      const cleanup = (): void => {
        client.off('error', fail);
        this.readyWaiters = this.readyWaiters.filter((w) => w !== ok);
      };
      client.once('error', fail);
      this.readyWaiters.push(ok);
    });
  }

  /** Connected and subscribed. */
  get ready(): boolean {
    return this.subscribed;
  }

  /** Resolves once (again) connected and subscribed; rejects after `timeoutMs`. */
  async waitReady(timeoutMs: number): Promise<void> {
    if (this.subscribed) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((w) => w !== wake);
        reject(new Error(`terminal not connected after ${timeoutMs} ms${this.lastError !== null ? ` (${this.lastError})` : ''}`));
      }, timeoutMs);
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.readyWaiters.push(wake);
    });
  }

  onAlert(handler: (alert: TerminalAlert) => void): void {
    this.alertHandlers.push(handler);
  }

  onStatus(handler: (status: TerminalStatus) => void): void {
    this.statusHandlers.push(handler);
  }

  /** Called with true when (again) connected and subscribed, false when the link drops. */
  onLink(handler: (up: boolean) => void): void {
    this.linkHandlers.push(handler);
  }

  /** Answers one alert (QoS 1; resolves on the broker's PUBACK). */
  async answer(alertId: string, answer: { accepted: boolean; reasonCode?: string }): Promise<void> {
    const client = this.client;
    if (client === null) throw new Error('terminal not connected');
    const known = this.alerts.find((a) => a.payload.alert.id === alertId);
    const unitId = known?.unitId ?? (this.unitId !== '+' ? this.unitId : undefined);
    if (unitId === undefined) throw new Error(`no alert ${alertId} received (and no unit id given to answer it under)`);
    const payload: AckPayload = { accepted: answer.accepted, by: this.terminalId };
    if (answer.reasonCode !== undefined) payload.reasonCode = answer.reasonCode;
    const spec = TOPICS['alerts/+/ack'];
    await client.publishAsync(ackTopic(unitId, alertId), encodePayload('alerts/+/ack', payload), { qos: spec.qos, retain: spec.retain });
  }

  /** Sends the receipt for one alert now ("this terminal has it"), e.g. after a test held it back. */
  async acknowledge(unitId: string, alertId: string): Promise<void> {
    const client = this.client;
    if (client === null) throw new Error('terminal not connected');
    const spec = TOPICS.acks;
    await client.publishAsync(unitTopic(unitId, 'acks'), encodePayload('acks', { alertId, terminalId: this.terminalId }), { qos: spec.qos, retain: spec.retain });
    this.receiptsSent += 1;
  }

  /** From now on send (true) or hold back (false) receipts for the alerts that arrive. */
  setReceipts(on: boolean): void {
    this.sendReceipts = on;
  }

  accept(alertId: string): Promise<void> {
    return this.answer(alertId, { accepted: true });
  }

  reject(alertId: string, reasonCode: string): Promise<void> {
    return this.answer(alertId, { accepted: false, reasonCode });
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    this.subscribed = false;
    if (client === null) return;
    await Promise.race([client.endAsync(), new Promise((resolve) => setTimeout(resolve, 2000))]);
    client.end(true);
  }

  private subscribe(client: MqttClient): void {
    const filters = {
      [unitTopicFilter(this.unitId, 'alerts')]: { qos: TOPICS.alerts.qos },
      [unitTopicFilter(this.unitId, 'status')]: { qos: TOPICS.status.qos },
      [unitTopicFilter(this.unitId, 'health')]: { qos: TOPICS.health.qos },
    };
    client.subscribe(filters, (err) => {
      if (client !== this.client) return;
      if (err) {
        this.lastError = `subscription refused: ${err.message}`;
        client.emit('error', new Error(this.lastError));
        return;
      }
      this.subscribed = true;
      const waiters = this.readyWaiters;
      this.readyWaiters = [];
      for (const wake of waiters) wake();
      for (const handler of this.linkHandlers) handler(true);
    });
  }

  private onMessage(topic: string, payload: Buffer, retained: boolean): void {
    const where = classifyTopic(topic);
    if (where === null) {
      this.malformed += 1;
      return;
    }
    if (where.key === 'alerts') {
      this.received += 1;
      const parsed = parseAlertPayload(payload);
      if (!parsed.ok) {
        this.malformed += 1;
        this.lastError = `malformed alert on ${topic}: ${parsed.reason}`;
        return;
      }
      const id = parsed.value.alert.id;
      // the receipt goes for every copy, repeats too: the unit's wait for an earlier one may have run out
      if (this.sendReceipts) {
        this.acknowledge(where.unitId, id).catch((err: Error) => {
          this.lastError = `receipt for ${id} not sent: ${err.message}`;
        });
      }
      if (this.seen.has(id)) {
        this.duplicates += 1;
        return;
      }
      this.seen.add(id);
      if (this.seen.size > SEEN_LIMIT) this.seen.delete(this.seen.values().next().value as string);
      const alert: TerminalAlert = { payload: parsed.value, unitId: where.unitId, receivedAt: this.clock() };
      this.alerts.push(alert);
      if (this.alerts.length > SEEN_LIMIT) this.alerts.shift();
      for (const handler of this.alertHandlers) handler(alert);
    } else if (where.key === 'status') {
      const parsed = parseStatus(payload);
      if (!parsed.ok) {
        this.malformed += 1;
        return;
      }
      const status: TerminalStatus = { unitId: where.unitId, status: parsed.value, retained, at: this.clock() };
      this.statuses.push(status);
      for (const handler of this.statusHandlers) handler(status);
    } else if (where.key === 'health') {
      const parsed = parseHealth(payload);
      if (parsed.ok) this.health.set(where.unitId, parsed.value);
      else this.malformed += 1;
    }
  }
}

function utc(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** An alert as a person reads it on a terminal. */
export function formatAlert(payload: AlertPayload): string {
  const { alert } = payload;
  const marks: string[] = [];
  if (payload.expired) marks.push('[EXPIRED: not a live hit]');
  if (payload.lateMs !== undefined) marks.push(`[LATE by ${duration(payload.lateMs)}]`);
  const hit = alert.hit;
  let match: string;
  switch (hit.matchKind) {
    case 'exact':
      match = `exact match of ${hit.entryPlate}`;
      break;
    case 'equivalent':
      match = `OCR-equivalent match of ${hit.entryPlate}`;
      break;
    case 'distance':
      match = `near match of ${hit.entryPlate} (${hit.distance ?? '?'} character${hit.distance === 1 ? ' differs' : 's differ'})`;
      break;
    case 'wildcard':
      match = `partial plate ${hit.entryPlate}`;
      break;
  }
  const position =
    alert.positionValid && alert.latitude !== null && alert.longitude !== null
      ? `${alert.latitude.toFixed(5)}, ${alert.longitude.toFixed(5)}`
      : 'no valid position';
  return [
    `=== ALERT ${alert.id} (#${alert.seq}, unit ${alert.unitId}) ${marks.join(' ')}`.trimEnd(),
    // confidence is 0-100 (as on the serial line): 76.8 is shown "76.8%"
    `  plate     ${alert.plate}   confidence ${Math.round(alert.confidence * 10) / 10}%   camera ${alert.cameraId}`,
    `  hot list  ${hit.list} / ${hit.category}, priority ${hit.priority}, ${match}${hit.entryState !== undefined ? ` (${hit.entryState})` : ''}`,
    `  seen      ${utc(alert.seenAt)}   raised ${utc(alert.raisedAt)}`,
    `  position  ${position}`,
    payload.crop !== undefined
      ? `  crop      JPEG ${payload.crop.width}x${payload.crop.height}, ${Buffer.byteLength(payload.crop.base64, 'base64')} bytes`
      : '  crop      none',
    `  ${alert.notice}`,
    `  answer:   a ${alert.id}   |   r ${alert.id} <reason code>`,
    '',
  ].join('\n');
}

export interface TerminalIo {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** Ends the session (e.g. on SIGINT). */
  signal?: AbortSignal;
  /** Save each alert's plate crop in this folder as <alert id>.jpg. */
  cropsDir?: string;
}

const HELP = [
  'commands:',
  '  a <alert id>            accept (acknowledge) an alert; a unique start of the id is enough',
  '  r <alert id> <reason>   reject an alert with a reason code (e.g. NOT-MATCH, CLEARED)',
  '  l                       list the alerts not answered yet',
  '  h                       show the unit health last received',
  '  q                       quit',
  '',
].join('\n');

/**
 * The `alpr-edge terminal --mqtt URL` session: prints alerts and status changes to `io.output`, reads
 * answers from `io.input` line by line; resolves when the input ends, on `q`, or when `io.signal` aborts.
 */
export async function runMqttTerminal(url: string, options: MqttTerminalOptions, io: TerminalIo): Promise<void> {
  const say = (text: string): void => {
    io.output.write(text.endsWith('\n') ? text : `${text}\n`);
  };
  const terminal = new MqttTerminal(url, options);
  const answered = new Set<string>();
  if (io.cropsDir !== undefined) mkdirSync(io.cropsDir, { recursive: true, mode: 0o700 });
  terminal.onAlert((alert) => {
    say(formatAlert(alert.payload));
    const crop = alert.payload.crop;
    if (io.cropsDir !== undefined && crop !== undefined) {
      const file = join(io.cropsDir, `${alert.payload.alert.id}.jpg`);
      try {
        writeFileSync(file, Buffer.from(crop.base64, 'base64'), { mode: 0o600 });
        say(`  crop saved: ${file}`);
      } catch (err) {
        say(`  crop not saved: ${(err as Error).message}`);
      }
    }
  });
  terminal.onStatus((s) => say(`unit ${s.unitId} is ${s.status}${s.retained ? ' (last known)' : ''}`));
  terminal.onLink((up) => say(up ? `connected to ${displayUrl(url)}` : 'connection lost; reconnecting...'));
  await terminal.connect();
  say(`listening for alerts of ${options.unitId ?? 'every unit'} as ${terminal.terminalId}; type ? for help`);

  const findAlert = (prefix: string): string | Error => {
    const exact = terminal.alerts.find((a) => a.payload.alert.id === prefix);
    if (exact !== undefined) return exact.payload.alert.id;
    const matches = terminal.alerts.filter((a) => a.payload.alert.id.startsWith(prefix));
    if (matches.length === 1) return matches[0]!.payload.alert.id;
    if (matches.length === 0) return options.unitId !== undefined && options.unitId !== '+' ? prefix : new Error(`no alert ${prefix}`);
    return new Error(`${prefix} fits ${matches.length} alerts; type more of the id`);
  };

  const lines = createInterface({ input: io.input, crlfDelay: Infinity, terminal: false });
  const onAbort = (): void => lines.close();
  io.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const raw of lines) {
      const line = raw.trim();
      if (line === '') continue;
      const [command, id, ...rest] = line.split(/\s+/);
      if (command === 'q') break;
      if (command === '?' || command === 'help') {
        say(HELP);
        continue;
      }
      if (command === 'l') {
        const open = terminal.alerts.filter((a) => !answered.has(a.payload.alert.id));
        say(open.length === 0 ? 'no alert waiting for an answer' : open.map((a) => `  ${a.payload.alert.id}  ${a.payload.alert.plate}  ${a.payload.alert.hit.category}`).join('\n'));
        continue;
      }
      if (command === 'h') {
        say(terminal.health.size === 0 ? 'no health received yet' : [...terminal.health].map(([unit, h]) => `unit ${unit}: ${JSON.stringify(h)}`).join('\n'));
        continue;
      }
      if ((command === 'a' || command === 'r') && id !== undefined) {
        const reason = rest.join(' ');
        if (command === 'r' && reason === '') {
          say('a rejection needs a reason code: r <alert id> <reason>');
          continue;
        }
        const found = findAlert(id);
        if (found instanceof Error) {
          say(found.message);
          continue;
        }
        try {
          if (command === 'a') await terminal.accept(found);
          else await terminal.reject(found, reason);
          answered.add(found);
          say(command === 'a' ? `accepted ${found}` : `rejected ${found}: ${reason}`);
        } catch (err) {
          say(`could not answer ${found}: ${(err as Error).message}`);
        }
        continue;
      }
      say(`unknown command: ${line}\n${HELP}`);
    }
  } finally {
    io.signal?.removeEventListener('abort', onAbort);
    lines.close();
    await terminal.close();
  }
}

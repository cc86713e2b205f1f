import { z } from 'zod';
import type { StoredRead } from '../store/read-store.js';
import type { AlertDelivery, AlertMessage } from './types.js';

/**
 * The MQTT topics of a unit: one map from topic to payload, all under `alpr/<unit id>/`. The channel
 * (mqtt.ts), the embedded broker's access rules (embedded-broker.ts) and the terminal simulator
 * (terminal-mqtt.ts) all build and read topics through this file and nothing else.
 */

/** Retained on `status`: "online" when the unit connects, "offline" when it stops or (last will) dies. */
export type UnitPresence = 'online' | 'offline';

/** The plate crop carried in an alert: a small JPEG, base64 (see docs/mqtt.md, "The crop image"). */
export interface CropImage {
  format: 'jpeg';
  width: number;
  height: number;
  /** The JPEG file, base64 (RFC 4648 with padding); decoded it is at most `alerts.mqtt.cropMaxBytes`. */
  base64: string;
}

/** An alert on the wire: the outbox's delivery (alert, late and expired marks) and when it was sent. */
export interface AlertPayload extends AlertDelivery {
  /** When the unit handed it to the broker (ms since the epoch); a terminal can tell a stale alert. */
  sentAt: number;
  /** The plate crop, when the read has one and it fits the size bound (absent otherwise). */
  crop?: CropImage;
}

/**
 * A terminal's receipt of an alert, on `acks`: "this terminal has the alert". Sent for every copy of an alert
 * received, repeats included. Only this marks an alert delivered on MQTT (not the broker's PUBACK).
 */
export interface ReceiptPayload {
  alertId: string;
  /** The terminal's own id (e.g. the car's MDT name); recorded with the delivery. */
  terminalId: string;
}

/** The terminal's answer to one alert; the alert id is the topic level before `ack`. */
export interface AckPayload {
  accepted: boolean;
  /** Why it was rejected (e.g. "NOT-MATCH", "CLEARED"). */
  reasonCode?: string;
  /** Officer or terminal id. */
  by?: string;
}

/** A read as published live on `reads` (only when `publishReads` is on): no images, no candidates. */
export interface ReadPayload {
  uuid: string;
  unitId: string;
  cameraId: string;
  plate: string;
  confidence: number;
  firstSeen: number;
  lastSeen: number;
  latitude: number | null;
  longitude: number | null;
  positionValid: boolean;
  closed: boolean;
}

/**
 * An urgent hot list entry or cancellation from the agency (docs/sync-protocol.md): the same object as in the
 * server's manifest, with `op`. Validated by src/sync/hotlist-sync.ts. Also accepted on `alpr/all/hotlist/urgent`.
 */
export type UrgentHotlistPayload = Record<string, unknown>;

/** Largest urgent hot list message accepted (bytes). */
export const MAX_URGENT_BYTES = 4096;

/**
 * The unit's health on `health` (retained; no plate data): what `alpr-edge status` shows, in short. Times here are
 * ISO 8601 strings (UTC), except `sync.lastSuccessAt` (ms since the epoch). A terminal ignores keys it does not
 * know (a newer unit may add some); `healthSchema` is the exact form this version sends.
 */
export const healthSchema = z.strictObject({
  unitId: z.string(),
  state: z.enum(['starting', 'running', 'stopping', 'stopped']),
  /** When this status was taken (ISO 8601 UTC). */
  at: z.iso.datetime(),
  cameras: z.array(z.strictObject({ id: z.string(), connected: z.boolean(), fpsProcessed: z.number(), lastError: z.string().nullable() })),
  recognition: z.strictObject({ workerAlive: z.boolean(), latencyP99Ms: z.number().nullable() }),
  gps: z.strictObject({ source: z.enum(['gps', 'fixed', 'none']), connected: z.boolean(), fixValid: z.boolean() }),
  store: z.strictObject({ reads: z.int(), pendingSync: z.int(), imageBytes: z.int(), readsWaitingInMemory: z.int(), framesDroppedForStorage: z.int() }),
  disk: z.strictObject({ freeBytes: z.number(), totalBytes: z.number() }).nullable(),
  alerts: z.strictObject({ pending: z.record(z.string(), z.int()), unacknowledged: z.int() }),
  sync: z
    .strictObject({ lastSuccessAt: z.number().nullable(), consecutiveFailures: z.int(), backlog: z.record(z.string(), z.int()) })
    .nullable(),
  faults: z.array(
    z.strictObject({
      code: z.enum(['camera', 'recognition', 'storage', 'gps', 'clock', 'uplink']),
      subject: z.string(),
      message: z.string(),
      since: z.iso.datetime(),
    }),
  ),
});

export type HealthPayload = z.infer<typeof healthSchema>;

/** Topic (relative to `alpr/<unit id>/`; `+` stands for the alert id) → payload. */
export interface MqttTopicMap {
  status: UnitPresence;
  reads: ReadPayload;
  alerts: AlertPayload;
  acks: ReceiptPayload;
  'alerts/+/ack': AckPayload;
  health: HealthPayload;
  'hotlist/urgent': UrgentHotlistPayload;
}

export type MqttTopicKey = keyof MqttTopicMap;

export interface TopicSpec {
  /** Who publishes: the unit, or the patrol terminal. */
  from: 'unit' | 'terminal' | 'central';
  qos: 0 | 1;
  retain: boolean;
  /** How the payload is written: the plain word, or JSON. */
  encoding: 'text' | 'json';
}

export const TOPICS: { readonly [K in MqttTopicKey]: TopicSpec } = {
  // QoS 1 so the last will and the "online" that follows a reconnect are not lost on a flaky link.
  status: { from: 'unit', qos: 1, retain: true, encoding: 'text' },
  // A live feed: the reads themselves reach the agency through sync, so one lost on a dead link is not lost.
  reads: { from: 'unit', qos: 0, retain: false, encoding: 'json' },
  alerts: { from: 'unit', qos: 1, retain: false, encoding: 'json' },
  // The terminal's receipt of each alert: what marks it delivered. QoS 1: a lost receipt only means a repeat.
  acks: { from: 'terminal', qos: 1, retain: false, encoding: 'json' },
  'alerts/+/ack': { from: 'terminal', qos: 1, retain: false, encoding: 'json' },
  // Periodic, and the latest is all that matters: a newcomer gets it at once.
  health: { from: 'unit', qos: 0, retain: true, encoding: 'json' },
  // From the agency (the broker's ACL lets only its central account publish here); never retained: applied once.
  'hotlist/urgent': { from: 'central', qos: 1, retain: false, encoding: 'json' },
};

export const TOPIC_ROOT = 'alpr';

/** Largest ack payload accepted (bytes); an ack is a few dozen. */
export const MAX_ACK_BYTES = 1024;
const MAX_CODE_LENGTH = 64;

/**
 * A unit id or alert id used as one topic level: no separator, no wildcard, no control character, and short
 * enough to read on a terminal.
 */
export function topicLevelProblem(value: string): string | null {
  if (value.length === 0) return 'is empty';
  if (value.length > 128) return 'is longer than 128 characters';
  if (/[/+#]/.test(value)) return 'holds "/", "+" or "#"';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) return 'holds a control character';
  return null;
}

function assertTopicLevel(what: string, value: string): void {
  const problem = topicLevelProblem(value);
  if (problem !== null) throw new Error(`${what} ${JSON.stringify(value)} cannot be an MQTT topic level: it ${problem}`);
}

/** `alpr/<unit id>/<key>` for the unit's own topics. */
export function unitTopic(unitId: string, key: Exclude<MqttTopicKey, 'alerts/+/ack'>): string {
  assertTopicLevel('unit id', unitId);
  return `${TOPIC_ROOT}/${unitId}/${key}`;
}

/** A subscription filter for one of the unit's own topics; `unitId` '+' means every unit. */
export function unitTopicFilter(unitId: string, key: Exclude<MqttTopicKey, 'alerts/+/ack'>): string {
  return unitId === '+' ? `${TOPIC_ROOT}/+/${key}` : unitTopic(unitId, key);
}

/** `alpr/<unit id>/alerts/<alert id>/ack`: where a terminal answers one alert. */
export function ackTopic(unitId: string, alertId: string): string {
  assertTopicLevel('unit id', unitId);
  assertTopicLevel('alert id', alertId);
  return `${TOPIC_ROOT}/${unitId}/alerts/${alertId}/ack`;
}

/** `alpr/<unit id>/alerts/+/ack`: the unit's subscription to all answers. `unitId` '+' means every unit. */
export function ackFilter(unitId: string): string {
  return `${TOPIC_ROOT}/${unitId}/alerts/+/ack`;
}

/** `alpr/<unit id>/#`: everything a terminal of this unit may see. */
export function unitFilter(unitId: string): string {
  return `${TOPIC_ROOT}/${unitId}/#`;
}

/** Whether an MQTT subscription filter (with `+` and `#` wildcards) receives messages published on `topic`. */
export function filterCovers(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return i < f.length - 1 ? false : true; // '#' also covers its parent level: a/# covers a
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Which of the map's topics a concrete topic name is, with its unit id (and alert id for acks). */
export function classifyTopic(
  topic: string,
): { key: MqttTopicKey; unitId: string; alertId?: string } | null {
  const levels = topic.split('/');
  if (levels[0] !== TOPIC_ROOT || levels.length < 3) return null;
  const unitId = levels[1]!;
  if (topicLevelProblem(unitId) !== null) return null;
  const rest = levels.slice(2);
  if (rest.length === 1) {
    const key = rest[0]!;
    if (key === 'status' || key === 'reads' || key === 'alerts' || key === 'acks' || key === 'health') return { key, unitId };
    return null;
  }
  if (rest.length === 2 && rest[0] === 'hotlist' && rest[1] === 'urgent') return { key: 'hotlist/urgent', unitId };
  if (rest.length === 3 && rest[0] === 'alerts' && rest[2] === 'ack') {
    const alertId = rest[1]!;
    if (topicLevelProblem(alertId) !== null) return null;
    return { key: 'alerts/+/ack', unitId, alertId };
  }
  return null;
}

/** The bytes of a payload, as its topic's spec says. */
export function encodePayload<K extends MqttTopicKey>(key: K, payload: MqttTopicMap[K]): Buffer {
  return TOPICS[key].encoding === 'text' ? Buffer.from(String(payload), 'utf8') : Buffer.from(JSON.stringify(payload), 'utf8');
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const where = issue.path.length > 0 ? issue.path.join('.') : 'payload';
      return `${where}: ${issue.message}`;
    })
    .join('; ');
}

function parseJson(payload: Buffer, maxBytes: number): Parsed<unknown> {
  if (payload.length === 0) return { ok: false, reason: 'empty payload' };
  if (payload.length > maxBytes) return { ok: false, reason: `payload of ${payload.length} bytes (at most ${maxBytes})` };
  try {
    return { ok: true, value: JSON.parse(payload.toString('utf8')) as unknown };
  } catch (err) {
    return { ok: false, reason: `not JSON (${(err as Error).message})` };
  }
}

const printable = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    // eslint-disable-next-line no-control-regex
    .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'holds a control character');

const ackSchema = z.strictObject({
  accepted: z.boolean(),
  reasonCode: printable(MAX_CODE_LENGTH).optional(),
  by: printable(MAX_CODE_LENGTH).optional(),
});

export interface ParsedAck extends AckPayload {
  unitId: string;
  alertId: string;
}

/**
 * Reads one message on `alpr/<unit>/alerts/<id>/ack`. Anything that is not exactly an ack (wrong topic, not
 * JSON, a missing or mistyped `accepted`, unknown keys, oversized) comes back with the reason, never thrown:
 * one broken terminal must not stop the unit from hearing the others.
 */
export function parseAck(topic: string, payload: Buffer): Parsed<ParsedAck> {
  const where = classifyTopic(topic);
  if (where === null || where.key !== 'alerts/+/ack' || where.alertId === undefined) {
    return { ok: false, reason: `not an ack topic: ${topic}` };
  }
  const json = parseJson(payload, MAX_ACK_BYTES);
  if (!json.ok) return json;
  const result = ackSchema.safeParse(json.value);
  if (!result.success) return { ok: false, reason: describeIssues(result.error) };
  const ack: ParsedAck = { unitId: where.unitId, alertId: where.alertId, accepted: result.data.accepted };
  if (result.data.reasonCode !== undefined) ack.reasonCode = result.data.reasonCode;
  if (result.data.by !== undefined) ack.by = result.data.by;
  return { ok: true, value: ack };
}

const receiptSchema = z.strictObject({
  alertId: z.string().refine((s) => topicLevelProblem(s) === null, 'not an alert id'),
  terminalId: printable(MAX_CODE_LENGTH),
});

export interface ParsedReceipt extends ReceiptPayload {
  unitId: string;
}

/** Reads one message on `alpr/<unit>/acks`; anything else comes back with the reason, never thrown. */
export function parseReceipt(topic: string, payload: Buffer): Parsed<ParsedReceipt> {
  const where = classifyTopic(topic);
  if (where === null || where.key !== 'acks') return { ok: false, reason: `not the acks topic: ${topic}` };
  const json = parseJson(payload, MAX_ACK_BYTES);
  if (!json.ok) return json;
  const result = receiptSchema.safeParse(json.value);
  if (!result.success) return { ok: false, reason: describeIssues(result.error) };
  return { ok: true, value: { unitId: where.unitId, alertId: result.data.alertId, terminalId: result.data.terminalId } };
}

const alertMessageSchema = z.strictObject({
  id: z.string().refine((s) => topicLevelProblem(s) === null, 'not usable as a topic level'),
  seq: z.number(),
  unitId: z.string(),
  raisedAt: z.number(),
  plate: z.string(),
  confidence: z.number(),
  cameraId: z.string(),
  seenAt: z.number(),
  latitude: z.number().nullable(),
  longitude: z.number().nullable(),
  positionValid: z.boolean(),
  plateState: z.strictObject({ code: z.string(), confidence: z.number() }).optional(),
  hit: z.strictObject({
    list: z.string(),
    category: z.string(),
    priority: z.number(),
    matchKind: z.enum(['exact', 'equivalent', 'distance', 'wildcard']),
    distance: z.number().optional(),
    entryPlate: z.string(),
    entryId: z.number(),
    entryState: z.string().optional(),
    stateMismatch: z.boolean().optional(),
  }),
  cropRef: z.string().nullable(),
  frameRef: z.string().nullable(),
  notice: z.string(),
}) satisfies z.ZodType<AlertMessage>;

const cropSchema = z.strictObject({
  format: z.literal('jpeg'),
  width: z.int().positive(),
  height: z.int().positive(),
  base64: z.base64(),
}) satisfies z.ZodType<CropImage>;

const alertPayloadSchema = z.strictObject({
  alert: alertMessageSchema,
  lateMs: z.number().optional(),
  expired: z.boolean(),
  sentAt: z.number(),
  crop: cropSchema.optional(),
});

/** Largest alert message accepted by the terminal simulator (bytes): the crop's bound, base64, and room to spare. */
export const MAX_ALERT_BYTES = 512 * 1024;

/** Reads one message on `alpr/<unit>/alerts` (the terminal's side). */
export function parseAlertPayload(payload: Buffer): Parsed<AlertPayload> {
  const json = parseJson(payload, MAX_ALERT_BYTES);
  if (!json.ok) return json;
  const result = alertPayloadSchema.safeParse(json.value);
  if (!result.success) return { ok: false, reason: describeIssues(result.error) };
  return { ok: true, value: result.data as AlertPayload };
}

/** Reads the retained `status`. */
export function parseStatus(payload: Buffer): Parsed<UnitPresence> {
  const text = payload.toString('utf8');
  return text === 'online' || text === 'offline' ? { ok: true, value: text } : { ok: false, reason: `unknown status ${JSON.stringify(text.slice(0, 32))}` };
}

/** Reads the retained `health`: any JSON object is taken (a newer unit may send more than healthSchema says). */
export function parseHealth(payload: Buffer): Parsed<Record<string, unknown>> {
  const json = parseJson(payload, 256 * 1024);
  if (!json.ok) return json;
  const value = json.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'not a JSON object' };
  return { ok: true, value: value as Record<string, unknown> };
}

/** What of a stored read goes on `reads`. */
export function readPayload(read: StoredRead): ReadPayload {
  return {
    uuid: read.uuid,
    unitId: read.unitId,
    cameraId: read.cameraId,
    plate: read.plate,
    confidence: read.confidence,
    firstSeen: read.firstSeen,
    lastSeen: read.lastSeen,
    latitude: read.position.latitude,
    longitude: read.position.longitude,
    positionValid: read.position.valid,
    closed: read.closed,
  };
}

/** Reads one message on `alpr/<unit>/hotlist/urgent` or `alpr/all/hotlist/urgent`: JSON, size-checked. */
export function parseUrgentHotlist(payload: Buffer): Parsed<UrgentHotlistPayload> {
  const json = parseJson(payload, MAX_URGENT_BYTES);
  if (!json.ok) return json;
  if (typeof json.value !== 'object' || json.value === null || Array.isArray(json.value)) return { ok: false, reason: 'not a JSON object' };
  return { ok: true, value: json.value as UrgentHotlistPayload };
}

/**
 * The line protocol between the unit and the in-car terminal (docs/serial-protocol.md): NMEA-like ASCII frames
 * `$ALPR,<TYPE>,<field>,...*CS\r\n`, CS being the two-hex-digit XOR of every character between `$` and `*`.
 * Fields are percent-encoded so that none holds `,` `*` `$` `%` or anything outside printable ASCII.
 * Pure functions: no I/O, no clock.
 */
import type { AlertDelivery, AlertMessage, MatchKind } from './types.js';

/** The longest frame, from `$` to the closing LF inclusive. Longer input is refused without being kept. */
export const MAX_FRAME_LENGTH = 1024;

export const TALKER = 'ALPR';

export type FrameType = 'ALERT' | 'HB' | 'ACK' | 'NAK' | 'RESP' | 'FAULT';

/** Why a frame was refused; also the reason sent back in a NAK. */
export type NakReason = 'CHECKSUM' | 'FORMAT' | 'TYPE' | 'LENGTH';

export interface AlertFrame {
  type: 'ALERT';
  delivery: AlertDelivery;
}

/** "I am here": sent by both ends every heartbeat interval. */
export interface HeartbeatFrame {
  type: 'HB';
  /** Sender's heartbeat counter (starts at 0, +1 per heartbeat, wraps to 0 after 999999999). */
  seq: number;
  /** Sender's clock (ms since the epoch, UTC). */
  time: number;
}

/** Receipt of a frame that carries an alert id: ALERT (terminal to unit) or RESP (unit to terminal). */
export interface AckFrame {
  type: 'ACK';
  id: string;
}

/** The frame for this id arrived damaged or could not be taken; the sender should send it again. */
export interface NakFrame {
  type: 'NAK';
  id: string;
  reason: string;
}

/** The officer's answer to an alert (terminal to unit). */
export interface RespFrame {
  type: 'RESP';
  id: string;
  accepted: boolean;
  /** Why (e.g. NOT-MATCH, CLEARED); null when the terminal gives none. */
  reasonCode: string | null;
  /** Officer or terminal id; null when the terminal gives none. */
  by: string | null;
}

/**
 * A fault of the unit (P16: a camera, recognition, storage, GPS, the clock or the uplink stopped working), or its
 * end (unit to terminal, not acknowledged): sent when it is raised or cleared, and every open fault again when the
 * line (re)opens, so a terminal switched on later still learns of it.
 */
export interface FaultFrame {
  type: 'FAULT';
  code: string;
  /** Which camera or disk; empty for the unit as a whole. */
  subject: string;
  state: 'RAISED' | 'CLEARED';
  /** When it was raised (ms since the epoch, UTC). */
  since: number;
  message: string;
}

export type Frame = AlertFrame | HeartbeatFrame | AckFrame | NakFrame | RespFrame | FaultFrame;

export type DecodeResult =
  | { ok: true; frame: Frame }
  | {
      ok: false;
      error: string;
      reason: NakReason;
      /** What could still be read of a refused frame, so the receiver can NAK the right id. */
      type?: string;
      id?: string;
    };

export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

/** Fields after the type, per frame type, in order (documented in docs/serial-protocol.md). */
export const ALERT_FIELDS = [
  'id',
  'seq',
  'unitId',
  'raisedAt',
  'seenAt',
  'plate',
  'confidence',
  'cameraId',
  'latitude',
  'longitude',
  'positionValid',
  'list',
  'category',
  'priority',
  'matchKind',
  'distance',
  'entryPlate',
  'entryId',
  'entryState',
  'lateMs',
  'expired',
  'cropRef',
  'frameRef',
  'notice',
] as const;

export const FIELD_COUNTS: Record<FrameType, number> = {
  ALERT: ALERT_FIELDS.length,
  HB: 2,
  ACK: 1,
  NAK: 2,
  RESP: 4,
  FAULT: 5,
};

/** Longest alert id, reason code or officer id accepted. */
export const MAX_ID_LENGTH = 64;

const MATCH_KINDS: readonly MatchKind[] = ['exact', 'equivalent', 'distance', 'wildcard'];
const HB_SEQ_WRAP = 1_000_000_000;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
const HEX = '0123456789ABCDEF';

/** Two upper-case hex digits: the XOR of every character of `body` (the text between `$` and `*`). */
export function frameChecksum(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum ^= body.charCodeAt(i);
  return HEX[sum >> 4]! + HEX[sum & 15]!;
}

/**
 * Percent-encodes a field: `%` `,` `*` `$` and every byte outside printable ASCII (0x20-0x7E) of the field's
 * UTF-8 become `%HH` (upper-case hex). Plain text stays readable on a serial monitor.
 */
export function escapeField(value: string): string {
  if (/^[\x20-\x7e]*$/.test(value) && !/[%,*$]/.test(value)) return value;
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const plain = byte >= 0x20 && byte <= 0x7e && byte !== 0x25 && byte !== 0x2c && byte !== 0x2a && byte !== 0x24;
    out += plain ? String.fromCharCode(byte) : '%' + HEX[byte >> 4]! + HEX[byte & 15]!;
  }
  return out;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The inverse of escapeField. Throws ProtocolError for a `%` without two hex digits or bytes that are not UTF-8. */
export function unescapeField(field: string): string {
  if (!field.includes('%')) return field;
  const bytes: number[] = [];
  for (let i = 0; i < field.length; i++) {
    const c = field.charCodeAt(i);
    if (c !== 0x25) {
      bytes.push(c);
      continue;
    }
    const hex = field.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new ProtocolError(`bad escape "%${hex}" (expected %HH)`);
    bytes.push(parseInt(hex, 16));
    i += 2;
  }
  try {
    return UTF8.decode(Uint8Array.from(bytes));
  } catch {
    throw new ProtocolError('escaped bytes are not UTF-8');
  }
}

/** One whole frame, `$` to CR LF. Throws ProtocolError when it would be longer than MAX_FRAME_LENGTH. */
export function encodeFrame(type: FrameType, fields: readonly string[]): string {
  const body = [TALKER, type, ...fields.map(escapeField)].join(',');
  const line = `$${body}*${frameChecksum(body)}\r\n`;
  if (line.length > MAX_FRAME_LENGTH) {
    throw new ProtocolError(`${type} frame of ${line.length} bytes is longer than ${MAX_FRAME_LENGTH}`);
  }
  return line;
}

/**
 * The ALERT frame for a delivery. An alert too long for one frame (very long image paths or list names) loses
 * its image references first, then has its free-text fields shortened, rather than not reaching the officer.
 */
export function encodeAlert(d: AlertDelivery): string {
  const a = d.alert;
  const fields = (shorten: number | null, refs: boolean): string[] => {
    const text = (s: string) => (shorten === null || s.length <= shorten ? s : s.slice(0, shorten - 1) + '~');
    return [
      a.id,
      String(a.seq),
      text(a.unitId),
      isoTime(a.raisedAt),
      isoTime(a.seenAt),
      a.plate,
      formatNumber(a.confidence, 2),
      text(a.cameraId),
      a.latitude === null ? '' : formatNumber(a.latitude, 6),
      a.longitude === null ? '' : formatNumber(a.longitude, 6),
      flag(a.positionValid),
      text(a.hit.list),
      text(a.hit.category),
      String(a.hit.priority),
      a.hit.matchKind,
      a.hit.distance === undefined ? '' : String(a.hit.distance),
      text(a.hit.entryPlate),
      String(a.hit.entryId),
      a.hit.entryState ?? '',
      d.lateMs === undefined ? '' : String(Math.max(0, Math.round(d.lateMs))),
      flag(d.expired),
      refs ? (a.cropRef ?? '') : '',
      refs ? (a.frameRef ?? '') : '',
      a.notice,
    ];
  };
  const tries: Array<[number | null, boolean]> = [
    [null, true],
    [null, false],
    [64, false],
    [24, false],
  ];
  let error: unknown;
  for (const [shorten, refs] of tries) {
    let line: string;
    try {
      line = encodeFrame('ALERT', fields(shorten, refs));
    } catch (err) {
      error = err;
      continue;
    }
    // Never put on the wire what a terminal following this protocol would refuse (an empty plate, a long id).
    const check = decodeFrame(line);
    if (!check.ok) throw new ProtocolError(`alert ${a.id} would be refused: ${check.error}`);
    return line;
  }
  throw error;
}

export function encodeHeartbeat(seq: number, time: number): string {
  return encodeFrame('HB', [String(seq % HB_SEQ_WRAP), isoTime(time)]);
}

export function encodeAck(id: string): string {
  return encodeFrame('ACK', [id]);
}

export function encodeNak(id: string, reason: string): string {
  return encodeFrame('NAK', [id, reason]);
}

export function encodeResp(id: string, accepted: boolean, reasonCode?: string | null, by?: string | null): string {
  return encodeFrame('RESP', [id, accepted ? 'ACCEPT' : 'REJECT', reasonCode ?? '', by ?? '']);
}

export function encodeFault(f: Omit<FaultFrame, 'type'>): string {
  // a long message is cut to fit the frame: the terminal shows what the fault is, the unit's status says the rest
  return encodeFrame('FAULT', [f.code, f.subject, f.state, isoTime(f.since), f.message.slice(0, 300)]);
}

export function encode(frame: Frame): string {
  switch (frame.type) {
    case 'FAULT':
      return encodeFault(frame);
    case 'ALERT':
      return encodeAlert(frame.delivery);
    case 'HB':
      return encodeHeartbeat(frame.seq, frame.time);
    case 'ACK':
      return encodeAck(frame.id);
    case 'NAK':
      return encodeNak(frame.id, frame.reason);
    case 'RESP':
      return encodeResp(frame.id, frame.accepted, frame.reasonCode, frame.by);
  }
}

/**
 * Reads one line (with or without its CR LF) as a frame. Strict: anything but one whole, well-formed frame with
 * the right checksum, a known type and the right number of fields is refused with a reason a person can act on.
 */
export function decodeFrame(input: string): DecodeResult {
  const line = input.replace(/\r?\n?$/, '');
  if (line.length + 2 > MAX_FRAME_LENGTH) {
    return refuse('LENGTH', `line of ${line.length + 2} bytes is longer than ${MAX_FRAME_LENGTH}`);
  }
  if (line.length === 0) return refuse('FORMAT', 'empty line');
  const bad = /[^\x20-\x7e]/.exec(line);
  if (bad) {
    const code = bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(2, '0');
    return refuse('FORMAT', `byte 0x${code} at column ${bad.index + 1} is not printable ASCII (wrong baud rate?)`);
  }
  if (line[0] !== '$') return refuse('FORMAT', 'does not start with "$" (the end of a frame whose start was lost?)');
  const dollar = line.indexOf('$', 1);
  if (dollar >= 0) return refuse('FORMAT', `a second "$" at column ${dollar + 1} (a frame cut short?)`);
  const star = line.lastIndexOf('*');
  const cs = star < 0 ? '' : line.slice(star + 1);
  const body = line.slice(1, star < 0 ? undefined : star);
  const raw = body.split(',');
  const hint = { type: raw[1], id: raw.length > 2 ? safeId(raw[2]!) : undefined };
  if (raw[0] !== TALKER) {
    return refuse('FORMAT', `not an ${TALKER} frame (starts "$${raw[0]!.slice(0, 8)}")`);
  }
  if (star < 0) return refuse('FORMAT', 'no "*" checksum (half a frame?)', hint);
  if (body.includes('*')) return refuse('FORMAT', `a second "*" in the frame`, hint);
  if (!/^[0-9A-Fa-f]{2}$/.test(cs)) return refuse('FORMAT', `checksum "${cs.slice(0, 8)}" is not two hex digits`, hint);
  const expected = frameChecksum(body);
  if (cs.toUpperCase() !== expected) {
    return refuse('CHECKSUM', `checksum ${cs.toUpperCase()} does not match the frame (${expected})`, hint);
  }
  const type = raw[1] ?? '';
  if (!(type in FIELD_COUNTS)) return refuse('TYPE', `unknown frame type "${type.slice(0, 16)}"`, hint);
  const want = FIELD_COUNTS[type as FrameType];
  const got = raw.length - 2;
  if (got !== want) return refuse('FORMAT', `${type} has ${got} fields, expected ${want}`, hint);
  let fields: string[];
  try {
    fields = raw.slice(2).map(unescapeField);
  } catch (err) {
    return refuse('FORMAT', `${type}: ${(err as Error).message}`, hint);
  }
  try {
    return { ok: true, frame: readFields(type as FrameType, fields) };
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    return refuse('FORMAT', `${type}: ${err.message}`, { type, id: fields[0] });
  }
}

function readFields(type: FrameType, f: string[]): Frame {
  const at = (i: number) => f[i]!;
  switch (type) {
    case 'FAULT': {
      const state = at(2);
      if (state !== 'RAISED' && state !== 'CLEARED') throw new ProtocolError(`state "${state.slice(0, 16)}" is neither RAISED nor CLEARED`);
      return { type, code: id(at(0), 'code'), subject: at(1).slice(0, MAX_ID_LENGTH), state, since: time(at(3), 'since'), message: text(at(4), 'message', true) };
    }
    case 'HB':
      return { type, seq: integer(at(0), 'seq', 0, HB_SEQ_WRAP - 1), time: time(at(1), 'time') };
    case 'ACK':
      return { type, id: id(at(0), 'id') };
    case 'NAK':
      return { type, id: at(0) === '' ? '' : id(at(0), 'id'), reason: text(at(1), 'reason', true) };
    case 'RESP': {
      const answer = at(1);
      if (answer !== 'ACCEPT' && answer !== 'REJECT') {
        throw new ProtocolError(`answer "${answer.slice(0, 16)}" is neither ACCEPT nor REJECT`);
      }
      return {
        type,
        id: id(at(0), 'id'),
        accepted: answer === 'ACCEPT',
        reasonCode: at(2) === '' ? null : text(at(2), 'reason code'),
        by: at(3) === '' ? null : text(at(3), 'officer id'),
      };
    }
    case 'ALERT':
      return { type, delivery: readAlert(f) };
  }
}

function readAlert(f: string[]): AlertDelivery {
  const v = Object.fromEntries(ALERT_FIELDS.map((name, i) => [name, f[i]!])) as Record<
    (typeof ALERT_FIELDS)[number],
    string
  >;
  if (!(MATCH_KINDS as readonly string[]).includes(v.matchKind)) {
    throw new ProtocolError(`match kind "${v.matchKind.slice(0, 16)}" is not one of ${MATCH_KINDS.join(', ')}`);
  }
  const optional = <T>(s: string, read: (s: string) => T): T | undefined => (s === '' ? undefined : read(s));
  const alert: AlertMessage = {
    id: id(v.id, 'id'),
    seq: integer(v.seq, 'seq', 0, Number.MAX_SAFE_INTEGER),
    unitId: v.unitId,
    raisedAt: time(v.raisedAt, 'raised time'),
    seenAt: time(v.seenAt, 'seen time'),
    plate: text(v.plate, 'plate'),
    confidence: decimal(v.confidence, 'confidence'),
    cameraId: v.cameraId,
    latitude: v.latitude === '' ? null : decimal(v.latitude, 'latitude', -90, 90),
    longitude: v.longitude === '' ? null : decimal(v.longitude, 'longitude', -180, 180),
    positionValid: readFlag(v.positionValid, 'position valid'),
    hit: {
      list: v.list,
      category: v.category,
      priority: integer(v.priority, 'priority', 0, 1_000_000),
      matchKind: v.matchKind as MatchKind,
      entryPlate: v.entryPlate,
      entryId: integer(v.entryId, 'entry id', 0, Number.MAX_SAFE_INTEGER),
    },
    cropRef: v.cropRef === '' ? null : v.cropRef,
    frameRef: v.frameRef === '' ? null : v.frameRef,
    notice: text(v.notice, 'notice', true),
  };
  const distance = optional(v.distance, (s) => integer(s, 'distance', 0, 100));
  if (distance !== undefined) alert.hit.distance = distance;
  if (v.entryState !== '') alert.hit.entryState = v.entryState;
  const delivery: AlertDelivery = { alert, expired: readFlag(v.expired, 'expired') };
  const lateMs = optional(v.lateMs, (s) => integer(s, 'late ms', 0, Number.MAX_SAFE_INTEGER));
  if (lateMs !== undefined) delivery.lateMs = lateMs;
  return delivery;
}

function id(s: string, what: string): string {
  return text(s, what, false, MAX_ID_LENGTH);
}

function text(s: string, what: string, long = false, max = long ? MAX_FRAME_LENGTH : MAX_ID_LENGTH): string {
  if (s === '') throw new ProtocolError(`${what} is empty`);
  if (s.length > max) throw new ProtocolError(`${what} is longer than ${max} characters`);
  return s;
}

function integer(s: string, what: string, min: number, max: number): number {
  if (!/^\d{1,16}$/.test(s)) throw new ProtocolError(`${what} "${s.slice(0, 16)}" is not a whole number`);
  const n = Number(s);
  if (n < min || n > max) throw new ProtocolError(`${what} ${n} is outside ${min}..${max}`);
  return n;
}

function decimal(s: string, what: string, min = -Infinity, max = Infinity): number {
  if (!/^-?\d{1,12}(\.\d{1,12})?$/.test(s)) throw new ProtocolError(`${what} "${s.slice(0, 16)}" is not a number`);
  const n = Number(s);
  if (n < min || n > max) throw new ProtocolError(`${what} ${n} is outside ${min}..${max}`);
  return n;
}

function time(s: string, what: string): number {
  const t = ISO_UTC.test(s) ? Date.parse(s) : NaN;
  if (Number.isNaN(t)) {
    throw new ProtocolError(`${what} "${s.slice(0, 32)}" is not an ISO 8601 UTC time (YYYY-MM-DDTHH:MM:SS.sssZ)`);
  }
  return t;
}

function readFlag(s: string, what: string): boolean {
  if (s === '1') return true;
  if (s === '0') return false;
  throw new ProtocolError(`${what} "${s.slice(0, 8)}" is neither 1 nor 0`);
}

function flag(b: boolean): string {
  return b ? '1' : '0';
}

function isoTime(t: number): string {
  return new Date(t).toISOString();
}

/** Fixed decimals without trailing zeros: 93.5, not 93.50; -23.55052, not -23.550520. */
function formatNumber(n: number, decimals: number): string {
  if (!Number.isFinite(n)) throw new ProtocolError(`cannot send the number ${n}`);
  const s = n.toFixed(decimals);
  const trimmed = s.includes('.') ? s.replace(/\.?0+$/, '') : s;
  return trimmed === '-0' ? '0' : trimmed;
}

/** An id from a refused frame, if it is plausible enough to NAK. */
function safeId(raw: string): string | undefined {
  try {
    const s = unescapeField(raw);
    return s !== '' && s.length <= MAX_ID_LENGTH ? s : undefined;
  } catch {
    return undefined;
  }
}

function refuse(
  reason: NakReason,
  error: string,
  hint: { type?: string | undefined; id?: string | undefined } = {},
): DecodeResult {
  const result: DecodeResult = { ok: false, error, reason };
  if (hint.type !== undefined && /^[A-Z]{1,8}$/.test(hint.type)) result.type = hint.type;
  if (hint.id !== undefined) result.id = hint.id;
  return result;
}

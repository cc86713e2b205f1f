import {
  classifyTopic,
  parseAck,
  parseReceipt,
  parseUrgentHotlist,
} from './mqtt-topics.js';
import type { AlertAck } from './types.js';
import type { Clock } from '../util/clock.js';

/** What arrives on the alert channel's subscriptions, read and checked: an urgent hot list message, a receipt, an answer. */
export type Inbound =
  | { kind: 'urgent'; payload: Record<string, unknown> }
  | { kind: 'receipt'; alertId: string; terminalId: string | null }
  | { kind: 'ack'; ack: AlertAck }
  | { kind: 'malformed'; what: 'urgent hot list message' | 'receipt' | 'ack'; reason: string };

/** Reads a message of `unitId`'s subscriptions; the time of an answer is the unit's clock's. */
export function readInbound(topic: string, payload: Buffer, unitId: string, clock: Clock): Inbound {
  const where = classifyTopic(topic);
  if (where?.key === 'hotlist/urgent' && (where.unitId === unitId || where.unitId === 'all')) {
    const urgent = parseUrgentHotlist(payload);
    return urgent.ok ? { kind: 'urgent', payload: urgent.value } : { kind: 'malformed', what: 'urgent hot list message', reason: urgent.reason };
  }
  if (where?.key === 'acks') {
    const receipt = parseReceipt(topic, payload);
    if (!receipt.ok || receipt.value.unitId !== unitId) {
      return { kind: 'malformed', what: 'receipt', reason: receipt.ok ? `receipt for unit ${receipt.value.unitId}` : receipt.reason };
    }
    return { kind: 'receipt', alertId: receipt.value.alertId, terminalId: receipt.value.terminalId };
  }
  const parsed = parseAck(topic, payload);
  if (!parsed.ok || parsed.value.unitId !== unitId) {
    return { kind: 'malformed', what: 'ack', reason: parsed.ok ? `ack for unit ${parsed.value.unitId}` : parsed.reason };
  }
  const ack: AlertAck = {
    alertId: parsed.value.alertId,
    accepted: parsed.value.accepted,
    receivedAt: clock(),
    channel: 'mqtt',
  };
  if (parsed.value.reasonCode !== undefined) ack.reasonCode = parsed.value.reasonCode;
  if (parsed.value.by !== undefined) ack.by = parsed.value.by;
  return { kind: 'ack', ack };
}

import type { HealthPayload, ReadPayload } from './mqtt-topics.js';
/**
 * Alerts to the patrol terminal: what an alert says, and what a delivery channel (serial line, MQTT) must do.
 * The outbox (src/alerts/outbox.ts) decides what to send and when; a channel only moves one alert to its far
 * end and reports what the terminal answered.
 */

/** The fixed reminder every alert carries (P12: a hit is unverified until confirmed). */
export const VERIFY_NOTICE =
  'UNVERIFIED HIT: confirm with the state telecommunications system (e.g. CLETS) before any enforcement action.';

export type MatchKind = 'exact' | 'equivalent' | 'distance' | 'wildcard';

export interface AlertHit {
  /** Hot list name, its category/reason and priority (1 = highest). */
  list: string;
  category: string;
  priority: number;
  matchKind: MatchKind;
  /** Differing characters for a 'distance' match. */
  distance?: number;
  /** The entry as listed (may hold wildcards). */
  entryPlate: string;
  entryId: number;
  /** The state of the entry, if the list gives one. */
  entryState?: string;
  /** The state read on the plate is not the entry's (read confidently): the officer weighs the hit with that. */
  stateMismatch?: boolean;
}

export interface AlertMessage {
  /** Unique id of the alert (also its MQTT topic level and the serial ACK key). */
  id: string;
  /** Per-unit increasing number: the order alerts were raised in. */
  seq: number;
  unitId: string;
  /** When the hit was stored (ms since the epoch, UTC). */
  raisedAt: number;
  plate: string;
  confidence: number;
  cameraId: string;
  /** When the car was seen (the read's first frame). */
  seenAt: number;
  latitude: number | null;
  longitude: number | null;
  positionValid: boolean;
  /** The US state read on the plate (two-letter code, confidence 0-1), where one was legible. */
  plateState?: { code: string; confidence: number };
  hit: AlertHit;
  /** References to the read's images (paths in the unit's image store), for the terminal to fetch later. */
  cropRef: string | null;
  frameRef: string | null;
  notice: string;
}

/** One attempt to send an alert on a channel, as the outbox hands it over. */
export interface AlertDelivery {
  alert: AlertMessage;
  /** Set when the alert is sent later than it was raised by more than the outbox's "late" threshold. */
  lateMs?: number;
  /** Older than the configured live age: shown as expired, not as a live hit. */
  expired: boolean;
}

/** The officer's answer to an alert, from the terminal. */
export interface AlertAck {
  alertId: string;
  accepted: boolean;
  /** Why it was rejected (free text code from the terminal, e.g. "NOT-MATCH", "CLEARED"). */
  reasonCode?: string;
  /** Officer or terminal id, if the terminal gives one. */
  by?: string;
  /** When the unit received it (ms). */
  receivedAt: number;
  /** Where the answer came from: a terminal on a channel, or the unit's own alert screen (src/ui). */
  channel: 'serial' | 'mqtt' | 'ui';
}

export interface ChannelStatus {
  name: 'serial' | 'mqtt';
  /** The far end is reachable (serial port open and heartbeats answered; MQTT connected). */
  connected: boolean;
  /** Alerts handed to deliver() and not yet resolved. */
  inFlight: number;
  delivered: number;
  lastError: string | null;
  detail: string;
}

/** Who took an alert, where the channel knows (MQTT: the terminal id in its receipt). */
export interface DeliveryReceipt {
  by: string | null;
}

export interface AlertChannel {
  readonly name: 'serial' | 'mqtt';
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Sends one alert. Resolves once a terminal has it (serial: the terminal's ACK frame for this id; MQTT: a
   * terminal's receipt on `acks` for this id, never only the broker's PUBACK). Rejects when it cannot be
   * delivered now (port gone, broker down, no terminal's receipt in time, NAKs beyond the retry budget): the
   * outbox keeps it and tries again later. Must never deliver the same alert twice on its own initiative within
   * one call.
   */
  deliver(d: AlertDelivery): Promise<DeliveryReceipt | void>;
  /** Registers the handler for officers' acknowledgements. */
  onAck(handler: (ack: AlertAck) => void): void;
  /**
   * Optional: registers a handler the channel calls when trying again now is worth it (a terminal appeared, or a
   * terminal's receipt came for an alert between two attempts): the outbox cuts its back-off short.
   */
  onRetryNow?(handler: () => void): void;
  status(): ChannelStatus;
  // What a channel may also do, declared here so that the unit calls it without a cast; a channel that cannot
  // leaves it out (today MQTT has the first four, serial the last).
  /** Urgent hot list entries and cancellations arriving on the channel (MQTT), applied at once. */
  onUrgentHotlist?(handler: (payload: Record<string, unknown>, topic: string) => void): void;
  /** Who receives plate text from the channel (`alerts.mqtt.publishReads`), for the access log. */
  onReadsAccess?(handler: (a: ReadsAccess) => void): void;
  /** Publishes a stored read (only when `alerts.mqtt.publishReads` is on; the channel checks). */
  publishRead?(read: ReadPayload): boolean;
  /** Publishes the unit's health. */
  publishHealth?(health: HealthPayload): boolean;
  /** Tells the terminal of the unit's open faults (serial FAULT frames). */
  reportFaults?(faults: ReadonlyArray<{ code: string; subject: string; message: string; since: number }>): void;
}

/**
 * Plate text leaving the unit over MQTT (`publishReads`), for the access log: a terminal that subscribed to a
 * filter covering `alpr/<unit>/reads` on the embedded broker (who: its broker username), or, on an external
 * broker, the unit starting to publish reads there (who reads them is that broker's access control).
 */
export interface ReadsAccess {
  who: string;
  role: 'terminal' | 'system';
  topic: string;
  filter: string | null;
  clientId: string | null;
  broker: string;
}

import { z } from 'zod';

/** Configuration of the alert channels (wired into the unit's schema as `alerts`). */

export const serialChannelSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Send alerts to the patrol terminal over a serial line (the earlier form of a channel of type "serial" in alerts.channels, still read when alerts.channels is not given).'),
    port: z.string().default('').describe('Serial device of the terminal link (e.g. /dev/ttyUSB0).'),
    baudRate: z.int().min(300).max(921_600).default(115_200).describe('Baud rate of the terminal link.'),
    dataBits: z.union([z.literal(7), z.literal(8)]).default(8).describe('Data bits (7 or 8).'),
    parity: z.enum(['none', 'even', 'odd']).default('none').describe('Parity.'),
    stopBits: z.union([z.literal(1), z.literal(2)]).default(1).describe('Stop bits (1 or 2).'),
    ackTimeoutMs: z
      .int()
      .min(50)
      .max(60_000)
      .default(1000)
      .describe('How long to wait for the terminal to ACK an alert frame before sending it again (doubling).'),
    maxRetries: z
      .int()
      .min(0)
      .max(100)
      .default(5)
      .describe('Retransmissions of one alert before it is handed back to the outbox for a later try.'),
    heartbeatMs: z
      .int()
      .min(200)
      .max(600_000)
      .default(5000)
      .describe('Heartbeat interval; a terminal silent for three intervals is considered gone.'),
  })
  .describe('Alerts over a serial line (see docs/serial-protocol.md).');

export const mqttChannelSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Publish alerts, status and health over MQTT (the earlier form of a channel of type "mqtt" in alerts.channels, still read when alerts.channels is not given).'),
    mode: z
      .enum(['external', 'embedded'])
      .default('external')
      .describe('"external": connect to a broker at url; "embedded": run a broker on the unit for the car network (MQTT 3.1.1).'),
    url: z.string().default('mqtt://127.0.0.1:1883').describe('External broker URL (mqtt://, mqtts://, ws://, wss://).'),
    credentialsFile: z
      .string()
      .default('')
      .describe('File holding "username:password" (one line) for the broker; never put the password in this config.'),
    caFile: z.string().default('').describe('CA certificate (PEM) to verify an mqtts:// broker.'),
    clientId: z.string().default('').describe('MQTT client id; empty: alpr-edge-<unit id>.'),
    listenHost: z
      .string()
      .default('127.0.0.1')
      .describe(
        'Embedded broker: address to listen on. The default serves this machine only; set the address of the car network\'s interface (or 0.0.0.0) for a terminal on another device, with tlsCertFile and tlsKeyFile.',
      ),
    listenPort: z.int().min(1).max(65_535).default(1883).describe('Embedded broker: TCP port (8883 is usual with TLS).'),
    tlsCertFile: z
      .string()
      .default('')
      .describe('Embedded broker: server certificate (PEM, with its chain); with tlsKeyFile the broker speaks only MQTT over TLS (mqtts://).'),
    tlsKeyFile: z.string().default('').describe('Embedded broker: private key (PEM) of tlsCertFile; keep it 0600.'),
    receiptTimeoutMs: z
      .int()
      .min(100)
      .max(600_000)
      .default(5000)
      .describe(
        'How long to wait for a terminal\'s receipt of an alert (on alpr/<unit>/acks) before the outbox sends it again; only a receipt marks an alert delivered on MQTT.',
      ),
    cropMaxBytes: z
      .int()
      .min(0)
      .max(131_072)
      .default(49_152)
      .describe('Largest plate crop carried in an alert (JPEG bytes before base64); a larger crop is scaled down to fit. 0: alerts carry no image.'),
    publishReads: z
      .boolean()
      .default(false)
      .describe('Also publish every read (plate text) on alpr/<unit>/reads. Off by default: reads are data whose access is controlled.'),
  })
  .describe('Alerts over MQTT (topics under alpr/<unit id>/, see docs/mqtt.md).');

/** The kinds of alert channel (each made by its entry in the registry, src/alerts/channels.ts). */
export const CHANNEL_TYPES = ['serial', 'mqtt'] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];

const channelType = <T extends ChannelType>(type: T) => z.literal(type).describe(`Kind of alert channel: ${CHANNEL_TYPES.map((t) => JSON.stringify(t)).join(' or ')}.`);

/** One alert channel in `alerts.channels`, chosen by its type; listing it is what turns it on. */
export const channelSchema = z.discriminatedUnion('type', [
  serialChannelSchema.omit({ enabled: true }).extend({ type: channelType('serial') }),
  mqttChannelSchema.omit({ enabled: true }).extend({ type: channelType('mqtt') }),
]);

export const alertsSchema = z
  .strictObject({
    dedupWindowMs: z
      .int()
      .min(0)
      .max(7 * 24 * 3_600_000)
      .default(600_000)
      .describe('The same vehicle against the same entry alerts once in this window (again if the entry’s priority is raised).'),
    maxUnacknowledged: z
      .int()
      .min(1)
      .max(10_000)
      .default(50)
      .describe('Most alerts waiting for an officer’s acknowledgement; beyond it new hits are recorded and sent upstream only.'),
    lateAfterMs: z
      .int()
      .min(0)
      .max(3_600_000)
      .default(2000)
      .describe('An alert delivered more than this after it was raised is marked late (with how late).'),
    expireAfterMs: z
      .int()
      .min(1000)
      .max(7 * 24 * 3_600_000)
      .default(900_000)
      .describe('An alert older than this when it is finally delivered is delivered as expired, not as a live hit.'),
    channels: z
      .array(channelSchema)
      .max(CHANNEL_TYPES.length)
      .optional()
      .describe(
        'The alert channels, each chosen by its type (at most one of each), with its own keys as under alerts.serial and alerts.mqtt. Not given: the channels alerts.serial and alerts.mqtt enable (the earlier form, still read).',
      ),
    serial: serialChannelSchema.prefault({}),
    mqtt: mqttChannelSchema.prefault({}),
  })
  .superRefine((a, ctx) => {
    const seen = new Set<string>();
    a.channels?.forEach((c, i) => {
      if (seen.has(c.type)) ctx.addIssue({ code: 'custom', path: ['channels', i, 'type'], message: `a second channel of type "${c.type}": give each type once` });
      seen.add(c.type);
    });
    if (!a.channels) return;
    for (const type of CHANNEL_TYPES) {
      if (a[type].enabled) {
        ctx.addIssue({
          code: 'custom',
          path: [type, 'enabled'],
          message: `both alerts.channels and alerts.${type}.enabled are given: list the ${type} channel in alerts.channels (type: ${type}) with its keys, and remove alerts.${type}`,
        });
      }
    }
  })
  .describe('Alerts to the patrol terminal.');

export type AlertsConfig = z.infer<typeof alertsSchema>;
export type SerialChannelConfig = z.infer<typeof serialChannelSchema>;
export type MqttChannelConfig = z.infer<typeof mqttChannelSchema>;
export type ChannelConfig = z.infer<typeof channelSchema>;

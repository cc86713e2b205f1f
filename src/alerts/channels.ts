import type { Logger } from '../log/logger.js';
import type { AlertsConfig, ChannelConfig, ChannelType } from './config.js';
import type { AlertChannel } from './types.js';
import type { Clock } from '../util/clock.js';

/** What a channel is made with, besides its own config. */
export interface ChannelDeps {
  unitId: string;
  logger: Logger;
  clock: Clock;
  /** Reads an image of the store by its reference: MQTT alerts carry the plate crop with it (docs/mqtt.md). */
  readImage?: (ref: string) => Promise<Buffer>;
}

type Factory<T extends ChannelType> = (config: Extract<ChannelConfig, { type: T }>, deps: ChannelDeps) => Promise<AlertChannel>;

/**
 * The registry of alert channels by type, as cameras (src/camera/index.ts) and position sources (src/gps/index.ts)
 * are made by theirs. Each module is loaded only when a channel of its type is configured.
 */
export const CHANNEL_REGISTRY: { [T in ChannelType]: Factory<T> } = {
  serial: async (config: Extract<ChannelConfig, { type: 'serial' }>, deps) => {
    const { SerialAlertChannel } = await import('./serial.js');
    return new SerialAlertChannel({ ...config, enabled: true }, deps.logger.child({ channel: 'serial' }), { clock: deps.clock });
  },
  mqtt: async (config: Extract<ChannelConfig, { type: 'mqtt' }>, deps) => {
    const { MqttAlertChannel } = await import('./mqtt.js');
    const options = { clock: deps.clock, ...(deps.readImage ? { readImage: deps.readImage } : {}) };
    return new MqttAlertChannel({ ...config, enabled: true }, deps.unitId, deps.logger.child({ channel: 'mqtt' }), options);
  },
};

/**
 * The channels the config names: `alerts.channels`, or, in the earlier form, each of `alerts.serial` and
 * `alerts.mqtt` whose `enabled` is set (read as a channel of that type, in that order).
 */
export function configuredChannels(config: AlertsConfig): ChannelConfig[] {
  if (config.channels) return config.channels;
  const channels: ChannelConfig[] = [];
  const { enabled: serialEnabled, ...serial } = config.serial;
  if (serialEnabled) channels.push({ type: 'serial', ...serial });
  const { enabled: mqttEnabled, ...mqtt } = config.mqtt;
  if (mqttEnabled) channels.push({ type: 'mqtt', ...mqtt });
  return channels;
}

/** Makes the alert channels the config names, each by its type from the registry. */
export async function createChannels(
  config: AlertsConfig,
  unitId: string,
  logger: Logger,
  clock: Clock,
  readImage?: (ref: string) => Promise<Buffer>,
): Promise<AlertChannel[]> {
  const deps: ChannelDeps = { unitId, logger, clock, ...(readImage ? { readImage } : {}) };
  const channels: AlertChannel[] = [];
  for (const c of configuredChannels(config)) channels.push(await createChannel(c, deps));
  return channels;
}

export function createChannel(config: ChannelConfig, deps: ChannelDeps): Promise<AlertChannel> {
  // (each entry of the registry takes its own type's config)
  return (CHANNEL_REGISTRY[config.type] as Factory<typeof config.type>)(config as never, deps);
}

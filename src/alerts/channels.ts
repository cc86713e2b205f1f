import type { Logger } from '../log/logger.js';
import type { AlertsConfig } from './config.js';
import type { AlertChannel } from './types.js';
import type { Clock } from '../util/clock.js';

/**
 * The alert channels the config enables; each is loaded only when enabled. `readImage` reads an image of the
 * store by its reference: MQTT alerts carry the plate crop with it (docs/mqtt.md).
 */
export async function createChannels(
  config: AlertsConfig,
  unitId: string,
  logger: Logger,
  clock: Clock,
  readImage?: (ref: string) => Promise<Buffer>,
): Promise<AlertChannel[]> {
  const channels: AlertChannel[] = [];
  if (config.serial.enabled) {
    const { SerialAlertChannel } = await import('./serial.js');
    channels.push(new SerialAlertChannel(config.serial, logger.child({ channel: 'serial' }), { clock }));
  }
  if (config.mqtt.enabled) {
    const { MqttAlertChannel } = await import('./mqtt.js');
    channels.push(new MqttAlertChannel(config.mqtt, unitId, logger.child({ channel: 'mqtt' }), { clock, ...(readImage ? { readImage } : {}) }));
  }
  return channels;
}

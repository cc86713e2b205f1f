import type { Logger } from '../log/logger.js';
import type { AlertsConfig } from './config.js';
import type { AlertChannel } from './types.js';
import type { Clock } from '../util/clock.js';

/** The alert channels the config enables; each is loaded only when enabled. */
export async function createChannels(config: AlertsConfig, unitId: string, logger: Logger, clock: Clock): Promise<AlertChannel[]> {
  const channels: AlertChannel[] = [];
  if (config.serial.enabled) {
    const { SerialAlertChannel } = await import('./serial.js');
    channels.push(new SerialAlertChannel(config.serial, logger.child({ channel: 'serial' }), { clock }));
  }
  if (config.mqtt.enabled) {
    const { MqttAlertChannel } = await import('./mqtt.js');
    channels.push(new MqttAlertChannel(config.mqtt, unitId, logger.child({ channel: 'mqtt' }), { clock }));
  }
  return channels;
}

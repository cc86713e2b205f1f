import { intOption, parse, UsageError } from './args.js';
import { TERMINAL_OPTIONS } from './commands.js';
import { usageOf } from './help.js';
import { systemClock } from '../util/clock.js';

/**
 * `alpr-edge terminal`: for technicians testing an installation. Connects where the in-car terminal would (the
 * other end of the serial line, or the MQTT broker), prints each alert as it arrives, and sends the answers
 * typed on stdin (`a N` accept, `r N REASON` reject, `l` list, `q` quit).
 */
export async function terminalCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, TERMINAL_OPTIONS);
  if (positionals.length > 0) throw new UsageError(`terminal takes no arguments\nusage:\n  ${usageOf('terminal')}`);
  if ((values.serial === undefined) === (values.mqtt === undefined)) {
    throw new UsageError(`give --serial PATH or --mqtt URL\nusage:\n  ${usageOf('terminal')}`);
  }
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  process.once('SIGTERM', () => abort.abort());
  const io = { input: process.stdin, output: process.stdout, signal: abort.signal };
  if (values.serial !== undefined) {
    const { runSerialTerminal } = await import('../alerts/terminal-serial.js');
    const baudRate = intOption(values.baud, '--baud', 300, 921_600) ?? 115_200;
    await runSerialTerminal(values.serial, { baudRate, officer: values.officer, clock: systemClock }, io);
    return 0;
  }
  if (values.unit === undefined) throw new UsageError(`--mqtt needs --unit UNIT_ID (the unit whose alerts to show)`);
  const { runMqttTerminal } = await import('../alerts/terminal-mqtt.js');
  await runMqttTerminal(
    values.mqtt!,
    { unitId: values.unit, credentialsFile: values.credentials, caFile: values.ca, terminalId: values.officer, clock: systemClock },
    { ...io, ...(values.crops !== undefined ? { cropsDir: values.crops } : {}) },
  );
  return 0;
}

import { intOption, parse, UsageError } from './args.js';

export const TERMINAL_USAGE = `alpr-edge terminal --serial PATH [--baud N] [--officer ID]
  alpr-edge terminal --mqtt URL --unit UNIT_ID [--credentials FILE] [--officer ID]
                                      a patrol-terminal simulator: shows alerts, lets a person acknowledge them`;

/**
 * `alpr-edge terminal`: for technicians testing an installation. Connects where the in-car terminal would (the
 * other end of the serial line, or the MQTT broker), prints each alert as it arrives, and sends the answers
 * typed on stdin (`a N` accept, `r N REASON` reject, `l` list, `q` quit).
 */
export async function terminalCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    serial: { type: 'string' },
    baud: { type: 'string' },
    mqtt: { type: 'string' },
    unit: { type: 'string' },
    credentials: { type: 'string' },
    officer: { type: 'string' },
  });
  if (positionals.length > 0) throw new UsageError(`terminal takes no arguments\nusage:\n  ${TERMINAL_USAGE}`);
  if ((values.serial === undefined) === (values.mqtt === undefined)) {
    throw new UsageError(`give --serial PATH or --mqtt URL\nusage:\n  ${TERMINAL_USAGE}`);
  }
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  process.once('SIGTERM', () => abort.abort());
  const io = { input: process.stdin, output: process.stdout, signal: abort.signal };
  if (values.serial !== undefined) {
    const { runSerialTerminal } = await import('../alerts/terminal-serial.js');
    const baudRate = intOption(values.baud, '--baud', 300, 921_600) ?? 115_200;
    await runSerialTerminal(values.serial, { baudRate, officer: values.officer }, io);
    return 0;
  }
  if (values.unit === undefined) throw new UsageError(`--mqtt needs --unit UNIT_ID (the unit whose alerts to show)`);
  const { runMqttTerminal } = await import('../alerts/terminal-mqtt.js');
  await runMqttTerminal(values.mqtt!, { unitId: values.unit, credentialsFile: values.credentials, terminalId: values.officer }, io);
  return 0;
}

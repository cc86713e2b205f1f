import { destination as pinoDestination, pino, stdTimeFunctions, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** Paths whose values never reach a log line, wherever they appear. */
export const REDACTED_PATHS = [
  'password',
  '*.password',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'totp',
  '*.totp',
  'key',
  '*.key',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
];

/** JSON lines to stdout (journald keeps them under systemd); secrets censored. */
export function createLogger(level: string, destination: DestinationStream | number = 1): Logger {
  return pino(
    {
      level,
      base: { name: 'alpr-edge' },
      timestamp: stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    typeof destination === 'number' ? pinoDestination({ fd: destination, sync: true }) : destination,
  );
}

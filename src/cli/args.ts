import { userInfo } from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { nearest } from './suggest.js';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * node:util parseArgs with strict checking, turning its errors into usage errors. The options are a command's
 * option set from commands.ts (parseArgs reads `type` and `multiple`; the rest is for the help).
 */
export function parse<T extends ParseArgsConfig['options']>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const unknown = e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /'(-[^']*)'/.exec(e.message)?.[1] : undefined;
    if (unknown !== undefined) {
      const near = nearest(unknown.replace(/^-+/, ''), Object.keys(options ?? {}));
      throw new UsageError(`unknown option '${unknown}'${near ? `; did you mean '--${near}'?` : ''}`);
    }
    throw new UsageError(e.message);
  }
}

export function intOption(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`${name} must be a whole number from ${min} to ${max} (got ${JSON.stringify(value)})`);
  }
  return n;
}

/** Who runs the command: the user behind sudo, else the operating-system user (a default for --user and --by). */
export function osUser(): string {
  return process.env.SUDO_USER ?? userInfo().username;
}

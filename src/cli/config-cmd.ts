import { configDocsMarkdown } from '../config/docs.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { UsageError } from './args.js';
import { usageOf } from './help.js';

/** `config check [FILE]` validates without starting anything; `config docs` prints every key from the schema. */
export function configCommand(argv: string[], defaultFile: string | undefined): number {
  const [sub, file, ...rest] = argv;
  if (sub === 'docs') {
    process.stdout.write(`${configDocsMarkdown()}\n`);
    return 0;
  }
  if (sub !== 'check' || rest.length > 0) throw new UsageError(`usage: ${usageOf('config', 'check')}\n  ${usageOf('config', 'docs')}`);
  const target = file ?? defaultFile;
  try {
    loadConfig(target);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.stderr.write(`config: ${err.problems.length} problem(s); nothing was started\n`);
      return 1;
    }
    throw err;
  }
  process.stdout.write(`config: ${target ?? '(defaults)'} is valid\n`);
  return 0;
}

/**
 * Command-line options for the scripts under scripts/ (benchmarks, generators): node's parseArgs, with `--help` (or
 * `-h`) printing the script's own header comment, which says what it does and how to call it, and an unknown or
 * malformed option printing what is wrong and where to look, with exit code 2, instead of a stack trace.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** The first block comment of a script's TypeScript source (the compiled script lives in dist/scripts/). */
export function scriptHelp(url: string): string {
  const compiled = fileURLToPath(url);
  const name = path.basename(compiled).replace(/\.js$/, '.ts');
  const source = path.join(path.dirname(compiled), '..', '..', 'scripts', name);
  let text: string;
  try {
    text = readFileSync(source, 'utf8');
  } catch {
    return `${name}: its source (${source}) is not here to print its help`;
  }
  const block = /\/\*\*([\s\S]*?)\*\//.exec(text)?.[1] ?? '';
  return block
    .split('\n')
    .map((line) => line.replace(/^\s*\* ?/, ''))
    .join('\n')
    .trim();
}

/** parseArgs for a script: `url` is the script's import.meta.url. */
export function scriptArgs<T extends ParseArgsConfig>(url: string, config: T): ReturnType<typeof parseArgs<T>> {
  const argv = config.args ?? process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(scriptHelp(url));
    process.exit(0);
  }
  try {
    return parseArgs(config);
  } catch (err) {
    const name = path.basename(fileURLToPath(url), '.js');
    console.error(`${name}: ${(err as Error).message}\n(${name} --help says what it takes)`);
    process.exit(2);
  }
}

import { UsageError } from './args.js';
import { COMMANDS, CONFIG_OPTION, HELP_OPTION, type CommandSpec, type OptionSet, type OptionSpec } from './commands.js';
import { nearest } from './suggest.js';

/**
 * Everything `alpr-edge` says about its own command line, rendered from the table in commands.ts: the top-level
 * help, each command's help, the check of a command line before anything runs, the bash completion and the
 * command table of docs/commands.md.
 */

const PROGRAM = 'alpr-edge';

/** A command as given: the top-level command and, for one with subcommands, which. */
export interface Resolved {
  readonly command: CommandSpec;
  readonly sub?: CommandSpec;
}

const leafOf = (r: Resolved): CommandSpec => r.sub ?? r.command;
const nameOf = (r: Resolved): string => (r.sub ? `${r.command.name} ${r.sub.name}` : r.command.name);
const readsConfig = (r: Resolved): boolean => leafOf(r).config === true || r.command.config === true;

/** Every command and subcommand that runs something (a command with subcommands only chooses one). */
export function allCommands(): Resolved[] {
  return COMMANDS.flatMap((command) => (command.subcommands ? command.subcommands.map((sub) => ({ command, sub })) : [{ command }]));
}

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}

export const isHelpFlag = (a: string): boolean => a === '--help' || a === '-h';

/** --help or -h anywhere before `--`: honoured before anything else happens. */
export function wantsHelp(args: readonly string[]): boolean {
  for (const a of args) {
    if (a === '--') return false;
    if (isHelpFlag(a)) return true;
  }
  return false;
}

// ---- usage lines ----

function optionUsage(name: string, o: OptionSpec): string {
  return o.type === 'boolean' ? `--${name}` : `--${name} ${o.arg ?? 'VALUE'}${o.multiple ? '...' : ''}`;
}

/** The options a command accepts, --config included where it reads the unit's config. */
function optionsOf(r: Resolved): OptionSet {
  return { ...(leafOf(r).options ?? {}), ...(readsConfig(r) ? CONFIG_OPTION : {}) };
}

/**
 * How the command is written: the arguments and the required options, then the others in brackets (`short`:
 * "[options]" instead of each).
 */
export function synopsis(r: Resolved, short = false): string[] {
  const leaf = leafOf(r);
  if (leaf.subcommands) return [`${PROGRAM} ${leaf.name} ${leaf.subcommands.map((s) => s.name).join('|')} ...`];
  if (leaf.synopsis) return [...leaf.synopsis];
  const words = [PROGRAM, nameOf(r)];
  if (leaf.args) words.push(leaf.args);
  const options = Object.entries(optionsOf(r));
  for (const [name, o] of options) if (o.required) words.push(optionUsage(name, o));
  const optional = options.filter(([, o]) => !o.required);
  if (short) {
    if (optional.length) words.push('[options]');
  } else {
    for (const [name, o] of optional) words.push(`[${optionUsage(name, o)}]`);
  }
  return [words.join(' ')];
}

/** The usage line(s) of `alpr-edge NAME [SUB]`, for the messages of a command line that is wrong. */
export function usageOf(name: string, sub?: string): string {
  const command = findCommand(name);
  const subSpec = sub === undefined ? undefined : command?.subcommands?.find((s) => s.name === sub);
  if (!command || (sub !== undefined && !subSpec)) throw new Error(`no command "${name}${sub ? ` ${sub}` : ''}" in commands.ts`);
  return synopsis({ command, sub: subSpec }).join('\n  ');
}

// ---- help texts ----

const SUMMARY_COLUMN = 50;

/** `alpr-edge  ...   summary`, the summary on the next line when the usage is long. */
function listed(lines: string[], summary: string): string[] {
  const out = lines.map((l) => `  ${l}`);
  const last = out[out.length - 1]!;
  if (last.length < SUMMARY_COLUMN - 1) out[out.length - 1] = `${last.padEnd(SUMMARY_COLUMN)}${summary}`;
  else out.push(`${''.padEnd(SUMMARY_COLUMN)}${summary}`);
  return out;
}

export function topHelp(): string {
  const lines = [
    `${PROGRAM}: licence plate reader runtime for edge units`,
    '',
    `usage: ${PROGRAM} COMMAND [SUBCOMMAND] [options]`,
    `       ${PROGRAM} COMMAND --help     its options, their defaults and an example (also -h)`,
    '',
    'commands:',
  ];
  for (const r of allCommands()) lines.push(...listed(synopsis(r, true), leafOf(r).summary));
  lines.push(
    '',
    'The config file comes from --config FILE, else $ALPR_EDGE_CONFIG, else the built-in defaults.',
    'Any key can be overridden by an environment variable: see `alpr-edge config docs`.',
    'Exit status: 0 done, 1 failed or refused (the message says why), 2 the command line is wrong.',
  );
  return `${lines.join('\n')}\n`;
}

function optionLines(options: OptionSet): string[] {
  const entries = Object.entries(options).map(([name, o]) => {
    const what = [o.help];
    if (o.required) what.push('(required)');
    if (o.dflt !== undefined) what.push(`(default: ${o.dflt})`);
    return [optionUsage(name, o), what.join(' ')] as const;
  });
  entries.push(['-h, --help', HELP_OPTION.help.help]);
  const width = Math.min(28, Math.max(...entries.map(([u]) => u.length)));
  return entries.map(([u, what]) => (u.length > width ? `  ${u}\n  ${''.padEnd(width)}  ${what}` : `  ${u.padEnd(width)}  ${what}`));
}

/** The help of a command, or of one subcommand. */
export function commandHelp(r: Resolved): string {
  const leaf = leafOf(r);
  const lines: string[] = [];
  const usage = synopsis(r);
  lines.push(`usage: ${usage[0]}`, ...usage.slice(1).map((l) => `       ${l}`), '', `${leaf.summary}.`);
  if (leaf.subcommands) {
    lines.push('', 'commands:');
    for (const sub of leaf.subcommands) lines.push(...listed(synopsis({ command: leaf, sub }, true), sub.summary));
    lines.push('', `\`${PROGRAM} ${leaf.name} COMMAND --help\` shows a command's options, their defaults and an example.`);
    lines.push('', 'options:', ...optionLines(readsConfig(r) ? CONFIG_OPTION : {}));
  } else {
    lines.push('', 'options:', ...optionLines(optionsOf(r)));
  }
  const notes = [...(leaf.notes ?? []), ...(r.sub ? (r.command.notes ?? []) : [])];
  if (notes.length) lines.push('', ...notes);
  if (leaf.examples?.length) lines.push('', leaf.examples.length > 1 ? 'examples:' : 'example:', ...leaf.examples.map((e) => `  ${e}`));
  return `${lines.join('\n')}\n`;
}

/**
 * The help asked for with --help in `args` (the arguments after the command): the subcommand's when one is named,
 * else the command's.
 */
export function helpFor(command: CommandSpec, args: readonly string[]): string {
  const sub = command.subcommands?.find((s) => args.some((a) => a === s.name));
  return commandHelp({ command, sub });
}

/** `alpr-edge help [COMMAND [SUBCOMMAND]]`. */
export function helpCommand(args: readonly string[]): string {
  const [name, subName] = args;
  if (name === undefined) return topHelp();
  const command = findCommand(name);
  if (!command) throw unknownCommand(name);
  if (subName === undefined || !command.subcommands) return commandHelp({ command });
  const sub = command.subcommands.find((s) => s.name === subName);
  if (!sub) throw unknownSubcommand(command, subName);
  return commandHelp({ command, sub });
}

// ---- a command line that is wrong ----

const quoted = (s: string) => JSON.stringify(s);

export function unknownCommand(name: string): UsageError {
  const names = COMMANDS.map((c) => c.name);
  const near = nearest(name, names);
  return new UsageError(
    `unknown command ${quoted(name)}; ${near ? `did you mean ${quoted(near)}?` : `the commands are ${names.join(', ')}`}\n` +
      `usage: ${PROGRAM} COMMAND [SUBCOMMAND] [options]; \`${PROGRAM} help\` lists the commands`,
  );
}

function unknownSubcommand(command: CommandSpec, name: string): UsageError {
  const names = command.subcommands!.map((s) => s.name);
  const near = nearest(name, names);
  return new UsageError(
    `unknown ${command.name} command ${quoted(name)}; ${near ? `did you mean ${quoted(near)}?` : `the ${command.name} commands are ${names.join(', ')}`}\n` +
      `usage: ${synopsis({ command })[0]}  (\`${PROGRAM} ${command.name} --help\` says more)`,
  );
}

function unknownOption(r: Resolved, given: string): UsageError {
  const names = Object.keys(optionsOf(r));
  const bare = given.replace(/^-+/, '').replace(/=.*$/, '');
  const near = nearest(bare, names);
  const which = `${PROGRAM} ${nameOf(r)}`;
  const hint = near
    ? `did you mean '--${near}'?`
    : names.length
      ? `${which} takes ${names.map((n) => `--${n}`).join(', ')}`
      : `${which} takes no options`;
  return new UsageError(`unknown option '${given.replace(/=.*$/, '')}'; ${hint}\nusage: ${synopsis(r).join('\n  ')}`);
}

/**
 * Which command a command line names, checked before anything runs: an unknown subcommand or option is a usage
 * error naming the nearest valid one. `args` are the arguments after the command, --config already taken out;
 * `run` gets them with the subcommand first.
 */
export function resolveCommand(command: CommandSpec, args: readonly string[]): { resolved: Resolved; run: string[] } {
  if (!command.subcommands) {
    const resolved = { command };
    checkOptions(resolved, args);
    return { resolved, run: [...args] };
  }
  // the subcommand is the first argument that is neither an option nor an option's value
  const any: Record<string, OptionSpec> = Object.assign({}, ...command.subcommands.map((s) => s.options ?? {}));
  let at = -1;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') break;
    if (!a.startsWith('-')) {
      at = i;
      break;
    }
    if (a.startsWith('--') && !a.includes('=') && any[a.slice(2)]?.type === 'string') i++;
  }
  if (at < 0) {
    throw new UsageError(
      `which ${command.name} command? one of ${command.subcommands.map((s) => s.name).join(', ')}\nusage:\n  ${command.subcommands
        .flatMap((sub) => synopsis({ command, sub }, true))
        .join('\n  ')}`,
    );
  }
  const name = args[at]!;
  const sub = command.subcommands.find((s) => s.name === name);
  if (!sub) throw unknownSubcommand(command, name);
  const rest = [...args.slice(0, at), ...args.slice(at + 1)];
  const resolved = { command, sub };
  checkOptions(resolved, rest);
  return { resolved, run: [name, ...rest] };
}

function checkOptions(r: Resolved, args: readonly string[]): void {
  const options = optionsOf(r);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return;
    if (!a.startsWith('-') || a === '-') continue;
    const eq = a.indexOf('=');
    const o = a.startsWith('--') ? options[a.slice(2, eq < 0 ? undefined : eq)] : undefined;
    if (!o) throw unknownOption(r, a);
    if (o.type === 'string' && eq < 0) i++;
  }
}

// ---- generated elsewhere ----

/** Text in a table cell: a | would end the cell, a * could start emphasis. */
const cell = (s: string) => s.replaceAll('|', '\\|');
const textCell = (s: string) => cell(s).replaceAll('*', '\\*');

/** The command table of docs/commands.md (`alpr-edge help --markdown`). */
export function markdownTable(): string {
  const rows = allCommands().map((r) => {
    const leaf = leafOf(r);
    return `| \`${cell([PROGRAM, nameOf(r), leaf.args].filter(Boolean).join(' '))}\` | ${textCell(leaf.summary)} |`;
  });
  return `| command | what it does |\n| --- | --- |\n${rows.join('\n')}\n`;
}

/** `alpr-edge completion bash`: completes commands, subcommands, options, and the values of options that have a list. */
export function bashCompletion(): string {
  const words = (xs: readonly string[]) => xs.join(' ');
  const leafCase = (r: Resolved, indent: string): string[] => {
    const options = optionsOf(r);
    const out = [`${indent}opts="${words([...Object.keys(options).map((n) => `--${n}`), '--help'])}"`];
    const choices = Object.entries(options).filter(([, o]) => o.choices?.length);
    if (choices.length) {
      out.push(`${indent}case "$prev" in`);
      for (const [n, o] of choices) out.push(`${indent}  --${n}) values="${words(o.choices!)}" ;;`);
      out.push(`${indent}esac`);
    }
    return out;
  };
  const lines = [
    '# bash completion for alpr-edge, generated by `alpr-edge completion bash`',
    '# install: alpr-edge completion bash > /etc/bash_completion.d/alpr-edge   (or: source <(alpr-edge completion bash))',
    '_alpr_edge() {',
    '  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"',
    '  local cmd="${COMP_WORDS[1]}" sub="${COMP_WORDS[2]}" opts="" values="" subs=""',
    '  COMPREPLY=()',
    '  if [[ $COMP_CWORD -eq 1 ]]; then',
    `    COMPREPLY=( $(compgen -W "${words([...COMMANDS.map((c) => c.name), '--help', '--version'])}" -- "$cur") )`,
    '    return 0',
    '  fi',
    '  case "$cmd" in',
  ];
  for (const command of COMMANDS) {
    lines.push(`    ${command.name})`);
    if (command.subcommands) {
      lines.push(`      subs="${words(command.subcommands.map((s) => s.name))}"`);
      lines.push('      case "$sub" in');
      for (const sub of command.subcommands) {
        lines.push(`        ${sub.name})`, ...leafCase({ command, sub }, '          '), '          ;;');
      }
      lines.push('      esac', '      ;;');
    } else {
      lines.push(...leafCase({ command }, '      '), '      ;;');
    }
  }
  lines.push(
    '  esac',
    '  if [[ -n "$subs" && $COMP_CWORD -eq 2 ]]; then',
    '    COMPREPLY=( $(compgen -W "$subs --help" -- "$cur") )',
    '  elif [[ -n "$values" ]]; then',
    '    COMPREPLY=( $(compgen -W "$values" -- "$cur") )',
    '  elif [[ "$cur" == -* ]]; then',
    '    COMPREPLY=( $(compgen -W "$opts" -- "$cur") )',
    '  else',
    '    COMPREPLY=( $(compgen -f -- "$cur") )',
    '  fi',
    '  return 0',
    '}',
    'complete -o filenames -F _alpr_edge alpr-edge',
  );
  return `${lines.join('\n')}\n`;
}

/** The shapes of the command table (src/cli/commands.ts) and the option pieces that several command groups share. */

/** One option: its parseArgs type, and what the help says about it. */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly multiple?: boolean;
  /** What the value is called in the usage: FILE, N, ISO. Only for string options. */
  readonly arg?: string;
  /** What the option does, in a few words. */
  readonly help: string;
  /** The default, as the help shows it; none when the option is simply absent. */
  readonly dflt?: string;
  /** Needed for the command to do anything (the command itself checks; this is what the usage shows). */
  readonly required?: boolean;
  /** The values allowed, offered by the completion. */
  readonly choices?: readonly string[];
}

export type OptionSet = Readonly<Record<string, OptionSpec>>;

export interface CommandSpec {
  readonly name: string;
  /** One line: what the command does. */
  readonly summary: string;
  /** The arguments that are not options, as the usage writes them: FILE, IMAGE..., [NAME]. */
  readonly args?: string;
  readonly options?: OptionSet;
  /** The usage line when the generated one cannot say it (options that exclude each other). */
  readonly synopsis?: readonly string[];
  /** Reads the unit's config: --config FILE applies. */
  readonly config?: boolean;
  readonly examples?: readonly string[];
  /** Said after the options: who may run it, where the README says more. */
  readonly notes?: readonly string[];
  readonly subcommands?: readonly CommandSpec[];
}

export const CONFIG_OPTION = {
  config: { type: 'string', arg: 'FILE', help: "the unit's config file", dflt: '$ALPR_EDGE_CONFIG, else the built-in defaults' },
} as const satisfies OptionSet;

export const HELP_OPTION = { help: { type: 'boolean', help: 'this help' } } as const satisfies OptionSet;

export const ISO = 'ISO';
export const purpose = { type: 'string', arg: 'TEXT', help: 'why the data is looked at (recorded in the access log)', required: true } as const;
export const caseNumber = { type: 'string', arg: 'NUMBER', help: 'the case number (recorded in the access log)', required: true } as const;
export const json = { type: 'boolean', help: 'one JSON object per line, for a program' } as const;
/** A command's --json where its help says no more. */
export const asJson = { type: 'boolean', help: 'as JSON' } as const;

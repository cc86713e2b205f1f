import { DATA_COMMANDS as data } from './commands/data.js';
import { HOTLIST_COMMANDS as hotlist } from './commands/hotlist.js';
import type { CommandSpec } from './commands/spec.js';
import { SYNC_COMMANDS as sync } from './commands/sync.js';
import { UNIT_COMMANDS as unit } from './commands/unit.js';
import { USER_COMMANDS as users } from './commands/users.js';

/**
 * Every command of `alpr-edge`, its subcommands and options: the one source of the top-level help, each command's
 * `--help`, the check of the options before anything runs, the bash completion and the command table of docs/commands.md
 * (src/cli/help.ts renders them). Each command passes its option set here to `parse` (node:util parseArgs, which
 * reads `type` and `multiple` and ignores the rest), so an option cannot be accepted without being documented.
 */

export * from './commands/data.js';
export * from './commands/hotlist.js';
export * from './commands/spec.js';
export * from './commands/sync.js';
export * from './commands/unit.js';
export * from './commands/users.js';

/**
 * The commands in the order the help lists them. Each group of commands (src/cli/commands/) declares its commands
 * with their options; this is the one table they make.
 */
export const COMMANDS: readonly CommandSpec[] = [
  unit.run,
  unit.status,
  unit.demo,
  unit.recognize,
  hotlist.hotlist,
  unit.terminal,
  users.login,
  users.logout,
  users.whoami,
  users.passwd,
  users.user,
  data.search,
  data.show,
  data.hits,
  data.release,
  data.audit,
  data.hold,
  unit.key,
  unit.store,
  unit.camera,
  sync.sync,
  sync.central,
  unit.config,
  unit.version,
  unit.help,
  unit.completion,
];

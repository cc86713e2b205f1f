/** Commands of the people who use the unit: sign-in, sign-out, passwords, and the users (admins). */
import { ROLES } from '../../access/roles.js';
import { type CommandSpec, json, type OptionSet } from './spec.js';

export const LOGIN_OPTIONS = {
  user: { type: 'string', arg: 'NAME', help: 'who signs in', dflt: 'asked on a terminal; the operating-system user (the one behind sudo)' },
} as const satisfies OptionSet;

export const WHOAMI_OPTIONS = { json } as const satisfies OptionSet;

export const USER_BOOTSTRAP_OPTIONS = {
  agency: { type: 'string', arg: 'A', help: 'the agency of the first admin', dflt: 'unit.agency of the config' },
} as const satisfies OptionSet;

export const USER_ADD_OPTIONS = {
  role: { type: 'string', arg: 'ROLE', help: `one of ${ROLES.join(', ')}`, required: true, choices: ROLES },
  agency: { type: 'string', arg: 'A', help: 'the agency of the new user', dflt: 'your agency' },
} as const satisfies OptionSet;

export const USER_LS_OPTIONS = { json } as const satisfies OptionSet;

export const USER_STATE_OPTIONS = {
  reason: { type: 'string', arg: 'R', help: 'why, recorded in the access log' },
} as const satisfies OptionSet;

export const USER_COMMANDS = {
  login: {
    name: 'login',
    summary: 'sign in (password, then the one-time code); the session is kept in a 0600 file',
    config: true,
    options: LOGIN_OPTIONS,
    examples: ['alpr-edge login --user ada'],
  },
  logout: { name: 'logout', summary: 'end the session', config: true, examples: ['alpr-edge logout'] },
  whoami: { name: 'whoami', summary: 'who is signed in, with which role, until when', config: true, options: WHOAMI_OPTIONS, examples: ['alpr-edge whoami'] },
  passwd: {
    name: 'passwd',
    summary: 'change your own password (the current one first); your other sessions end',
    config: true,
    examples: ['alpr-edge passwd'],
  },
  user: {
    name: 'user',
    summary: 'the users of the unit (admins)',
    config: true,
    examples: ['alpr-edge user ls'],
    notes: ['Passwords are read from the terminal (without echo), else one line of stdin each.'],
    subcommands: [
      {
        name: 'bootstrap',
        summary: 'create the first admin of a unit that has no user',
        args: 'NAME',
        options: USER_BOOTSTRAP_OPTIONS,
        examples: ['alpr-edge user bootstrap ada --agency LAPD'],
      },
      {
        name: 'add',
        summary: 'add a user; password from the terminal or stdin',
        args: 'NAME',
        options: USER_ADD_OPTIONS,
        examples: ['alpr-edge user add dana --role data-user'],
      },
      { name: 'ls', summary: 'the users and their state (no secrets)', options: USER_LS_OPTIONS, examples: ['alpr-edge user ls --json'] },
      { name: 'disable', summary: 'deactivate a user; their sessions end', args: 'NAME', options: USER_STATE_OPTIONS, examples: ['alpr-edge user disable olly --reason "on leave"'] },
      { name: 'enable', summary: 'reactivate a user', args: 'NAME', options: USER_STATE_OPTIONS, examples: ['alpr-edge user enable olly'] },
      { name: 'delete', summary: 'mark a leaver deleted (kept for the logs)', args: 'NAME', options: USER_STATE_OPTIONS, examples: ['alpr-edge user delete olly --reason "left the agency"'] },
      { name: 'reset-password', summary: 'set a new password (from the terminal or stdin); ends their sessions', args: 'NAME', examples: ['alpr-edge user reset-password dana'] },
      { name: 'reset-totp', summary: 'enrol a new one-time-code secret; ends their sessions', args: 'NAME', examples: ['alpr-edge user reset-totp dana'] },
    ],
  },
} as const satisfies Record<string, CommandSpec>;

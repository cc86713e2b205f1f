/** The `hotlist` command: import, list, add and cancel entries, test a plate, purge. */
import { FORMAT_NAMES } from '../../hotlist/formats/index.js';
import { asJson, type CommandSpec, type OptionSet } from './spec.js';

const hotlistUser = {
  type: 'string',
  arg: 'U',
  help: 'recorded with the change; another name than the signed-in user is refused',
  dflt: 'the signed-in user',
} as const;

export const HOTLIST_IMPORT_OPTIONS = {
  list: { type: 'string', arg: 'NAME', help: 'the list the file is the new version of', required: true },
  format: { type: 'string', arg: FORMAT_NAMES.join('|'), help: "the file's format", dflt: "the list's format in hotlists.lists of the config", choices: FORMAT_NAMES },
  category: { type: 'string', arg: 'C', help: 'what a hit on the list means (stolen vehicle, ...)', dflt: "the list's category in the config" },
  priority: { type: 'string', arg: '1-9', help: 'how urgent a hit is, 1 most', dflt: "the list's priority in the config, else 5" },
  covert: { type: 'boolean', help: 'hits are recorded but not shown to the officer' },
  source: { type: 'string', arg: 'S', help: 'where the file came from, recorded with the version' },
  user: hotlistUser,
} as const satisfies OptionSet;

export const HOTLIST_LS_OPTIONS = { json: asJson } as const satisfies OptionSet;

export const HOTLIST_ADD_OPTIONS = {
  list: { type: 'string', arg: 'NAME', help: 'the list the plate is added to', required: true },
  reason: { type: 'string', arg: 'R', help: 'why the plate is wanted', required: true },
  case: { type: 'string', arg: 'N', help: 'the case number', required: true },
  state: { type: 'string', arg: 'XX', help: "the plate's state or country" },
  expires: { type: 'string', arg: 'ISO-DATE', help: 'when the entry stops matching', dflt: 'hotlists.manualEntryDays of the config (30) days on' },
  user: hotlistUser,
} as const satisfies OptionSet;

export const HOTLIST_CANCEL_OPTIONS = {
  reason: { type: 'string', arg: 'R', help: 'why the entry is cancelled', required: true },
  user: hotlistUser,
} as const satisfies OptionSet;

export const HOTLIST_TEST_OPTIONS = {
  candidates: { type: 'string', arg: 'T1,T2,..', help: 'the other texts the read would have had' },
  json: asJson,
} as const satisfies OptionSet;

export const HOTLIST_PURGE_OPTIONS = { user: hotlistUser } as const satisfies OptionSet;

export const HOTLIST_COMMANDS = {
  hotlist: {
    name: 'hotlist',
    summary: 'the hot lists: import, list, add and cancel entries, test a plate, purge',
    config: true,
    examples: ['alpr-edge hotlist ls'],
    notes: ['For a signed-in user whose role may see hot lists (changes: may edit them); each command is in the access log.'],
    subcommands: [
      {
        name: 'import',
        summary: "import a file as the list's new version",
        args: 'FILE',
        options: HOTLIST_IMPORT_OPTIONS,
        examples: ['alpr-edge hotlist import /srv/hotlists/stolen.txt --list stolen --format lines'],
      },
      {
        name: 'ls',
        summary: 'the lists; with NAME, its manual and cancelled entries',
        args: '[NAME]',
        options: HOTLIST_LS_OPTIONS,
        examples: ['alpr-edge hotlist ls', 'alpr-edge hotlist ls stolen --json'],
      },
      {
        name: 'add',
        summary: 'add a plate, or a partial one (7AB?12*: ? one character, * any)',
        args: 'PLATE',
        options: HOTLIST_ADD_OPTIONS,
        examples: ['alpr-edge hotlist add 7ABC123 --list stolen --reason "armed robbery" --case 26-004512 --state CA'],
      },
      {
        name: 'cancel',
        summary: 'an entry stops matching at once',
        args: 'ENTRY_ID',
        options: HOTLIST_CANCEL_OPTIONS,
        examples: ['alpr-edge hotlist cancel 42 --reason "vehicle recovered"'],
      },
      {
        name: 'test',
        summary: 'what a read of PLATE would match, and why',
        args: 'PLATE',
        options: HOTLIST_TEST_OPTIONS,
        examples: ['alpr-edge hotlist test 7ABC123 --candidates 7ABC128,TABC123'],
      },
      {
        name: 'purge',
        summary: 'delete expired lists and entries now',
        options: HOTLIST_PURGE_OPTIONS,
        examples: ['alpr-edge hotlist purge'],
      },
    ],
  },
} as const satisfies Record<string, CommandSpec>;

import { ROLES } from '../access/roles.js';
import { FORMAT_NAMES } from '../hotlist/formats/index.js';
import { STREAMS } from '../sync/streams.js';

/**
 * Every command of `alpr-edge`, its subcommands and options: the one source of the top-level help, each command's
 * `--help`, the check of the options before anything runs, the bash completion and the command table of docs/commands.md
 * (src/cli/help.ts renders them). Each command passes its option set here to `parse` (node:util parseArgs, which
 * reads `type` and `multiple` and ignores the rest), so an option cannot be accepted without being documented.
 */

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

/** Taken by main.ts from anywhere in the arguments of every command. */
export const CONFIG_OPTION = {
  config: { type: 'string', arg: 'FILE', help: "the unit's config file", dflt: '$ALPR_EDGE_CONFIG, else the built-in defaults' },
} as const satisfies OptionSet;

export const HELP_OPTION = { help: { type: 'boolean', help: 'this help' } } as const satisfies OptionSet;

const ISO = 'ISO';
const purpose = { type: 'string', arg: 'TEXT', help: 'why the data is looked at (recorded in the access log)', required: true } as const;
const caseNumber = { type: 'string', arg: 'NUMBER', help: 'the case number (recorded in the access log)', required: true } as const;
const json = { type: 'boolean', help: 'one JSON object per line, for a program' } as const;

export const RUN_OPTIONS = {
  'print-reads': { type: 'boolean', help: 'also print each read once it is stored, for a person watching; logs go to stderr' },
  json: { type: 'boolean', help: 'also print each read event (new, update, closed, hit) as a JSON line; logs go to stderr' },
  'exit-when-done': { type: 'boolean', help: 'stop once every camera has finished (finite replays) and every read is stored' },
} as const satisfies OptionSet;

export const STATUS_OPTIONS = { json: { type: 'boolean', help: "the unit's status (from its socket, else the status file) and what was measured, as JSON" } } as const satisfies OptionSet;

export const DEMO_OPTIONS = {
  json: RUN_OPTIONS.json,
  'print-reads': { type: 'boolean', help: 'print each read as text (what the demo does without --json)' },
  ui: { type: 'boolean', help: 'also serve the screens on loopback (docs/ui.md), with demo accounts, until Ctrl-C; prints their address' },
} as const satisfies OptionSet;

export const RECOGNIZE_OPTIONS = {
  json,
  country: { type: 'string', arg: 'us|eu|br', help: 'plate formats used to rank the candidate texts', dflt: 'recognition.country of the config (us)', choices: ['us', 'eu', 'br'] },
  topn: { type: 'string', arg: 'N', help: 'candidate texts kept per plate, 1 to 50', dflt: 'recognition.topN of the config (10)' },
} as const satisfies OptionSet;

export const TERMINAL_OPTIONS = {
  serial: { type: 'string', arg: 'PATH', help: 'the serial line, at the end where the terminal would be' },
  baud: { type: 'string', arg: 'N', help: 'serial speed', dflt: '115200' },
  mqtt: { type: 'string', arg: 'URL', help: 'the MQTT broker the unit publishes alerts to' },
  unit: { type: 'string', arg: 'UNIT_ID', help: 'the unit whose alerts to show (with --mqtt)' },
  credentials: { type: 'string', arg: 'FILE', help: 'the broker username and password (with --mqtt)' },
  ca: { type: 'string', arg: 'FILE', help: 'CA certificate (PEM) that signed an mqtts:// broker (with --mqtt)' },
  crops: { type: 'string', arg: 'DIR', help: "save each alert's plate crop there as ALERT_ID.jpg (with --mqtt)" },
  officer: { type: 'string', arg: 'ID', help: 'who answers the alerts, sent with each acknowledgement' },
} as const satisfies OptionSet;

export const CAMERA_LS_OPTIONS = { json } as const satisfies OptionSet;

export const CAMERA_SNAPSHOT_OPTIONS = {
  out: { type: 'string', arg: 'FILE', help: 'where the JPEG with the plates boxed is written (0600); - for stdout', required: true },
  timeout: { type: 'string', arg: 'S', help: 'seconds to wait for a frame', dflt: '20' },
} as const satisfies OptionSet;

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

export const SEARCH_OPTIONS = {
  plate: { type: 'string', arg: 'P', help: 'the plate; * and ? match any characters and one character (7ABC*)' },
  from: { type: 'string', arg: ISO, help: 'reads seen from this date/time (ISO 8601, e.g. 2026-11-22T08:00Z)' },
  to: { type: 'string', arg: ISO, help: 'reads seen up to this date/time' },
  camera: { type: 'string', arg: 'C', help: 'reads of this camera only' },
  near: { type: 'string', arg: 'LAT,LON,METRES', help: 'reads within METRES of a position (e.g. 33.9164,-118.4041,200)' },
  'include-deleted': { type: 'boolean', help: 'also logically deleted reads (admins, with --reason)' },
  reason: { type: 'string', arg: 'R', help: 'why deleted reads are looked at (with --include-deleted)' },
  purpose,
  case: caseNumber,
  json,
  limit: { type: 'string', arg: 'N', help: 'at most N reads, up to 10000', dflt: '1000' },
} as const satisfies OptionSet;

export const SHOW_OPTIONS = {
  purpose,
  case: caseNumber,
  images: { type: 'string', arg: 'DIR', help: "write the read's plate crop and frame into DIR (needs the right to see images)" },
} as const satisfies OptionSet;

export const HITS_OPTIONS = {
  plate: SEARCH_OPTIONS.plate,
  list: { type: 'string', arg: 'L', help: 'hits on this hot list only' },
  from: { type: 'string', arg: ISO, help: 'hits from this date/time (ISO 8601)' },
  to: { type: 'string', arg: ISO, help: 'hits up to this date/time' },
  purpose,
  case: caseNumber,
  json,
  limit: { type: 'string', arg: 'N', help: 'at most N hits, up to 10000', dflt: '1000' },
} as const satisfies OptionSet;

export const RELEASE_REQUEST_OPTIONS = {
  agency: { type: 'string', arg: 'A', help: 'the agency the data is released to', required: true },
  requester: { type: 'string', arg: 'NAME', help: 'who at that agency asked for it', required: true },
  mode: { type: 'string', arg: 'full|aggregate', help: 'the reads themselves, or only counts', required: true, choices: ['full', 'aggregate'] },
  ...SEARCH_OPTIONS,
} as const satisfies OptionSet;

export const RELEASE_APPROVE_OPTIONS = {
  digest: { type: 'string', arg: 'SHA256', help: 'approve only if the contents are still the ones `release show` gave this digest for' },
  'up-to': { type: 'string', arg: 'READ_ID', help: 'only reads stored up to this id (as `release show` counted them)', dflt: 'every read stored now' },
} as const satisfies OptionSet;

export const RELEASE_EXPORT_OPTIONS = {
  out: { type: 'string', arg: 'DIR', help: 'the folder the release is written to', required: true },
  reason: { type: 'string', arg: 'R', help: 'why a release already exported is exported again (admins only), recorded in the access log' },
} as const satisfies OptionSet;

export const AUDIT_VERIFY_OPTIONS = {
  central: {
    type: 'boolean',
    help: "also ask the central server (sync.server) for the head it acknowledged for this unit, not only the acknowledgement stored on the unit",
  },
} as const satisfies OptionSet;

export const AUDIT_REPORT_OPTIONS = {
  from: { type: 'string', arg: ISO, help: 'records from this date/time (ISO 8601)', dflt: '30 days before --to' },
  to: { type: 'string', arg: ISO, help: 'records up to this date/time', dflt: 'now' },
  format: { type: 'string', arg: 'csv|json', help: 'the report as CSV or JSON', dflt: 'json', choices: ['csv', 'json'] },
  out: { type: 'string', arg: 'FILE', help: 'write the report to FILE (0600)', dflt: 'stdout' },
} as const satisfies OptionSet;

export const HOLD_PLACE_OPTIONS = {
  read: { type: 'string', arg: 'ID[,ID..]', help: 'the reads to hold, by id' },
  plate: { type: 'string', arg: 'P', help: 'or every read of this plate' },
  from: { type: 'string', arg: ISO, help: 'with --plate: reads from this date/time' },
  to: { type: 'string', arg: ISO, help: 'with --plate: reads up to this date/time' },
  camera: { type: 'string', arg: 'C', help: 'with --plate: reads of this camera only' },
  case: { type: 'string', arg: 'N', help: 'the case number', required: true },
  reason: { type: 'string', arg: 'R', help: 'why the reads are held', required: true },
  contact: { type: 'string', arg: 'C', help: 'the investigator to ask at review', required: true },
  review: { type: 'string', arg: ISO, help: 'when the hold is to be reviewed', dflt: 'two years on' },
} as const satisfies OptionSet;

export const HOLD_RELEASE_OPTIONS = {
  reason: { type: 'string', arg: 'R', help: 'why the hold ends', required: true },
} as const satisfies OptionSet;

export const HOLD_REVIEW_OPTIONS = {
  next: { type: 'string', arg: ISO, help: 'the next review date', required: true },
} as const satisfies OptionSet;

export const HOLD_LS_OPTIONS = {
  overdue: { type: 'boolean', help: 'only holds whose review is overdue' },
  all: { type: 'boolean', help: 'also released holds' },
} as const satisfies OptionSet;

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

export const HOTLIST_LS_OPTIONS = { json: { type: 'boolean', help: 'as JSON' } } as const satisfies OptionSet;

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
  json: { type: 'boolean', help: 'as JSON' },
} as const satisfies OptionSet;

export const HOTLIST_PURGE_OPTIONS = { user: hotlistUser } as const satisfies OptionSet;

export const SYNC_OPTIONS = { json: { type: 'boolean', help: 'as JSON' } } as const satisfies OptionSet;

const centralData = { type: 'string', arg: 'DIR', help: "the central server's data folder", required: true } as const;
const centralBy = { type: 'string', arg: 'NAME', help: 'who publishes it', dflt: 'the operating-system user (the one behind sudo)' } as const;

export const CENTRAL_SERVE_OPTIONS = {
  data: centralData,
  hotlists: { type: 'string', arg: 'DIR', help: 'hot list files published to the units' },
  listen: { type: 'string', arg: 'HOST:PORT', help: 'where to listen', dflt: '127.0.0.1:8443' },
  cert: { type: 'string', arg: 'F', help: "the server's TLS certificate (PEM), with --key" },
  key: { type: 'string', arg: 'F', help: "the certificate's private key (PEM)" },
  'client-ca': { type: 'string', arg: 'F', help: 'require unit certificates signed by this CA (mutual TLS)' },
  'insecure-http': { type: 'boolean', help: 'plain HTTP instead of --cert/--key, for a loopback test' },
  tokens: { type: 'string', arg: 'FILE', help: 'the units\' tokens, one "TOKEN UNIT_ID" a line' },
} as const satisfies OptionSet;

export const CENTRAL_PUBLISH_OPTIONS = {
  data: centralData,
  list: { type: 'string', arg: 'L', help: 'the list the entry belongs to', required: true },
  plate: { type: 'string', arg: 'P', help: 'the plate', required: true },
  state: { type: 'string', arg: 'XX', help: "the plate's state or country" },
  reason: { type: 'string', arg: 'R', help: 'why the plate is wanted', required: true },
  case: { type: 'string', arg: 'C', help: 'the case number', required: true },
  expires: { type: 'string', arg: 'ISO-DATE', help: 'when the entry stops matching', dflt: "the unit's hotlists.manualEntryDays" },
  by: centralBy,
  json: { type: 'boolean', help: 'as JSON' },
} as const satisfies OptionSet;

export const CENTRAL_CANCEL_OPTIONS = {
  data: centralData,
  list: { type: 'string', arg: 'L', help: 'the list', required: true },
  plate: { type: 'string', arg: 'P', help: 'the plate to cancel', required: true },
  state: { type: 'string', arg: 'XX', help: "the plate's state or country" },
  reason: { type: 'string', arg: 'R', help: 'why it is cancelled', required: true },
  by: centralBy,
  json: { type: 'boolean', help: 'as JSON' },
} as const satisfies OptionSet;

export const CENTRAL_PULL_OPTIONS = {
  data: centralData,
  unit: { type: 'string', arg: 'ID', help: 'the unit pulled from', required: true },
  url: { type: 'string', arg: 'URL', help: "the unit's pull API", required: true },
  ca: { type: 'string', arg: 'F', help: "the CA that signed the unit's certificate" },
  cert: { type: 'string', arg: 'F', help: 'our client certificate, with --key' },
  key: { type: 'string', arg: 'F', help: "the client certificate's private key" },
  'token-file': { type: 'string', arg: 'F', help: 'a file whose first line is the token' },
  purpose: { type: 'string', arg: 'P', help: "why the data is pulled (in the unit's access log)", required: true },
  case: { type: 'string', arg: 'C', help: 'the case number', required: true },
  stream: { type: 'string', multiple: true, arg: 'S', help: `a stream to pull, again for more: ${STREAMS.join(', ')}`, dflt: 'all', choices: STREAMS },
  'page-size': { type: 'string', arg: 'N', help: 'items per request, up to 10000', dflt: '1000' },
  images: { type: 'boolean', help: 'also fetch the images of the reads pulled' },
} as const satisfies OptionSet;

export const CENTRAL_LS_OPTIONS = {
  data: centralData,
  unit: { type: 'string', arg: 'ID', help: 'this unit only' },
  json: { type: 'boolean', help: 'as JSON' },
} as const satisfies OptionSet;

export const HELP_COMMAND_OPTIONS = {
  markdown: { type: 'boolean', help: "the command table of docs/commands.md" },
} as const satisfies OptionSet;

const DATA_NOTE = 'For a signed-in user (alpr-edge login) whose role allows it; every access is recorded in the access log.';
const ADMIN_NOTE = 'For a signed-in admin (alpr-edge login); every change is recorded in the access log.';

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'run',
    summary: 'run the unit (what systemd starts)',
    config: true,
    options: RUN_OPTIONS,
    synopsis: ['alpr-edge run [--config FILE] [--print-reads | --json] [--exit-when-done]'],
    examples: ['alpr-edge run --config /etc/alpr-edge/unit.yaml'],
    notes: ['Logs are JSON lines on stdout. SIGTERM or SIGINT stops it gracefully; a second signal exits at once.'],
  },
  {
    name: 'status',
    summary: 'health of the running unit, for a technician (no plate data)',
    config: true,
    options: STATUS_OPTIONS,
    examples: ['alpr-edge status --config /etc/alpr-edge/unit.yaml'],
    notes: [
      'Asks the running unit over its socket (run/status.sock in the data folder, owner only), so the answer is true when the status file cannot be written (a full disk); where no unit answers, reads the status file.',
      'Exit 0 when the unit runs and every camera is connected, else 1.',
    ],
  },
  {
    name: 'demo',
    summary: 'run the unit on the bundled demo (replay cameras, no hardware)',
    config: true,
    options: DEMO_OPTIONS,
    examples: ['alpr-edge demo', 'alpr-edge demo --json', 'alpr-edge demo --ui'],
    notes: [
      '--config FILE replaces the bundled config/demo.yaml.',
      '--ui (or ALPR_EDGE__UI__ENABLED=true): the screens on 127.0.0.1, with the accounts demo-officer and demo-tech (password printed, kept in the data folder); the demo then runs until Ctrl-C.',
      "Refused on a config that names a central server or a store with user accounts: the demo syncs to a server of its own.",
    ],
  },
  {
    name: 'recognize',
    summary: 'read the plates in images',
    args: 'IMAGE...',
    config: true,
    options: RECOGNIZE_OPTIONS,
    examples: ['alpr-edge recognize --json car1.jpg car2.jpg'],
    notes: ['Exit 1 when an image could not be read (the others are still read), 2 when the command line is wrong.'],
  },
  {
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
  {
    name: 'terminal',
    summary: 'a patrol-terminal simulator: shows alerts, lets a person acknowledge them',
    options: TERMINAL_OPTIONS,
    synopsis: [
      'alpr-edge terminal --serial PATH [--baud N] [--officer ID]',
      'alpr-edge terminal --mqtt URL --unit UNIT_ID [--credentials FILE] [--ca FILE] [--crops DIR] [--officer ID]',
    ],
    examples: [
      'alpr-edge terminal --serial /dev/pts/4',
      'alpr-edge terminal --mqtt mqtt://127.0.0.1:1883 --unit car-12 --credentials mdt.cred',
      'alpr-edge terminal --mqtt mqtts://10.20.0.1:8883 --unit car-12 --credentials mdt.cred --ca agency-ca.pem --crops /tmp/crops',
    ],
    notes: ['Type `a N` to accept alert N, `r N REASON` to reject it, `l` to list, `q` to quit.'],
  },
  {
    name: 'login',
    summary: 'sign in (password, then the one-time code); the session is kept in a 0600 file',
    config: true,
    options: LOGIN_OPTIONS,
    examples: ['alpr-edge login --user ada'],
  },
  { name: 'logout', summary: 'end the session', config: true, examples: ['alpr-edge logout'] },
  { name: 'whoami', summary: 'who is signed in, with which role, until when', config: true, options: WHOAMI_OPTIONS, examples: ['alpr-edge whoami'] },
  {
    name: 'passwd',
    summary: 'change your own password (the current one first); your other sessions end',
    config: true,
    examples: ['alpr-edge passwd'],
  },
  {
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
  {
    name: 'search',
    summary: 'search the stored reads',
    config: true,
    options: SEARCH_OPTIONS,
    examples: ['alpr-edge search --plate "7ABC*" --from 2026-11-01 --purpose "stolen vehicle follow-up" --case 26-1001'],
    notes: [DATA_NOTE],
  },
  {
    name: 'show',
    summary: 'one stored read in full, and its images',
    args: 'READ_ID',
    config: true,
    options: SHOW_OPTIONS,
    examples: ['alpr-edge show 1234 --purpose "stolen vehicle follow-up" --case 26-1001 --images ./case-26-1001'],
    notes: [DATA_NOTE],
  },
  {
    name: 'hits',
    summary: 'the hot list hits, with what happened to their alerts',
    config: true,
    options: HITS_OPTIONS,
    examples: ['alpr-edge hits --list stolen --from 2026-11-01 --purpose "shift review" --case 26-1001'],
    notes: [DATA_NOTE],
  },
  {
    name: 'release',
    summary: 'release stored data to another agency (requested by one user, approved by another)',
    config: true,
    examples: ['alpr-edge release ls'],
    notes: [DATA_NOTE],
    subcommands: [
      {
        name: 'request',
        summary: 'ask for a release of the reads a search selects',
        options: RELEASE_REQUEST_OPTIONS,
        examples: ['alpr-edge release request --agency "County DA" --requester "J. Park" --purpose prosecution --case 26-1001 --mode full --plate 7ABC123'],
      },
      { name: 'show', summary: 'what a release holds: counts, time range, cameras, digest (fixed once approved)', args: 'RELEASE_ID', examples: ['alpr-edge release show 3'] },
      {
        name: 'approve',
        summary: 'approve a release another user requested, fixing what it holds',
        args: 'RELEASE_ID',
        options: RELEASE_APPROVE_OPTIONS,
        examples: ['alpr-edge release show 3', 'alpr-edge release approve 3 --up-to 1234 --digest DIGEST_SHOWN'],
      },
      {
        name: 'export',
        summary: 'write an approved release into a folder (once; again only by an admin with a reason)',
        args: 'RELEASE_ID',
        options: RELEASE_EXPORT_OPTIONS,
        examples: ['alpr-edge release export 3 --out /media/usb/release-3'],
      },
      { name: 'ls', summary: 'the releases and their state', examples: ['alpr-edge release ls'] },
    ],
  },
  {
    name: 'audit',
    summary: 'the access log: verify it, report on it (auditors, admins)',
    config: true,
    examples: ['alpr-edge audit verify'],
    subcommands: [
      {
        name: 'verify',
        summary: "check every access record's MAC and link, the log's start (record 1 or a signed retention anchor) and its head against the central server's acknowledgement and the status file",
        options: AUDIT_VERIFY_OPTIONS,
        examples: ['alpr-edge audit verify', 'alpr-edge audit verify --central'],
      },
      { name: 'report', summary: 'who looked at what, and why', options: AUDIT_REPORT_OPTIONS, examples: ['alpr-edge audit report --from 2026-11-01 --format csv --out nov.csv'] },
    ],
  },
  {
    name: 'hold',
    summary: 'evidence holds (admins): held reads are kept past retention',
    config: true,
    examples: ['alpr-edge hold ls --overdue'],
    notes: [ADMIN_NOTE],
    subcommands: [
      {
        name: 'place',
        summary: 'hold reads for a case, by id or by plate',
        options: HOLD_PLACE_OPTIONS,
        synopsis: ['alpr-edge hold place (--read ID[,ID..] | --plate P [--from ISO --to ISO] [--camera C]) --case N --reason R --contact C [--review ISO]'],
        examples: ['alpr-edge hold place --plate 7ABC123 --case 26-1001 --reason "evidence in burglary" --contact "Det. Ruiz x4411"'],
      },
      { name: 'release', summary: 'end a hold; its reads follow retention again', args: 'HOLD_ID', options: HOLD_RELEASE_OPTIONS, examples: ['alpr-edge hold release 7 --reason "case closed"'] },
      { name: 'review', summary: 'record a review and set the next one', args: 'HOLD_ID', options: HOLD_REVIEW_OPTIONS, examples: ['alpr-edge hold review 7 --next 2027-06-01'] },
      { name: 'ls', summary: 'the holds (admins, auditors)', options: HOLD_LS_OPTIONS, examples: ['alpr-edge hold ls --all'] },
    ],
  },
  {
    name: 'key',
    summary: 'data keys for encryption at rest',
    examples: ['alpr-edge key create /etc/alpr-edge/data.key'],
    subcommands: [
      {
        name: 'create',
        summary: 'write a new data key to FILE (0600; never overwrites)',
        args: 'FILE',
        examples: ['alpr-edge key create /etc/alpr-edge/data.key'],
        notes: ['Keep a copy off the unit: without it the stored data cannot be read.'],
      },
    ],
  },
  {
    name: 'store',
    summary: 'the read store',
    config: true,
    examples: ['alpr-edge store encrypt --config /etc/alpr-edge/unit.yaml'],
    subcommands: [
      {
        name: 'encrypt',
        summary: 'encrypt an existing plain store in place (unit stopped) with the configured key',
        examples: ['alpr-edge store encrypt --config /etc/alpr-edge/unit.yaml'],
      },
    ],
  },
  {
    name: 'camera',
    summary: 'the configured cameras, and a snapshot to aim one',
    config: true,
    examples: ['alpr-edge camera ls'],
    subcommands: [
      {
        name: 'ls',
        summary: 'each configured camera: id, type, enabled, source (no session needed)',
        options: CAMERA_LS_OPTIONS,
        examples: ['alpr-edge camera ls --json'],
      },
      {
        name: 'snapshot',
        summary: 'one frame with each plate boxed and its width in pixels, to aim the camera (signed in: technician or admin; in the access log)',
        args: 'CAMERA',
        options: CAMERA_SNAPSHOT_OPTIONS,
        examples: ['alpr-edge camera snapshot front --out /tmp/front.jpg', 'alpr-edge camera snapshot front --out - > front.jpg'],
        notes: [
          'Takes the frame as the unit would, so stop the unit first for a camera only one process can open (V4L2, USB). A folder camera gives its newest file, left in place.',
          'Green boxes: plates at least 60 px wide, which read well; orange: too small, aim or zoom closer. Nothing is stored as a read.',
        ],
      },
    ],
  },
  {
    name: 'sync',
    summary: 'upstream sync with the central server (no plate data shown)',
    config: true,
    examples: ['alpr-edge sync status'],
    subcommands: [
      {
        name: 'now',
        summary: "one sync cycle with the agency's server now (signed in: technician or admin; in the access log)",
        options: SYNC_OPTIONS,
        examples: ['alpr-edge sync now'],
        notes: [
          "Another destination than the agency's server recorded on the unit (an environment override, another config file) needs an admin, is recorded as a destination change, and has cursors of its own: reads it receives stay pending for the agency's server.",
          'Exit 1 when the cycle failed or was refused.',
        ],
      },
      {
        name: 'status',
        summary: 'where each stream stands, what waits, and the last change of destination',
        options: SYNC_OPTIONS,
        examples: ['alpr-edge sync status --json'],
      },
    ],
  },
  {
    name: 'central',
    summary: 'the reference central server (its own data folder, no unit config)',
    examples: ['alpr-edge central ls --data /srv/central'],
    subcommands: [
      {
        name: 'serve',
        summary: 'a reference central server (until Ctrl-C or SIGTERM)',
        options: CENTRAL_SERVE_OPTIONS,
        examples: [
          'alpr-edge central serve --data /srv/central --cert server.pem --key server.key --tokens tokens.txt --listen 0.0.0.0:8443',
          'alpr-edge central serve --data /tmp/central --insecure-http --tokens tokens.txt',
        ],
      },
      {
        name: 'publish',
        summary: 'an urgent entry every unit adds at its next sync',
        options: CENTRAL_PUBLISH_OPTIONS,
        examples: ['alpr-edge central publish --data /srv/central --list stolen --plate 7ABC123 --reason "armed robbery" --case 26-004512'],
      },
      {
        name: 'cancel',
        summary: 'cancel a plate of a list on every unit',
        options: CENTRAL_CANCEL_OPTIONS,
        examples: ['alpr-edge central cancel --data /srv/central --list stolen --plate 7ABC123 --reason "vehicle recovered"'],
      },
      {
        name: 'pull',
        summary: "pull a unit's reads and the rest over its API",
        options: CENTRAL_PULL_OPTIONS,
        examples: ['alpr-edge central pull --data /srv/central --unit car-12 --url https://car-12:8444 --ca ca.pem --token-file pull.token --purpose "case 26-777" --case 26-777 --stream reads --images'],
      },
      { name: 'ls', summary: 'what the central server holds, per unit', options: CENTRAL_LS_OPTIONS, examples: ['alpr-edge central ls --data /srv/central --json'] },
    ],
  },
  {
    name: 'config',
    summary: 'the config file: check it, list its keys',
    examples: ['alpr-edge config check /etc/alpr-edge/unit.yaml'],
    subcommands: [
      {
        name: 'check',
        summary: 'validate a config file; starts nothing; exit 0 valid, 1 not',
        args: '[FILE]',
        config: true,
        examples: ['alpr-edge config check /etc/alpr-edge/unit.yaml'],
        notes: ['FILE defaults to --config FILE, else $ALPR_EDGE_CONFIG; with neither, the built-in defaults are checked.'],
      },
      { name: 'docs', summary: 'every config key: type, default, bounds, environment variable', examples: ['alpr-edge config docs'] },
    ],
  },
  { name: 'version', summary: 'the version of alpr-edge', examples: ['alpr-edge version'] },
  {
    name: 'help',
    summary: "the commands; with COMMAND, that command's options",
    args: '[COMMAND [SUBCOMMAND]]',
    options: HELP_COMMAND_OPTIONS,
    examples: ['alpr-edge help hotlist add', 'alpr-edge help --markdown'],
  },
  {
    name: 'completion',
    summary: 'a shell completion script',
    examples: ['alpr-edge completion bash > /etc/bash_completion.d/alpr-edge'],
    subcommands: [
      {
        name: 'bash',
        summary: 'the bash completion of the commands, subcommands and options',
        examples: ['alpr-edge completion bash > /etc/bash_completion.d/alpr-edge', 'source <(alpr-edge completion bash)'],
      },
    ],
  },
];

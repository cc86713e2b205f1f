/** Commands that run and look after the unit: run, status, demo, recognize, the terminal simulator, keys, the store, cameras, config, help. */
import { type CommandSpec, json, type OptionSet } from './spec.js';

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

export const HELP_COMMAND_OPTIONS = {
  markdown: { type: 'boolean', help: "the command table of docs/commands.md" },
} as const satisfies OptionSet;

export const UNIT_COMMANDS = {
  run: {
    name: 'run',
    summary: 'run the unit (what systemd starts)',
    config: true,
    options: RUN_OPTIONS,
    synopsis: ['alpr-edge run [--config FILE] [--print-reads | --json] [--exit-when-done]'],
    examples: ['alpr-edge run --config /etc/alpr-edge/unit.yaml'],
    notes: ['Logs are JSON lines on stdout. SIGTERM or SIGINT stops it gracefully; a second signal exits at once.'],
  },
  status: {
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
  demo: {
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
  recognize: {
    name: 'recognize',
    summary: 'read the plates in images',
    args: 'IMAGE...',
    config: true,
    options: RECOGNIZE_OPTIONS,
    examples: ['alpr-edge recognize --json car1.jpg car2.jpg'],
    notes: ['Exit 1 when an image could not be read (the others are still read), 2 when the command line is wrong.'],
  },
  terminal: {
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
  key: {
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
  store: {
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
  camera: {
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
  config: {
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
  version: { name: 'version', summary: 'the version of alpr-edge', examples: ['alpr-edge version'] },
  help: {
    name: 'help',
    summary: "the commands; with COMMAND, that command's options",
    args: '[COMMAND [SUBCOMMAND]]',
    options: HELP_COMMAND_OPTIONS,
    examples: ['alpr-edge help hotlist add', 'alpr-edge help --markdown'],
  },
  completion: {
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
} as const satisfies Record<string, CommandSpec>;

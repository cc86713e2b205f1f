/** Commands between the unit and its central server: `sync` on the unit, and the reference central server, `central`. */
import { STREAMS } from '../../sync/streams.js';
import { asJson, type CommandSpec, type OptionSet } from './spec.js';

export const SYNC_OPTIONS = { json: asJson } as const satisfies OptionSet;

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

/** What `central publish` and `central cancel` both name: the list and the plate of an entry, and why. */
const centralEntry = (what: { list: string; plate: string; reason: string }) =>
  ({
    data: centralData,
    list: { type: 'string', arg: 'L', help: what.list, required: true },
    plate: { type: 'string', arg: 'P', help: what.plate, required: true },
    state: { type: 'string', arg: 'XX', help: "the plate's state or country" },
    reason: { type: 'string', arg: 'R', help: what.reason, required: true },
  }) as const;

export const CENTRAL_PUBLISH_OPTIONS = {
  ...centralEntry({ list: 'the list the entry belongs to', plate: 'the plate', reason: 'why the plate is wanted' }),
  case: { type: 'string', arg: 'C', help: 'the case number', required: true },
  expires: { type: 'string', arg: 'ISO-DATE', help: 'when the entry stops matching', dflt: "the unit's hotlists.manualEntryDays" },
  by: centralBy,
  json: asJson,
} as const satisfies OptionSet;

export const CENTRAL_CANCEL_OPTIONS = {
  ...centralEntry({ list: 'the list', plate: 'the plate to cancel', reason: 'why it is cancelled' }),
  by: centralBy,
  json: asJson,
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
  json: asJson,
} as const satisfies OptionSet;

export const SYNC_COMMANDS = {
  sync: {
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
  central: {
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
} as const satisfies Record<string, CommandSpec>;

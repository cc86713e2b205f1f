/** Commands that look at stored data, each recorded in the access log: search, show, hits, releases, the access log itself, evidence holds. */
import { caseNumber, type CommandSpec, ISO, json, type OptionSet, purpose } from './spec.js';

/** What every query of stored data ends with: why and for which case (both recorded), JSON output, a limit. */
const stated = (what: 'reads' | 'hits') =>
  ({ purpose, case: caseNumber, json, limit: { type: 'string', arg: 'N', help: `at most N ${what}, up to 10000`, dflt: '1000' } }) as const;

export const SEARCH_OPTIONS = {
  plate: { type: 'string', arg: 'P', help: 'the plate; * and ? match any characters and one character (7ABC*)' },
  from: { type: 'string', arg: ISO, help: 'reads seen from this date/time (ISO 8601, e.g. 2026-11-22T08:00Z)' },
  to: { type: 'string', arg: ISO, help: 'reads seen up to this date/time' },
  camera: { type: 'string', arg: 'C', help: 'reads of this camera only' },
  near: { type: 'string', arg: 'LAT,LON,METRES', help: 'reads within METRES of a position (e.g. 33.9164,-118.4041,200)' },
  'include-deleted': { type: 'boolean', help: 'also logically deleted reads (admins, with --reason)' },
  reason: { type: 'string', arg: 'R', help: 'why deleted reads are looked at (with --include-deleted)' },
  ...stated('reads'),
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
  ...stated('hits'),
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

const DATA_NOTE = 'For a signed-in user (alpr-edge login) whose role allows it; every access is recorded in the access log.';

const ADMIN_NOTE = 'For a signed-in admin (alpr-edge login); every change is recorded in the access log.';

export const DATA_COMMANDS = {
  search: {
    name: 'search',
    summary: 'search the stored reads',
    config: true,
    options: SEARCH_OPTIONS,
    examples: ['alpr-edge search --plate "7ABC*" --from 2026-11-01 --purpose "stolen vehicle follow-up" --case 26-1001'],
    notes: [DATA_NOTE],
  },
  show: {
    name: 'show',
    summary: 'one stored read in full, and its images',
    args: 'READ_ID',
    config: true,
    options: SHOW_OPTIONS,
    examples: ['alpr-edge show 1234 --purpose "stolen vehicle follow-up" --case 26-1001 --images ./case-26-1001'],
    notes: [DATA_NOTE],
  },
  hits: {
    name: 'hits',
    summary: 'the hot list hits, with what happened to their alerts',
    config: true,
    options: HITS_OPTIONS,
    examples: ['alpr-edge hits --list stolen --from 2026-11-01 --purpose "shift review" --case 26-1001'],
    notes: [DATA_NOTE],
  },
  release: {
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
  audit: {
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
  hold: {
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
} as const satisfies Record<string, CommandSpec>;

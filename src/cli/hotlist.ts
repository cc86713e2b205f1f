import type { Config } from '../config/schema.js';
import { NCIC_CODES } from '../hotlist/formats/ncic.js';
import {
  explainHit,
  FORMAT_NAMES,
  HotlistError,
  HotlistImportError,
  Hotlists,
  type EntryRecord,
  type FormatName,
  type ListSummary,
} from '../hotlist/index.js';
import { openStore } from '../store/open.js';
import { AccessLog } from '../access/access-log.js';
import { requirePrincipal } from '../access/session.js';
import { intOption, osUser, parse, UsageError } from './args.js';
import {
  HOTLIST_ADD_OPTIONS,
  HOTLIST_CANCEL_OPTIONS,
  HOTLIST_IMPORT_OPTIONS,
  HOTLIST_LS_OPTIONS,
  HOTLIST_PURGE_OPTIONS,
  HOTLIST_TEST_OPTIONS,
} from './commands.js';
import { usageOf } from './help.js';
import { systemClock } from '../util/clock.js';

/**
 * `alpr-edge hotlist ...`: the hot lists in the database under data.dir. The user given with --user is recorded
 * with each change; who may make changes is checked from issue #6 on (access control), not yet.
 * Exit 0: done; 1: refused or rejected (the message says why; nothing changed); 2: usage.
 */
export function hotlistCommand(argv: string[], config: Config): number {
  const [sub, ...args] = argv;
  let rest = args;
  if (sub === undefined) throw new UsageError(`which hotlist command?\nusage: ${usageOf('hotlist')}`);
  const { store, auditKey } = openStore(config, systemClock);
  try {
    // Hot lists are data whose access is controlled (P1, P4): a signed-in user with the right role, and changes
    // are recorded under that user's name, not one typed on the command line.
    const log = new AccessLog(store.database, auditKey, systemClock);
    const changes = ['import', 'add', 'cancel', 'purge'].includes(sub);
    const who = requirePrincipal(config, store.database, log, changes ? 'hotlist.edit' : ['hotlist.edit', 'reads.search', 'audit.read']);
    if (changes) rest = withUser(rest, who.user);
    const hotlists = Hotlists.open(store.database, { config: config.hotlists, clock: systemClock });
    store.database.transaction(() =>
      log.append({ user: who.user, agency: who.agency, role: who.role, action: `hotlist ${sub}`, query: { args: rest }, outcome: 'ok' }),
    )();
    const run = SUBCOMMANDS.get(sub);
    if (!run) throw new UsageError(`unknown hotlist command ${JSON.stringify(sub)}\nusage: ${usageOf('hotlist')}`);
    return run(hotlists, rest);
  } catch (err) {
    if (err instanceof HotlistImportError) {
      for (const p of err.problems) process.stderr.write(`${err.file}${p.line > 0 ? `:${p.line}` : ''}: ${p.message}\n`);
      process.stderr.write(`alpr-edge: ${err.message}\n`);
      return 1;
    }
    if (err instanceof HotlistError) {
      process.stderr.write(`alpr-edge: hotlist ${sub}: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    store.close();
  }
}

/** The subcommands, by name. */
const SUBCOMMANDS = new Map<string, (hotlists: Hotlists, argv: string[]) => number>([
  ['import', importCmd],
  ['ls', lsCmd],
  ['add', addCmd],
  ['cancel', cancelCmd],
  ['test', testCmd],
  ['purge', purgeCmd],
]);

/** Sets --user to the signed-in user; a different name given with --user is refused. */
function withUser(args: string[], user: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const given = a === '--user' ? args[++i] : a.startsWith('--user=') ? a.slice(7) : undefined;
    if (given === undefined) out.push(a);
    else if (given !== user) throw new UsageError(`--user ${given}: changes are recorded under the signed-in user (${user}); sign in as ${given} instead`);
  }
  return [...out, '--user', user];
}

function required(value: string | undefined, flag: string, usage: string): string {
  if (value === undefined || value.trim() === '') throw new UsageError(`${flag} is required\nusage: ${usage}`);
  return value;
}

function importCmd(hotlists: Hotlists, argv: string[]): number {
  const usage = usageOf('hotlist', 'import');
  const { values, positionals } = parse(argv, HOTLIST_IMPORT_OPTIONS);
  if (positionals.length !== 1) throw new UsageError(`give one file to import\nusage: ${usage}`);
  const format = values.format as FormatName | undefined;
  if (format !== undefined && !FORMAT_NAMES.includes(format)) {
    throw new UsageError(`--format must be one of ${FORMAT_NAMES.join(', ')} (got ${JSON.stringify(format)})`);
  }
  const file = positionals[0]!;
  const r = hotlists.importFile(file, {
    list: required(values.list, '--list', usage),
    format,
    category: values.category,
    priority: intOption(values.priority, '--priority', 1, 9),
    covert: values.covert,
    source: values.source,
    user: values.user ?? osUser(),
    fileName: file,
  });
  if (r.status === 'unchanged') {
    process.stdout.write(`list ${r.list}: ${file} is unchanged since version ${r.versionId} (${r.entries} entries): nothing imported\n`);
    return 0;
  }
  const left: string[] = [];
  if (r.skipped.junk) left.push(`${r.skipped.junk} junk plate(s)`);
  if (r.skipped.state) left.push(`${r.skipped.state} of other states`);
  process.stdout.write(
    `list ${r.list}: version ${r.versionId} imported from ${file}: ${r.entries} entries` +
      (r.wildcards ? ` (${r.wildcards} partial plates)` : '') +
      (left.length ? `, left out ${left.join(' and ')}` : '') +
      (r.keptCancelled ? `, ${r.keptCancelled} still cancelled` : '') +
      ` in ${(r.ms / 1000).toFixed(1)} s` +
      (r.replacedVersionId !== null ? ` (replaces version ${r.replacedVersionId})` : '') +
      '\n',
  );
  for (const w of r.warnings) process.stdout.write(`warning: ${w}\n`);
  return 0;
}

function lsCmd(hotlists: Hotlists, argv: string[]): number {
  const { values, positionals } = parse(argv, HOTLIST_LS_OPTIONS);
  if (positionals.length > 1) throw new UsageError(`usage: ${usageOf('hotlist', 'ls')}`);
  const lists = hotlists.lists();
  if (positionals.length === 1) {
    const name = positionals[0]!;
    const list = lists.find((l) => l.name === name);
    if (!list) throw new HotlistError(`no list named ${JSON.stringify(name)} (lists: ${lists.map((l) => l.name).join(', ') || 'none'})`);
    const entries = hotlists.manualAndCancelled(name);
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ list, entries }, null, 2)}\n`);
      return 0;
    }
    process.stdout.write(`${describeList(list)}\n`);
    if (entries.length === 0) process.stdout.write('  no manual or cancelled entries\n');
    for (const e of entries) process.stdout.write(`  ${describeEntry(e)}\n`);
    return 0;
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ lists }, null, 2)}\n`);
    return 0;
  }
  if (lists.length === 0) {
    process.stdout.write('no hot lists (import one with `alpr-edge hotlist import`)\n');
    return 0;
  }
  for (const l of lists) process.stdout.write(`${describeList(l)}\n`);
  return 0;
}

function describeList(l: ListSummary): string {
  const policy = l.policy === 'distance' ? `distance ${l.maxDistance}` : l.policy;
  const version = l.version
    ? `version ${l.version.id} from ${l.version.file} (${new Date(l.version.importedAt).toISOString()} by ${l.version.importedBy}, sha256 ${l.version.checksum.slice(0, 12)})`
    : 'no file imported';
  const expires = l.expiresAt === null ? '' : `, expires ${new Date(l.expiresAt).toISOString()}`;
  return (
    `${l.name}: ${l.entries} entries${l.cancelled ? ` (${l.cancelled} cancelled)` : ''}, ${l.manualEntries} manual; ` +
    `${l.format}, ${l.category}, priority ${l.priority}${l.covert ? ', covert' : ''}, match ${policy}${expires}\n  ${version}` +
    (l.source ? `; source ${l.source}` : '')
  );
}

function describeEntry(e: EntryRecord): string {
  const parts = [`#${e.id}`, e.plate, e.state ?? '--', e.origin];
  if (e.caseNumber) parts.push(`case ${e.caseNumber}`);
  if (e.reason) parts.push(JSON.stringify(e.reason));
  if (e.addedBy) parts.push(`added by ${e.addedBy} ${new Date(e.addedAt).toISOString()}`);
  if (e.expiresAt !== null) parts.push(`expires ${new Date(e.expiresAt).toISOString()}`);
  if (e.cancelledAt !== null) parts.push(`CANCELLED ${new Date(e.cancelledAt).toISOString()} by ${e.cancelledBy}: ${e.cancelReason}`);
  return parts.join('  ');
}

function addCmd(hotlists: Hotlists, argv: string[]): number {
  const usage = usageOf('hotlist', 'add');
  const { values, positionals } = parse(argv, HOTLIST_ADD_OPTIONS);
  if (positionals.length !== 1) throw new UsageError(`give one plate\nusage: ${usage}`);
  let expiresAt: number | undefined;
  if (values.expires !== undefined) {
    expiresAt = Date.parse(values.expires);
    if (Number.isNaN(expiresAt)) throw new UsageError(`--expires must be an ISO date or time, e.g. 2026-12-31 or 2026-12-31T18:00:00Z (got ${JSON.stringify(values.expires)})`);
  }
  const e = hotlists.addEntry({
    list: required(values.list, '--list', usage),
    plate: positionals[0]!,
    reason: required(values.reason, '--reason', usage),
    caseNumber: required(values.case, '--case', usage),
    user: required(values.user, '--user', usage),
    state: values.state,
    expiresAt,
  });
  const partial = /[?*]/.test(e.plate) ? ' (partial plate)' : '';
  process.stdout.write(
    `entry #${e.id} added to list ${e.list}: ${e.plate}${partial}${e.state ? ` ${e.state}` : ''}, case ${e.caseNumber}, by ${e.addedBy}, expires ${new Date(e.expiresAt!).toISOString()}\n`,
  );
  return 0;
}

function cancelCmd(hotlists: Hotlists, argv: string[]): number {
  const usage = usageOf('hotlist', 'cancel');
  const { values, positionals } = parse(argv, HOTLIST_CANCEL_OPTIONS);
  if (positionals.length !== 1) throw new UsageError(`give one entry id\nusage: ${usage}`);
  const id = intOption(positionals[0]!.replace(/^#/, ''), 'ENTRY_ID', 1, Number.MAX_SAFE_INTEGER)!;
  const e = hotlists.cancelEntry(id, { user: required(values.user, '--user', usage), reason: required(values.reason, '--reason', usage) });
  process.stdout.write(`entry #${e.id} (${e.plate}, list ${e.list}) cancelled by ${e.cancelledBy}: ${e.cancelReason}\n`);
  return 0;
}

function testCmd(hotlists: Hotlists, argv: string[]): number {
  const { values, positionals } = parse(argv, HOTLIST_TEST_OPTIONS);
  if (positionals.length !== 1) throw new UsageError(`usage: ${usageOf('hotlist', 'test')}`);
  const plate = positionals[0]!;
  const candidates = (values.candidates ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
    .map((text) => ({ text }));
  const hits = hotlists.match({ plate, candidates });
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ plate, hits: hits.map((h) => ({ ...h, why: explainHit(h) })) })}\n`);
    return 0;
  }
  if (hits.length === 0) {
    const s = hotlists.matcher.stats;
    process.stdout.write(`${plate}: no match (${s.lists} list(s), ${s.entries} entries in use)\n`);
    return 0;
  }
  process.stdout.write(`${plate}: ${hits.length} hit(s)\n`);
  for (const h of hits) {
    const code = h.code ? ` ${h.code}${NCIC_CODES[h.code] ? ` ${NCIC_CODES[h.code]}` : ''}` : '';
    process.stdout.write(
      `  list ${h.list} (${h.category}, priority ${h.priority}${h.covert ? ', covert' : ''}): entry #${h.entryId} ${h.plate}${h.state ? ` ${h.state}` : ''}${code}\n` +
        `    ${h.how}${h.how === 'distance' ? ` ${h.distance}` : ''}: ${explainHit(h)}\n`,
    );
  }
  return 0;
}

function purgeCmd(hotlists: Hotlists, argv: string[]): number {
  const { values, positionals } = parse(argv, HOTLIST_PURGE_OPTIONS);
  if (positionals.length > 0) throw new UsageError(`usage: ${usageOf('hotlist', 'purge')}`);
  const r = hotlists.purgeExpired(values.user ?? osUser());
  process.stdout.write(
    `purged ${r.lists.length} expired list(s)${r.lists.length ? ` (${r.lists.join(', ')})` : ''} and ${r.entries} expired entr${r.entries === 1 ? 'y' : 'ies'}` +
      (r.leftovers ? `; deleted ${r.leftovers} leftover row(s) of replaced versions` : '') +
      '\n',
  );
  return 0;
}

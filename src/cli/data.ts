import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AccessLog } from '../access/access-log.js';
import { DataAccess, hitHistory, type SearchQuery } from '../access/data.js';
import { Releases, type ReleaseRecord, type ReleaseSummary } from '../access/releases.js';
import { AccessDenied, can, type Permission, type Principal } from '../access/roles.js';
import { requirePrincipal } from '../access/session.js';
import type { Config } from '../config/schema.js';
import { openStore } from '../store/open.js';
import type { ReadStore } from '../store/read-store.js';
import { systemClock } from '../util/clock.js';
import { intOption, parse, UsageError } from './args.js';
import { HITS_OPTIONS, RELEASE_APPROVE_OPTIONS, RELEASE_EXPORT_OPTIONS, RELEASE_REQUEST_OPTIONS, SEARCH_OPTIONS, SHOW_OPTIONS } from './commands.js';
import { usageOf } from './help.js';

/**
 * Runs a data command as the signed-in user (their session, else refused and recorded): opens the store and the
 * access log, and closes the store after.
 */
async function asSignedIn(config: Config, body: (c: { store: ReadStore; log: AccessLog; who: Principal }) => Promise<number>): Promise<number> {
  const { store, auditKey } = openStore(config, systemClock);
  const log = new AccessLog(store.database, auditKey, systemClock);
  try {
    return await body({ store, log, who: requirePrincipal(config, store.database, log, null) });
  } finally {
    store.close();
  }
}

function optionsOnly(positionals: string[], command: string): void {
  if (positionals.length) throw new UsageError(`${command} takes options only\nusage: ${usageOf(command)}`);
}

function time(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new UsageError(`${name}: ${JSON.stringify(v)} is not a date/time (ISO 8601, e.g. 2026-11-22T08:00Z)`);
  return t;
}

function searchQuery(values: Record<string, string | boolean | undefined>): SearchQuery {
  const q: SearchQuery = {};
  if (values.plate) q.plate = String(values.plate);
  q.from = time(values.from as string | undefined, '--from');
  q.to = time(values.to as string | undefined, '--to');
  if (values.camera) q.cameraId = String(values.camera);
  if (values.near) {
    const parts = String(values.near).split(',').map(Number);
    if (parts.length !== 3 || parts.some((n) => !Number.isFinite(n))) throw new UsageError('--near LAT,LON,METRES (e.g. 33.9164,-118.4041,200)');
    q.near = { latitude: parts[0]!, longitude: parts[1]!, radiusM: parts[2]! };
  }
  if (values['include-deleted']) q.includeDeleted = { reason: String(values.reason ?? '') };
  q.limit = intOption(values.limit as string | undefined, '--limit', 1, 10_000);
  return q;
}

export async function searchCommand(argv: string[], config: Config): Promise<number> {
  const { values, positionals } = parse(argv, SEARCH_OPTIONS);
  optionsOnly(positionals, 'search');
  return asSignedIn(config, async ({ store, log, who }) => {
    const reads = new DataAccess(store.database, log).search(who, { purpose: values.purpose, caseNumber: values.case }, searchQuery(values));
    if (values.json) for (const r of reads) process.stdout.write(`${JSON.stringify(r)}\n`);
    else {
      for (const r of reads) {
        process.stdout.write(
          `#${r.id}  ${new Date(r.firstSeen).toISOString()}  ${r.plate.padEnd(9)} ${r.confidence.toFixed(1).padStart(5)}%  ${r.cameraId.padEnd(10)} ${r.latitude !== null ? `${r.latitude.toFixed(5)},${r.longitude!.toFixed(5)}` : 'no position'}${r.deleted ? '  (deleted)' : ''}\n`,
        );
      }
      process.stdout.write(`${reads.length} read(s); this search is recorded in the access log\n`);
    }
    return 0;
  });
}

export async function showCommand(argv: string[], config: Config): Promise<number> {
  const { values, positionals } = parse(argv, SHOW_OPTIONS);
  const id = intOption(positionals[0], 'READ_ID', 1, Number.MAX_SAFE_INTEGER);
  if (id === undefined) throw new UsageError(`show needs a read id\nusage: ${usageOf('show')}`);
  return asSignedIn(config, async ({ store, log, who }) => {
    const read = new DataAccess(store.database, log).show(who, { purpose: values.purpose, caseNumber: values.case }, id, { images: values.images !== undefined });
    process.stdout.write(`${JSON.stringify(read, null, 2)}\n`);
    if (values.images !== undefined) {
      mkdirSync(values.images, { recursive: true, mode: 0o700 });
      for (const rel of [read.cropPath, read.framePath]) {
        if (!rel) continue;
        const out = path.join(values.images, `${read.id}-${path.basename(rel)}`);
        writeFileSync(out, await store.readImage(rel), { mode: 0o600 });
        process.stdout.write(`wrote ${out}\n`);
      }
    }
    return 0;
  });
}

export async function hitsCommand(argv: string[], config: Config): Promise<number> {
  const { values, positionals } = parse(argv, HITS_OPTIONS);
  optionsOnly(positionals, 'hits');
  return asSignedIn(config, async ({ store, log, who }) => {
    const hits = hitHistory(store.database, log, who, { purpose: values.purpose, caseNumber: values.case }, {
      plate: values.plate,
      list: values.list,
      from: time(values.from, '--from'),
      to: time(values.to, '--to'),
      limit: intOption(values.limit, '--limit', 1, 10_000),
    });
    for (const h of hits) {
      process.stdout.write(
        values.json
          ? `${JSON.stringify(h)}\n`
          : `${new Date(h.seenAt).toISOString()}  ${h.plate.padEnd(9)} ${h.list} (${h.category || '-'}, priority ${h.priority}, ${h.how} ${h.entryPlate})  read #${h.readId}${h.alert ? `  alert ${h.alert.suppressed ? `not sent (${h.alert.suppressed})` : h.alert.ackAccepted === null ? 'unanswered' : `${h.alert.ackAccepted ? 'accepted' : 'rejected'} by ${h.alert.ackBy ?? '?'}`}` : ''}\n`,
      );
    }
    if (!values.json) process.stdout.write(`${hits.length} hit(s); this query is recorded in the access log\n`);
    return 0;
  });
}

const iso = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'));

/** A release's search, for people: `plate 7ABC*, from 2026-11-22T00:00Z, camera front`. */
function selectorText(q: SearchQuery): string {
  const parts: string[] = [];
  if (q.plate) parts.push(`plate ${q.plate}`);
  if (q.from !== undefined) parts.push(`from ${iso(q.from)}`);
  if (q.to !== undefined) parts.push(`to ${iso(q.to)}`);
  if (q.cameraId) parts.push(`camera ${q.cameraId}`);
  if (q.near) parts.push(`within ${q.near.radiusM} m of ${q.near.latitude},${q.near.longitude}`);
  return parts.join(', ') || 'every read';
}

/** What a release holds, for the approver and the requester to see. */
function describeRelease(r: ReleaseRecord, s: ReleaseSummary | null, digest: string | null, fixed: boolean): string {
  const lines = [
    `release ${r.id} (${r.mode}) to ${r.agency} (${r.requester}), purpose "${r.purpose}", case ${r.caseNumber}`,
    `  selected by: ${selectorText(r.selector)}`,
    `  requested by ${r.requestedBy} at ${iso(r.requestedAt)}; ${r.approvedBy ? `approved by ${r.approvedBy} at ${iso(r.approvedAt)}` : 'NOT APPROVED'}${r.exportCount > 0 ? `; exported ${r.exportCount} time(s), first by ${r.exportedBy} at ${iso(r.exportedAt)}` : ''}`,
  ];
  if (s) {
    lines.push(
      `  ${fixed ? 'approved contents (fixed)' : 'contents if approved now'}: ${s.reads} read(s) of ${s.vehicles} vehicle(s), seen ${iso(s.from)} to ${iso(s.to)}, reads stored up to #${s.upToReadId}`,
      `  cameras: ${Object.entries(s.cameras).map(([c, n]) => `${c} ${n}`).join(', ') || 'none'}`,
    );
    if (r.mode === 'full') lines.push(`  images: ${s.images ?? 0}`);
    else lines.push(`  cells (camera x UTC day): ${s.cells} released, ${s.cellsSuppressed} left out with fewer than ${s.minCount} vehicles (access.releaseMinCellCount)`);
    lines.push(`  digest (sha256): ${digest}`);
  } else if (!fixed) {
    lines.push('  contents: not shown to this role before approval');
  } else {
    lines.push('  contents: approved before contents were fixed at approval (not known)');
  }
  return `${lines.join('\n')}\n`;
}

export async function releaseCommand(argv: string[], config: Config): Promise<number> {
  const [sub, ...rest] = argv;
  return asSignedIn(config, async ({ store, log, who }) => {
    const releases = new Releases(store.database, log, { minCellCount: config.access.releaseMinCellCount });
    switch (sub) {
      case 'request': {
        const { values } = parse(rest, RELEASE_REQUEST_OPTIONS);
        if (values.mode !== 'full' && values.mode !== 'aggregate') throw new UsageError('--mode full|aggregate');
        const r = releases.request(who, {
          mode: values.mode,
          agency: values.agency ?? '',
          requester: values.requester ?? '',
          purpose: values.purpose ?? '',
          caseNumber: values.case ?? '',
          selector: searchQuery(values),
        });
        process.stdout.write(
          `release ${r.id} requested (${r.mode}, to ${r.agency}), selected by: ${selectorText(r.selector)}\n` +
            `it needs the approval of an admin independent of ${r.requestedBy}, who sees its contents with: alpr-edge release show ${r.id}\n`,
        );
        return 0;
      }
      case 'show': {
        const { positionals } = parse(rest, {});
        const id = intOption(positionals[0], 'RELEASE_ID', 1, Number.MAX_SAFE_INTEGER);
        if (id === undefined) throw new UsageError(`usage: ${usageOf('release', 'show')}`);
        const v = releases.show(who, id);
        process.stdout.write(describeRelease(v.release, v.summary, v.digest, v.fixed));
        if (!v.fixed && v.summary && v.digest) process.stdout.write(`to approve exactly this: alpr-edge release approve ${id} --up-to ${v.summary.upToReadId} --digest ${v.digest}\n`);
        return 0;
      }
      case 'approve': {
        const { values, positionals } = parse(rest, RELEASE_APPROVE_OPTIONS);
        const id = intOption(positionals[0], 'RELEASE_ID', 1, Number.MAX_SAFE_INTEGER);
        if (id === undefined) throw new UsageError(`usage: ${usageOf('release', 'approve')}`);
        const upTo = intOption(values['up-to'], '--up-to', 0, Number.MAX_SAFE_INTEGER);
        const r = releases.approve(who, id, { expectDigest: values.digest, upToReadId: upTo });
        process.stdout.write(`release ${id} approved by ${who.user}; its contents are fixed:\n`);
        process.stdout.write(describeRelease(r, r.summary, r.digest, true));
        return 0;
      }
      case 'export': {
        const { values, positionals } = parse(rest, RELEASE_EXPORT_OPTIONS);
        const id = intOption(positionals[0], 'RELEASE_ID', 1, Number.MAX_SAFE_INTEGER);
        if (id === undefined || !values.out) throw new UsageError(`usage: ${usageOf('release', 'export')}`);
        const r = await releases.export(who, id, values.out, (rel) => store.readImage(rel), { reason: values.reason });
        process.stdout.write(
          `release ${id}: ${r.cells === null ? `${r.reads} read(s)` : `${r.cells} cell(s) counting ${r.reads} read(s)`}, ${r.files.length} file(s) in ${values.out}; digest ${r.digest} (export ${r.exportNumber}, recorded in the access log)\n` +
            (r.imagesMissing > 0 ? `${r.imagesMissing} approved image(s) no longer stored (evicted since the approval), listed in release.json\n` : ''),
        );
        return 0;
      }
      case 'ls': {
        if (!['reads.export', 'releases.approve', 'audit.read'].some((p) => can(who.role, p as Permission))) {
          throw new AccessDenied(`role ${who.role} may not see releases`);
        }
        for (const r of releases.list()) {
          process.stdout.write(
            `${r.id}  ${r.mode.padEnd(9)} to ${r.agency} (${r.requester}), case ${r.caseNumber}, requested by ${r.requestedBy} ${iso(r.requestedAt)}, ${r.approvedBy ? `approved by ${r.approvedBy}${r.summary ? ` (${r.summary.reads} read(s), digest ${r.digest!.slice(0, 12)}…)` : ''}` : 'NOT APPROVED'}${r.exportCount > 0 ? `, exported ${r.exportCount}x` : ''}\n`,
          );
        }
        return 0;
      }
      default:
        throw new UsageError(`usage: ${usageOf('release')}`);
    }
  });
}

import { AccessLog } from '../access/access-log.js';
import { requirePrincipal } from '../access/session.js';
import type { Config } from '../config/schema.js';
import { listHolds, placeHold, releaseHold, reviewHold, type Hold } from '../retention/holds.js';
import { openStore } from '../store/open.js';
import { systemClock } from '../util/clock.js';
import { intOption, parse, UsageError } from './args.js';
import { HOLD_LS_OPTIONS, HOLD_PLACE_OPTIONS, HOLD_RELEASE_OPTIONS, HOLD_REVIEW_OPTIONS } from './commands.js';
import { usageOf } from './help.js';

/** `alpr-edge hold ...`: evidence holds by case number (P8); every change is in the access log. */
export function holdCommand(argv: string[], config: Config): number {
  const [sub, ...rest] = argv;
  const { store, auditKey } = openStore(config, systemClock);
  try {
    const db = store.database;
    const log = new AccessLog(db, auditKey, systemClock);
    const who = requirePrincipal(config, db, log, sub === 'ls' ? ['holds.manage', 'audit.read'] : 'holds.manage');
    const record = (action: string, query: unknown, result: unknown, caseNumber?: string) =>
      db.transaction(() => log.append({ user: who.user, agency: who.agency, role: who.role, action, caseNumber: caseNumber ?? null, query, result, outcome: 'ok' }))();
    const time = (v: string | undefined, name: string) => {
      if (v === undefined) return undefined;
      const t = Date.parse(v);
      if (Number.isNaN(t)) throw new UsageError(`${name}: not a date/time (ISO 8601)`);
      return t;
    };
    switch (sub) {
      case 'place': {
        const { values } = parse(rest, HOLD_PLACE_OPTIONS);
        const readIds = values.read?.split(',').map((x) => intOption(x, '--read', 1, Number.MAX_SAFE_INTEGER)!);
        const h = placeHold(
          db,
          who,
          { readIds, plate: values.plate, from: time(values.from, '--from'), to: time(values.to, '--to'), cameraId: values.camera },
          { caseNumber: values.case ?? '', reason: values.reason ?? '', contact: values.contact ?? '', reviewAt: time(values.review, '--review') },
          systemClock(),
        );
        record('hold-place', h.selector, { hold: h.id, reads: h.reads }, h.caseNumber);
        process.stdout.write(`hold ${h.id} placed on ${h.reads} read(s), case ${h.caseNumber}; review by ${new Date(h.reviewAt).toISOString().slice(0, 10)}\n`);
        return 0;
      }
      case 'release': {
        const { values, positionals } = parse(rest, HOLD_RELEASE_OPTIONS);
        const id = intOption(positionals[0], 'HOLD_ID', 1, Number.MAX_SAFE_INTEGER);
        if (id === undefined) throw new UsageError(`usage: ${usageOf('hold', 'release')}`);
        const h = releaseHold(db, who, id, values.reason ?? '', systemClock());
        record('hold-release', { hold: id }, { reason: values.reason }, h.caseNumber);
        process.stdout.write(`hold ${id} released; its ${h.reads} read(s) follow retention again\n`);
        return 0;
      }
      case 'review': {
        const { values, positionals } = parse(rest, HOLD_REVIEW_OPTIONS);
        const id = intOption(positionals[0], 'HOLD_ID', 1, Number.MAX_SAFE_INTEGER);
        const next = time(values.next, '--next');
        if (id === undefined || next === undefined) throw new UsageError(`usage: ${usageOf('hold', 'review')}`);
        const h = reviewHold(db, who, id, next, systemClock());
        record('hold-review', { hold: id, next: values.next }, null, h.caseNumber);
        process.stdout.write(`hold ${id} reviewed; next review ${new Date(h.reviewAt).toISOString().slice(0, 10)}\n`);
        return 0;
      }
      case 'ls': {
        const { values } = parse(rest, HOLD_LS_OPTIONS);
        const now = systemClock();
        const holds = listHolds(db, { overdueReview: values.overdue, includeReleased: values.all, now });
        record('hold-ls', values, { count: holds.length });
        for (const h of holds) process.stdout.write(`${line(h, now)}\n`);
        if (holds.length === 0) process.stdout.write('no holds\n');
        return 0;
      }
      default:
        throw new UsageError(`usage: ${usageOf('hold')}`);
    }
  } finally {
    store.close();
  }
}

function line(h: Hold, now: number): string {
  const state = h.releasedAt ? `released by ${h.releasedBy}` : h.reviewAt < now ? 'REVIEW OVERDUE' : `review by ${new Date(h.reviewAt).toISOString().slice(0, 10)}`;
  return `${h.id}  case ${h.caseNumber}  ${h.reads} read(s)  "${h.reason}"  contact ${h.contact}  placed by ${h.placedBy} ${new Date(h.placedAt).toISOString().slice(0, 10)}  ${state}`;
}

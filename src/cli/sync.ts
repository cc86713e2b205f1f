import type { Config } from '../config/schema.js';
import { AccessLog } from '../access/access-log.js';
import { AccessDenied, can } from '../access/roles.js';
import { requirePrincipal } from '../access/session.js';
import { Hotlists } from '../hotlist/index.js';
import { createLogger } from '../log/logger.js';
import { openStore } from '../store/open.js';
import { SyncEngine, type CycleReport, type SyncStatus } from '../sync/engine.js';
import { destinationClaim } from '../config/load.js';
import { normalizeUrl, STREAMS } from '../sync/streams.js';
import { backlog, cursorOf, destinationByUrl } from '../sync/streams.js';
import { parse, UsageError } from './args.js';
import { SYNC_OPTIONS } from './commands.js';
import { usageOf } from './help.js';
import { refreshStoppedStatus } from './status.js';
import { systemClock } from '../util/clock.js';

/**
 * `alpr-edge sync now`: one sync cycle with the central server at once, from this process (beside a running unit:
 * the server stores each item once and the cursors only move forward, so two cycles at once do no harm). It moves
 * stored data off the unit, so it needs a signed-in user whose role may operate the unit (technician or admin), and
 * it is written to the access log before anything is sent (who, the destination, what waits) and after (what was
 * sent per stream). The destination is the agency's server recorded in the store; another one (an environment
 * override, another config file) is recorded as a destination change, needs an administrator, and gets cursors of
 * its own: what it acknowledges is not marked synced for the agency's server.
 * `alpr-edge sync status`: where each stream stands for the configured server, how many items wait, which server is
 * recorded as the agency's and the last change of destination. Neither shows plate data.
 */
export async function syncCommand(argv: string[], config: Config): Promise<number> {
  const { values, positionals } = parse(argv, SYNC_OPTIONS);
  const sub = positionals[0];
  if (sub !== 'now' && sub !== 'status') throw new UsageError(`usage: ${usageOf('sync')}`);
  if (sub === 'now' && config.sync.server.url === '') {
    throw new UsageError('sync.server.url is not set in the config: there is no central server to sync with');
  }
  const log = createLogger(config.log.level, 2).child({ part: 'sync' });
  const { store, auditKey } = openStore(config, systemClock);
  let hotlists: Hotlists | undefined;
  try {
    const db = store.database;
    const accessLog = new AccessLog(db, auditKey, systemClock);
    const claim = destinationClaim(config);
    if (sub === 'status') {
      const engine = new SyncEngine({ config: config.sync, unitId: config.unit.id, store, log, destination: claim });
      const status = engine.status();
      process.stdout.write(values.json ? `${JSON.stringify(status)}\n` : describeStatus(status));
      return 0;
    }
    // P1, P4: data leaves the unit only on a signed-in user's command, whose role may operate the unit
    const who = requirePrincipal(config, db, accessLog, 'unit.operate');
    let url: string;
    try {
      url = normalizeUrl(config.sync.server.url);
    } catch {
      throw new UsageError(`sync.server.url ${JSON.stringify(config.sync.server.url)} is not a URL`);
    }
    const agencyServer = (db.prepare('SELECT url FROM sync_destinations WHERE agency = 1').get() as { url: string } | undefined)?.url ?? null;
    // the agency's server as recorded (by the running unit, from its config file); before any is recorded, the
    // configured one unless an environment variable set it
    const trusted = agencyServer === null ? claim.trusted : agencyServer === url;
    const intent = {
      destination: url,
      source: claim.source,
      agencyServer: trusted,
      recordedAgencyServer: agencyServer,
    };
    if (!trusted && !can(who.role, 'reads.export')) {
      // P9: sending the reads elsewhere is a release; a technician may only push to the agency's server
      accessLog.append({ user: who.user, agency: who.agency, role: who.role, action: 'sync now', query: intent, result: { reason: 'not the agency server' }, outcome: 'refused' });
      throw new AccessDenied(
        `${url} is not the agency's server recorded on this unit (${agencyServer ?? 'none yet'}; this one comes from ${claim.source}): only an administrator may push to another destination, and it is recorded as one`,
      );
    }
    const known = destinationByUrl(db, url);
    const waiting = Object.fromEntries(STREAMS.map((s) => [s, backlog(db, s, known ? cursorOf(db, s, known.id) : agencyServer === null ? cursorOf(db, s, 0) : 0)]));
    // recorded before anything leaves: a sync cut short is still in the log
    accessLog.append({
      user: who.user,
      agency: who.agency,
      role: who.role,
      action: 'sync now',
      purpose: trusted ? "upstream sync to the agency's server" : "upstream sync to a destination other than the agency's server",
      query: intent,
      result: { waiting },
      outcome: 'ok',
    });
    hotlists = Hotlists.open(db, { config: config.hotlists, clock: systemClock, log: log.child({ part: 'hotlist' }) });
    const engine = new SyncEngine({
      config: config.sync,
      unitId: config.unit.id,
      store,
      hotlists,
      log,
      destination: { source: `${claim.source} (alpr-edge sync now)`, trusted },
      accessLog,
      actor: { user: who.user, agency: who.agency, role: who.role },
    });
    const report = await engine.runCycle('manual');
    await engine.stop();
    accessLog.append({
      user: who.user,
      agency: who.agency,
      role: who.role,
      action: 'sync now done',
      query: { destination: url },
      result: {
        sent: Object.fromEntries(Object.entries(report.streams).map(([k, v]) => [k, v.sent])),
        images: report.images.uploaded,
        ...(report.error ? { error: report.error.message } : {}),
      },
      outcome: report.ok ? 'ok' : 'failed',
    });
    const status = engine.status();
    refreshStoppedStatus(config, { sync: status, pendingSync: store.stats().pendingSync });
    process.stdout.write(values.json ? `${JSON.stringify({ report, status })}\n` : describeReport(report, status));
    return report.ok ? 0 : 1;
  } finally {
    hotlists?.stop();
    store.close();
  }
}

function describeStatus(s: SyncStatus): string {
  const at = (t: number | null) => (t === null ? 'never' : new Date(t).toISOString());
  const lines = [`server:  ${s.server || '(not set)'}${s.enabled ? '' : '  (sync.enabled is false: no schedule)'}`];
  if (s.destination) {
    const d = s.destination;
    lines.push(
      `         ${d.agencyServer ? "the agency's server" : "NOT the agency's server: what it receives stays pending for the agency's"}` +
        `${d.recorded ? '' : ' (nothing pushed to it yet)'}; from ${d.source}`,
    );
  }
  lines.push(`last success: ${at(s.lastSuccessAt)}`);
  if (s.lastChange) {
    const c = s.lastChange;
    lines.push(
      `destination changed ${at(c.at)} by ${c.by}: ${c.from ?? '(none)'} -> ${c.to}${c.agency ? " (the agency's server)" : " (NOT the agency's server)"}, from ${c.source}`,
    );
  }
  lines.push(
    `waiting: ${Object.entries(s.backlog)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`,
  );
  return lines.join('\n') + '\n';
}

function describeReport(r: CycleReport, s: SyncStatus): string {
  const lines: string[] = [];
  if (r.hotlists) {
    const h = r.hotlists;
    lines.push(
      `hot lists: manifest ${h.manifest}; ${h.imported.length} imported${h.imported.length ? ` (${h.imported.map((i) => `${i.list}: ${i.entries}`).join(', ')})` : ''}, ` +
        `${h.rejected.length} rejected, ${h.entriesAdded} entries added, ${h.cancellations} cancellations (${h.entriesCancelled} entries cancelled)`,
    );
    for (const x of h.rejected) lines.push(`  rejected ${x.list}: ${x.error}`);
  }
  if (r.hotlistsError) lines.push(`hot lists NOT updated (the unit keeps its lists): ${r.hotlistsError}`);
  for (const [stream, st] of Object.entries(r.streams)) {
    lines.push(`${stream}: ${st.sent} sent in ${st.batches} batch(es), ${st.stored} stored, ${st.duplicates} already on the server`);
  }
  const h = r.accessLogHead;
  if (h) lines.push(h.acknowledged ? `access log head #${h.sent.id} acknowledged by the server` : `access log head #${h.sent.id} NOT acknowledged: ${h.refused ?? ''}`);
  lines.push(r.images.deferred ? 'images: deferred (sync.images.mode)' : `images: ${r.images.uploaded} uploaded (${r.images.bytes} bytes), ${r.images.skipped} skipped, ${r.images.resumed} resumed`);
  lines.push(r.ok ? `sync done in ${Math.round(r.ms)} ms` : `sync FAILED (${r.error!.kind}): ${r.error!.message}`);
  if (s.destination && !s.destination.agencyServer) lines.push(`destination ${s.destination.url} is NOT the agency's server: nothing was marked synced for it`);
  lines.push(
    `still waiting: ${Object.entries(s.backlog)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`,
  );
  return lines.join('\n') + '\n';
}

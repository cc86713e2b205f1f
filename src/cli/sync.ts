import type { Config } from '../config/schema.js';
import { Hotlists } from '../hotlist/index.js';
import { createLogger } from '../log/logger.js';
import { openStore } from '../store/open.js';
import { SyncEngine, type CycleReport, type SyncStatus } from '../sync/engine.js';
import { parse, UsageError } from './args.js';
import { SYNC_OPTIONS } from './commands.js';
import { usageOf } from './help.js';
import { systemClock } from '../util/clock.js';

/**
 * `alpr-edge sync now`: one sync cycle with the central server at once, from this process (beside a running unit:
 * the server stores each item once and the cursors only move forward, so two cycles at once do no harm).
 * `alpr-edge sync status`: where each stream stands, and how many items wait.
 * Neither shows plate data; both work on the configured server only.
 */
export async function syncCommand(argv: string[], config: Config): Promise<number> {
  const { values, positionals } = parse(argv, SYNC_OPTIONS);
  const sub = positionals[0];
  if (sub !== 'now' && sub !== 'status') throw new UsageError(`usage: ${usageOf('sync')}`);
  if (sub === 'now' && config.sync.server.url === '') {
    throw new UsageError('sync.server.url is not set in the config: there is no central server to sync with');
  }
  const log = createLogger(config.log.level, 2).child({ part: 'sync' });
  const { store } = openStore(config, systemClock);
  let hotlists: Hotlists | undefined;
  try {
    hotlists = Hotlists.open(store.database, { config: config.hotlists, clock: systemClock, log: log.child({ part: 'hotlist' }) });
    const engine = new SyncEngine({ config: config.sync, unitId: config.unit.id, store, hotlists, log });
    if (sub === 'status') {
      const status = engine.status();
      process.stdout.write(values.json ? `${JSON.stringify(status)}\n` : describeStatus(status));
      return 0;
    }
    const report = await engine.runCycle('manual');
    await engine.stop();
    process.stdout.write(values.json ? `${JSON.stringify({ report, status: engine.status() })}\n` : describeReport(report, engine.status()));
    return report.ok ? 0 : 1;
  } finally {
    hotlists?.stop();
    store.close();
  }
}

function describeStatus(s: SyncStatus): string {
  const lines = [
    `server:  ${s.server || '(not set)'}${s.enabled ? '' : '  (sync.enabled is false: no schedule)'}`,
    `waiting: ${Object.entries(s.backlog)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`,
  ];
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
  lines.push(r.images.deferred ? 'images: deferred (sync.images.mode)' : `images: ${r.images.uploaded} uploaded (${r.images.bytes} bytes), ${r.images.skipped} skipped, ${r.images.resumed} resumed`);
  lines.push(r.ok ? `sync done in ${Math.round(r.ms)} ms` : `sync FAILED (${r.error!.kind}): ${r.error!.message}`);
  lines.push(
    `still waiting: ${Object.entries(s.backlog)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`,
  );
  return lines.join('\n') + '\n';
}

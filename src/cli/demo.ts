import path from 'node:path';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createLogger } from '../log/logger.js';
import { packageRoot } from '../util/paths.js';
import { Hotlists } from '../hotlist/index.js';
import { openStore } from '../store/open.js';
import { runCommand } from './run.js';
import { randomBytes } from 'node:crypto';
import { writeFileSync, mkdirSync } from 'node:fs';
import { syncSchema } from '../sync/schema.js';
import { SyncEngine } from '../sync/engine.js';
import { systemClock } from '../util/clock.js';

/**
 * The bundled demo: the whole unit (cameras, recognition worker, grouping, GPS, read store) on config/demo.yaml,
 * whose replay cameras play the generated frames in test-fixtures/. Reads are printed as they are stored; the
 * unit stops by itself when the replays are over. A reference central server runs beside it on loopback (plain
 * HTTP, a token made for the run), and the unit syncs its reads, hits and images to it as a real unit would.
 */
export async function demoCommand(argv: string[], configFile: string | undefined): Promise<number> {
  const root = packageRoot();
  const config: Config = loadConfig(configFile ?? path.join(root, 'config', 'demo.yaml'));
  // the bundled replay folders are named relative to the package, wherever the demo is started from
  for (const cam of config.cameras) {
    if (cam.type === 'replay' && !path.isAbsolute(cam.source)) cam.source = path.join(root, cam.source);
  }
  const log = createLogger(config.log.level, 2);
  // the demo's hot list (made-up plates, some of which the replayed cars carry), so that hits show too
  const { store } = openStore(config, systemClock);
  try {
    const lists = Hotlists.open(store.database, { config: config.hotlists, clock: systemClock });
    const r = lists.importFile(path.join(root, 'test-fixtures', 'demo', 'demo-hotlist.txt'), {
      list: 'demo-stolen',
      format: 'lines',
      category: 'stolen vehicle (demo)',
      priority: 2,
      user: 'demo',
    });
    process.stderr.write(`alpr-edge demo: hot list demo-stolen ${r.status === 'imported' ? `imported (${r.entries} plates)` : 'unchanged'}\n`);
  } finally {
    store.close();
  }
  // the agency's side: the reference central server, on loopback, for the length of the demo
  const { startCentral } = await import('../central/server.js');
  const dataDir = path.resolve(config.data.dir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const token = randomBytes(18).toString('base64url');
  const tokenFile = path.join(dataDir, 'demo-sync-token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const central = await startCentral({
    dataDir: path.join(dataDir, 'demo-central'),
    clock: systemClock,
    insecureHttp: true,
    tokens: [{ token, unit: config.unit.id }],
    log: createLogger('warn', 2),
  });
  config.sync = syncSchema.parse({
    ...config.sync,
    enabled: true,
    schedule: ['*/5 * * * * *'],
    server: { url: central.url, allowInsecureHttp: true, tokenFile },
  });
  process.stderr.write(
    `alpr-edge demo: ${config.cameras.length} replay camera(s) over ${root}/test-fixtures, data in ${dataDir}; syncing every 5 s to a demo central server at ${central.url}\n`,
  );
  let code: number;
  try {
    code = await runCommand(argv, config, () => log, { exitWhenDone: true, printReads: 'text' });
    // the last reads went in after the last scheduled cycle: one more, as `alpr-edge sync now` would
    const { store: after } = openStore(config, systemClock);
    try {
      const report = await new SyncEngine({ config: config.sync, unitId: config.unit.id, store: after, log }).runCycle('manual');
      const n = (stream: 'reads' | 'hits') => central.db.count(stream, config.unit.id);
      process.stderr.write(
        report.ok
          ? `alpr-edge demo: the central server holds ${n('reads')} reads and ${n('hits')} hot list hits of ${config.unit.id}; nothing is left to sync\n`
          : `alpr-edge demo: the last sync failed: ${report.error!.message}\n`,
      );
    } finally {
      after.close();
    }
  } finally {
    await central.close();
  }
  process.stderr.write(
    `alpr-edge demo: done. The reads are in ${dataDir}/alpr-edge.db (the central server's copy in ${dataDir}/demo-central); see \`alpr-edge status --config config/demo.yaml\`.\n`,
  );
  return code;
}

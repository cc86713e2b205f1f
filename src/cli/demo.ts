import path from 'node:path';
import { destinationClaim, loadConfig, setByProgram } from '../config/load.js';
import { AccessLog } from '../access/access-log.js';
import { totpCode } from '../access/totp.js';
import { addUser, signIn } from '../access/users.js';
import type Database from 'better-sqlite3';
import { existsSync, readFileSync } from 'node:fs';
import { loadDataKey } from '../store/keys.js';
import { refreshStoppedStatus } from './status.js';
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
/** The demo's screen accounts: an admin (made first, as on any unit), an officer and a technician. */
const DEMO_ACCOUNTS = [
  { name: 'demo-admin', role: 'admin' },
  { name: 'demo-officer', role: 'officer' },
  { name: 'demo-tech', role: 'technician' },
] as const;
const DEMO_PASSWORD_FILE = 'demo-ui-password';

/** Whether every account of the store is one the demo made, with its password file beside it. */
function demoAccountsOnly(db: Database.Database, dataDir: string): boolean {
  const names = (db.prepare('SELECT name FROM users').all() as Array<{ name: string }>).map((r) => r.name);
  return existsSync(path.join(dataDir, DEMO_PASSWORD_FILE)) && names.every((n) => DEMO_ACCOUNTS.some((a) => a.name === n));
}

/**
 * Makes the demo's accounts once, with one random password kept in the data folder (0600) and printed at each
 * run; returns the password.
 */
async function demoAccounts(db: Database.Database, auditKey: Buffer, dataDir: string): Promise<string> {
  const file = path.join(dataDir, DEMO_PASSWORD_FILE);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const password = randomBytes(12).toString('base64url');
  const log = new AccessLog(db, auditKey, systemClock);
  const { totp } = await addUser(db, log, 'bootstrap', { name: 'demo-admin', agency: 'demo', role: 'admin', password });
  const admin = await signIn(db, log, { name: 'demo-admin', password, totp: totpCode(totp!.secret, systemClock()) });
  if (!admin.ok) throw new Error(`the demo cannot sign its admin in: ${admin.message}`);
  for (const a of DEMO_ACCOUNTS.slice(1)) await addUser(db, log, admin.principal, { name: a.name, agency: 'demo', role: a.role, password });
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  return password;
}

export async function demoCommand(argv: string[], configFile: string | undefined): Promise<number> {
  let demoPassword = '';
  let ownAccounts = false;
  const root = packageRoot();
  const config: Config = loadConfig(configFile ?? path.join(root, 'config', 'demo.yaml'));
  // the bundled replay folders are named relative to the package, wherever the demo is started from
  for (const cam of config.cameras) {
    if (cam.type === 'replay' && !path.isAbsolute(cam.source)) cam.source = path.join(root, cam.source);
  }
  const log = createLogger(config.log.level, 2);
  // --ui (or ALPR_EDGE__UI__ENABLED=true): the screens too, on loopback, until Ctrl-C
  const withUi = argv.includes('--ui') || config.ui.enabled;
  argv = argv.filter((a) => a !== '--ui');
  if (withUi) config.ui = { ...config.ui, enabled: true };
  // The demo sends what its store holds to a server of its own: never on a unit's configuration or data
  if (config.sync.server.url !== '') {
    process.stderr.write(
      `alpr-edge demo: refused: the config names a central server (sync.server.url ${config.sync.server.url}); the demo runs on a config of its own, with its own data folder\n`,
    );
    return 1;
  }
  if (!loadDataKey({ keyFile: config.store.keyFile })) {
    process.stderr.write('alpr-edge demo: the demo store is NOT encrypted (no data key): fine for its made-up plates; a unit in service has one (`alpr-edge key create`)\n');
  }
  // the demo's hot list (made-up plates, some of which the replayed cars carry), so that hits show too
  const { store, auditKey } = openStore(config, systemClock);
  try {
    const users = (store.database.prepare('SELECT COUNT(*) AS n FROM users').get() as { n: number }).n;
    ownAccounts = users > 0 && demoAccountsOnly(store.database, path.resolve(config.data.dir));
    if (users > 0 && !ownAccounts) {
      process.stderr.write(
        `alpr-edge demo: refused: the store in ${path.resolve(config.data.dir)} has user accounts (a unit in service); the demo runs on a data folder of its own\n`,
      );
      return 1;
    }
    const lists = Hotlists.open(store.database, { config: config.hotlists, clock: systemClock });
    const r = lists.importFile(path.join(root, 'test-fixtures', 'demo', 'demo-hotlist.txt'), {
      list: 'demo-stolen',
      format: 'lines',
      category: 'stolen vehicle (demo)',
      priority: 2,
      user: 'demo',
    });
    process.stderr.write(`alpr-edge demo: hot list demo-stolen ${r.status === 'imported' ? `imported (${r.entries} plates)` : 'unchanged'}\n`);
    if (withUi) demoPassword = await demoAccounts(store.database, auditKey, path.resolve(config.data.dir));
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
  // recorded as the demo's own server (the destination of its store), not an override
  setByProgram(config, 'sync.server.url', "alpr-edge demo (its loopback central server)");
  process.stderr.write(
    `alpr-edge demo: ${config.cameras.length} replay camera(s) over ${root}/test-fixtures, data in ${dataDir}; syncing every 5 s to a demo central server at ${central.url}\n`,
  );
  let code: number;
  try {
    code = await runCommand(argv, config, () => log, {
      exitWhenDone: !withUi,
      printReads: 'text',
      // the demo's own accounts (checked above): its made-up reads are printed as without accounts
      printWithoutSession: withUi || ownAccounts,
      onScreens: (url) =>
        process.stderr.write(
          `alpr-edge demo: the screens are at ${url}/ : sign in as demo-officer (alerts) or demo-tech (console), password ${demoPassword}; Ctrl-C stops the demo\n`,
        ),
    });
    // the last reads went in after the last scheduled cycle: one more, as `alpr-edge sync now` would
    const { store: after, auditKey } = openStore(config, systemClock);
    try {
      const engine = new SyncEngine({
        config: config.sync,
        unitId: config.unit.id,
        store: after,
        log,
        destination: destinationClaim(config),
        accessLog: new AccessLog(after.database, auditKey, systemClock),
        actor: { user: 'demo', agency: config.unit.agency, role: 'system' },
      });
      const report = await engine.runCycle('manual');
      await engine.stop();
      // `alpr-edge status` shows this last sync, not what the unit saw when it stopped
      refreshStoppedStatus(config, { sync: engine.status(), pendingSync: after.stats().pendingSync });
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

import path from 'node:path';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createLogger } from '../log/logger.js';
import { packageRoot } from '../util/paths.js';
import { Hotlists } from '../hotlist/index.js';
import { openStore } from '../store/open.js';
import { runCommand } from './run.js';

export const DEMO_USAGE = `alpr-edge demo [--config FILE] [--json]
                                      run the unit on the bundled demo (replay cameras, no hardware)`;

/**
 * The bundled demo: the whole unit (cameras, recognition worker, grouping, GPS, read store) on config/demo.yaml,
 * whose replay cameras play the generated frames in test-fixtures/. Reads are printed as they are stored; the
 * unit stops by itself when the replays are over.
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
  const { store } = openStore(config);
  try {
    const lists = Hotlists.open(store.database, { config: config.hotlists });
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
  process.stderr.write(
    `alpr-edge demo: ${config.cameras.length} replay camera(s) over ${root}/test-fixtures, data in ${path.resolve(config.data.dir)}\n`,
  );
  const code = await runCommand(argv, config, () => log, { exitWhenDone: true, printReads: 'text' });
  process.stderr.write(
    `alpr-edge demo: done. The reads are in ${path.resolve(config.data.dir)}/alpr-edge.db; see \`alpr-edge status --config config/demo.yaml\`.\n`,
  );
  return code;
}

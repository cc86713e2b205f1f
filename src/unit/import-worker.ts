import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../config/schema.js';
import { Hotlists, type ImportOptions } from '../hotlist/index.js';
import { openStore } from '../store/open.js';
import { describeImportError } from '../sync/hotlist-sync.js';

/**
 * A hot list import for the running unit, in a worker thread: parsing and writing a list of hundreds of thousands
 * of entries takes seconds, which the unit's main thread (reads, alerts, status) must not spend. The worker opens
 * its own connection to the store (with the data key, as any command does); the unit's matcher picks the new
 * version up from the database when the import is done. See importInWorker (hotlist-import.ts).
 */
const { config, file, opts, now } = workerData as { config: Config; file: Uint8Array; opts: ImportOptions; now: number };
const { store } = openStore(config, () => now);
try {
  const lists = Hotlists.open(store.database, { config: config.hotlists, clock: () => now });
  const result = lists.importFile(Buffer.from(file.buffer, file.byteOffset, file.byteLength), opts);
  parentPort!.postMessage({ ok: true, result });
} catch (err) {
  const e = err as Error;
  parentPort!.postMessage({ ok: false, name: e.name, message: describeImportError(e) });
} finally {
  store.close();
}

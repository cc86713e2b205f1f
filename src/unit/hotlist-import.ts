import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Config } from '../config/schema.js';
import { HotlistError, type ImportResult } from '../hotlist/index.js';
import type { Importer } from '../sync/hotlist-sync.js';
import type { Clock } from '../util/clock.js';
import { packageRoot } from '../util/paths.js';

/**
 * The running unit's importer: the import runs in a worker thread with its own connection to the store
 * (src/unit/import-worker.ts), so a list of a million entries does not hold up reads and alerts for seconds.
 */
/** `clock` stamps each import with the time it was asked for (the worker has no clock of its own). */
export function importInWorker(config: Config, clock: Clock): Importer {
  return (file, opts) =>
    new Promise<ImportResult>((resolve, reject) => {
      const worker = new Worker(path.join(packageRoot(), 'dist', 'src', 'unit', 'import-worker.js'), { workerData: { config, file, opts, now: clock() } });
      let answered = false;
      worker.once('message', (m: { ok: true; result: ImportResult } | { ok: false; name: string; message: string }) => {
        answered = true;
        if (m.ok) resolve(m.result);
        else reject(m.name === 'HotlistError' || m.name === 'HotlistImportError' ? new HotlistError(m.message) : new Error(m.message));
      });
      worker.once('error', (err) => {
        answered = true;
        reject(err);
      });
      worker.once('exit', (code) => {
        if (!answered) reject(new Error(`the hot list import worker stopped (exit code ${code}) before it answered`));
      });
    });
}

import path from 'node:path';
import type { Config } from '../config/schema.js';
import { createKeyFile, loadDataKey } from '../store/keys.js';
import { ReadStore } from '../store/read-store.js';
import { UsageError } from './args.js';
import { usageOf } from './help.js';
import { systemClock } from '../util/clock.js';

/** `alpr-edge key create FILE`: a new random data key for encryption at rest. */
export function keyCommand(argv: string[]): number {
  const [sub, file] = argv;
  if (sub !== 'create' || !file) throw new UsageError(`usage: ${usageOf('key', 'create')}`);
  createKeyFile(file);
  process.stdout.write(`wrote a new data key to ${file} (mode 0600). Keep a copy off the unit: without it the stored data cannot be read.\n`);
  return 0;
}

/** `alpr-edge store encrypt`: turns a store written without a key into an encrypted one. */
export async function storeCommand(argv: string[], config: Config): Promise<number> {
  if (argv[0] !== 'encrypt') throw new UsageError(`usage: ${usageOf('store', 'encrypt')}`);
  const key = loadDataKey({ keyFile: config.store.keyFile });
  if (!key) throw new UsageError('no data key configured: set store.keyFile (or run under systemd with the alpr-edge-data-key credential)');
  const report = await ReadStore.encryptExisting(path.resolve(config.data.dir), key, systemClock);
  process.stdout.write(
    `database ${report.database}; ${report.imagesEncrypted} image file(s) encrypted, ${report.imagesAlreadyEncrypted} already encrypted\n`,
  );
  return 0;
}

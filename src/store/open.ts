import path from 'node:path';
import { loadAuditKey } from '../access/access-log.js';
import { auditKey, loadDataKey } from './keys.js';
import { ReadStore, type StoreOptions } from './read-store.js';
import type { Clock } from '../util/clock.js';

/**
 * What openStore reads of the configuration (its `data` and `store` sections; a whole Config will do): declared
 * here so that the store does not depend on config/, which composes the config slices of other parts.
 */
export interface StoreSettings {
  data: { dir: string };
  store: { keyFile: string; imageBudgetMB: number; diskReserveMB: number };
}

/**
 * Opens the read store as the configuration says: under data.dir, with the image budget and the disk reserve, and
 * encrypted with the unit's data key when one is configured (store.keyFile, or the service manager's credential).
 * Also returns the access log's MAC key: derived from the data key, else the data folder's audit.key.
 */
export function openStore(config: StoreSettings, clock: Clock, extra: Partial<StoreOptions> = {}): { store: ReadStore; auditKey: Buffer } {
  const dataKey = loadDataKey({ keyFile: config.store.keyFile });
  const store = ReadStore.open(path.resolve(config.data.dir), {
    clock,
    imageBudgetBytes: config.store.imageBudgetMB * 2 ** 20,
    ...(config.store.diskReserveMB > 0 ? { diskReserveBytes: config.store.diskReserveMB * 2 ** 20 } : {}),
    dataKey,
    ...extra,
  });
  return { store, auditKey: loadAuditKey(store.dataDir, dataKey ? auditKey(dataKey) : undefined) };
}

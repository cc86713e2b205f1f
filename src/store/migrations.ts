import { migration as m1 } from './migrations/01-reads.js';
import { migration as m2 } from './migrations/02-hotlists.js';
import { migration as m3 } from './migrations/03-alerts.js';
import { migration as m4 } from './migrations/04-access.js';
import { migration as m5 } from './migrations/05-retention.js';
import { migration as m6 } from './migrations/06-sync.js';
import { migration as m7 } from './migrations/07-plate-state.js';
import { migration as m8 } from './migrations/08-sync-destinations.js';
import { migration as m9 } from './migrations/09-user-changes-releases.js';
import { migration as m10 } from './migrations/10-access-log-acks.js';

/**
 * Numbered migrations of the read store, one file each under migrations/ (a new one: the next number, a new file,
 * listed here). A migration, once released, is never edited: a change is a new number. Each runs in a transaction
 * with the row that records it, so a crash leaves the database either before or after it.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [m1, m2, m3, m4, m5, m6, m7, m8, m9, m10];

/**
 * Signs a test user in the way a person would (bootstrap or add, then password and one-time code), straight
 * through the library, and returns the session token for ALPR_EDGE_SESSION. For tests of commands that need a
 * session but are not about signing in (test/access-users.test.ts and test/cli-data.test.ts test that).
 */
import { systemClock } from '../src/util/clock.js';
import { AccessLog, loadAuditKey } from '../src/access/access-log.js';
import { totpCode } from '../src/access/totp.js';
import { addUser, signIn } from '../src/access/users.js';
import { ReadStore } from '../src/store/read-store.js';

export async function adminSession(dataDir: string, name = 'admin', password = 'test password 123'): Promise<string> {
  const store = ReadStore.open(dataDir, { clock: systemClock, imageBudgetBytes: 1e8 });
  try {
    const log = new AccessLog(store.database, loadAuditKey(dataDir), systemClock);
    const { totp } = await addUser(store.database, log, 'bootstrap', { name, agency: 'TEST', role: 'admin', password });
    const r = await signIn(store.database, log, { name, password, totp: totpCode(totp!.secret, Date.now()) });
    if (!r.ok) throw new Error(`test sign-in failed: ${r.message}`);
    return r.token;
  } finally {
    store.close();
  }
}

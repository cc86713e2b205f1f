import type Database from 'better-sqlite3';

/**
 * Who created or changed each account (table user_changes, migration 9): written by the user commands
 * (src/access/users.ts), read by release approval to tell whether the approver is independent of the requester.
 */

/**
 * Records who created or changed an account (table user_changes, migration 9), inside the change's transaction.
 * Release approval reads it (accountTies) to refuse an approver who is not independent of the requester.
 */
export function recordChange(db: Database.Database, user: string, action: string, by: string, at: number): void {
  db.prepare('INSERT INTO user_changes (user_name, action, by_user, at) VALUES (?, ?, ?, ?)').run(user, action, by, at);
}

export interface UserChange {
  user: string;
  action: string;
  by: string;
  at: number;
}

/** Every recorded creation of and change to `name`'s account, oldest first. */
export function userChanges(db: Database.Database, name: string): UserChange[] {
  return db.prepare('SELECT user_name AS user, action, by_user AS by, at FROM user_changes WHERE user_name = ? ORDER BY id').all(name.trim().toLowerCase()) as UserChange[];
}

/**
 * Why `approver` is not independent of `requester` for a request made at `requestedAt`, or null when they are:
 * - the approver created or changed the requester's account (at any time): the requester may be their creature;
 * - the requester created or changed the approver's account (at any time): the approver may be theirs;
 * - the approver's account was created or changed, after the request, by an account the requester created or
 *   changed, or by one made or changed after the request by such an account, and so on (someone acting for the
 *   requester): the tester's second admin, made to approve a request its maker could not.
 * Changes a user makes to their own account (their password) do not count.
 */
export function accountTies(db: Database.Database, requester: string, approver: string, requestedAt: number): string | null {
  const changes = db.prepare('SELECT user_name AS user, action, by_user AS by, at FROM user_changes WHERE by_user <> user_name ORDER BY id').all() as UserChange[];
  const when = (t: number) => new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const direct = changes.find((c) => c.user === requester && c.by === approver);
  if (direct) return `${approver} ${direct.action === 'user.add' || direct.action === 'user.bootstrap' ? 'created' : `changed (${direct.action})`} the account of ${requester}, who requested it (${when(direct.at)})`;
  const reverse = changes.find((c) => c.user === approver && c.by === requester);
  if (reverse) return `the account of ${approver} was ${reverse.action === 'user.add' ? 'created' : `changed (${reverse.action})`} by ${requester}, who requested it (${when(reverse.at)})`;
  // the accounts acting for the requester: theirs, those they made or changed, and after the request, those made or
  // changed by any of these
  const acting = new Map<string, UserChange | null>([[requester, null]]);
  for (const c of changes) if (c.by === requester && !acting.has(c.user)) acting.set(c.user, c);
  for (let grew = true; grew; ) {
    grew = false;
    for (const c of changes) {
      if (c.at < requestedAt || acting.has(c.user) || !acting.has(c.by)) continue;
      acting.set(c.user, c);
      grew = true;
    }
  }
  const link = acting.get(approver);
  if (link) {
    const chain: string[] = [];
    for (let c: UserChange | null | undefined = link; c; c = acting.get(c.by)) chain.push(`${c.user} ${c.action === 'user.add' ? 'created' : `changed (${c.action})`} by ${c.by} at ${when(c.at)}`);
    return `the account of ${approver} acts for ${requester}, who requested it: ${chain.join('; ')}`;
  }
  return null;
}

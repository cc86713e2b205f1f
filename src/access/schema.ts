import { z } from 'zod';

/**
 * Users and sessions are tables of migration 4 (src/store/migrations.ts). A user row is never deleted (a trigger
 * refuses it): a leaver's row is marked `deleted`, its password hash and TOTP secret are cleared, and the name
 * stays so that the access log's records keep meaning. Sessions keep only the SHA-256 of their token.
 */
export const accessSchema = z
  .strictObject({
    inactivityDays: z
      .int()
      .min(1)
      .max(3650)
      .default(365)
      .describe('An account not signed in to for this many days is suspended (CA DOJ 429.4: 12 months); an admin can enable it again.'),
    maxFailedLogins: z
      .int()
      .min(1)
      .max(100)
      .default(5)
      .describe('Consecutive failed sign-ins (password or one-time code) after which the account is locked.'),
    lockoutMinutes: z
      .int()
      .min(1)
      .max(10_080)
      .default(15)
      .describe('How long a locked account refuses every sign-in, even with the right password.'),
    sessionMinutes: z
      .int()
      .min(1)
      .max(1440)
      .default(30)
      .describe('A session not used for this many minutes has expired: sign in again with `alpr-edge login`.'),
    sessionMaxHours: z
      .number()
      .min(0.1)
      .max(168)
      .default(8)
      .describe('A session ends this many hours after sign-in, however much it is used.'),
    sessionFile: z
      .string()
      .default('')
      .describe(
        'File where `alpr-edge login` keeps the session token (mode 0600, in a folder of mode 0700). Empty: $HOME/.alpr-edge/session. $ALPR_EDGE_SESSION, if set, is used as the token instead.',
      ),
    releaseMinCellCount: z
      .int()
      .min(2)
      .max(1000)
      .default(5)
      .describe(
        'An aggregate release leaves out every cell (one camera on one day) with fewer distinct vehicles than this, and states the threshold and how many cells it left out, so that no cell singles out a car. The policies give no number; 5 is a common small-cell threshold in published statistics (some agencies use 10 or 11).',
      ),
    twoFactorAllRoles: z
      .boolean()
      .default(false)
      .describe('Also enrol officers, technicians and auditors in a one-time code (admins and data users always need one).'),
  })
  .describe('Users, sign-in and sessions: who may see the stored data (see docs/access.md).');

export type AccessConfig = z.infer<typeof accessSchema>;

/** The defaults, for callers and tests that have no config. */
export function accessDefaults(): AccessConfig {
  return accessSchema.parse({});
}

import { z } from 'zod';

/** Configuration of retention. Its tables (logical deletion of reads, evidence holds) are migration 5 of the store. */
const days = (what: string, dflt: number, min = 0) =>
  z.number().min(min).max(36_500).default(dflt).describe(what);

const readsRetention = z
  .strictObject({
    logicalDeleteDays: days(
      'Reads (and their hits, alerts and images) older than this many days are logically deleted: hidden from data users, visible to administrators with a stated reason. 0: no logical stage.',
      365,
    ),
    deleteDays: days(
      'Reads older than this many days are deleted for good with their images (files too), hits and alerts. Fractions allowed (LAPD: 5 years + 24 h 1 min = 1827.0007).',
      730,
      1,
    ),
    purgeUnsynced: z
      .boolean()
      .default(false)
      .describe(
        'Also delete for good reads not yet synced upstream. Off: an unsynced read is kept past deleteDays until it is synced (logical deletion still applies). A unit without upstream sync must turn this on, or nothing is ever deleted.',
      ),
  })
  .refine((r) => r.logicalDeleteDays === 0 || r.logicalDeleteDays <= r.deleteDays, {
    message: 'logicalDeleteDays must not be more than deleteDays',
    path: ['logicalDeleteDays'],
  })
  .describe('Retention of reads with their images (measured from the time the plate was first seen).');

const dependentRetention = (what: string) =>
  z
    .strictObject({
      deleteDays: z
        .number()
        .min(1)
        .max(36_500)
        .nullable()
        .default(null)
        .describe(
          `${what} older than this many days are deleted even while their read is kept. null: kept as long as their read (they are always deleted with it, and hidden with it).`,
        ),
    })
    .describe(`Retention of ${what.toLowerCase()}.`);

export const retentionSchema = z
  .strictObject({
    reads: readsRetention.prefault({}),
    hits: dependentRetention('Hot list hits').prefault({}),
    alerts: dependentRetention('Alerts (with their deliveries and audit events)').prefault({}),
    accessLogDays: days(
      'Access log rows older than this many days are deleted, oldest first, keeping the chain verifiable (LAPD: at least 5 years).',
      1826,
      1,
    ),
    releaseDays: days('Release records older than this many days are deleted (Hawthorne: approved requests kept 2 years).', 730, 1),
    purgeIntervalMinutes: z
      .int()
      .min(1)
      .max(10_080)
      .default(60)
      .describe('How often the purge runs (minutes); it also runs once at start.'),
    batchSize: z
      .int()
      .min(10)
      .max(10_000)
      .default(500)
      .describe('Most rows deleted per transaction; capture waits at most for one batch.'),
    maxBatchMs: z
      .int()
      .min(5)
      .max(10_000)
      .default(50)
      .describe('A transaction that takes longer than this (ms) halves the next batch; fast ones let it grow back to batchSize.'),
    pauseMs: z
      .int()
      .min(0)
      .max(10_000)
      .default(20)
      .describe('Least pause between batches (ms); the pause is at least as long as the batch took, leaving the database and the event loop to capture.'),
  })
  .describe('How long each kind of data is kept; evidence holds exempt reads (see docs/retention.md). Hot list entries have their own retention (hotlists).');

export type RetentionConfig = z.infer<typeof retentionSchema>;

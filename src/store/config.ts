import { z } from 'zod';

/** The `store` slice of the unit's configuration (composed in src/config/schema.ts). */

export const storeSchema = z
  .strictObject({
    imageBudgetMB: z
      .number()
      .min(1)
      .max(10_000_000)
      .default(2048)
      .describe(
        'Most disk space for stored images (MB). Over it, frame images are deleted oldest first; plate crops and read rows are kept.',
      ),
    frameImages: z.boolean().default(true).describe('Keep the whole frame of each read, not only the plate crop.'),
    diskReserveMB: z
      .number()
      .min(0)
      .max(1_000_000)
      .default(256)
      .describe(
        'Free space kept on the data disk (MB; at most a tenth of the file system): before and after each read is stored, images are deleted to keep it, frame images oldest first, then plate crops (those already at the agency\'s server first; never a held read\'s), never the reads themselves. A read that still does not fit is stored without its images. 0: images are bounded by imageBudgetMB only.',
      ),
    pendingReadsMax: z
      .int()
      .min(1)
      .max(100_000)
      .default(100)
      .describe(
        'Reads kept in memory, with their images, while they cannot be stored (a full disk); when that many wait, new camera frames are dropped (counted) instead of reads, until the store takes writes again. Each holds a frame image: with 1080p JPEGs about 0.3 MB each.',
      ),
    keyFile: z
      .string()
      .default('')
      .describe(
        "File holding the unit's data key (64 hex characters, mode 0600): the database and image files are encrypted with it. Empty: the systemd credential alpr-edge-data-key if present, else no encryption (see docs/data-at-rest.md).",
      ),
  })
  .describe('The read store (SQLite database and image files under data.dir).');

import { z } from 'zod';
import { identifier, uniqueBy } from '../util/schema.js';

/** The `hotlists` slice of the unit's configuration (composed in src/config/schema.ts). */

const columnRef = z.union([z.string().min(1), z.int().min(1).max(1000)]);

/** One hot list the unit knows: how its files are read and how its entries match. */
const hotlistDefinition = z
  .strictObject({
    name: identifier.describe('Name of the list (as in `alpr-edge hotlist import --list NAME`).'),
    format: z
      .enum(['ncic', 'ca-doj', 'csv', 'lines', 'manual'])
      .describe(
        'Format of the files imported into it: ncic (fixed-width extract), ca-doj (CLEW svs.tbl, sfr.tbl, slr.tbl), csv (delimited text), lines (one plate per line); manual: entries added by hand only.',
      ),
    source: z.string().max(256).default('').describe('Where the list comes from (agency, system, URL); shown in `hotlist ls`.'),
    category: z
      .string()
      .max(128)
      .default('')
      .describe('What its entries are wanted for, shown with each hit (e.g. "stolen vehicle"); empty: from the file (NCIC code, CLEW file kind).'),
    priority: z.int().min(1).max(9).default(5).describe('Alert level of its hits: 1 is the most urgent, 9 the least.'),
    covert: z.boolean().default(false).describe('Hits are recorded but the officer is not alerted.'),
    match: z
      .enum(['exact', 'equivalent', 'distance'])
      .default('equivalent')
      .describe(
        'exact: the plate as read; equivalent: also with OCR-equivalent characters (O/0/D/Q, I/1/L, B/8, S/5, Z/2, G/6); distance: also within maxDistance other characters.',
      ),
    maxDistance: z
      .int()
      .min(1)
      .max(2)
      .default(1)
      .describe('With match: distance, most characters (substituted, missing or extra) a read may differ by; 2 only on lists of up to 100000 entries.'),
    states: z
      .array(z.string().regex(/^[A-Z]{2}$/, 'a two-letter state or province code'))
      .default([])
      .describe('Only entries of these states are imported (two-letter codes); empty: all.'),
    retentionDays: z
      .number()
      .min(0)
      .max(3650)
      .default(0)
      .describe('An imported version not replaced within this many days expires: it stops matching and is purged. 0: kept until replaced.'),
    delimiter: z.enum(['comma', 'semicolon', 'tab']).default('comma').describe('csv: the field separator.'),
    header: z.boolean().default(true).describe('csv: the first line names the columns.'),
    columns: z
      .strictObject({
        plate: columnRef.default('plate').describe('csv: column of the plate (header name, or 1-based number).'),
        state: columnRef.optional().describe('csv: column of the state.'),
        reason: columnRef.optional().describe('csv: column of the reason.'),
        caseNumber: columnRef.optional().describe('csv: column of the case number.'),
      })
      .prefault({})
      .describe('csv: which column holds what.'),
  })
  .describe('A hot list.');

export const hotlistsSchema = z
  .strictObject({
    recheckWindowMinutes: z
      .int()
      .min(0)
      .max(10_080)
      .default(120)
      .describe('When a list or entry is added, reads of this many past minutes are checked against it (a partial plate entered after a crime finds a car read earlier).'),
    skipPlates: z
      .array(z.string().max(16))
      .default(['0', '00', '000'])
      .describe('Plates in imported files that are known junk, left out (after normalisation: upper case, no spaces or dashes).'),
    manualEntryDays: z.int().min(1).max(3650).default(30).describe('A manual entry added without an expiry expires after this many days.'),
    maxWildcardEntries: z
      .int()
      .min(0)
      .max(100_000)
      .default(10_000)
      .describe('Most partial plates (with ? or *) over all lists; an import or addition beyond it is refused (each costs match time).'),
    pollMs: z
      .int()
      .min(100)
      .max(60_000)
      .default(1000)
      .describe('How often the running unit picks up hot list changes made by `alpr-edge hotlist` commands (a cancelled entry stops matching within this time).'),
    lists: z
      .array(hotlistDefinition)
      .max(64)
      .default([])
      .superRefine(uniqueBy('name', 'list name'))
      .describe(
        'The hot lists and how they are read: each has name, format (ncic | ca-doj | csv | lines | manual), source, category, priority (1-9, 1 most urgent), covert, match (exact | equivalent | distance), maxDistance (1-2), states (allow-list), retentionDays, and for csv delimiter (comma | semicolon | tab), header and columns { plate, state, reason, caseNumber }. See docs/hotlists.md. A list not named here can still be imported with `--format`.',
      ),
  })
  .describe('Hot lists: vehicles of interest, matched against every read.');

export type HotlistsConfig = z.infer<typeof hotlistsSchema>;
export type HotlistDefinition = HotlistsConfig['lists'][number];

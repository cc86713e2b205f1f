import type { Migration } from '../migrations.js';

export const migration: Migration = {
  version: 7,
  name: "the plate's state: read from its printed name or slogan; hot list hits whose entry names another state",
  sql: `
-- The US state whose name or slogan was read on the plate (two-letter code), and how sure that reading is (0-1);
-- NULL where no row of the plate named a state legibly.
ALTER TABLE reads ADD COLUMN state TEXT;
ALTER TABLE reads ADD COLUMN state_confidence REAL;
-- 1 when the read's state was read confidently and differs from the hot list entry's: the hit is kept and shown,
-- marked, for the officer to weigh (a misread state name is rarer than a plate of the same number elsewhere).
ALTER TABLE hotlist_hits ADD COLUMN state_mismatch INTEGER NOT NULL DEFAULT 0;
`,
};

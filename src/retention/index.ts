export { retentionSchema, type RetentionConfig } from './schema.js';
export { Purger, type PurgeResult, type PurgerOptions, type PurgeStore, type PurgeLogger } from './purge.js';
export {
  placeHold,
  releaseHold,
  reviewHold,
  getHold,
  listHolds,
  isHeld,
  HELD_SQL,
  DEFAULT_REVIEW_MS,
  HoldAccessError,
  HoldError,
  type Actor,
  type Hold,
  type HoldDetails,
  type HoldSelector,
} from './holds.js';

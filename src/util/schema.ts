import { z } from 'zod';

/** Pieces the config slices of several folders share (each folder owns its slice; config/schema.ts composes them). */

/** A name of the unit, a camera or a hot list: what goes into topics, file names and logs unquoted. */
export const identifier = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'letters, digits, "_", "." and "-", 1-64 characters');

/** For `.superRefine` of an array: `key` of its items is unique; a second use is an issue at that item (`what "x" is used twice`). */
export function uniqueBy<K extends string>(key: K, what: string) {
  return (items: ReadonlyArray<Record<K, unknown>>, ctx: z.RefinementCtx): void => {
    const seen = new Set<unknown>();
    items.forEach((item, i) => {
      if (seen.has(item[key])) ctx.addIssue({ code: 'custom', path: [i, key], message: `${what} "${String(item[key])}" is used twice` });
      seen.add(item[key]);
    });
  };
}

/**
 * Plate text as hot lists hold it, and the OCR-equivalent form reads are matched on.
 *
 * A list entry is normalised once, at import: upper case, spaces and dashes removed, then only A-Z and 0-9 remain
 * (and `?`, `*` in a partial plate). Anything else makes the line a problem: a plate the unit can never read is a
 * sign of a broken file, not something to guess at.
 */

/** Longest plate (without wildcards) an entry may hold: NCIC's plate field is 10 characters. */
export const MAX_PLATE_LENGTH = 10;
/** A partial plate must give at least this many characters, so that `*` or `7*` cannot alert on every car. */
export const MIN_WILDCARD_LITERALS = 3;

/**
 * Characters OCR confuses with one another; each group reads as its first member, a digit. The same groups the
 * issue names (O/0/D/Q, I/1/L, B/8, S/5, Z/2, G/6): the recognizer's wider set (A/4, T/1) would make too many
 * plates equal on a list of a million.
 */
export const EQUIVALENT_GROUPS: readonly string[] = ['0ODQ', '1IL', '8B', '5S', '2Z', '6G'];

/** Char code -> char code of its group's representative (identity outside the groups); only A-Z, 0-9 matter. */
export const CANONICAL_CODE = new Uint8Array(128);
for (let c = 0; c < 128; c++) CANONICAL_CODE[c] = c;
for (const group of EQUIVALENT_GROUPS) {
  for (const ch of group) CANONICAL_CODE[ch.charCodeAt(0)] = group.charCodeAt(0);
}

/** The OCR-equivalent form of a normalised plate (wildcards are kept as they are). */
export function canonicalPlate(plate: string): string {
  let out = '';
  for (let i = 0; i < plate.length; i++) {
    const c = plate.charCodeAt(i);
    out += String.fromCharCode(c < 128 ? CANONICAL_CODE[c]! : c);
  }
  return out;
}

export function isWildcard(plate: string): boolean {
  return plate.includes('?') || plate.includes('*');
}

export type Normalised = { plate: string; wildcard: boolean } | { error: string };

/**
 * Normalises a plate field: upper case, spaces and dashes removed. `wildcards`: `?` (one character) and `*` (any
 * run, also none) are allowed, for partial plates; runs of `*` collapse to one.
 */
export function normalisePlate(raw: string, opts: { wildcards: boolean }): Normalised {
  let plate = raw.toUpperCase().replace(/[\s-]+/g, '');
  if (plate === '') return { error: 'no plate' };
  const allowed = opts.wildcards ? /^[A-Z0-9?*]+$/ : /^[A-Z0-9]+$/;
  if (!allowed.test(plate)) {
    const bad = [...plate].find((ch) => !(opts.wildcards ? /[A-Z0-9?*]/ : /[A-Z0-9]/).test(ch))!;
    return {
      error: `plate ${JSON.stringify(raw.trim())} holds ${JSON.stringify(bad)}; a plate has only letters A-Z and digits${opts.wildcards ? ' (and ? or * in a partial plate)' : ''}`,
    };
  }
  const wildcard = isWildcard(plate);
  if (!wildcard) {
    if (plate.length > MAX_PLATE_LENGTH) {
      return { error: `plate ${JSON.stringify(plate)} is ${plate.length} characters; at most ${MAX_PLATE_LENGTH}` };
    }
    return { plate, wildcard };
  }
  plate = plate.replace(/\*+/g, '*');
  const literals = plate.replace(/[?*]/g, '').length;
  if (literals < MIN_WILDCARD_LITERALS) {
    return {
      error: `partial plate ${JSON.stringify(plate)} gives ${literals} character(s); at least ${MIN_WILDCARD_LITERALS} are needed so that it cannot match most plates`,
    };
  }
  if (plate.replace(/\*/g, '').length > MAX_PLATE_LENGTH) {
    return { error: `partial plate ${JSON.stringify(plate)} is longer than a plate (${MAX_PLATE_LENGTH} characters)` };
  }
  return { plate, wildcard };
}

/** Read text to the form entries are in (a read's text is already A-Z0-9; a technician's `hotlist test` may not be). */
export function normaliseReadText(text: string): string {
  return text.toUpperCase().replace(/[^A-Z0-9]/g, '');
}

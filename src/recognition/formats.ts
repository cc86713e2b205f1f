import type { Country } from '../config/schema.js';

/**
 * Plate layouts per region. They rank candidate texts that the OCR could have meant (a text that fits a layout
 * of the region is more likely than one that does not); they never add or invent characters.
 * L = letter, D = digit in the comments.
 */
export interface PlateFormat {
  region: string;
  pattern: RegExp;
}

const US: PlateFormat[] = [
  { region: 'us', pattern: /^[0-9][A-Z]{3}[0-9]{3}$/ }, // DLLLDDD (California and others)
  { region: 'us', pattern: /^[A-Z]{3}[0-9]{4}$/ }, // LLLDDDD (New York, Pennsylvania, Texas, Ohio, ...)
  { region: 'us', pattern: /^[A-Z]{3}[0-9]{3}$/ }, // LLLDDD
  { region: 'us', pattern: /^[0-9]{3}[A-Z]{3}$/ }, // DDDLLL
  { region: 'us', pattern: /^[0-9]{3}[A-Z]{4}$/ }, // DDDLLLL
  { region: 'us', pattern: /^[A-Z]{2}[0-9]{4,5}$/ }, // LLDDDD(D)
  { region: 'us', pattern: /^[0-9]{1,2}[A-Z]{1,2}[0-9]{3,4}$/ }, // county-prefixed layouts
  { region: 'us', pattern: /^[0-9][A-Z]{2}[0-9]{4}$/ }, // DLLDDDD
  { region: 'us', pattern: /^[A-Z]{3}[0-9]{2}[A-Z]$/ }, // LLLDDL
  { region: 'us', pattern: /^[0-9]{4}[A-Z]{2,3}$/ }, // DDDDLL(L)
  { region: 'us', pattern: /^[A-Z][0-9]{2,3}[A-Z]{2,3}$/ }, // LDDLL(L)
  { region: 'us', pattern: /^[0-9]{3}[A-Z][0-9]{3}$/ }, // DDDLDDD
  { region: 'us', pattern: /^[0-9][A-Z][0-9]{4}[A-Z]?$/ }, // DLDDDD(L)
  { region: 'us', pattern: /^[A-Z]{4}[0-9]{2,3}$/ }, // LLLLDD(D)
  { region: 'us', pattern: /^[0-9]{5,7}$/ }, // all digits
];

const EU: PlateFormat[] = [
  { region: 'eu-fr-it', pattern: /^[A-Z]{2}[0-9]{3}[A-Z]{2}$/ }, // France, Italy: LLDDDLL
  { region: 'eu-es', pattern: /^[0-9]{4}[A-Z]{3}$/ }, // Spain: DDDDLLL
  { region: 'eu-gb', pattern: /^[A-Z]{2}[0-9]{2}[A-Z]{3}$/ }, // United Kingdom: LLDDLLL
  { region: 'eu-de', pattern: /^[A-Z]{1,3}[A-Z]{1,2}[0-9]{1,4}[EH]?$/ }, // Germany: city, letters, digits
  { region: 'eu-pl', pattern: /^[A-Z]{2,3}[0-9]{4,5}$/ }, // Poland: LL(L)DDDD(D)
  { region: 'eu-pl', pattern: /^[A-Z]{2,3}[0-9]{1,3}[A-Z]{1,2}[0-9]?$/ }, // Poland, Czechia mixed
  { region: 'eu-pl', pattern: /^[A-Z]{2,3}[A-Z0-9]{4,5}$/ }, // Poland personalised series
  { region: 'eu-cz', pattern: /^[0-9][A-Z][0-9A-Z][0-9]{4}$/ }, // Czechia, Slovakia: DLX DDDD
  { region: 'eu-nl', pattern: /^([A-Z]{2}[0-9]{2}[A-Z]{2}|[0-9]{2}[A-Z]{3}[0-9]|[0-9][A-Z]{3}[0-9]{2}|[A-Z]{2}[0-9]{3}[A-Z]|[A-Z][0-9]{3}[A-Z]{2}|[A-Z]{3}[0-9]{2}[A-Z]|[0-9][A-Z]{2}[0-9]{3}|[A-Z]{2}[0-9]{4})$/ }, // Netherlands side codes
  { region: 'eu-at-ch', pattern: /^[A-Z]{1,2}[0-9]{1,6}[A-Z]{0,2}$/ }, // Austria, Switzerland and similar
  { region: 'eu-nordic', pattern: /^[A-Z]{3}[0-9]{2}[0-9A-Z]$/ }, // Sweden, Finland, Denmark-like: LLLDD(D|L)
  { region: 'eu-pt-ro', pattern: /^([0-9]{2}[A-Z]{2}[0-9]{2}|[A-Z]{2}[0-9]{2}[A-Z]{2}|[A-Z]{1,2}[0-9]{2,3}[A-Z]{3})$/ }, // Portugal, Romania
];

const BR: PlateFormat[] = [
  { region: 'br', pattern: /^[A-Z]{3}[0-9]{4}$/ }, // LLLDDDD (before Mercosur)
  { region: 'br-mercosur', pattern: /^[A-Z]{3}[0-9][A-Z][0-9]{2}$/ }, // LLLDLDD (Mercosur)
];

export const FORMATS: Record<Country, PlateFormat[]> = { us: US, eu: EU, br: BR };

/** Plate text lengths accepted per country (vanity plates in the US may be short). */
export const LENGTH_BOUNDS: Record<Country, { min: number; max: number }> = {
  us: { min: 2, max: 8 },
  eu: { min: 4, max: 9 },
  br: { min: 7, max: 7 },
};

export function matchFormat(text: string, country: Country): PlateFormat | undefined {
  return FORMATS[country].find((f) => f.pattern.test(text));
}

/** Upper case, A-Z and 0-9 only: spaces, dashes, dots and anything else removed. */
export function normalizePlate(text: string): string {
  return text
    .normalize('NFKD')
    .toUpperCase()
    .replace(/[^A-Z0-9]/g, '');
}

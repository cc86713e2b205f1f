import type { Country } from './config.js';

/**
 * Plate layouts per region, as templates: L a letter, D a digit, X either. They rank candidate texts that the OCR
 * could have meant (a text that fits a common layout of the region is more likely than one that fits none); they
 * never add or invent characters: a template can only choose among what the OCR read at each position and the
 * characters that OCR is known to confuse with it.
 */
export interface PlateFormat {
  region: string;
  template: string;
  /** Prior weight, 0-1: how common the layout is in its region. */
  weight: number;
}

function formats(region: string, weight: number, ...templates: string[]): PlateFormat[] {
  return templates.map((template) => ({ region, template, weight }));
}

export const FORMATS: Record<Country, PlateFormat[]> = {
  us: [
    ...formats('us', 1, 'DLLLDDD', 'LLLDDDD'),
    ...formats('us', 0.8, 'LLLDDD', 'DDDLLL', 'DDDLLLL', 'LLDDDDD', 'DLLDDDD', 'LLLLDDD'),
    ...formats('us', 0.6, 'LLDDDD', 'DDDDLL', 'DDDDLLL', 'LDDLLL', 'LDDDLLL', 'DDDLDDD', 'DLDDDD', 'DLDDDDL', 'DLLLDD', 'LLLDDL'),
    ...formats('us', 0.5, 'LLLLDD', 'DDLLLDD', 'DDLDDDD', 'LDDDDD', 'DDDDDD', 'DDDDDDD', 'LLDLDDD', 'DDDDDL'),
    // Illinois and Louisiana (A12 3456), counties' prefix digit (South Dakota, West Virginia: 1AB 234), Florida and
    // Utah (A12 3BC), Massachusetts (123 AB4)
    ...formats('us', 0.6, 'LDDDDDD', 'DLLDDD', 'LDDDLL', 'DDDLLD'),
  ],
  eu: [
    ...formats('eu-fr-it', 1, 'LLDDDLL'),
    ...formats('eu-es', 1, 'DDDDLLL'),
    ...formats('eu-gb', 1, 'LLDDLLL'),
    ...formats('eu-pl', 0.8, 'LLDDDDD', 'LLLDDDD', 'LLDDDLL', 'LLLDDLL', 'LLDDDDL', 'LLLDLLD', 'LLLDDDL'),
    ...formats('eu-cz-sk', 0.7, 'DLDDDDD', 'DLLDDDD', 'LLDDDLL'),
    ...formats('eu-nl', 0.6, 'LLDDLL', 'DDLLLD', 'DLLLDD', 'LLDDDL', 'LDDDLL', 'LLLDDL', 'DDLLDD', 'LLDLLL'),
    ...formats('eu-de', 0.6, 'LLDDDD', 'LLLDDD', 'LLLLDDD', 'LLLLDD', 'LLLDD', 'LLDDD', 'LLLLDDDD', 'LLLDDDD', 'LLLLLDDD'),
    ...formats('eu-nordic', 0.6, 'LLLDDD', 'LLLDDL', 'LLDDDDD'),
    ...formats('eu-at-ch', 0.5, 'LLDDDDDD', 'LDDDDDD', 'LLDDDDLL', 'LDDDDLL'),
    ...formats('eu-pt-ro', 0.5, 'DDLLDD', 'LLDDLL', 'LLDDDLLL', 'LDDDLLL'),
  ],
  br: [...formats('br', 1, 'LLLDDDD'), ...formats('br-mercosur', 1, 'LLLDLDD')],
};

/**
 * The serial layouts of US states' plates, current and older issues still on the road, passenger and the common
 * commercial ones (not vanity or specialty plates, which may be any text): facts about the plates, gathered from the
 * states' formats and cross-checked with the list OpenALPR 2.3 ships. Where a plate's state is read from its name or
 * slogan, a text fitting one of its state's layouts is more likely than one fitting only another state's: a doubtful
 * character takes its state's class (South Dakota's county number first: "1NU 656", not "INU 656"). States not
 * listed are ranked with the country's layouts alone.
 */
export const US_STATE_FORMATS: Readonly<Record<string, readonly string[]>> = {
  AL: ['DLDDLDD', 'DDLDDLD', 'LLDDDDD', 'DDDDDLL', 'DLDDDDL', 'DDLDDDL', 'DDLDLDL'],
  AK: ['LLLDDD'],
  AZ: ['LLLDDDD', 'DDDLLL', 'LLLDDD'],
  AR: ['DDDLLL', 'LLLDDD'],
  CA: ['DLLLDDD', 'DLDDDDD', 'DDDDDLD', 'DDDLLL'],
  CO: ['DDDLLL', 'LLDDDD', 'LLLDDD', 'LLLDDDD', 'LLLLDD'],
  CT: ['DLLLLD', 'DDDLLL', 'DDDDD', 'DDDDDD', 'LDDD', 'LLDDD', 'LLDDDD'],
  DE: ['DDDDDD', 'DDDDD', 'DDDD', 'DDD'],
  DC: ['LLDDDD', 'DDDDDD'],
  FL: ['LLLLDD', 'DDDDLL', 'DDDLLL', 'LDDDLL', 'LDDLLL'],
  GA: ['LLLDDDD', 'DDDDLLL', 'DDDDLL', 'DDDDDLL', 'DDDLLL'],
  HI: ['LLLDDD'],
  ID: ['LDDDDDD', 'DLDDDDD', 'DLLDDDD', 'DLLLDDD', 'LDDDDDL', 'LLDDDDL', 'DLDDDDL', 'DLLDDDL', 'LDDDD', 'DDDDL', 'DDLLL', 'DLLDL', 'LLDDD', 'DDDDDL', 'DDDLL', 'DDDDD'],
  IL: ['LLDDDDD', 'LDDDDDD', 'DDDDD', 'DDDDDD', 'LLDDDD', 'LLLDDD', 'LDDDDD', 'DDDDDDD', 'DDDDL', 'DDDDDL'],
  IN: ['DDDL', 'DDDLL', 'DDDLLL', 'DDDD'],
  IA: ['LLLDDD', 'DDDLLL', 'DDDDLL'],
  KS: ['DDDLLL', 'LLLDDD'],
  KY: ['DDDLLL'],
  LA: ['LLLDDD'],
  ME: ['DDDDLL', 'DDDLL', 'DDLL', 'DDDLLL'],
  MD: ['DLLDDDD', 'DLLLDD', 'DLDDDD', 'LLLDDD', 'DDDLLL', 'LLLDDL', 'DDDDDL', 'LDDDDD'],
  MA: ['DDDLLD', 'DLLDDD', 'DLLLDD', 'DDDDDD', 'DDDLLL', 'DDDDLL', 'DDLLDD'],
  MI: ['LLLDDDD', 'DLLLDD'],
  MN: ['DDDLLL', 'LLLDDD'],
  MS: ['LLLLLD', 'LLLDDD', 'DDLDD'],
  MO: ['LLDLDL', 'DDDLLL', 'DLLDDL'],
  MT: ['DDDDDDL', 'DDDDDL', 'DDDDL'],
  NE: ['DLDDDD', 'DLLDDD', 'DDLDDD', 'DDLLDD'],
  NV: ['DDDLLL', 'LDDDDD', 'LLDDDD', 'LLLDDD'],
  NH: ['DDDDDD', 'DDDDDDD', 'LLLDDD'],
  NJ: ['LDDLLL', 'LLLDDL', 'LLDDDL', 'LLLDDDD'],
  NM: ['LLLDDD', 'DDDLLL', 'LLDDD', 'LDDD'],
  NY: ['LLLDDDD', 'LLLDDD', 'DLLDDD', 'LDLDDD', 'LDDDLL', 'LLDDDL'],
  NC: ['LLLDDDD'],
  ND: ['LLLDDD', 'DDDLLL'],
  OH: ['LLLDDDD', 'LLDDLL'],
  OK: ['DDDLLL', 'LLLDDD'],
  OR: ['DDDLLL', 'LLLDDD'],
  PA: ['LLLDDDD'],
  RI: ['LLDDD', 'DDDDDD', 'DDDDD'],
  SC: ['LLLDDD', 'DDDDLL'],
  SD: ['DLLDDD', 'DDLDDD', 'DDLLDD', 'DDLLLD'],
  TN: ['DDDLLL'],
  TX: ['LLLDDDD', 'LDDLLL', 'DDDLLL', 'LLLDDD', 'LLDLDDD'],
  UT: ['LDDDLL', 'DDDLD', 'DDDLLL', 'LLLDDD'],
  VT: ['LLLDDD', 'DDDLDDD', 'DDLDD'],
  VA: ['LLLDDDD', 'LLLDDD', 'LLDDDD', 'DDDDLL', 'DDDDDL'],
  WA: ['DDDLLL', 'LLLDDDD'],
  WV: ['DLLDDD', 'DLDDDD'],
  WI: ['LLLDDDD', 'DDDLLL'],
  WY: ['DDDDDD', 'DDDDDDD', 'DDDDD', 'DDDDL', 'DDDLL', 'DDLLL'],
};

/** Plate text lengths accepted per country (vanity plates in the US may be short). */
export const LENGTH_BOUNDS: Record<Country, { min: number; max: number }> = {
  us: { min: 2, max: 8 },
  eu: { min: 4, max: 9 },
  br: { min: 7, max: 7 },
};

export function fitsTemplate(text: string, template: string): boolean {
  if (text.length !== template.length) return false;
  for (let i = 0; i < text.length; i++) {
    if (!fitsClass(text[i]!, template[i]!)) return false;
  }
  return true;
}

export function fitsClass(ch: string, cls: string): boolean {
  if (cls === 'L') return ch >= 'A' && ch <= 'Z';
  if (cls === 'D') return ch >= '0' && ch <= '9';
  return true;
}

/** The most likely layout of the region that the text fits, if any. */
export function matchFormat(text: string, country: Country): PlateFormat | undefined {
  let best: PlateFormat | undefined;
  for (const f of FORMATS[country]) if (fitsTemplate(text, f.template) && (!best || f.weight > best.weight)) best = f;
  return best;
}

/**
 * A plate text as its country writes it. US plates print the letter O and the digit 0 alike in most states, and
 * their registries and readers treat them as one character, written 0 (OpenALPR does the same): a US text's O is
 * written 0. Hot lists match O and 0 as one in their default `equivalent` policy.
 */
export function plateSpelling(text: string, country: Country): string {
  return country === 'us' ? text.replaceAll('O', '0') : text;
}

/** True when a plate text has a digit as its country writes it: a US 0 may be the letter O (plateSpelling). */
export function hasPlateDigit(text: string, country: Country): boolean {
  return (country === 'us' ? /[1-9]/ : /[0-9]/).test(text);
}

/** Upper case, A-Z and 0-9 only: spaces, dashes, dots and anything else removed. */
export function normalizePlate(text: string): string {
  return text
    .normalize('NFKD')
    .toUpperCase()
    .replace(/[^A-Z0-9]/g, '');
}

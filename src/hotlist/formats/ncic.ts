import { parseDate8, type Problems } from './text-file.js';
import { NON_ASCII, STATE_CODE, type FileRecord, type FormatParser, type HotlistFormat } from './types.js';

/**
 * NCIC-style fixed-width extract, one record per line. Columns (0-based, end-exclusive):
 *   [0:1] list code   [19:27] incident date   [27:37] plate   [37:39] state   [39:43] tag year
 *   [43:45] licence type   [45:49] vehicle year   [49:53] make   [53:56] model   [56:58] style   [58:] colour
 * [1:19] (the record's agency and number) is kept as `record`. Everything after the state may be blank, and
 * trailing blanks may be cut off, so a record is at least 39 characters.
 */

export const NCIC_CODES: Readonly<Record<string, string>> = {
  A: 'Amber alert',
  C: 'supervised release',
  F: 'felony vehicle',
  H: 'protection order',
  K: 'protective interest',
  L: 'violent person',
  M: 'missing person',
  P: 'stolen plate',
  R: 'stolen Canadian vehicle',
  T: 'gang or terrorist',
  V: 'stolen vehicle',
  W: 'wanted person',
  X: 'sex offender',
};

const MIN_LENGTH = 39;

class NcicParser implements FormatParser {
  line(text: string, n: number, problems: Problems): FileRecord | null {
    if (text.trim() === '') return null;
    // Columns are character positions of an ASCII file: one multi-byte character would shift every field after it.
    if (NON_ASCII.test(text)) {
      problems.add(n, 'characters outside ASCII in a fixed-width record: its columns cannot be trusted');
      return null;
    }
    if (text.length < MIN_LENGTH) {
      problems.add(n, `record is ${text.length} characters; at least ${MIN_LENGTH} are needed (list code, date, plate, state)`);
      return null;
    }
    const code = text[0]!;
    const reason = NCIC_CODES[code];
    let ok = true;
    const bad = (message: string) => {
      problems.add(n, message);
      ok = false;
    };
    if (reason === undefined) bad(`unknown list code ${JSON.stringify(code)} in column 1 (known: ${Object.keys(NCIC_CODES).join(' ')})`);
    const date = text.slice(19, 27).trim();
    const listedAt = date === '' ? null : parseDate8(date);
    if (date !== '' && listedAt === null) bad(`incident date ${JSON.stringify(date)} (columns 20-27) is not a date YYYYMMDD`);
    const plate = text.slice(27, 37);
    if (plate.trim() === '') bad('no plate in columns 28-37');
    const state = text.slice(37, 39);
    if (!STATE_CODE.test(state)) bad(`state ${JSON.stringify(state)} (columns 38-39) is not a two-letter code`);
    const tagYear = text.slice(39, 43).trim();
    if (tagYear !== '' && !/^(\d{4}|NX)$/.test(tagYear)) bad(`tag year ${JSON.stringify(tagYear)} (columns 40-43) is not a year`);
    const vehicleYear = text.slice(45, 49).trim();
    if (vehicleYear !== '' && !/^\d{4}$/.test(vehicleYear)) {
      bad(`vehicle year ${JSON.stringify(vehicleYear)} (columns 46-49) is not a year`);
    }
    if (!ok) return null;
    const details: Record<string, string> = {};
    const keep = (key: string, value: string) => {
      const v = value.trim();
      if (v !== '') details[key] = v;
    };
    keep('record', text.slice(1, 19));
    keep('tagYear', tagYear);
    keep('licenseType', text.slice(43, 45));
    keep('vehicleYear', vehicleYear);
    keep('make', text.slice(49, 53));
    keep('model', text.slice(53, 56));
    keep('style', text.slice(56, 58));
    keep('colour', text.slice(58));
    return { plate, state, code, reason: reason!, caseNumber: null, listedAt, details };
  }

  end(): void {}
}

export const ncicFormat: HotlistFormat = {
  name: 'ncic',
  wildcards: false,
  create: () => new NcicParser(),
};

import path from 'node:path';
import { parseDate8, type Problems } from './text-file.js';
import { NON_ASCII, STATE_CODE, type FileRecord, type FormatParser, type HotlistFormat } from './types.js';

/**
 * California DOJ CLEW extracts: `svs.tbl` (stolen vehicles), `sfr.tbl` (felony vehicles), `slr.tbl` (stolen
 * plates). A header `DATEmm/dd/yyyy hh:mm`, fixed-width records with plate [0:8], state [8:10], county code
 * [10:12] and date [12:20], and a footer `TOTAL RECORD nnnnnnn` that must equal the number of records: a file
 * without it, or with another count, is a truncated or damaged download.
 */

/** What each CLEW file holds, by its base name. */
export const CLEW_KINDS: Readonly<Record<string, string>> = {
  svs: 'stolen vehicle',
  sfr: 'felony vehicle',
  slr: 'stolen plate',
};

const HEADER = /^DATE(\d\d)\/(\d\d)\/(\d{4}) (\d\d):(\d\d)\s*$/;
const FOOTER = /^TOTAL RECORD\s*(\d+)\s*$/;

class ClewParser implements FormatParser {
  private header = false;
  private footer: { line: number; count: number } | null = null;
  private records = 0;
  private readonly kind: string | null;

  constructor(fileName: string) {
    const base = path.basename(fileName).toLowerCase().replace(/\.tbl$/, '');
    this.kind = base in CLEW_KINDS ? base : null;
  }

  line(text: string, n: number, problems: Problems): FileRecord | null {
    if (text.trim() === '') return null;
    if (!this.header) {
      this.header = true;
      const h = HEADER.exec(text);
      if (!h) problems.add(n, `expected the header DATEmm/dd/yyyy hh:mm, found ${JSON.stringify(text.slice(0, 40))}`);
      else if (!validHeaderDate(h)) problems.add(n, `the header's date ${JSON.stringify(text.slice(4).trim())} is not a valid date and time`);
      // a first line that is not the header is still read as a record, so that its own problems show too
      if (h) return null;
    }
    if (this.footer) {
      problems.add(n, `text after the TOTAL RECORD footer (line ${this.footer.line})`);
      return null;
    }
    const f = FOOTER.exec(text);
    if (f) {
      this.footer = { line: n, count: Number(f[1]) };
      return null;
    }
    this.records++;
    if (NON_ASCII.test(text)) {
      problems.add(n, 'characters outside ASCII in a fixed-width record: its columns cannot be trusted');
      return null;
    }
    if (text.length < 10) {
      problems.add(n, `record is ${text.length} characters; at least 10 are needed (plate and state)`);
      return null;
    }
    let ok = true;
    const plate = text.slice(0, 8);
    if (plate.trim() === '') {
      problems.add(n, 'no plate in columns 1-8');
      ok = false;
    }
    const state = text.slice(8, 10);
    if (!STATE_CODE.test(state)) {
      problems.add(n, `state ${JSON.stringify(state)} (columns 9-10) is not a two-letter code`);
      ok = false;
    }
    const county = text.slice(10, 12).trim();
    if (county !== '' && !/^\d\d$/.test(county)) {
      problems.add(n, `county code ${JSON.stringify(county)} (columns 11-12) is not two digits`);
      ok = false;
    }
    const date = text.slice(12, 20).trim();
    const listedAt = date === '' ? null : parseDate8(date);
    if (date !== '' && listedAt === null) {
      problems.add(n, `date ${JSON.stringify(date)} (columns 13-20) is not a date MMDDYYYY`);
      ok = false;
    }
    if (text.slice(20).trim() !== '') {
      problems.add(n, `unexpected text after column 20: ${JSON.stringify(text.slice(20, 40))}`);
      ok = false;
    }
    if (!ok) return null;
    return {
      plate,
      state,
      code: this.kind,
      reason: this.kind ? CLEW_KINDS[this.kind]! : null,
      caseNumber: null,
      listedAt,
      details: county === '' ? null : { county },
    };
  }

  end(lastLine: number, problems: Problems): void {
    if (!this.header) return; // an empty file is reported by the reader
    if (!this.footer) {
      problems.add(lastLine, `no TOTAL RECORD footer after ${this.records} record(s): the file is truncated`);
    } else if (this.footer.count !== this.records) {
      problems.add(this.footer.line, `the footer says ${this.footer.count} record(s); the file holds ${this.records}`);
    }
  }
}

function validHeaderDate(h: RegExpExecArray): boolean {
  const [m, d, y, hh, mm] = [h[1], h[2], h[3], h[4], h[5]].map(Number) as [number, number, number, number, number];
  const t = new Date(Date.UTC(y, m - 1, d, hh, mm));
  return m >= 1 && m <= 12 && t.getUTCDate() === d && hh < 24 && mm < 60;
}

export const caDojFormat: HotlistFormat = {
  name: 'ca-doj',
  wildcards: false,
  create: ({ fileName }) => new ClewParser(fileName),
};

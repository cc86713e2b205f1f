import type { Problems } from './text-file.js';
import { STATE_CODE, type ColumnRef, type DelimitedSettings, type FileRecord, type FormatParser, type HotlistFormat } from './types.js';

/**
 * Delimited text: comma (CSV), semicolon or tab separated, one record per line, quoted fields as in RFC 4180
 * ("a ""quoted"" field"; a field cannot span lines). Columns are mapped by the list's settings (header names, or
 * 1-based numbers when the file has no header). Every record must have as many fields as the header (or, without
 * a header, as the first record): a line with another count is a broken line, not a record to guess at.
 */

const DELIMITERS = { comma: ',', semicolon: ';', tab: '\t' } as const;

/** Splits one line into fields; a string is the problem when the quoting is broken. */
export function splitFields(line: string, delimiter: string): string[] | string {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return `a quoted field is not closed (quote at column ${i})`;
        value += line.slice(i, q);
        if (line[q + 1] === '"') {
          value += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      if (i < line.length && line[i] !== delimiter) return `text after a closing quote at column ${i + 1}`;
      fields.push(value);
    } else {
      const d = line.indexOf(delimiter, i);
      const value = line.slice(i, d < 0 ? line.length : d);
      if (value.includes('"')) return `a quote inside an unquoted field at column ${i + value.indexOf('"') + 1}`;
      fields.push(value);
      i = d < 0 ? line.length : d;
    }
    if (i >= line.length) return fields;
    i++; // the delimiter
    if (i === line.length) {
      fields.push('');
      return fields;
    }
  }
}

type Field = 'plate' | 'state' | 'reason' | 'caseNumber';

class DelimitedParser implements FormatParser {
  private readonly delimiter: string;
  private width: number | null = null;
  private names: string[] = [];
  private index: Partial<Record<Field, number>> = {};
  /** Set when the header lacks a mapped column: no record can be read, one problem says why. */
  private unusable = false;

  constructor(private readonly settings: DelimitedSettings) {
    this.delimiter = DELIMITERS[settings.delimiter];
    if (!settings.header) {
      for (const [field, ref] of this.mapped()) {
        // the schema allows names; without a header only numbers can be resolved
        if (typeof ref === 'number') this.index[field] = ref - 1;
      }
    }
  }

  private mapped(): Array<[Field, ColumnRef]> {
    const c = this.settings.columns;
    return (['plate', 'state', 'reason', 'caseNumber'] as const).flatMap((f) => (c[f] === undefined ? [] : [[f, c[f]!] as [Field, ColumnRef]]));
  }

  line(text: string, n: number, problems: Problems): FileRecord | null {
    if (this.unusable || text.trim() === '') return null;
    const fields = splitFields(text, this.delimiter);
    if (typeof fields === 'string') {
      problems.add(n, fields);
      return null;
    }
    if (this.width === null) {
      this.width = fields.length;
      if (this.settings.header) {
        this.names = fields.map((f) => f.trim());
        const lower = this.names.map((f) => f.toLowerCase());
        for (const [field, ref] of this.mapped()) {
          const i = typeof ref === 'number' ? ref - 1 : lower.indexOf(ref.toLowerCase());
          if (i < 0 || i >= fields.length) {
            problems.add(n, `the header has no column ${JSON.stringify(ref)} for the ${field} (columns: ${this.names.join(', ')})`);
            this.unusable = true;
          }
          this.index[field] = i;
        }
        return null;
      }
      for (const [field, ref] of this.mapped()) {
        if (typeof ref === 'string') {
          problems.add(n, `the ${field} column is given by name (${JSON.stringify(ref)}) but the file has no header: give its number`);
          this.unusable = true;
        } else if (ref > fields.length) {
          problems.add(n, `the ${field} column is number ${ref}; the record has ${fields.length} field(s)`);
          this.unusable = true;
        }
      }
      if (this.unusable) return null;
    }
    if (fields.length !== this.width) {
      problems.add(n, `${fields.length} field(s); the ${this.settings.header ? 'header has' : 'first record has'} ${this.width}`);
      return null;
    }
    const get = (f: Field) => {
      const i = this.index[f];
      return i === undefined ? '' : fields[i]!.trim();
    };
    const state = get('state').toUpperCase();
    if (state !== '' && !STATE_CODE.test(state)) {
      problems.add(n, `state ${JSON.stringify(state)} is not a two-letter code`);
      return null;
    }
    let details: Record<string, string> | null = null;
    if (this.settings.header) {
      const used = new Set(Object.values(this.index));
      fields.forEach((value, i) => {
        if (!used.has(i) && value.trim() !== '') (details ??= {})[this.names[i] || `column ${i + 1}`] = value.trim();
      });
    }
    return {
      plate: get('plate'),
      state: state === '' ? null : state,
      code: null,
      reason: get('reason') || null,
      caseNumber: get('caseNumber') || null,
      listedAt: null,
      details,
    };
  }

  end(): void {}
}

export const delimitedFormat: HotlistFormat = {
  name: 'csv',
  wildcards: true,
  create: ({ delimited }) => new DelimitedParser(delimited),
};

import type { Problems } from './text-file.js';

/** One record of a hot list file, as the file gives it (the plate is normalised by the importer). */
export interface FileRecord {
  /** The plate field as written in the file. */
  plate: string;
  /** Two-letter state or province code; null when the format or the record gives none. */
  state: string | null;
  /** NCIC list code (V, F, ...) or the CLEW file kind (svs, sfr, slr). */
  code: string | null;
  reason: string | null;
  caseNumber: string | null;
  /** Date the want was entered, ms since the epoch (UTC). */
  listedAt: number | null;
  /** The record's other fields (vehicle description, county), kept with the entry for the alert. */
  details: Record<string, string> | null;
}

/** How a delimited file's columns map to entries: a header name, or a 1-based column number. */
export type ColumnRef = string | number;

export interface DelimitedSettings {
  delimiter: 'comma' | 'semicolon' | 'tab';
  header: boolean;
  columns: { plate: ColumnRef; state?: ColumnRef | undefined; reason?: ColumnRef | undefined; caseNumber?: ColumnRef | undefined };
}

export interface FormatParser {
  /** One line of the file (1-based number): its record, or null for a line holding none (header, blank, comment). */
  line(text: string, n: number, problems: Problems): FileRecord | null;
  /** After the last line: checks on the file as a whole (a footer's record count). */
  end(lastLine: number, problems: Problems): void;
}

export type FormatName = 'ncic' | 'ca-doj' | 'csv' | 'lines';

export interface HotlistFormat {
  name: FormatName;
  /** Whether an entry of this format may be a partial plate (`?`, `*`). */
  wildcards: boolean;
  create(opts: { fileName: string; delimited: DelimitedSettings }): FormatParser;
}

export const STATE_CODE = /^[A-Z]{2}$/;
export const NON_ASCII = /[^\u0000-\u007f]/;

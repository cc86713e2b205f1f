import { caDojFormat } from './ca-doj.js';
import { delimitedFormat } from './delimited.js';
import { ncicFormat } from './ncic.js';
import { plainLinesFormat } from './plain-lines.js';
import type { FormatName, HotlistFormat } from './types.js';

export type { DelimitedSettings, FileRecord, FormatName, HotlistFormat } from './types.js';
export { Problems, type LineProblem } from './text-file.js';

/** The file formats a list can be imported from, by the name `--format` and the config use. */
export const FORMATS: Readonly<Record<FormatName, HotlistFormat>> = {
  ncic: ncicFormat,
  'ca-doj': caDojFormat,
  csv: delimitedFormat,
  lines: plainLinesFormat,
};

export const FORMAT_NAMES = Object.keys(FORMATS) as FormatName[];

import type { FileRecord, FormatParser, HotlistFormat } from './types.js';

/**
 * A plain list: one plate per line (spaces and dashes inside it are dropped by normalisation), partial plates
 * with `?` and `*` allowed. Blank lines and lines starting with `#` are skipped.
 */
class PlainLinesParser implements FormatParser {
  line(text: string): FileRecord | null {
    const t = text.trim();
    if (t === '' || t.startsWith('#')) return null;
    return { plate: t, state: null, code: null, reason: null, caseNumber: null, listedAt: null, details: null };
  }

  end(): void {}
}

export const plainLinesFormat: HotlistFormat = {
  name: 'lines',
  wildcards: true,
  create: () => new PlainLinesParser(),
};

import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { isAscii, isUtf8 } from 'node:buffer';

/**
 * Reading a hot list file as lines of text, with the checks every format shares: the file is UTF-8 text (no
 * binary data), and it ends with a line end (a download cut short in the middle of a line is caught here; the
 * formats with a record count catch one cut at a line end).
 *
 * The file is read in chunks, never whole: an NCIC extract of a million records is 70 MB.
 */

/** One thing wrong with a file: its line (1-based; 0 for the file as a whole) and what is wrong, in plain words. */
export interface LineProblem {
  line: number;
  message: string;
}

/** Problems found in one file. Reading stops after MAX_PROBLEMS: by then the file is clearly not a list. */
export class Problems {
  static readonly MAX = 1000;
  readonly list: LineProblem[] = [];

  add(line: number, message: string): void {
    if (this.list.length < Problems.MAX) this.list.push({ line, message });
  }

  get count(): number {
    return this.list.length;
  }

  get full(): boolean {
    return this.list.length >= Problems.MAX;
  }
}

const CHUNK_BYTES = 1 << 20;
/** No list line is anywhere near this long; a longer one means the file is not a list (or is binary). */
export const MAX_LINE_BYTES = 64 * 1024;
// C0 control characters other than tab (line ends are already split off), and DEL.
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/** The bytes of a file (a path, or the bytes themselves), in chunks. */
function* chunksOf(source: string | Buffer): Generator<Buffer> {
  if (typeof source !== 'string') {
    yield source;
    return;
  }
  const fd = openSync(source, 'r');
  try {
    for (;;) {
      const buf = Buffer.allocUnsafe(CHUNK_BYTES);
      const n = readSync(fd, buf, 0, CHUNK_BYTES, null);
      if (n === 0) return;
      yield buf.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}

/** SHA-256 of a file's bytes (hex): an unchanged file is recognised without parsing it. */
export function fileChecksum(source: string | Buffer): string {
  const hash = createHash('sha256');
  for (const chunk of chunksOf(source)) hash.update(chunk);
  return hash.digest('hex');
}

/**
 * Calls `onLine` with each line of the file (its text without the line end; CRLF or LF) and its number. A line
 * that is not text is reported and not passed on. Returns the number of lines read.
 */
export function readLines(
  source: string | Buffer,
  problems: Problems,
  onLine: (text: string, line: number) => void,
): number {
  let carry: Buffer | null = null;
  let line = 0;
  let first = true;
  const take = (buf: Buffer, start: number, end: number): void => {
    line++;
    if (first) {
      first = false;
      if (buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf) start += 3; // UTF-8 byte order mark
    }
    if (end > start && buf[end - 1] === 0x0d) end--;
    const bytes = buf.subarray(start, end);
    let text: string;
    if (isAscii(bytes)) text = bytes.toString('latin1');
    else if (isUtf8(bytes)) text = bytes.toString('utf8');
    else {
      problems.add(line, 'not UTF-8 text: the file is in another encoding (Latin-1, Windows-1252?) or damaged');
      return;
    }
    const control = CONTROL.exec(text);
    if (control) {
      const code = control[0].charCodeAt(0).toString(16).padStart(2, '0');
      problems.add(line, `binary data (control character 0x${code} at column ${control.index + 1}): not a text file, or damaged`);
      return;
    }
    onLine(text, line);
  };
  for (const chunk of chunksOf(source)) {
    const buf: Buffer = carry ? Buffer.concat([carry, chunk]) : chunk;
    carry = null;
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      if (nl < 0) break;
      if (nl - start > MAX_LINE_BYTES) {
        problems.add(line + 1, `line longer than ${MAX_LINE_BYTES} bytes: not a hot list file`);
        return line + 1;
      }
      take(buf, start, nl);
      if (problems.full) return line;
      start = nl + 1;
    }
    if (buf.length - start > MAX_LINE_BYTES) {
      problems.add(line + 1, `line longer than ${MAX_LINE_BYTES} bytes: not a hot list file`);
      return line + 1;
    }
    // a copy: a Buffer source must not be kept alive, and a chunk is not reused
    if (start < buf.length) carry = Buffer.from(buf.subarray(start));
  }
  if (carry) {
    line++;
    problems.add(line, 'the file ends in the middle of this line (no line end): a truncated download?');
  } else if (line === 0) {
    problems.add(0, 'the file is empty');
  }
  return line;
}

/**
 * An 8-digit date of a record: YYYYMMDD (NCIC) or MMDDYYYY (CLEW), told apart by where a plausible year is.
 * Returns ms since the epoch (UTC midnight), or null when the field is not a valid date.
 */
export function parseDate8(s: string): number | null {
  if (!/^\d{8}$/.test(s)) return null;
  const valid = (y: number, m: number, d: number): number | null => {
    if (y < 1900 || y > 2199 || m < 1 || m > 12 || d < 1) return null;
    const t = Date.UTC(y, m - 1, d);
    return new Date(t).getUTCDate() === d ? t : null;
  };
  return (
    valid(Number(s.slice(0, 4)), Number(s.slice(4, 6)), Number(s.slice(6, 8))) ??
    valid(Number(s.slice(4, 8)), Number(s.slice(0, 2)), Number(s.slice(2, 4)))
  );
}

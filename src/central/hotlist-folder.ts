import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { FORMAT_NAMES, type FormatName } from '../hotlist/formats/index.js';
import type { Logger } from '../log/logger.js';
import { NAME_RE } from './records.js';
import { HttpError } from './http.js';

/**
 * The folder of published hot list files: every file <name>.<ext> is list <name>, with the settings of an optional
 * lists.json beside them.
 */

export interface PublishedList {
  name: string;
  format: FormatName;
  file: string;
  sha256: string;
  bytes: number;
  category?: string;
  priority?: number;
  covert?: boolean;
}

const FORMAT_BY_EXT: Record<string, FormatName> = { '.txt': 'lines', '.csv': 'csv', '.ncic': 'ncic', '.clew': 'ca-doj' };

interface ListSettings {
  format?: FormatName;
  category?: string;
  priority?: number;
  covert?: boolean;
}

function parseListsJson(file: string): Map<string, ListSettings> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file} is not JSON: ${(err as Error).message}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new Error(`${file}: an object of list name → settings is expected`);
  const out = new Map<string, ListSettings>();
  for (const [name, raw] of Object.entries(data)) {
    const at = `${file}: ${name}`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${at}: an object { format, category?, priority?, covert? } is expected`);
    const s: ListSettings = {};
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
      if (k === 'format') {
        if (!FORMAT_NAMES.includes(v as FormatName)) throw new Error(`${at}.format: one of ${FORMAT_NAMES.join(', ')} (got ${JSON.stringify(v)})`);
        s.format = v as FormatName;
      } else if (k === 'category') {
        if (typeof v !== 'string' || v.length > 200) throw new Error(`${at}.category: a text of at most 200 characters`);
        s.category = v;
      } else if (k === 'priority') {
        if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > 9) throw new Error(`${at}.priority: a whole number from 1 (most urgent) to 9 (got ${JSON.stringify(v)})`);
        s.priority = v as number;
      } else if (k === 'covert') {
        if (typeof v !== 'boolean') throw new Error(`${at}.covert: true or false`);
        s.covert = v;
      } else {
        throw new Error(`${at}: unknown key ${JSON.stringify(k)} (allowed: format, category, priority, covert)`);
      }
    }
    out.set(name, s);
  }
  return out;
}

/** The folder of hot list files, checksummed once per version of each file (by size and mtime). */
export class HotlistFolder {
  private readonly sums = new Map<string, { stamp: string; sha256: string }>();
  private readonly warned = new Set<string>();

  constructor(
    private readonly dir: string | undefined,
    private readonly log: Logger,
  ) {}

  private warnOnce(key: string, obj: object, msg: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.log.warn(obj, msg);
  }

  private checksum(file: string, size: number, mtimeMs: number): string {
    const stamp = `${size}:${mtimeMs}`;
    const known = this.sums.get(file);
    if (known?.stamp === stamp) return known.sha256;
    const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
    this.sums.set(file, { stamp, sha256 });
    return sha256;
  }

  lists(): PublishedList[] {
    if (!this.dir) return [];
    let names: string[];
    try {
      names = readdirSync(this.dir).sort();
    } catch (err) {
      throw new HttpError(500, `the hot list folder ${this.dir} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    let settings: Map<string, ListSettings>;
    try {
      settings = parseListsJson(path.join(this.dir, 'lists.json'));
    } catch (err) {
      // serving the lists with guessed settings could make a covert list alert: better none until it is fixed
      throw new HttpError(500, `the hot list folder's lists.json is not valid: ${(err as Error).message}`);
    }
    const out: PublishedList[] = [];
    const seen = new Set<string>();
    for (const fileName of names) {
      if (fileName === 'lists.json' || fileName.startsWith('.') || fileName.endsWith('.part') || fileName.endsWith('~')) continue;
      const file = path.join(this.dir, fileName);
      let st;
      try {
        st = statSync(file);
      } catch {
        continue; // removed while listing
      }
      if (!st.isFile()) continue;
      const ext = path.extname(fileName);
      const name = ext ? fileName.slice(0, -ext.length) : fileName;
      if (!NAME_RE.test(name)) {
        this.warnOnce(`name:${fileName}`, { file }, 'hot list file left out: a list name has letters, digits, "_", "." and "-", 1-64 characters');
        continue;
      }
      if (seen.has(name)) {
        this.warnOnce(`dup:${fileName}`, { file, list: name }, 'hot list file left out: another file already gives this list');
        continue;
      }
      const s = settings.get(name) ?? {};
      const format = s.format ?? FORMAT_BY_EXT[ext.toLowerCase()];
      if (!format) {
        this.warnOnce(`format:${fileName}`, { file, list: name }, 'hot list file left out: its format is not in lists.json and its extension is none of .txt, .csv, .ncic, .clew');
        continue;
      }
      seen.add(name);
      out.push({
        name,
        format,
        file,
        sha256: this.checksum(file, st.size, st.mtimeMs),
        bytes: st.size,
        ...(s.category !== undefined ? { category: s.category } : {}),
        ...(s.priority !== undefined ? { priority: s.priority } : {}),
        ...(s.covert !== undefined ? { covert: s.covert } : {}),
      });
    }
    return out;
  }
}

import { randomBytes, hkdfSync } from 'node:crypto';
import { closeSync, constants, fstatSync, mkdirSync, openSync, readSync, writeSync, fsyncSync } from 'node:fs';
import path from 'node:path';

/**
 * The unit's data key: 32 random bytes, kept in a file readable by the unit's user alone (0600) or handed over by
 * the service manager (systemd `LoadCredential=alpr-edge-data-key:...`). It never appears in the config or the
 * log. Everything stored at rest is encrypted with keys derived from it, one per use, so that a key leaked from
 * one use (say the audit log's HMAC key, needed by an auditor's tool) opens nothing else.
 */

/** The credential's name under `$CREDENTIALS_DIRECTORY` (systemd `LoadCredential=alpr-edge-data-key:<file>`). */
export const DATA_KEY_CREDENTIAL = 'alpr-edge-data-key';

export const DATA_KEY_BYTES = 32;

export class KeyError extends Error {
  override name = 'KeyError';
}

export interface LoadDataKeyOptions {
  /** Path of the key file (config `store.keyFile`); empty or absent: look in the credentials directory. */
  keyFile?: string;
  /** The environment to find `CREDENTIALS_DIRECTORY` in (default `process.env`). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Creates a new key file: 32 random bytes as 64 hex characters and a newline, mode 0600 from the first byte on.
 * Refuses to overwrite an existing file: replacing a key makes everything encrypted with it unreadable.
 */
export function createKeyFile(file: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EEXIST') {
      throw new KeyError(`the key file ${file} exists already; refusing to overwrite it (data encrypted with it would be lost)`);
    }
    throw new KeyError(`cannot create the key file ${file}: ${e.message}`);
  }
  try {
    writeSync(fd, randomBytes(DATA_KEY_BYTES).toString('hex') + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * The unit's data key, from `keyFile` if given, else from `$CREDENTIALS_DIRECTORY/alpr-edge-data-key` if the
 * service manager provides it; null when neither is configured (the store then runs unencrypted). A key that is
 * configured but cannot be used (missing, readable by others, wrong length) is an error, never a silent fallback
 * to no encryption.
 */
export function loadDataKey(options: LoadDataKeyOptions = {}): Buffer | null {
  const env = options.env ?? process.env;
  if (options.keyFile) return readKeyFile(options.keyFile, 'store.keyFile', false);
  const credDir = env.CREDENTIALS_DIRECTORY;
  // A credentials directory without this credential holds the service's other secrets only: no data key.
  if (credDir) return readKeyFile(path.join(credDir, DATA_KEY_CREDENTIAL), 'the service credential', true);
  return null;
}

function readKeyFile(file: string, what: string, optional: true): Buffer | null;
function readKeyFile(file: string, what: string, optional: false): Buffer;
function readKeyFile(file: string, what: string, optional: boolean): Buffer | null {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (optional && e.code === 'ENOENT') return null;
    const reason =
      e.code === 'ENOENT'
        ? 'it does not exist (create one with createKeyFile / see docs/data-at-rest.md)'
        : e.code === 'EACCES'
          ? "the unit's user may not read it"
          : e.code === 'ELOOP'
            ? 'it is a symbolic link; give the real path'
            : e.message;
    throw new KeyError(`cannot use the data key file ${file} (${what}): ${reason}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new KeyError(`cannot use the data key file ${file} (${what}): it is not a regular file`);
    if ((st.mode & 0o077) !== 0) {
      throw new KeyError(
        `refusing the data key file ${file} (${what}): its mode is ${(st.mode & 0o777).toString(8).padStart(4, '0')}, ` +
          `readable by group or others; make it 0600 or 0400 (chmod 600 ${file})`,
      );
    }
    if (st.size > 1024) throw new KeyError(`refusing the data key file ${file} (${what}): ${st.size} bytes is not a key`);
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return parseKey(buf.subarray(0, off), file, what);
  } finally {
    closeSync(fd);
  }
}

function parseKey(raw: Buffer, file: string, what: string): Buffer {
  const bad = (why: string) =>
    new KeyError(`refusing the data key file ${file} (${what}): ${why}; a key is 32 random bytes, as 64 hex characters on one line or raw`);
  const text = raw.toString('latin1');
  let key: Buffer;
  if (raw.length === DATA_KEY_BYTES && !/^[0-9a-fA-F]+$/.test(text)) {
    key = Buffer.from(raw);
  } else {
    const t = text.trim();
    if (!/^[0-9a-fA-F]*$/.test(t)) throw bad(`it is ${raw.length} bytes, neither raw 32 bytes nor hex text`);
    if (t.length !== DATA_KEY_BYTES * 2) throw bad(`it holds ${t.length} hex characters (${t.length / 2} bytes), not 64`);
    key = Buffer.from(t, 'hex');
  }
  if (key.every((b) => b === key[0])) throw bad('all its bytes are the same');
  return key;
}

// HKDF-SHA256 from the data key; the info string names the use. Changing one makes its data unreadable.
const SALT = Buffer.from('alpr-edge data key v1');

function derive(dataKey: Buffer, info: string): Buffer {
  if (dataKey.length !== DATA_KEY_BYTES) throw new KeyError(`a data key is ${DATA_KEY_BYTES} bytes, not ${dataKey.length}`);
  return Buffer.from(hkdfSync('sha256', dataKey, SALT, info, 32));
}

/** The read store database's key (SQLite3 Multiple Ciphers raw key). */
export function databaseKey(dataKey: Buffer): Buffer {
  return derive(dataKey, 'alpr-edge database v1');
}

/** The AES-256-GCM key of the store's image files. */
export function imageKey(dataKey: Buffer): Buffer {
  return derive(dataKey, 'alpr-edge images v1');
}

/** The HMAC-SHA256 key of the tamper-evident access log. */
export function auditKey(dataKey: Buffer): Buffer {
  return derive(dataKey, 'alpr-edge audit v1');
}

import { systemClock } from '../src/util/clock.js';
import PlainDatabase from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newRead } from './helpers.js';
import { ReadStore, StoreError, type NewRead } from '../src/store/read-store.js';
import {
  auditKey,
  createKeyFile,
  DATA_KEY_CREDENTIAL,
  databaseKey,
  imageKey,
  KeyError,
  loadDataKey,
} from '../src/store/keys.js';

/**
 * Data at rest (P14): a unit in a vehicle can be stolen, so with a data key nothing useful comes off its disk
 * without the key: not plate text from the database or its WAL, not pictures from the image files.
 */

const FIXTURES = path.join(import.meta.dirname, '..', 'test-fixtures');
const jpeg = readFileSync(path.join(FIXTURES, 'plates', 'us-ca-clean.jpg'));
const JPEG_MAGIC = Buffer.from([0xff, 0xd8, 0xff]);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'alpr-store-enc-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Read n (test/helpers.ts) with plate text and images that are easy to look for in the files: a real JPEG. */
const readN = (n: number): NewRead =>
  newRead(n, { plate: `ZQX${String(n).padStart(4, '0')}`, closed: false, crop: { bytes: jpeg.subarray(0, 4000), format: 'jpeg' }, frame: { bytes: jpeg, format: 'jpeg' } });

const dataDir = () => path.join(dir, 'data');

function filesOfStore(): Buffer[] {
  return ['', '-wal'].filter((s) => existsSync(path.join(dataDir(), 'alpr-edge.db' + s))).map((s) => readFileSync(path.join(dataDir(), 'alpr-edge.db' + s)));
}

describe('encrypted read store', () => {
  it('keeps no plate text and no SQLite header in the database or its WAL, and plain SQLite cannot open it', async () => {
    const key = randomBytes(32);
    const store = ReadStore.open(dataDir(), { clock: systemClock, imageBudgetBytes: 1e8, dataKey: key });
    for (let n = 1; n <= 20; n++) await store.insertRead(readN(n));
    // While open, the reads sit in the WAL: it must be encrypted too.
    const whileOpen = filesOfStore();
    expect(whileOpen.some((b) => b.length > 0)).toBe(true);
    store.close();
    for (const bytes of [...whileOpen, ...filesOfStore()]) {
      expect(bytes.includes('ZQX0001')).toBe(false);
      expect(bytes.includes('ZQX0020')).toBe(false);
      expect(bytes.includes('SQLite format 3')).toBe(false);
      expect(bytes.includes('unit-01')).toBe(false);
    }
    let code: string | undefined;
    try {
      const db = new PlainDatabase(path.join(dataDir(), 'alpr-edge.db'));
      try {
        db.prepare('SELECT count(*) FROM reads').get();
      } finally {
        db.close();
      }
    } catch (err) {
      code = (err as { code?: string }).code;
    }
    expect(code).toBe('SQLITE_NOTADB');

    const again = ReadStore.open(dataDir(), { clock: systemClock, imageBudgetBytes: 1e8, dataKey: key });
    expect(again.listReads().map((r) => r.plate)).toEqual(Array.from({ length: 20 }, (_, i) => `ZQX${String(i + 1).padStart(4, '0')}`));
    expect(again.database.pragma('journal_mode', { simple: true })).toBe('wal');
    again.close();
    expect(statSync(path.join(dataDir(), 'alpr-edge.db')).mode & 0o777).toBe(0o600);
    expect(statSync(dataDir()).mode & 0o777).toBe(0o700);
  });

  it('refuses to open without the key or with a wrong key, with a clear StoreError', async () => {
    const store = ReadStore.open(dataDir(), { clock: systemClock, imageBudgetBytes: 1e8, dataKey: randomBytes(32) });
    await store.insertRead(readN(1));
    store.close();
    for (const dataKey of [undefined, null, randomBytes(32)]) {
      expect(() => ReadStore.open(dataDir(), { clock: systemClock, imageBudgetBytes: 1e8, dataKey })).toThrow(StoreError);
      expect(() => ReadStore.open(dataDir(), { clock: systemClock, imageBudgetBytes: 1e8, dataKey })).toThrow(
        /the database is encrypted and the key is missing or wrong/,
      );
    }
  });

  it('keeps a store created without a key plain and readable without one; a key on it is refused with advice', async () => {
    const plain = ReadStore.open(dataDir(), { clock: systemClock, imageBudgetBytes: 1e8 });
    const r = await plain.insertRead(readN(1));
    plain.close();
    expect(readFileSync(path.join(dataDir(), 'alpr-edge.db')).subarray(0, 15).toString()).toBe('SQLite format 3');
    expect(readFileSync(path.join(dataDir(), 'images', r.framePath!))).toEqual(jpeg);
    expect(() => ReadStore.open(dataDir(), { clock: systemClock, imageBudgetBytes: 1e8, dataKey: randomBytes(32) })).toThrow(/not encrypted.*encryptExisting/);
    const again = ReadStore.open(dataDir(), { clock: systemClock, imageBudgetBytes: 1e8 });
    expect(await again.readImage(r.framePath!)).toEqual(jpeg);
    again.close();
  });

  it('encrypts image files on disk and gives the plain bytes back through readImage', async () => {
    const store = ReadStore.open(dataDir(), { clock: systemClock, imageBudgetBytes: 1e8, dataKey: randomBytes(32) });
    const r = await store.insertRead(readN(1));
    for (const [rel, plain] of [
      [r.framePath!, jpeg],
      [r.cropPath!, jpeg.subarray(0, 4000)],
    ] as const) {
      const onDisk = readFileSync(store.imagePath(rel));
      expect(onDisk.subarray(0, 4).toString('latin1')).toBe('AEI1');
      expect(onDisk.includes(JPEG_MAGIC)).toBe(false);
      expect(onDisk.includes(plain.subarray(100, 164))).toBe(false);
      expect(statSync(store.imagePath(rel)).mode & 0o777).toBe(0o600);
      expect(await store.readImage(rel)).toEqual(plain);
    }
    // A replaced crop is encrypted too.
    const updated = await store.updateRead(r.id, { ...readN(1), crop: { bytes: Buffer.alloc(500, 7), format: 'png' } });
    expect(readFileSync(store.imagePath(updated.cropPath!)).includes(Buffer.alloc(64, 7))).toBe(false);
    expect(await store.readImage(updated.cropPath!)).toEqual(Buffer.alloc(500, 7));
    await expect(store.readImage('../alpr-edge.db')).rejects.toThrow(/outside/);
    store.close();
  });

  it('refuses a tampered image file and an image file moved to another read\'s path', async () => {
    const store = ReadStore.open(dataDir(), { clock: systemClock, imageBudgetBytes: 1e8, dataKey: randomBytes(32) });
    const a = await store.insertRead(readN(1));
    const b = await store.insertRead(readN(2));

    const file = store.imagePath(a.framePath!);
    const bytes = readFileSync(file);
    bytes[bytes.length - 10]! ^= 0x01;
    writeFileSync(file, bytes);
    await expect(store.readImage(a.framePath!)).rejects.toThrow(StoreError);
    await expect(store.readImage(a.framePath!)).rejects.toThrow(/failed its integrity check/);

    // b's crop replaced by a's crop (a valid encrypted file, but of another read).
    renameSync(store.imagePath(a.cropPath!), store.imagePath(b.cropPath!));
    await expect(store.readImage(b.cropPath!)).rejects.toThrow(/failed its integrity check/);

    // A plain picture put in place of an encrypted one is refused, not shown.
    writeFileSync(store.imagePath(b.framePath!), jpeg);
    await expect(store.readImage(b.framePath!)).rejects.toThrow(/not an encrypted image/);
    store.close();
  });

  it('encryptExisting turns a plain store into an encrypted one with its reads and images intact', async () => {
    const plain = ReadStore.open(dataDir(), { clock: systemClock, imageBudgetBytes: 1e8 });
    const before = [];
    for (let n = 1; n <= 5; n++) before.push(await plain.insertRead(readN(n)));
    plain.close();

    const key = randomBytes(32);
    const report = await ReadStore.encryptExisting(dataDir(), key, systemClock);
    expect(report).toEqual({ database: 'encrypted', imagesEncrypted: 10, imagesAlreadyEncrypted: 0 });

    for (const bytes of filesOfStore()) {
      expect(bytes.includes('ZQX0001')).toBe(false);
      expect(bytes.includes('SQLite format 3')).toBe(false);
    }
    expect(() => ReadStore.open(dataDir(), { clock: systemClock, imageBudgetBytes: 1e8 })).toThrow(/the database is encrypted and the key is missing or wrong/);

    const store = ReadStore.open(dataDir(), { clock: systemClock, imageBudgetBytes: 1e8, dataKey: key });
    const after = store.listReads();
    expect(after.map((r) => r.plate)).toEqual(before.map((r) => r.plate));
    expect(store.database.pragma('journal_mode', { simple: true })).toBe('wal');
    for (const r of after) {
      expect(readFileSync(store.imagePath(r.framePath!)).includes(JPEG_MAGIC)).toBe(false);
      expect(await store.readImage(r.framePath!)).toEqual(jpeg);
      expect(await store.readImage(r.cropPath!)).toEqual(jpeg.subarray(0, 4000));
    }
    await store.insertRead(readN(6));
    store.close();

    // Running it again changes nothing.
    expect(await ReadStore.encryptExisting(dataDir(), key, systemClock)).toEqual({ database: 'already encrypted', imagesEncrypted: 0, imagesAlreadyEncrypted: 12 });
  });
});

describe('data key', () => {
  it('creates a key file 0600 and refuses to overwrite it', () => {
    const file = path.join(dir, 'etc', 'data.key');
    createKeyFile(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
    const before = readFileSync(file);
    expect(() => createKeyFile(file)).toThrow(/exists already; refusing to overwrite/);
    expect(readFileSync(file)).toEqual(before);
    expect(loadDataKey({ keyFile: file, env: {} })).toEqual(Buffer.from(before.toString().trim(), 'hex'));
  });

  it('reads a raw 32-byte key as well as a hex one', () => {
    const raw = randomBytes(32);
    const file = path.join(dir, 'raw.key');
    writeFileSync(file, raw, { mode: 0o400 });
    expect(loadDataKey({ keyFile: file, env: {} })).toEqual(raw);
  });

  it('refuses a key file readable by group or others, a short key, and a missing file, saying why', () => {
    const file = path.join(dir, 'data.key');
    createKeyFile(file);
    chmodSync(file, 0o640);
    expect(() => loadDataKey({ keyFile: file, env: {} })).toThrow(KeyError);
    expect(() => loadDataKey({ keyFile: file, env: {} })).toThrow(/mode is 0640, readable by group or others/);
    chmodSync(file, 0o604);
    expect(() => loadDataKey({ keyFile: file, env: {} })).toThrow(/readable by group or others/);

    const short = path.join(dir, 'short.key');
    writeFileSync(short, randomBytes(16).toString('hex') + '\n', { mode: 0o600 });
    expect(() => loadDataKey({ keyFile: short, env: {} })).toThrow(/32 hex characters \(16 bytes\), not 64/);
    const rawShort = path.join(dir, 'raw-short.key');
    writeFileSync(rawShort, randomBytes(20), { mode: 0o600 });
    expect(() => loadDataKey({ keyFile: rawShort, env: {} })).toThrow(KeyError);

    expect(() => loadDataKey({ keyFile: path.join(dir, 'nope.key'), env: {} })).toThrow(/does not exist/);
  });

  it('takes the key from $CREDENTIALS_DIRECTORY when no key file is configured, and none when neither is there', () => {
    const creds = path.join(dir, 'creds');
    mkdirSync(creds, { mode: 0o700 });
    expect(loadDataKey({ env: {} })).toBeNull();
    expect(loadDataKey({ keyFile: '', env: { CREDENTIALS_DIRECTORY: creds } })).toBeNull();
    createKeyFile(path.join(creds, DATA_KEY_CREDENTIAL));
    chmodSync(path.join(creds, DATA_KEY_CREDENTIAL), 0o400); // as systemd hands it over
    const key = loadDataKey({ keyFile: '', env: { CREDENTIALS_DIRECTORY: creds } });
    expect(key).toEqual(Buffer.from(readFileSync(path.join(creds, DATA_KEY_CREDENTIAL), 'utf8').trim(), 'hex'));
    chmodSync(path.join(creds, DATA_KEY_CREDENTIAL), 0o444);
    expect(() => loadDataKey({ env: { CREDENTIALS_DIRECTORY: creds } })).toThrow(/readable by group or others/);
  });

  it('derives distinct subkeys for the database, the images and the access log', () => {
    const key = randomBytes(32);
    const subkeys = [databaseKey(key), imageKey(key), auditKey(key)];
    expect(new Set(subkeys.map((k) => k.toString('hex'))).size).toBe(3);
    for (const k of subkeys) expect(k.length).toBe(32);
    expect(databaseKey(key)).toEqual(databaseKey(Buffer.from(key)));
    expect(subkeys.some((k) => k.equals(key))).toBe(false);
  });
});

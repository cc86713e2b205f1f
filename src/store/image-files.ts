import type Database from 'better-sqlite3-multiple-ciphers';
import { open, unlink, mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { decryptImage, encryptImage, ImageIntegrityError, isEncryptedImage } from './image-crypto.js';
import { StoreError } from './database.js';
import type { ImageData } from './reads.js';

/** An image file written for a read: its path under the images folder, its bytes on disk, its format. */
export interface WrittenImage {
  rel: string;
  bytes: number;
  format: string;
}

const TMP_SUFFIX = '.enc-tmp';

/**
 * The store's image files under one folder (by UTC day of the read), each written and fsynced before its row is
 * committed; with a data key encrypted with AES-256-GCM bound to its path.
 */
export class ImageFiles {
  constructor(
    readonly dir: string,
    private readonly key: Buffer | null,
  ) {}

  /** Writes and fsyncs a new file for a read's image (taken at `time`); nothing is left of it if that fails. */
  async write(uuid: string, kind: 'crop' | 'frame', img: ImageData, time: number): Promise<WrittenImage> {
    const d = new Date(time);
    const dir = path.join(
      String(d.getUTCFullYear()),
      String(d.getUTCMonth() + 1).padStart(2, '0'),
      String(d.getUTCDate()).padStart(2, '0'),
    );
    await mkdir(path.join(this.dir, dir), { recursive: true, mode: 0o700 });
    // A new name each time: an update never overwrites a file a committed row still points at.
    const rel = path.join(dir, `${uuid}-${kind}-${time}-${Math.random().toString(36).slice(2, 8)}.${img.format === 'png' ? 'png' : 'jpg'}`);
    const data = this.key ? encryptImage(this.key, rel, img.bytes) : img.bytes;
    const abs = path.join(this.dir, rel);
    const fh = await open(abs, 'wx', 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } catch (err) {
      // a half-written file (a full disk) is not left behind
      await fh.close().catch(() => undefined);
      await unlink(abs).catch(() => undefined);
      throw err;
    }
    await fh.close();
    // Bytes on disk: the image budget is about the card's space.
    return { rel, bytes: data.length, format: img.format };
  }

  /**
   * The plain bytes of an image file of the store (`rel` as in cropPath / framePath). With a data key the file is
   * decrypted and checked: a file altered on disk, or moved from another read's path, is refused.
   */
  async read(rel: string): Promise<Buffer> {
    const normal = path.normalize(rel);
    if (path.isAbsolute(normal) || normal === '..' || normal.startsWith('..' + path.sep)) {
      throw new StoreError(`the image path ${rel} is outside the store's images folder`);
    }
    let bytes: Buffer;
    try {
      bytes = await readFile(path.join(this.dir, normal));
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new StoreError(`cannot read the image file ${rel}: ${e.code === 'ENOENT' ? 'it does not exist (evicted or deleted)' : e.message}`);
    }
    if (!this.key) {
      if (isEncryptedImage(bytes)) throw new StoreError(`the image file ${rel} is encrypted and the store was opened without the data key`);
      return bytes;
    }
    try {
      return decryptImage(this.key, normal, bytes);
    } catch (err) {
      if (err instanceof ImageIntegrityError) throw new StoreError(err.message);
      throw err;
    }
  }

  /** Encrypts (ReadStore.encryptExisting's second half) every plain file under the images folder, referenced by a row or not. */
  async encryptPlain(db: Database.Database): Promise<{ imagesEncrypted: number; imagesAlreadyEncrypted: number }> {
    const key = this.key;
    if (!key) throw new StoreError('encrypting images needs the data key');
    let imagesEncrypted = 0;
    let imagesAlreadyEncrypted = 0;
    const setBytes = db.prepare('UPDATE images SET bytes = ? WHERE path = ?');
    const walk = async (dirRel: string): Promise<void> => {
      const dirAbs = path.join(this.dir, dirRel);
      let changed = false;
      for (const entry of await readdir(dirAbs, { withFileTypes: true })) {
        const rel = path.join(dirRel, entry.name);
        const abs = path.join(this.dir, rel);
        if (entry.isDirectory()) {
          await walk(rel);
          continue;
        }
        if (!entry.isFile()) continue;
        if (entry.name.endsWith(TMP_SUFFIX)) {
          // Left by an interrupted run; the original beside it is still there.
          await rm(abs, { force: true });
          continue;
        }
        const plain = await readFile(abs);
        if (isEncryptedImage(plain)) {
          imagesAlreadyEncrypted++;
          continue;
        }
        const data = encryptImage(key, rel, plain);
        const fh = await open(abs + TMP_SUFFIX, 'w', 0o600);
        try {
          await fh.writeFile(data);
          await fh.sync();
        } finally {
          await fh.close();
        }
        await rename(abs + TMP_SUFFIX, abs);
        setBytes.run(data.length, rel);
        imagesEncrypted++;
        changed = true;
      }
      if (changed) await fsyncDir(dirAbs);
    };
    await walk('');
    return { imagesEncrypted, imagesAlreadyEncrypted };
  }
}

/** A write refused for want of space (a full disk or a quota). */
export function isNoSpace(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

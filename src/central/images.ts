import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import type { Clock } from '../util/clock.js';
import { CentralError, NAME_RE, UUID_RE, type ChunkResult, type ImageFormat, type ImageKind, type ImageRecord } from './records.js';

interface ImageRow {
  unit: string;
  read_uuid: string;
  kind: ImageKind;
  format: string | null;
  sha256: string | null;
  total: number | null;
  received: number;
  complete: number;
  path: string | null;
  updated_at: number;
}

const imageRecord = (r: ImageRow): ImageRecord => ({
  unit: r.unit,
  readUuid: r.read_uuid,
  kind: r.kind,
  format: r.format,
  sha256: r.sha256,
  total: r.total,
  received: r.received,
  complete: r.complete === 1,
  path: r.path,
  updatedAt: r.updated_at,
});

/**
 * The images the units send, under images/<unit>/ of the data folder, with a row each in the images table: whole
 * (pulled), arriving in resumable chunks (pushed), or wanted by a pull.
 */
export class CentralImages {
  constructor(
    private readonly database: Database.Database,
    readonly dir: string,
    private readonly clock: Clock,
  ) {}

  image(unit: string, readUuid: string, kind: ImageKind): ImageRecord | undefined {
    const r = this.database.prepare('SELECT * FROM images WHERE unit = ? AND read_uuid = ? AND kind = ?').get(unit, readUuid, kind) as ImageRow | undefined;
    return r && imageRecord(r);
  }

  /** The bytes of a complete image. */
  imageBytes(unit: string, readUuid: string, kind: ImageKind): Buffer | undefined {
    const img = this.image(unit, readUuid, kind);
    return img?.complete && img.path ? readFileSync(img.path) : undefined;
  }

  private imagePath(unit: string, readUuid: string, kind: ImageKind, ext: string): string {
    if (!NAME_RE.test(unit) || !UUID_RE.test(readUuid)) throw new CentralError(`not a unit id or read uuid: ${JSON.stringify(unit)}, ${JSON.stringify(readUuid)}`);
    const dir = path.join(this.dir, unit);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return path.join(dir, `${readUuid}-${kind}.${ext}`);
  }

  private saveImageRow(r: Omit<ImageRecord, 'complete'> & { complete: boolean }): void {
    this.database
      .prepare(
        `INSERT INTO images (unit, read_uuid, kind, format, sha256, total, received, complete, path, updated_at)
         VALUES (@unit, @readUuid, @kind, @format, @sha256, @total, @received, @complete, @path, @updatedAt)
         ON CONFLICT (unit, read_uuid, kind) DO UPDATE SET format = excluded.format, sha256 = excluded.sha256, total = excluded.total,
           received = excluded.received, complete = excluded.complete, path = excluded.path, updated_at = excluded.updated_at`,
      )
      .run({ ...r, complete: r.complete ? 1 : 0 });
  }

  private dropImage(img: ImageRecord): void {
    if (img.path) rmSync(img.path, { force: true });
    this.database.prepare('DELETE FROM images WHERE unit = ? AND read_uuid = ? AND kind = ?').run(img.unit, img.readUuid, img.kind);
  }

  /**
   * One chunk of a resumable upload (docs/sync-protocol.md, "Images"). Synchronous from the check to the row
   * update, so two uploads of the same image cannot interleave. The chunk is on disk (fsync) before its bytes
   * are counted as received.
   */
  receiveChunk(
    unit: string,
    readUuid: string,
    kind: ImageKind,
    c: { start: number; total: number; sha256: string; format: ImageFormat; chunk: Buffer },
    now = this.clock(),
  ): ChunkResult {
    let img = this.image(unit, readUuid, kind);
    if (img?.sha256 != null && !img.complete && img.path) {
      // what the row counts must be what the file holds (a file removed by hand begins again)
      let size = -1;
      try {
        size = statSync(img.path).size;
      } catch {
        /* missing */
      }
      if (size !== img.received) {
        this.dropImage(img);
        img = undefined;
      }
    }
    let partPath: string;
    let format: string = c.format;
    if (c.start === 0) {
      if (img) this.dropImage(img);
      partPath = `${this.imagePath(unit, readUuid, kind, c.format === 'png' ? 'png' : 'jpg')}.part`;
    } else {
      const same = img?.sha256 != null && img.sha256 === c.sha256 && img.total === c.total;
      const have = same ? img!.received : 0;
      if (!img || !same || img.complete || !img.path || have !== c.start) {
        const why =
          img?.sha256 == null
            ? 'the server has nothing of this image: start at 0'
            : !same
              ? 'the server is receiving another version of this image: start at 0'
              : img.complete
                ? 'the server has the whole image already'
                : `the server has ${have} bytes of this image`;
        return { status: 'conflict', received: have, why };
      }
      partPath = img.path;
      format = img.format ?? c.format;
    }
    const fd = openSync(partPath, c.start === 0 ? 'w' : 'r+', 0o600);
    try {
      writeSync(fd, c.chunk, 0, c.chunk.length, c.start);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const received = c.start + c.chunk.length;
    const row = { unit, readUuid, kind, format, sha256: c.sha256, total: c.total, received, complete: false, path: partPath, updatedAt: now };
    if (received < c.total) {
      this.saveImageRow(row);
      return { status: 'partial', received };
    }
    const actual = createHash('sha256').update(readFileSync(partPath)).digest('hex');
    if (actual !== c.sha256) {
      this.dropImage({ ...row, complete: false });
      return { status: 'mismatch', sha256: actual };
    }
    const finalPath = partPath.slice(0, -'.part'.length);
    renameSync(partPath, finalPath);
    this.saveImageRow({ ...row, complete: true, path: finalPath });
    return { status: 'complete', received };
  }

  /** A whole image (from a pull): written, synced and renamed into place, then recorded complete. */
  storeImage(unit: string, readUuid: string, kind: ImageKind, format: ImageFormat, data: Buffer, now = this.clock()): ImageRecord {
    const finalPath = this.imagePath(unit, readUuid, kind, format === 'png' ? 'png' : 'jpg');
    const tmp = `${finalPath}.part`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, finalPath);
    const old = this.image(unit, readUuid, kind);
    if (old?.path && old.path !== finalPath) rmSync(old.path, { force: true });
    const sha256 = createHash('sha256').update(data).digest('hex');
    const row = { unit, readUuid, kind, format, sha256, total: data.length, received: data.length, complete: true, path: finalPath, updatedAt: now };
    this.saveImageRow(row);
    return row;
  }

  /** Records images a pull should fetch (kept until fetched, or until the unit says it no longer has them). */
  wantImages(unit: string, readUuid: string, kinds: readonly ImageKind[], now: number): void {
    const want = this.database.prepare(
      `INSERT INTO images (unit, read_uuid, kind, received, complete, updated_at) VALUES (?, ?, ?, 0, 0, ?)
       ON CONFLICT (unit, read_uuid, kind) DO NOTHING`,
    );
    for (const kind of kinds) want.run(unit, readUuid, kind, now);
  }

  /** Images of a unit that are not whole on the server yet (wanted by a pull, or a push that stopped). */
  missingImages(unit: string): ImageRecord[] {
    return (this.database.prepare('SELECT * FROM images WHERE unit = ? AND complete = 0 ORDER BY updated_at, read_uuid, kind').all(unit) as ImageRow[]).map(imageRecord);
  }

  /** Forgets an image the unit no longer has. */
  forgetImage(unit: string, readUuid: string, kind: ImageKind): void {
    const img = this.image(unit, readUuid, kind);
    if (img) this.dropImage(img);
  }
}

import type Database from 'better-sqlite3-multiple-ciphers';
import { statfsSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Clock } from '../util/clock.js';
import { isNoSpace } from './image-files.js';

/** Free and total bytes of the file system holding the store. */
export interface DiskSpace {
  freeBytes: number;
  totalBytes: number;
}

/** Image files deleted in one go to keep the budget ('budget') or free space on the disk ('disk'). */
export interface Eviction {
  reason: 'budget' | 'disk';
  frames: number;
  crops: number;
  bytes: number;
}

/** How much room the store's images may take (StoreOptions). */
export interface BudgetOptions {
  /** Most bytes of image files kept; over it, frame images are deleted oldest first. */
  imageBudgetBytes: number;
  /** Told when the budget cannot be kept by evicting frames (only crops are left). */
  onBudgetExceeded?: (imageBytes: number, budget: number) => void;
  /**
   * Free space kept on the data disk (bytes), at most a tenth of the file system: before and after each write,
   * image files are deleted to keep it, frames oldest first, then plate crops (those already at the agency's
   * server first; never a held read's), never read rows. Absent: images are bounded by imageBudgetBytes only.
   */
  diskReserveBytes?: number;
  /** The data disk's free space (default: statfs of the data folder); null where it cannot be told. */
  freeSpace?: () => DiskSpace | null;
  /** Told of each batch of image files deleted to keep the budget or the disk reserve. */
  onEvicted?: (e: Eviction) => void;
}

/**
 * The image budget and the disk reserve: the bytes of image files on disk, and the deletion of images (never rows)
 * that keeps them within the budget and leaves the reserve free.
 */
export class ImageBudget {
  /** Bytes of image files on disk (not evicted). */
  bytes: number;
  private warned = false;
  /** Images whose files were deleted to make room but whose rows the database could not mark yet (a full disk). */
  private readonly unmarked = new Set<number>();

  constructor(
    private readonly db: Database.Database,
    private readonly imagesDir: string,
    private readonly dataDir: string,
    private readonly options: BudgetOptions,
    private readonly clock: Clock,
  ) {
    this.bytes = (db.prepare('SELECT coalesce(sum(bytes), 0) AS n FROM images WHERE evicted_at IS NULL').get() as { n: number }).n;
  }

  /** keep, its failure (a database that refuses the eviction marks) left for the next write to find. */
  async keepQuietly(needed = 0): Promise<void> {
    try {
      await this.keep(needed);
    } catch {
      // nothing evicted this time; the write itself says whether the store takes writes
    }
  }

  /**
   * Keeps the image budget (frame images deleted oldest first; crops are never deleted for the budget) and, with
   * store.diskReserveBytes, free space on the disk for `needed` more bytes plus the reserve: frames first, then
   * plate crops (those already at the agency's server first, oldest first; never a held read's). Rows are never
   * deleted here.
   */
  private async keep(needed = 0): Promise<void> {
    const budget = this.options.imageBudgetBytes;
    if (this.bytes > budget) {
      const freed = await this.evict('frame', this.bytes - budget);
      if (freed.count > 0) this.options.onEvicted?.({ reason: 'budget', frames: freed.count, crops: 0, bytes: freed.bytes });
      if (this.bytes > budget) {
        if (!this.warned) this.options.onBudgetExceeded?.(this.bytes, budget);
        this.warned = true;
      } else this.warned = false;
    } else this.warned = false;
    let deficit = this.diskDeficit(needed);
    if (deficit <= 0) return;
    const frames = await this.evict('frame', deficit);
    deficit -= frames.bytes;
    const crops = deficit > 0 ? await this.evict('crop', deficit) : { count: 0, bytes: 0 };
    if (frames.count + crops.count > 0) {
      this.options.onEvicted?.({ reason: 'disk', frames: frames.count, crops: crops.count, bytes: frames.bytes + crops.bytes });
    }
  }

  /** Bytes to free for `needed` more bytes and the disk reserve (<= 0: nothing to free). */
  private diskDeficit(needed: number): number {
    const reserve = this.options.diskReserveBytes;
    if (reserve === undefined) return 0;
    let space: DiskSpace | null;
    try {
      space = this.options.freeSpace ? this.options.freeSpace() : diskSpace(this.dataDir);
    } catch {
      space = null;
    }
    if (!space || space.totalBytes <= 0) return 0;
    return Math.min(reserve, space.totalBytes / 10) + needed - space.freeBytes;
  }

  /** Deletes image files of one kind, oldest first, until `bytes` are freed or there are none left. */
  private async evict(kind: 'frame' | 'crop', bytes: number): Promise<{ count: number; bytes: number }> {
    const pick = this.db.prepare(
      kind === 'frame'
        ? `SELECT id, path, bytes FROM images WHERE kind = 'frame' AND evicted_at IS NULL ORDER BY id LIMIT 64`
        : `SELECT i.id, i.path, i.bytes FROM images i WHERE i.kind = 'crop' AND i.evicted_at IS NULL
             AND NOT EXISTS (SELECT 1 FROM hold_reads hr JOIN holds h ON h.id = hr.hold_id WHERE hr.read_id = i.read_id AND h.released_at IS NULL)
           ORDER BY i.synced_at IS NULL, i.id LIMIT 64`,
    );
    const mark = this.db.prepare('UPDATE images SET evicted_at = ? WHERE id = ?');
    const markAll = (ids: number[], now: number) =>
      this.db.transaction(() => {
        for (const id of ids) mark.run(now, id);
      })();
    let freed = 0;
    let count = 0;
    // files deleted before their rows could be marked (below): marked first, or nothing more is done now
    if (this.unmarked.size > 0) {
      try {
        markAll([...this.unmarked], this.clock());
        this.unmarked.clear();
      } catch {
        return { count, bytes: freed };
      }
    }
    while (freed < bytes) {
      const victims = pick.all() as Array<{ id: number; path: string; bytes: number }>;
      if (victims.length === 0) break;
      const now = this.clock();
      const batch: typeof victims = [];
      for (const v of victims) {
        if (freed >= bytes) break;
        batch.push(v);
        freed += v.bytes;
      }
      // The rows are marked first (one commit): a crash after it leaves stray files, never a row pointing at nothing.
      try {
        markAll(batch.map((v) => v.id), now);
      } catch (err) {
        if (!isFull(err)) throw err;
        // A disk full to the last byte refuses even the marks: the files go first, then the marks are tried again
        // (kept in memory until the database takes them). Until then a row may point at a deleted file, which
        // readers take as evicted (sync skips it, readImage says so).
        for (const v of batch) await unlink(path.join(this.imagesDir, v.path)).catch(() => undefined);
        try {
          markAll(batch.map((v) => v.id), now);
        } catch {
          for (const v of batch) this.unmarked.add(v.id);
        }
        for (const v of batch) this.bytes -= v.bytes;
        count += batch.length;
        if (this.unmarked.size > 0) break;
        continue;
      }
      for (const v of batch) {
        this.bytes -= v.bytes;
        count++;
        await unlink(path.join(this.imagesDir, v.path)).catch(() => undefined);
      }
    }
    return { count, bytes: freed };
  }
}

function diskSpace(dir: string): DiskSpace {
  const s = statfsSync(dir);
  return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
}

/** The database or a file write refused for want of space. */
function isFull(err: unknown): boolean {
  return (err as { code?: string } | undefined)?.code === 'SQLITE_FULL' || isNoSpace(err);
}

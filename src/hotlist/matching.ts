import type Database from 'better-sqlite3';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../util/clock.js';
import { HotlistMatcher, type Hit, type ReadTexts } from './matcher.js';
import { toChange, toListInfo, type ChangeRow, type ListRow } from './rows.js';
import { SegmentBuilder, type ListInfo, type Segment } from './segment.js';
import type { HotlistChange } from './types.js';

/**
 * The hot lists in memory: every list loaded from the database into the matcher, kept up to date by following
 * the change journal (`hotlist_changes`), which is also how a change made by another process reaches the unit.
 */
export class HotlistMatching {
  readonly matcher = new HotlistMatcher();
  private loaded = false;
  private lastChange: number;
  private readonly segments = new Map<number, { info: ListInfo; imported: Segment | null; manual: Segment | null }>();

  /** `applied` hears of the changes that `sync` applied to lists in memory. */
  constructor(
    private readonly db: Database.Database,
    private readonly clock: Clock,
    private readonly log: Logger | undefined,
    private readonly applied: (changes: HotlistChange[]) => void,
  ) {
    this.lastChange = this.maxChangeId();
  }

  /** Loads the lists unless they are loaded already. */
  ensureLoaded(): void {
    if (!this.loaded) this.load();
  }

  /** Loads (or reloads) every list from the database into the matcher. */
  load(): void {
    // read only, one snapshot: deferred, so it never waits for a writer (an import in the worker thread)
    this.db.transaction(() => {
      this.lastChange = this.maxChangeId();
      const ids = (this.db.prepare('SELECT id FROM hotlists').all() as Array<{ id: number }>).map((r) => r.id);
      for (const id of [...this.segments.keys()]) if (!ids.includes(id)) this.dropList(id);
      for (const id of ids) this.loadList(id, 'all');
    }).deferred();
    this.loaded = true;
  }

  /** The entries a read matches, most urgent first (synchronous, in memory; [] for most reads). */
  match(read: ReadTexts): Hit[] {
    this.ensureLoaded();
    return this.matcher.match(read, this.clock());
  }

  /**
   * Applies the changes made since the last call (by this process or another) to the lists in memory, and tells
   * `applied` of them.
   */
  sync(): HotlistChange[] {
    const rows = this.db
      .prepare('SELECT id, at, user_name, action, list_id, list_name, entry_id FROM hotlist_changes WHERE id > ? ORDER BY id')
      .all(this.lastChange) as Array<Pick<ChangeRow, 'id' | 'at' | 'user_name' | 'action' | 'list_id' | 'list_name' | 'entry_id'>>;
    if (rows.length === 0) return [];
    this.lastChange = rows[rows.length - 1]!.id;
    const changes = rows.map(toChange);
    if (!this.loaded) return changes; // loading later reads the lists as they are then
    const whole = new Set<number>();
    const manual = new Set<number>();
    for (const c of changes) {
      if (c.listId === null) continue;
      if (c.action === 'cancel') {
        if (c.entryId !== null) this.matcher.kill(c.entryId);
      } else if (c.action === 'add' || c.action === 'purge-entries') manual.add(c.listId);
      else if (c.action !== 'import-rejected') whole.add(c.listId);
    }
    for (const id of whole) this.loadList(id, 'all');
    for (const id of manual) if (!whole.has(id)) this.loadList(id, 'manual');
    this.applied(changes);
    return changes;
  }

  private maxChangeId(): number {
    return (this.db.prepare('SELECT coalesce(max(id), 0) AS id FROM hotlist_changes').get() as { id: number }).id;
  }

  private dropList(id: number): void {
    this.segments.delete(id);
    this.matcher.removeList(id);
  }

  /** Reads a list (all of it, or only its manual entries) from the database into the matcher. */
  private loadList(id: number, what: 'all' | 'manual'): void {
    const row = this.db.prepare('SELECT * FROM hotlists WHERE id = ?').get(id) as ListRow | undefined;
    if (!row) {
      this.dropList(id);
      return;
    }
    let current = this.segments.get(id);
    const info = toListInfo(row);
    if (current && what === 'manual') Object.assign(current.info, info);
    if (!current || what === 'all') {
      current = { info, imported: null, manual: null };
      if (row.version_id !== null) {
        const expected = (this.db.prepare('SELECT entries FROM hotlist_versions WHERE id = ?').get(row.version_id) as { entries: number } | undefined)?.entries;
        current.imported = this.buildSegment(
          info,
          this.db.prepare(
            'SELECT id, plate, state, code, expires_at FROM hotlist_entries WHERE list_id = ? AND version_id = ? AND cancelled_at IS NULL ORDER BY id',
          ),
          [id, row.version_id],
          expected ?? 64,
        );
        if (current.imported.warning) this.log?.warn({ list: row.name }, current.imported.warning);
      }
    }
    current.manual = this.buildSegment(
      current.info,
      this.db.prepare(
        `SELECT id, plate, state, code, expires_at FROM hotlist_entries
         WHERE list_id = ? AND version_id IS NULL AND cancelled_at IS NULL AND (expires_at IS NULL OR expires_at > ?) ORDER BY id`,
      ),
      [id, this.clock()],
      64,
    );
    this.segments.set(id, current);
    this.matcher.setList(id, [current.imported, current.manual].filter((s): s is Segment => s !== null && s.n > 0));
  }

  private buildSegment(info: ListInfo, stmt: Database.Statement, params: unknown[], capacity: number): Segment {
    const b = new SegmentBuilder(capacity);
    for (const r of stmt.raw(true).iterate(...params) as IterableIterator<[number, string, string | null, string | null, number | null]>) {
      b.add(r[0], r[1], r[2], r[3], r[4]);
    }
    return b.build(info);
  }
}

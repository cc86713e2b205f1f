import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { rowMap } from '../src/util/rows.js';

interface Thing {
  id: number;
  unitId: string;
  closed: boolean;
  box: { w: number } | null;
  deleted: boolean;
  label: string;
  tags: string[];
}

describe('rowMap: a table row to an object, declared once', () => {
  const THING = rowMap<Thing>()(
    `id unit_id closed:bool box:json deleted=deleted_at:nonnull
     label tags`,
    { label: (r) => `#${String(r.id)}`, tags: (r) => String(r.tag_list).split(',') },
  );

  it('converts a row as SQLite gives it, fields in the order declared (derived ones where named)', () => {
    const db = new Database(':memory:');
    db.exec(`CREATE TABLE things (id INTEGER PRIMARY KEY, unit_id TEXT, closed INTEGER, box TEXT, deleted_at INTEGER, tag_list TEXT);
      INSERT INTO things VALUES (1, 'u-1', 1, '{"w":3}', NULL, 'a,b'), (2, 'u-2', 0, NULL, 123, 'c')`);
    const rows = db.prepare(`SELECT ${THING.columns('t')}, t.tag_list FROM things t ORDER BY t.id`).all() as object[];
    const things = rows.map(THING.toObject);
    expect(things).toEqual([
      { id: 1, unitId: 'u-1', closed: true, box: { w: 3 }, deleted: false, label: '#1', tags: ['a', 'b'] },
      { id: 2, unitId: 'u-2', closed: false, box: null, deleted: true, label: '#2', tags: ['c'] },
    ]);
    expect(Object.keys(things[0]!)).toEqual(['id', 'unitId', 'closed', 'box', 'deleted', 'label', 'tags']);
    db.close();
  });

  it('gives the columns it reads as a SELECT list, with or without an alias', () => {
    expect(THING.columns()).toBe('id, unit_id, closed, box, deleted_at');
    expect(THING.columns('t')).toBe('t.id, t.unit_id, t.closed, t.box, t.deleted_at');
    // a column read into two fields is selected once
    expect(rowMap<{ key: string; uuid: string }>()('key=uuid uuid').columns('r')).toBe('r.uuid');
  });

  it('puts derived fields not named among the columns last', () => {
    const m = rowMap<{ a: number; b: number }>()('a', { b: (r) => Number(r.a) + 1 });
    expect(Object.entries(m.toObject({ a: 1 }))).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
  });

  it('refuses a malformed column or an unknown kind when declared', () => {
    expect(() => rowMap<{ a: number }>()('a:maybe' as 'a')).toThrow(/unknown kind in "a:maybe"/);
    expect(() => rowMap<{ a: number }>()('a.b' as 'a')).toThrow(/bad column "a.b"/);
  });
});

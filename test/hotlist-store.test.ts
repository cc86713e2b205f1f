import { systemClock } from '../src/util/clock.js';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newRead } from './helpers.js';
import { parseConfig } from '../src/config/load.js';
import type { HotlistsConfig } from '../src/config/schema.js';
import { NO_POSITION } from '../src/gps/types.js';
import { Hotlists, HotlistError, HotlistImportError, type StoredHit } from '../src/hotlist/index.js';
import { ReadStore, type NewRead } from '../src/store/read-store.js';

/**
 * Hot lists in a real SQLite file (the read store's, migration 2): imports that replace a list atomically or not
 * at all, manual entries, cancellation, expiry, hits, and two instances on one database standing for the unit
 * and an `alpr-edge hotlist` command in another process.
 */

const FIX = path.join(import.meta.dirname, '..', 'test-fixtures', 'hotlists');
const CONFIG = `
hotlists:
  lists:
    - name: ncic
      format: ncic
      priority: 2
      states: [CA, NV, AZ, TX]
    - name: stolen-csv
      format: csv
      match: exact
      columns: { plate: Plate, state: State, reason: Reason, caseNumber: Case }
    - name: partials
      format: manual
      priority: 1
    - name: daily
      format: lines
      retentionDays: 1
`;

let dir: string;
let store: ReadStore;
let clock: number;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'alpr-hotlist-'));
  store = ReadStore.open(dir, { clock: systemClock, imageBudgetBytes: 100e6 });
  clock = Date.now();
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function config(extra = ''): HotlistsConfig {
  return parseConfig(CONFIG + extra, 'test.yaml').hotlists;
}

function open(opts: { recheckOnChange?: boolean; extra?: string } = {}): Hotlists {
  return Hotlists.open(store.database, { config: config(opts.extra), clock: () => clock, recheckOnChange: opts.recheckOnChange });
}

const fixture = (name: string) => path.join(FIX, name);
const hitPlates = (h: Hotlists, plate: string, candidates: string[] = []) =>
  h.match({ plate, candidates: candidates.map((text) => ({ text })) }).map((x) => `${x.list}:${x.plate}:${x.how}`);
const count = (sql: string, ...params: unknown[]) => (store.database.prepare(sql).get(...params) as { n: number }).n;

let seq = 0;
/** A read (test/helpers.ts) of `plate` with these OCR candidates, without a position or a frame. */
const readOf = (plate: string, firstSeen: number, candidates: string[] = [plate]): NewRead =>
  newRead(++seq, { plate, firstSeen, candidates: candidates.map((text) => ({ text, confidence: 80 })), position: NO_POSITION, frame: undefined });

describe('importing a list', () => {
  it('imports an NCIC extract: junk plates and states off the allow-list left out, every other record matches', () => {
    const h = open();
    const r = h.importFile(fixture('ncic-extract.txt'), { list: 'ncic', user: 'tech1' });
    expect(r).toMatchObject({ status: 'imported', entries: 5, skipped: { junk: 1, state: 1 }, replacedVersionId: null });
    expect(hitPlates(h, '7ABC123')).toEqual(['ncic:7ABC123:exact']);
    expect(hitPlates(h, 'ABC1234')).toEqual(['ncic:ABC1234:exact']);
    expect(hitPlates(h, '000')).toEqual([]); // junk
    expect(hitPlates(h, '6TRK9O2')).toEqual([]); // OR: not on the allow-list
    const hit = h.match({ plate: '4GHJ552' })[0]!;
    expect(hit).toMatchObject({ code: 'A', state: 'AZ', priority: 2, category: 'NCIC' });
    const [list] = h.lists();
    expect(list).toMatchObject({ name: 'ncic', format: 'ncic', entries: 5, priority: 2, policy: 'equivalent' });
    expect(list!.version).toMatchObject({ id: r.versionId, importedBy: 'tech1', checksum: expect.stringMatching(/^[0-9a-f]{64}$/) });
    // the entry keeps what the file said of the vehicle, for the alert
    expect(h.entry(hit.entryId)).toMatchObject({ reason: 'Amber alert', details: { make: 'FORD', colour: 'RED/BLK' }, line: 4 });
  });

  it('re-importing an unchanged file reads nothing; a changed file replaces the version and its rows', () => {
    const h = open();
    const file = path.join(dir, 'extract.txt');
    copyFileSync(fixture('ncic-extract.txt'), file);
    const first = h.importFile(file, { list: 'ncic', user: 'tech1' });
    const again = h.importFile(file, { list: 'ncic', user: 'tech1' });
    expect(again).toMatchObject({ status: 'unchanged', versionId: first.versionId, entries: 5 });
    expect(count('SELECT count(*) AS n FROM hotlist_versions')).toBe(1);
    writeFileSync(file, readFileSync(file, 'utf8').replace('7ABC123', '7ABC999'));
    const second = h.importFile(file, { list: 'ncic', user: 'tech1' });
    expect(second).toMatchObject({ status: 'imported', entries: 5, replacedVersionId: first.versionId });
    expect(hitPlates(h, '7ABC123')).toEqual([]);
    expect(hitPlates(h, '7ABC999')).toEqual(['ncic:7ABC999:exact']);
    expect(count('SELECT count(*) AS n FROM hotlist_entries')).toBe(5);
  });

  it('a broken file is rejected as a whole with its problem lines; the list in use stays, here and in the unit', () => {
    const cli = open();
    const unit = open();
    const good = cli.importFile(fixture('ncic-extract.txt'), { list: 'ncic', user: 'tech1' });
    unit.load();
    let err: unknown;
    try {
      cli.importFile(fixture('broken/ncic-bad-lines.txt'), { list: 'ncic', user: 'tech1' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HotlistImportError);
    const e = err as HotlistImportError;
    expect([...new Set(e.problems.map((p) => p.line))]).toEqual([2, 3, 4, 5, 6, 7]);
    expect(e.message).toMatch(/ncic-bad-lines.txt was rejected \(7 problem\(s\)\); list ncic is unchanged/);
    for (const h of [cli, unit]) {
      h.sync();
      expect(hitPlates(h, '7ABC123')).toEqual(['ncic:7ABC123:exact']);
      expect(hitPlates(h, '5KDW837')).toEqual(['ncic:5KDW837:exact']);
    }
    expect(cli.lists()[0]!.version!.id).toBe(good.versionId);
    // no row of the rejected version is left; the rejection is on record
    expect(count('SELECT count(*) AS n FROM hotlist_entries')).toBe(5);
    expect(cli.changes().map((c) => c.action)).toEqual(['import', 'import-rejected']);
  });

  it('a truncated or empty download never creates or empties a list', () => {
    const h = open();
    expect(() => h.importFile(fixture('broken/clew-truncated/slr.tbl'), { list: 'clew-slr', format: 'ca-doj', user: 't' })).toThrow(HotlistImportError);
    expect(h.lists()).toEqual([]);
    h.importFile(fixture('plates.txt'), { list: 'daily', user: 't' });
    expect(() => h.importFile(fixture('broken/empty.txt'), { list: 'daily', user: 't' })).toThrow(/rejected/);
    expect(() => h.importFile(fixture('broken/plates-latin1.txt'), { list: 'daily', user: 't' })).toThrow(/rejected/);
    expect(() => h.importFile(fixture('broken/binary.bin'), { list: 'daily', user: 't' })).toThrow(/rejected/);
    expect(() => h.importFile(fixture('broken/plates-bad.txt'), { list: 'daily', user: 't' })).toThrow(/rejected \(3 problem/);
    expect(h.lists()[0]).toMatchObject({ name: 'daily', entries: 4 });
    expect(hitPlates(h, '5KDW837')).toEqual(['daily:5KDW837:exact']);
  });

  it('CLEW files and a CSV mapped in the config; an exact list ignores OCR-equivalent reads', () => {
    const h = open();
    expect(h.importFile(fixture('svs.tbl'), { list: 'clew-svs', format: 'ca-doj', user: 't' })).toMatchObject({ entries: 3 });
    expect(h.importFile(fixture('slr.tbl'), { list: 'clew-slr', format: 'ca-doj', user: 't' })).toMatchObject({ entries: 2, skipped: { junk: 1 } });
    expect(h.importFile(fixture('stolen.csv'), { list: 'stolen-csv', user: 't' })).toMatchObject({ entries: 3 });
    expect(h.lists().map((l) => [l.name, l.category])).toEqual([
      ['clew-slr', 'stolen plate'],
      ['clew-svs', 'stolen vehicle'],
      ['stolen-csv', 'stolen-csv'],
    ]);
    expect(hitPlates(h, '5KDW837')).toEqual(['clew-svs:5KDW837:exact', 'stolen-csv:5KDW837:exact']);
    expect(hitPlates(h, '5KDW831')).toEqual([]); // 1 and 7 are not OCR-equivalent
    expect(hitPlates(h, '7A8C123')).toEqual(['clew-svs:7ABC123:equivalent']); // the CSV list is exact
    const csvHit = h.match({ plate: '5KDW837' }).find((x) => x.list === 'stolen-csv')!;
    expect(h.entry(csvHit.entryId)).toMatchObject({ reason: 'felony vehicle, armed', caseNumber: '26-000456' });
  });

  it('a list not in the config needs --format', () => {
    const h = open();
    expect(() => h.importFile(fixture('plates.txt'), { list: 'unknown', user: 't' })).toThrow(/not in hotlists.lists.*give its --format/);
    expect(() => h.importFile(fixture('plates.txt'), { list: 'partials', user: 't' })).toThrow(/manual entries only/);
  });
});

describe('manual entries', () => {
  it('a partial plate with a reason, case and user matches at once; cancelling it stops it at once', () => {
    const h = open();
    const e = h.addEntry({ list: 'partials', plate: '7ab?12*', reason: 'armed robbery, witness partial', caseNumber: '26-004512', user: 'sgt.lopez' });
    expect(e).toMatchObject({ plate: '7AB?12*', origin: 'manual', addedBy: 'sgt.lopez', caseNumber: '26-004512', expiresAt: clock + 30 * 86_400_000 });
    expect(hitPlates(h, '7ABX12')).toEqual(['partials:7AB?12*:wildcard']);
    expect(hitPlates(h, '7A8X129')).toEqual(['partials:7AB?12*:wildcard']);
    const c = h.cancelEntry(e.id, { user: 'sgt.lopez', reason: 'vehicle recovered' });
    expect(c).toMatchObject({ cancelledBy: 'sgt.lopez', cancelReason: 'vehicle recovered' });
    expect(hitPlates(h, '7ABX12')).toEqual([]);
    expect(() => h.cancelEntry(e.id, { user: 'x', reason: 'y' })).toThrow(/already cancelled/);
    expect(() => h.cancelEntry(9999, { user: 'x', reason: 'y' })).toThrow(/no hot list entry #9999/);
    expect(h.changes().map((x) => [x.action, x.user, x.plate])).toEqual([
      ['list', 'sgt.lopez', null],
      ['add', 'sgt.lopez', '7AB?12*'],
      ['cancel', 'sgt.lopez', '7AB?12*'],
    ]);
  });

  it('the unit picks up an entry added and then cancelled by another process', () => {
    const unit = open();
    unit.load();
    const cli = open();
    const e = cli.addEntry({ list: 'partials', plate: '4GHJ552', reason: 'Amber alert', caseNumber: '26-1', user: 'disp' });
    expect(hitPlates(unit, '4GHJ552')).toEqual([]); // not yet picked up
    expect(unit.sync().map((c) => c.action)).toEqual(['list', 'add']);
    expect(hitPlates(unit, '4GHJ552')).toEqual(['partials:4GHJ552:exact']);
    cli.cancelEntry(e.id, { user: 'disp', reason: 'entered in error' });
    unit.sync();
    expect(hitPlates(unit, '4GHJ552')).toEqual([]);
  });

  it('refuses an entry without reason or case number, a bad plate, a past expiry, or too many partial plates', () => {
    const h = open({ extra: '  maxWildcardEntries: 1\n' });
    const base = { list: 'partials', plate: '7ABC123', reason: 'r', caseNumber: 'c', user: 'u' };
    expect(() => h.addEntry({ ...base, reason: ' ' })).toThrow(/needs a reason/);
    expect(() => h.addEntry({ ...base, caseNumber: '' })).toThrow(/needs a case number/);
    expect(() => h.addEntry({ ...base, plate: '7A*' })).toThrow(HotlistError);
    expect(() => h.addEntry({ ...base, expiresAt: clock - 1 })).toThrow(/not in the future/);
    h.addEntry({ ...base, plate: '7AB*' });
    expect(() => h.addEntry({ ...base, plate: '8CD*' })).toThrow(/already 1 partial plates/);
  });

  it('a cancelled imported want stays cancelled when the next file still holds it', () => {
    const h = open();
    const file = path.join(dir, 'extract.txt');
    copyFileSync(fixture('ncic-extract.txt'), file);
    h.importFile(file, { list: 'ncic', user: 't' });
    const hit = h.match({ plate: '7ABC123' })[0]!;
    h.cancelEntry(hit.entryId, { user: 'clerk', reason: 'recovered; NCIC entry not yet cleared' });
    writeFileSync(file, readFileSync(file, 'utf8').replace('5KDW837', '5KDW838'));
    const r = h.importFile(file, { list: 'ncic', user: 't' });
    expect(r).toMatchObject({ status: 'imported', keptCancelled: 1 });
    expect(hitPlates(h, '7ABC123')).toEqual([]);
    expect(hitPlates(h, '5KDW838')).toEqual(['ncic:5KDW838:exact']);
    expect(h.lists()[0]).toMatchObject({ entries: 5, cancelled: 1 });
  });
});

describe('retention', () => {
  it('expired manual entries stop matching, and the purge deletes them; an expired list is deleted whole', () => {
    const h = open();
    h.addEntry({ list: 'partials', plate: '5KDW837', reason: 'r', caseNumber: 'c', user: 'u', expiresAt: clock + 60_000 });
    h.importFile(fixture('plates.txt'), { list: 'daily', user: 't' }); // retentionDays: 1
    expect(hitPlates(h, '5KDW837')).toEqual(['partials:5KDW837:exact', 'daily:5KDW837:exact']);
    clock += 61_000;
    expect(hitPlates(h, '5KDW837')).toEqual(['daily:5KDW837:exact']);
    expect(h.purgeExpired('admin')).toEqual({ lists: [], entries: 1, leftovers: 0 });
    expect(count("SELECT count(*) AS n FROM hotlist_entries WHERE origin = 'manual'")).toBe(0);
    clock += 86_400_000;
    expect(hitPlates(h, '5KDW837')).toEqual([]); // expired before any purge
    expect(h.purgeExpired('admin')).toMatchObject({ lists: ['daily'] });
    expect(h.lists().map((l) => l.name)).toEqual(['partials']);
    expect(count('SELECT count(*) AS n FROM hotlist_entries')).toBe(0);
    expect(h.changes().filter((c) => c.action.startsWith('purge')).map((c) => [c.action, c.listName, c.user])).toEqual([
      ['purge-entries', 'partials', 'admin'],
      ['purge-list', 'daily', 'admin'],
    ]);
  });
});

describe('hits and recent reads', () => {
  it('a hit is recorded once per read and list entry, however often the read is matched', async () => {
    const h = open();
    h.importFile(fixture('ncic-extract.txt'), { list: 'ncic', user: 't' });
    const read = await store.insertRead(readOf('7A8C123', clock, ['7A8C123', '7ABC123']));
    const first = h.recordHits(read.id, h.match(read));
    expect(first).toMatchObject([{ readId: read.id, plate: '7ABC123', how: 'exact', text: '7ABC123', candidate: 2, reason: 'stolen vehicle' }]);
    expect(h.recordHits(read.id, h.match(read))).toEqual([]);
    expect(h.hitsOf(read.id)).toMatchObject([{ id: first[0]!.id, list: 'ncic', how: 'exact', reason: 'stolen vehicle' }]);
  });

  it('a partial plate entered after a crime finds the car read earlier within the window, once', async () => {
    const unit = open({ recheckOnChange: true });
    unit.start();
    try {
      const recent = await store.insertRead(readOf('7ABX129', clock - 30 * 60_000));
      await store.insertRead(readOf('7ABY128', clock - 3 * 3600_000)); // outside the 120-minute window
      await store.insertRead(readOf('5KDW837', clock - 10 * 60_000));
      const seen: StoredHit[][] = [];
      unit.on('hits', (hits) => seen.push(hits));
      const cli = open();
      cli.addEntry({ list: 'partials', plate: '7AB?12*', reason: 'robbery', caseNumber: '26-7', user: 'det' });
      unit.sync();
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject([{ readId: recent.id, plate: '7AB?12*', how: 'wildcard', list: 'partials', priority: 1, caseNumber: '26-7' }]);
      // an unrelated later change finds nothing new to alert on
      cli.addEntry({ list: 'partials', plate: '9ZZZ999', reason: 'r', caseNumber: 'c', user: 'det' });
      unit.sync();
      expect(seen).toHaveLength(1);
      expect(unit.checkRecent(clock - 86_400_000)).toMatchObject([{ plate: '7AB?12*' }]); // the older read, now checked too
    } finally {
      unit.stop();
    }
  });
});

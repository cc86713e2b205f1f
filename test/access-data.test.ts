import { systemClock } from '../src/util/clock.js';
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newRead } from './helpers.js';
import { AccessLog, PurposeError } from '../src/access/access-log.js';
import { DataAccess, hitHistory } from '../src/access/data.js';
import { Releases } from '../src/access/releases.js';
import { auditReport, reportCsv } from '../src/access/report.js';
import { AccessDenied, type Principal, type Role } from '../src/access/roles.js';
import { ReadStore } from '../src/store/read-store.js';

/** Each rule of who may see stored reads, tried against the code that enforces it, with the access log checked. */

let dir: string;
let store: ReadStore;
let log: AccessLog;
const key = Buffer.alloc(32, 7);
const who = (user: string, role: Role): Principal => ({ user, agency: 'ESPD', role, sessionId: `s-${user}` });
const good = { purpose: 'burglary suspect vehicle', caseNumber: '26-004512' };

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'alpr-access-'));
  store = ReadStore.open(dir, { clock: systemClock, imageBudgetBytes: 1e8 });
  log = new AccessLog(store.database, key, systemClock);
  const t0 = Date.UTC(2026, 10, 20, 12);
  for (const [i, plate, cam, lat] of [[1, '7ABC123', 'front', 33.9164], [2, '7ABC124', 'rear', 33.9200], [3, '5XYZ987', 'front', 34.5]] as const) {
    await store.insertRead(
      newRead(i, {
        uuid: `r${i}`, unitId: 'car-12', cameraId: cam, plate, firstSeen: t0 + i * 60_000, frame: undefined,
        position: { latitude: lat, longitude: -118.4041, valid: true, speedKmh: 0, headingDeg: 0, fixTime: t0, source: 'gps' },
        crop: { bytes: Buffer.from(`crop-${plate}`), format: 'jpeg' },
      }),
    );
  }
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('access to stored reads', () => {
  it('a data user searches by partial plate, time and place, with a purpose; the access is logged with what came back', () => {
    const data = new DataAccess(store.database, log);
    const found = data.search(who('dana', 'data-user'), good, { plate: '7ABC12?' });
    expect(found.map((r) => r.plate).sort()).toEqual(['7ABC123', '7ABC124']);
    const near = data.search(who('dana', 'data-user'), good, { near: { latitude: 33.9164, longitude: -118.4041, radiusM: 100 } });
    expect(near.map((r) => r.plate)).toEqual(['7ABC123']);
    const rows = log.list();
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ user: 'dana', action: 'search', purpose: good.purpose, caseNumber: good.caseNumber, query: { plate: '7ABC12?' }, outcome: 'ok' });
    expect((rows[0]!.result as { count: number; ids: number[] }).count).toBe(2);
  });

  it('an officer cannot search history, a technician cannot see an image; both refusals are logged', () => {
    const data = new DataAccess(store.database, log);
    expect(() => data.search(who('olly', 'officer'), good, { plate: '7ABC123' })).toThrow(AccessDenied);
    expect(() => data.show(who('tech', 'technician'), good, 1, { images: true })).toThrow(/role technician may not/);
    expect(() => data.search(who('audrey', 'auditor'), good, { plate: '7ABC123' })).toThrow(AccessDenied);
    const refused = log.list().filter((r) => r.outcome === 'refused');
    expect(refused.map((r) => r.user)).toEqual(['olly', 'tech', 'audrey']);
  });

  it('"investigation" alone, or no case number, is refused with a clear message, and logged', () => {
    const data = new DataAccess(store.database, log);
    const dana = who('dana', 'data-user');
    expect(() => data.search(dana, { purpose: 'investigation', caseNumber: '26-1' }, { plate: '7ABC123' })).toThrow(/not a specific purpose/);
    expect(() => data.search(dana, { purpose: 'stolen car' }, { plate: '7ABC123' })).toThrow(PurposeError);
    expect(() => data.search(dana, { purpose: 'stolen car', caseNumber: 'none' }, { plate: '7ABC123' })).toThrow(/case or incident number/);
    expect(log.list().filter((r) => r.outcome === 'refused')).toHaveLength(3);
  });

  it('the access log is append-only and tamper-evident: edits, deletions and forged rows are detected', () => {
    const data = new DataAccess(store.database, log);
    for (let i = 0; i < 5; i++) data.search(who('dana', 'data-user'), good, { plate: '7ABC123' });
    expect(log.verify()).toMatchObject({ ok: true, checked: 5 });
    expect(() => store.database.prepare(`UPDATE access_log SET user_name = 'someone' WHERE id = 2`).run()).toThrow(/append-only/);
    expect(() => store.database.prepare('DELETE FROM access_log WHERE id = 3').run()).toThrow(/append-only/);
    // someone with the sqlite3 tool drops the triggers and edits a row, then deletes another
    const raw = new Database(store.dbPath);
    raw.exec('DROP TRIGGER access_log_no_update; DROP TRIGGER access_log_no_delete;');
    raw.prepare(`UPDATE access_log SET purpose = 'routine' WHERE id = 2`).run();
    raw.prepare('DELETE FROM access_log WHERE id = 4').run();
    raw.close();
    const v = log.verify();
    expect(v.ok).toBe(false);
    expect(v.problems.map((p) => p.id)).toEqual(expect.arrayContaining([2, 5]));
    expect(v.problems.find((p) => p.id === 2)!.problem).toMatch(/changed/);
    expect(v.problems.find((p) => p.id === 5)!.problem).toMatch(/record #4 is missing between #3 and #5/);
  });

  it('several processes appending at once (the unit and technicians\' commands): every record is kept, the chain verifies', async () => {
    const lib = path.join(import.meta.dirname, '..', 'dist', 'src', 'access', 'access-log.js');
    const script = `
      import Database from 'better-sqlite3';
      import { AccessLog } from ${JSON.stringify(lib)};
      import { systemClock } from ${JSON.stringify(path.join(path.dirname(lib), '..', 'util', 'clock.js'))};
      const db = new Database(process.argv[1]);
      db.pragma('busy_timeout = 10000');
      const log = new AccessLog(db, Buffer.alloc(32, 7), systemClock);
      for (let i = 0; i < 300; i++) log.append({ user: 'proc-' + process.argv[2], agency: 'ESPD', role: 'system', action: 'test', outcome: 'ok' });
      db.close();`;
    const children = [1, 2, 3].map((n) =>
      spawn(process.execPath, ['--input-type=module', '-e', script, store.dbPath, String(n)], { stdio: ['ignore', 'ignore', 'pipe'], cwd: path.join(import.meta.dirname, '..') }),
    );
    const errors: string[] = [];
    for (const c of children) c.stderr!.on('data', (d: Buffer) => errors.push(d.toString()));
    const exits = children.map((c) => new Promise<number | null>((r) => c.on('exit', r)));
    // this process appends meanwhile, outside any transaction too
    for (let i = 0; i < 300; i++) {
      log.append({ user: 'proc-0', agency: 'ESPD', role: 'system', action: 'test', outcome: 'ok' });
      if (i % 50 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    expect(await Promise.all(exits), errors.join('\n')).toEqual([0, 0, 0]);
    expect(log.list().filter((r) => r.action === 'test')).toHaveLength(1200);
    expect(log.verify()).toMatchObject({ ok: true, checked: 1200 });
  });

  it('a long search (a partial plate over 250,000 reads) does not hold up the unit storing reads meanwhile; it is logged', async () => {
    // grow the store to 262,144 reads with random plates (raw SQL: what months on a pole leave)
    const db = store.database;
    const cols = (db.prepare('PRAGMA table_info(reads)').all() as Array<{ name: string }>).map((c) => c.name).filter((c) => c !== 'id' && c !== 'sync_seq');
    const pick = (c: string) =>
      c === 'uuid'
        ? 'lower(hex(randomblob(16)))'
        : c === 'plate'
          ? "printf('%d%s%04d', abs(random()) % 9, char(65 + abs(random()) % 26, 65 + abs(random()) % 26, 65 + abs(random()) % 26), abs(random()) % 10000)"
          : c;
    const grow = db.prepare(`INSERT INTO reads (${cols.join(',')}) SELECT ${cols.map(pick).join(',')} FROM reads`);
    while ((db.prepare('SELECT count(*) AS n FROM reads').get() as { n: number }).n < 250_000) grow.run();
    const lib = (name: string) => JSON.stringify(path.join(import.meta.dirname, '..', 'dist', 'src', ...name.split('/')));
    const script = `
      import Database from 'better-sqlite3';
      import { AccessLog } from ${lib('access/access-log.js')};
      import { DataAccess } from ${lib('access/data.js')};
      import { ReadStore } from ${lib('store/read-store.js')};
      import { systemClock } from ${lib('util/clock.js')};
      const store = ReadStore.open(process.argv[1], { clock: systemClock, imageBudgetBytes: 1e8 });
      const data = new DataAccess(store.database, new AccessLog(store.database, Buffer.alloc(32, 7), systemClock));
      const who = { user: 'dana', agency: 'ESPD', role: 'data-user', sessionId: 's-dana' };
      for (let i = 0; i < 3; i++) data.search(who, { purpose: 'burglary suspect vehicle', caseNumber: '26-004512' }, { plate: '*BC12*' });
      store.close();`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, dir], { stdio: ['ignore', 'ignore', 'pipe'], cwd: path.join(import.meta.dirname, '..') });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    let finished = false;
    void exited.then(() => (finished = true));
    // the unit meanwhile: a write every 20 ms, giving up after 150 ms of waiting for the lock (each search takes
    // several times that; the access-log record a search appends holds the lock for about a millisecond)
    db.pragma('busy_timeout = 150');
    const touch = db.prepare("UPDATE sync_counters SET value = value WHERE name = 'reads'");
    const refused: string[] = [];
    let writes = 0;
    while (!finished) {
      try {
        db.transaction(() => touch.run())();
        writes++;
      } catch (err) {
        refused.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await exited, stderr).toBe(0);
    expect(refused).toEqual([]);
    expect(writes).toBeGreaterThan(10);
    const logged = log.list().filter((r) => r.action === 'search' && r.user === 'dana');
    expect(logged).toHaveLength(3);
    expect(log.verify().ok).toBe(true);
  }, 60_000);

  it('purging old log rows keeps the rest verifiable', () => {
    const data = new DataAccess(store.database, log);
    for (let i = 0; i < 4; i++) data.search(who('dana', 'data-user'), good, { plate: '7ABC123' });
    const cut = log.list()[2]!.at;
    expect(log.purgeBefore(cut, { user: 'retention', agency: 'ESPD', role: 'system' })).toBeGreaterThanOrEqual(1);
    expect(log.verify().ok).toBe(true);
    data.search(who('dana', 'data-user'), good, { plate: '7ABC123' });
    expect(log.verify().ok).toBe(true);
  });
});

describe('the history of hot list hits', () => {
  it('is for data users with a purpose, never for officers; each query is logged', () => {
    store.database
      .prepare(
        `INSERT INTO hotlist_hits (read_id, list_id, list_name, entry_id, entry_plate, how, matched_text, candidate, category, priority, covert, created_at)
         VALUES (1, 1, 'stolen', 7, '7ABC123', 'exact', '7ABC123', 0, 'stolen vehicle', 2, 0, ?)`,
      )
      .run(Date.now());
    expect(() => hitHistory(store.database, log, who('olly', 'officer'), good, { plate: '7ABC*' })).toThrow(/may not see the history/);
    expect(() => hitHistory(store.database, log, who('dana', 'data-user'), { purpose: 'investigation', caseNumber: '26-1' }, {})).toThrow(PurposeError);
    const hits = hitHistory(store.database, log, who('dana', 'data-user'), good, { plate: '7ABC*' });
    expect(hits).toHaveLength(1);
    expect(hits[0]).toMatchObject({ plate: '7ABC123', list: 'stolen', how: 'exact', entryPlate: '7ABC123', alert: null });
    expect(log.list().map((r) => [r.user, r.action, r.outcome])).toEqual([
      ['olly', 'hits', 'refused'],
      ['dana', 'hits', 'refused'],
      ['dana', 'hits', 'ok'],
    ]);
  });
});

describe('releases to other agencies', () => {
  const image = (p: string) => readFile(store.imagePath(p));

  it('needs an approver other than the requester; then exports reads and images, recorded', async () => {
    const rel = new Releases(store.database, log);
    const dana = who('dana', 'data-user');
    const req = rel.request(dana, { mode: 'full', agency: 'Hawthorne PD', requester: 'Det. Ruiz', ...good, selector: { plate: '7ABC12*' } });
    await expect(rel.export(dana, req.id, path.join(dir, 'out'), image)).rejects.toThrow(/not approved/);
    expect(() => rel.approve(who('dana', 'admin'), req.id)).toThrow(/someone other than the user who requested it/);
    expect(() => rel.approve(who('olly', 'officer'), req.id)).toThrow(AccessDenied);
    rel.approve(who('ada', 'admin'), req.id);
    const out = await rel.export(dana, req.id, path.join(dir, 'out'), image);
    expect(out.reads).toBe(2);
    const json = JSON.parse(readFileSync(path.join(dir, 'out', 'release.json'), 'utf8')) as { data: Array<{ plate: string }> };
    expect(json.data.map((r) => r.plate).sort()).toEqual(['7ABC123', '7ABC124']);
    expect(out.files.filter((f) => f.endsWith('.jpg'))).toHaveLength(2);
    expect(rel.get(req.id)).toMatchObject({ approvedBy: 'ada', agency: 'Hawthorne PD', requester: 'Det. Ruiz', exportCount: 1, exportedBy: 'dana' });
    expect(rel.get(req.id)!.exportedAt).not.toBeNull();
  });

  /** `n` reads of distinct plates at `camera` on 2026-11-21, `plate` for one of them when given. */
  async function reads(n: number, camera: string, first: number, plate?: string): Promise<void> {
    const t0 = Date.UTC(2026, 10, 21, 9);
    for (let i = 0; i < n; i++) {
      const p = plate ?? `${camera.slice(0, 1).toUpperCase()}${String(first + i).padStart(6, '0')}`;
      await store.insertRead({
        uuid: `a-${camera}-${first + i}`, unitId: 'car-12', cameraId: camera, plate: p, confidence: 90, candidates: [], region: 'us',
        box: { x: 0, y: 0, width: 10, height: 10 }, firstSeen: t0 + (first + i) * 60_000, lastSeen: t0 + (first + i) * 60_000, bestSeen: t0 + (first + i) * 60_000,
        frameCount: 2, clockSource: 'system', position: { latitude: 33.9, longitude: -118.4, valid: true, speedKmh: 0, headingDeg: 0, fixTime: t0, source: 'gps' },
        closed: true, crop: { bytes: Buffer.from(`crop-${p}`), format: 'jpeg' },
      });
    }
  }

  it('an aggregate release selects no plate (refused at request, logged) and leaves out every cell of fewer vehicles than the threshold, saying so', async () => {
    // what the tester did: an aggregate release of one plate, which gave where and when that car was seen
    await reads(4, 'front', 0, '5KDW837');
    await reads(7, 'front', 10);
    await reads(3, 'rear', 20);
    const rel = new Releases(store.database, log);
    const dana = who('dana', 'data-user');
    const ask = { mode: 'aggregate' as const, agency: 'City of Calabasas', requester: 'Traffic study', purpose: 'traffic counts per camera', caseNumber: 'REQ-2026-17' };
    expect(() => rel.request(dana, { ...ask, selector: { plate: '5KDW837' } })).toThrow(/aggregate release cannot select a plate/);
    expect(log.list().at(-1)).toMatchObject({ user: 'dana', action: 'release-request', outcome: 'refused' });
    expect(rel.list()).toHaveLength(0);

    const req = rel.request(dana, { ...ask, selector: { from: Date.UTC(2026, 10, 21, 9, 30), to: Date.UTC(2026, 10, 21, 10) } });
    // widened to whole days, the cells' size
    expect(req.selector).toEqual({ from: Date.UTC(2026, 10, 21), to: Date.UTC(2026, 10, 22) });
    const shown = rel.show(who('ada', 'admin'), req.id);
    expect(shown.fixed).toBe(false);
    expect(shown.summary).toMatchObject({ reads: 14, cells: 1, cellsSuppressed: 1, minCount: 5, cameras: { front: 11, rear: 3 } });
    rel.approve(who('ada', 'admin'), req.id, { expectDigest: shown.digest!, upToReadId: shown.summary!.upToReadId });
    const out = await rel.export(dana, req.id, path.join(dir, 'agg'), () => Promise.reject(new Error('no image may be read')));
    const text = readFileSync(path.join(dir, 'agg', 'release.json'), 'utf8');
    expect(text).not.toMatch(/5KDW|7ABC|5XYZ|F0000/);
    expect(out.files).toEqual(['release.json']);
    const json = JSON.parse(text) as { data: unknown[]; aggregate: Record<string, unknown>; digest: { value: string } };
    // front: 11 reads of 8 vehicles (the plate seen 4 times counts once); rear: 3 vehicles, left out
    expect(json.data).toEqual([{ day: '2026-11-21', camera: 'front', reads: 11, vehicles: 8 }]);
    expect(json.aggregate).toMatchObject({ minVehiclesPerCell: 5, cellsReleased: 1, cellsSuppressed: 1 });
    expect(json.digest.value).toBe(shown.digest);
    expect(text).not.toMatch(/"rear"/); // not even the left-out camera's total

    // the threshold is the agency's: at 3, the rear camera's cell is released
    const rel3 = new Releases(store.database, log, { minCellCount: 3 });
    const req3 = rel3.request(dana, { ...ask, selector: { from: Date.UTC(2026, 10, 21) } });
    expect(rel3.approve(who('ada', 'admin'), req3.id).summary).toMatchObject({ cells: 2, cellsSuppressed: 0, minCount: 3 });
  });

  it('what is released is fixed at approval: reads stored later are not exported, the digest is in the log, a purged read stops the export', async () => {
    await reads(19, 'front', 0);
    const rel = new Releases(store.database, log);
    const dana = who('dana', 'data-user');
    const req = rel.request(dana, { mode: 'full', agency: 'County DA', requester: 'J. Park', ...good, selector: { cameraId: 'front', from: Date.UTC(2026, 10, 21) } });
    const shown = rel.show(who('ada', 'admin'), req.id);
    expect(shown.summary).toMatchObject({ reads: 19, vehicles: 19, images: 19, cameras: { front: 19 }, from: Date.UTC(2026, 10, 21, 9), to: Date.UTC(2026, 10, 21, 9, 18) });
    // the store grows between the look and the approval: the approval holds what was shown
    await reads(19, 'front', 100);
    const approved = rel.approve(who('ada', 'admin'), req.id, { upToReadId: shown.summary!.upToReadId, expectDigest: shown.digest! });
    expect(approved.summary!.reads).toBe(19);
    expect(approved.digest).toBe(shown.digest);
    // and more after the approval: the export still writes the 19
    await reads(19, 'front', 200);
    const out = await rel.export(dana, req.id, path.join(dir, 'fixed'), image);
    expect(out.reads).toBe(19);
    const json = JSON.parse(readFileSync(path.join(dir, 'fixed', 'release.json'), 'utf8')) as { data: Array<{ plate: string }>; digest: { value: string } };
    expect(json.data).toHaveLength(19);
    expect(json.digest.value).toBe(approved.digest);
    const { createHash } = await import('node:crypto');
    expect(createHash('sha256').update(JSON.stringify(json.data)).digest('hex')).toBe(approved.digest);
    const records = log.list().filter((r) => r.outcome === 'ok' && r.action.startsWith('release-'));
    expect(records.find((r) => r.action === 'release-approve')!.result).toMatchObject({ count: 19, digest: approved.digest });
    expect(records.find((r) => r.action === 'release-export')!.result).toMatchObject({ count: 19, digest: approved.digest, export: 1 });

    // an approval against a digest that is no longer what the store gives is refused
    const req2 = rel.request(dana, { mode: 'full', agency: 'County DA', requester: 'J. Park', ...good, selector: { cameraId: 'front' } });
    const look = rel.show(who('ada', 'admin'), req2.id);
    await reads(1, 'front', 300);
    expect(() => rel.approve(who('ada', 'admin'), req2.id, { expectDigest: look.digest! })).toThrow(/not what was shown/);
    expect(log.list().at(-1)).toMatchObject({ action: 'release-approve', outcome: 'refused' });
    // approved; then one of its reads is deleted by retention: nothing is written
    rel.approve(who('ada', 'admin'), req2.id);
    store.database.prepare('UPDATE reads SET deleted_at = ? WHERE id = (SELECT min(id) FROM reads WHERE camera_id = ?)').run(Date.now(), 'front');
    await expect(rel.export(dana, req2.id, path.join(dir, 'gone'), image)).rejects.toThrow(/no longer holds what was approved.*1 deleted/);
    expect(existsSync(path.join(dir, 'gone', 'release.json'))).toBe(false);
    expect(rel.get(req2.id)!.exportCount).toBe(0);
  });

  it('exported once, by the requester or an admin; a further export only by an admin with a reason; each attempt logged', async () => {
    const rel = new Releases(store.database, log);
    const dana = who('dana', 'data-user');
    const req = rel.request(dana, { mode: 'full', agency: 'Hawthorne PD', requester: 'Det. Ruiz', ...good, selector: { plate: '7ABC123' } });
    rel.approve(who('ada', 'admin'), req.id);
    // another data user: not theirs
    await expect(rel.export(who('eve', 'data-user'), req.id, path.join(dir, 'eve'), image)).rejects.toThrow(/only dana, who requested release 1, or an admin may export it/);
    expect(existsSync(path.join(dir, 'eve'))).toBe(false);
    const first = await rel.export(dana, req.id, path.join(dir, 'one'), image);
    expect(first.exportNumber).toBe(1);
    // the requester again: refused
    await expect(rel.export(dana, req.id, path.join(dir, 'two'), image)).rejects.toThrow(/exported already.*needs an admin, with a reason/);
    await expect(rel.export(who('ada', 'admin'), req.id, path.join(dir, 'two'), image)).rejects.toThrow(/say why it is exported again/);
    expect(existsSync(path.join(dir, 'two'))).toBe(false);
    const again = await rel.export(who('ada', 'admin'), req.id, path.join(dir, 'two'), image, { reason: 'USB stick lost in transit, DA asked again' });
    expect(again).toMatchObject({ exportNumber: 2, digest: first.digest });
    expect(readFileSync(path.join(dir, 'two', 'release.json'), 'utf8')).toMatch(/USB stick lost/);
    const attempts = log.list().filter((r) => r.action === 'release-export').map((r) => [r.user, r.outcome]);
    expect(attempts).toEqual([['eve', 'refused'], ['dana', 'ok'], ['dana', 'refused'], ['ada', 'refused'], ['ada', 'ok']]);
    expect(rel.get(req.id)).toMatchObject({ exportCount: 2, exportedBy: 'dana' });
  });

  it('an approver not independent of the requester is refused: who created or changed the account, either way, or an account made after the request for the requester', async () => {
    const { addUser, resetPassword, signIn } = await import('../src/access/users.js');
    const { totpCode } = await import('../src/access/totp.js');
    const db = store.database;
    const PW = 'test password 123';
    const session = async (name: string, secret: string): Promise<Principal> => {
      const r = await signIn(db, log, { name, password: PW, totp: totpCode(secret, Date.now()) });
      if (!r.ok) throw new Error(r.message);
      return r.principal;
    };
    const add = async (by: Principal | 'bootstrap', name: string, role: Role) => {
      const { totp } = await addUser(db, log, by, { name, agency: 'ESPD', role, password: PW });
      return role === 'admin' || role === 'data-user' ? session(name, totp!.secret) : who(name, role);
    };
    const ada = await add('bootstrap', 'ada', 'admin');
    const bob = await add(ada, 'bob', 'admin');
    const cy = await add(bob, 'cy', 'admin');
    const dana = await add(bob, 'dana', 'data-user');
    const rel = new Releases(db, log);
    const ask = { mode: 'full' as const, agency: 'County DA', requester: 'J. Park', ...good, selector: { plate: '7ABC123' } };

    // bob created dana's account: bob may not approve her request; ada may
    const r1 = rel.request(dana, ask);
    expect(() => rel.approve(bob, r1.id)).toThrow(/bob may not approve release 1: bob created the account of dana.*independent of the requester/);
    expect(rel.approve(ada, r1.id).approvedBy).toBe('ada');

    // what the tester did: an admin refused on their own request makes a second admin and approves with it
    const r2 = rel.request(ada, ask);
    expect(() => rel.approve(ada, r2.id)).toThrow(/someone other than the user who requested it/);
    const ada2 = await add(ada, 'ada2', 'admin');
    expect(() => rel.approve(ada2, r2.id)).toThrow(/ada2 may not approve release 2: the account of ada2 was created by ada/);
    // or through an admin ada made before the request: bob makes one after it
    const bob2 = await add(bob, 'bob2', 'admin');
    expect(() => rel.approve(bob2, r2.id)).toThrow(/the account of bob2 acts for ada.*bob2 created by bob.*/);
    expect(() => rel.approve(bob, r2.id)).toThrow(/the account of bob was created by ada/);
    // a password reset is a change too
    await resetPassword(db, log, ada, 'cy', 'another password 456');
    expect(() => rel.approve(cy, r2.id)).toThrow(/the account of cy was changed \(user.reset-password\) by ada/);
    expect(rel.get(r2.id)!.approvedBy).toBeNull();
    const refusals = log.list().filter((r) => r.action === 'release-approve' && r.outcome === 'refused');
    expect(refusals.map((r) => r.user)).toEqual(['bob', 'ada', 'ada2', 'bob2', 'bob', 'cy']);
    // who did each change is recorded
    const changes = db.prepare('SELECT user_name, action, by_user FROM user_changes ORDER BY id').all();
    expect(changes).toEqual(expect.arrayContaining([
      { user_name: 'ada', action: 'user.bootstrap', by_user: '(bootstrap)' },
      { user_name: 'dana', action: 'user.add', by_user: 'bob' },
      { user_name: 'cy', action: 'user.reset-password', by_user: 'ada' },
    ]));
    expect(() => db.prepare("UPDATE user_changes SET by_user = 'x'").run()).toThrow(/append-only/);
  }, 60_000);

  it('migration 9 records who made or changed the accounts of an older unit (from the users table and the access log)', async () => {
    const { MIGRATIONS } = await import('../src/store/migrations.js');
    const db = new Database(':memory:');
    for (const m of MIGRATIONS.filter((m) => m.version <= 8)) db.exec(m.sql);
    db.prepare(`INSERT INTO users (name, agency, role, state, state_changed_at, state_changed_by, created_at, created_by) VALUES ('ada', 'X', 'admin', 'active', 1, '(bootstrap)', 1, '(bootstrap)'), ('bob', 'X', 'admin', 'active', 2, 'ada', 2, 'ada')`).run();
    db.prepare(
      `INSERT INTO access_log (at, user_name, agency, role, action, query, outcome, prev_mac, mac) VALUES
       (5, 'bob', 'X', 'admin', 'user.reset-password', '{"user":"ada"}', 'ok', '0', '1'), (6, 'bob', 'X', 'admin', 'user.disable', '{"user":"ada"}', 'refused', '1', '2')`,
    ).run();
    db.prepare(`INSERT INTO releases (mode, agency, requester, purpose, case_number, selector, requested_by, requested_at, exported_at) VALUES ('full', 'a', 'b', 'c', 'd', '{}', 'ada', 1, 9)`).run();
    db.exec(MIGRATIONS.find((m) => m.version === 9)!.sql);
    expect(db.prepare('SELECT user_name, action, by_user, at FROM user_changes ORDER BY id').all()).toEqual([
      { user_name: 'ada', action: 'user.bootstrap', by_user: '(bootstrap)', at: 1 },
      { user_name: 'bob', action: 'user.add', by_user: 'ada', at: 2 },
      { user_name: 'ada', action: 'user.reset-password', by_user: 'bob', at: 5 },
    ]);
    // a release exported before counts as exported once
    expect(db.prepare('SELECT export_count, frozen FROM releases').get()).toEqual({ export_count: 1, frozen: null });
    db.close();
  });

  it('the audit report lists accesses, refusals and releases for a period (CSV and JSON), for auditors only', () => {
    const data = new DataAccess(store.database, log);
    data.search(who('dana', 'data-user'), good, { plate: '7ABC123' });
    expect(() => data.search(who('olly', 'officer'), good, { plate: '7ABC123' })).toThrow();
    expect(() => auditReport(store.database, log, who('dana', 'data-user'), 0, Date.now() + 1)).toThrow(AccessDenied);
    const r = auditReport(store.database, log, who('audrey', 'auditor'), 0, Date.now() + 1);
    expect(r.chain.ok).toBe(true);
    expect(r.accesses.map((a) => a.user)).toContain('dana');
    expect(r.refusals.map((a) => a.user)).toContain('olly');
    const csv = reportCsv(r);
    expect(csv.split('\n')[0]).toBe('id,time,user,agency,role,action,purpose,case,query,result,outcome');
    expect(csv).toContain('burglary suspect vehicle');
    expect(existsSync(store.dbPath)).toBe(true);
  });
});

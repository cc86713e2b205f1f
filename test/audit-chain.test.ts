import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AccessLog, loadAuditKey, type ChainHead } from '../src/access/access-log.js';
import { acknowledgedHeads, HeadWatch } from '../src/access/audit-head.js';
import { CentralDb } from '../src/central/db.js';
import { pullFromUnit } from '../src/central/pull.js';
import { startCentral, type CentralServer } from '../src/central/server.js';
import { configSchema } from '../src/config/schema.js';
import { startPullServer } from '../src/sync/pull-server.js';
import { syncSchema } from '../src/sync/schema.js';
import { createLogger } from '../src/log/logger.js';
import { Purger, retentionSchema } from '../src/retention/index.js';
import { ReadStore } from '../src/store/read-store.js';
import { SyncEngine } from '../src/sync/engine.js';
import { manualClock, systemClock } from '../src/util/clock.js';
import { adminSession } from './session-helper.js';
import { makePki, type Pki } from './tls.js';
import { until } from './helpers.js';

/**
 * The access log's ends (#16 item 2). A tester holding the data key lifted the append-only triggers through
 * access_log_purge, removed the newest records, and the oldest with a forged anchor row, and `audit verify` said
 * "intact". Here the same is done, and worse (the chain cut and continued, rewritten with the key), and each time
 * `audit verify` (the compiled CLI) or the central server must say what was removed and where; a proper retention
 * purge must still verify. What stays undetectable is shown too (the README's "cannot" list).
 */

const MAIN = path.join(import.meta.dirname, '..', 'dist', 'src', 'cli', 'main.js');
const UNIT = 'car-12';
const TOKEN = 'tok-car12-audit-77';
const DAY = 86_400_000;
const silent = createLogger('silent');

let dir: string;
let dataDir: string;
let cfg: string;
let session: string;

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'alpr-audit-chain-'));
  dataDir = path.join(dir, 'data');
  cfg = path.join(dir, 'unit.yaml');
  writeFileSync(cfg, `unit: { id: ${UNIT}, agency: ESPD }\ndata: { dir: ${JSON.stringify(dataDir)} }\n`);
  session = await adminSession(dataDir, 'audrey');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** `alpr-edge audit verify`, as the auditor runs it. */
function verify(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [MAIN, 'audit', 'verify', ...args, '--config', cfg], {
    encoding: 'utf8',
    env: { ...process.env, ALPR_EDGE_SESSION: session },
    timeout: 60_000,
  });
  return { status: r.status, out: r.stdout + r.stderr };
}

/** The same, without blocking this process (where the test's central server must answer it). */
function verifyAsync(...args: string[]): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, 'audit', 'verify', ...args, '--config', cfg], { env: { ...process.env, ALPR_EDGE_SESSION: session }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ status: err ? ((err as { code?: number }).code ?? null) : 0, out: stdout + stderr }),
    );
  });
}

/** The unit's store and log, with the unit's key (the audit.key of an unencrypted data folder). */
function open(clock = systemClock): { store: ReadStore; log: AccessLog; db: Database.Database } {
  const store = ReadStore.open(dataDir, { clock, imageBudgetBytes: 1e8 });
  const log = new AccessLog(store.database, loadAuditKey(dataDir), clock);
  return { store, log, db: store.database };
}

function searches(log: AccessLog, n: number): void {
  for (let i = 0; i < n; i++) {
    log.append({ user: 'dana', agency: 'ESPD', role: 'data-user', action: 'search', purpose: 'stolen vehicle follow-up', caseNumber: `26-${1000 + i}`, query: { plate: '7ABC123' }, outcome: 'ok' });
  }
}

const lastId = (db: Database.Database) => (db.prepare('SELECT max(id) AS id FROM access_log').get() as { id: number }).id;

/** What the tester did: with the database open, the purge flag lifts the delete trigger. */
function deleteWithPurgeFlag(db: Database.Database, where: string): number {
  return db.transaction(() => {
    db.prepare('INSERT INTO access_log_purge (allowed) VALUES (1)').run();
    const n = db.prepare(`DELETE FROM access_log WHERE ${where}`).run().changes;
    db.prepare('DELETE FROM access_log_purge').run();
    return n;
  })();
}

/** The status file as the running unit writes it (its head from a HeadWatch, src/unit/unit.ts). */
function writeStatusFile(head: ChainHead | null, at = Date.now()): void {
  writeFileSync(path.join(dataDir, 'status.json'), JSON.stringify({ unitId: UNIT, updatedAt: at, accessLog: { head, problem: null } }), { mode: 0o600 });
}

describe('audit verify on the unit', () => {
  it('an intact log: says what it checked (records, range, start, head, status file, central acknowledgement)', () => {
    const { store, log } = open();
    searches(log, 8);
    store.close();
    const r = verify();
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/^access log INTACT\n/);
    expect(r.out).toMatch(/records +#1-#\d+: \d+ checked \(each record's keyed MAC over its content and number, its link to the record before, no number missing\)/);
    expect(r.out).toMatch(/start +record #1, the first ever written/);
    expect(r.out).toMatch(/head +#\d+ at \d{4}-\d\d-\d\dT[\d:.]+Z, MAC [0-9a-f]{16}…/);
    expect(r.out).toMatch(/status file +not checked: no status file .*the unit has not run here/);
    expect(r.out).toMatch(/central ack +not checked: no acknowledgement stored/);
  });

  it('the newest records removed through the purge flag (with the key): caught against the status file; without a head kept elsewhere, not', () => {
    const { store, log, db } = open();
    searches(log, 10);
    const head = lastId(db);
    writeStatusFile(new HeadWatch(db, null).observe().head);
    expect(deleteWithPurgeFlag(db, `id > ${head - 3}`)).toBe(3);
    // a careful tester also sets the counter back, so that the next record follows without a gap in the numbers
    db.prepare(`UPDATE sqlite_sequence SET seq = ? WHERE name = 'access_log'`).run(head - 3);
    store.close();
    let r = verify();
    expect(r.status, r.out).toBe(1);
    expect(r.out).toMatch(/^access log BROKEN: 1 problem\(s\)/);
    expect(r.out).toMatch(new RegExp(`status file +head #${head} \\(written [^)]+\\): FAILED, saw the log end at #${head}, but it ends at #${head - 3} now: the newest 3 record\\(s\\) were removed`));
    expect(r.out).toMatch(new RegExp(`problems:\\n  head: the status file: saw the log end at #${head}`));

    // the limit: with the status file gone too (and no acknowledgement), nothing outside the log remembers the head
    // (the first verify's own record follows #head-3 now, numbered #head-2)
    rmSync(path.join(dataDir, 'status.json'));
    r = verify();
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/access log INTACT/);
    expect(r.out).toMatch(new RegExp(`head +#${head - 2} `));
  });

  it('the newest records removed, the counter reset and the chain continued with the key: the record numbers match but the MAC does not', () => {
    const { store, log, db } = open();
    searches(log, 10);
    const head = lastId(db);
    writeStatusFile(new HeadWatch(db, null).observe().head);
    deleteWithPurgeFlag(db, `id > ${head - 4}`);
    db.prepare(`UPDATE sqlite_sequence SET seq = ? WHERE name = 'access_log'`).run(head - 4);
    searches(log, 6); // the same numbers again, and two more, properly chained and MAC'd
    expect(lastId(db)).toBe(head + 2);
    store.close();
    const r = verify();
    expect(r.status, r.out).toBe(1);
    expect(r.out).toMatch(new RegExp(`status file +head #${head} .*FAILED, saw record #${head} with another MAC`));
  });

  it('the newest records removed and the log continued without resetting the counter: a gap in the numbers', () => {
    const { store, log, db } = open();
    searches(log, 10);
    const head = lastId(db);
    deleteWithPurgeFlag(db, `id > ${head - 3}`);
    searches(log, 1);
    store.close();
    const r = verify();
    expect(r.status, r.out).toBe(1);
    expect(r.out).toMatch(new RegExp(`record #${head + 1}: records #${head - 2}-#${head} are missing between #${head - 3} and #${head + 1} \\(the chain was cut there and continued\\)`));
  });

  it('the oldest records removed with a forged anchor row (the old unsigned table), or with none: the start is not accounted for', () => {
    const { store, log, db } = open();
    searches(log, 10);
    const mac4 = (db.prepare('SELECT mac FROM access_log WHERE id = 4').get() as { mac: string }).mac;
    deleteWithPurgeFlag(db, 'id <= 4');
    store.close();
    let r = verify();
    expect(r.status, r.out).toBe(1);
    expect(r.out).toMatch(/start +NOT ACCOUNTED FOR: records #1-#4 removed without a signed retention anchor/);
    expect(r.out).toMatch(/record #5: records #1-#4 were removed and no signed retention anchor in the log accounts for them/);

    // the tester's forged anchor: what retention used to keep, without a MAC
    const raw = new Database(path.join(dataDir, 'alpr-edge.db'));
    raw.exec('CREATE TABLE IF NOT EXISTS access_log_anchor (next_id INTEGER PRIMARY KEY, mac TEXT NOT NULL)');
    raw.prepare('INSERT INTO access_log_anchor (next_id, mac) VALUES (5, ?)').run(mac4);
    raw.close();
    r = verify();
    expect(r.status, r.out).toBe(1);
    expect(r.out).toMatch(/record #5: records #1-#4 were removed with an unsigned anchor \(the access_log_anchor table\)/);
  });

  for (const forgedRow of [false, true]) {
    it(`oldest records removed outside retention (${forgedRow ? 'with' : 'without'} a forged unsigned anchor row) stay found after the next retention purge`, async () => {
      const clock = manualClock(Date.now());
      const { store, log, db } = open(clock);
      searches(log, 10);
      const oldLast = lastId(db);
      clock.advance(40 * DAY);
      searches(log, 3);
      const mac4 = (db.prepare('SELECT mac FROM access_log WHERE id = 4').get() as { mac: string }).mac;
      deleteWithPurgeFlag(db, 'id <= 4'); // the tester
      if (forgedRow) {
        db.exec('CREATE TABLE IF NOT EXISTS access_log_anchor (next_id INTEGER PRIMARY KEY, mac TEXT NOT NULL)');
        db.prepare('INSERT INTO access_log_anchor (next_id, mac) VALUES (5, ?)').run(mac4);
      }
      const purged = await new Purger(store, retentionSchema.parse({ accessLogDays: 30, pauseMs: 0 }), {
        accessLog: log,
        actor: { user: `unit ${UNIT} retention`, agency: 'ESPD', role: 'system' },
      }).runOnce(clock());
      expect(purged).toMatchObject({ errors: [], accessLogDeleted: oldLast - 4 }); // #5 to the last old one; the recent ones stay
      const anchor = lastId(db);
      store.close();
      const r = verify();
      expect(r.status, r.out).toBe(1);
      expect(r.out).toMatch(new RegExp(`start +right after #5-#${oldLast}, purged by unit ${UNIT} retention`));
      expect(r.out).toMatch(
        new RegExp(
          `record #${anchor}: retention anchor #${anchor} purged #5-#${oldLast}, but records before #5 had already been removed ${
            forgedRow ? 'under an unsigned anchor \\(the access_log_anchor table of an older version, or a forged one\\)' : 'without a signed anchor'
          } when it ran`,
        ),
      );
    });
  }

  it('an anchor record written without the key is a MAC mismatch; with the key, a forged anchor passes (what the key allows)', () => {
    const { store, log, db } = open();
    searches(log, 10);
    const mac4 = (db.prepare('SELECT mac FROM access_log WHERE id = 4').get() as { mac: string }).mac;
    const forge = (on: Database.Database, key: Buffer) =>
      new AccessLog(on, key, systemClock).append({
        user: 'unit car-12 retention',
        agency: 'ESPD',
        role: 'system',
        action: 'access-log-purge',
        purpose: 'retention',
        query: { before: Date.now() },
        result: { first: 1, last: 4, records: 4, lastMac: mac4, startAccounted: true },
        outcome: 'ok',
      });
    const forged = forge(db, Buffer.alloc(32, 9)).id;
    deleteWithPurgeFlag(db, 'id <= 4');
    store.close();
    let r = verify();
    expect(r.status, r.out).toBe(1);
    expect(r.out).toMatch(new RegExp(`record #${forged}: its content or number was changed, or it was written without the key \\(MAC mismatch\\)`));
    expect(r.out).toMatch(/start +NOT ACCOUNTED FOR/);

    // whoever has the key can write an anchor that verifies: the unit alone cannot tell it from retention
    const again = open();
    deleteWithPurgeFlag(again.db, `id >= ${forged}`);
    again.db.prepare(`UPDATE sqlite_sequence SET seq = ? WHERE name = 'access_log'`).run(forged - 1);
    const good = forge(again.db, loadAuditKey(dataDir)).id;
    again.store.close();
    r = verify();
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(new RegExp(`start +right after #1-#4, purged by unit car-12 retention at .* \\(signed anchor: record #${good}\\)`));
  });

  it('an edited record (the update trigger dropped): its MAC no longer matches', () => {
    const { store, log, db } = open();
    searches(log, 6);
    db.exec('DROP TRIGGER access_log_no_update');
    db.prepare(`UPDATE access_log SET case_number = '26-9999' WHERE id = 3`).run();
    store.close();
    const r = verify();
    expect(r.status, r.out).toBe(1);
    expect(r.out).toMatch(/record #3: its content or number was changed/);
  });

  it('a proper retention purge verifies: the log starts right after its signed anchor, and heads seen before it still check', async () => {
    const clock = manualClock(Date.now());
    const { store, log, db } = open(clock);
    searches(log, 6);
    const oldHead = new HeadWatch(db, null).observe().head!;
    clock.advance(40 * DAY);
    searches(log, 4);
    writeStatusFile(oldHead, clock()); // a status file from before the purge: its head is purged below
    const purger = new Purger(store, retentionSchema.parse({ accessLogDays: 30, pauseMs: 0 }), {
      accessLog: log,
      actor: { user: `unit ${UNIT} retention`, agency: 'ESPD', role: 'system' },
    });
    const result = await purger.runOnce(clock());
    expect(result.errors).toEqual([]);
    expect(result.accessLogDeleted).toBe(oldHead.id);
    store.close();
    const r = verify();
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(new RegExp(`start +right after #1-#${oldHead.id}, purged by unit ${UNIT} retention at ${new Date(clock()).toISOString()} \\(signed anchor: record #\\d+\\)`));
    expect(r.out).toMatch(new RegExp(`status file +head #${oldHead.id} .*: OK, record #${oldHead.id} was purged by retention \\(anchor #\\d+\\)`));
  });
});

describe('the running unit keeps the head in its status file moving forward only', () => {
  it('the unit as a process: records removed at the end while it runs stay found in its status file and by audit verify', async () => {
    writeFileSync(cfg, `unit: { id: ${UNIT}, agency: ESPD }\ndata: { dir: ${JSON.stringify(dataDir)} }\ngps: { source: fixed, latitude: 34.05, longitude: -118.25 }\ncameras: []\n`);
    const unit = spawn(process.execPath, [MAIN, 'run', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    unit.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    unit.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => unit.on('exit', (code) => r(code)));
    try {
      const statusHead = (): { head: ChainHead | null; problem: string | null } | undefined => {
        try {
          return (JSON.parse(readFileSync(path.join(dataDir, 'status.json'), 'utf8')) as { accessLog?: { head: ChainHead | null; problem: string | null } }).accessLog;
        } catch {
          return undefined; // not written yet, or being replaced
        }
      };
      const { store, log, db } = open();
      searches(log, 6);
      const head = lastId(db);
      await until(() => statusHead()?.head?.id === head, 60_000, `the status file's head at #${head}\n${out}`);
      // the tester, while the unit runs: the newest records removed, the counter set back, one record written on
      deleteWithPurgeFlag(db, `id > ${head - 3}`);
      db.prepare(`UPDATE sqlite_sequence SET seq = ? WHERE name = 'access_log'`).run(head - 3);
      searches(log, 1);
      await until(() => statusHead()?.problem != null, 60_000, 'the unit to notice');
      // the unit may have looked between the deletion and the new record: either way it keeps #head
      expect(statusHead()).toEqual({
        head: expect.objectContaining({ id: head }),
        problem: expect.stringMatching(new RegExp(`^the access log ends at #(${head - 3}|${head - 2}), but it held record #${head}: newer records were removed$`)),
      });
      store.close();
    } finally {
      unit.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(out).toMatch(/the access log went back: records were removed at its end/);
    const r = verify();
    expect(r.status, r.out).toBe(1);
    expect(r.out).toMatch(/status file +head #\d+ .*FAILED, saw the log end at #\d+, but it ends at #\d+ now/);
  }, 120_000);

  it('a truncation while it runs (or while it was stopped) leaves the head seen before, with the problem said once', () => {
    const { store, log, db } = open();
    searches(log, 5);
    const b = lastId(db); // after the sign-in's records
    const said: string[] = [];
    const watch = new HeadWatch(db, null, (p) => said.push(p));
    expect(watch.observe()).toEqual({ head: expect.objectContaining({ id: b }), problem: null });
    searches(log, 2);
    expect(watch.observe().head!.id).toBe(b + 2);
    deleteWithPurgeFlag(db, `id > ${b - 1}`);
    const seen = watch.observe();
    expect(seen.head!.id).toBe(b + 2);
    expect(seen.problem).toBe(`the access log ends at #${b - 1}, but it held record #${b + 2}: newer records were removed`);
    searches(log, 5); // numbered after the removed ones, following #b-1: still not the record seen
    expect(watch.observe()).toMatchObject({ head: { id: b + 2 }, problem: `record #${b + 2} of the access log is missing` });
    expect(said).toHaveLength(2);
    // at the next start, from the status file's head: the same
    const next = new HeadWatch(db, seen.head, (p) => said.push(p));
    expect(next.observe().head!.id).toBe(b + 2);
    expect(said).toHaveLength(3);
    store.close();
  });
});

describe('the head goes to the central server over HTTPS, which acknowledges it and catches a log that went back', () => {
  let pki: Pki;
  let central: CentralServer;
  beforeAll(() => {
    pki = makePki(mkdtempSync(path.join(tmpdir(), 'alpr-audit-pki-')));
  });
  afterAll(() => rmSync(pki.dir, { recursive: true, force: true }));
  afterEach(async () => central?.close());

  it('acknowledged heads are kept on both sides; removing the newest records is caught by audit verify and by the server', async () => {
    central = await startCentral({ clock: systemClock, dataDir: path.join(dir, 'central'), tls: { cert: pki.server.cert, key: pki.server.key }, tokens: [{ token: TOKEN, unit: UNIT }], log: silent });
    writeFileSync(path.join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
    const config = configSchema.parse({
      unit: { id: UNIT, agency: 'ESPD' },
      data: { dir: dataDir },
      sync: { enabled: true, server: { url: central.url, caFile: pki.ca.certFile, tokenFile: path.join(dir, 'token') }, images: { mode: 'off' } },
    });
    let { store, log, db } = open();
    const engine = () =>
      new SyncEngine({ config: config.sync, unitId: UNIT, store, log: silent, accessLog: log, actor: { user: `unit ${UNIT}`, agency: 'ESPD', role: 'system' } });
    searches(log, 12);
    let report = await engine().runCycle('manual');
    expect(report.ok, JSON.stringify(report.error)).toBe(true);
    const head = lastId(db);
    expect(report.accessLogHead).toMatchObject({ sent: { id: head }, acknowledged: true });
    const mac = (db.prepare('SELECT mac FROM access_log WHERE id = ?').get(head) as { mac: string }).mac;
    expect(central.db.accessLogHead(UNIT)).toMatchObject({ id: head, mac });
    expect(acknowledgedHeads(db)).toEqual([expect.objectContaining({ id: head, mac, url: `${central.url}/`, agency: true })]);
    // the stored acknowledgement cannot go back or be deleted by a mistake (the triggers; the attacker drops them)
    expect(() => db.prepare('UPDATE access_log_acks SET head_id = 1').run()).toThrow(/never goes back/);
    expect(() => db.prepare('DELETE FROM access_log_acks').run()).toThrow(/are kept/);
    store.close();

    let r = verify();
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(new RegExp(`central ack +https://127\\.0\\.0\\.1:\\d+/: head #${head} acknowledged \\d{4}-[\\d-]+T[\\d:.]+Z: OK, record #${head} is in the log, with the same MAC`));
    // the auditor may also ask the server itself (the unit's config names it)
    writeFileSync(
      cfg,
      `unit: { id: ${UNIT}, agency: ESPD }\ndata: { dir: ${JSON.stringify(dataDir)} }\n` +
        `sync: { server: { url: ${JSON.stringify(central.url)}, caFile: ${JSON.stringify(pki.ca.certFile)}, tokenFile: ${JSON.stringify(path.join(dir, 'token'))} } }\n`,
    );
    r = await verifyAsync('--central');
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(new RegExp(`central ack +https://127\\.0\\.0\\.1:\\d+/ \\(asked now\\): head #${head} acknowledged: OK, record #${head} is in the log`));

    // the tester: the newest records removed through the purge flag, the counter set back to match
    ({ store, log, db } = open());
    deleteWithPurgeFlag(db, `id > ${head - 5}`);
    db.prepare(`UPDATE sqlite_sequence SET seq = ? WHERE name = 'access_log'`).run(head - 5);
    store.close();
    r = verify();
    expect(r.status, r.out).toBe(1);
    expect(r.out).toMatch(new RegExp(`central ack +https://127\\.0\\.0\\.1:\\d+/: head #${head} .*FAILED, saw the log end at #${head}, but it ends at #\\d+ now`));

    // the next sync carries the shorter head (the verify above wrote one record after #head-5): the server refuses
    // it, records it, and keeps the head it acknowledged
    ({ store, log, db } = open());
    report = await engine().runCycle('manual');
    expect(report.ok).toBe(true); // the reads still go up
    expect(report.accessLogHead).toMatchObject({ sent: { id: head - 4 }, acknowledged: false, refused: expect.stringMatching(/409.*the log went back: its head is #\d+, but the server acknowledged #\d+/) });
    expect(central.db.accessLogHead(UNIT)).toMatchObject({ id: head, mac });
    expect(central.db.regressions(UNIT)).toEqual([
      expect.objectContaining({ claimed: expect.objectContaining({ id: head - 4 }), acknowledged: expect.objectContaining({ id: head }), problem: expect.stringMatching(/went back/) }),
    ]);
    // the same refusal again is not recorded twice; the summary shows it
    await engine().runCycle('manual');
    expect(central.db.regressions(UNIT)).toHaveLength(1);
    expect(central.db.summary(UNIT)[0]!.accessLog).toMatchObject({ head: { id: head }, regressions: 1 });
    const ls = spawnSync(process.execPath, [MAIN, 'central', 'ls', '--data', path.join(dir, 'central')], { encoding: 'utf8', timeout: 60_000 });
    expect(ls.stdout, ls.stderr).toMatch(/access log head\n/);
    expect(ls.stdout).toMatch(new RegExp(`car-12 .* #${head} WENT BACK \\(1 refused\\)\n`));

    // the stored acknowledgement rewritten too (the triggers dropped): audit verify on the unit passes again...
    db.exec('DROP TRIGGER access_log_acks_forward');
    const now = db.prepare('SELECT id, mac FROM access_log ORDER BY id DESC LIMIT 1').get() as { id: number; mac: string };
    db.prepare('UPDATE access_log_acks SET head_id = ?, head_mac = ?').run(now.id, now.mac);
    store.close();
    r = verify();
    expect(r.status, r.out).toBe(0);
    // ...but not when the auditor asks the server itself
    r = await verifyAsync('--central');
    expect(r.status, r.out).toBe(1);
    expect(r.out).toMatch(new RegExp(`central ack +https://127\\.0\\.0\\.1:\\d+/ \\(asked now\\): head #${head} acknowledged: FAILED, saw the log end at #${head}, but it ends at #\\d+ now`));
    // ...and the server keeps its own, and the chain continued past it does not follow what it received
    ({ store, log, db } = open());
    searches(log, 8);
    report = await engine().runCycle('manual');
    expect(report.accessLogHead).toMatchObject({ acknowledged: false, refused: expect.stringMatching(new RegExp(`record #${head + 1} (does not follow record #${head} received here|never arrived here)`)) });
    expect(central.db.regressions(UNIT)).toHaveLength(2);
    store.close();
    // a server that cannot be asked: said, and not a pass
    await central.close();
    r = await verifyAsync('--central');
    expect(r.status, r.out).toBe(1);
    expect(r.out).toMatch(/central now +NOT CHECKED: the central server could not be asked: https:\/\/127\.0\.0\.1:\d+: GET .*access-log\/head: /);
  });

  it('a log rewritten with the key from a record the server acknowledged (same numbers, other MACs) is refused', async () => {
    central = await startCentral({ clock: systemClock, dataDir: path.join(dir, 'central'), tls: { cert: pki.server.cert, key: pki.server.key }, tokens: [{ token: TOKEN, unit: UNIT }], log: silent });
    writeFileSync(path.join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
    const config = configSchema.parse({
      unit: { id: UNIT, agency: 'ESPD' },
      data: { dir: dataDir },
      sync: { enabled: true, server: { url: central.url, caFile: pki.ca.certFile, tokenFile: path.join(dir, 'token') }, images: { mode: 'off' } },
    });
    const { store, log, db } = open();
    const engine = new SyncEngine({ config: config.sync, unitId: UNIT, store, log: silent });
    searches(log, 6);
    expect((await engine.runCycle('manual')).accessLogHead).toMatchObject({ acknowledged: true });
    const head = lastId(db);
    // cut 3, counter reset, the same numbers written again with the key (and the stored acknowledgement rewritten)
    deleteWithPurgeFlag(db, `id > ${head - 3}`);
    db.prepare(`UPDATE sqlite_sequence SET seq = ? WHERE name = 'access_log'`).run(head - 3);
    db.exec('DROP TRIGGER access_log_acks_no_delete');
    db.prepare('DELETE FROM access_log_acks').run();
    searches(log, 3);
    const r = await engine.runCycle('manual');
    expect(r.accessLogHead).toMatchObject({ sent: { id: head }, acknowledged: false, refused: expect.stringMatching(new RegExp(`record #${head} has another MAC than the one the server acknowledged`)) });
    expect(central.db.regressions(UNIT)).toHaveLength(1);
    store.close();
  });

  it('a central server pulling the access log checks the head the same way: a log cut and continued is refused and recorded', async () => {
    const pullToken = 'pull-token-of-central-5521';
    writeFileSync(path.join(dir, 'pull-tokens'), `central ${pullToken}\n`);
    const { store, log, db } = open();
    searches(log, 6);
    const server = await startPullServer({
      config: syncSchema.parse({ pull: { enabled: true, host: '127.0.0.1', port: 0, certFile: pki.server.certFile, keyFile: pki.server.keyFile, tokensFile: path.join(dir, 'pull-tokens') } }).pull,
      store,
      accessLog: log,
      unitId: UNIT,
      agency: 'ESPD',
      health: () => ({}),
      log: silent,
    });
    const centralDb = CentralDb.open(path.join(dir, 'central-pull'), systemClock);
    const pull = () =>
      pullFromUnit({ db: centralDb, unit: UNIT, baseUrl: server.url, ca: pki.ca.cert, token: pullToken, purpose: 'audit of the unit', caseNumber: '26-0042', streams: ['access-log'] });
    try {
      let r = await pull();
      const head = r.accessLogHead!.id;
      expect(r.accessLogHead).toEqual({ id: head, acknowledged: true });
      expect(centralDb.accessLogHead(UNIT)).toMatchObject({ id: head });
      // the newest records removed; the pull's own access record then follows the cut (the page it reads is taken
      // before it is written: it comes with the next pull). Nothing new after the cursor: no head to check yet
      deleteWithPurgeFlag(db, `id > ${head - 3}`);
      r = await pull();
      expect(r.accessLogHead).toBeUndefined();
      r = await pull();
      expect(r.accessLogHead).toMatchObject({ acknowledged: false, problem: expect.stringMatching(/never arrived here|does not follow/) });
      expect(centralDb.regressions(UNIT)).toHaveLength(1);
      expect(centralDb.accessLogHead(UNIT)).toMatchObject({ id: head });
    } finally {
      centralDb.close();
      await server.close();
      store.close();
    }
  });

  it('a central server without the head endpoint (an older one): the sync goes on, nothing is stored as acknowledged, and verify says so', async () => {
    central = await startCentral({ clock: systemClock, dataDir: path.join(dir, 'central'), insecureHttp: true, tokens: [{ token: TOKEN, unit: UNIT }], log: silent });
    // the older server: everything but the head, passed through to the reference server
    const older = http.createServer((req, res) => {
      if (req.url!.endsWith('/access-log/head')) {
        req.resume();
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"no such resource"}');
        return;
      }
      const up = http.request(`${central.url}${req.url}`, { method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode!, r.headers);
        r.pipe(res);
      });
      req.pipe(up);
    });
    await new Promise<void>((resolve) => older.listen(0, '127.0.0.1', resolve));
    try {
      writeFileSync(path.join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
      const config = configSchema.parse({
        unit: { id: UNIT, agency: 'ESPD' },
        data: { dir: dataDir },
        sync: {
          enabled: true,
          server: { url: `http://127.0.0.1:${(older.address() as AddressInfo).port}`, allowInsecureHttp: true, tokenFile: path.join(dir, 'token') },
          images: { mode: 'off' },
        },
      });
      const { store, log, db } = open();
      searches(log, 3);
      const report = await new SyncEngine({ config: config.sync, unitId: UNIT, store, log: silent }).runCycle('manual');
      expect(report.ok, JSON.stringify(report.error)).toBe(true);
      expect(report.accessLogHead).toMatchObject({ sent: { id: lastId(db) }, acknowledged: false, refused: expect.stringMatching(/404/) });
      expect(central.db.count('access-log', UNIT)).toBe(lastId(db));
      expect(acknowledgedHeads(db)).toEqual([]);
      store.close();
      const r = verify();
      expect(r.status, r.out).toBe(0);
      expect(r.out).toMatch(/central ack +not checked: no acknowledgement stored/);
    } finally {
      await new Promise((resolve) => older.close(resolve));
    }
  });
});

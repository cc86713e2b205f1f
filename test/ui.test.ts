/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessLog, loadAuditKey } from '../src/access/access-log.js';
import { totpCode } from '../src/access/totp.js';
import { addUser, signIn } from '../src/access/users.js';
import { ConfigError, parseConfig, type ConfigProblem } from '../src/config/load.js';
import { configSchema } from '../src/config/schema.js';
import { Hotlists } from '../src/hotlist/index.js';
import { ReadStore } from '../src/store/read-store.js';
import { systemClock } from '../src/util/clock.js';
import { freePort } from './mosquitto.js';
import { makePki } from './tls.js';
import { until } from './helpers.js';

/**
 * The unit's screens in a real browser: the compiled unit runs on loopback with a replay camera and its screens
 * on; Debian's Chromium, driven by playwright-core, signs in as an officer, a data user and a technician. A hot
 * list entry for a plate the camera has already read arrives while the officer's screen is open (the unit checks
 * recent reads against a new entry), the officer answers it, and the answer is found where the serial and MQTT
 * answers go. Screenshots of each screen are written to docs/screens/ with ALPR_EDGE_SCREENSHOTS=docs.
 */

const ROOT = path.join(import.meta.dirname, '..');
const MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const PLATES = path.join(ROOT, 'test-fixtures', 'plates');
// The screenshots shown in the README and docs/ui.md: rewritten with ALPR_EDGE_SCREENSHOTS=docs (after a change to a
// screen); otherwise taken all the same, into a temporary folder, so that a test run leaves the checkout as it was.
const SCREENS = process.env.ALPR_EDGE_SCREENSHOTS === 'docs' ? path.join(ROOT, 'docs', 'screens') : mkdtempSync(path.join(tmpdir(), 'alpr-screens-'));
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const PASSWORD = 'a long test password';

let dir: string;
let dataDir: string;
let unit: ChildProcess | undefined;
let unitLog = '';
let browser: Browser | undefined;
let base: string;
let dataUserSecret: string;

/** The end of the unit's log, shown when a wait times out. */
const unitTail = () => unitLog.slice(-3000);

function db(): Database.Database {
  return new Database(path.join(dataDir, 'alpr-edge.db'), { readonly: true });
}

function query<T>(sql: string, ...params: unknown[]): T[] {
  const d = db();
  try {
    return d.prepare(sql).all(...params) as T[];
  } finally {
    d.close();
  }
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'alpr-ui-'));
  dataDir = path.join(dir, 'data');
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const configText = `unit: { id: car-7, agency: TEST }
data: { dir: ${JSON.stringify(dataDir)} }
log: { level: info }
gps: { source: fixed, latitude: 34.0522, longitude: -118.2437 }
grouping: { maxDelayMs: 300, leaveAfterMs: 600 }
hotlists: { pollMs: 200, recheckWindowMinutes: 60 }
cameras:
  - { id: front, type: replay, source: ${JSON.stringify(PLATES)}, pattern: "us-ca-*", fps: 2, loop: true }
ui: { enabled: true, host: 127.0.0.1, port: ${port} }
`;
  const configFile = path.join(dir, 'unit.yaml');
  writeFileSync(configFile, configText);

  // the accounts, made through the library as an admin would with `alpr-edge user add`
  const store = ReadStore.open(dataDir, { clock: systemClock, imageBudgetBytes: 1e9 });
  try {
    const log = new AccessLog(store.database, loadAuditKey(dataDir), systemClock);
    const { totp } = await addUser(store.database, log, 'bootstrap', { name: 'ada', agency: 'TEST', role: 'admin', password: PASSWORD });
    const r = await signIn(store.database, log, { name: 'ada', password: PASSWORD, totp: totpCode(totp!.secret, Date.now()) });
    if (!r.ok) throw new Error(r.message);
    await addUser(store.database, log, r.principal, { name: 'olly', agency: 'TEST', role: 'officer', password: PASSWORD });
    await addUser(store.database, log, r.principal, { name: 'tess', agency: 'TEST', role: 'technician', password: PASSWORD });
    const du = await addUser(store.database, log, r.principal, { name: 'dana', agency: 'TEST', role: 'data-user', password: PASSWORD });
    dataUserSecret = du.totp!.secret;
    // a list that does not hold the plate yet: it is added while the officer watches
    const config = configSchema.parse({});
    Hotlists.open(store.database, { config: config.hotlists, clock: systemClock }).importFile(Buffer.from('8ZZZ999\n'), {
      list: 'stolen',
      format: 'lines',
      category: 'stolen vehicle',
      priority: 2,
      user: 'ada',
    });
  } finally {
    store.close();
  }

  unit = spawn(process.execPath, [MAIN, 'run', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  unit.stdout!.on('data', (d: Buffer) => (unitLog += d.toString()));
  unit.stderr!.on('data', (d: Buffer) => (unitLog += d.toString()));
  await until(() => fetch(`${base}/login`).then((r) => r.ok).catch(() => false), 60_000, 'the screens to listen', unitTail);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--autoplay-policy=no-user-gesture-required'],
  });
  mkdirSync(SCREENS, { recursive: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  unit?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function signedIn(name: string, code?: string): Promise<Page> {
  const context = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on('pageerror', (err) => {
    unitLog += `\n[page error] ${err.message}`;
  });
  await page.goto(`${base}/`);
  await page.waitForURL(/\/login$/);
  await page.fill('#name', name);
  await page.fill('#password', PASSWORD);
  if (code) await page.fill('#code', code);
  await page.click('button[type=submit]');
  await page.waitForFunction(() => document.body.dataset.ready === '1' && document.body.dataset.page !== 'login');
  return page;
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SCREENS, `${name}.png`) });
}

describe('the screens in a browser', { timeout: 180_000 }, () => {
  it('sign-in: a wrong password is refused with the same words as an unknown name, and logged', async () => {
    const context = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${base}/login`);
    await page.waitForFunction(() => document.body.dataset.ready === '1');
    await shot(page, 'login');
    const attempt = async (name: string) => {
      await page.fill('#name', name);
      await page.fill('#password', 'not the password at all');
      await page.click('button[type=submit]');
      await page.waitForFunction(() => (document.getElementById('login-error')?.textContent ?? '') !== '');
      const text = await page.textContent('#login-error');
      await page.evaluate(() => (document.getElementById('login-error')!.textContent = ''));
      return text;
    };
    const known = await attempt('olly');
    const unknown = await attempt('nobody-here');
    expect(known).toMatch(/sign-in refused/);
    expect(unknown).toBe(known);
    const refused = query<{ user_name: string; result: string }>(`SELECT user_name, result FROM access_log WHERE action = 'login' AND outcome = 'refused'`);
    expect(refused.map((r) => JSON.parse(r.result).reason)).toEqual(expect.arrayContaining(['wrong password', 'unknown user']));
    // the failure counts toward the lock-out as on the command line
    expect(query<{ failed_logins: number }>(`SELECT failed_logins FROM users WHERE name = 'olly'`)[0]!.failed_logins).toBe(1);
    await context.close();
  });

  it("officer: a hit arrives with its crop while the screen is open, survives a reload, and the answer is recorded as a terminal's", async () => {
    const page = await signedIn('olly');
    expect(new URL(page.url()).pathname).toBe('/alerts');
    // the session cookie is HttpOnly and SameSite=Strict
    const cookies = await page.context().cookies();
    expect(cookies).toEqual([expect.objectContaining({ name: 'alpr-session', httpOnly: true, sameSite: 'Strict' })]);
    expect(await page.evaluate(() => document.cookie)).toBe('');
    await page.waitForSelector('.empty');
    await page.waitForSelector('#link.ok');
    // the camera has read the plate already (the unit stores every read)
    await until(() => query(`SELECT id FROM reads WHERE plate = '5KDW837'`).length > 0, 90_000, 'a read of 5KDW837', unitTail);

    // the list gains the plate now: the unit checks recent reads against it and raises the alert
    const store = ReadStore.open(dataDir, { clock: systemClock, imageBudgetBytes: 1e9 });
    try {
      Hotlists.open(store.database, { config: configSchema.parse({}).hotlists, clock: systemClock }).importFile(Buffer.from('5KDW837\n'), {
        list: 'felony',
        format: 'lines',
        category: 'armed robbery suspect vehicle',
        priority: 1,
        user: 'ada',
      });
    } finally {
      store.close();
    }
    await page.waitForFunction(() => document.getElementById('plate')?.textContent?.startsWith('5KDW837'), undefined, { timeout: 30_000 });
    await page.waitForFunction(() => {
      const img = document.getElementById('crop') as HTMLImageElement | null;
      return !!img && img.complete && img.naturalWidth > 0;
    });
    expect(await page.textContent('.notice')).toMatch(/UNVERIFIED HIT: confirm .*CLETS.* before any enforcement action/);
    expect(await page.textContent('#list')).toBe('felony');
    expect(await page.textContent('#reason')).toBe('armed robbery suspect vehicle');
    expect(await page.evaluate(() => document.body.dataset.beeps)).toBe('1');
    expect(await page.locator('#queue li').count()).toBe(1);
    await page.waitForFunction(() => {
      const img = document.getElementById('frame') as HTMLImageElement | null;
      return !!img && img.complete && img.naturalWidth > 0;
    });
    await shot(page, 'alerts');
    const [alert] = query<{ id: string; ack_at: number | null }>(`SELECT id, ack_at FROM alerts WHERE payload LIKE '%5KDW837%'`);
    expect(alert!.ack_at).toBeNull();
    // the images were looked at through the screens: logged with the alert
    const images = query<{ user_name: string; query: string }>(`SELECT user_name, query FROM access_log WHERE action = 'alert-image'`);
    expect(images.map((r) => [r.user_name, JSON.parse(r.query).image])).toEqual(expect.arrayContaining([['olly', 'crop'], ['olly', 'frame']]));

    // a request without the CSRF token changes nothing, and is logged
    const noCsrf = await page.evaluate(async (id) => {
      const r = await fetch(`/api/alerts/${id}/answer`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ accepted: true }) });
      return r.status;
    }, alert!.id);
    expect(noCsrf).toBe(403);
    // nor one without a session at all
    const anonymous = await fetch(`${base}/api/alerts/${alert!.id}/answer`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"accepted":true}' });
    expect(anonymous.status).toBe(401);
    expect(query<{ ack_at: number | null }>(`SELECT ack_at FROM alerts WHERE id = ?`, alert!.id)[0]!.ack_at).toBeNull();
    expect(query(`SELECT id FROM alert_events WHERE alert_id = ? AND kind = 'ack'`, alert!.id)).toHaveLength(0);
    const refusals = query<{ user_name: string; result: string }>(`SELECT user_name, result FROM access_log WHERE outcome = 'refused' AND action IN ('alert-answer', 'alerts.ack')`);
    expect(refusals.map((r) => [r.user_name, JSON.parse(r.result).reason])).toEqual(
      expect.arrayContaining([
        ['olly', 'missing or wrong CSRF token'],
        ['(not signed in)', 'not signed in'],
      ]),
    );

    // reloaded mid-alert: the alert is still there, unanswered
    await page.reload();
    await page.waitForFunction(() => document.getElementById('plate')?.textContent?.startsWith('5KDW837'));
    await page.click('#night');
    await shot(page, 'alerts-night');
    await page.click('#night');

    // answered with the keyboard
    await page.keyboard.press('a');
    await page.waitForSelector('.empty');
    const answered = query<{ ack_accepted: number; ack_by: string; ack_channel: string }>(`SELECT ack_accepted, ack_by, ack_channel FROM alerts WHERE id = ?`, alert!.id)[0]!;
    expect(answered).toEqual({ ack_accepted: 1, ack_by: 'olly', ack_channel: 'ui' });
    const events = query<{ channel: string; detail: string }>(`SELECT channel, detail FROM alert_events WHERE alert_id = ? AND kind = 'ack'`, alert!.id);
    expect(events.map((e) => [e.channel, JSON.parse(e.detail)])).toEqual([['ui', { accepted: true, by: 'olly' }]]);
    await page.context().close();
  });

  it('officer on a touch screen: a second hit is rejected with a reason by taps, recorded with the reason', async () => {
    const context = await browser!.newContext({ viewport: { width: 1024, height: 768 }, hasTouch: true });
    const page = await context.newPage();
    await page.goto(`${base}/login`);
    await page.waitForFunction(() => document.body.dataset.ready === '1');
    await page.fill('#name', 'olly');
    await page.fill('#password', PASSWORD);
    await page.tap('button[type=submit]');
    await page.waitForFunction(() => document.body.dataset.page === 'alerts' && document.body.dataset.ready === '1');
    await page.waitForSelector('#link.ok');
    await until(() => query(`SELECT id FROM reads WHERE plate = '6TRJ244'`).length > 0, 90_000, 'a read of 6TRJ244', unitTail);
    const store = ReadStore.open(dataDir, { clock: systemClock, imageBudgetBytes: 1e9 });
    try {
      Hotlists.open(store.database, { config: configSchema.parse({}).hotlists, clock: systemClock }).importFile(Buffer.from('6TRJ244\n'), {
        list: 'warrants',
        format: 'lines',
        category: 'felony warrant',
        priority: 3,
        user: 'ada',
      });
    } finally {
      store.close();
    }
    await page.waitForFunction(() => document.getElementById('plate')?.textContent === '6TRJ244', undefined, { timeout: 30_000 });
    await page.tap('#reject');
    await page.waitForSelector('button[data-reason=NOT-MATCH]');
    await page.screenshot({ path: path.join(SCREENS, 'alerts-reject.png') });
    await page.tap('button[data-reason=NOT-MATCH]');
    await page.waitForFunction(() => /6TRJ244: rejected \(NOT-MATCH\)/.test(document.getElementById('message')?.textContent ?? ''));
    const [row] = query<{ id: string; ack_accepted: number; ack_reason: string; ack_by: string; ack_channel: string }>(
      `SELECT id, ack_accepted, ack_reason, ack_by, ack_channel FROM alerts WHERE payload LIKE '%6TRJ244%' AND suppressed IS NULL`,
    );
    expect(row).toMatchObject({ ack_accepted: 0, ack_reason: 'NOT-MATCH', ack_by: 'olly', ack_channel: 'ui' });
    const events = query<{ detail: string }>(`SELECT detail FROM alert_events WHERE alert_id = ? AND kind = 'ack' AND channel = 'ui'`, row!.id);
    expect(events.map((e) => JSON.parse(e.detail))).toEqual([{ accepted: false, reasonCode: 'NOT-MATCH', by: 'olly' }]);
    await context.close();
  });

  it('limits: an oversized body or header is refused before it reaches sign-in', async () => {
    const big = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'olly', password: 'x'.repeat(300 * 1024) }) });
    expect(big.status).toBe(413);
    const header = await fetch(`${base}/login`, { headers: { 'X-Filler': 'y'.repeat(20 * 1024) } }).then((r) => r.status).catch(() => 'closed');
    expect([431, 'closed']).toContain(header);
    // a form post (what a cross-site page can send without asking) is not even parsed
    const form = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'name=olly&password=x' });
    expect(form.status).toBe(415);
    const logins = query<{ n: number }>(`SELECT count(*) AS n FROM access_log WHERE action = 'login' AND user_name = 'olly' AND outcome = 'refused'`);
    expect(logins[0]!.n).toBe(1); // only the wrong password of the first test
  });

  it('officer: cannot reach search, by the page or the API; the attempts are logged', async () => {
    const page = await signedIn('olly');
    const res = await page.goto(`${base}/search`);
    expect(res!.status()).toBe(403);
    await page.waitForFunction(() => document.body.dataset.ready === '1');
    expect(await page.textContent('main')).toMatch(/may not open this screen/);
    const api = await page.evaluate(async () => {
      const s = (await (await fetch('/api/session')).json()) as { csrf: string };
      const r = await fetch('/api/search', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf }, body: JSON.stringify({ purpose: 'x investigation', caseNumber: '26-1', plate: '5KDW837' }) });
      return { status: r.status, body: (await r.json()) as { error: string } };
    });
    expect(api.status).toBe(403);
    expect(api.body.error).toMatch(/role officer may not search stored reads/);
    const refused = query<{ action: string }>(`SELECT action FROM access_log WHERE user_name = 'olly' AND outcome = 'refused' AND action = 'reads.search'`);
    expect(refused.length).toBeGreaterThanOrEqual(2);
    await page.context().close();
  });

  it('data user: a search without a case number is refused; with one, the reads come back with crops and a frame, all logged', async () => {
    const page = await signedIn('dana', totpCode(dataUserSecret, Date.now()));
    expect(new URL(page.url()).pathname).toBe('/search');
    await page.fill('#purpose', 'stolen vehicle investigation');
    await page.fill('#plate', '5KDW837');
    await page.click('#search');
    await page.waitForFunction(() => /refused/.test(document.getElementById('message')?.textContent ?? ''));
    expect(await page.locator('#results tr').count()).toBe(0);
    const refused = query<{ result: string }>(`SELECT result FROM access_log WHERE user_name = 'dana' AND action = 'search' AND outcome = 'refused'`);
    expect(refused).toHaveLength(1);

    await page.fill('#case', '26-004512');
    await page.click('#search');
    await page.waitForSelector('#results tr[data-read]');
    await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('#results img.thumb')].every((i) => i.complete && i.naturalWidth > 0));
    await page.click('#results tr[data-read]');
    await page.waitForFunction(() => {
      const img = document.getElementById('read-frame') as HTMLImageElement | null;
      return !!img && img.complete && img.naturalWidth > 0;
    });
    await shot(page, 'search');
    const ok = query<{ action: string; purpose: string; case_number: string }>(`SELECT action, purpose, case_number FROM access_log WHERE user_name = 'dana' AND outcome = 'ok' AND action IN ('search', 'show', 'image')`);
    expect(new Set(ok.map((r) => r.action))).toEqual(new Set(['search', 'show', 'image']));
    expect(ok.every((r) => r.case_number === '26-004512' && r.purpose === 'stolen vehicle investigation')).toBe(true);

    // a release request of what the search selects, recorded for an admin's approval
    await page.click('.release summary');
    await page.fill('#agency', 'Hawthorne PD');
    await page.fill('#requester', 'Det. R. Diaz');
    await page.click('#request-release');
    await page.waitForFunction(() => /needs the approval of an admin/.test(document.getElementById('release-message')?.textContent ?? ''));
    const releases = query<{ requested_by: string; agency: string; case_number: string; selector: string }>(`SELECT * FROM releases`);
    expect(releases).toHaveLength(1);
    expect(releases[0]).toMatchObject({ requested_by: 'dana', agency: 'Hawthorne PD', case_number: '26-004512' });
    expect(JSON.parse(releases[0]!.selector)).toMatchObject({ plate: '5KDW837' });

    // the plate's hot list hits, with what the officer answered to the alert (the first test accepted it; the
    // camera's later reads of the plate are hits whose alerts were not sent again)
    await page.click('#hits');
    await page.waitForFunction(() => /hit\(s\)|refused/.test(document.getElementById('message')?.textContent ?? ''));
    expect(await page.locator('#results th').allTextContents()).toEqual(['Plate', 'Seen', 'List', 'Match', 'Answer']);
    expect(new Set(await page.locator('#results tbody td.plate').allTextContents())).toEqual(new Set(['5KDW837']));
    const answers = await page.locator('#results tbody td:nth-child(5)').allTextContents();
    expect(answers.filter((a) => /^accepted by /.test(a))).toHaveLength(1);
    await page.context().close();
  });

  it("technician: the console shows the unit's status and the live view with the plate boxed; config check points at the bad line", async () => {
    const page = await signedIn('tess');
    expect(new URL(page.url()).pathname).toBe('/console');
    await page.waitForFunction(() => Number(document.querySelector('#cam-front .boxes')?.getAttribute('data-count') ?? '0') > 0, undefined, { timeout: 30_000 });
    expect(await page.textContent('#status')).toMatch(/car-7: running/);
    await shot(page, 'console');
    await page.fill('#config-text', 'unit: { id: car-7 }\ncameras:\n  - { id: front, type: replay, source: /x, fps: 900 }\nsurprise: 1\n');
    await page.click('#check');
    await page.waitForSelector('#problems li');
    const problems = await page.locator('#problems li').allTextContents();
    expect(problems.join('\n')).toMatch(/line 3.*fps/);
    expect(problems.join('\n')).toMatch(/line 4.*surprise/);
    await page.locator('#problems').scrollIntoViewIfNeeded();
    await shot(page, 'config-check');
    // the technician may not see stored reads
    const api = await page.evaluate(async () => (await fetch('/api/reads/1?purpose=x&case=1')).status);
    expect(api).toBe(403);
    await page.context().close();
  });

  it('the alert stream catches up: reconnecting with Last-Event-ID names the alerts raised while the screen was away', async () => {
    const login = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'olly', password: PASSWORD }) });
    expect(login.status).toBe(200);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const [hit] = query<{ id: string; seq: number }>(`SELECT id, seq FROM alerts WHERE suppressed IS NULL ORDER BY seq DESC LIMIT 1`);
    const firstEvent = async (lastEventId: number) => {
      const ac = new AbortController();
      const res = await fetch(`${base}/api/alerts/stream`, { headers: { Cookie: cookie, 'Last-Event-ID': String(lastEventId) }, signal: ac.signal });
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const reader = res.body!.getReader();
      let text = '';
      while (!/event: queue\ndata: .*\n\n/.test(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      ac.abort();
      const m = /id: (\d+)\nevent: queue\ndata: (.*)\n\n/.exec(text)!;
      return { id: Number(m[1]), data: JSON.parse(m[2]!) as { alerts: Array<{ id: string }>; missed: string[] } };
    };
    const away = await firstEvent(hit!.seq - 1);
    expect(away.data.missed).toContain(hit!.id);
    expect(away.id).toBeGreaterThanOrEqual(hit!.seq);
    const current = await firstEvent(hit!.seq);
    expect(current.data.missed).not.toContain(hit!.id);
    // each stream opened is in the access log with what it caught up on
    const opened = query<{ query: string; result: string }>(`SELECT query, result FROM access_log WHERE action = 'alerts-stream' AND user_name = 'olly'`);
    expect(opened.some((r) => JSON.parse(r.query).lastEventId === hit!.seq - 1 && JSON.parse(r.result).caughtUp.includes(hit!.id))).toBe(true);
  });

  it('an open alert stream ends when its session does (signed out elsewhere): it is told, then closed', async () => {
    const login = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'olly', password: PASSWORD }) });
    const { csrf } = (await login.json()) as { csrf: string };
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const res = await fetch(`${base}/api/alerts/stream`, { headers: { Cookie: cookie } });
    const reader = res.body!.getReader();
    let text = '';
    const out = await fetch(`${base}/api/logout`, { method: 'POST', headers: { Cookie: cookie, 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, body: '{}' });
    expect(out.status).toBe(200);
    // the stream checks its session at its next heartbeat (15 s)
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    expect(text).toMatch(/event: ended\ndata: .*session has ended/);
  }, 60_000);

  it('sign-out ends the session: its cookie no longer opens anything', async () => {
    const page = await signedIn('olly');
    const [cookie] = await page.context().cookies();
    await page.click('#signout');
    await page.waitForURL(/\/login$/);
    const r = await fetch(`${base}/api/alerts`, { headers: { Cookie: `${cookie!.name}=${cookie!.value}` } });
    expect(r.status).toBe(401);
    expect(existsSync(path.join(SCREENS, 'alerts.png'))).toBe(true);
    await page.context().close();
  });
});

describe('the ui section of the config', () => {
  it('refuses screens on a non-loopback address without a certificate and key, naming the key and its line', () => {
    const text = 'unit: { id: car-7 }\nui:\n  enabled: true\n  host: 0.0.0.0\n';
    let problems: ConfigProblem[] = [];
    try {
      parseConfig(text, 'unit.yaml');
    } catch (err) {
      problems = (err as ConfigError).problems;
    }
    expect(problems).toEqual([expect.objectContaining({ key: 'ui.host', line: 4, message: expect.stringMatching(/certFile and keyFile \(HTTPS\)/) })]);
    // loopback, or with both files: accepted
    expect(parseConfig('ui: { enabled: true, host: 127.0.0.1 }\n', 'unit.yaml').ui.enabled).toBe(true);
    expect(parseConfig('ui: { enabled: true, host: 0.0.0.0, certFile: /etc/alpr-edge/ui.pem, keyFile: /etc/alpr-edge/ui.key }\n', 'unit.yaml').ui.host).toBe('0.0.0.0');
    expect(() => parseConfig('ui: { certFile: /a.pem }\n', 'unit.yaml')).toThrow(/certFile and keyFile go together/);
  });
});

describe('the screens over HTTPS', { timeout: 120_000 }, () => {
  it('the session cookie is __Host-, Secure, HttpOnly and SameSite=Strict; HSTS is sent; plain HTTP gets nothing', async () => {
    const tlsDir = mkdtempSync(path.join(tmpdir(), 'alpr-ui-tls-'));
    let proc: ChildProcess | undefined;
    let log = '';
    try {
      const pki = makePki(path.join(tlsDir, 'pki'));
      const data = path.join(tlsDir, 'data');
      const port = await freePort();
      const configFile = path.join(tlsDir, 'unit.yaml');
      writeFileSync(
        configFile,
        `unit: { id: car-8, agency: TEST }
data: { dir: ${JSON.stringify(data)} }
gps: { source: fixed, latitude: 34.05, longitude: -118.25 }
ui: { enabled: true, host: 127.0.0.1, port: ${port}, certFile: ${JSON.stringify(pki.server.certFile)}, keyFile: ${JSON.stringify(pki.server.keyFile)} }
`,
      );
      const store = ReadStore.open(data, { clock: systemClock, imageBudgetBytes: 1e8 });
      try {
        const alog = new AccessLog(store.database, loadAuditKey(data), systemClock);
        const { totp } = await addUser(store.database, alog, 'bootstrap', { name: 'ada', agency: 'TEST', role: 'admin', password: PASSWORD });
        const r = await signIn(store.database, alog, { name: 'ada', password: PASSWORD, totp: totpCode(totp!.secret, Date.now()) });
        if (!r.ok) throw new Error(r.message);
        await addUser(store.database, alog, r.principal, { name: 'olly', agency: 'TEST', role: 'officer', password: PASSWORD });
      } finally {
        store.close();
      }
      proc = spawn(process.execPath, [MAIN, 'run', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
      proc.stdout!.on('data', (d: Buffer) => (log += d.toString()));
      proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
      const request = (method: string, p: string, body?: string, headers: Record<string, string> = {}) =>
        new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
          const req = httpsRequest(
            { host: '127.0.0.1', port, path: p, method, ca: pki.ca.cert, servername: 'localhost', headers: { ...(body ? { 'Content-Type': 'application/json' } : {}), ...headers } },
            (res) => {
              let text = '';
              res.on('data', (d: Buffer) => (text += d.toString()));
              res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
            },
          );
          req.on('error', reject);
          req.end(body);
        });
      await until(() => request('GET', '/login').then((r) => r.status === 200).catch(() => false), 60_000, 'the HTTPS screens', () => `${log}\n${unitTail()}`);
      const login = await request('POST', '/api/login', JSON.stringify({ name: 'olly', password: PASSWORD }));
      expect(login.status).toBe(200);
      const setCookie = String(login.headers['set-cookie']);
      expect(setCookie).toMatch(/^__Host-alpr-session=[A-Za-z0-9_-]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/);
      expect(login.headers['strict-transport-security']).toMatch(/max-age=\d+/);
      const session = await request('GET', '/api/session', undefined, { Cookie: setCookie.split(';')[0]! });
      expect(JSON.parse(session.body)).toMatchObject({ user: 'olly', role: 'officer' });
      // the same port over plain HTTP: no page, no data
      const plain = await fetch(`http://127.0.0.1:${port}/login`).then((r) => r.status).catch(() => 'refused');
      expect(plain === 'refused' || plain === 400).toBe(true);
    } finally {
      proc?.kill('SIGKILL');
      rmSync(tlsDir, { recursive: true, force: true });
    }
  });
});

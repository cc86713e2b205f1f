import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminSession } from './session-helper.js';

/**
 * `alpr-edge hotlist ...` as a technician runs it: the compiled CLI in child processes on one data folder.
 * The test command builds before testing (npx tsc --project tsconfig.build.json).
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const FIX = 'test-fixtures/hotlists';
const STACK_LINE = /^\s+at .+[(:]/m;

let tmp: string;
let configFile: string;
/** The session of sgt.lopez, an administrator: hot list commands need a signed-in user with the right role. */
let session = '';

function cli(...args: string[]) {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ALPR_EDGE')) env[k] = v;
  if (session) env.ALPR_EDGE_SESSION = session;
  const r = spawnSync(process.execPath, [MAIN, ...args, '--config', configFile], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface JsonHit {
  list: string;
  plate: string;
  how: string;
  entryId: number;
  why: string;
}
const testJson = (...args: string[]) => JSON.parse(cli('hotlist', 'test', '--json', ...args).stdout) as { plate: string; hits: JsonHit[] };
const lsJson = () =>
  JSON.parse(cli('hotlist', 'ls', '--json').stdout) as { lists: Array<{ name: string; entries: number; manualEntries: number; version: { id: number } | null }> };

beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${path.relative(ROOT, MAIN)} is missing: build first with \`npx tsc --project tsconfig.build.json\``);
  tmp = mkdtempSync(path.join(tmpdir(), 'alpr-hotlist-cli-'));
  configFile = path.join(tmp, 'unit.yaml');
  writeFileSync(
    configFile,
    [
      'data:',
      `  dir: ${path.join(tmp, 'data')}`,
      'hotlists:',
      '  lists:',
      '    - name: stolen',
      '      format: csv',
      '      priority: 1',
      '      columns: { plate: Plate, state: State, reason: Reason, caseNumber: Case }',
      '',
    ].join('\n'),
  );
  // without a session nothing works, whatever the OS user
  const none = cli('hotlist', 'ls');
  expect(none.status).toBe(1);
  expect(none.stderr).toContain('not signed in');
  session = await adminSession(path.join(tmp, 'data'), 'sgt.lopez');
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('alpr-edge hotlist', () => {
  it('imports, skips an unchanged file, rejects a broken one with its lines and keeps the list, then tests plates', () => {
    const first = cli('hotlist', 'import', `${FIX}/stolen.csv`, '--list', 'stolen');
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^list stolen: version \d+ imported from test-fixtures\/hotlists\/stolen.csv: 3 entries/);

    const again = cli('hotlist', 'import', `${FIX}/stolen.csv`, '--list', 'stolen');
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/is unchanged since version \d+ \(3 entries\): nothing imported/);

    const bad = cli('hotlist', 'import', `${FIX}/broken/stolen-bad.csv`, '--list', 'stolen');
    expect(bad.status).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain(`${FIX}/broken/stolen-bad.csv:3: a quoted field is not closed`);
    expect(bad.stderr).toContain(`${FIX}/broken/stolen-bad.csv:4: 3 field(s); the header has 5`);
    expect(bad.stderr).toContain(`${FIX}/broken/stolen-bad.csv:5: state "CALIFORNIA" is not a two-letter code`);
    expect(bad.stderr).toMatch(/rejected \(3 problem\(s\)\); list stolen is unchanged/);
    expect(bad.stderr).not.toMatch(STACK_LINE);
    expect(lsJson().lists).toMatchObject([{ name: 'stolen', entries: 3 }]);

    const t = testJson('5KDW837');
    expect(t.hits).toMatchObject([{ list: 'stolen', plate: '5KDW837', how: 'exact' }]);
    const human = cli('hotlist', 'test', '5K0W837');
    expect(human.stdout).toContain('list stolen (stolen, priority 1)');
    expect(human.stdout).toContain('equivalent: the read 5K0W837 is the entry with OCR-equivalent characters (0 for D at 3)');
  });

  it('a partial plate added by a named user with a case number matches, and stops at once when cancelled', () => {
    const add = cli('hotlist', 'add', '7ab?12*', '--list', 'partials', '--reason', 'armed robbery, witness partial', '--case', '26-004512', '--user', 'sgt.lopez', '--state', 'ca');
    expect(add.status, add.stderr).toBe(0);
    const id = Number(/entry #(\d+) added to list partials: 7AB\?12\* \(partial plate\) CA, case 26-004512, by sgt.lopez/.exec(add.stdout)?.[1]);
    expect(id).toBeGreaterThan(0);

    const t = testJson('7A8X12', '--candidates', '7ABX12');
    expect(t.hits).toMatchObject([{ list: 'partials', plate: '7AB?12*', how: 'wildcard', entryId: id }]);
    expect(t.hits[0]!.why).toBe('the read 7A8X12 fits the partial plate 7AB?12*');

    const ls = cli('hotlist', 'ls', 'partials');
    expect(ls.stdout).toMatch(new RegExp(`#${id}  7AB\\?12\\*  CA  manual  case 26-004512  "armed robbery, witness partial"  added by sgt.lopez`));

    const cancel = cli('hotlist', 'cancel', String(id), '--user', 'sgt.lopez', '--reason', 'suspect vehicle found');
    expect(cancel.status, cancel.stderr).toBe(0);
    expect(cancel.stdout).toContain(`entry #${id} (7AB?12*, list partials) cancelled by sgt.lopez: suspect vehicle found`);
    expect(testJson('7ABX12').hits).toEqual([]);
    expect(cli('hotlist', 'ls', 'partials').stdout).toContain('CANCELLED');

    const twice = cli('hotlist', 'cancel', String(id), '--reason', 'y');
    expect(twice.status).toBe(1);
    expect(twice.stderr).toMatch(/already cancelled .* by sgt\.lopez/);
  });

  it('usage errors exit 2 and say what is missing; a list with no format in the config needs --format', () => {
    const noCase = cli('hotlist', 'add', '7ABC123', '--list', 'partials', '--reason', 'r');
    expect(noCase.status).toBe(2);
    expect(noCase.stderr).toContain('--case is required');
    const badFormat = cli('hotlist', 'import', `${FIX}/plates.txt`, '--list', 'x', '--format', 'xml');
    expect(badFormat.status).toBe(2);
    expect(badFormat.stderr).toContain('--format must be one of ncic, ca-doj, csv, lines');
    const unknown = cli('hotlist', 'frob');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('unknown hotlist command "frob"');
    const noFormat = cli('hotlist', 'import', `${FIX}/plates.txt`, '--list', 'other');
    expect(noFormat.status).toBe(1);
    expect(noFormat.stderr).toContain('list other is not in hotlists.lists of the config: give its --format');
    const missing = cli('hotlist', 'import', `${FIX}/nope.txt`, '--list', 'other', '--format', 'lines');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/cannot read test-fixtures\/hotlists\/nope.txt: ENOENT/);
    for (const r of [noCase, badFormat, unknown, noFormat, missing]) expect(r.stderr).not.toMatch(STACK_LINE);
  });

  it('purge reports what it deleted; the usage lists the hotlist commands', () => {
    const p = cli('hotlist', 'purge');
    expect(p.status).toBe(0);
    expect(p.stdout).toMatch(/^purged 0 expired list\(s\) and 0 expired entries/);
    const help = cli('help');
    expect(help.stdout).toContain('alpr-edge hotlist import FILE --list NAME');
    expect(help.stdout).toContain('alpr-edge hotlist test PLATE');
  });
});

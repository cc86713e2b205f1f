import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Every command explains itself (issue #14): the compiled command line, run as a technician would on a unit with
 * no config file, nobody signed in and no database: `--help` and `-h` on every command and subcommand the
 * top-level help lists, mistyped commands and options, the bash completion, and the README's command table.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const STACK_LINE = /^\s+at .+:\d+:\d+\)?$/m;

interface Run {
  args: string[];
  status: number | null;
  stdout: string;
  stderr: string;
}

let dir: string;
let cwd: string;
let home: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'alpr-help-'));
  cwd = path.join(dir, 'cwd');
  home = path.join(dir, 'home');
  mkdirSync(cwd);
  mkdirSync(home);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** No ALPR_EDGE settings (no config, no session, no data folder from the environment); HOME is an empty folder. */
function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ALPR_EDGE') && !k.startsWith('XDG_')) e[k] = v;
  return { ...e, HOME: home };
}

function cli(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ args, status, stdout, stderr }));
  });
}

/** Runs the command lines a few at a time, in their order. */
async function clis(lines: string[][], parallel = 4): Promise<Run[]> {
  const runs: Run[] = new Array<Run>(lines.length);
  let next = 0;
  const worker = async () => {
    while (next < lines.length) {
      const i = next++;
      runs[i] = await cli(lines[i]!);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return runs;
}

/** The commands the top-level help lists, each as its words: ['run'], ['hotlist', 'import'], ... */
function listedCommands(help: string): string[][] {
  const seen = new Map<string, string[]>();
  for (const line of help.split('\n')) {
    const m = /^ {2}alpr-edge (.*)$/.exec(line);
    if (!m) continue;
    const words: string[] = [];
    // the usage, then (after two spaces or more) what the command does
    for (const w of m[1]!.split(/ {2,}/)[0]!.split(' ')) {
      if (!/^[a-z][a-z-]*$/.test(w)) break;
      words.push(w);
    }
    seen.set(words.join(' '), words);
  }
  return [...seen.values()];
}

/** Nothing was written where the commands ran, and no session folder was made. */
function expectNothingWritten(): void {
  expect(readdirSync(cwd)).toEqual([]);
  expect(readdirSync(home)).toEqual([]);
}

describe('every command explains itself', () => {
  let topHelp: string;
  let commands: string[][];

  beforeAll(async () => {
    const r = await cli(['help']);
    expect(r.status, r.stderr).toBe(0);
    topHelp = r.stdout;
    commands = listedCommands(topHelp);
  });

  it('`help`, `--help` and `-h` print the list of every command with what it does; exit 0', async () => {
    expect(topHelp).toMatch(/^alpr-edge: licence plate reader runtime/);
    expect(topHelp).toContain('usage: alpr-edge COMMAND');
    const words = commands.map((c) => c.join(' '));
    for (const c of ['run', 'status', 'hotlist import', 'hotlist test', 'search', 'hold place', 'key create', 'central serve', 'config check', 'completion bash']) {
      expect(words).toContain(c);
    }
    for (const r of await clis([['--help'], ['-h']])) {
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe(topHelp);
    }
  });

  it('every command and subcommand answers --help and -h with its usage, options, defaults and an example; exit 0, nothing written', async () => {
    const parents = [...new Set(commands.filter((c) => c.length > 1).map((c) => c[0]!))].map((p) => [p]);
    const all = [...parents, ...commands];
    expect(all.length).toBeGreaterThan(50);
    const lines = all.flatMap((c) => [
      [...c, '--help'],
      [...c, '-h'],
    ]);
    for (const r of await clis(lines)) {
      const name = r.args.filter((a) => !a.startsWith('-')).join(' ');
      const what = `alpr-edge ${r.args.join(' ')}`;
      expect(r.status, `${what}: ${r.stderr}`).toBe(0);
      expect(r.stderr, what).toBe('');
      expect(r.stdout, what).toMatch(new RegExp(`^usage: alpr-edge ${name}\\b`));
      expect(r.stdout, what).toContain('\noptions:\n');
      expect(r.stdout, what).toContain('-h, --help');
      expect(r.stdout, what).toMatch(/\nexamples?:\n {2}alpr-edge \S/);
    }
    expectNothingWritten();
  }, 240_000); // over a hundred processes: minutes on a busy two-core machine

  it('an option shows its default', async () => {
    const [serve, report, terminal] = await clis([
      ['central', 'serve', '--help'],
      ['audit', 'report', '-h'],
      ['terminal', '--help'],
    ]);
    expect(serve!.stdout).toMatch(/--listen HOST:PORT +where to listen \(default: 127\.0\.0\.1:8443\)/);
    expect(report!.stdout).toMatch(/--format csv\|json .*\(default: json\)/);
    expect(terminal!.stdout).toMatch(/--baud N .*\(default: 115200\)/);
  });

  it('--help anywhere in the arguments comes first: no key file written, no session asked for, no config read', async () => {
    const runs = await clis([
      ['key', 'create', '--help'],
      ['key', 'create', 'data.key', '--help'],
      ['key', 'create', 'data.key', '-h'],
      ['hotlist', 'ls', '--help'],
      ['hotlist', 'add', '7ABC123', '--list', 'stolen', '--reason', 'r', '-h'],
      ['search', '--plate', '7ABC*', '--purpose', 'p', '--help'],
      ['user', 'add', 'dan', '--help', '--role', 'officer'],
      ['status', '--config', path.join(dir, 'no-such-config.yaml'), '--help'],
      ['run', '--help', '--config', path.join(dir, 'no-such-config.yaml')],
      ['central', 'ls', '--data', path.join(cwd, 'central'), '--help'],
    ]);
    for (const r of runs) {
      expect(r.status, `${r.args.join(' ')}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/^usage: alpr-edge /);
      expect(r.stderr).toBe('');
    }
    expect(runs[1]!.stdout).toContain('usage: alpr-edge key create FILE');
    expect(runs[4]!.stdout).toContain('usage: alpr-edge hotlist add PLATE --list NAME');
    expect(runs[5]!.stdout).not.toContain('not signed in');
    expectNothingWritten();
  });

  it('an unknown command, subcommand or option exits 2 and names the nearest valid one, before a session or the database', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['search', '--plte', '7ABC123', '--purpose', 'p', '--case', '1'], /unknown option '--plte'; did you mean '--plate'\?/],
      [['hotlist', 'ls', '--jsno'], /unknown option '--jsno'; did you mean '--json'\?/],
      [['hold', 'place', '--plate', '7ABC123', '--reson', 'r'], /unknown option '--reson'; did you mean '--reason'\?/],
      [['sync', 'now', '--jason'], /unknown option '--jason'; did you mean '--json'\?/],
      [['central', 'serve', '--dta', path.join(cwd, 'c')], /unknown option '--dta'; did you mean '--data'\?/],
      [['run', '--print-read'], /unknown option '--print-read'; did you mean '--print-reads'\?/],
      [['hotlist', 'imprt', 'plates.txt'], /unknown hotlist command "imprt"; did you mean "import"\?/],
      [['user', 'reset-pasword', 'dan'], /unknown user command "reset-pasword"; did you mean "reset-password"\?/],
      [['key', 'craete', 'data.key'], /unknown key command "craete"; did you mean "create"\?/],
      [['hotlst', 'ls'], /unknown command "hotlst"; did you mean "hotlist"\?/],
      [['stauts'], /unknown command "stauts"; did you mean "status"\?/],
      [['help', 'serch'], /unknown command "serch"; did you mean "search"\?/],
      // nothing near: the valid ones are named instead
      [['hotlist', 'frob'], /unknown hotlist command "frob"; the hotlist commands are import, ls, add, cancel, test, purge/],
    ];
    const runs = await clis(cases.map(([args]) => args));
    runs.forEach((r, i) => {
      const what = `alpr-edge ${r.args.join(' ')}`;
      expect(r.status, `${what}: ${r.stderr}`).toBe(2);
      expect(r.stderr, what).toMatch(cases[i]![1]);
      expect(r.stderr, what).toContain('usage: ');
      expect(r.stderr, what).not.toMatch(STACK_LINE);
      expect(r.stderr, what).not.toContain('not signed in');
      expect(r.stdout, what).toBe('');
    });
    expectNothingWritten();
  });

  it('`completion bash` names every command, subcommand and option, and completes them in bash', async () => {
    const r = await cli(['completion', 'bash']);
    expect(r.status, r.stderr).toBe(0);
    for (const c of commands) for (const w of c) expect(r.stdout).toContain(w);
    expect(r.stdout).toContain('--purpose');
    expect(r.stdout).toContain('complete -o filenames -F _alpr_edge alpr-edge');
    const script = path.join(dir, 'completion.bash');
    const complete = (...words: string[]) => {
      const b = spawnSync(
        'bash',
        ['-c', `source "$0"; COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); _alpr_edge; echo "\${COMPREPLY[*]}"`, script, 'alpr-edge', ...words],
        { encoding: 'utf8', input: '' },
      );
      expect(b.stderr).toBe('');
      return b.stdout.trim().split(/\s+/);
    };
    // the script as a file outside cwd, so that cwd stays empty
    writeFileSync(script, r.stdout);
    expect(complete('hotl')).toEqual(['hotlist']);
    expect(complete('hotlist', 'imp')).toEqual(['import']);
    expect(complete('hotlist', 'import', 'plates.txt', '--fo')).toEqual(['--format']);
    expect(complete('hotlist', 'import', 'plates.txt', '--format', '')).toEqual(['ncic', 'ca-doj', 'csv', 'lines']);
    expect(complete('search', '--pur')).toEqual(['--purpose']);
    expect(complete('')).toEqual(expect.arrayContaining([...new Set(commands.map((c) => c[0]!))]));
    expectNothingWritten();
  });

  it("docs/commands.md's command table is what the commands' table generates (`help --markdown`), and lists every command", async () => {
    const r = await cli(['help', '--markdown']);
    expect(r.status, r.stderr).toBe(0);
    const doc = readFileSync(path.join(ROOT, 'docs', 'commands.md'), 'utf8');
    const m = /<!-- commands:[^\n]*-->\n([\s\S]*?)<!-- end of commands -->/.exec(doc);
    expect(m, 'docs/commands.md has no <!-- commands: ... --> ... <!-- end of commands --> block').not.toBeNull();
    expect(m![1], "docs/commands.md's command table differs from the source: run `node dist/src/cli/main.js help --markdown` and paste it between the markers").toBe(r.stdout);
    for (const c of commands) expect(r.stdout).toContain(`| \`alpr-edge ${c.join(' ')}`);
  });

  it('every alpr-edge command written in the README and docs/ names a real command, subcommand and options', async () => {
    const { findCommand, resolveCommand } = await import('../src/cli/help.js');
    const files = ['README.md', 'systemd/README.md', ...readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    let checked = 0;
    const wrong: string[] = [];
    for (const file of files) {
      const text = readFileSync(path.join(ROOT, file), 'utf8');
      // commands in code blocks, and in `inline code` that starts with alpr-edge
      const blocks = [...text.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].flatMap((b) => b[1]!.split('\n'));
      const inline = [...text.matchAll(/`((?:sudo )?alpr-edge [^`]+)`/g)].map((x) => x[1]!);
      for (const raw of [...blocks, ...inline]) {
        const line = raw.replace(/^\s*(\$ )?(sudo )?/, '');
        if (!line.startsWith('alpr-edge ')) continue;
        // words up to a shell operator or a comment; quoted words kept whole; placeholders (CAPITALS, <..>) stay words
        const words = [...line.slice('alpr-edge '.length).split(/\s+(?:#|\||>|&&|;)/)[0]!.matchAll(/"[^"]*"|'[^']*'|\S+/g)].map((w) => w[0]);
        // program output ("alpr-edge demo: ..."), placeholders (COMMAND, ...)
        if (words.length === 0 || words[0]!.endsWith(':') || /^[A-Z.]+$/.test(words[0]!) || words[0]!.includes('...')) continue;
        const spec = findCommand(words[0]!);
        if (!spec) {
          wrong.push(`${file}: ${raw.trim()}: no command ${words[0]}`);
          continue;
        }
        const args = words.slice(1).filter((w) => w !== '--config' && !w.startsWith('--config='));
        if (args.length === 0 && spec.subcommands) {
          checked++; // a command group named in prose (`alpr-edge hotlist`)
          continue;
        }
        try {
          if (!args.includes('--help') && !args.includes('-h')) resolveCommand(spec, args);
          checked++;
        } catch (err) {
          wrong.push(`${file}: ${raw.trim()}: ${(err as Error).message.split('\n')[0]}`);
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(40);
  });
});

describe('the benchmark and generator scripts explain themselves too', () => {
  // every script that takes options (make-fixtures takes none, and refuses any before it touches test-fixtures/)
  const scripts = readdirSync(path.join(ROOT, 'scripts')).filter(
    (f) => f.endsWith('.ts') && readFileSync(path.join(ROOT, 'scripts', f), 'utf8').includes('scriptArgs(import.meta.url'),
  );

  it('--help prints what each script does and how to call it; a mistyped option says what is wrong, exit 2, no stack trace', () => {
    expect(scripts.length).toBeGreaterThanOrEqual(12);
    for (const file of scripts) {
      const js = path.join(ROOT, 'dist', 'scripts', file.replace(/\.ts$/, '.js'));
      const help = spawnSync(process.execPath, [js, '--help'], { encoding: 'utf8', env: env(), timeout: 60_000 });
      expect(help.status, `${file} --help: ${help.stderr}`).toBe(0);
      // the first sentence of the script's own header comment
      const header = /\/\*\*\s*\n?\s*\*?\s*([^\n]+)/.exec(readFileSync(path.join(ROOT, 'scripts', file), 'utf8'))![1]!.trim();
      expect(help.stdout).toContain(header);
      const bad = spawnSync(process.execPath, [js, '--no-such-option'], { encoding: 'utf8', env: env(), timeout: 60_000 });
      expect(bad.status, file).toBe(2);
      expect(bad.stderr).toContain("Unknown option '--no-such-option'");
      expect(bad.stderr).toContain('--help');
      expect(bad.stderr).not.toMatch(STACK_LINE);
    }
  });
});

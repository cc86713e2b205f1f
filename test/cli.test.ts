import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The compiled command line as a user runs it: `node dist/src/cli/main.js ...` in a child process.
 * The test command builds before testing (npx tsc --project tsconfig.build.json).
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const FIXTURES = path.join(ROOT, 'test-fixtures');

interface ManifestEntry {
  file: string;
  country: string;
  plates: { text: string }[];
  conditions: string[];
}
const manifest = JSON.parse(readFileSync(path.join(FIXTURES, 'manifest.json'), 'utf8')) as ManifestEntry[];
const truthOf = (file: string) => manifest.find((e) => e.file === file)!.plates.map((p) => p.text);

// Two US frames (the CLI's default country) and a file that is not a complete image.
const GOOD_A = 'test-fixtures/plates/us-ca-blur-noise.jpg';
const GOOD_B = 'test-fixtures/plates/us-ca-1080p.jpg';
const BAD = 'test-fixtures/bad/truncated.jpg';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of the test run without any ALPR_EDGE settings, so that only what a test sets applies. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ALPR_EDGE')) env[k] = v;
  return { ...env, ...extra };
}

function cli(args: string[], extraEnv: Record<string, string> = {}): Run {
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    cwd: ROOT,
    env: cleanEnv(extraEnv),
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A stack trace line ("    at fn (file:1:2)"): a user should never see one for an expected failure. */
const STACK_LINE = /^\s+at .+[(:]/m;

function jsonLines(stdout: string): unknown[] {
  expect(stdout.endsWith('\n'), `stdout does not end with a newline: ${JSON.stringify(stdout)}`).toBe(true);
  return stdout
    .slice(0, -1)
    .split('\n')
    .map((line) => {
      try {
        return JSON.parse(line) as unknown;
      } catch {
        throw new Error(`stdout line is not JSON: ${JSON.stringify(line)}`);
      }
    });
}

const isBox = (b: unknown) =>
  typeof b === 'object' &&
  b !== null &&
  (['x', 'y', 'width', 'height'] as const).every((k) => Number.isFinite((b as Record<string, unknown>)[k]));

/** One image's result line: exactly the documented keys, with their types and ranges. */
function expectResultLine(obj: unknown, image: string, maxCandidates: number): { text: string }[] {
  expect(obj).toMatchObject({ image, ms: expect.any(Number), plates: expect.any(Array) });
  const o = obj as { image: string; ms: number; plates: Record<string, unknown>[] };
  expect(Object.keys(o).sort()).toEqual(['image', 'ms', 'plates']);
  expect(o.ms).toBeGreaterThanOrEqual(0);
  for (const p of o.plates) {
    const keys = Object.keys(p).filter((k) => k !== 'region').sort();
    expect(keys).toEqual(['box', 'candidates', 'confidence', 'text']);
    expect(p.text).toEqual(expect.stringMatching(/^[A-Z0-9]+$/));
    expect(typeof p.confidence).toBe('number');
    expect(p.confidence as number).toBeGreaterThanOrEqual(0);
    expect(p.confidence as number).toBeLessThanOrEqual(100);
    expect(isBox(p.box), `box ${JSON.stringify(p.box)}`).toBe(true);
    expect(Object.keys(p.box as object).sort()).toEqual(['height', 'width', 'x', 'y']);
    if ('region' in p) expect(typeof p.region).toBe('string');
    const cands = p.candidates as Record<string, unknown>[];
    expect(Array.isArray(cands)).toBe(true);
    expect(cands.length).toBeGreaterThanOrEqual(1);
    expect(cands.length).toBeLessThanOrEqual(maxCandidates);
    for (const c of cands) {
      expect(Object.keys(c).sort()).toEqual(['confidence', 'text']);
      expect(typeof c.text).toBe('string');
      expect(c.confidence as number).toBeGreaterThanOrEqual(0);
      expect(c.confidence as number).toBeLessThanOrEqual(100);
    }
    expect(cands[0]!.text).toBe(p.text);
  }
  return o.plates as { text: string }[];
}

let tmp: string;

beforeAll(() => {
  if (!existsSync(MAIN)) {
    throw new Error(`${path.relative(ROOT, MAIN)} is missing: build first with \`npx tsc --project tsconfig.build.json\``);
  }
  tmp = mkdtempSync(path.join(tmpdir(), 'alpr-edge-cli-test-'));
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('alpr-edge recognize', () => {
  it('--json: one JSON line per image in argument order, an error line for the bad one, exit 1', () => {
    const r = cli(['recognize', '--json', GOOD_A, BAD, GOOD_B]);
    const lines = jsonLines(r.stdout);
    expect(lines, r.stdout).toHaveLength(3);
    expect(lines.map((l) => (l as { image: string }).image)).toEqual([GOOD_A, BAD, GOOD_B]);
    expect(lines[1]).toEqual({ image: BAD, error: expect.stringMatching(/truncated/) });
    for (const [i, image] of [[0, GOOD_A], [2, GOOD_B]] as const) {
      const plates = expectResultLine(lines[i], image, 10);
      for (const truth of truthOf(image.replace('test-fixtures/', ''))) {
        expect(plates.map((p) => p.text), `${image}`).toContain(truth);
      }
    }
    expect(r.status).toBe(1);
    expect(r.stderr).not.toMatch(STACK_LINE);
  });

  it('--json over good images only: exit 0, only JSON on stdout', () => {
    const r = cli(['recognize', '--json', GOOD_A, GOOD_B]);
    expect(r.status, r.stderr).toBe(0);
    const lines = jsonLines(r.stdout);
    expect(lines).toHaveLength(2);
    expectResultLine(lines[0], GOOD_A, 10);
    expectResultLine(lines[1], GOOD_B, 10);
  });

  it('human output names the image and the plate text', () => {
    const r = cli(['recognize', GOOD_A]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(GOOD_A);
    for (const truth of truthOf(GOOD_A.replace('test-fixtures/', ''))) expect(r.stdout).toContain(truth);
  });

  it('--topn 3 keeps at most 3 candidates per plate', () => {
    const r = cli(['recognize', '--json', '--topn', '3', GOOD_B]);
    expect(r.status, r.stderr).toBe(0);
    const lines = jsonLines(r.stdout);
    expect(lines).toHaveLength(1);
    const plates = expectResultLine(lines[0], GOOD_B, 3);
    expect(plates.length).toBeGreaterThan(0);
  });

  it('--country xx is a usage error naming the allowed values', () => {
    const r = cli(['recognize', '--country', 'xx', GOOD_A]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    for (const c of ['us', 'eu', 'br']) expect(r.stderr).toContain(c);
    expect(r.stderr).toContain('xx');
    expect(r.stderr).not.toMatch(STACK_LINE);
  });

  it('a missing traineddata folder: exit 1, a clear message naming eng.traineddata, no stack trace', () => {
    // the tesseract reader is the one that needs traineddata (PP-OCR, the default, does not)
    const r = cli(['recognize', '--json', GOOD_A], {
      ALPR_EDGE__RECOGNITION__OCR__ENGINE: 'tesseract',
      ALPR_EDGE__RECOGNITION__OCR__TESSDATA: '/nonexistent',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('eng.traineddata');
    expect(r.stderr).toContain('/nonexistent');
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.stdout).toBe('');
  });
});

describe('alpr-edge config, version and usage', () => {
  it('config check on a file with a misspelt key: exit 1, file:line and the key on stderr', () => {
    const file = path.join(tmp, 'unit-typo.yaml');
    writeFileSync(file, 'unit:\n  id: car-7\nrecognition:\n  ocr:\n    wrokers: 2\n');
    const r = cli(['config', 'check', file]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${file}:5`);
    expect(r.stderr).toContain('wrokers');
    expect(r.stderr).not.toMatch(STACK_LINE);
  });

  it('config check on the shipped config/alpr-edge.yaml: exit 0', () => {
    const r = cli(['config', 'check', path.join(ROOT, 'config', 'alpr-edge.yaml')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('valid');
  });

  it('config docs prints a table of the keys', () => {
    const r = cli(['config', 'docs']);
    expect(r.status, r.stderr).toBe(0);
    const row = r.stdout.split('\n').find((l) => l.includes('recognition.ocr.workers'));
    expect(row, r.stdout).toBeDefined();
    expect(row!.trim().startsWith('|')).toBe(true);
    expect(row).toContain('ALPR_EDGE__RECOGNITION__OCR__WORKERS');
  });

  it('version prints the package version', () => {
    const r = cli(['version']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('alpr-edge 0.1.0');
  });

  it('an unknown command: exit 2 with the usage', () => {
    const r = cli(['frobnicate']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('frobnicate');
    expect(r.stderr).toContain('usage');
    expect(r.stderr).not.toMatch(STACK_LINE);
  });
});

describe('alpr-edge demo', () => {
  it('runs the whole unit on the bundled replay cameras: each plate read, stored, printed, then it stops by itself', () => {
    const data = mkdtempSync(path.join(tmpdir(), 'alpr-demo-'));
    try {
      const r = cli(['demo', '--json'], { ALPR_EDGE__DATA__DIR: data });
      expect(r.status, r.stderr).toBe(0);
      // every read was stored before the unit stopped itself: on a busy machine the last frames are recognised
      // late, their plates are reported and closed in one step, and the unit must wait for that write
      expect(r.stderr).not.toContain('read could not be stored');
      const events = r.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { event: string; id: number; plate: string; camera: string; crop: string; position: { latitude: number; valid: boolean } });
      const reads = events.filter((e) => e.event === 'new');
      const plates = reads.map((e) => e.plate);
      // each camera reads its own country's layouts (regionHint), so the clean frames of all three are read
      for (const file of ['plates/us-ca-clean.jpg', 'plates/us-tx-rotated.jpg', 'plates/eu-fr-clean.jpg', 'plates/br-old-clean.jpg']) {
        for (const text of truthOf(file)) expect(plates).toContain(text);
      }
      expect(new Set(reads.map((e) => e.camera))).toEqual(new Set(['front-us', 'rear-eu', 'side-br']));
      // the demo's hot list holds three of the plates driven past: each is a hit, once
      const hits = events.filter((e) => e.event === 'hit').map((e) => e.plate).sort();
      expect(hits).toEqual(['7ABC123', 'DK481PT', 'KLM4567']);
      // every printed read is in the database with its crop on disk, at the demo's fixed position
      const db = new Database(path.join(data, 'alpr-edge.db'), { readonly: true });
      const rows = db.prepare('SELECT id, plate FROM reads ORDER BY id').all() as Array<{ id: number; plate: string }>;
      db.close();
      expect(rows.map((x) => x.id).sort((a, b) => a - b)).toEqual(reads.map((e) => e.id).sort((a, b) => a - b));
      for (const e of reads) {
        expect(existsSync(path.join(data, 'images', e.crop))).toBe(true);
        expect(e.position.latitude).toBeCloseTo(33.9164, 3);
        expect(e.position.valid).toBe(true);
      }
      // and the technician's status command describes the stopped unit
      const st = cli(['status', '--config', 'config/demo.yaml'], { ALPR_EDGE__DATA__DIR: data });
      expect(st.stdout).toContain('unit demo-unit: NOT RUNNING');
      expect(st.stdout).toContain(`reads: ${rows.length} stored`);
      expect(st.stdout).not.toContain(reads[0]!.plate);
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  });
});

describe('alpr-edge terminal', () => {
  it('says what it needs when started without a serial line or a broker', () => {
    const r = cli(['terminal']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('give --serial PATH or --mqtt URL');
    const m = cli(['terminal', '--mqtt', 'mqtt://127.0.0.1:1']);
    expect(m.status).toBe(2);
    expect(m.stderr).toContain('--mqtt needs --unit');
  });
});

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cv } from '../src/recognition/cv.js';
import { ReadStore } from '../src/store/read-store.js';
import { systemClock } from '../src/util/clock.js';
import { adminSession } from './session-helper.js';

/**
 * A technician aiming a camera (docs/install.md): `camera ls` shows what is configured, `camera snapshot` takes one
 * frame as the unit would and writes it with the plates boxed, only for a signed-in user allowed to operate the
 * unit, and leaves a record in the access log. Runs the compiled command line on a replay camera of the fixtures.
 */

const ROOT = path.join(import.meta.dirname, '..');
const MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
let dir: string;
let config: string;
let token: string;

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [MAIN, ...args, '--config', config], {
    encoding: 'utf8',
    env: { ...process.env, ALPR_EDGE_SESSION: '', ALPR_EDGE__ACCESS__SESSION_FILE: path.join(dir, 'no-session'), ...env },
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'alpr-camera-cli-'));
  config = path.join(dir, 'unit.yaml');
  writeFileSync(
    config,
    [
      'unit: { id: pole-3, agency: ESPD }',
      'data: { dir: ./data }',
      'cameras:',
      `  - { id: north, name: north lane, type: replay, source: ${JSON.stringify(path.join(ROOT, 'test-fixtures', 'plates'))}, pattern: "us-ca-1080p*", regionHint: us }`,
      '  - { id: drop, type: directory, path: ./drop, enabled: false }',
      '',
    ].join('\n'),
  );
  token = await adminSession(path.join(dir, 'data'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('camera ls and camera snapshot', () => {
  it('lists the configured cameras without a session', () => {
    const r = cli(['camera', 'ls']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^north\s+replay\s+enabled\s+north lane: replay of .*test-fixtures\/plates$/m);
    expect(r.stdout).toMatch(/^drop\s+directory\s+disabled/m);
    const json = cli(['camera', 'ls', '--json']).stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: string; enabled: boolean });
    expect(json.map((c) => [c.id, c.enabled])).toEqual([['north', true], ['drop', false]]);
  });

  it('refuses a snapshot to someone not signed in, and writes nothing', () => {
    const out = path.join(dir, 'refused.jpg');
    const r = cli(['camera', 'snapshot', 'north', '--out', out]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/refused: .*not signed in/);
    expect(existsSync(out)).toBe(false);
  });

  it('names the configured cameras when the one asked for is unknown', () => {
    const r = cli(['camera', 'snapshot', 'south', '--out', path.join(dir, 'x.jpg')], { ALPR_EDGE_SESSION: token });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('no camera "south" in the config (cameras: north, drop)');
  });

  it('writes the frame with the plate boxed and its width, and logs the snapshot', () => {
    const out = path.join(dir, 'north.jpg');
    const r = cli(['camera', 'snapshot', 'north', '--out', out], { ALPR_EDGE_SESSION: token });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^north: one frame \(.*us-ca-1080p\.jpg\) written to .*north\.jpg with 1 plate\(s\) boxed$/m);
    const plate = /plate 1: (\d+)x(\d+) px at (\d+),(\d+), read at \d+%: (large enough|too small)/.exec(r.stdout);
    expect(plate, r.stdout).not.toBeNull();
    // the picture is the 1080p frame, and it differs from the original where the box was drawn
    const shot = cv.imdecode(readFileSync(out));
    const original = cv.imread(path.join(ROOT, 'test-fixtures', 'plates', 'us-ca-1080p.jpg'));
    expect([shot.cols, shot.rows]).toEqual([original.cols, original.rows]);
    const [w, , x, y] = plate!.slice(1, 5).map(Number) as [number, number, number, number];
    const edge = shot.getRegion(new cv.Rect(x, y, w, 2)).absdiff(original.getRegion(new cv.Rect(x, y, w, 2)));
    expect(edge.cvtColor(cv.COLOR_BGR2GRAY).countNonZero()).toBeGreaterThan(w / 2);
    // nothing stored as a read; the access log says who took which camera's frame
    const store = ReadStore.open(path.join(dir, 'data'), { clock: systemClock, imageBudgetBytes: 1e8 });
    try {
      const reads = store.database.prepare('SELECT COUNT(*) AS n FROM reads').get() as { n: number };
      expect(reads.n).toBe(0);
      const rows = store.database.prepare("SELECT user_name, outcome, query FROM access_log WHERE action = 'camera snapshot'").all() as Array<{ user_name: string; outcome: string; query: string }>;
      expect(rows).toHaveLength(1);
      expect(rows[0]!.user_name).toBe('admin');
      expect(rows[0]!.outcome).toBe('ok');
      expect(JSON.parse(rows[0]!.query)).toEqual({ camera: 'north', out });
    } finally {
      store.close();
    }
  });
});

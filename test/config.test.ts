import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configDocsMarkdown, describeConfig } from '../src/config/docs.js';
import { ConfigError, loadConfig, parseConfig } from '../src/config/load.js';
import { locatePpocrModels } from '../src/recognition/ppocr.js';

function problemsOf(fn: () => unknown) {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('fills every default from an empty file', () => {
    const c = parseConfig('', 'x.yaml');
    expect(c.recognition.country).toBe('us');
    expect(c.recognition.ocr.workers).toBe(1);
    expect(c.unit.id).toBe('unit-01');
  });

  it('reports an unknown key with its file, line and the keys allowed there', () => {
    const problems = problemsOf(() => parseConfig('unit:\n  id: car-7\nrecognition:\n  ocr:\n    wrokers: 2\n', 'unit.yaml'));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ file: 'unit.yaml', line: 5, key: 'recognition.ocr.wrokers' });
    expect(problems[0]!.message).toContain('workers');
  });

  it('reports a value out of bounds with the value and what is allowed', () => {
    const problems = problemsOf(() => parseConfig('recognition:\n  ocr:\n    workers: 99\n', 'u.yaml'));
    expect(problems[0]).toMatchObject({ line: 3, key: 'recognition.ocr.workers', value: 99 });
    expect(problems[0]!.message).toBe('must be <= 8');
  });

  it('lists the allowed values of an enumeration', () => {
    const problems = problemsOf(() => parseConfig('recognition:\n  country: fr\n', 'u.yaml'));
    expect(problems[0]!.message).toContain('"us", "eu", "br"');
    expect(problems[0]!.line).toBe(2);
  });

  it('reports YAML syntax errors with their line', () => {
    const problems = problemsOf(() => parseConfig('unit:\n  id: [unclosed\n', 'bad.yaml'));
    expect(problems[0]!.message).toMatch(/YAML syntax/);
    expect(problems[0]!.line).toBeGreaterThanOrEqual(2);
  });

  it('takes overrides from environment variables and names the variable when one is wrong', () => {
    const c = parseConfig('', 'u.yaml', { ALPR_EDGE__RECOGNITION__OCR__WORKERS: '3', ALPR_EDGE__UNIT__ID: 'pole-4' });
    expect(c.recognition.ocr.workers).toBe(3);
    expect(c.unit.id).toBe('pole-4');
    const problems = problemsOf(() => parseConfig('', 'u.yaml', { ALPR_EDGE__RECOGNITION__TOP_N: '0' }));
    expect(problems[0]!.file).toBe('environment ALPR_EDGE__RECOGNITION__TOP_N');
    expect(() => parseConfig('', 'u.yaml', { ALPR_EDGE__NO_SUCH_KEY: '1' })).toThrow(/no config key/);
  });

  it('says clearly when the file cannot be read', () => {
    const problems = problemsOf(() => loadConfig('/nonexistent/alpr-edge.yaml', {}));
    expect(problems[0]!.message).toMatch(/cannot read the file/);
  });

  it("resolves a relative data.dir against the config file's folder, not the current directory", () => {
    const etc = mkdtempSync(path.join(tmpdir(), 'alpr-etc-'));
    const elsewhere = mkdtempSync(path.join(tmpdir(), 'alpr-cwd-'));
    const file = path.join(etc, 'unit.yaml');
    writeFileSync(file, 'data:\n  dir: ./data\n');
    const cwd = process.cwd();
    process.chdir(elsewhere); // the test files run in processes of their own (vitest's forks pool)
    try {
      expect(loadConfig(path.relative(elsewhere, file), {}).data.dir).toBe(path.join(etc, 'data'));
    } finally {
      process.chdir(cwd);
    }
    // left at its default by a file: the file's folder too
    writeFileSync(file, 'unit:\n  id: car-7\n');
    expect(loadConfig(file, {}).data.dir).toBe(path.join(etc, 'data'));
    // from the environment: the current directory, as a shell user expects
    const env = { ALPR_EDGE__DATA__DIR: 'here' };
    expect(loadConfig(file, env).data.dir).toBe('here');
    // absolute paths are kept; no file: the built-in default stays relative to the current directory
    writeFileSync(file, 'data:\n  dir: /var/lib/alpr-edge\n');
    expect(loadConfig(file, {}).data.dir).toBe('/var/lib/alpr-edge');
    expect(loadConfig(undefined, {}).data.dir).toBe('./data');
  });

  it('accepts the shipped example config', () => {
    const c = loadConfig(path.join(import.meta.dirname, '..', 'config', 'alpr-edge.yaml'), {});
    expect(c.recognition.ocr.workers).toBeGreaterThanOrEqual(1);
  });

  it('documents every key with a description, default and environment variable', () => {
    const rows = describeConfig();
    expect(rows.map((r) => r.key)).toContain('recognition.ocr.minConfidence');
    for (const r of rows) {
      expect(r.description, r.key).not.toBe('');
      // list entries (cameras) are set in the file only; every other key has its variable
      if (r.key.includes('[')) expect(r.env).toBe('');
      else expect(r.env).toMatch(/^ALPR_EDGE__/);
    }
    // each camera type's own keys are documented under its tag
    expect(rows.map((r) => r.key)).toEqual(
      expect.arrayContaining(['cameras[].id', 'cameras[].maxFps', 'cameras[type=directory].afterProcessing', 'cameras[type=opencv].stallTimeoutMs']),
    );
  });

  it('camera entries: an unknown type, an unknown key or a duplicate id is a clear error with its line', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cfg-'));
    const file = path.join(dir, 'u.yaml');
    writeFileSync(
      file,
      [
        'cameras:',
        '  - id: front',
        '    type: webcam',
        '  - id: rear',
        '    type: replay',
        '    source: /tmp/x',
        '    fsp: 5',
        '',
      ].join('\n'),
    );
    let err: unknown;
    try {
      loadConfig(file, {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const text = (err as Error).message;
    expect(text).toContain(`${file}:3:11: cameras.0.type: unknown type; must be one of "replay", "directory", "opencv", "gphoto2" (value: "webcam")`);
    expect(text).toMatch(/:7:5: cameras\.1\.fsp: unknown key; allowed here: type, id, .*fps/);
    // once each entry is valid on its own, the list is checked as a whole
    writeFileSync(
      file,
      'cameras:\n  - { id: rear, type: replay, source: /tmp/x }\n  - { id: rear, type: directory, path: /srv/ftp, afterProcessing: move }\n',
    );
    expect(() => loadConfig(file, {})).toThrow(/cameras\.1\.id: camera id "rear" is used twice/);
    expect(() => loadConfig(file, {})).toThrow(/cameras\.1\.moveTo: required when afterProcessing is "move"/);
  });

  it('loads a file from disk', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cfg-'));
    const file = path.join(dir, 'u.yaml');
    writeFileSync(file, 'recognition:\n  country: br\n  topN: 5\n');
    expect(loadConfig(file, {}).recognition).toMatchObject({ country: 'br', topN: 5 });
  });
});

describe('config check loads the reader as the unit would', () => {
  const cli = (args: string[]) =>
    spawnSync(process.execPath, [path.join(import.meta.dirname, '..', 'dist', 'src', 'cli', 'main.js'), ...args], {
      encoding: 'utf8',
      env: { ...process.env, OPENCV4NODEJS_DISABLE_AUTOBUILD: '1' },
    });

  it('a folder without the PP-OCR model files: exit 1, the missing file named, nothing started', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'alpr-config-'));
    const file = path.join(dir, 'unit.yaml');
    writeFileSync(file, `recognition:\n  ocr:\n    models: ${JSON.stringify(dir)}\n`);
    const r = cli(['config', 'check', file]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${path.join(dir, 'ch_PP-OCRv4_rec_infer.onnx')} is missing`);
    expect(r.stdout).not.toMatch(/is valid/);
  });

  it('a corrupt model file is named too', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'alpr-config-'));
    for (const name of ['ch_PP-OCRv4_rec_infer.onnx', 'ch_PP-OCRv4_det_infer.onnx']) writeFileSync(path.join(dir, name), 'not a model');
    copyFileSync(locatePpocrModels('').dict, path.join(dir, 'ppocr_keys_v1.txt'));
    const file = path.join(dir, 'unit.yaml');
    writeFileSync(file, `recognition:\n  ocr:\n    models: ${JSON.stringify(dir)}\n`);
    const r = cli(['config', 'check', file]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('ch_PP-OCRv4_rec_infer.onnx');
  });

  it('the default models (from the npm package) are valid', () => {
    const r = cli(['config', 'check']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

describe('docs/configuration.md', () => {
  it('is the table the schema generates (alpr-edge config docs): regenerate it when a key changes', () => {
    const doc = readFileSync(path.join(import.meta.dirname, '..', 'docs', 'configuration.md'), 'utf8');
    const m = /<!-- config: [^\n]*-->\n([\s\S]*?)\n<!-- end of config -->/.exec(doc);
    expect(m, 'the generated block between its markers').not.toBeNull();
    expect(m![1]).toBe(configDocsMarkdown().trim());
  });
});

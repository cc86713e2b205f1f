import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isAlias, isMap, isScalar, LineCounter, parseDocument, parse as parseYamlValue, visit, type Document } from 'yaml';
import { z } from 'zod';
import { configSchema, type Config } from './schema.js';

/** One thing wrong with a configuration, in terms a technician over SSH can act on. */
export interface ConfigProblem {
  file: string;
  line?: number;
  column?: number;
  key: string;
  value?: unknown;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line !== undefined ? `${p.file}:${p.line}:${p.column ?? 1}` : p.file;
  const value = p.value === undefined ? '' : ` (value: ${JSON.stringify(p.value)})`;
  return `${where}: ${p.key || '(top level)'}: ${p.message}${value}`;
}

/** Most alias expansions a config may use (the yaml package's maxAliasCount): a "billion laughs" file is refused. */
export const MAX_ALIAS_COUNT = 100;

/** Where the values of a loaded config came from: its file, environment overrides, and values a command set itself. */
interface ConfigOrigin {
  file: string;
  fromEnv: ReadonlyMap<string, string>;
  program: Map<string, string>;
}

const origins = new WeakMap<object, ConfigOrigin>();

/**
 * Where a key's value (dotted, e.g. sync.server.url) came from: `environment` (the variable's name), `program` (a
 * command set it, e.g. the demo), `file` (the config file, or its default), or `unknown` (a config not loaded by
 * loadConfig, e.g. built by a test).
 */
export function keyOrigin(config: object, key: string): { kind: 'file' | 'environment' | 'program' | 'unknown'; detail: string } {
  const o = origins.get(config);
  if (!o) return { kind: 'unknown', detail: 'the configuration' };
  const prog = o.program.get(key);
  if (prog !== undefined) return { kind: 'program', detail: prog };
  const env = o.fromEnv.get(key);
  if (env !== undefined) return { kind: 'environment', detail: `environment variable ${env}` };
  return { kind: 'file', detail: o.file === '(defaults)' ? 'the defaults' : `config file ${o.file}` };
}

/**
 * Where a config's sync.server.url came from, as the sync engine's `destination` option: the config file (or a command's
 * own setting, the demo's loopback server) stands for the agency's configured server; an environment override does
 * not (it is recorded as a destination of its own, and reads it acknowledges stay pending for the agency's).
 */
export function destinationClaim(config: object): { source: string; trusted: boolean } {
  const o = keyOrigin(config, 'sync.server.url');
  return { source: o.detail, trusted: o.kind !== 'environment' };
}

/** Records that a command set a key itself (keyOrigin then says so). */
export function setByProgram(config: object, key: string, detail: string): void {
  const o = origins.get(config) ?? { file: '(defaults)', fromEnv: new Map<string, string>(), program: new Map<string, string>() };
  o.program.set(key, detail);
  origins.set(config, o);
}

/** Prefix of the environment variables that override config keys: ALPR_EDGE__RECOGNITION__OCR__WORKERS=2. */
export const ENV_PREFIX = 'ALPR_EDGE__';

export function envNameFor(path: readonly string[]): string {
  return ENV_PREFIX + path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('__');
}

/** Reads, overrides from the environment and validates a YAML config file; throws ConfigError. */
export function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Config {
  let text = '';
  const name = file ?? '(defaults)';
  if (file !== undefined) {
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError([{ file: name, key: '', message: `cannot read the file: ${(err as Error).message}` }]);
    }
  }
  const config = parseConfig(text, name, env);
  if (file !== undefined) resolveAgainstFile(config, file);
  return config;
}

/**
 * A relative `data.dir` written in a config file (or left at its default by one) is relative to the file's own
 * folder, not to wherever the command happens to run: `--config /etc/alpr-edge/alpr-edge.yaml` from a home folder
 * must not open a second, empty store there. A value from the environment keeps the current directory.
 */
function resolveAgainstFile(config: Config, file: string): void {
  if (path.isAbsolute(config.data.dir) || keyOrigin(config, 'data.dir').kind === 'environment') return;
  config.data.dir = path.resolve(path.dirname(path.resolve(file)), config.data.dir);
}

export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = {}): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return { file, line: pos?.line, column: pos?.col, key: '', message: `YAML syntax: ${e.message.split('\n')[0]}` };
      }),
    );
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
  } catch (err) {
    // aliases that expand exponentially ("billion laughs"): the yaml package stops them; say where, not a stack trace
    let pos: { line: number; col: number } | undefined;
    visit(doc, {
      Alias(_, node) {
        if (isAlias(node) && node.range) {
          pos = lineCounter.linePos(node.range[0]);
          return visit.BREAK;
        }
        return undefined;
      },
    });
    throw new ConfigError([
      {
        file,
        line: pos?.line,
        column: pos?.col,
        key: '',
        message: `YAML aliases expand too far (${(err as Error).message}; at most ${MAX_ALIAS_COUNT} uses of anchored content): write the values out instead of nesting aliases`,
      },
    ]);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError([{ file, line: 1, key: '', message: 'the file must hold a mapping of keys (key: value)' }]);
  }
  const overridden = applyEnvOverrides(raw as Record<string, unknown>, env);
  const result = configSchema.safeParse(overridden.value);
  if (result.success) {
    origins.set(result.data, { file, fromEnv: overridden.fromEnv, program: new Map() });
    return result.data;
  }
  throw new ConfigError(result.error.issues.flatMap((issue) => describeIssue(issue, doc, lineCounter, file, overridden)));
}

interface Overrides {
  value: Record<string, unknown>;
  /** dotted key -> environment variable name that set it */
  fromEnv: Map<string, string>;
}

/** Every leaf key of the schema can be overridden by an environment variable; values are read as YAML scalars. */
function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Overrides {
  const value = structuredClone(raw);
  const fromEnv = new Map<string, string>();
  for (const path of leafPaths(configSchema)) {
    const name = envNameFor(path);
    const text = env[name];
    if (text === undefined) continue;
    let parsed: unknown;
    try {
      parsed = parseYamlValue(text);
    } catch {
      parsed = text;
    }
    let node: Record<string, unknown> = value;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1]!] = parsed;
    fromEnv.set(path.join('.'), name);
  }
  for (const name of Object.keys(env)) {
    if (name.startsWith(ENV_PREFIX) && ![...fromEnv.values()].includes(name)) {
      throw new ConfigError([
        { file: 'environment', key: name, message: 'no config key has this environment variable (see `alpr-edge config docs`)' },
      ]);
    }
  }
  return { value, fromEnv };
}

function describeIssue(
  issue: z.core.$ZodIssue,
  doc: Document,
  lines: LineCounter,
  file: string,
  overrides: Overrides,
): ConfigProblem[] {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const keyPath = [...path, key];
      const pos = keyPosition(doc, lines, path, key);
      return {
        file,
        ...pos,
        key: keyPath.join('.'),
        message: `unknown key; allowed here: ${allowedKeys(path, overrides.value).join(', ')}`,
      };
    });
  }
  const dotted = path.join('.');
  const envName = overrides.fromEnv.get(dotted);
  const value = valueAt(overrides.value, path);
  const message = issue.code === 'invalid_type' && value === undefined ? 'required' : allowedText(issue);
  if (envName !== undefined) return [{ file: `environment ${envName}`, key: dotted, value, message }];
  // A key that is missing has no position of its own: point at the nearest enclosing key that is in the file.
  let pos: { line: number; col: number } | undefined;
  for (let n = path.length; n >= 1 && pos === undefined; n--) {
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node?.range) pos = lines.linePos(node.range[0]);
  }
  return [{ file, line: pos?.line, column: pos?.col, key: dotted, value, message }];
}

function allowedText(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
      return `must be ${issue.inclusive === false ? '>' : '>='} ${String(issue.minimum)}${issue.origin === 'string' ? ' characters long' : ''}`;
    case 'too_big':
      return `must be ${issue.inclusive === false ? '<' : '<='} ${String(issue.maximum)}${issue.origin === 'string' ? ' characters long' : ''}`;
    case 'invalid_union':
      {
        const u = issue as { discriminator?: string; options?: unknown[] };
        if (u.discriminator && Array.isArray(u.options)) {
          return `unknown ${u.discriminator}; must be one of ${u.options.map((v) => JSON.stringify(v)).join(', ')}`;
        }
      }
      return issue.message;
    case 'invalid_type':
      return `must be ${issue.expected === 'int' ? 'a whole number' : `of type ${issue.expected}`}`;
    default:
      return issue.message;
  }
}

function keyPosition(doc: Document, lines: LineCounter, parent: string[], key: string): { line?: number; column?: number } {
  const map = parent.length === 0 ? doc.contents : doc.getIn(parent, true);
  if (isMap(map)) {
    for (const pair of map.items) {
      if (isScalar(pair.key) && String(pair.key.value) === key && pair.key.range) {
        const pos = lines.linePos(pair.key.range[0]);
        return { line: pos.line, column: pos.col };
      }
    }
  }
  return {};
}

function valueAt(root: unknown, path: string[]): unknown {
  let node = root;
  for (const key of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** The keys the schema allows in the object at `path` (`raw`: the configuration, to pick a union's variant). */
export function allowedKeys(path: string[], raw?: unknown): string[] {
  let schema: unknown = configSchema;
  let value = raw;
  const pick = (s: unknown): unknown => {
    const u = unwrap(s) as { def?: { type?: string; element?: unknown; options?: unknown[]; discriminator?: string } };
    if (u?.def?.type === 'union' && u.def.discriminator && u.def.options) {
      const tag = (value as Record<string, unknown> | undefined)?.[u.def.discriminator];
      return u.def.options.find((o) => (objectShape(o)?.[u.def!.discriminator!] as { def?: { values?: unknown[] } })?.def?.values?.includes(tag));
    }
    return s;
  };
  for (const key of path) {
    const u = unwrap(pick(schema)) as { def?: { type?: string; element?: unknown } } | undefined;
    schema = u?.def?.type === 'array' ? u.def.element : objectShape(u)?.[key];
    value = (value as Record<string, unknown> | undefined)?.[key];
  }
  return Object.keys(objectShape(pick(schema)) ?? {});
}

function unwrap(schema: unknown): unknown {
  let s = schema as { def?: { type?: string; innerType?: unknown } } | undefined;
  while (s?.def && ['default', 'prefault', 'optional', 'nullable'].includes(s.def.type ?? '')) {
    s = s.def.innerType as typeof s;
  }
  return s;
}

function objectShape(schema: unknown): Record<string, unknown> | undefined {
  const s = unwrap(schema) as { def?: { type?: string; shape?: Record<string, unknown> } } | undefined;
  return s?.def?.type === 'object' ? s.def.shape : undefined;
}

/** Paths of every leaf (non-object) key in the schema. */
export function leafPaths(schema: unknown, prefix: string[] = []): string[][] {
  const shape = objectShape(schema);
  if (!shape) return [prefix];
  return Object.entries(shape).flatMap(([key, child]) => leafPaths(child, [...prefix, key]));
}

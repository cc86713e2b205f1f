import { z } from 'zod';
import { envNameFor } from './load.js';
import { configSchema } from './schema.js';

interface JsonSchemaNode {
  type?: string | string[];
  description?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  enum?: unknown[];
  properties?: Record<string, JsonSchemaNode>;
  items?: JsonSchemaNode;
  oneOf?: JsonSchemaNode[];
  anyOf?: JsonSchemaNode[];
  const?: unknown;
}

export interface KeyDoc {
  key: string;
  env: string;
  type: string;
  default: unknown;
  allowed: string;
  description: string;
}

/** One row per leaf key, generated from the schema (the single source of the documentation). */
export function describeConfig(): KeyDoc[] {
  const root = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchemaNode;
  const defaults = configSchema.parse({}) as unknown as Record<string, unknown>;
  const rows: KeyDoc[] = [];
  const walk = (node: JsonSchemaNode, path: string[], env = true): void => {
    const variants = node.items?.oneOf ?? node.items?.anyOf;
    if (node.type === 'array' && variants) {
      // A list of tagged objects (cameras): the keys all variants share once, then each variant's own keys.
      const keysOf = (v: JsonSchemaNode) => Object.keys(v.properties ?? {});
      const shared = keysOf(variants[0]!).filter((k) => variants.every((v) => keysOf(v).includes(k)));
      for (const key of shared) {
        const child = variants[0]!.properties![key]!;
        if (child.const !== undefined) {
          walk({ ...child, enum: variants.map((v) => v.properties![key]!.const), description: child.description ?? 'Kind of camera.' }, [...path, '[]', key], false);
        } else {
          walk(child, [...path, '[]', key], false);
        }
      }
      for (const variant of variants) {
        const tag = Object.entries(variant.properties ?? {}).find(([, p]) => p.const !== undefined);
        for (const [key, child] of Object.entries(variant.properties ?? {})) {
          if (shared.includes(key)) continue;
          walk(child, [...path, `[${tag ? `${tag[0]}=${String(tag[1].const)}` : ''}]`, key], false);
        }
      }
      return;
    }
    if (node.type === 'array' && node.items?.properties) {
      // a list of objects of one kind (hot lists): their keys, set in the file only
      for (const [key, child] of Object.entries(node.items.properties)) walk(child, [...path, '[]', key], false);
      return;
    }
    if (node.properties) {
      for (const [key, child] of Object.entries(node.properties)) walk(child, [...path, key], env);
      return;
    }
    let def: unknown = defaults;
    for (const p of path) def = p.startsWith('[') ? undefined : (def as Record<string, unknown>)?.[p];
    if (!env) def = node.default;
    const allowed: string[] = [];
    if (node.enum) allowed.push(node.enum.map((v) => JSON.stringify(v)).join(' | '));
    if (node.minimum !== undefined) allowed.push(`>= ${node.minimum}`);
    if (node.maximum !== undefined) allowed.push(`<= ${node.maximum}`);
    if (node.minLength !== undefined) allowed.push(`length >= ${node.minLength}`);
    if (node.maxLength !== undefined) allowed.push(`length <= ${node.maxLength}`);
    if (node.pattern !== undefined) allowed.push(`/${node.pattern}/`);
    rows.push({
      key: path.join('.').replace(/\.\[/g, '['),
      env: env ? envNameFor(path) : '',
      type: Array.isArray(node.type) ? node.type.join('|') : (node.type ?? (node.enum ? 'enum' : 'any')),
      default: def,
      allowed: allowed.join(', '),
      description: node.description ?? '',
    });
  };
  walk(root, []);
  return rows;
}

export function configDocsMarkdown(): string {
  const lines = ['| key | type | default | allowed | environment variable | meaning |', '|---|---|---|---|---|---|'];
  for (const r of describeConfig()) {
    const esc = (s: string) => s.replace(/\|/g, '\\|');
    lines.push(
      `| \`${r.key}\` | ${r.type} | ${r.default === undefined ? '' : `\`${esc(JSON.stringify(r.default))}\``} | ${esc(r.allowed)} | ${r.env ? `\`${r.env}\`` : ''} | ${esc(r.description)} |`,
    );
  }
  return lines.join('\n');
}

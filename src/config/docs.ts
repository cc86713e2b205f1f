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
  const walk = (node: JsonSchemaNode, path: string[]): void => {
    if (node.properties) {
      for (const [key, child] of Object.entries(node.properties)) walk(child, [...path, key]);
      return;
    }
    let def: unknown = defaults;
    for (const p of path) def = (def as Record<string, unknown>)?.[p];
    const allowed: string[] = [];
    if (node.enum) allowed.push(node.enum.map((v) => JSON.stringify(v)).join(' | '));
    if (node.minimum !== undefined) allowed.push(`>= ${node.minimum}`);
    if (node.maximum !== undefined) allowed.push(`<= ${node.maximum}`);
    if (node.minLength !== undefined) allowed.push(`length >= ${node.minLength}`);
    if (node.maxLength !== undefined) allowed.push(`length <= ${node.maxLength}`);
    if (node.pattern !== undefined) allowed.push(`/${node.pattern}/`);
    rows.push({
      key: path.join('.'),
      env: envNameFor(path),
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
      `| \`${r.key}\` | ${r.type} | \`${esc(JSON.stringify(r.default))}\` | ${esc(r.allowed)} | \`${r.env}\` | ${esc(r.description)} |`,
    );
  }
  return lines.join('\n');
}

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * No import cycles between the folders of src/ (a folder: the first path segment under src/). A part may use the
 * parts below it, never the other way round, so each folder can be read, tested and changed knowing only what it
 * imports.
 *
 * Counted: `import ... from '...'`, `import '...'`, `export ... from '...'`, type-only ones included (a type
 * still ties the two folders' code together), and dynamic `import('...')` with a literal name, included too: it
 * only defers loading the module, the dependency is the same (the `cli` -> `central` edge is one).
 */

const SRC = path.join(import.meta.dirname, '..', 'src');

/**
 * Edges between folders left in place on purpose, each with why and what removes it: none now. config/schema.ts
 * composes the slices that every folder owns, so a folder that imported config/ back would close a loop through it.
 * The test checks that each allowed edge still exists, so that this list only shrinks.
 */
const ALLOWED: ReadonlyArray<{ from: string; to: string; why: string }> = [];

interface Edge {
  from: string;
  to: string;
  /** The importing file and the module it names, both relative to src/. */
  file: string;
  target: string;
  dynamic: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

const folderOf = (rel: string): string => rel.split('/')[0]!;

/** The modules a file imports (relative names only: packages are not folders of src/). */
function importsOf(fileName: string, text: string): Array<{ name: string; dynamic: boolean }> {
  const out: Array<{ name: string; dynamic: boolean }> = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      out.push({ name: node.moduleSpecifier.text, dynamic: false });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      out.push({ name: node.argument.literal.text, dynamic: false }); // `import('x').T` in a type
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      if (arg && ts.isStringLiteralLike(arg)) out.push({ name: arg.text, dynamic: true });
    }
    ts.forEachChild(node, visit);
  };
  visit(ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS));
  return out.filter((i) => i.name.startsWith('.'));
}

function folderEdges(): Edge[] {
  const edges: Edge[] = [];
  for (const abs of sourceFiles(SRC)) {
    const file = path.relative(SRC, abs).split(path.sep).join('/');
    for (const i of importsOf(abs, readFileSync(abs, 'utf8'))) {
      const target = path
        .relative(SRC, path.resolve(path.dirname(abs), i.name))
        .split(path.sep)
        .join('/')
        .replace(/\.js$/, '.ts');
      if (target.startsWith('..')) continue;
      const from = folderOf(file);
      const to = folderOf(target);
      if (from !== to) edges.push({ from, to, file, target, dynamic: i.dynamic });
    }
  }
  return edges;
}

/**
 * The loops of a graph between folders: for each group of folders that reach each other (a strongly connected
 * component of two or more), one shortest loop through it, with the imports that make each step.
 */
function folderCycles(edges: readonly Edge[]): string[] {
  const next = new Map<string, Set<string>>();
  for (const e of edges) {
    if (!next.has(e.from)) next.set(e.from, new Set());
    next.get(e.from)!.add(e.to);
  }
  // Tarjan's strongly connected components
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  let n = 0;
  const connect = (v: string): void => {
    index.set(v, n);
    low.set(v, n++);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1) groups.push(group.sort());
    }
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) connect(v);

  return groups.map((group) => {
    const inGroup = new Set(group);
    // shortest loop from the group's first folder back to itself, by breadth-first search inside the group
    const start = group[0]!;
    const prev = new Map<string, string>();
    const queue = [start];
    let last: string | undefined;
    while (queue.length > 0 && last === undefined) {
      const v = queue.shift()!;
      for (const w of [...(next.get(v) ?? [])].sort()) {
        if (!inGroup.has(w)) continue;
        if (w === start) {
          last = v;
          break;
        }
        if (!prev.has(w)) {
          prev.set(w, v);
          queue.push(w);
        }
      }
    }
    const loop = [start];
    for (let v = last!; v !== start; v = prev.get(v)!) loop.splice(1, 0, v);
    loop.push(start);
    // every import between two folders of the group: any of them may be the one to move
    const pairs = new Map<string, Set<string>>();
    for (const e of edges) {
      if (!inGroup.has(e.from) || !inGroup.has(e.to)) continue;
      const key = `${e.from} -> ${e.to}`;
      if (!pairs.has(key)) pairs.set(key, new Set());
      pairs.get(key)!.add(`${e.file} -> ${e.target}${e.dynamic ? ' (dynamic)' : ''}`);
    }
    const lines = [...pairs].sort(([a], [b]) => a.localeCompare(b)).map(([key, by]) => `  ${key}: ${[...by].join(', ')}`);
    return `${loop.join(' -> ')} (a shortest loop; imports between ${group.join(', ')}:)\n${lines.join('\n')}`;
  });
}

describe('imports between the folders of src/', () => {
  const edges = folderEdges();

  it('finds the imports of every kind it counts (a walk that found none would pass for nothing)', () => {
    const has = (file: string, target: string, dynamic: boolean) => edges.some((e) => e.file === file && e.target === target && e.dynamic === dynamic);
    expect(has('unit/unit.ts', 'hotlist/index.ts', false)).toBe(true); // import { ... } from
    expect(has('cli/main.ts', 'config/load.ts', true)).toBe(true); // await import(...)
    expect(importsOf('x.ts', "import type { A } from '../a/x.js';\nexport * from '../b/y.js';\nimport '../c/z.js';\ntype T = import('../d/w.js').T;\nimport z from 'zod';")).toEqual([
      { name: '../a/x.js', dynamic: false },
      { name: '../b/y.js', dynamic: false },
      { name: '../c/z.js', dynamic: false },
      { name: '../d/w.js', dynamic: false },
    ]);
  });

  it('reports a loop with the imports that make it', () => {
    const e = (file: string, target: string): Edge => ({ from: folderOf(file), to: folderOf(target), file, target, dynamic: false });
    const cycles = folderCycles([e('a/x.ts', 'b/y.ts'), e('b/y.ts', 'c/z.ts'), e('c/z.ts', 'a/w.ts'), e('c/z.ts', 'd/v.ts')]);
    expect(cycles).toEqual(['a -> b -> c -> a (a shortest loop; imports between a, b, c:)\n  a -> b: a/x.ts -> b/y.ts\n  b -> c: b/y.ts -> c/z.ts\n  c -> a: c/z.ts -> a/w.ts']);
    expect(folderCycles([e('a/x.ts', 'b/y.ts'), e('c/z.ts', 'b/y.ts')])).toEqual([]);
  });

  it('has no loops, but for the imports allowed above', () => {
    for (const a of ALLOWED) {
      expect(edges.some((e) => e.from === a.from && e.to === a.to), `allowed edge ${a.from} -> ${a.to} is gone: remove it from ALLOWED`).toBe(true);
    }
    const kept = edges.filter((e) => !ALLOWED.some((a) => a.from === e.from && a.to === e.to));
    const cycles = folderCycles(kept);
    expect(cycles, `import loops between folders of src/:\n${cycles.join('\n')}`).toEqual([]);
  });
});

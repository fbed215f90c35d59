// Fails on an import cycle among the repository's own modules (run by `npm run lint`).
//
// A cycle makes a module's evaluation order depend on which file is imported first: a class or a
// constant read at load time is still undefined on one side. ESLint sees one file at a time, so the
// whole graph is built here with the TypeScript parser already installed. Type-only imports count
// too: they cause no load-order trouble, but two modules that name each other's types cannot be
// understood, tested or moved apart, and today's type import is tomorrow's value import.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';

const root = path.resolve(import.meta.dirname, '..');

/** Folders whose modules are checked; a cycle that leaves them (into node_modules) cannot exist. */
export const CHECKED = ['src-main', 'src-shared', 'src-renderer', 'emulator', 'e2e', 'bench', 'eslint-rules', 'assets'];
const SKIP_DIRS = new Set(['node_modules', 'dist', 'coverage', 'test-results', 'playwright-report', '.tmp']);
const SOURCE = /\.(ts|tsx|js|mjs)$/;

function* sourceFiles(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    if (e.code === 'ENOENT') return;
    throw e;
  }
  for (const e of entries) {
    if (e.isDirectory()) {
      if (!SKIP_DIRS.has(e.name)) yield* sourceFiles(path.join(dir, e.name));
    } else if (SOURCE.test(e.name) && !e.name.endsWith('.d.ts')) {
      yield path.join(dir, e.name);
    }
  }
}

/** The relative specifiers `fileName` names: imports and re-exports (type-only ones too), `import()`, `require()`. */
export function relativeImports(text) {
  const { importedFiles } = ts.preProcessFile(text, true, true);
  return importedFiles.map((f) => f.fileName).filter((s) => s.startsWith('.'));
}

/** Strongly connected components of more than one module, or a module importing itself (Tarjan). */
export function cycles(graph) {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const found = [];
  const strong = (v) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v), idx.get(w)));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const scc = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) strong(v);
  return found;
}

/** The repository's import graph: repo-relative path → the repo-relative paths it imports. */
export function importGraph(dirs = CHECKED) {
  const graph = new Map();
  for (const dir of dirs) {
    for (const file of sourceFiles(path.join(root, dir))) {
      const from = path.relative(root, file).split(path.sep).join('/');
      const to = relativeImports(readFileSync(file, 'utf8')).map((s) => path.relative(root, path.resolve(path.dirname(file), s)).split(path.sep).join('/'));
      graph.set(from, to);
    }
  }
  return graph;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const found = cycles(importGraph());
  for (const scc of found) console.error(`import cycle among ${scc.length} modules:\n  ${scc.join('\n  ')}`);
  if (found.length > 0) {
    console.error('Move what both sides need into a module neither imports back (docs/architecture.md).');
    process.exit(1);
  }
  console.log('no import cycles');
}

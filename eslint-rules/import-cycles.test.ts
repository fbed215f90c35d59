import { describe, expect, it } from 'vitest';
// @ts-expect-error plain JS module without types
import { cycles, importGraph, relativeImports } from './import-cycles.js';

const graph = (edges: Record<string, string[]>) => new Map(Object.entries(edges));

describe('the import cycle check', () => {
  it('finds every module of a cycle, a self-import, and nothing in a tree', () => {
    expect(cycles(graph({ a: ['b'], b: ['c'], c: ['a', 'd'], d: [] }))).toEqual([['a', 'b', 'c']]);
    expect(cycles(graph({ a: ['a'] }))).toEqual([['a']]);
    expect(cycles(graph({ a: ['b', 'c'], b: ['c'], c: [] }))).toEqual([]);
    expect(cycles(graph({ a: ['b'], b: ['a'], c: ['d'], d: ['c'] }))).toHaveLength(2);
  });
  it('reads static, type-only, re-exported, dynamic and require() imports, and only relative ones', () => {
    const text = [
      "import { a } from './a.ts';",
      "import type { B } from './b.ts';",
      "export * from './c.ts';",
      "const d = await import('./d.ts');",
      "const e = require('./e.js');",
      "import ws from 'ws';",
      "import fs from 'node:fs';",
    ].join('\n');
    expect(relativeImports(text)).toEqual(['./a.ts', './b.ts', './c.ts', './d.ts', './e.js']);
  });
  it('finds none in the repository (the emulator’s routes take EmulatorState, not the Emulator class)', () => {
    const g = importGraph();
    expect(g.get('emulator/src/emulator.ts')).toContain('emulator/src/api-routes.ts');
    expect(cycles(g)).toEqual([]);
  });
});

// The import rule from docs/architecture.md: layers point one way, and only named folders may import the
// packages that own a resource (SQLite, FUSE, Electron, the HTTP client).
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');

/** Engine layers, lowest first. A layer may import itself and anything of a lower rank. */
export const ENGINE_LAYERS = [
  ['base'],
  ['lifecycle'],
  ['store', 'auth'],
  ['graph'],
  ['transfers'],
  ['sync'],
  ['vfs'],
  ['fuse', 'ipc'],
  ['app'],
];

/** package → folders (relative to the repo root) allowed to import it. */
export const OWNED_PACKAGES = {
  'better-sqlite3': ['src-main/store', 'emulator'],
  'fuse-native': ['src-main/fuse', 'bench', 'e2e'],
  electron: ['src-main/app/electron'],
  undici: ['src-main/graph'],
};

function rel(file) {
  return path.relative(root, file).split(path.sep).join('/');
}

function engineLayer(relPath) {
  const m = /^src-main\/([^/]+)\//.exec(relPath);
  if (!m) return undefined;
  const rank = ENGINE_LAYERS.findIndex((names) => names.includes(m[1]));
  return rank < 0 ? undefined : { name: m[1], rank };
}

function area(relPath) {
  return relPath.split('/')[0];
}

function isTest(relPath) {
  return /\.test\.tsx?$/.test(relPath);
}

function packageName(spec) {
  if (spec.startsWith('@')) return spec.split('/').slice(0, 2).join('/');
  return spec.split('/')[0];
}

function check(fromRel, spec) {
  const fromArea = area(fromRel);
  if (spec.startsWith('.')) {
    const targetRel = rel(path.resolve(root, path.dirname(fromRel), spec));
    const toArea = area(targetRel);
    if (fromArea === 'e2e' || fromArea === 'bench') return undefined;
    // `onemount demo` starts the emulator as a child process through its spawn module.
    const demoSpawn = fromRel.startsWith('src-main/app/cli/') && targetRel === 'emulator/src/spawn.ts';
    if (toArea === 'emulator' && fromArea !== 'emulator' && !isTest(fromRel) && !demoSpawn) {
      return 'only tests, e2e, bench and the demo command may import the emulator';
    }
    if (fromArea === 'src-shared' && toArea !== 'src-shared') return 'src-shared imports nothing outside itself';
    if (fromArea === 'src-renderer' && !['src-renderer', 'src-shared'].includes(toArea)) {
      return 'the renderer meets the engine only in src-shared';
    }
    if (fromArea === 'emulator' && toArea === 'src-main') {
      const ok = targetRel.startsWith('src-main/base/') || targetRel === 'src-main/graph/quickxor.ts';
      return ok ? undefined : 'the emulator may use only src-main/base and the shared quickXorHash';
    }
    if (fromArea === 'src-main' && toArea === 'src-renderer') return 'the engine never imports the renderer';
    const from = engineLayer(fromRel);
    const to = engineLayer(targetRel);
    if (from && to && to.name !== from.name && to.rank >= from.rank) {
      return `layer ${from.name} may not import ${to.name} (order: ${ENGINE_LAYERS.map((l) => l.join('/')).join(' → ')})`;
    }
    return undefined;
  }
  if (spec.startsWith('node:') || ['fs', 'path', 'os', 'http', 'net', 'child_process'].includes(spec)) {
    if (fromArea === 'src-shared' || fromArea === 'src-renderer') return `${fromArea} must not use Node built-ins`;
    return undefined;
  }
  const owners = OWNED_PACKAGES[packageName(spec)];
  if (owners && !owners.some((o) => fromRel.startsWith(o + '/')) && !(isTest(fromRel) && packageName(spec) !== 'electron')) {
    return `only ${owners.join(', ')} may import ${packageName(spec)}`;
  }
  if (fromArea === 'src-shared' && packageName(spec) !== 'zod' && !isTest(fromRel)) return 'src-shared depends on zod only';
  return undefined;
}

export const layersRule = {
  meta: { type: 'problem', schema: [], messages: { bad: '{{why}}: {{spec}}' } },
  create(context) {
    const fromRel = rel(context.filename);
    const report = (node, spec) => {
      if (typeof spec !== 'string') return;
      const why = check(fromRel, spec);
      if (why) context.report({ node, messageId: 'bad', data: { why, spec } });
    };
    return {
      ImportDeclaration: (n) => report(n, n.source.value),
      ExportNamedDeclaration: (n) => n.source && report(n, n.source.value),
      ExportAllDeclaration: (n) => report(n, n.source.value),
      ImportExpression: (n) => n.source.type === 'Literal' && report(n, n.source.value),
    };
  },
};

export const checkImport = check;

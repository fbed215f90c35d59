// The import rule from docs/architecture.md: layers point one way, and every external package has
// owning folders, the only ones that may import it. The rule fails closed: a file outside the known
// areas, a folder under src-main that is not a layer, a package without owners and an import whose
// target cannot be read are errors, so a new folder or dependency is placed here before it is used.
import { builtinModules } from 'node:module';
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

/** The top-level folders (and root files) the rule knows; any other place is an error. */
export const AREAS = ['src-main', 'src-shared', 'src-renderer', 'emulator', 'e2e', 'bench', 'eslint-rules', 'assets', 'eslint.config.js', 'vitest.config.ts'];

/**
 * package → the folders (or files), relative to the repo root, allowed to import it. A package that
 * owns a resource (SQLite, FUSE, Electron, HTTP, WebSockets, sign-in) lives in the one folder that
 * owns that resource; the rest are listed where they are used today, so a new use is a decision.
 */
export const OWNED_PACKAGES = {
  '@azure/msal-node': ['src-main/auth'],
  'better-sqlite3': ['src-main/store', 'emulator', 'e2e'],
  'fuse-native': ['src-main/fuse', 'bench', 'e2e'],
  electron: ['src-main/app/electron'],
  // bench: the emulator's throughput, measured with the engine's own HTTP client.
  undici: ['src-main/graph', 'bench'],
  ws: ['src-main/app/ui', 'bench', 'e2e'],
  'p-queue': ['src-main/transfers'],
  'async-mutex': ['src-main/base'],
  pino: ['src-main/base'],
  zod: ['src-shared', 'src-main/auth', 'src-main/lifecycle'],
  commander: ['src-main/app/cli', 'src-main/app/ui', 'emulator', 'e2e'],
  // Build tooling: the engine bundle and the Electron build, the renderer's bundler.
  esbuild: ['src-main/app/cli'],
  tsx: ['src-main/app/cli'],
  vite: ['src-renderer', 'src-main/app/electron'],
  react: ['src-renderer'],
  'react-dom': ['src-renderer'],
  zustand: ['src-renderer'],
  // Test and lint tooling; test files may also use TEST_PACKAGES wherever they are.
  '@playwright/test': ['e2e'],
  vitest: ['e2e', 'emulator/test', 'vitest.config.ts'],
  'fast-check': ['e2e'],
  typescript: ['eslint-rules'],
  eslint: ['eslint-rules'],
  '@eslint/js': ['eslint.config.js'],
  'typescript-eslint': ['eslint.config.js', 'eslint-rules'],
};

/** Packages any test file may import, beside its folder's own. */
export const TEST_PACKAGES = ['vitest', 'fast-check'];

/**
 * The one entry into the emulator for code that ships (`onemount demo`): spawn.ts starts the
 * emulator's main script as a child process and talks to it over HTTP. It imports only types from
 * the emulator, so the product carries none of the emulator's code.
 */
export const EMULATOR_ENTRY = 'emulator/src/spawn.ts';
const EMULATOR_ENTRY_USERS = ['src-main/app/cli/main.ts'];

const BUILTINS = new Set(builtinModules);

function rel(file) {
  return path.relative(root, file).split(path.sep).join('/');
}

function under(relPath, owner) {
  return relPath === owner || relPath.startsWith(owner + '/');
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

/** Why `fileRel` may not exist where it is, or undefined. */
function checkPlace(fileRel) {
  if (fileRel.startsWith('..')) return undefined; // outside the repository (RuleTester's own files)
  if (!AREAS.includes(area(fileRel))) {
    return `${area(fileRel)} is not a known area: add it to AREAS in eslint-rules/layers.js with its import rules`;
  }
  if (area(fileRel) === 'src-main' && !engineLayer(fileRel)) {
    const folder = fileRel.split('/').slice(0, 2).join('/');
    return `${folder} is not an engine layer: put the file in a layer or add the folder to ENGINE_LAYERS in eslint-rules/layers.js`;
  }
  return undefined;
}

/** Why `fromRel` may not import `spec`, or undefined. `typeOnly`: the import is erased at run time. */
function check(fromRel, spec, typeOnly = false) {
  const fromArea = area(fromRel);
  if (spec.startsWith('.')) {
    const targetRel = rel(path.resolve(root, path.dirname(fromRel), spec));
    const toArea = area(targetRel);
    if (fromRel === EMULATOR_ENTRY && toArea === 'emulator' && !typeOnly) {
      return `${EMULATOR_ENTRY} is the product's entry into the emulator and may import only its types`;
    }
    if (fromArea === 'e2e' || fromArea === 'bench') return undefined;
    if (toArea === 'emulator' && fromArea !== 'emulator' && fromArea !== 'eslint-rules' && !isTest(fromRel)) {
      if (targetRel === EMULATOR_ENTRY && EMULATOR_ENTRY_USERS.includes(fromRel)) return undefined;
      return `only tests, e2e and bench reach into the emulator; the demo (${EMULATOR_ENTRY_USERS.join(', ')}) starts it through ${EMULATOR_ENTRY}`;
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
  if (spec.startsWith('node:') || BUILTINS.has(spec)) {
    if (fromArea === 'src-shared' || fromArea === 'src-renderer') return `${fromArea} must not use Node built-ins`;
    return undefined;
  }
  const name = packageName(spec);
  const owners = OWNED_PACKAGES[name];
  if (!owners) return `${name} has no owning folder: add it to OWNED_PACKAGES in eslint-rules/layers.js`;
  if (owners.some((o) => under(fromRel, o))) return undefined;
  if (isTest(fromRel) && TEST_PACKAGES.includes(name)) return undefined;
  return `only ${owners.join(', ')} may import ${name}`;
}

/** The module a call loads, when it is `require('x')`: undefined for any other call. */
function requiredSpec(node) {
  if (node.callee.type !== 'Identifier' || node.callee.name !== 'require' || node.arguments.length === 0) return undefined;
  return node.arguments[0];
}

/** A literal or a template without substitutions: the only specifiers the rule can read. */
function literal(node) {
  if (node.type === 'Literal' && typeof node.value === 'string') return node.value;
  if (node.type === 'TemplateLiteral' && node.expressions.length === 0) return node.quasis[0].value.cooked;
  return undefined;
}

export const layersRule = {
  meta: {
    type: 'problem',
    schema: [],
    messages: {
      bad: '{{why}}: {{spec}}',
      place: '{{why}}',
      computed: 'a computed module name cannot be checked against the layer rule: name the module literally',
    },
  },
  create(context) {
    const fromRel = rel(context.filename);
    const report = (node, spec, typeOnly = false) => {
      const why = check(fromRel, spec, typeOnly);
      if (why) context.report({ node, messageId: 'bad', data: { why, spec } });
    };
    const dynamic = (node, source) => {
      const spec = literal(source);
      if (spec === undefined) context.report({ node, messageId: 'computed' });
      else report(node, spec);
    };
    const allTypes = (specifiers) => specifiers.length > 0 && specifiers.every((s) => s.importKind === 'type' || s.exportKind === 'type');
    return {
      Program: (n) => {
        const why = checkPlace(fromRel);
        if (why) context.report({ node: n, messageId: 'place', data: { why } });
      },
      ImportDeclaration: (n) => report(n, n.source.value, n.importKind === 'type' || allTypes(n.specifiers)),
      ExportNamedDeclaration: (n) => n.source && report(n, n.source.value, n.exportKind === 'type' || allTypes(n.specifiers)),
      ExportAllDeclaration: (n) => report(n, n.source.value, n.exportKind === 'type'),
      ImportExpression: (n) => dynamic(n, n.source),
      TSImportType: (n) => {
        // typescript-eslint 8 names the specifier `source` (a Literal); older versions `argument`.
        const arg = 'source' in n ? n.source : n.argument;
        const spec = arg?.type === 'TSLiteralType' ? literal(arg.literal) : arg ? literal(arg) : undefined;
        if (spec !== undefined) report(n, spec, true);
      },
      CallExpression: (n) => {
        const arg = requiredSpec(n);
        if (arg) dynamic(n, arg);
      },
    };
  },
};

export const checkImport = check;
export const checkFilePlace = checkPlace;

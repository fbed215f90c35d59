import path from 'node:path';
import { RuleTester } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain JS module without types
import { checkFilePlace, checkImport, layersRule } from './layers.js';

const ROOT = path.resolve(import.meta.dirname, '..');

RuleTester.describe = describe;
RuleTester.it = it;
RuleTester.itOnly = it.only;

const tester = new RuleTester({ languageOptions: { parser: tseslint.parser, ecmaVersion: 2023, sourceType: 'module' } });
const at = (file: string) => path.join(ROOT, file);

describe('the layer import rule', () => {
  it('lets a layer import lower layers and refuses the other way', () => {
    expect(checkImport('src-main/vfs/inode.ts', '../graph/client.ts')).toBeUndefined();
    expect(checkImport('src-main/graph/client.ts', '../vfs/inode.ts')).toMatch(/may not import vfs/);
    expect(checkImport('src-main/fuse/adapter.ts', '../ipc/server.ts')).toMatch(/may not import ipc/);
  });
  it('keeps every external package in its owning folders', () => {
    expect(checkImport('src-main/store/db.ts', 'better-sqlite3')).toBeUndefined();
    expect(checkImport('src-main/vfs/cache.ts', 'better-sqlite3')).toMatch(/only src-main\/store/);
    expect(checkImport('src-main/graph/http.ts', 'undici')).toBeUndefined();
    expect(checkImport('src-main/transfers/pool.ts', 'undici')).toMatch(/only src-main\/graph/);
    expect(checkImport('src-main/app/cli/main.ts', 'electron')).toMatch(/only src-main\/app\/electron/);
    expect(checkImport('src-main/app/ui/ui-server.ts', 'ws')).toBeUndefined();
    expect(checkImport('src-main/ipc/socket-server.ts', 'ws')).toMatch(/only src-main\/app\/ui, bench, e2e may import ws/);
    expect(checkImport('src-main/auth/msal-auth.ts', '@azure/msal-node/dist/x.js')).toBeUndefined();
    expect(checkImport('src-main/graph/client.ts', '@azure/msal-node')).toMatch(/only src-main\/auth may import @azure\/msal-node/);
    // A test is no way around ownership, but test tooling goes with any test.
    expect(checkImport('src-main/vfs/cache.test.ts', 'better-sqlite3')).toMatch(/only src-main\/store/);
    expect(checkImport('src-main/vfs/cache.test.ts', 'vitest')).toBeUndefined();
    expect(checkImport('src-main/vfs/cache.ts', 'vitest')).toMatch(/may import vitest/);
  });
  it('fails closed: a package without owners, a folder outside the layers, an unknown area', () => {
    expect(checkImport('src-main/base/x.ts', 'left-pad')).toMatch(/left-pad has no owning folder/);
    expect(checkImport('src-main/base/x.ts', '@scope/pkg/sub')).toMatch(/@scope\/pkg has no owning folder/);
    expect(checkFilePlace('src-main/newlayer/x.ts')).toMatch(/src-main\/newlayer is not an engine layer/);
    expect(checkFilePlace('src-main/loose.ts')).toMatch(/is not an engine layer/);
    expect(checkFilePlace('tools/x.ts')).toMatch(/tools is not a known area/);
    expect(checkFilePlace('src-main/vfs/testing/fixture.ts')).toBeUndefined();
    expect(checkFilePlace('vitest.config.ts')).toBeUndefined();
  });
  it('keeps src-shared pure and the renderer away from the engine', () => {
    expect(checkImport('src-shared/ipc/contract.ts', 'node:fs')).toMatch(/Node built-ins/);
    expect(checkImport('src-shared/ipc/contract.ts', 'fs')).toMatch(/Node built-ins/);
    expect(checkImport('src-renderer/app.tsx', '../src-main/vfs/x.ts')).toMatch(/only in src-shared/);
    expect(checkImport('src-renderer/app.tsx', '../src-shared/ipc/contract.ts')).toBeUndefined();
  });
  it('lets tests reach the emulator, and the demo only through its spawn entry', () => {
    expect(checkImport('src-main/graph/client.ts', '../../emulator/src/server.ts')).toMatch(/emulator/);
    expect(checkImport('src-main/graph/client.test.ts', '../../emulator/src/server.ts')).toBeUndefined();
    expect(checkImport('src-main/app/cli/main.ts', '../../../emulator/src/spawn.ts')).toBeUndefined();
    expect(checkImport('src-main/app/cli/main.ts', '../../../emulator/src/emulator.ts')).toMatch(/through emulator\/src\/spawn.ts/);
    expect(checkImport('src-main/app/cli/other.ts', '../../../emulator/src/spawn.ts')).toMatch(/through emulator\/src\/spawn.ts/);
    expect(checkImport('emulator/src/spawn.ts', './faults.ts', true)).toBeUndefined();
    expect(checkImport('emulator/src/spawn.ts', './faults.ts', false)).toMatch(/may import only its types/);
    expect(checkImport('emulator/src/model.ts', '../../src-main/graph/quickxor.ts')).toBeUndefined();
    expect(checkImport('emulator/src/model.ts', '../../src-main/vfs/x.ts')).toMatch(/emulator may use only/);
  });
});

tester.run('onemount/layers', layersRule, {
  valid: [
    { filename: at('src-main/vfs/inode.ts'), code: "import { c } from '../graph/client.ts'; const d = await import('../store/db.ts'); export {};" },
    { filename: at('src-main/store/db.ts'), code: "const Database = require('better-sqlite3');" },
    { filename: at('src-main/app/cli/main.ts'), code: "import { EmulatorProcess } from '../../../emulator/src/spawn.ts';" },
    { filename: at('emulator/src/spawn.ts'), code: "import type { FaultSettings } from './faults.ts'; import { type SeedResult } from './seed.ts'; export type { X } from './x.ts';" },
    { filename: at('src-main/graph/x.ts'), code: "const url = import.meta.url; const f = require.resolve;" },
  ],
  invalid: [
    // Fails closed on places.
    { filename: at('src-main/newlayer/thing.ts'), code: 'export const x = 1;', errors: [{ messageId: 'place' }] },
    { filename: at('scripts/tool.ts'), code: 'export const x = 1;', errors: [{ messageId: 'place' }] },
    // require() and import() are checked like import declarations.
    { filename: at('src-main/graph/client.ts'), code: "const v = require('../vfs/inode.ts');", errors: [{ messageId: 'bad' }] },
    { filename: at('src-main/vfs/cache.ts'), code: "const Database = require('better-sqlite3');", errors: [{ messageId: 'bad' }] },
    { filename: at('src-main/graph/client.ts'), code: "const v = await import('../vfs/inode.ts'); export {};", errors: [{ messageId: 'bad' }] },
    { filename: at('src-main/graph/client.ts'), code: 'const v = await import(`../vfs/inode.ts`); export {};', errors: [{ messageId: 'bad' }] },
    { filename: at('src-main/graph/client.ts'), code: "export { x } from '../vfs/inode.ts';", errors: [{ messageId: 'bad' }] },
    { filename: at('src-main/graph/client.ts'), code: "export * from '../vfs/inode.ts';", errors: [{ messageId: 'bad' }] },
    { filename: at('src-main/graph/client.ts'), code: "type T = import('../vfs/inode.ts').Inode;", errors: [{ messageId: 'bad' }] },
    // A name the rule cannot read is refused rather than let through.
    { filename: at('src-main/graph/client.ts'), code: 'const m = await import(name); export {};', errors: [{ messageId: 'computed' }] },
    { filename: at('src-main/graph/client.ts'), code: 'const m = require(name);', errors: [{ messageId: 'computed' }] },
    // Packages: ws, msal and unowned ones.
    { filename: at('src-main/ipc/server.ts'), code: "import { WebSocketServer } from 'ws';", errors: [{ messageId: 'bad' }] },
    { filename: at('src-main/graph/token.ts'), code: "import msal from '@azure/msal-node';", errors: [{ messageId: 'bad' }] },
    { filename: at('src-main/base/x.ts'), code: "import pad from 'left-pad';", errors: [{ messageId: 'bad' }] },
    // The product reaches the emulator only through spawn.ts, and spawn.ts carries no emulator code.
    { filename: at('src-main/app/cli/main.ts'), code: "import { Emulator } from '../../../emulator/src/emulator.ts';", errors: [{ messageId: 'bad' }] },
    { filename: at('emulator/src/spawn.ts'), code: "import { Faults } from './faults.ts';", errors: [{ messageId: 'bad' }] },
    { filename: at('emulator/src/spawn.ts'), code: "import { type A, B } from './faults.ts';", errors: [{ messageId: 'bad' }] },
  ],
});

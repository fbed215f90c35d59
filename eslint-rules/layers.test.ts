import { describe, expect, it } from 'vitest';
// @ts-expect-error plain JS module without types
import { checkImport } from './layers.js';

describe('the layer import rule', () => {
  it('lets a layer import lower layers and refuses the other way', () => {
    expect(checkImport('src-main/vfs/inode.ts', '../graph/client.ts')).toBeUndefined();
    expect(checkImport('src-main/graph/client.ts', '../vfs/inode.ts')).toMatch(/may not import vfs/);
    expect(checkImport('src-main/fuse/adapter.ts', '../ipc/server.ts')).toMatch(/may not import ipc/);
  });
  it('keeps resource-owning packages in their folders', () => {
    expect(checkImport('src-main/store/db.ts', 'better-sqlite3')).toBeUndefined();
    expect(checkImport('src-main/vfs/cache.ts', 'better-sqlite3')).toMatch(/only src-main\/store/);
    expect(checkImport('src-main/graph/http.ts', 'undici')).toBeUndefined();
    expect(checkImport('src-main/transfers/pool.ts', 'undici')).toMatch(/only src-main\/graph/);
    expect(checkImport('src-main/app/cli/main.ts', 'electron')).toMatch(/only src-main\/app\/electron/);
  });
  it('keeps src-shared pure and the renderer away from the engine', () => {
    expect(checkImport('src-shared/ipc/contract.ts', 'node:fs')).toMatch(/Node built-ins/);
    expect(checkImport('src-renderer/app.tsx', '../src-main/vfs/x.ts')).toMatch(/only in src-shared/);
    expect(checkImport('src-renderer/app.tsx', '../src-shared/ipc/contract.ts')).toBeUndefined();
  });
  it('lets only tests reach the emulator', () => {
    expect(checkImport('src-main/graph/client.ts', '../../emulator/src/server.ts')).toMatch(/emulator/);
    expect(checkImport('src-main/graph/client.test.ts', '../../emulator/src/server.ts')).toBeUndefined();
    expect(checkImport('emulator/src/model.ts', '../../src-main/graph/quickxor.ts')).toBeUndefined();
    expect(checkImport('emulator/src/model.ts', '../../src-main/vfs/x.ts')).toMatch(/emulator may use only/);
  });
});

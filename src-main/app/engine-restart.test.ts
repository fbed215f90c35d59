/**
 * What a start picks up from the run before it, with the real engine (Engine.start) against the
 * emulator: the previous run's journal is written into its store between two starts, as a kill -9
 * leaves it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmulator, type EmulatorHandle } from '../../emulator/src/emulator.ts';
import { createMemoryLogger } from '../base/logger.ts';
import { until } from '../base/testing/until.ts';
import { newLocalId, openStore } from '../store/index.ts';
import { Engine } from './engine.ts';
import { emulatorEngineConfig } from './testing/engine-config.ts';

let emu: EmulatorHandle;
let root: string;

beforeAll(async () => {
  emu = await startEmulator();
  root = mkdtempSync(path.join(tmpdir(), 'onemount-engine-restart-'));
});

afterAll(async () => {
  await emu.close();
  rmSync(root, { recursive: true, force: true });
});

describe('a start after a kill', () => {
  it('replays a folder made offline whose replay the kill cut off mid-request (fuzz 111000/6)', async () => {
    const memory = createMemoryLogger('warn', 'engine-restart');
    const config = emulatorEngineConfig({ apiUrl: emu.apiUrl, root, account: 'restart', logger: memory.logger });
    const first = await Engine.start(config);
    await first.shutdown('test: first run');

    // What the kill left: the folder made offline, its mkdir taken by the replayer, no answer yet.
    const { store } = openStore({ path: config.paths.storeFile, logger: memory.logger });
    try {
      const top = store.items.getRoot()!;
      const id = newLocalId();
      store.transaction(() => {
        store.items.insert({ id, parentId: top.id, name: 'Made offline', kind: 'folder', size: 0, ctimeMs: 0, mtimeMs: 0 });
        store.journal.markUploading(store.journal.append({ kind: 'mkdir', itemId: id, parentId: top.id, name: 'Made offline' }).seq);
      });
    } finally {
      store.close();
    }

    const second = await Engine.start(config);
    try {
      await until(() => emu.emulator.admin.itemJson('/Made offline') !== undefined, 'the folder on the server');
      expect(emu.emulator.admin.itemJson('/Made offline')).toMatchObject({ name: 'Made offline', folder: {} });
      await until(() => second.replayer.pending().length === 0, 'an empty journal');
      expect(second.store.conflicts.list()).toEqual([]);
    } finally {
      await second.shutdown('test: second run');
    }
  }, 60_000);
});

/** pin / unpin / free / thumbnail over the socket: the contract validates, the engine's parts answer. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type EmulatorHandle } from '../../emulator/src/emulator.ts';
import { renderPng } from '../../emulator/src/thumbnails.ts';
import { putBytes } from '../../emulator/src/seed.ts';
import { ThumbnailCache } from '../transfers/thumbnail-cache.ts';
import { Pins } from '../vfs/pins.ts';
import { startCacheRig, type CacheRig } from '../vfs/testing/cache-rig.ts';
import { SocketClient } from './socket-client.ts';
import { SocketServer } from './socket-server.ts';

const KiB = 1024;

let emu: EmulatorHandle;
let rig: CacheRig;
let pins: Pins;
let server: SocketServer;
let client: SocketClient;
let dir: string;

beforeAll(async () => {
  emu = await startEmulator();
  rig = startCacheRig(emu.apiUrl);
  pins = new Pins({ store: rig.temp.store, downloads: rig.downloads, isOpen: (id) => rig.vfs.isOpen(id), tasks: rig.tasks, logger: rig.memory.logger });
  await emu.emulator.admin.remote({ op: 'mkdir', path: '/Photos' });
  await emu.emulator.admin.remote({ op: 'write', path: '/Photos/one.jpg', size: 120 * KiB });
  await emu.emulator.admin.remote({ op: 'write', path: '/Photos/two.jpg', size: 80 * KiB });
  const photos = emu.emulator.admin.itemJson('/Photos') as { id: string };
  await putBytes(emu.emulator, photos.id, 'real.png', renderPng(640, 480, [1, 2, 3]));
  await rig.sync.syncOnce();
  pins.start();
  const thumbs = new ThumbnailCache({ graph: rig.graph, cacheDir: rig.cacheDir, tasks: rig.tasks, logger: rig.memory.logger });
  dir = mkdtempSync(join(tmpdir(), 'onemount-ipc-'));
  const unused = () => {
    throw new Error('not part of this test');
  };
  server = await SocketServer.listen(
    join(dir, 'engine.sock'),
    {
      status: unused,
      syncNow: unused,
      quit: unused,
      pin: ({ path }) => pins.pin(path),
      unpin: ({ path }) => pins.unpin(path),
      free: ({ path }) => pins.free(path),
      thumbnail: async ({ path, size }) => {
        const file = await thumbs.get(rig.item(path), size);
        return file === undefined ? {} : { file };
      },
    },
    rig.memory.logger,
  );
  client = await SocketClient.connect(server.socketPath);
});

afterAll(async () => {
  client?.close();
  await server?.close();
  await pins?.stop();
  await rig?.close();
  await emu?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('pin, unpin and free over IPC', () => {
  it('round-trips each call with its counts', async () => {
    const png = rig.item('/Photos/real.png').size;
    expect(await client.call('pin', { path: '/Photos' })).toEqual({ path: '/Photos', files: 3, bytes: 200 * KiB + png, queued: 3 });
    await pins.whenIdle();
    expect(rig.vfs.itemState(rig.item('/Photos/two.jpg'))).toBe('pinned');
    expect(await client.call('free', { path: '/Photos' })).toEqual({
      path: '/Photos',
      freedFiles: 0,
      freedBytes: 0,
      skippedOpen: 0,
      skippedDirty: 0,
      skippedPinned: 3,
    });
    expect(await client.call('unpin', { path: '/Photos' })).toEqual({ path: '/Photos', unpinned: 1 });
    expect(await client.call('free', { path: '/Photos/one.jpg' })).toMatchObject({ freedFiles: 1, freedBytes: 120 * KiB });
    expect(rig.vfs.itemState(rig.item('/Photos/one.jpg'))).toBe('cloud-only');
    expect(rig.vfs.itemState(rig.item('/Photos/two.jpg'))).toBe('cached');
  });

  it('answers a thumbnail as a local file, and nothing for a file without one', async () => {
    const { file } = await client.call('thumbnail', { path: '/Photos/real.png', size: 'small' });
    expect(file && readFileSync(file).subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(await client.call('thumbnail', { path: '/Photos', size: 'small' })).toEqual({});
    await expect(client.call('thumbnail', { path: '/Photos/real.png', size: 'huge' } as never)).rejects.toMatchObject({ code: 'BAD_PARAMS' });
  });

  it('refuses bad params before they reach the engine, and reports a missing path with its code', async () => {
    await expect(client.call('pin', { path: 'relative/path' })).rejects.toMatchObject({ code: 'BAD_PARAMS' });
    await expect(client.call('free', {} as { path: string })).rejects.toMatchObject({ code: 'BAD_PARAMS' });
    await expect(client.call('unpin', { path: '/Photos', extra: 1 } as { path: string })).rejects.toMatchObject({ code: 'BAD_PARAMS' });
    await expect(client.call('pin', { path: '/Photos/three.jpg' })).rejects.toMatchObject({ code: 'VFS_ENOENT' });
  });
});

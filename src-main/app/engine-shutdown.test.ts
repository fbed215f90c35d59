/**
 * Shutdown with the real engine: Engine.start (store, Graph client, downloads, uploads, delta,
 * connectivity, cleaner, pins, the FUSE mount, the IPC socket) against the emulator, activity started
 * through the vfs (never through the mount: this process serves it), and the shutdown arriving at a
 * point fast-check picks, sometimes forced. Whatever the point: no task is left running afterwards,
 * no phase reports a failed participant, and every file written before the shutdown is on the server
 * or pending in the journal for the next start.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmulator, type EmulatorHandle } from '../../emulator/src/emulator.ts';
import { createMemoryLogger } from '../base/logger.ts';
import { quickXorHash } from '../graph/quickxor.ts';
import { openStore } from '../store/index.ts';
import { SocketClient } from '../ipc/socket-client.ts';
import { isOneMountError } from '../base/errors.ts';
import { Engine } from './engine.ts';
import { emulatorEngineConfig } from './testing/engine-config.ts';

const SEEDED = [0, 1, 2].map((i) => `/Seed/s-${i}.bin`);

let emu: EmulatorHandle;
let run = 0;

beforeAll(async () => {
  emu = await startEmulator();
  await emu.emulator.admin.remote({ op: 'mkdir', path: '/Seed' });
  for (const p of SEEDED) await emu.emulator.admin.remote({ op: 'write', path: p, size: 3 * 1024 * 1024 });
});

afterAll(async () => {
  await emu.close();
});

describe('engine shutdown at any point', () => {
  it('leaves no task running and loses no write, whenever the shutdown comes (forced or not)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ writes: fc.integer({ min: 0, max: 5 }), reads: fc.integer({ min: 0, max: 3 }), delayMs: fc.integer({ min: 0, max: 400 }), forced: fc.boolean() }),
        async ({ writes, reads, delayMs, forced }) => {
          const root = mkdtempSync(path.join(tmpdir(), 'onemount-engine-shutdown-'));
          const memory = createMemoryLogger('warn', 'engine-shutdown');
          const config = emulatorEngineConfig({ apiUrl: emu.apiUrl, root, account: `shutdown-${++run}`, logger: memory.logger }, { timeouts: { shutdownBudgetMs: 8000, fastExitBudgetMs: 2000 } });
          const paths = config.paths;
          const engine = await Engine.start(config);
          try {
            const vfs = engine.vfs;
            const written = new Map<string, Buffer>();
            const activity: Promise<unknown>[] = [];
            /** Outcomes are taken at once: a read cut off by the shutdown must not be an unhandled rejection. */
            const cutOff: string[] = [];
            const track = (work: Promise<void>) => activity.push(work.catch((e: unknown) => void cutOff.push(String(e))));
            for (let i = 0; i < writes; i++) {
              const p = `/w-${run}-${i}.bin`;
              const bytes = Buffer.alloc(200_000 + i, i + 1);
              track(
                (async () => {
                  const fh = await vfs.create(p);
                  await vfs.write(fh, bytes, bytes.length, 0);
                  await vfs.release(fh);
                  written.set(p, bytes);
                })(),
              );
            }
            for (let i = 0; i < reads; i++) {
              track(
                (async () => {
                  const fh = await vfs.open(SEEDED[i]!, 0);
                  try {
                    await vfs.read(fh, Buffer.alloc(65536), 65536, 1024 * 1024);
                  } finally {
                    await vfs.release(fh);
                  }
                })(),
              );
            }
            await new Promise((resolve) => setTimeout(resolve, delayMs));
            const report = await (forced ? engine.shutdownCoordinator.force('test') : engine.shutdown('test'));
            // Reads cut off by the shutdown may fail; writes that returned are what must not be lost.
            await Promise.all(activity);
            expect(engine.tasks.list()).toEqual([]);
            expect(engine.tasksLeft).toBe(0);
            expect(report.phases.flatMap((p) => p.failed.map((f) => `${p.phase}/${f.participant}: ${String(f.error)}`))).toEqual([]);
            // A forced exit gives each phase a sliver of the fast-exit budget; a participant may overrun
            // it (the coordinator moves on, the registry still stops its tasks). Not so without force.
            if (!forced) expect(report.phases.flatMap((p) => p.unfinished)).toEqual([]);
            const store = openStore({ path: paths.storeFile, logger: memory.logger }).store;
            try {
              for (const [p, bytes] of written) {
                const server = emu.emulator.admin.itemJson(p) as { file?: { hashes?: { quickXorHash?: string } } } | undefined;
                const uploaded = server?.file?.hashes?.quickXorHash === quickXorHash(bytes);
                const pending = store.journal.list({ states: ['pending'] }).some((e) => e.name === p.slice(1));
                expect(uploaded || pending, `${p}: neither on the server nor pending`).toBe(true);
              }
            } finally {
              store.close();
            }
          } finally {
            if (engine.shutdownCoordinator.state !== 'done') await engine.shutdown('test cleanup');
            rmSync(root, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 6 },
    );
  }, 240_000);
});

describe('stop-new-work', () => {
  it('refuses new syncs, new transfers and IPC calls that start work, while writes keep working to the end', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'onemount-stop-new-work-'));
    const memory = createMemoryLogger('warn', 'stop-new-work');
    const config = emulatorEngineConfig({ apiUrl: emu.apiUrl, root, account: `stop-new-work-${++run}`, logger: memory.logger }, { pollIntervalMs: 60_000 });
    const paths = config.paths;
    const engine = await Engine.start(config);
    const client = await SocketClient.connect(paths.socketPath);
    try {
      // The first enumeration, applied: it starts once the new mount has been quiet a moment, and
      // the reads below need the seeded files in the store.
      await engine.sync.syncNow();
      // Holds the shutdown in its uploads phase, after stop-new-work and stop-sync have run.
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let reachedUploads!: () => void;
      const inUploads = new Promise<void>((resolve) => (reachedUploads = resolve));
      engine.shutdownCoordinator.register('uploads', 'test: hold the phase', async () => {
        reachedUploads();
        await held;
      });
      const stopping = engine.shutdown('test');
      await inUploads;

      // A program's write still works: the edit waits in the journal for the next start.
      const fh = await engine.vfs.create('/written-while-stopping.txt');
      await engine.vfs.write(fh, Buffer.from('late but kept\n'), 14, 0);
      await engine.vfs.release(fh);

      // A new sync is refused, with the reason.
      const sync = await engine.sync.syncNow().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isOneMountError(sync, 'SHUTTING_DOWN'), String(sync)).toBe(true);
      expect(String(sync)).toMatch(/shutting down: a new sync is refused/);

      // A new transfer (bytes not on this device) is refused; cached reads are not transfers.
      const reader = await engine.vfs.open(SEEDED[2]!, 0);
      const read = await (async () => engine.vfs.read(reader, Buffer.alloc(4096), 4096, 2 * 1024 * 1024))().then(
        () => undefined,
        (e: unknown) => e,
      );
      await engine.vfs.release(reader);
      expect(String(read), 'a read that needs a new download').toMatch(/shutting down: a new download of \/Seed\/s-2\.bin is refused/);

      // IPC: calls that start work are refused; questions are still answered.
      await expect(client.call('syncNow', {})).rejects.toMatchObject({ code: 'SHUTTING_DOWN', message: expect.stringMatching(/shutting down: "syncNow" is refused/) });
      await expect(client.call('pin', { path: '/Seed' })).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
      await expect(client.call('retryTransfer', { id: 'upload:x:1' })).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
      const status = await client.call('status', {});
      expect(status.state).toBe('stopping');

      release();
      const report = await stopping;
      expect(report.phases.flatMap((p) => p.failed.map((f) => `${p.phase}/${f.participant}: ${String(f.error)}`))).toEqual([]);
      expect(engine.tasksLeft).toBe(0);
      const store = openStore({ path: paths.storeFile, logger: memory.logger }).store;
      try {
        expect(store.journal.list({ states: ['pending'] }).map((e) => e.name)).toContain('written-while-stopping.txt');
      } finally {
        store.close();
      }
    } finally {
      client.close();
      if (engine.shutdownCoordinator.state !== 'done') await engine.shutdown('test cleanup');
      rmSync(root, { recursive: true, force: true });
    }
  }, 60_000);
});

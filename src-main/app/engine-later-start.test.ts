/**
 * A later start (the drive enumerated by an earlier run) mounts what it has without waiting for
 * Graph: the drive's answer (its id and quota) is applied once it comes. The real engine
 * (Engine.start, a FUSE mount) against the emulator, and against a listener that takes connections
 * and never answers: a network that is there and is not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmulator, type EmulatorHandle } from '../../emulator/src/emulator.ts';
import { createMemoryLogger } from '../base/logger.ts';
import { until } from '../base/testing/until.ts';
import { openStore } from '../store/index.ts';
import { Engine, type EngineConfig } from './engine.ts';
import { emulatorEngineConfig } from './testing/engine-config.ts';

let emu: EmulatorHandle;
let root: string;

beforeAll(async () => {
  emu = await startEmulator();
  root = mkdtempSync(path.join(tmpdir(), 'onemount-later-start-'));
});

afterAll(async () => {
  await emu.close();
  rmSync(root, { recursive: true, force: true });
});

/** A first run that enumerates the whole drive (a start after one that did not is a first start again). */
async function enumerateOnce(config: EngineConfig): Promise<void> {
  const first = await Engine.start(config);
  try {
    await until(() => first.store.driveState.get('deltaLink') !== undefined, 'the first enumeration');
  } finally {
    await first.shutdown('test: first run');
  }
}

describe('a later start', () => {
  it('mounts the drive it has while the service takes the request and never answers, and stops without waiting for it', async () => {
    const memory = createMemoryLogger('warn', 'later-start');
    const config = emulatorEngineConfig({ apiUrl: emu.apiUrl, root, account: 'silent', logger: memory.logger });
    await emu.emulator.admin.remote({ op: 'mkdir', path: '/Kept here' });
    await enumerateOnce(config);

    const held: Socket[] = [];
    let requests = 0;
    const silent = createServer((socket) => {
      held.push(socket);
      socket.on('data', () => requests++);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const later = await Engine.start({ ...config, graphUrl: `http://127.0.0.1:${(silent.address() as AddressInfo).port}/v1.0` });
      try {
        // Mounted, with the drive's request sent and unanswered (it would be answered by now
        // only if the start had waited for it: it never is).
        expect(requests).toBeGreaterThan(0);
        expect(await readdir(config.mountpoint)).toContain('Kept here');
      } finally {
        await later.shutdown('test: later run');
        // Its stop ended the drive's request: no task was left waiting for an answer.
        expect(memory.records().map((r) => String(r.msg))).not.toContainEqual(expect.stringMatching(/did not finish in time|still running/));
      }
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  }, 60_000);

  it("applies the drive's answer once it comes", async () => {
    const memory = createMemoryLogger('warn', 'later-start');
    const config = emulatorEngineConfig({ apiUrl: emu.apiUrl, root, account: 'answered', logger: memory.logger });
    await enumerateOnce(config);
    // What an earlier run knew of the quota, long ago.
    const { store } = openStore({ path: config.paths.storeFile, logger: memory.logger });
    try {
      store.driveState.set('quota', { total: 1, used: 1, remaining: 0, fetchedAtMs: 0 });
    } finally {
      store.close();
    }

    const later = await Engine.start(config);
    try {
      const total = emu.emulator.drive.quota().total;
      await until(() => later.store.driveState.get('quota')?.total === total, "the drive's answer");
      expect(later.vfs.statfs().blocks).toBeGreaterThan(1);
    } finally {
      await later.shutdown('test: later run');
    }
  }, 60_000);
});

/**
 * A later start (the drive enumerated by an earlier run, or partly by a first run that stopped
 * before its enumeration was done) mounts what it has without waiting for Graph: the drive's
 * answer (its id and quota) is applied once it comes. The real engine
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

/**
 * A Graph address whose listener takes connections and reads the requests but never answers: `fn`
 * gets its URL and the count of requests it has read.
 */
async function withSilentService(fn: (graphUrl: string, requests: () => number) => Promise<void>): Promise<void> {
  const held: Socket[] = [];
  let requests = 0;
  const silent = createServer((socket) => {
    held.push(socket);
    socket.on('data', () => requests++);
    // The engine's stop aborts its requests, which may reset their connections.
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  try {
    await fn(`http://127.0.0.1:${(silent.address() as AddressInfo).port}/v1.0`, () => requests);
  } finally {
    for (const socket of held) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  }
}

describe('a later start', () => {
  it('mounts the drive it has while the service takes the request and never answers, and stops without waiting for it', async () => {
    const memory = createMemoryLogger('warn', 'later-start');
    const config = emulatorEngineConfig({ apiUrl: emu.apiUrl, root, account: 'silent', logger: memory.logger });
    await emu.emulator.admin.remote({ op: 'mkdir', path: '/Kept here' });
    await enumerateOnce(config);

    await withSilentService(async (graphUrl, requests) => {
      const later = await Engine.start({ ...config, graphUrl });
      try {
        // Mounted (a start that waited for the drive would never have got here), the drive's
        // request sent and never to be answered.
        await until(() => requests() > 0, "the drive's request at the service");
        expect(await readdir(config.mountpoint)).toContain('Kept here');
      } finally {
        await later.shutdown('test: later run');
      }
      // Its stop ended the drive's request: no task was left waiting for an answer.
      expect(memory.records().map((r) => String(r.msg))).not.toContainEqual(expect.stringMatching(/did not finish in time|still running/));
    });
  }, 60_000);

  it('after a first enumeration that did not finish, mounts the drive it has too, and enumerates it again in the background', async () => {
    const memory = createMemoryLogger('warn', 'later-start');
    const config = emulatorEngineConfig({ apiUrl: emu.apiUrl, root, account: 'unfinished', logger: memory.logger });
    await emu.emulator.admin.remote({ op: 'mkdir', path: '/Listed before' });
    await enumerateOnce(config);
    // What a first run stopped in the middle of its enumeration leaves: the drive and its root
    // known, some items stored, no delta link.
    const { store } = openStore({ path: config.paths.storeFile, logger: memory.logger });
    try {
      store.driveState.delete('deltaLink');
    } finally {
      store.close();
    }

    await withSilentService(async (graphUrl, requests) => {
      const later = await Engine.start({ ...config, graphUrl });
      try {
        // Mounted with its requests unanswered. (Its folders are listed on demand again, from the
        // service: a listing here would wait for it.)
        await until(() => requests() > 0, 'the requests at the service');
      } finally {
        await later.shutdown('test: unanswered run');
      }
    });

    const resumed = await Engine.start(config);
    try {
      await until(() => resumed.store.driveState.get('deltaLink') !== undefined, 'the enumeration, done again');
      expect(await readdir(config.mountpoint)).toContain('Listed before');
    } finally {
      await resumed.shutdown('test: resumed run');
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

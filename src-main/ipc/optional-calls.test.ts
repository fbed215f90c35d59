/** Calls added for the desktop app answer NOT_SUPPORTED from an engine without a handler, and run the handler when there is one. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryLogger } from '../base/logger.ts';
import { SocketClient } from './socket-client.ts';
import { SocketServer } from './socket-server.ts';

let server: SocketServer;
let client: SocketClient;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'onemount-ipc-optional-'));
  const unused = () => {
    throw new Error('not part of this test');
  };
  server = await SocketServer.listen(
    join(dir, 'engine.sock'),
    {
      status: unused,
      syncNow: unused,
      quit: unused,
      pin: unused,
      unpin: unused,
      free: unused,
      thumbnail: unused,
      pause: ({ durationMs }) => ({ paused: true, ...(durationMs ? { until: 1000 + durationMs } : {}) }),
    },
    createMemoryLogger().logger,
  );
  client = await SocketClient.connect(server.socketPath);
});

afterAll(async () => {
  client?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('optional calls', () => {
  it('answers NOT_SUPPORTED with a readable message where the engine has no handler', async () => {
    await expect(client.call('resume', {})).rejects.toMatchObject({ code: 'NOT_SUPPORTED', message: 'this engine cannot pause or resume syncing yet' });
    await expect(client.call('settings', {})).rejects.toMatchObject({ code: 'NOT_SUPPORTED' });
  });
  it('runs a handler that exists, with validated params', async () => {
    await expect(client.call('pause', { durationMs: 5000 })).resolves.toEqual({ paused: true, until: 6000 });
    await expect(client.call('pause', { durationMs: -1 } as never)).rejects.toMatchObject({ code: 'BAD_PARAMS' });
  });
});

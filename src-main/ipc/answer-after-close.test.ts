/**
 * A call still running when the engine closes its socket (the panel reads the status four times a
 * second while the engine shuts down) must not crash the engine when its answer comes: writing to an
 * ended socket raised ERR_STREAM_WRITE_AFTER_END on the connection's line reader, which had no error
 * listener, and the engine exited with 1 at the end of a clean shutdown.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../base/logger.ts';
import { SocketServer } from './socket-server.ts';

const dir = mkdtempSync(join(tmpdir(), 'onemount-ipc-close-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SocketServer.close with a call in flight', () => {
  it('drops the late answer instead of throwing', { timeout: 10_000 }, async () => {
    let answer!: (v: unknown) => void;
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const unused = () => {
      throw new Error('not part of this test');
    };
    const server = await SocketServer.listen(
      join(dir, 'engine.sock'),
      {
        status: () => {
          started();
          return new Promise((r) => (answer = r)) as never;
        },
        syncNow: unused,
        quit: unused,
        pin: unused,
        unpin: unused,
        free: unused,
        thumbnail: unused,
      },
      createMemoryLogger().logger,
    );
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      // A raw client that keeps its end open, as the panel's relay does while the engine closes.
      const client = connect(server.socketPath);
      client.on('error', () => undefined);
      await new Promise<void>((r) => client.once('connect', () => r()));
      const clientClosed = new Promise<void>((r) => client.once('close', () => r()));
      client.write(JSON.stringify({ id: 1, method: 'status', params: {} }) + '\n');
      await running;
      const closed = server.close();
      answer({ account: 'a' });
      await closed;
      // The late write and any error it raises run on the server's next ticks, before the client
      // can see the connection closed.
      await clientClosed;
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(uncaught).toEqual([]);
  });
});

/**
 * The control socket must outlive anything a client does: disconnecting before its answer, garbage,
 * a line without end, method names that are Object.prototype keys, a flood of connections, a
 * subscriber that never reads, and answers that arrive after the server began closing. The server
 * runs in this process, so an unhandled 'error' event (the crash these tests guard against) fails
 * the run; after each abuse an ordinary client must still get its answer.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryLogger } from '../base/logger.ts';
import type { EngineStatus } from '../../src-shared/ipc/contract.ts';
import type { ShutdownProgress } from '../../src-shared/model/transfer.ts';
import { SocketClient } from './socket-client.ts';
import { MAX_BACKLOG, MAX_CONNECTIONS, MAX_LINE, SocketServer, type EngineHandlers } from './socket-server.ts';

let dir: string;
let server: SocketServer;
/** Set by a test to hold `status` answers back until it says so. */
let holdStatus: Promise<void> | undefined;
let statusCalls = 0;
/** Errors the process saw outside any test's control (an unhandled 'error' event ends up here). */
const uncaught: unknown[] = [];
const onUncaught = (e: unknown) => uncaught.push(e);

const PROGRESS: ShutdownProgress = { phase: 'uploads', phaseIndex: 0, phases: ['uploads'], itemsLeft: 1, budgetLeftMs: 1000, done: false };
const STATUS: EngineStatus = { account: 'test', mountpoint: '/mnt/test', state: 'ready', items: 0, cachedBytes: 0, transfers: [], pid: 1 };

function handlers(): EngineHandlers {
  const unused = () => {
    throw new Error('not part of this test');
  };
  return {
    status: async () => {
      statusCalls++;
      await holdStatus;
      return STATUS;
    },
    syncNow: unused,
    quit: unused,
    pin: unused,
    unpin: unused,
    free: unused,
    thumbnail: unused,
  };
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'onemount-ipc-abuse-'));
  server = await SocketServer.listen(join(dir, 'engine.sock'), handlers(), createMemoryLogger().logger);
  holdStatus = undefined;
  statusCalls = 0;
  uncaught.length = 0;
  process.on('uncaughtException', onUncaught);
});

afterEach(async () => {
  process.off('uncaughtException', onUncaught);
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

function raw(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(server.socketPath);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Every line the server sends until it closes the connection. */
function collect(s: Socket): { lines: string[]; closed: Promise<void> } {
  const lines: string[] = [];
  let buf = '';
  s.setEncoding('utf8');
  s.on('data', (d: string) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
  s.on('error', () => undefined);
  return { lines, closed: new Promise((resolve) => s.once('close', () => resolve())) };
}

/** The proof of life after an abuse: a fresh client's call is answered. */
async function stillServes(): Promise<void> {
  const client = await SocketClient.connect(server.socketPath);
  try {
    await expect(client.call('status', {}, 5000)).resolves.toMatchObject({ mountpoint: '/mnt/test' });
  } finally {
    client.close();
  }
  expect(uncaught).toEqual([]);
}

describe('the control socket survives its clients', () => {
  it('clients that hang up with answers unread (ECONNRESET on the server side), or before their answer', { timeout: 20_000 }, async () => {
    let release!: () => void;
    holdStatus = new Promise((r) => (release = r));
    const clients = await Promise.all(Array.from({ length: 20 }, () => raw()));
    for (const s of clients) {
      s.on('error', () => undefined);
      s.write('{"id":1,"method":"subscribe","params":{}}\n{"id":2,"method":"status","params":{}}\n');
    }
    await expect.poll(() => statusCalls, { timeout: 5000 }).toBe(20);
    // Stop reading, let events pile up in the kernel's buffers, then vanish: the server's next read
    // or write on each connection fails (ECONNRESET, EPIPE).
    for (const s of clients) s.pause();
    for (let i = 0; i < 2000; i++) server.emit('shutdown', PROGRESS);
    for (const s of clients) s.destroy();
    release();
    // The held status answers go out to the vanished clients (and fail) before more events follow.
    await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 10; i++) server.emit('shutdown', PROGRESS);
    await expect.poll(() => server.connectionCount, { timeout: 5000 }).toBe(0);
    await stillServes();
  });

  it('answers garbage, half lines and unknown methods without dropping the connection', { timeout: 20_000 }, async () => {
    const s = await raw();
    const got = collect(s);
    s.write(Buffer.from([0xff, 0xfe, 0x00, 0x0a]));
    s.write('{"id":2,"method":"toString","params":{}}\n');
    s.write('{"id":3,"method":"__proto__"}\n');
    s.write('{"id":4,"method":"constructor"}\n');
    s.write('[]\n{"id":"x"}\nnull\n');
    s.write('{"id":5,"method":"sta');
    s.write('tus","params":{}}\n');
    await expect.poll(() => got.lines.length, { timeout: 5000 }).toBe(8);
    const answers = got.lines.map((l) => JSON.parse(l) as { id: number; error?: { code: string }; result?: unknown });
    expect(answers.find((a) => a.id === 5)?.result).toMatchObject({ mountpoint: '/mnt/test' });
    expect(answers.filter((a) => a.error?.code === 'UNKNOWN_METHOD').map((a) => a.id).sort()).toEqual([2, 3, 4]);
    expect(answers.filter((a) => a.error?.code === 'BAD_REQUEST')).toHaveLength(4);
    s.destroy();
    await stillServes();
  });

  it('a line longer than the cap gets TOO_LARGE and its connection closed, before it is all buffered', { timeout: 20_000 }, async () => {
    const s = await raw();
    const got = collect(s);
    const chunk = Buffer.alloc(64 * 1024, 'a');
    // Four times the cap, never a newline: the server must not wait for the end of the line.
    for (let sent = 0; sent < 4 * MAX_LINE && !s.destroyed; sent += chunk.length) {
      if (!s.write(chunk)) await new Promise((r) => s.once('drain', r).once('close', r));
    }
    await got.closed;
    expect(got.lines.map((l) => JSON.parse(l) as unknown)).toEqual([{ id: -1, error: { code: 'TOO_LARGE', message: expect.any(String) } }]);
    await stillServes();
  });

  it('answers that arrive after close() began are dropped, not written after end', { timeout: 20_000 }, async () => {
    let release!: () => void;
    holdStatus = new Promise((r) => (release = r));
    const s = await raw();
    const { closed } = collect(s);
    s.write('{"id":1,"method":"status","params":{}}\n'.repeat(5));
    await expect.poll(() => statusCalls, { timeout: 5000 }).toBe(5);
    const closing = server.close();
    release();
    await closing;
    // A write after end fails on the server's next tick; the client sees the close only after that.
    await closed;
    expect(uncaught).toEqual([]);
    // Restart for afterEach and the proof of life.
    server = await SocketServer.listen(join(dir, 'engine.sock'), handlers(), createMemoryLogger().logger);
    await stillServes();
  });

  it('close() does not wait for a client that never reads nor closes', { timeout: 20_000 }, async () => {
    const s = await raw();
    s.pause();
    s.on('error', () => undefined);
    await server.close();
    server = await SocketServer.listen(join(dir, 'engine.sock'), handlers(), createMemoryLogger().logger);
    s.destroy();
    await stillServes();
  });

  it('a subscriber that never reads is cut off instead of growing the engine without bound', { timeout: 30_000 }, async () => {
    const s = await raw();
    s.on('error', () => undefined);
    const closed = new Promise<void>((r) => s.once('close', () => r()));
    s.write('{"id":1,"method":"subscribe","params":{}}\n');
    // Wait for the subscription, then stop reading.
    await new Promise<void>((r) => s.once('data', () => r()));
    s.pause();
    const lineBytes = JSON.stringify({ event: 'shutdown', payload: PROGRESS }).length + 1;
    const limit = Math.ceil((8 * MAX_BACKLOG) / lineBytes);
    let sent = 0;
    while (server.connectionCount > 0 && sent < limit) {
      server.emit('shutdown', PROGRESS);
      sent++;
      if (sent % 500 === 0) await new Promise((r) => setImmediate(r));
    }
    s.destroy();
    await closed;
    expect(sent).toBeLessThan(limit);
    await stillServes();
  });

  it(`a flood of connections beyond ${MAX_CONNECTIONS} is refused at the door, and the engine keeps serving`, { timeout: 60_000 }, async () => {
    const flood: Socket[] = [];
    for (let i = 0; i < MAX_CONNECTIONS + 200; i++) {
      const s = connect(server.socketPath);
      s.on('error', () => undefined);
      flood.push(s);
    }
    await Promise.all(flood.map((s) => new Promise((r) => (s.readyState === 'open' ? r(undefined) : s.once('connect', r).once('close', r)))));
    for (const s of flood) s.destroy();
    await expect.poll(() => server.connectionCount, { timeout: 5000 }).toBe(0);
    await stillServes();
  });
});

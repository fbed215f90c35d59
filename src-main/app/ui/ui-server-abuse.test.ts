/**
 * The panel's server must outlive anything a client does: raw garbage on the port, an upgrade that
 * is refused and then reset, WebSocket messages that are binary, malformed or over the size cap,
 * pages that vanish mid-request, more pages than it relays. Server and engine socket run in this
 * process, so an unhandled 'error' event fails the run; after each abuse a fresh page must still
 * get its answer from the engine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { createMemoryLogger } from '../../base/logger.ts';
import { SocketServer } from '../../ipc/socket-server.ts';
import { MAX_PAGES, UiServer } from './ui-server.ts';

const SECRET = 'abuse-secret-0123456789abcdefghijklmnopqrstu';
const logger = createMemoryLogger().logger;
let dir: string;
let engine: SocketServer;
let ui: UiServer;
let origin: string;
let url: string;
const uncaught: unknown[] = [];
const onUncaught = (e: unknown) => uncaught.push(e);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'onemount-ui-abuse-'));
  await mkdir(join(dir, 'site'));
  await writeFile(join(dir, 'site', 'index.html'), '<!doctype html><title>panel</title>');
  const unused = () => {
    throw new Error('not part of this test');
  };
  engine = await SocketServer.listen(
    join(dir, 'engine.sock'),
    { status: unused, syncNow: () => ({ started: true }), quit: unused, pin: unused, unpin: unused, free: unused, thumbnail: unused },
    logger,
  );
  ui = await UiServer.start({ staticDir: join(dir, 'site'), socketPath: engine.socketPath, logger, secret: SECRET });
  origin = `http://127.0.0.1:${ui.port}`;
  url = `ws://127.0.0.1:${ui.port}/${SECRET}/ipc`;
  process.on('uncaughtException', onUncaught);
});

afterAll(async () => {
  process.off('uncaughtException', onUncaught);
  await ui?.close();
  await engine?.close();
  await rm(dir, { recursive: true, force: true });
});

function open(): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { origin });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`refused with ${res.statusCode}`)));
  });
}

function nextMessage(ws: WebSocket): Promise<unknown> {
  return new Promise((resolve, reject) => {
    ws.once('message', (d) => resolve(JSON.parse(d.toString())));
    ws.once('close', (code) => reject(new Error(`closed with ${code}`)));
  });
}

async function stillServes(): Promise<void> {
  const ws = await open();
  try {
    const answer = nextMessage(ws);
    ws.send(JSON.stringify({ id: 9, method: 'syncNow', params: {} }));
    await expect(answer).resolves.toEqual({ id: 9, result: { started: true } });
  } finally {
    ws.close();
  }
  expect(uncaught).toEqual([]);
}

describe('the panel server survives its clients', () => {
  it('raw garbage and resets on the HTTP port, including a refused upgrade', { timeout: 20_000 }, async () => {
    const junk = [
      Buffer.from([0, 1, 2, 0xff, 0xfe, 13, 10, 13, 10]),
      Buffer.from(`GET /wrong/ipc HTTP/1.1\r\nHost: 127.0.0.1:${ui.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x\r\nSec-WebSocket-Version: 13\r\n\r\n`),
      Buffer.from(`GET /${SECRET}/ipc HTTP/1.1\r\nHost: 127.0.0.1:${ui.port}\r\nOrigin: ${origin}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`),
      Buffer.from(`GET /${SECRET}/ HTTP/1.1\r\nHost: 127.0.0.1:${ui.port}\r\n`),
    ];
    for (let round = 0; round < 20; round++) {
      await Promise.all(
        junk.map(
          (bytes) =>
            new Promise<void>((resolve) => {
              const s = connect(ui.port, '127.0.0.1');
              s.on('error', () => undefined);
              s.once('close', () => resolve());
              s.once('connect', () => {
                s.write(bytes);
                // Gone before the server's answer: a TCP reset on its side.
                setImmediate(() => s.resetAndDestroy());
              });
            }),
        ),
      );
    }
    await stillServes();
  });

  it('binary, malformed and oversized messages, and pages gone mid-request', { timeout: 20_000 }, async () => {
    const ws = await open();
    const answers: unknown[] = [];
    ws.on('message', (d) => answers.push(JSON.parse(d.toString())));
    ws.send(Buffer.from([1, 2, 3]), { binary: true });
    ws.send('{"id":1,"method":"toString"}');
    ws.send('\u0000\uffff');
    await expect.poll(() => answers.length, { timeout: 5000 }).toBe(3);
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.send('x'.repeat(1024 * 1024));
    // 1009: message too big (the cap), the relay closes that page only.
    expect(await closed).toBe(1009);

    for (let i = 0; i < 30; i++) {
      const page = await open();
      page.send(JSON.stringify({ id: i, method: 'syncNow', params: {} }));
      page.terminate();
    }
    await stillServes();
  });

  it(`more than ${MAX_PAGES} pages at once: the extra ones are refused, the rest work`, { timeout: 30_000 }, async () => {
    const results = await Promise.allSettled(Array.from({ length: MAX_PAGES + 20 }, () => open()));
    const pages = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    expect(pages.length).toBe(MAX_PAGES);
    expect(refused.every((m) => m.includes('503'))).toBe(true);
    for (const page of pages) page.terminate();
    await expect.poll(() => engine.connectionCount, { timeout: 5000 }).toBe(0);
    await stillServes();
  });
});

/** Browser mode's server: the secret path, Host and Origin checks, static files, and the relay to a real engine socket. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { createMemoryLogger } from '../../base/logger.ts';
import { SocketServer } from '../../ipc/socket-server.ts';
import { CLOSE_ENGINE_STOPPED, CLOSE_ENGINE_UNREACHABLE, UiServer } from './ui-server.ts';

const SECRET = 's3cret-for-tests-0123456789abcdefghijklmnopq';
let dir: string;
let engine: SocketServer;
let ui: UiServer;
const logger = createMemoryLogger().logger;

function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: ui.port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

function openSocket(url: string, origin: string): Promise<{ ws: WebSocket; messages: unknown[]; closed: Promise<{ code: number; reason: string }> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { origin });
    const messages: unknown[] = [];
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
    ws.on('message', (d) => messages.push(JSON.parse(d.toString())));
    ws.once('open', () => resolve({ ws, messages, closed }));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`refused with ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

const until = async (what: string, ok: () => boolean) => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!ok()) throw new Error(`timed out waiting for ${what}`);
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'onemount-ui-'));
  const site = join(dir, 'site');
  mkdirSync(join(site, 'assets'), { recursive: true });
  writeFileSync(join(site, 'index.html'), '<!doctype html><title>panel</title>');
  writeFileSync(join(site, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(dir, 'outside.js'), 'secret stuff');
  const unused = () => {
    throw new Error('not part of this test');
  };
  engine = await SocketServer.listen(
    join(dir, 'engine.sock'),
    { status: unused, syncNow: () => ({ started: true }), quit: unused, pin: unused, unpin: unused, free: unused, thumbnail: unused },
    logger,
  );
  ui = await UiServer.start({ staticDir: site, socketPath: engine.socketPath, logger, secret: SECRET });
});

afterAll(async () => {
  await ui?.close();
  await engine?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('UiServer', () => {
  it('serves the page under the secret path only, with a strict CSP', async () => {
    expect(ui.url).toBe(`http://127.0.0.1:${ui.port}/${SECRET}/`);
    const page = await get(`/${SECRET}/`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>panel</title>');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect((await get(`/${SECRET}/assets/app.js`)).headers['content-type']).toMatch(/javascript/);
    expect((await get(`/${SECRET}`)).status).toBe(308);
    expect((await get('/')).status).toBe(404);
    expect((await get(`/${SECRET.slice(0, -1)}x/`)).status).toBe(404);
    expect((await get(`/${SECRET}/../outside.js`)).status).toBe(404);
    expect((await get(`/${SECRET}/%2e%2e/outside.js`)).status).toBe(404);
    expect((await get(`/${SECRET}/missing.js`)).status).toBe(404);
  });

  it('refuses other Host names (DNS rebinding) and foreign origins', async () => {
    expect((await get(`/${SECRET}/`, { host: `evil.example:${ui.port}` })).status).toBe(421);
    expect((await get(`/${SECRET}/`, { origin: 'http://evil.example' })).status).toBe(403);
    expect((await get(`/${SECRET}/`, { host: `localhost:${ui.port}` })).status).toBe(200);
    await expect(openSocket(`ws://127.0.0.1:${ui.port}/${SECRET}/ipc`, 'http://evil.example')).rejects.toThrow(/403/);
    await expect(openSocket(`ws://127.0.0.1:${ui.port}/wrong/ipc`, `http://127.0.0.1:${ui.port}`)).rejects.toThrow(/404/);
  });

  it('relays the contract to the engine and back, and checks requests on the way', async () => {
    const { ws, messages } = await openSocket(`ws://127.0.0.1:${ui.port}/${SECRET}/ipc`, `http://127.0.0.1:${ui.port}`);
    ws.send(JSON.stringify({ id: 1, method: 'syncNow', params: {} }));
    ws.send(JSON.stringify({ id: 2, method: 'pause', params: {} }));
    ws.send(JSON.stringify({ id: 3, method: 'rm -rf', params: {} }));
    ws.send('{nope');
    await until('four answers', () => messages.length === 4);
    expect(messages).toContainEqual({ id: 1, result: { started: true } });
    expect(messages).toContainEqual({ id: 2, error: { code: 'NOT_SUPPORTED', message: 'this engine cannot pause syncing yet' } });
    expect(messages).toContainEqual({ id: 3, error: { code: 'UNKNOWN_METHOD', message: 'unknown method rm -rf' } });
    expect(messages).toContainEqual({ id: -1, error: { code: 'BAD_REQUEST', message: 'not a valid request' } });
    ws.send(JSON.stringify({ id: 5, method: 'subscribe', params: {} }));
    await until('subscribed', () => messages.length === 5);
    engine.emit('shutdown', { phase: 'stop-new-work', phaseIndex: 0, phases: ['stop-new-work'], itemsLeft: 0, budgetLeftMs: 10, done: false });
    await until('the event', () => messages.length === 6);
    expect(messages[5]).toMatchObject({ event: 'shutdown', payload: { phase: 'stop-new-work' } });
    ws.close();
  });

  it('says so when the engine is not running, and when it stops', async () => {
    const gone = await UiServer.start({ staticDir: join(dir, 'site'), socketPath: join(dir, 'nobody.sock'), logger });
    try {
      const { closed } = await openSocket(`${gone.url.replace('http', 'ws')}ipc`, `http://127.0.0.1:${gone.port}`);
      expect(await closed).toEqual({ code: CLOSE_ENGINE_UNREACHABLE, reason: 'the OneMount engine is not running' });
    } finally {
      await gone.close();
    }
    const { ws, messages, closed } = await openSocket(`ws://127.0.0.1:${ui.port}/${SECRET}/ipc`, `http://127.0.0.1:${ui.port}`);
    ws.send(JSON.stringify({ id: 1, method: 'syncNow', params: {} }));
    await until('an answer', () => messages.length === 1);
    await engine.close();
    expect(await closed).toEqual({ code: CLOSE_ENGINE_STOPPED, reason: 'the OneMount engine stopped' });
  });

  it('refuses to start without a built panel', async () => {
    await expect(UiServer.start({ staticDir: join(dir, 'nothing'), socketPath: engine.socketPath, logger })).rejects.toMatchObject({ code: 'UI_NOT_BUILT' });
  });
});

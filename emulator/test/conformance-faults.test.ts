/**
 * Conformance: fault knobs and what the emulator records about clients (docs/graph-api.md §10, §11, §13,
 * §15 #1/#2) over real HTTP — throttling with and without Retry-After, the ignored-Retry-After
 * detector, scripted errors, latency, bandwidth, dropped bodies, offline, tokens sent to storage,
 * the request log, and strict bearer tokens.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { quickXorHash } from '../../src-main/graph/quickxor.ts';
import {
  admin,
  api,
  apiJson,
  errorOf,
  mkdirParents,
  pathRef,
  pseudoRandomBytes,
  putContent,
  storage,
  storageJson,
  testClock,
  useEmulator,
  type EmulatorHandle,
} from './helpers.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const UNIT = 320 * KiB;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface LogEntry {
  seq: number;
  listener: 'api' | 'storage';
  method: string;
  path: string;
  status: number;
  authorization: boolean;
  range?: string;
  contentRange?: string;
  fault?: string;
}

interface ClientFault {
  kind: string;
  method: string;
  path: string;
}

async function fileAt(h: EmulatorHandle, p: string, data: Uint8Array | string): Promise<string> {
  await mkdirParents(h, p);
  const put = await putContent(h, p, data);
  expect(put.status).toBeLessThan(300);
  const res = await api(h, `${pathRef(p)}/content`);
  expect(res.status).toBe(302);
  return res.headers.get('location')!;
}

async function lastLogSeq(h: EmulatorHandle): Promise<number> {
  return (await admin<{ lastSeq: number }>(h, 'GET', '/log')).body.lastSeq;
}

/** The log is written when a response closes, which can trail the client by a tick: poll briefly. */
async function logEntries(h: EmulatorHandle, query: string, atLeast = 1): Promise<LogEntry[]> {
  for (let i = 0; ; i++) {
    const { status, body } = await admin<{ entries: LogEntry[] }>(h, 'GET', `/log?${query}`);
    expect(status).toBe(200);
    if (body.entries.length >= atLeast || i === 50) return body.entries;
    await sleep(20);
  }
}

async function clientFaults(h: EmulatorHandle): Promise<ClientFault[]> {
  return (await admin<{ faults: ClientFault[] }>(h, 'GET', '/client-faults')).body.faults;
}

/** The network-level cause of a failed fetch (ECONNREFUSED, …). */
async function connectError(p: Promise<Response>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return ((e as { cause?: { code?: string } }).cause ?? (e as { code?: string })).code;
  }
  throw new Error('the request was answered');
}

describe('fault knobs', () => {
  const clock = testClock();
  const emu = useEmulator({ mode: 'personal', now: clock.now });
  afterEach(async () => {
    expect((await admin(emu(), 'DELETE', '/faults')).status).toBe(204);
  });

  it('answers 429 with Retry-After, then serves again once the client waited', async () => {
    const h = emu();
    await admin(h, 'POST', '/faults/throttle', { status: 429, retryAfterSec: 1, count: 1 });
    const throttled = await apiJson(h, '/me/drive');
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('1');
    expect(errorOf(throttled.body)).toMatchObject({ code: 'activityLimitReached', inner: 'throttledRequest' });
    clock.advance(1000);
    expect((await apiJson(h, '/me/drive')).status).toBe(200);
    expect((await clientFaults(h)).some((f) => f.kind === 'retry-after-ignored')).toBe(false);
  });

  it('records a request before Retry-After ran out as a client fault and escalates the wait', async () => {
    const h = emu();
    const since = await lastLogSeq(h);
    await admin(h, 'POST', '/faults/throttle', { status: 429, retryAfterSec: 1, count: 1 });
    expect((await apiJson(h, '/me/drive')).status).toBe(429);
    const early = await apiJson(h, '/me/drive/root');
    expect(early.status).toBe(429);
    expect(Number(early.headers.get('retry-after'))).toBeGreaterThan(1);
    const faults = await clientFaults(h);
    expect(faults).toContainEqual(expect.objectContaining({ kind: 'retry-after-ignored', method: 'GET', path: '/v1.0/me/drive/root' }));
    const logged = await logEntries(h, `since=${since}&path=/me/drive/root`);
    expect(logged.at(-1)).toMatchObject({ status: 429, fault: 'retry-after-ignored' });
  });

  it('answers the next N requests with 503 without Retry-After, on the chosen listener only', async () => {
    const h = emu();
    await admin(h, 'POST', '/faults/throttle', { status: 503, count: 2, listener: 'api' });
    for (let i = 0; i < 2; i++) {
      const res = await apiJson(h, '/me/drive');
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBeNull();
      expect(errorOf(res.body).code).toBe('serviceNotAvailable');
    }
    expect((await apiJson(h, '/me/drive')).status).toBe(200);

    const url = await fileAt(h, 'faults/listener.txt', 'storage only');
    await admin(h, 'POST', '/faults/throttle', { status: 503, count: 1, listener: 'storage' });
    expect((await apiJson(h, '/me/drive')).status).toBe(200);
    const dl = await storage(url);
    expect(dl.status).toBe(503);
    await dl.arrayBuffer();
    expect(await (await storage(url)).text()).toBe('storage only');

    // 503 can carry Retry-After too.
    await admin(h, 'POST', '/faults/throttle', { status: 503, retryAfterSec: 3, count: 1 });
    const withHeader = await apiJson(h, '/me/drive');
    expect(withHeader.status).toBe(503);
    expect(withHeader.headers.get('retry-after')).toBe('3');
  });

  it('throttles at a rate', async () => {
    const h = emu();
    await admin(h, 'POST', '/faults/throttle', { status: 503, rate: 0.5 });
    let throttled = 0;
    for (let i = 0; i < 100; i++) {
      const res = await api(h, '/me/drive');
      await res.arrayBuffer();
      if (res.status === 503) throttled++;
      else expect(res.status).toBe(200);
    }
    // Binomial(100, 0.5): outside [20, 80] has a probability far below 1e-8.
    expect(throttled).toBeGreaterThanOrEqual(20);
    expect(throttled).toBeLessThanOrEqual(80);
  });

  it('scripts an error: 500 on the 3rd fragment of an upload, which the client then resends', async () => {
    const h = emu();
    const data = pseudoRandomBytes(4 * UNIT, 21);
    await mkdirParents(h, 'faults/scripted.bin');
    const created = await apiJson<{ uploadUrl: string }>(h, `${pathRef('faults/scripted.bin')}/createUploadSession`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(created.status).toBe(200);
    const url = created.body.uploadUrl;
    const since = await lastLogSeq(h);
    await admin(h, 'POST', '/faults/fail', { status: 500, code: 'generalException', method: 'PUT', pathIncludes: '/up/', skip: 2, count: 1 });
    const put = (i: number) =>
      storageJson(url, { method: 'PUT', body: data.subarray(i * UNIT, (i + 1) * UNIT), headers: { 'content-range': `bytes ${i * UNIT}-${(i + 1) * UNIT - 1}/${data.length}` } });
    // Status GETs on the session do not count: only PUTs match.
    expect((await put(0)).status).toBe(202);
    expect((await storageJson(url)).status).toBe(200);
    expect((await put(1)).status).toBe(202);
    const third = await put(2);
    expect(third.status).toBe(500);
    expect(errorOf(third.body).code).toBe('generalException');
    const st = await storageJson<{ nextExpectedRanges: string[] }>(url);
    expect(st.body.nextExpectedRanges[0]).toBe(`${2 * UNIT}-${data.length - 1}`);
    expect((await put(2)).status).toBe(202);
    expect((await put(3)).status).toBe(201);
    // The log shows each fragment's Content-Range and answer, and which one a fault produced.
    const puts = await logEntries(h, `since=${since}&listener=storage&method=PUT&path=/up/`, 5);
    expect(puts.map((e) => [e.contentRange, e.status, e.fault])).toEqual([
      [`bytes 0-${UNIT - 1}/${data.length}`, 202, undefined],
      [`bytes ${UNIT}-${2 * UNIT - 1}/${data.length}`, 202, undefined],
      [`bytes ${2 * UNIT}-${3 * UNIT - 1}/${data.length}`, 500, 'scripted-500'],
      [`bytes ${2 * UNIT}-${3 * UNIT - 1}/${data.length}`, 202, undefined],
      [`bytes ${3 * UNIT}-${4 * UNIT - 1}/${data.length}`, 201, undefined],
    ]);
  });

  it('adds latency to every API and storage request', async () => {
    const h = emu();
    const url = await fileAt(h, 'faults/latency.txt', 'slow');
    await admin(h, 'POST', '/faults', { latencyMs: 150 });
    for (const req of [() => api(h, '/me/drive'), () => storage(url)]) {
      const started = performance.now();
      const res = await req();
      await res.arrayBuffer();
      expect(res.status).toBe(200);
      expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    }
  });

  it('caps download bandwidth: 2 MiB at 4 MiB/s takes at least ~0.4 s', async () => {
    const h = emu();
    const data = pseudoRandomBytes(2 * MiB, 22);
    const url = await fileAt(h, 'faults/bandwidth.bin', data);
    await admin(h, 'POST', '/faults', { bandwidthBytesPerSec: 4 * MiB });
    const started = performance.now();
    const res = await storage(url);
    const got = Buffer.from(await res.arrayBuffer());
    const elapsed = performance.now() - started;
    expect(got.equals(data)).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(400);
  });

  it('caps upload-session bandwidth too: a 2 MiB fragment at 4 MiB/s takes at least ~0.4 s', async () => {
    const h = emu();
    const data = pseudoRandomBytes(2 * MiB, 25);
    await mkdirParents(h, 'faults/up-bandwidth.bin');
    const created = await apiJson<{ uploadUrl: string }>(h, `${pathRef('faults/up-bandwidth.bin')}/createUploadSession`, { method: 'POST', body: '{}' });
    expect(created.status).toBe(200);
    await admin(h, 'POST', '/faults', { bandwidthBytesPerSec: 4 * MiB });
    const started = performance.now();
    const res = await storageJson<{ size: number; file: { hashes: { quickXorHash: string } } }>(created.body.uploadUrl, {
      method: 'PUT',
      body: data,
      headers: { 'content-range': `bytes 0-${data.length - 1}/${data.length}` },
    });
    const elapsed = performance.now() - started;
    expect(res.status).toBe(201);
    expect(res.body.file.hashes.quickXorHash).toBe(quickXorHash(data));
    expect(elapsed).toBeGreaterThanOrEqual(400);
  });

  it('cuts a download body midway (dropNextBodies)', async () => {
    const h = emu();
    const url = await fileAt(h, 'faults/cut.bin', pseudoRandomBytes(MiB, 23));
    await admin(h, 'POST', '/faults', { dropNextBodies: 1 });
    const res = await storage(url);
    expect(res.status).toBe(200);
    await expect(res.arrayBuffer()).rejects.toThrow();
    // Only the next one.
    expect((await (await storage(url)).arrayBuffer()).byteLength).toBe(MiB);
  });

  it('goes offline: API and storage refuse connections, admin answers, then back on the same ports', async () => {
    const h = emu();
    const url = await fileAt(h, 'faults/offline.txt', 'still here');
    const off = await admin<{ offline: boolean }>(h, 'POST', '/offline', { offline: true });
    expect(off.body.offline).toBe(true);
    try {
      expect(await connectError(api(h, '/me/drive'))).toBe('ECONNREFUSED');
      expect(await connectError(storage(url))).toBe('ECONNREFUSED');
      const info = await admin<{ offline: boolean }>(h, 'GET', '/info');
      expect(info.status).toBe(200);
      expect(info.body.offline).toBe(true);
    } finally {
      expect((await admin<{ offline: boolean }>(h, 'POST', '/offline', { offline: false })).body.offline).toBe(false);
    }
    expect((await apiJson(h, '/me/drive')).status).toBe(200);
    expect(await (await storage(url)).text()).toBe('still here');
  });

  it('records an Authorization header sent to storage as a client fault, and can refuse it with 401', async () => {
    const h = emu();
    const url = await fileAt(h, 'faults/leak.txt', 'secret');
    const since = await lastLogSeq(h);
    const leaked = await fetch(url, { headers: { authorization: 'Bearer test' } });
    expect(leaked.status).toBe(200);
    expect(await leaked.text()).toBe('secret');
    const path = new URL(url).pathname;
    expect(await clientFaults(h)).toContainEqual(expect.objectContaining({ kind: 'authorization-on-storage', method: 'GET', path }));
    const logged = await logEntries(h, `since=${since}&listener=storage`);
    expect(logged.at(-1)).toMatchObject({ authorization: true, status: 200 });

    await admin(h, 'POST', '/faults', { rejectAuthOnStorage: true });
    const refused = await fetch(url, { headers: { authorization: 'Bearer test' } });
    expect(refused.status).toBe(401);
    expect(errorOf(await refused.json()).code).toBe('unauthenticated');
    expect((await storage(url)).status).toBe(200);
  });

  it('serves the request log over HTTP, filtered by since, listener, method and path', async () => {
    const h = emu();
    const url = await fileAt(h, 'faults/logged.bin', pseudoRandomBytes(1000, 24));
    const since = await lastLogSeq(h);
    await (await storage(url, { headers: { range: 'bytes=0-9' } })).arrayBuffer();
    await (await api(h, '/me/drive/root')).arrayBuffer();
    const dl = await logEntries(h, `since=${since}&listener=storage&method=GET&path=/dl/`);
    expect(dl).toHaveLength(1);
    expect(dl[0]).toMatchObject({ listener: 'storage', method: 'GET', status: 206, range: 'bytes=0-9', authorization: false });
    expect(dl[0]!.path).toBe(new URL(url).pathname);
    const apiOnly = await logEntries(h, `since=${since}&listener=api`);
    expect(apiOnly.map((e) => `${e.method} ${e.path} ${e.status}`)).toEqual(['GET /v1.0/me/drive/root 200']);
    expect(apiOnly.every((e) => e.seq > since)).toBe(true);
    expect(await logEntries(h, `since=${since}&method=DELETE`, 0)).toEqual([]);
  });
});

describe('bearer tokens', () => {
  describe('default (any non-empty token)', () => {
    const emu = useEmulator();

    it('answers a request without a token with 401 "Access token is empty."', async () => {
      const h = emu();
      for (const authorization of [undefined, 'Bearer ', 'Basic abc']) {
        const res = await fetch(h.apiUrl + '/me/drive', { headers: authorization === undefined ? {} : { authorization } });
        expect(res.status, String(authorization)).toBe(401);
        expect(errorOf(await res.json())).toMatchObject({ code: 'InvalidAuthenticationToken', message: 'Access token is empty.' });
      }
      expect((await apiJson(h, '/me/drive', { headers: { authorization: 'Bearer anything' } })).status).toBe(200);
    });
  });

  describe('strict', () => {
    const emu = useEmulator({ strictTokens: true });

    it('accepts registered tokens only: unknown → 401, expired → 401 with WWW-Authenticate, missing → 401', async () => {
      const h = emu();
      expect((await admin(h, 'POST', '/tokens', { token: 'good-token', expiresInSec: 3600 })).status).toBe(204);
      expect((await admin(h, 'POST', '/tokens', { token: 'old-token', expiresInSec: -1 })).status).toBe(204);

      expect((await apiJson(h, '/me/drive', { headers: { authorization: 'Bearer good-token' } })).status).toBe(200);

      const unknown = await apiJson(h, '/me/drive', { headers: { authorization: 'Bearer who-knows' } });
      expect(unknown.status).toBe(401);
      expect(errorOf(unknown.body).code).toBe('InvalidAuthenticationToken');

      const expired = await apiJson(h, '/me/drive', { headers: { authorization: 'Bearer old-token' } });
      expect(expired.status).toBe(401);
      expect(errorOf(expired.body)).toMatchObject({ code: 'InvalidAuthenticationToken', message: 'Access token has expired or is not yet valid.' });
      expect(expired.headers.get('www-authenticate')).toMatch(/^Bearer /);

      const missing = await fetch(h.apiUrl + '/me/drive');
      expect(missing.status).toBe(401);
      expect(errorOf(await missing.json()).message).toBe('Access token is empty.');

      // Revoked tokens stop working.
      expect((await admin(h, 'DELETE', '/tokens?token=good-token')).status).toBe(204);
      expect((await apiJson(h, '/me/drive', { headers: { authorization: 'Bearer good-token' } })).status).toBe(401);
    });
  });
});

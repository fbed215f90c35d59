/**
 * Shared helpers for the emulator conformance suites: start an emulator per describe block (closed
 * even when a test fails) and talk to it over real HTTP with global fetch, as a client would.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { startEmulator, type EmulatorHandle, type EmulatorOptions } from '../src/emulator.ts';

export type { EmulatorHandle };

/** The API accepts any non-empty bearer token unless the emulator runs with strictTokens. */
export const BEARER = 'Bearer test';

/**
 * The emulator's clock for tests about its timers (Retry-After, URL and session lifetimes, hidden
 * hashes): real time plus whatever the test skipped with `advance`, so a test moves past a deadline
 * at once instead of sleeping until it; `frozen`, only what it skipped (for a test that checks the
 * last millisecond before a deadline). Pass `now` as EmulatorOptions.now.
 */
export function testClock(o: { frozen?: boolean } = {}): { now: () => number; advance: (ms: number) => void } {
  const start = Date.now();
  let skew = 0;
  return {
    now: () => (o.frozen ? start : Date.now()) + skew,
    advance: (ms) => {
      skew += ms;
    },
  };
}

/**
 * Starts an emulator before the tests of the enclosing describe block and closes it after them.
 * Returns a getter because the handle exists only once beforeAll has run.
 */
export function useEmulator(opts: EmulatorOptions | (() => EmulatorOptions) = {}): () => EmulatorHandle {
  let handle: EmulatorHandle | undefined;
  beforeAll(async () => {
    handle = await startEmulator(typeof opts === 'function' ? opts() : opts);
  });
  afterAll(async () => {
    await handle?.close();
  });
  return () => {
    if (!handle) throw new Error('the emulator is not running (useEmulator must be called inside describe)');
    return handle;
  };
}

/** A temp directory removed after the enclosing describe block (for restart tests on one dataDir). */
export function useTempDir(prefix = 'onemount-emu-test-'): () => string {
  let dir: string | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return () => {
    if (!dir) throw new Error('the temp dir does not exist yet');
    return dir;
  };
}

/** A path below `/v1.0` or an absolute URL the server handed out (used verbatim). */
function apiUrlOf(h: EmulatorHandle, pathOrUrl: string): string {
  return /^https?:\/\//.test(pathOrUrl) ? pathOrUrl : h.apiUrl + pathOrUrl;
}

/** A Graph API request with the bearer token; redirects are not followed (the token must not leak). */
export function api(h: EmulatorHandle, pathOrUrl: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has('authorization')) headers.set('authorization', BEARER);
  return fetch(apiUrlOf(h, pathOrUrl), { ...init, headers, redirect: 'manual' });
}

export interface JsonAnswer<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

async function jsonOf<T>(res: Response): Promise<JsonAnswer<T>> {
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : {}) as T };
}

/** An API request whose answer is read as JSON (an empty body reads as `{}`). */
export async function apiJson<T = Record<string, unknown>>(h: EmulatorHandle, pathOrUrl: string, init: RequestInit = {}): Promise<JsonAnswer<T>> {
  return jsonOf<T>(await api(h, pathOrUrl, init));
}

/** An API request with a JSON body. */
export function apiSend<T = Record<string, unknown>>(h: EmulatorHandle, method: string, pathOrUrl: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonAnswer<T>> {
  return apiJson<T>(h, pathOrUrl, { method, body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
}

/** A request to a pre-authenticated storage URL: never an Authorization header, no redirects. */
export function storage(url: string, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { ...init, redirect: 'manual' });
}

export async function storageJson<T = Record<string, unknown>>(url: string, init: RequestInit = {}): Promise<JsonAnswer<T>> {
  return jsonOf<T>(await storage(url, init));
}

/** An admin call over HTTP (`/_emu/…`), JSON in and out. */
export async function admin<T = Record<string, unknown>>(h: EmulatorHandle, method: string, route: string, body?: unknown): Promise<JsonAnswer<T>> {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { 'content-type': 'application/json' };
  }
  return jsonOf<T>(await fetch(h.adminUrl + route, init));
}

/** Graph error codes: the outer code and the innermost inner code. */
export function errorOf(body: unknown): { code?: string; inner?: string; message?: string } {
  const err = (body as { error?: Record<string, unknown> }).error;
  if (!err) return {};
  let inner: string | undefined;
  for (let e = (err.innerError ?? err.innererror) as Record<string, unknown> | undefined; e; e = (e.innerError ?? e.innererror) as Record<string, unknown> | undefined) {
    if (typeof e.code === 'string') inner = e.code;
  }
  return { code: err.code as string | undefined, inner, message: err.message as string | undefined };
}

/** `/root:/a/b:` with each segment percent-encoded once. */
export function pathRef(p: string): string {
  return '/me/drive/root:/' + p.split('/').filter(Boolean).map(encodeURIComponent).join('/') + ':';
}

/** Simple upload (PUT …:/content) of small bytes at a path; returns the answer. */
export function putContent(h: EmulatorHandle, p: string, bytes: Uint8Array | string, query = ''): Promise<JsonAnswer> {
  return apiJson(h, `${pathRef(p)}/content${query}`, { method: 'PUT', body: typeof bytes === 'string' ? bytes : Buffer.from(bytes) });
}

/** Deterministic pseudo-random bytes (xorshift32) so content mismatches show. */
export function pseudoRandomBytes(n: number, seed = 1): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Creates each folder of `p` that does not exist yet (through the API, like a client would). */
export async function mkdirp(h: EmulatorHandle, p: string): Promise<void> {
  const parts = p.split('/').filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    const parent = i === 0 ? '/me/drive/root' : pathRef(parts.slice(0, i).join('/'));
    const res = await apiSend(h, 'POST', `${parent}/children`, { name: parts[i], folder: {}, '@microsoft.graph.conflictBehavior': 'fail' });
    if (res.status !== 201 && res.status !== 409) throw new Error(`mkdir ${parts.slice(0, i + 1).join('/')}: ${res.status} ${JSON.stringify(res.body)}`);
  }
}

/** Creates the parent folders of a file path. */
export function mkdirParents(h: EmulatorHandle, filePath: string): Promise<void> {
  return mkdirp(h, filePath.split('/').filter(Boolean).slice(0, -1).join('/'));
}

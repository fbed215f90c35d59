/**
 * Issue 5's "Connectivity and offline", end to end: the emulator refuses connections, and the
 * mount keeps serving what is on this device, fails reads that need the network at once with
 * ENETDOWN, journals writes, and catches up by itself when the server is back; `onemount status`
 * shows the connectivity state throughout. Programs and async fs calls only, as in the other e2e files.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { quickXorHash } from '../src-main/graph/quickxor.ts';
import { eventually, MountHarness, runBuffer } from './harness.ts';

let h: MountHarness;

const CACHED = 'Docs/cached.txt';
const CACHED_TEXT = 'read once while online, so it is on this device\n';
const UNCACHED = 'Docs/uncached.bin';
const UNCACHED_SIZE = 300 * 1024;
const UNCACHED_2 = 'Docs/uncached-2.bin';
const WRITTEN = 'Docs/written-offline.txt';
const WRITTEN_TEXT = 'written while the server refused connections\n';


/** The errno a promise rejects with, or a hang marker after `ms` (a hang guard, not a speed check). */
async function errnoWithin(ms: number, work: Promise<unknown>): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`still waiting after ${ms} ms`), ms)));
  try {
    return await Promise.race([
      work.then(
        () => undefined,
        (e: unknown) => (e as NodeJS.ErrnoException).code ?? String(e),
      ),
      guard,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function serverHash(p: string): Promise<string | undefined> {
  try {
    const item = await h.admin.item(p);
    return (item.file as { hashes?: { quickXorHash?: string } } | undefined)?.hashes?.quickXorHash;
  } catch (e) {
    if (/→ 404/.test(String(e))) return undefined;
    throw e;
  }
}

describe('offline', () => {
  beforeAll(async () => {
    h = await MountHarness.start({
      seed: async (admin) => {
        await admin.remote({ op: 'mkdir', path: 'Docs' });
        await admin.remote({ op: 'write', path: CACHED, content: CACHED_TEXT });
        await admin.remote({ op: 'write', path: UNCACHED, size: UNCACHED_SIZE });
        await admin.remote({ op: 'write', path: UNCACHED_2, size: UNCACHED_SIZE });
      },
      engineArgs: ['--write-back', '300'],
    });
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  }, 90_000);

  it('goes offline and back by itself: cached files read, uncached reads fail fast with ENETDOWN, offline writes upload afterwards', async () => {
    expect((await readFile(h.at(CACHED), 'utf8'))).toBe(CACHED_TEXT);
    const before = await h.status();
    expect(before.connectivity).toMatchObject({ state: 'online' });
    const uncachedBytes = await h.admin.content(UNCACHED);

    await h.admin.setOffline(true);
    let wentOfflineAt = Date.now();
    try {
      // The delta poll (every second in these tests) meets the refused connection; a probe confirms it.
      const offline = await eventually('status offline', async () => {
        const s = await h.status();
        return s.connectivity?.state === 'offline' ? s : undefined;
      });
      wentOfflineAt = Date.now();
      expect(offline.state).toBe('offline');
      expect(offline.connectivity).toMatchObject({ state: 'offline', reason: 'connection refused' });
      if (offline.connectivity?.state === 'offline') expect(offline.connectivity.nextRetryAt).toBeGreaterThan(offline.connectivity.since);

      const started = Date.now();
      const errno = await errnoWithin(30_000, readFile(h.at(UNCACHED)));
      const elapsed = Date.now() - started;
      console.log(`offline: an uncached read failed with ${errno} after ${elapsed} ms`);
      expect(errno).toBe('ENETDOWN');
      // Generous: the engine answers at once; the bound only catches a return to slow retries.
      expect(elapsed).toBeLessThan(5_000);

      const catStarted = Date.now();
      const cat = await runBuffer('cat', [h.at(UNCACHED)], { timeoutMs: 30_000 });
      console.log(`offline: cat of an uncached file exited ${cat.code} after ${Date.now() - catStarted} ms: ${cat.stderr.trim()}`);
      expect(cat.code).not.toBe(0);
      expect(cat.stderr).toMatch(/Network is down/);

      expect(await readFile(h.at(CACHED), 'utf8')).toBe(CACHED_TEXT);

      await writeFile(h.at(WRITTEN), WRITTEN_TEXT);
      expect(await readFile(h.at(WRITTEN), 'utf8')).toBe(WRITTEN_TEXT);
      // Past the write-back delay, the upload waits for the network instead of failing.
      await eventually('the upload waiting for the network', async () => {
        const row = (await h.status()).transfers.find((r) => r.path === `/${WRITTEN}`);
        if (row?.state === 'failed') throw new Error(`the upload failed offline: ${JSON.stringify(row.error)}`);
        return row?.state === 'waiting-for-network' ? true : undefined;
      }, 30_000, 100);
      expect(await serverHash(WRITTEN)).toBeUndefined();
      expect((await h.status()).connectivity?.state).not.toBe('online');
    } finally {
      await h.admin.setOffline(false);
    }

    const online = await eventually('status online again', async () => {
      const s = await h.status();
      return s.connectivity?.state === 'online' ? s : undefined;
    }, 90_000, 250);
    console.log(`offline: back online ${Date.now() - wentOfflineAt} ms after going offline (state ${online.state})`);
    expect(online.connectivity!.since).toBeGreaterThanOrEqual(before.connectivity!.since);

    const want = quickXorHash(Buffer.from(WRITTEN_TEXT));
    await eventually('the offline write on the server', async () => ((await serverHash(WRITTEN)) === want ? true : undefined), 60_000);
    const back = await readFile(h.at(UNCACHED));
    expect(back.equals(uncachedBytes)).toBe(true);
    expect((await h.status()).state).toBe('ready');
  }, 240_000);

  it('a read that is the first to meet the outage also fails fast: its failed request and one probe settle it', async () => {
    await eventually('online', async () => ((await h.status()).connectivity?.state === 'online' ? true : undefined), 60_000);
    await h.admin.setOffline(true);
    try {
      const started = Date.now();
      const errno = await errnoWithin(30_000, readFile(h.at(UNCACHED_2)));
      const elapsed = Date.now() - started;
      console.log(`offline: an uncached read meeting a fresh outage failed with ${errno} after ${elapsed} ms`);
      expect(errno).toBe('ENETDOWN');
      expect(elapsed).toBeLessThan(5_000);
    } finally {
      await h.admin.setOffline(false);
    }
    await eventually('status online again', async () => ((await h.status()).connectivity?.state === 'online' ? true : undefined), 90_000, 250);
    expect((await readFile(h.at(UNCACHED_2))).equals(await h.admin.content(UNCACHED_2))).toBe(true);
  }, 240_000);
});

/**
 * Issue 5's cache, end to end: a mount with a small cache limit stays near it while more than the
 * limit is read (and every file still reads correctly), `onemount pin` keeps a folder on this device
 * through cleaning, and `onemount free` drops content back to cloud-only. The engine and the emulator
 * run in their own processes; this process uses ordinary programs and async fs calls only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quickXorHashFile } from '../src-main/graph/quickxor.ts';
import { ACCOUNT, eventually, MountHarness, runOk } from './harness.ts';

const MiB = 1 << 20;
const LIMIT = 32 * MiB;
const BIG = ['a', 'b', 'c', 'd', 'e', 'f'].map((n) => `Big/${n}.bin`);
const BIG_SIZE = 12 * MiB;
const KEEP = ['one.bin', 'two.bin', 'deep/three.bin'].map((n) => `Keep/${n}`);
const KEEP_SIZE = 3 * MiB;

let h: MountHarness;

async function statusXattr(path: string): Promise<string> {
  const py = 'import os,sys; sys.stdout.write(os.getxattr(sys.argv[1], "user.onemount.status").decode())';
  return runOk('/usr/bin/python3', ['-c', py, path], { timeoutMs: 20_000 });
}

async function cachedBytes(): Promise<number> {
  const r = await h.onemount(['status', '--json', '--account', ACCOUNT]);
  if (r.code !== 0) throw new Error(`onemount status failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { cachedBytes: number }).cachedBytes;
}

async function serverHash(path: string): Promise<string> {
  const item = await h.admin.item(path);
  const hash = (item.file as { hashes?: { quickXorHash?: string } } | undefined)?.hashes?.quickXorHash;
  if (!hash) throw new Error(`the server has no quickXorHash for ${path}`);
  return hash;
}

/** Reads the whole file through the mount and checks it against the server's hash. */
async function readAndCheck(path: string): Promise<void> {
  expect(await quickXorHashFile(h.at(path)), path).toBe(await serverHash(path));
}

async function onemountOk(args: string[]): Promise<string> {
  const r = await h.onemount([...args, '--account', ACCOUNT]);
  if (r.code !== 0) throw new Error(`onemount ${args.join(' ')} exited with ${r.code}: ${r.stderr}`);
  return r.stdout;
}

describe('cache limit, pins and free up space (e2e)', () => {
  beforeAll(async () => {
    h = await MountHarness.start({
      seed: async (admin) => {
        await admin.remote({ op: 'mkdir', path: 'Big' });
        for (const p of BIG) await admin.remote({ op: 'write', path: p, size: BIG_SIZE });
        await admin.remote({ op: 'mkdir', path: 'Keep' });
        await admin.remote({ op: 'mkdir', path: 'Keep/deep' });
        for (const p of KEEP) await admin.remote({ op: 'write', path: p, size: KEEP_SIZE });
      },
      engineArgs: ['--cache-limit', '32M'],
    });
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  }, 60_000);

  it('keeps the cache near its limit while more than the limit is read, and files still read correctly', async () => {
    for (const p of BIG) await readAndCheck(p);
    // 72 MiB read through a 32 MiB cache: the cleaner brings it back under the limit.
    await eventually('the cache back under its limit', async () => ((await cachedBytes()) <= LIMIT ? true : undefined), 30_000);
    const states = await Promise.all(BIG.map((p) => statusXattr(h.at(p))));
    expect(states.filter((s) => s === 'cloud-only').length).toBeGreaterThanOrEqual(3);
    // The least recently read went first.
    expect(states[0]).toBe('cloud-only');
    // Evicted files download again, byte for byte.
    for (const p of BIG.slice(0, 2)) await readAndCheck(p);
    await eventually('the cache back under its limit', async () => ((await cachedBytes()) <= LIMIT ? true : undefined), 30_000);
  }, 180_000);

  it('onemount pin keeps a folder on this device, through cache cleaning', async () => {
    const out = await onemountOk(['pin', h.at('Keep')]);
    expect(out).toMatch(/^Pinned \/Keep: 3 file\(s\), 9\.0 MiB; 3 to download in the background\./);
    for (const p of KEEP) await eventually(`${p} pinned`, async () => ((await statusXattr(h.at(p))) === 'pinned' ? true : undefined), 30_000);
    // Push the cache well past its limit again: the cleaner may only take the unpinned files.
    for (const p of BIG) await readAndCheck(p);
    await eventually('the cache back under its limit', async () => ((await cachedBytes()) <= LIMIT ? true : undefined), 30_000);
    for (const p of KEEP) expect(await statusXattr(h.at(p)), p).toBe('pinned');
    for (const p of KEEP) await readAndCheck(p);
  }, 180_000);

  it('onemount free drops local content of clean files; pinned ones only after an unpin', async () => {
    // Relative to the mount point when run from outside it.
    const kept = await onemountOk(['free', 'Keep']);
    expect(kept).toMatch(/Freed 0 KiB \(0 file\(s\)\) in \/Keep\.\nKept: 3 pinned \(unpin first\)\./);
    expect(await onemountOk(['unpin', 'Keep'])).toMatch(/^Unpinned \/Keep \(1 pin\(s\) cleared\)\./);
    for (const p of KEEP) expect(await statusXattr(h.at(p))).toBe('cached');
    expect(await onemountOk(['free', h.at('Keep')])).toMatch(/^Freed 9\.0 MiB \(3 file\(s\)\) in \/Keep\./);
    for (const p of KEEP) expect(await statusXattr(h.at(p))).toBe('cloud-only');
    await readAndCheck(KEEP[2]!);
    expect(await statusXattr(h.at(KEEP[2]!))).toBe('cached');
  }, 120_000);

  it('refuses a path outside the mount', async () => {
    const r = await h.onemount(['pin', '/etc', '--account', ACCOUNT]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\/etc is not inside the OneMount folder/);
  });
});

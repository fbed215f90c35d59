/**
 * Issue 4's "done means", end to end: writes through a real mount land locally first and reach the
 * server after close — whole, hashed, resumable across kill -9, conflict-safe and offline-safe. The
 * emulator and the engine run in their own processes; this process only uses programs and async fs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { quickXorHash, quickXorHashFile } from '../src-main/graph/quickxor.ts';
import { eventually, logPosition, MountHarness, runOk } from './harness.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const LARGE = Number(process.env.E2E_UPLOAD_SIZE ?? 1024 * MiB);

let h: MountHarness;

interface ServerFile {
  id: string;
  size: number;
  hash?: string;
}

async function serverFile(p: string): Promise<ServerFile | undefined> {
  try {
    const item = await h.admin.item(p);
    const file = item.file as { hashes?: { quickXorHash?: string } } | undefined;
    return { id: String(item.id), size: Number(item.size), hash: file?.hashes?.quickXorHash };
  } catch (e) {
    if (/→ 404/.test(String(e))) return undefined;
    throw e;
  }
}

/** Waits until the server holds exactly these bytes at `p`. */
async function uploaded(p: string, bytes: Buffer | { size: number; hash: string }, timeoutMs = 30_000): Promise<ServerFile> {
  const want = Buffer.isBuffer(bytes) ? { size: bytes.length, hash: quickXorHash(bytes) } : bytes;
  return eventually(`${p} uploaded`, async () => {
    const f = await serverFile(p);
    return f && f.size === want.size && f.hash === want.hash ? f : undefined;
  }, timeoutMs);
}

async function scratch(name: string, bytes: Buffer): Promise<string> {
  const dir = path.join(h.root, 'scratch');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, name);
  await writeFile(file, bytes);
  return file;
}

async function engineRssKiB(): Promise<number> {
  const status = await readFile(`/proc/${h.engine!.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

describe('writing through the mount', () => {
  beforeAll(async () => {
    h = await MountHarness.start({
      seed: async (admin) => {
        await admin.remote({ op: 'mkdir', path: 'Docs' });
        await admin.remote({ op: 'write', path: 'Docs/report.txt', content: 'version 1 of the report\n' });
        await admin.remote({ op: 'write', path: 'Docs/conflict.txt', content: 'original\n' });
        await admin.remote({ op: 'write', path: 'Docs/editme.txt', content: 'line one\n' });
        await admin.remote({ op: 'write', path: 'Docs/sparse.bin', content: 'x'.repeat(1000) });
      },
      engineArgs: ['--write-back', '300'],
    });
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  }, 90_000);

  it('a new file written with cp reaches the server with the same bytes', async () => {
    const bytes = randomBytes(100 * KiB);
    await runOk('cp', [await scratch('small.bin', bytes), h.at('small.bin')]);
    expect(Buffer.compare(await readFile(h.at('small.bin')), bytes)).toBe(0);
    await uploaded('small.bin', bytes);
  });

  it('a zero-byte file is created on the server', async () => {
    await runOk('touch', [h.at('empty.txt')]);
    await uploaded('empty.txt', Buffer.alloc(0));
  });

  it.each([
    ['320k-1', 320 * KiB - 1],
    ['320k', 320 * KiB],
    ['320k+1', 320 * KiB + 1],
    ['4m-1', 4 * MiB - 1],
    ['4m', 4 * MiB],
    ['4m+1', 4 * MiB + 1],
  ])('a file of %s bytes around the simple/session boundaries uploads intact', async (name, size) => {
    const bytes = randomBytes(size);
    await runOk('cp', [await scratch(`b-${name}`, bytes), h.at(`b-${name}.bin`)]);
    await uploaded(`b-${name}.bin`, bytes);
  });

  it('an editor-style save (temp file renamed over the original) keeps the original item', async () => {
    const before = (await serverFile('Docs/report.txt'))!;
    const text = Buffer.from('version 2 of the report, saved the way editors do\n');
    await writeFile(h.at('Docs/.report.txt.swp'), text);
    await rename(h.at('Docs/.report.txt.swp'), h.at('Docs/report.txt'));
    const after = await uploaded('Docs/report.txt', text);
    expect(after.id).toBe(before.id);
    expect(await serverFile('Docs/.report.txt.swp')).toBeUndefined();
    expect((await readFile(h.at('Docs/report.txt'))).toString()).toBe(text.toString());
  });

  it('truncate + rewrite, append and a sparse write at an offset all reach the server', async () => {
    await writeFile(h.at('Docs/editme.txt'), 'rewritten\n');
    await appendFile(h.at('Docs/editme.txt'), 'appended\n');
    await uploaded('Docs/editme.txt', Buffer.from('rewritten\nappended\n'));
    // dd seek= without truncation: bytes 100..109 change, the rest of the 1000 stays.
    await runOk('dd', ['if=/dev/zero', `of=${h.at('Docs/sparse.bin')}`, 'bs=1', 'seek=100', 'count=10', 'conv=notrunc'], { timeoutMs: 20_000 });
    const want = Buffer.from('x'.repeat(1000));
    want.fill(0, 100, 110);
    await uploaded('Docs/sparse.bin', want);
  });

  it('concurrent writers to different files all land', async () => {
    const files = Array.from({ length: 12 }, (_, i) => ({ name: `par-${i}.bin`, bytes: randomBytes(50 * KiB + i * 7919) }));
    await Promise.all(files.map(async (f) => writeFile(h.at(f.name), f.bytes)));
    for (const f of files) await uploaded(f.name, f.bytes);
  });

  it('a file written but not yet uploaded shows its local size and content everywhere', async () => {
    const bytes = Buffer.from('local first\n');
    await writeFile(h.at('Docs/fresh.txt'), bytes);
    expect((await stat(h.at('Docs/fresh.txt'))).size).toBe(bytes.length);
    expect(await readdir(h.at('Docs'))).toContain('fresh.txt');
    expect((await readFile(h.at('Docs/fresh.txt'))).toString()).toBe('local first\n');
    await uploaded('Docs/fresh.txt', bytes);
  });

  it('a conflict made on another device during an edit keeps both versions', async () => {
    // The edit is local; the remote change lands before the upload (write-back delay + a paused engine).
    await h.stopEngine();
    await h.startEngine(['--write-back', '4000']);
    const mine = Buffer.from('my local edit\n');
    await writeFile(h.at('Docs/conflict.txt'), mine);
    await h.admin.remote({ op: 'write', path: 'Docs/conflict.txt', content: 'their remote edit\n' });
    const copies = await eventually('a conflict copy on the server', async () => {
      const names = (await readdir(h.at('Docs'))).filter((n) => n.startsWith('conflict (conflict '));
      return names.length ? names : undefined;
    }, 40_000);
    const copy = copies[0]!;
    await uploaded(`Docs/${copy}`, mine);
    // The original name holds the other device's version.
    expect((await h.admin.content('Docs/conflict.txt')).toString()).toBe('their remote edit\n');
    await eventually('the local view shows their version', async () =>
      (await readFile(h.at('Docs/conflict.txt'))).toString() === 'their remote edit\n' ? true : undefined, 20_000);
    expect(await h.engineLog()).toMatch(/upload conflict/);
    await h.stopEngine();
    await h.startEngine();
  });

  it('writes made while the server refuses connections reach it after it comes back', async () => {
    await h.admin.setOffline(true);
    try {
      await mkdir(h.at('Offline'));
      await writeFile(h.at('Offline/made-offline.txt'), 'written while offline\n');
      await rename(h.at('small.bin'), h.at('Offline/moved.bin'));
      await rm(h.at('empty.txt'));
      // Everything is visible locally at once.
      expect(await readdir(h.at('Offline'))).toEqual(expect.arrayContaining(['made-offline.txt', 'moved.bin']));
      // The engine met the refusal (replaying the mkdir, the move and the delete) and knows it is offline.
      await eventually('the engine offline', async () => ((await h.status()).connectivity?.state === 'offline' ? true : undefined), 30_000, 100);
    } finally {
      await h.admin.setOffline(false);
    }
    await uploaded('Offline/made-offline.txt', Buffer.from('written while offline\n'), 60_000);
    await eventually('the offline move on the server', async () => ((await serverFile('Offline/moved.bin')) ? true : undefined), 60_000);
    await eventually('the offline delete on the server', async () => ((await serverFile('empty.txt')) === undefined ? true : undefined), 60_000);
    expect(await serverFile('small.bin')).toBeUndefined();
  });

  it('a file with changes not uploaded yet moves into a folder made offline (a folder whose key is not its server id)', async () => {
    await uploaded('Offline/made-offline.txt', Buffer.from('written while offline\n'), 60_000);
    await writeFile(h.at('Docs/report.txt'), 'version 2, moved before its upload\n');
    // Within the write-back delay: the file is still dirty when the server answers the move.
    await rename(h.at('Docs/report.txt'), h.at('Offline/report.txt'));
    expect(await readFile(h.at('Offline/report.txt'), 'utf8')).toBe('version 2, moved before its upload\n');
    await uploaded('Offline/report.txt', Buffer.from('version 2, moved before its upload\n'), 60_000);
  });

  it(`cp of a ${LARGE / MiB} MiB file uploads with a matching hash, small RSS growth, and resumes after kill -9`, async () => {
    const source = path.join(h.root, 'scratch', 'large.bin');
    await mkdir(path.dirname(source), { recursive: true });
    await runOk('dd', ['if=/dev/urandom', `of=${source}`, 'bs=1M', `count=${LARGE / MiB}`], { timeoutMs: 120_000 });
    const hash = await quickXorHashFile(source);
    const rssBefore = await engineRssKiB();
    let peak = rssBefore;
    const sampler = setInterval(() => void engineRssKiB().then((r) => (peak = Math.max(peak, r)), () => undefined), 200);
    const since = await logPosition(h.admin);
    try {
      await runOk('cp', [source, h.at('large.bin')], { timeoutMs: 300_000 });
      // Let a few fragments go up, then kill the engine mid-upload.
      await eventually('upload fragments in flight', async () => {
        const { entries } = await h.admin.log({ since, listener: 'storage', method: 'PUT' });
        return entries.filter((e) => e.status === 202).length >= 3 ? true : undefined;
      }, 120_000, 100);
    } finally {
      clearInterval(sampler);
    }
    console.log(`engine RSS during the ${LARGE / MiB} MiB write+upload: ${rssBefore} KiB → peak ${peak} KiB (+${((peak - rssBefore) / 1024).toFixed(1)} MiB)`);
    expect(peak - rssBefore).toBeLessThan(256 * 1024);
    await h.engine!.kill();
    const killedAt = await logPosition(h.admin);
    await h.startEngine();
    await uploaded('large.bin', { size: LARGE, hash }, 300_000);
    const { entries } = await h.admin.log({ since: killedAt, listener: 'storage', method: 'PUT' });
    const starts = entries.map((e) => Number(/bytes (\d+)-/.exec(e.contentRange ?? '')?.[1] ?? -1)).filter((n) => n >= 0);
    expect(starts.length).toBeGreaterThan(0);
    // Resumed from where the server was, not from zero.
    expect(Math.min(...starts)).toBeGreaterThan(0);
  }, 600_000);
});

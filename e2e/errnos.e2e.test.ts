/**
 * Errors a program can act on, on a real mount: a full cache disk is ENOSPC, a rename past the
 * path limit is ENAMETOOLONG, and symbolic links, hard links and fifos are refused with EPERM
 * (logged once per kind) instead of ENOSYS, which rsync and tar report as a bug.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { link, mkdir, open, readdir, readFile, rename, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { eventually, MountHarness, run } from './harness.ts';

let h: MountHarness;

/** 130 + 130 + 130 characters of folders: the whole path stays under 400 until its top folder is renamed longer. */
const A = 'a'.repeat(130);
const B = 'b'.repeat(130);
const C = 'c'.repeat(120);

describe('errnos a program can act on', () => {
  beforeAll(async () => {
    h = await MountHarness.start({
      seed: async (admin) => {
        await admin.remote({ op: 'mkdir', path: 'top' });
        await admin.remote({ op: 'mkdir', path: `top/${A}` });
        await admin.remote({ op: 'mkdir', path: `top/${A}/${B}` });
        await admin.remote({ op: 'write', path: `top/${A}/${B}/${C}`, content: 'deep\n' });
      },
    });
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  }, 60_000);

  it('symbolic links, hard links and fifos are refused with EPERM, logged once per kind', { timeout: 60_000 }, async () => {
    await writeFile(h.at('plain.txt'), 'plain\n');
    await expect(symlink('plain.txt', h.at('sym'))).rejects.toMatchObject({ code: 'EPERM' });
    await expect(symlink('elsewhere', h.at('sym2'))).rejects.toMatchObject({ code: 'EPERM' });
    await expect(link(h.at('plain.txt'), h.at('hard'))).rejects.toMatchObject({ code: 'EPERM' });
    const fifo = await run('mkfifo', [h.at('fifo')]);
    expect(fifo.code).not.toBe(0);
    expect(fifo.stderr).toContain('Operation not permitted');
    const ln = await run('ln', ['-s', 'plain.txt', h.at('sym3')]);
    expect(ln.stderr).toContain('Operation not permitted');
    expect(ln.stderr).not.toContain('Function not implemented');
    const log = await eventually('the log lines', async () => {
      const text = await h.engineLog();
      return text.includes('a fifo, socket or device file') ? text : undefined;
    });
    expect(log.match(/a symbolic link cannot be stored on OneDrive/g)).toHaveLength(1);
    expect(log.match(/a hard link cannot be stored on OneDrive/g)).toHaveLength(1);
  });

  it('a rename that would take a path past the limit is ENAMETOOLONG', { timeout: 60_000 }, async () => {
    // The new name alone is fine; with the folders below it the deepest path passes 400 characters.
    await expect(rename(h.at('top'), h.at('t'.repeat(60)))).rejects.toMatchObject({ code: 'ENAMETOOLONG' });
    await expect(rename(h.at('plain.txt'), h.at(A, 'x'.repeat(250), 'y'.repeat(100)))).rejects.toMatchObject({ code: 'ENOENT' });
    await mkdir(h.at(A));
    await mkdir(h.at(A, B));
    await expect(rename(h.at('plain.txt'), h.at(A, B, 'z'.repeat(140)))).rejects.toMatchObject({ code: 'ENAMETOOLONG' });
  });
});

describe('a full cache disk', () => {
  let full: MountHarness | undefined;
  let cacheMount: string | undefined;

  afterAll(async () => {
    await full?.engine?.stop();
    if (cacheMount) await run('umount', [cacheMount], { timeoutMs: 15_000 });
    await full?.close();
  }, 60_000);

  it('fails writes with ENOSPC, not EIO', { timeout: 120_000 }, async () => {
    full = await MountHarness.start();
    await full.stopEngine();
    const dir = path.join(full.env.XDG_CACHE_HOME!, 'onemount');
    await mkdir(dir, { recursive: true });
    const mounted = await run('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', dir]);
    // Mounting a small disk needs the privilege to mount, as the e2e tests' FUSE mounts do.
    expect(mounted.code, `cannot mount a small tmpfs for the cache: ${mounted.stderr.trim()}`).toBe(0);
    cacheMount = dir;
    await full.startEngine();
    const file = await open(path.join(full.mountpoint, 'big.bin'), 'w');
    try {
      const chunk = Buffer.alloc(256 * 1024, 7);
      const writes = (async () => {
        for (let i = 0; i < 32; i++) await file.write(chunk, 0, chunk.length, i * chunk.length);
      })();
      await expect(writes).rejects.toMatchObject({ code: 'ENOSPC' });
    } finally {
      await file.close().catch(() => undefined);
    }
    const dd = await run('dd', ['if=/dev/zero', `of=${path.join(full.mountpoint, 'big2.bin')}`, 'bs=256k', 'count=32']);
    expect(dd.stderr).toContain('No space left on device');
  });
});

describe('names the kernel still holds after the server removed them', () => {
  let s: MountHarness;
  beforeAll(async () => {
    // The kernel keeps a looked-up name for --kernel-cache seconds, whatever happens on the server.
    s = await MountHarness.start({
      engineArgs: ['--kernel-cache', '60'],
      seed: async (admin) => {
        await admin.remote({ op: 'mkdir', path: 'Stale' });
        await admin.remote({ op: 'write', path: 'Stale/rewritten.txt', content: 'old\n' });
        await admin.remote({ op: 'write', path: 'Stale/read.txt', content: 'old\n' });
      },
    });
  }, 120_000);

  afterAll(async () => {
    await s?.close();
  }, 60_000);

  it('open(O_CREAT) of a name deleted on the server creates the file, and any other open is ENOENT (fuzz 21000/17)', { timeout: 60_000 }, async () => {
    expect(await readFile(s.at('Stale', 'rewritten.txt'), 'utf8')).toBe('old\n');
    await stat(s.at('Stale', 'read.txt'));
    await s.admin.remote({ op: 'delete', path: 'Stale/rewritten.txt' });
    await s.admin.remote({ op: 'delete', path: 'Stale/read.txt' });
    // A listing asks the engine each time; the two names stay in the kernel's cache meanwhile.
    await eventually('the deletes applied', async () => ((await readdir(s.at('Stale'))).length === 0 ? true : undefined));

    await writeFile(s.at('Stale', 'rewritten.txt'), 'new\n');
    expect(await readFile(s.at('Stale', 'rewritten.txt'), 'utf8')).toBe('new\n');
    await expect(readFile(s.at('Stale', 'read.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

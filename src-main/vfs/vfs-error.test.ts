/** Errnos a program on the mount can act on, from the cache disk's and the server's failures. */
import { describe, expect, it } from 'vitest';
import { open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GraphApiError } from '../graph/index.ts';
import { errnoFromError, localErrno, noSuchPath, toVfsError, VfsError } from './vfs-error.ts';

const graph400 = (innerCodes: string[]) => new GraphApiError({ status: 400, graphCode: 'invalidRequest', innerCodes, message: 'refused', request: 'PATCH /items/x' });

describe('errnoFromError', () => {
  it('passes a full, read-only or over-quota cache disk on as its own errno', () => {
    for (const code of ['ENOSPC', 'EDQUOT', 'EROFS', 'EFBIG', 'EMFILE', 'ENFILE'] as const) {
      const e = Object.assign(new Error(`${code}: write`), { code, syscall: 'write', errno: -28 });
      expect(errnoFromError(e)).toBe(code);
      expect(toVfsError(e, 'writing /a').errno).toBe(code);
    }
  });

  it('a real failed system call keeps its errno', async () => {
    // ENOENT is not one to pass on (a missing cache file is the engine's problem: EIO).
    const missing = await open(path.join(tmpdir(), `onemount-missing-${process.pid}`, 'x'), 'r').catch((e: unknown) => e);
    expect(localErrno(missing)).toBeUndefined();
    expect(errnoFromError(missing)).toBe('EIO');
    await rm(path.join(tmpdir(), `onemount-missing-${process.pid}`), { recursive: true, force: true });
  });

  it('an object that only looks like an error with a code is not a system error', () => {
    expect(errnoFromError({ code: 'ENOSPC' })).toBe('EIO');
  });

  it("the server's invalidPath (names were checked here first) is ENAMETOOLONG; other 400s stay EINVAL", () => {
    expect(errnoFromError(graph400(['invalidPath']))).toBe('ENAMETOOLONG');
    expect(errnoFromError(graph400([]))).toBe('EINVAL');
  });
});

describe('noSuchPath', () => {
  it('is ENOENT naming the path, without a stack (an answer, not a failure), and leaves other errors their stacks', () => {
    const e = noSuchPath('/a/b.txt');
    expect(e).toBeInstanceOf(VfsError);
    expect(e).toMatchObject({ errno: 'ENOENT', code: 'VFS_ENOENT', message: 'no such file or folder: /a/b.txt' });
    expect(e.stack).not.toMatch(/\n\s+at /);
    expect(new VfsError('EIO', 'broken').stack).toMatch(/\n\s+at /);
  });
});

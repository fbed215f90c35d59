/**
 * Extended attributes on the mount, end to end: `ls -l` of a folder must cost a constant number of
 * xattr calls, not two per entry (GNU ls asks every file for security.selinux and
 * system.posix_acl_access until the filesystem answers "not supported"), while `user.onemount.status`
 * keeps answering. The calls are counted with strace on `ls` itself: each syscall ls makes on the
 * mount becomes one FUSE request (the kernel caches no xattr answers).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { MountHarness, runOk } from './harness.ts';

const FILES = 300;
let h: MountHarness;

beforeAll(async () => {
  h = await MountHarness.start({ seed: (admin) => admin.generate({ under: 'Many', folders: 1, filesPerFolder: FILES, fileSize: 10 }).then(() => undefined) });
}, 120_000);

afterAll(async () => {
  await h?.close();
}, 60_000);

/** The xattr syscalls `ls -l` makes on a folder, from strace's log (one line per call). */
async function lsXattrCalls(dir: string): Promise<string[]> {
  const log = path.join(h.root, `strace-${Date.now()}.log`);
  await runOk('strace', ['-f', '-qq', '-o', log, '-e', 'trace=getxattr,lgetxattr,fgetxattr,listxattr,llistxattr,flistxattr', 'ls', '-l', '--color=never', dir], { timeoutMs: 60_000 });
  return (await readFile(log, 'utf8')).split('\n').filter((l) => /xattr\(/.test(l));
}

/** getxattr through a separate program: the value, or the errno name it failed with. */
async function getxattr(file: string, name: string): Promise<string> {
  const py = 'import os,sys,errno\ntry: sys.stdout.write(os.getxattr(sys.argv[1], sys.argv[2]).decode())\nexcept OSError as e: sys.stdout.write(errno.errorcode[e.errno])';
  return runOk('/usr/bin/python3', ['-c', py, file, name], { timeoutMs: 20_000 });
}

describe('xattrs on the mount', () => {
  it(`ls -l of a folder of ${FILES} files makes O(1) xattr calls, not O(files)`, async () => {
    const folder = h.at('Many', 'Folder 0000');
    const listing = await runOk('ls', ['-1', folder], { timeoutMs: 60_000 });
    expect(listing.trim().split('\n')).toHaveLength(FILES);
    const calls = await lsXattrCalls(folder);
    // ls asks the folder itself and the first entry, learns "not supported" and stops; before the
    // fix it made 2 calls per file (600 here).
    expect(calls.length, calls.slice(0, 10).join('\n')).toBeLessThanOrEqual(6);
    expect(calls.every((l) => /EOPNOTSUPP|ENOTSUP/.test(l) || /= \d+$/.test(l.trim())), calls.join('\n')).toBe(true);
  }, 120_000);

  it('user.onemount.status still answers; security.* and system.* are "not supported"', async () => {
    const file = h.at('Many', 'Folder 0000', 'file-00000.txt');
    expect(await getxattr(file, 'user.onemount.status')).toBe('cloud-only');
    expect(await getxattr(file, 'user.something.else')).toBe('ENODATA');
    expect(await getxattr(file, 'security.selinux')).toMatch(/^(EOPNOTSUPP|ENOTSUP)$/);
    expect(await getxattr(file, 'system.posix_acl_access')).toMatch(/^(EOPNOTSUPP|ENOTSUP)$/);
    // Asking an unsupported namespace first must not switch xattrs off for the mount (ENOSYS would).
    expect(await getxattr(file, 'user.onemount.status')).toBe('cloud-only');
  }, 60_000);

  it('getfattr -d (list, then get each) shows the status attribute', async () => {
    const file = h.at('Many', 'Folder 0000', 'file-00001.txt');
    const py = 'import os,sys\nfor n in os.listxattr(sys.argv[1]): print(n + "=" + os.getxattr(sys.argv[1], n).decode())';
    expect((await runOk('/usr/bin/python3', ['-c', py, file], { timeoutMs: 20_000 })).trim()).toBe('user.onemount.status=cloud-only');
    // getfattr (Debian's attr package, installed by .ci/run) itself.
    expect(await runOk('getfattr', ['-d', file], { timeoutMs: 20_000 })).toContain('user.onemount.status="cloud-only"');
  }, 60_000);
});

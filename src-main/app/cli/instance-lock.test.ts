/** One engine per account: the lock refuses a second holder, names the first, and dies with its process. */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { InstanceLock, InstanceLockedError, lockName } from './instance-lock.ts';

const holder = (mountpoint: string) => ({ pid: process.pid, account: 'test', mountpoint });

describe('InstanceLock', () => {
  it('the holding process gets its own lock again; another folder is a separate lock; release frees it', { timeout: 10_000 }, async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'onemount-lock-'));
    try {
      const first = await InstanceLock.acquire({ stateDir: path.join(dir, 'a'), holder: holder('/mnt/a') });
      expect(await InstanceLock.acquire({ stateDir: path.join(dir, 'a', '.', ''), holder: holder('/mnt/a') })).toBe(first);
      await symlink(path.join(dir, 'a'), path.join(dir, 'link-to-a'));
      expect(await InstanceLock.acquire({ stateDir: path.join(dir, 'link-to-a'), holder: holder('/mnt/a') })).toBe(first);
      const other = await InstanceLock.acquire({ stateDir: path.join(dir, 'b'), holder: holder('/mnt/b') });
      expect(other).not.toBe(first);
      await other.release();
      await first.release();
      const again = await InstanceLock.acquire({ stateDir: path.join(dir, 'a'), holder: holder('/mnt/a') });
      expect(again).not.toBe(first);
      await again.release();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses another process, naming the holder, and is free again once the holder is killed with SIGKILL', { timeout: 30_000 }, async () => {
    const stateDir = path.join(tmpdir(), `onemount-lock-kill-${process.pid}`);
    const script = `
      import { InstanceLock } from ${JSON.stringify(path.join(import.meta.dirname, 'instance-lock.ts'))};
      await InstanceLock.acquire({ stateDir: ${JSON.stringify(stateDir)}, holder: { pid: process.pid, account: 'test', mountpoint: '/mnt/k' } });
      console.log('locked');
      setInterval(() => undefined, 1000);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        createInterface({ input: child.stdout! }).on('line', (l) => l === 'locked' && resolve());
        child.once('exit', () => reject(new Error('the holder exited before locking')));
      });
      const second = InstanceLock.acquire({ stateDir, holder: holder('/mnt/x') });
      await expect(second).rejects.toBeInstanceOf(InstanceLockedError);
      await expect(second).rejects.toMatchObject({ code: 'ENGINE_ALREADY_RUNNING', holder: { pid: child.pid, mountpoint: '/mnt/k' } });
      await expect(second).rejects.toThrow(`already served by process ${child.pid} (mounted at /mnt/k)`);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    await (await InstanceLock.acquire({ stateDir, holder: holder('/mnt/x') })).release();
    await rm(stateDir, { recursive: true, force: true });
  });

  it('names differ per user and per state folder, and live outside the filesystem', () => {
    expect(lockName('/s/a', 1000)).toMatch(/^\0onemount-engine-1000-[0-9a-f]{32}$/);
    expect(lockName('/s/a', 1000)).not.toBe(lockName('/s/a', 1001));
    expect(lockName('/s/a', 1000)).not.toBe(lockName('/s/b', 1000));
    expect(lockName('/s/a/', 1000)).toBe(lockName('/s/a', 1000));
  });
});

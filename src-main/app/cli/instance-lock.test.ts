/** One engine per account: the lock refuses a second holder, names the first, and dies with its process. */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { InstanceLock, InstanceLockedError, lockName } from './instance-lock.ts';

const holder = (mountpoint: string) => ({ pid: process.pid, account: 'test', mountpoint });

describe('InstanceLock', () => {
  it('refuses a second holder of the same state folder and says who holds it; another folder is free', { timeout: 10_000 }, async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'onemount-lock-'));
    const first = await InstanceLock.acquire({ stateDir: path.join(dir, 'a'), holder: holder('/mnt/a') });
    try {
      const second = InstanceLock.acquire({ stateDir: path.join(dir, 'a', '.', ''), holder: holder('/mnt/b') });
      await expect(second).rejects.toBeInstanceOf(InstanceLockedError);
      await expect(second).rejects.toMatchObject({ code: 'ENGINE_ALREADY_RUNNING', holder: { pid: process.pid, mountpoint: '/mnt/a' } });
      await expect(second).rejects.toThrow(`already served by process ${process.pid} (mounted at /mnt/a)`);
      const other = await InstanceLock.acquire({ stateDir: path.join(dir, 'b'), holder: holder('/mnt/b') });
      await other.release();
    } finally {
      await first.release();
      await rm(dir, { recursive: true, force: true });
    }
    // Released: it can be taken again.
    await (await InstanceLock.acquire({ stateDir: path.join(dir, 'a'), holder: holder('/mnt/a') })).release();
  });

  it('is free again once its holder is killed with SIGKILL', { timeout: 30_000 }, async () => {
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
      await expect(InstanceLock.acquire({ stateDir, holder: holder('/mnt/x') })).rejects.toMatchObject({ holder: { pid: child.pid, mountpoint: '/mnt/k' } });
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    await (await InstanceLock.acquire({ stateDir, holder: holder('/mnt/x') })).release();
  });

  it('names differ per user and per state folder, and live outside the filesystem', () => {
    expect(lockName('/s/a', 1000)).toMatch(/^\0onemount-engine-1000-[0-9a-f]{32}$/);
    expect(lockName('/s/a', 1000)).not.toBe(lockName('/s/a', 1001));
    expect(lockName('/s/a', 1000)).not.toBe(lockName('/s/b', 1000));
    expect(lockName('/s/a/', 1000)).toBe(lockName('/s/a', 1000));
  });
});

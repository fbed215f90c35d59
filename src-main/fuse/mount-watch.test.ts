/** The watch that ends the engine after an unmount from outside, against a mount table the test writes. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createMemoryLogger } from '../base/logger.ts';
import { isMountPoint, parseMountPoints, watchMount } from './mount-watch.ts';

const line = (mp: string) => `36 35 0:45 / ${mp} rw,nosuid,nodev,relatime shared:1 - fuse.onemount onemount rw,user_id=0,group_id=0`;

describe('mount watch', () => {
  it('reads mount points with the kernel escapes decoded', () => {
    expect(parseMountPoints([line('/'), line('/home/me/One\\040Drive'), ''].join('\n'))).toEqual(['/', '/home/me/One Drive']);
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  /**
   * Runs the watch's next check: its timer is the only fake one, armed once the previous check has
   * read the table (real I/O), so the test counts checks instead of guessing how long they take.
   */
  async function nextCheck(over = () => false): Promise<void> {
    while (vi.getTimerCount() === 0) {
      if (over()) return;
      await new Promise((r) => setImmediate(r));
    }
    if (!over()) vi.advanceTimersToNextTimer();
  }

  it('reports a mount once, after it left the table; never one it has not seen', { timeout: 10_000 }, async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const dir = await mkdtemp(path.join(tmpdir(), 'onemount-mountinfo-'));
    const table = path.join(dir, 'mountinfo');
    try {
      await writeFile(table, [line('/'), line('/elsewhere')].join('\n'));
      let gone = 0;
      const never = watchMount('/mnt/x', { logger: createMemoryLogger().logger, onGone: () => gone++, intervalMs: 5, mountinfoFile: table });
      for (let i = 0; i < 3; i++) await nextCheck();
      never.stop();
      expect(gone).toBe(0);
      expect(vi.getTimerCount()).toBe(0);

      await writeFile(table, [line('/'), line('/mnt/x')].join('\n'));
      expect(await isMountPoint('/mnt/x', table)).toBe(true);
      const reported = new Promise<void>((resolve) => {
        watchMount('/mnt/x', { logger: createMemoryLogger().logger, onGone: () => (gone++, resolve()), intervalMs: 5, mountinfoFile: table });
      });
      for (let i = 0; i < 2; i++) await nextCheck();
      expect(gone).toBe(0);
      await writeFile(table, line('/'));
      let done = false;
      void reported.then(() => (done = true));
      while (!done) await nextCheck(() => done);
      // Reported once and stopped: a watch that went on would arm its next check as the last one
      // settles (real I/O, a few turns of the event loop) and report again; run whatever it arms.
      for (let turn = 0; turn < 50; turn++) {
        if (vi.getTimerCount() > 0) vi.advanceTimersToNextTimer();
        await new Promise((r) => setImmediate(r));
      }
      expect(vi.getTimerCount()).toBe(0);
      expect(gone).toBe(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

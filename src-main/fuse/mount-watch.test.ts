/** The watch that ends the engine after an unmount from outside, against a mount table the test writes. */
import { describe, expect, it } from 'vitest';
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

  it('reports a mount once, after it left the table; never one it has not seen', { timeout: 10_000 }, async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'onemount-mountinfo-'));
    const table = path.join(dir, 'mountinfo');
    try {
      await writeFile(table, [line('/'), line('/elsewhere')].join('\n'));
      let gone = 0;
      const never = watchMount('/mnt/x', { logger: createMemoryLogger().logger, onGone: () => gone++, intervalMs: 5, mountinfoFile: table });
      await new Promise((r) => setTimeout(r, 50));
      never.stop();
      expect(gone).toBe(0);

      await writeFile(table, [line('/'), line('/mnt/x')].join('\n'));
      expect(await isMountPoint('/mnt/x', table)).toBe(true);
      const reported = new Promise<void>((resolve) => {
        watchMount('/mnt/x', { logger: createMemoryLogger().logger, onGone: () => (gone++, resolve()), intervalMs: 5, mountinfoFile: table });
      });
      await new Promise((r) => setTimeout(r, 30));
      expect(gone).toBe(0);
      await writeFile(table, line('/'));
      await reported;
      await new Promise((r) => setTimeout(r, 30));
      expect(gone).toBe(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

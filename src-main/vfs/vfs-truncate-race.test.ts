/**
 * A known race, kept visible until it is fixed: bytes a download fetched for a read land in a file
 * that was made dirty and truncated meanwhile (bytesArrived is allowed from dirty), past its new
 * end; extending the file again then shows the server's bytes where zeros belong. Found by a
 * review on 2026-12-06; present before that session's changes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type EmulatorHandle } from '../../emulator/src/emulator.ts';
import { until } from '../base/testing/until.ts';
import { startCacheRig } from './testing/cache-rig.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

let emu: EmulatorHandle;
beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu.close();
});

describe('a truncate racing a read that is downloading', () => {
  it.fails('keeps zeros where the file is extended again (the read\'s server bytes land in the truncated file)', async () => {
    const rig = startCacheRig(emu.apiUrl);
    try {
      await emu.emulator.admin.remote({ op: 'write', path: '/race.bin', size: 4 * MiB });
      await rig.sync.syncOnce();
      // Slow enough that the read's download is still running when the truncate is done.
      emu.emulator.faults.set({ bandwidthBytesPerSec: 512 * KiB });
      const since = emu.emulator.log.lastSeq;
      const reader = await rig.vfs.open('/race.bin', 0);
      // Settled into a value at once (the truncate runs before it is awaited); a failed read fails the test below.
      const read = (async () => rig.vfs.read(reader, Buffer.alloc(4 * KiB), 4 * KiB, 3 * MiB))().then(
        (n) => ({ n }),
        (error: unknown) => ({ error }),
      );
      await until(() => emu.emulator.log.list({ since, listener: 'storage', method: 'GET' }).length > 0, 'the read\'s download to start');
      await rig.vfs.truncate('/race.bin', 64 * KiB);
      const outcome = await read;
      if ('error' in outcome) throw outcome.error;
      // Begun before the truncate: the old version's bytes.
      expect(outcome.n).toBe(4 * KiB);
      await rig.downloads.whenIdle();
      emu.emulator.faults.reset();
      await rig.vfs.truncate('/race.bin', 4 * MiB);
      const bytes = await rig.readAll('/race.bin');
      await rig.vfs.release(reader);
      expect(bytes.length).toBe(4 * MiB);
      expect(bytes.subarray(64 * KiB).every((b) => b === 0)).toBe(true);
    } finally {
      emu.emulator.faults.reset();
      await rig.close();
    }
  }, 60_000);
});

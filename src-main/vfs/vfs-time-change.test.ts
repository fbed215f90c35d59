/**
 * A time change (utimens: `touch -d`, `cp -p`) of a file already on the server is a request; a
 * write while it is on its way must keep what it wrote. The answer carried the file's size before
 * the write, and storing the whole answer cut the written bytes off the file (its size went back;
 * reads and the upload stop there). Found by a review on 2026-12-08.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEmulator, type EmulatorHandle } from '../../emulator/src/emulator.ts';
import { until } from '../base/testing/until.ts';
import { startCacheRig } from './testing/cache-rig.ts';

const KiB = 1024;
const TOUCHED = Date.parse('2001-02-03T04:05:06Z');
let emu: EmulatorHandle;
beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu.close();
});

it('a write while a time change is on its way keeps its size, bytes and time', async () => {
  const rig = startCacheRig(emu.apiUrl);
  try {
    await emu.emulator.admin.remote({ op: 'write', path: '/t.bin', size: 300 * KiB });
    await rig.sync.syncOnce();
    await rig.readAll('/t.bin');
    emu.emulator.faults.set({ latencyMs: 500 });
    const touched = rig.vfs.utimens('/t.bin', TOUCHED);
    // The emulator holds the request (logged once answered; counted while it is held).
    await until(() => emu.emulator.log.inflight > 0, 'the time change to reach the server');
    const fh = await rig.vfs.open('/t.bin', 1);
    await rig.vfs.write(fh, Buffer.from('0123456789'), 10, 300 * KiB);
    await rig.vfs.release(fh);
    await touched;
    emu.emulator.faults.reset();

    expect((await rig.vfs.getattr('/t.bin')).size).toBe(300 * KiB + 10);
    expect(rig.item('/t.bin').mtimeMs).not.toBe(TOUCHED);
    expect(rig.vfs.itemState(rig.item('/t.bin'))).toBe('modified');
    expect((await rig.readAll('/t.bin')).subarray(300 * KiB).toString()).toBe('0123456789');
  } finally {
    emu.emulator.faults.reset();
    await rig.close();
  }
});

/**
 * A local change racing a read (or another change) whose download is still running (docs/concurrency.md §3, "A download
 * never writes into changed content"): the change stops the file's downloads and waits for their
 * writes before it begins, so no server byte lands in the changed file, and the read takes the
 * local bytes instead of failing. Found by a review on 2026-12-06: the read's download went on
 * landing bytes past a truncate's new end (extending the file showed the server's bytes where
 * zeros belong) and over bytes written after it.
 *
 * Timing: the emulator sends at 64 KiB/s, so the read's bytes (192 KiB into its 256 KiB chunk) are
 * ~3 s away when the change begins; the change itself needs at most the first 64 KiB of the file.
 */
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type EmulatorHandle } from '../../emulator/src/emulator.ts';
import { until } from '../base/testing/until.ts';
import { startCacheRig, type CacheRig } from './testing/cache-rig.ts';
import { EditChoices } from './edit-choices.ts';
import { toRecord } from '../sync/testing/to-record.ts';
import type { ContentOwner } from '../transfers/index.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
/** Deep into its chunk (the rig's chunks are 256 KiB): its bytes come ~3 s after the chunk's first. */
const READ_AT = 3 * MiB + 192 * KiB;

let emu: EmulatorHandle;
beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu.close();
});

/**
 * A 4 MiB server file, a read handle waiting for 4 KiB at READ_AT (its download running slowly),
 * and `change` run while it waits; resolves to what the read returned (or its error) and the handle.
 */
async function raceRead(rig: CacheRig, change: () => Promise<void>): Promise<{ outcome: { n: number } | { error: unknown }; reader: number }> {
  await emu.emulator.admin.remote({ op: 'write', path: '/race.bin', size: 4 * MiB });
  await rig.sync.syncOnce();
  emu.emulator.faults.set({ bandwidthBytesPerSec: 64 * KiB });
  const reader = await rig.vfs.open('/race.bin', 0);
  // Settled into a value at once (the change runs before it is awaited); the caller checks it.
  const read = (async () => rig.vfs.read(reader, Buffer.alloc(4 * KiB), 4 * KiB, READ_AT))().then(
    (n) => ({ n }),
    (error: unknown) => ({ error }),
  );
  // (The emulator logs a request once it is answered: the download manager says when it runs.)
  await until(() => rig.tasks.list().some((t) => t.name.startsWith('download:')), 'the read\'s download to start');
  await change();
  const outcome = await read;
  await rig.downloads.whenIdle();
  emu.emulator.faults.reset();
  return { outcome, reader };
}

/** A fresh rig for one test, closed (and the emulator's faults reset) however it ends. */
async function withRig(test: (rig: CacheRig) => Promise<void>): Promise<void> {
  const rig = startCacheRig(emu.apiUrl);
  try {
    await test(rig);
  } finally {
    emu.emulator.faults.reset();
    await rig.close();
  }
}

/** An editor's save: `bytes` written to a new file beside `path`, then renamed over it. */
async function saveOver(rig: CacheRig, path: string, bytes: Buffer): Promise<void> {
  const tmp = await rig.vfs.create(`${path}.tmp`);
  try {
    await rig.vfs.write(tmp, bytes, bytes.length, 0);
  } finally {
    await rig.vfs.release(tmp);
  }
  await rig.vfs.rename(`${path}.tmp`, path);
}

/** A server file of `size` bytes, in the store, opened read-write. */
async function openServerFile(rig: CacheRig, path: string, size: number): Promise<number> {
  await emu.emulator.admin.remote({ op: 'write', path, size });
  await rig.sync.syncOnce();
  return rig.vfs.open(path, 2);
}

/** The vfs's content owner (tests step into its transitions). */
const ownerOf = (rig: CacheRig): ContentOwner => (rig.vfs as unknown as { content: ContentOwner }).content;

describe('a local change racing a read that is downloading', () => {
  it('keeps zeros where a truncated file is extended again, and the read ends at the new end of the file', () =>
    withRig(async (rig) => {
      const { outcome, reader } = await raceRead(rig, () => rig.vfs.truncate('/race.bin', 64 * KiB));
      // The truncate came first for the read: it reads past the end of the changed file, not EIO.
      expect(outcome).toEqual({ n: 0 });
      await rig.vfs.truncate('/race.bin', 4 * MiB);
      const bytes = await rig.readAll('/race.bin');
      await rig.vfs.release(reader);
      expect(bytes.length).toBe(4 * MiB);
      expect(bytes.subarray(64 * KiB).every((b) => b === 0)).toBe(true);
    }), 60_000);

  it('a write after the truncate is not overwritten by the read\'s download', () =>
    withRig(async (rig) => {
      const mine = Buffer.alloc(4 * KiB, 0x78);
      const { outcome, reader } = await raceRead(rig, async () => {
        await rig.vfs.truncate('/race.bin', 64 * KiB);
        const writer = await rig.vfs.open('/race.bin', 1);
        try {
          await rig.vfs.write(writer, mine, mine.length, READ_AT);
        } finally {
          await rig.vfs.release(writer);
        }
      });
      // The read found the written bytes, or the end of the file if it ran between the two.
      if ('error' in outcome) throw outcome.error;
      expect([0, 4 * KiB]).toContain(outcome.n);
      const bytes = await rig.readAll('/race.bin');
      await rig.vfs.release(reader);
      expect(bytes.length).toBe(READ_AT + mine.length);
      expect(bytes.subarray(READ_AT).equals(mine)).toBe(true);
      expect(bytes.subarray(64 * KiB, READ_AT).every((b) => b === 0)).toBe(true);
    }), 60_000);

  it('a first write waiting for the file\'s bytes while a save replaces the file goes into the saved content', () =>
    withRig(async (rig) => {
      await emu.emulator.admin.remote({ op: 'write', path: '/race.bin', size: 4 * MiB });
      await rig.sync.syncOnce();
      emu.emulator.faults.set({ bandwidthBytesPerSec: 64 * KiB });
      const writer = await rig.vfs.open('/race.bin', 1);
      const mine = Buffer.alloc(10, 0x41);
      // A first write fetches the whole file before it changes it (~60 s at this speed).
      const writing = (async () => rig.vfs.write(writer, mine, mine.length, 0))().then(
        (n) => ({ n }),
        (error: unknown) => ({ error }),
      );
      await until(() => rig.tasks.list().some((t) => t.name.startsWith('download:')), 'the write\'s download to start');
      // An editor's save: a new file, renamed over it.
      const saved = Buffer.alloc(100, 0x62);
      await saveOver(rig, '/race.bin', saved);
      const outcome = await writing;
      if ('error' in outcome) throw outcome.error;
      expect(outcome.n).toBe(mine.length);
      await rig.vfs.release(writer);
      emu.emulator.faults.reset();
      const bytes = await rig.readAll('/race.bin');
      expect(bytes.equals(Buffer.concat([mine, saved.subarray(mine.length)]))).toBe(true);
    }), 60_000);

  it('`: > file` while a read waits: the read sees an empty file and the download stops', () =>
    withRig(async (rig) => {
      const { outcome, reader } = await raceRead(rig, () => rig.vfs.truncate('/race.bin', 0));
      expect(outcome).toEqual({ n: 0 });
      await rig.vfs.release(reader);
      expect((await rig.readAll('/race.bin')).length).toBe(0);
      expect(rig.downloads.snapshot()).toEqual([]);
    }), 60_000);

  it('a handle that read the server\'s version reads it again after a save over the file was dropped (keep theirs)', () =>
    withRig(async (rig) => {
      await emu.emulator.admin.remote({ op: 'write', path: '/kept.bin', size: 8 * MiB });
      await rig.sync.syncOnce();
      const server = await emu.emulator.admin.readFile('/kept.bin');
      const reader = await rig.vfs.open('/kept.bin', 0);
      const head = Buffer.alloc(4 * KiB);
      expect(await rig.vfs.read(reader, head, head.length, 0)).toBe(head.length);
      // An editor's save over it, then the edit dropped for the server's version: the same
      // version the handle read, in a new cache file.
      await saveOver(rig, '/kept.bin', Buffer.alloc(100, 0x62));
      const choices = new EditChoices({ store: rig.temp.store, graph: rig.graph, downloads: rig.downloads, uploads: rig.uploads, toRecord, hostName: 'test' });
      await choices.keepTheirs(rig.item('/kept.bin').id);
      const later = Buffer.alloc(4 * KiB);
      expect(await rig.vfs.read(reader, later, later.length, 6 * MiB)).toBe(later.length);
      await rig.vfs.release(reader);
      expect(later.equals(server.subarray(6 * MiB, 6 * MiB + 4 * KiB))).toBe(true);
    }), 60_000);

  it('a truncate of changed content and a save renamed over the file land one after the other', () =>
    withRig(async (rig) => {
      const fh = await openServerFile(rig, '/cut.bin', 10);
      await rig.vfs.write(fh, Buffer.from('mine'), 4, 0);
      const saved = Buffer.alloc(100, 0x62);
      // The save's rename on the server answered; its file step starts just after the truncate
      // (keep-mine's rename of a copy over its file runs beside programs holding the file open).
      const content = ownerOf(rig);
      const moveFile = content.moveFile.bind(content);
      let cutting: Promise<void> | undefined;
      content.moveFile = (sourceId, targetId, commit) => {
        cutting = rig.vfs.ftruncate(fh, 1000);
        return moveFile(sourceId, targetId, commit);
      };
      await saveOver(rig, '/cut.bin', saved);
      await cutting;
      await rig.vfs.release(fh);
      const bytes = await rig.readAll('/cut.bin');
      expect(bytes.length).toBe(rig.item('/cut.bin').size);
      // The truncate after the save (it waited for it): the saved bytes, then zeros.
      expect(bytes.equals(Buffer.concat([saved, Buffer.alloc(900)]))).toBe(true);
    }), 60_000);

  it('a write handle whose file was evicted for a new server version writes into the new version\'s file', () =>
    withRig(async (rig) => {
      const fh = await openServerFile(rig, '/evicted.bin', 10);
      await rig.vfs.write(fh, Buffer.from('AAAA'), 4, 0);
      // Its upload committed (clean again); then another device's version evicts the cache file.
      const content = ownerOf(rig);
      const item = rig.item('/evicted.bin');
      content.uploadCommitted(item.id, { etag: item.etag, ctag: item.ctag }, 10);
      await emu.emulator.admin.remote({ op: 'write', path: '/evicted.bin', size: 10 });
      await rig.sync.syncOnce();
      const server = await emu.emulator.admin.readFile('/evicted.bin');
      await rig.vfs.write(fh, Buffer.from('ZZ'), 2, 0);
      await rig.vfs.release(fh);
      expect((await rig.readAll('/evicted.bin')).equals(Buffer.concat([Buffer.from('ZZ'), server.subarray(2)]))).toBe(true);
    }), 60_000);

  it('a first write to an empty file starts from the version it was based on when delta brings a new one meanwhile', () =>
    withRig(async (rig) => {
      const fh = await openServerFile(rig, '/empty.bin', 0);
      // Another device's 100 bytes arrive while the first change waits for the item's lock.
      const content = ownerOf(rig);
      const startLocalChange = content.startLocalChange.bind(content);
      let once = true;
      content.startLocalChange = async (itemId, change) => {
        if (once) {
          once = false;
          await emu.emulator.admin.remote({ op: 'write', path: '/empty.bin', size: 100 });
          await rig.sync.syncOnce();
        }
        return startLocalChange(itemId, change);
      };
      await rig.vfs.write(fh, Buffer.from('Z'), 1, 0);
      await rig.vfs.release(fh);
      const server = await emu.emulator.admin.readFile('/empty.bin');
      // The write went into the new version (fetched again), not into 100 bytes of zeros.
      expect((await rig.readAll('/empty.bin')).equals(Buffer.concat([Buffer.from('Z'), server.subarray(1)]))).toBe(true);
      expect(rig.temp.store.content.get(rig.item('/empty.bin').id)?.etag).toBe(rig.item('/empty.bin').etag);
    }), 60_000);

  it('handles open for days through many uploads keep a bounded number of descriptors', () =>
    withRig(async (rig) => {
      const writer = await openServerFile(rig, '/log.txt', 10);
      const tail = await rig.vfs.open('/log.txt', 0);
      const id = rig.item('/log.txt').id;
      const descriptors = () => readdirSync('/proc/self/fd').length;
      let before = 0;
      for (let round = 0; round < 30; round++) {
        // An append (a first change after each upload), read by `tail -f`, then uploaded (clean).
        const size = rig.item('/log.txt').size;
        await rig.vfs.write(writer, Buffer.from('line\n'), 5, size);
        expect(await rig.vfs.read(tail, Buffer.alloc(5), 5, size)).toBe(5);
        const item = rig.item('/log.txt');
        ownerOf(rig).uploadCommitted(id, { etag: item.etag, ctag: item.ctag }, item.size);
        expect(await rig.vfs.read(tail, Buffer.alloc(5), 5, size)).toBe(5);
        if (round === 4) before = descriptors();
      }
      expect(descriptors() - before).toBeLessThan(5);
      await rig.vfs.release(writer);
      await rig.vfs.release(tail);
    }), 60_000);
});

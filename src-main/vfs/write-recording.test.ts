/**
 * How local writes reach the store (Vfs.write): while no upload of the file is queued or running,
 * the writes through a handle are recorded together (one transaction, one local_version step) when
 * the handle is flushed or released, or when anything needs the store to be current (attributes,
 * reads, truncation, time changes, renames), or at the latest a moment later; while an upload is
 * active, every write is recorded at once, so the upload finds local_version moved before it could
 * read the new bytes (docs/concurrency.md).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type EmulatorHandle } from '../../emulator/src/emulator.ts';
import { startCacheRig, type CacheRig } from './testing/cache-rig.ts';

const O_RDONLY = 0;
const O_WRONLY = 1;
const KiB = 1024;

let emu: EmulatorHandle;
let rig: CacheRig;
let seq = 0;

beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu.close();
});
beforeEach(async () => {
  rig = startCacheRig(emu.apiUrl);
  await rig.sync.syncOnce();
});
afterEach(async () => {
  await rig.close();
});

function block(fill: number, size = 4 * KiB): Buffer {
  return Buffer.alloc(size, fill);
}

/** The store's view of the file: size, and how many local changes were counted. */
function stored(path: string): { size: number; localVersion: number; status: string | undefined; ranges: string } {
  const item = rig.item(path);
  const content = rig.temp.store.content.get(item.id);
  return { size: item.size, localVersion: content?.localVersion ?? 0, status: content?.status, ranges: [...(content?.ranges ?? [])].map((r) => `${r.start}-${r.end}`).join(',') };
}

async function readAll(fh: number, size: number): Promise<Buffer> {
  const buf = Buffer.alloc(size + 10);
  let got = 0;
  for (;;) {
    const n = await rig.vfs.read(fh, buf.subarray(got), buf.length - got, got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('recording local writes', () => {
  it('records the writes of one handle once, when it is flushed', async () => {
    const path = `/burst-${++seq}.bin`;
    const fh = await rig.vfs.create(path);
    const created = stored(path);
    for (let i = 0; i < 10; i++) await rig.vfs.write(fh, block(i + 1), 4 * KiB, i * 4 * KiB);
    // Nothing could upload the bytes yet: the store has not been told.
    expect(stored(path)).toEqual(created);
    rig.vfs.flush(fh);
    expect(stored(path)).toEqual({ size: 40 * KiB, localVersion: created.localVersion + 1, status: 'dirty', ranges: `0-${40 * KiB}` });
    expect(rig.uploads.scheduled).toContain(rig.item(path).id);
    await rig.vfs.release(fh);
    expect(stored(path).localVersion).toBe(created.localVersion + 1);
    const again = await rig.vfs.open(path, O_RDONLY);
    const bytes = await readAll(again, 40 * KiB);
    await rig.vfs.release(again);
    expect(bytes.equals(Buffer.concat(Array.from({ length: 10 }, (_, i) => block(i + 1))))).toBe(true);
  });

  it('records every write at once while an upload of the file is queued or running', async () => {
    const path = `/active-${++seq}.bin`;
    const fh = await rig.vfs.create(path);
    await rig.vfs.write(fh, block(1), 4 * KiB, 0);
    rig.vfs.flush(fh);
    await rig.vfs.release(fh);
    // The upload is queued now (it could start reading at any moment).
    expect(rig.uploads.isActive(rig.item(path).id)).toBe(true);
    const before = stored(path);
    const writer = await rig.vfs.open(path, O_WRONLY);
    await rig.vfs.write(writer, block(2), 4 * KiB, 4 * KiB);
    const afterOne = stored(path);
    expect(afterOne.localVersion).toBeGreaterThan(before.localVersion);
    expect(afterOne.size).toBe(8 * KiB);
    await rig.vfs.write(writer, block(3), 4 * KiB, 8 * KiB);
    expect(stored(path).localVersion).toBeGreaterThan(afterOne.localVersion);
    expect(stored(path).size).toBe(12 * KiB);
    await rig.vfs.release(writer);
  });

  it('answers attributes and reads, also through another handle, with the unrecorded writes', async () => {
    const path = `/visible-${++seq}.bin`;
    const writer = await rig.vfs.create(path);
    await rig.vfs.write(writer, block(7), 4 * KiB, 0);
    const reader = await rig.vfs.open(path, O_RDONLY);
    // The reader caches the file's size for its fast path: a later write must not hide behind it.
    expect((await readAll(reader, 4 * KiB)).length).toBe(4 * KiB);
    await rig.vfs.write(writer, block(8), 4 * KiB, 4 * KiB);
    expect(rig.vfs.getattr(path).size).toBe(8 * KiB);
    const seen = await readAll(reader, 8 * KiB);
    expect(seen.equals(Buffer.concat([block(7), block(8)]))).toBe(true);
    await rig.vfs.write(writer, block(9), 4 * KiB, 8 * KiB);
    expect((await readAll(reader, 12 * KiB)).length).toBe(12 * KiB);
    await rig.vfs.release(reader);
    await rig.vfs.release(writer);
    expect(stored(path).size).toBe(12 * KiB);
  });

  it('keeps a truncation and a time set after unrecorded writes', async () => {
    const path = `/order-${++seq}.bin`;
    const fh = await rig.vfs.create(path);
    await rig.vfs.write(fh, block(1, 64 * KiB), 64 * KiB, 0);
    await rig.vfs.ftruncate(fh, 10 * KiB);
    await rig.vfs.write(fh, block(2), 4 * KiB, 2 * KiB);
    // cp -p: the time is set before the file is closed.
    await rig.vfs.utimens(path, 1_600_000_000_000);
    await rig.vfs.release(fh);
    expect(stored(path).size).toBe(10 * KiB);
    expect(rig.item(path).mtimeMs).toBe(1_600_000_000_000);
    const again = await rig.vfs.open(path, O_RDONLY);
    const bytes = await readAll(again, 10 * KiB);
    await rig.vfs.release(again);
    expect(bytes.equals(Buffer.concat([block(1, 2 * KiB), block(2), block(1, 4 * KiB)]))).toBe(true);
  });

  it('records unrecorded writes a moment later even while the handle stays open', async () => {
    const path = `/later-${++seq}.bin`;
    const fh = await rig.vfs.create(path);
    await rig.vfs.write(fh, block(5), 4 * KiB, 0);
    await until(() => rig.item(path).size === 4 * KiB, 'the writes to be recorded without a close');
    expect(stored(path).status).toBe('dirty');
    await rig.vfs.release(fh);
  });

  it('records a write to a file being uploaded before that upload could commit it as current', async () => {
    const path = `/racing-${++seq}.bin`;
    const first = await rig.vfs.create(path);
    await rig.vfs.write(first, block(1), 4 * KiB, 0);
    await rig.vfs.release(first);
    const id = rig.item(path).id;
    // An upload starts: it notes the local version, then reads the file.
    const uploadSaw = rig.temp.store.content.get(id)!.localVersion;
    const second = await rig.vfs.open(path, O_WRONLY);
    await rig.vfs.write(second, block(2), 4 * KiB, 0);
    // Its commit checks the version: moved, so it is stale and the file uploads again.
    expect(rig.temp.store.content.get(id)!.localVersion).not.toBe(uploadSaw);
    await rig.vfs.release(second);
  });
});

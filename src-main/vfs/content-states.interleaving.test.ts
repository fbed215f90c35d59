/**
 * Content states under arbitrary sequences (fast-check) of what moves them: partial and whole reads
 * through the vfs (download manager), through fresh handles and through one held open on a file for the
 * whole run, read in FUSE-sized pieces (what a handle keeps between reads must follow every other
 * step), local writes (dirty), a file replaced by a rename over it (an editor's save), remote
 * changes applied by delta (invalidation), truncates, and cache cleaning rounds with a tiny limit
 * (eviction), some of them at once: a read racing a cleaning round, and a read whose download is
 * still running (the emulator slowed down) racing a local write or truncate of the file, which
 * must return the bytes before or after the change and leave no server byte in the changed file
 * (docs/concurrency.md §3, "A download never writes into changed content"). After every step:
 * - a written file stays dirty and reads back exactly its local bytes: never evicted, never invalidated;
 * - 'complete' means the ranges cover the whole size;
 * - a clean file reads exactly the server's current bytes.
 * Uploads are recorded, not performed (the cache rig), so a dirty file stays dirty for the whole run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { startEmulator, type EmulatorHandle } from '../../emulator/src/emulator.ts';
import { CacheCleaner } from './cache-cleaner.ts';
import { startCacheRig, type CacheRig } from './testing/cache-rig.ts';

const KiB = 1024;
const FILES = 3;
const SIZE = 600 * KiB;
const O_WRONLY = 1;

let emu: EmulatorHandle;
let run = 0;
/** Cleaning rounds that did evict something (a run where none did would prove little). */
let evictions = 0;
/** Changes made while a read's download was running (likewise). */
let raced = 0;

beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu.close();
});

type Step =
  | { kind: 'read'; file: number; offset: number; length: number }
  | { kind: 'heldRead'; file: number; offset: number; length: number }
  | { kind: 'readAll'; file: number }
  | { kind: 'write'; file: number; offset: number; length: number; fill: number }
  | { kind: 'replace'; file: number; length: number; fill: number }
  | { kind: 'remote'; file: number; size: number }
  | { kind: 'truncate'; file: number; size: number }
  | { kind: 'clean' }
  | { kind: 'readWhileCleaning'; file: number; offset: number }
  | { kind: 'changeWhileReading'; file: number; offset: number; change: Change };

/** A local change, as the model applies it. */
type Change = { kind: 'truncate'; size: number } | { kind: 'write'; offset: number; length: number; fill: number };

const file = fc.nat(FILES - 1);
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('read' as const), file, offset: fc.nat(SIZE), length: fc.integer({ min: 1, max: 200 * KiB }) }),
  fc.record({ kind: fc.constant('heldRead' as const), file: fc.constant(0), offset: fc.nat(SIZE), length: fc.integer({ min: 1, max: 200 * KiB }) }),
  fc.record({ kind: fc.constant('readAll' as const), file }),
  fc.record({ kind: fc.constant('write' as const), file, offset: fc.nat(SIZE), length: fc.integer({ min: 1, max: 64 * KiB }), fill: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('replace' as const), file, length: fc.integer({ min: 1, max: SIZE }), fill: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('remote' as const), file, size: fc.integer({ min: 1, max: SIZE }) }),
  fc.record({ kind: fc.constant('clean' as const) }),
  fc.record({ kind: fc.constant('truncate' as const), file, size: fc.nat(SIZE + 64 * KiB) }),
  fc.record({ kind: fc.constant('readWhileCleaning' as const), file, offset: fc.nat(SIZE) }),
  fc.record({
    kind: fc.constant('changeWhileReading' as const),
    file,
    offset: fc.nat(SIZE),
    change: fc.oneof(
      fc.record({ kind: fc.constant('truncate' as const), size: fc.nat(SIZE) }),
      fc.record({ kind: fc.constant('write' as const), offset: fc.nat(SIZE), length: fc.integer({ min: 1, max: 64 * KiB }), fill: fc.integer({ min: 1, max: 255 }) }),
    ),
  }),
);

/** The bytes after `change` (a write past the end starts at the end: no holes in the model). */
function applied(base: Buffer, change: Change): Buffer {
  if (change.kind === 'truncate') {
    const next = Buffer.alloc(change.size);
    base.copy(next, 0, 0, Math.min(base.length, change.size));
    return next;
  }
  const offset = Math.min(change.offset, base.length);
  const next = Buffer.alloc(Math.max(base.length, offset + change.length));
  base.copy(next);
  next.fill(change.fill, offset, offset + change.length);
  return next;
}

async function applyChange(rig: CacheRig, path: string, base: Buffer, change: Change): Promise<void> {
  if (change.kind === 'truncate') return rig.vfs.truncate(path, change.size);
  const fh = await rig.vfs.open(path, O_WRONLY);
  try {
    await rig.vfs.write(fh, Buffer.alloc(change.length, change.fill), change.length, Math.min(change.offset, base.length));
  } finally {
    await rig.vfs.release(fh);
  }
}

/** What a read of [offset, offset + length) returns from these bytes. */
function slice(bytes: Buffer, offset: number, length: number): Buffer {
  return bytes.subarray(Math.min(offset, bytes.length), Math.min(bytes.length, offset + length));
}

async function readRange(rig: CacheRig, path: string, offset: number, length: number): Promise<Buffer> {
  const fh = await rig.vfs.open(path, 0);
  try {
    return await readThrough(rig, fh, offset, length);
  } finally {
    await rig.vfs.release(fh);
  }
}

/** Reads in pieces of at most 128 KiB, as FUSE hands them: later pieces find what earlier ones brought. */
async function readThrough(rig: CacheRig, fh: number, offset: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = await rig.vfs.read(fh, buf.subarray(got), Math.min(128 * KiB, length - got), offset + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

describe('content states under any sequence of reads, writes, remote changes and cleaning', () => {
  it('dirty is never evicted or invalidated, complete covers the size, clean files read the server bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps) => {
        const rig = startCacheRig(emu.apiUrl);
        const cleaner = new CacheCleaner({
          store: rig.temp.store,
          downloads: rig.downloads,
          isOpen: (id) => rig.vfs.isOpen(id),
          cacheDir: rig.cacheDir,
          tasks: rig.tasks,
          logger: rig.memory.logger,
          limitBytes: 1,
          statfs: async () => ({ bsize: 4096, blocks: 1 << 30, bavail: 1 << 29 }),
        });
        try {
          const folder = `/states-${++run}`;
          const paths = Array.from({ length: FILES }, (_, i) => `${folder}/f${i}.bin`);
          await emu.emulator.admin.remote({ op: 'mkdir', path: folder });
          for (const p of paths) await emu.emulator.admin.remote({ op: 'write', path: p, size: SIZE });
          await rig.sync.syncOnce();
          /** A read-only handle on the first file, open for the whole run (the others stay evictable). */
          const held = await rig.vfs.open(paths[0]!, 0);
          /** Local bytes of each file once written (the model). */
          const local: Array<Buffer | undefined> = Array.from({ length: FILES }, () => undefined);

          const check = async () => {
            for (const [i, p] of paths.entries()) {
              const item = rig.item(p);
              const state = rig.temp.store.content.get(item.id);
              if (state?.status === 'complete') expect(state.ranges.isComplete(item.size), `${p}: complete but ranges do not cover ${item.size}`).toBe(true);
              const mine = local[i];
              if (mine) {
                expect(state?.status, `${p} was written here`).toBe('dirty');
                expect(item.size).toBe(mine.length);
                expect((await rig.readAll(p)).equals(mine), `${p}: the local bytes changed`).toBe(true);
              } else {
                expect((await rig.readAll(p)).equals(await emu.emulator.admin.readFile(p)), `${p}: differs from the server`).toBe(true);
              }
            }
          };

          for (const s of steps) {
            if (s.kind === 'read' || s.kind === 'heldRead') {
              const p = paths[s.file]!;
              const got = s.kind === 'read' ? await readRange(rig, p, s.offset, s.length) : await readThrough(rig, held, s.offset, s.length);
              const want = local[s.file] ?? (await emu.emulator.admin.readFile(p));
              expect(got.equals(slice(want, s.offset, s.length))).toBe(true);
            } else if (s.kind === 'readAll') {
              await rig.readAll(paths[s.file]!);
            } else if (s.kind === 'write' || s.kind === 'truncate') {
              const p = paths[s.file]!;
              const base = local[s.file] ?? (await emu.emulator.admin.readFile(p));
              const change: Change = s.kind === 'truncate' ? { kind: 'truncate', size: s.size } : { ...s, kind: 'write' };
              await applyChange(rig, p, base, change);
              local[s.file] = applied(base, change);
            } else if (s.kind === 'changeWhileReading') {
              const p = paths[s.file]!;
              const before = local[s.file] ?? (await emu.emulator.admin.readFile(p));
              const after = applied(before, s.change);
              // Not cached (the checks read every file whole), so that the read downloads; the
              // file held open is left alone, as the cleaner and pins leave open files.
              const id = rig.item(p).id;
              if (!local[s.file] && !rig.vfs.isOpen(id)) await rig.downloads.invalidate(id);
              // Slow enough that the read's download (and the read-ahead's) is still running when the change begins.
              emu.emulator.faults.set({ bandwidthBytesPerSec: 1024 * KiB });
              try {
                const fh = await rig.vfs.open(p, 0);
                try {
                  // One FUSE-sized piece: it returns the bytes before the change or after it, never a mix.
                  const buf = Buffer.alloc(128 * KiB);
                  const reading = (async () => rig.vfs.read(fh, buf, buf.length, s.offset))().then(
                    (n) => ({ n }),
                    (error: unknown) => ({ error }),
                  );
                  await new Promise((resolve) => setTimeout(resolve, 5));
                  if (rig.tasks.list().some((t) => t.name.startsWith('download:'))) raced++;
                  await applyChange(rig, p, before, s.change);
                  const outcome = await reading;
                  if ('error' in outcome) throw outcome.error;
                  const got = buf.subarray(0, outcome.n);
                  const ok = got.equals(slice(before, s.offset, buf.length)) || got.equals(slice(after, s.offset, buf.length));
                  expect(ok, `${p}: a read racing a change returned bytes from neither side of it`).toBe(true);
                } finally {
                  await rig.vfs.release(fh);
                }
              } finally {
                emu.emulator.faults.reset();
              }
              await rig.downloads.whenIdle();
              local[s.file] = after;
            } else if (s.kind === 'replace') {
              // An editor's save: a new file written beside it, then renamed over it.
              const p = paths[s.file]!;
              const data = Buffer.alloc(s.length, s.fill);
              const tmp = `${p}.tmp`;
              const fh = await rig.vfs.create(tmp);
              try {
                await rig.vfs.write(fh, data, data.length, 0);
              } finally {
                await rig.vfs.release(fh);
              }
              await rig.vfs.rename(tmp, p);
              local[s.file] = data;
            } else if (s.kind === 'remote') {
              await emu.emulator.admin.remote({ op: 'write', path: paths[s.file]!, size: s.size });
              await rig.sync.syncOnce();
            } else if (s.kind === 'clean') {
              const report = await cleaner.clean();
              if (report.evictedFiles > 0) evictions++;
            } else {
              const p = paths[s.file]!;
              const want = local[s.file] ?? (await emu.emulator.admin.readFile(p));
              const offset = Math.min(s.offset, Math.max(0, want.length - 1));
              const [got] = await Promise.all([readRange(rig, p, offset, 100 * KiB), cleaner.clean()]);
              expect(got.equals(want.subarray(offset, Math.min(want.length, offset + 100 * KiB)))).toBe(true);
            }
            await check();
          }
          await rig.vfs.release(held);
        } finally {
          await cleaner.stop();
          await rig.close();
        }
      }),
      {
        numRuns: 40,
        // What a held handle keeps, then each kind of change under it.
        examples: [
          [[{ kind: 'heldRead', file: 0, offset: 0, length: 300 * KiB }, { kind: 'heldRead', file: 0, offset: 0, length: SIZE }]],
          [[{ kind: 'heldRead', file: 0, offset: 0, length: 300 * KiB }, { kind: 'remote', file: 0, size: SIZE }, { kind: 'heldRead', file: 0, offset: 0, length: SIZE }]],
          [[{ kind: 'heldRead', file: 0, offset: 0, length: 300 * KiB }, { kind: 'write', file: 0, offset: 100, length: 1000, fill: 7 }, { kind: 'heldRead', file: 0, offset: 0, length: SIZE }]],
          [[{ kind: 'heldRead', file: 0, offset: 0, length: 300 * KiB }, { kind: 'replace', file: 0, length: SIZE, fill: 9 }, { kind: 'heldRead', file: 0, offset: 0, length: SIZE }]],
          // A truncate, then the file extended again, while a read's download runs past the cut.
          [[{ kind: 'changeWhileReading', file: 1, offset: 500 * KiB, change: { kind: 'truncate', size: 10 * KiB } }, { kind: 'truncate', file: 1, size: SIZE }]],
          [[{ kind: 'changeWhileReading', file: 1, offset: 500 * KiB, change: { kind: 'write', offset: 520 * KiB, length: 4 * KiB, fill: 3 } }]],
          // Found by this test: the held handle, which had read the file's local bytes, kept reading
          // the cache file the save replaced.
          [[{ kind: 'write', file: 0, offset: 0, length: 1, fill: 1 }, { kind: 'heldRead', file: 0, offset: 0, length: 1 }, { kind: 'replace', file: 0, length: 1, fill: 1 }, { kind: 'truncate', file: 0, size: 2 }, { kind: 'heldRead', file: 0, offset: 0, length: 2 }]],
        ],
      },
    );
    expect(evictions).toBeGreaterThan(0);
    expect(raced).toBeGreaterThan(0);
  }, 240_000);
});

/**
 * The upload queue under arbitrary interleavings (fast-check's scheduler): local writes, closes and
 * deletes of a few files arrive in any order relative to the Graph answers of the uploads they start
 * (every answer of the emulator is held back and released in an order fast-check picks), and
 * shutdown (finish) may come at any point. Whatever the order:
 * - one item never has two uploads at once (its `upload:<id>` task is listed at most once);
 * - every file that was written and closed ends on the server with its latest bytes, or, after a
 *   shutdown, stays pending in the journal and reaches the server on the next start;
 * - a deleted file's upload is stopped and nothing of it keeps running;
 * - no conflict is invented.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startEmulator, type EmulatorHandle } from '../../emulator/src/emulator.ts';
import { createMemoryLogger } from '../base/logger.ts';
import { RangeSet } from '../base/range-set.ts';
import { GraphClient } from '../graph/client.ts';
import type { DriveItem } from '../graph/drive-item.ts';
import { StaticTokenProvider } from '../graph/token-provider.ts';
import { TaskRegistry } from '../lifecycle/task-registry.ts';
import { openTempStore, type TempStore } from '../store/testing/temp-store.ts';
import type { ItemRecord, StoredItem } from '../store/types.ts';
import { cacheFilePath } from './cache-files.ts';
import { UploadManager } from './upload-manager.ts';
import type { UploadSource } from './upload-types.ts';

const TOKEN = 'emulator-token-not-a-secret-1234567890';
const ITEMS = 3;
const UPLOAD_METHODS = [
  'getItem',
  'getItemByPath',
  'update',
  'uploadSmall',
  'uploadSmallById',
  'createUploadSession',
  'uploadFragment',
  'getUploadSession',
  'cancelUploadSession',
] as const satisfies ReadonlyArray<keyof UploadSource>;

let emu: EmulatorHandle;
let graph: GraphClient;
let rootId: string;
let run = 0;

beforeAll(async () => {
  emu = await startEmulator();
  rootId = emu.emulator.drive.rootId;
  graph = new GraphClient({ baseUrl: emu.apiUrl, tokenProvider: new StaticTokenProvider(TOKEN), requestTimeoutMs: 20_000, maxRetries: 2, retryBaseMs: 5, retryMaxMs: 20 });
});

afterAll(async () => {
  await graph.close();
  await emu.close();
});

function toRecord(item: DriveItem): ItemRecord {
  const time = (value: string | undefined): number => (value === undefined ? 0 : Date.parse(value));
  return {
    id: item.id,
    parentId: item.parentReference?.id ?? null,
    name: item.name ?? item.id,
    kind: item.folder ? 'folder' : 'file',
    size: item.size ?? 0,
    ctimeMs: time(item.fileSystemInfo?.createdDateTime ?? item.createdDateTime),
    mtimeMs: time(item.fileSystemInfo?.lastModifiedDateTime ?? item.lastModifiedDateTime),
    etag: item.eTag ?? null,
    ctag: item.cTag ?? null,
    quickXorHash: item.file?.hashes?.quickXorHash ?? null,
  };
}

type Command = { kind: 'write'; item: number; bytes: number } | { kind: 'close'; item: number } | { kind: 'delete'; item: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('write' as const), item: fc.nat(ITEMS - 1), bytes: fc.integer({ min: 0, max: 3000 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('close' as const), item: fc.nat(ITEMS - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), item: fc.nat(ITEMS - 1) }) },
);

/**
 * The Graph method with its answer held back until the scheduler releases it. The real call's
 * outcome is captured at once, so a call aborted meanwhile is not an unhandled rejection.
 */
function heldBack(s: fc.Scheduler, method: (typeof UPLOAD_METHODS)[number]): (...args: unknown[]) => Promise<unknown> {
  const call = (graph[method] as (...a: unknown[]) => Promise<unknown>).bind(graph);
  const settled = s.scheduleFunction(async function graphCall(...args: unknown[]) {
    return call(...args).then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
  });
  return async (...args) => {
    const outcome = await settled(...args);
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  };
}

let verified = 0;

/** What the vfs does on a write: bytes into the cache file, content dirty from its base, one pending write entry. */
function recordLocalWrite(temp: TempStore, cacheDir: string, itemId: string, content: Buffer, mtimeMs: number): void {
  const path = cacheFilePath(cacheDir, itemId);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  temp.store.transaction(() => {
    const current = temp.store.items.get(itemId)!;
    const state = temp.store.content.get(itemId);
    const base = state?.status === 'dirty' ? state : { etag: current.etag, ctag: current.ctag };
    temp.store.content.setContent(itemId, { status: 'dirty', etag: base.etag, ctag: base.ctag, ranges: RangeSet.from(content.length > 0 ? [{ start: 0, end: content.length }] : []) });
    temp.store.items.update(itemId, { size: content.length, mtimeMs });
    const unfinished = temp.store.journal.list({ itemId, states: ['pending', 'uploading'] });
    if (!unfinished.some((e) => e.kind === 'write')) temp.store.journal.append({ kind: 'write', itemId, parentId: current.parentId, name: current.name, baseEtag: current.etag });
  });
}

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 1));

describe('UploadManager under any interleaving', () => {
  it('never runs two uploads of one item, and every closed file ends on the server with its latest bytes or pending for the next start', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(fc.tuple(command, fc.nat(6)), { minLength: 1, maxLength: 14 }),
        fc.option(fc.nat(40), { nil: undefined }),
        async (s, steps, finishAfter) => {
          const folder = `run-${++run}`;
          await emu.emulator.admin.remote({ op: 'mkdir', path: `/${folder}` });
          const temp: TempStore = openTempStore();
          const cacheDir = mkdtempSync(join(tmpdir(), 'onemount-upload-interleaving-'));
          const memory = createMemoryLogger('warn', 'upload-interleaving');
          const tasks = new TaskRegistry({ logger: memory.logger });
          const scheduled = Object.fromEntries(UPLOAD_METHODS.map((m) => [m, heldBack(s, m)])) as unknown as UploadSource;
          const managerOptions = {
            store: temp.store,
            cachePath: (id: string) => cacheFilePath(cacheDir, id),
            toRecord,
            tasks,
            logger: memory.logger,
            hostName: 'testhost',
            writeBackDelayMs: 1,
            retryBaseMs: 20,
            retryMaxMs: 100,
          };
          const manager = new UploadManager({ ...managerOptions, graph: scheduled });
          const managers = [manager];
          try {
            temp.store.items.upsert({ id: rootId, parentId: null, name: 'root', kind: 'folder', size: 0, ctimeMs: 1, mtimeMs: 1 });
            const folderJson = emu.emulator.admin.itemJson(`/${folder}`) as unknown as DriveItem;
            temp.store.items.upsert({ ...toRecord(folderJson), parentId: rootId });
            const items: StoredItem[] = [];
            for (let i = 0; i < ITEMS; i++) {
              await emu.emulator.admin.remote({ op: 'write', path: `/${folder}/f${i}.txt`, content: `server ${i}\n` });
              items.push(temp.store.items.upsert(toRecord(emu.emulator.admin.itemJson(`/${folder}/f${i}.txt`) as unknown as DriveItem)));
            }
            /** Latest local bytes of each file, once it was written; null after a delete. */
            const latest: Array<Buffer | undefined | null> = Array.from({ length: ITEMS }, () => undefined);
            const open = new Set<number>();
            let version = 0;

            const checkOneUploadPerItem = () => {
              const names = tasks.list().map((t) => t.name).filter((n) => n.startsWith('upload:'));
              expect(new Set(names).size, `uploads running at once: ${names.join(', ')}`).toBe(names.length);
            };
            /** Lets the scheduler release answers (or real timers run) until `done()`. */
            const pumpUntil = async (done: () => boolean, what: string) => {
              const deadline = Date.now() + 20_000;
              while (!done()) {
                if (Date.now() > deadline) throw new Error(`no progress towards ${what}: ${s.report().length} scheduled so far`);
                if (s.count() > 0) await s.waitOne();
                else await tick();
                checkOneUploadPerItem();
              }
            };
            const settle = async <T,>(p: Promise<T>, what: string): Promise<T> => {
              let result: { value: T } | undefined;
              let failure: { error: unknown } | undefined;
              p.then(
                (value) => (result = { value }),
                (error: unknown) => (failure = { error }),
              );
              await pumpUntil(() => result !== undefined || failure !== undefined, what);
              if (failure) throw failure.error;
              return result!.value;
            };

            // What the vfs does on a write (touch, bytes into the cache file, content dirty, journal), a close (schedule) and an unlink (forget, cancel).
            const write = (i: number, bytes: number) => {
              const item = items[i]!;
              const content = Buffer.alloc(bytes, `v${++version}:${i};`);
              manager.touch(item.id);
              recordLocalWrite(temp, cacheDir, item.id, content, 1_700_000_000_000 + version * 1000);
              latest[i] = content;
              open.add(i);
            };
            const close = (i: number) => {
              open.delete(i);
              if (latest[i]) manager.schedule(items[i]!.id, { priority: 'high' });
            };
            const remove = async (i: number) => {
              const id = items[i]!.id;
              temp.store.transaction(() => {
                for (const e of temp.store.journal.list({ itemId: id, states: ['pending', 'uploading', 'failed'] })) temp.store.journal.remove(e.seq);
                temp.store.items.deleteSubtree(id);
              });
              latest[i] = null;
              open.delete(i);
              await settle(manager.cancel(id), `cancelling ${id}`);
              expect(tasks.list().map((t) => t.name)).not.toContain(`upload:${id}`);
            };

            let finished = false;
            let answered = 0;
            for (const [cmd, pause] of steps) {
              if (finishAfter !== undefined && !finished && answered >= finishAfter) {
                finished = true;
                await settle(manager.finish(0), 'finish');
              }
              if (latest[cmd.item] === null) continue;
              if (cmd.kind === 'write') write(cmd.item, cmd.bytes);
              else if (cmd.kind === 'close') close(cmd.item);
              else await remove(cmd.item);
              for (let k = 0; k < pause; k++) {
                if (s.count() > 0) {
                  await s.waitOne();
                  answered++;
                } else await tick();
                checkOneUploadPerItem();
              }
            }
            for (const i of [...open]) close(i);
            if (finishAfter !== undefined) {
              await settle(manager.finish(0), 'finish');
              expect(tasks.list().filter((t) => t.name.startsWith('upload:'))).toEqual([]);
              // What is not on the server yet must wait in the journal for the next start.
              for (const [i, bytes] of latest.entries()) {
                if (!bytes) continue;
                const server = await emu.emulator.admin.readFile(`/${folder}/f${i}.txt`);
                const pending = temp.store.journal.list({ itemId: items[i]!.id, states: ['pending'] });
                expect(server.equals(bytes) || pending.length > 0, `f${i}: neither uploaded nor pending`).toBe(true);
              }
              // The next start, without the scheduler: it finishes what was persisted.
              const next = new UploadManager({ ...managerOptions, graph });
              managers.push(next);
              next.start();
              await next.whenIdle();
            } else {
              await settle(manager.whenIdle(), 'idle');
            }
            const conflicts = temp.store.conflicts.list();
            for (const [i, bytes] of latest.entries()) {
              if (!bytes) continue;
              const server = await emu.emulator.admin.readFile(`/${folder}/f${i}.txt`);
              expect(temp.store.journal.list({ itemId: items[i]!.id })).toEqual([]);
              verified++;
              // Across a shutdown too: our own versions are persisted, so a restart sees no conflict.
              expect(server.equals(bytes), `f${i}: the server holds ${server.length} bytes, not the latest ${bytes.length}`).toBe(true);
            }
            expect(conflicts).toEqual([]);
          } finally {
            for (const m of managers) {
              const closing = m.close();
              if (m === manager) while (s.count() > 0) await s.waitOne();
              await closing;
            }
            await tasks.stopAll(5000);
            temp.dispose();
            rmSync(cacheDir, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 25 },
    );
    // The runs did upload things (a property that never reached an upload would prove nothing).
    expect(verified).toBeGreaterThan(20);
  }, 240_000);
});

describe('UploadManager across a restart', () => {
  it('an upload superseded after its commit, then a shutdown, is no conflict on the next start (own versions are persisted)', async () => {
    const folder = `restart-${++run}`;
    await emu.emulator.admin.remote({ op: 'mkdir', path: `/${folder}` });
    await emu.emulator.admin.remote({ op: 'write', path: `/${folder}/f.txt`, content: 'server version\n' });
    const temp = openTempStore();
    const cacheDir = mkdtempSync(join(tmpdir(), 'onemount-upload-restart-'));
    const memory = createMemoryLogger('warn', 'upload-restart');
    // The first upload's PUT reaches the server; its answer is held until the upload is stopped.
    let held = 0;
    const gated = Object.fromEntries(UPLOAD_METHODS.map((m) => [m, (graph[m] as (...a: unknown[]) => Promise<unknown>).bind(graph)])) as unknown as UploadSource;
    gated.uploadSmallById = async (...args: Parameters<GraphClient['uploadSmallById']>) => {
      const answer = await graph.uploadSmallById(...args);
      held++;
      const signal = args[2]?.signal;
      await new Promise((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason), { once: true }));
      return answer;
    };
    const tasks = new TaskRegistry({ logger: memory.logger });
    const options = { store: temp.store, cachePath: (id: string) => cacheFilePath(cacheDir, id), toRecord, tasks, logger: memory.logger, hostName: 'testhost', writeBackDelayMs: 500, retryBaseMs: 20, retryMaxMs: 100 };
    const first = new UploadManager({ ...options, graph: gated });
    const next = new UploadManager({ ...options, graph });
    try {
      temp.store.items.upsert({ id: rootId, parentId: null, name: 'root', kind: 'folder', size: 0, ctimeMs: 1, mtimeMs: 1 });
      temp.store.items.upsert({ ...toRecord(emu.emulator.admin.itemJson(`/${folder}`) as unknown as DriveItem), parentId: rootId });
      const item = temp.store.items.upsert(toRecord(emu.emulator.admin.itemJson(`/${folder}/f.txt`) as unknown as DriveItem));
      recordLocalWrite(temp, cacheDir, item.id, Buffer.from('first local edit\n'), 1_700_000_000_000);
      first.schedule(item.id, { priority: 'high' });
      const deadline = Date.now() + 10_000;
      while (held === 0 && Date.now() < deadline) await tick();
      expect(held).toBe(1);
      // A second write stops the first upload (its answer is lost), and shutdown comes before the retry.
      first.touch(item.id);
      const latest = Buffer.from('second local edit, the latest\n');
      recordLocalWrite(temp, cacheDir, item.id, latest, 1_700_000_001_000);
      first.schedule(item.id, { priority: 'high' });
      await first.finish(0);
      expect(temp.store.journal.list({ itemId: item.id, states: ['pending'] }).length).toBe(1);
      // The next start: the server holds this engine's first edit, not another device's.
      next.start();
      await next.whenIdle();
      expect(temp.store.conflicts.list()).toEqual([]);
      expect((await emu.emulator.admin.readFile(`/${folder}/f.txt`)).equals(latest)).toBe(true);
    } finally {
      await first.close();
      await next.close();
      expect(tasks.list()).toEqual([]);
      temp.dispose();
      rmSync(cacheDir, { recursive: true, force: true });
    }
  }, 60_000);
});

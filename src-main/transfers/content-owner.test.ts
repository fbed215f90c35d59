import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RangeSet, StoreError, type ContentStatus } from '../store/index.ts';
import { file, openTempStore, ROOT, type TempStore } from '../store/testing/temp-store.ts';
import { cacheFilePath } from './cache-files.ts';
import { CacheFd, CONTENT_TRANSITIONS, ContentOwner, ContentTransitionError, type ContentEvent } from './content-owner.ts';
import { SpareCacheFiles } from './spare-cache-files.ts';

let temp: TempStore;
let owner: ContentOwner;
let cacheDir: string;
const v1 = { etag: 'e1', ctag: 'c1' };

beforeEach(() => {
  temp = openTempStore();
  cacheDir = join(temp.dir.path, 'cache');
  temp.store.items.upsertMany([ROOT, file('A', 'ROOT', 'a.txt'), file('B', 'ROOT', 'b.txt')]);
  owner = new ContentOwner({ store: temp.store, cachePath: (id) => cacheFilePath(cacheDir, id) });
});
afterEach(() => temp.dispose());

const status = (id: string): ContentStatus => temp.store.content.get(id)?.status ?? 'none';

/** Puts item A in `state` through the owner itself. */
async function reach(state: ContentStatus): Promise<void> {
  if (state === 'none') return;
  await owner.versionStarted('A', v1, 10);
  if (state === 'partial') owner.bytesArrived('A', 0, 4, 10);
  if (state === 'complete') owner.bytesArrived('A', 0, 10, 10);
  if (state === 'dirty') owner.localChangeStarted('A', v1, RangeSet.whole(10));
  expect(status('A')).toBe(state);
}

describe('the transition table', { timeout: 10_000 }, () => {
  it('lets every state do something and refuses something in every state', () => {
    const events = Object.keys(CONTENT_TRANSITIONS) as ContentEvent[];
    for (const state of ['none', 'partial', 'complete', 'dirty'] as const) {
      expect(events.filter((e) => CONTENT_TRANSITIONS[e].from.includes(state)).length, state).toBeGreaterThan(0);
      expect(events.filter((e) => !CONTENT_TRANSITIONS[e].from.includes(state)).length, state).toBeGreaterThan(0);
    }
    // Only an upload's commit or a user's choice take dirty content out of dirty.
    const leavingDirty = events.filter((e) => CONTENT_TRANSITIONS[e].from.includes('dirty') && CONTENT_TRANSITIONS[e].to.some((s) => s !== 'dirty'));
    expect(leavingDirty.sort()).toEqual(['editDropped', 'uploadCommitted', 'serverVersionKept'].sort());
  });

  it('is the table docs/concurrency.md §3 shows (every event, with the states it starts from)', () => {
    const doc = readFileSync(fileURLToPath(new URL('../../docs/concurrency.md', import.meta.url)), 'utf8');
    const section = doc.slice(doc.indexOf('## 3. Content states'), doc.indexOf('## 3a.'));
    const documented = new Map<string, string[]>();
    for (const [, event, from] of section.matchAll(/^\| `(\w+)`[^|]*\| ([^|]+) \|/gm)) {
      documented.set(event!, from!.trim() === 'any' ? ['none', 'partial', 'complete', 'dirty'] : from!.split(',').map((s) => s.trim()));
    }
    const inCode = Object.fromEntries(Object.entries(CONTENT_TRANSITIONS).map(([event, rule]) => [event, [...rule.from]]));
    expect(Object.fromEntries(documented)).toEqual(inCode);
  });

  it('none (only in the cloud): bytes arriving make it partial; an upload commit is refused', async () => {
    await reach('none');
    expect(() => owner.uploadCommitted('A', v1, 10)).toThrow(ContentTransitionError);
    expect(status('A')).toBe('none');
    await owner.versionStarted('A', v1, 10);
    expect(owner.bytesArrived('A', 0, 4, 10).status).toBe('partial');
  });

  it('partial: the cleaner may evict it (the cache file goes); keep-mine rebasing is refused', async () => {
    await reach('partial');
    const refused = (() => {
      try {
        owner.rebased('A', v1, RangeSet.whole(10));
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(refused).toBeInstanceOf(ContentTransitionError);
    expect((refused as ContentTransitionError).code).toBe('INVALID_TRANSITION');
    expect(existsSync(cacheFilePath(cacheDir, 'A'))).toBe(true);
    const had = await owner.evict('A');
    expect(had?.status).toBe('partial');
    expect(status('A')).toBe('none');
    expect(existsSync(cacheFilePath(cacheDir, 'A'))).toBe(false);
  });

  it("tells every owner's listeners when server bytes go (eviction, a failed hash check), once they are gone, and not when they are refused", async () => {
    const heard: Array<[string, ContentStatus]> = [];
    const other = new ContentOwner({ store: temp.store, cachePath: (id) => cacheFilePath(cacheDir, id) });
    const stop = other.onBytesDropped((id) => heard.push([id, status(id)]));
    await reach('complete');
    await owner.evict('A');
    await owner.versionStarted('A', v1, 10);
    owner.bytesArrived('A', 0, 10, 10);
    await owner.badBytesDiscarded('A', v1, { code: 'HASH_MISMATCH', message: 'bad' });
    owner.localChangeStarted('A', v1, RangeSet.whole(10));
    await expect(owner.evict('A')).rejects.toMatchObject({ code: 'CONTENT_DIRTY' });
    expect(heard).toEqual([
      ['A', 'none'],
      ['A', 'none'],
    ]);
    stop();
    await owner.evict('B');
    expect(heard).toHaveLength(2);
  });

  it('complete (clean): a first change makes it dirty and counts a local version; keeping the server version is refused', async () => {
    await reach('complete');
    expect(() => owner.serverVersionKept('A', v1)).toThrow(ContentTransitionError);
    const before = temp.store.content.get('A')!.localVersion;
    owner.localChangeStarted('A', v1, RangeSet.whole(10));
    expect(temp.store.content.get('A')).toMatchObject({ status: 'dirty', etag: 'e1', localVersion: before + 1 });
  });

  it('dirty: an upload commit makes it complete; eviction and a new download version are refused with CONTENT_DIRTY and change nothing', async () => {
    await reach('dirty');
    writeFileSync(cacheFilePath(cacheDir, 'A'), 'local edit');
    await expect(owner.evict('A')).rejects.toMatchObject({ name: 'StoreError', code: 'CONTENT_DIRTY' });
    await expect(owner.versionStarted('A', { etag: 'e2', ctag: 'c2' }, 10)).rejects.toBeInstanceOf(StoreError);
    expect(temp.store.content.get('A')).toMatchObject({ status: 'dirty', etag: 'e1' });
    expect(readFileSync(cacheFilePath(cacheDir, 'A'), 'utf8')).toBe('local edit');
    await expect(owner.removeFile('A')).rejects.toMatchObject({ code: 'CONTENT_DIRTY' });
    // A download's bytes never land in changed content (its writes are stopped first: below).
    expect(() => owner.bytesArrived('A', 0, 4, 10)).toThrow(ContentTransitionError);
    expect(temp.store.content.get('A')!.ranges.toArray()).toEqual([{ start: 0, end: 10 }]);
    owner.uploadCommitted('A', { etag: 'e2', ctag: 'c2' }, 10);
    expect(temp.store.content.get('A')).toMatchObject({ status: 'complete', etag: 'e2', ctag: 'c2' });
  });

  it('a new local file starts dirty with its cache file, and the rows of a failed create leave no file behind', async () => {
    const handle = await owner.createLocalFile('A', () => {});
    owner.writeAtSync(handle, Buffer.from('new file'), 0);
    handle.close();
    // A second close (release after a failed step already closed it) does not close another descriptor.
    handle.close();
    expect(status('A')).toBe('dirty');
    expect(readFileSync(cacheFilePath(cacheDir, 'A'), 'utf8')).toBe('new file');
    await expect(
      owner.createLocalFile('B', () => {
        throw new Error('the item row could not be written');
      }),
    ).rejects.toThrow('could not be written');
    expect(status('B')).toBe('none');
    expect(existsSync(cacheFilePath(cacheDir, 'B'))).toBe(false);
    // A second create of an item that has content is not a new file (refused at once).
    expect(() => owner.createLocalFile('A', () => {})).toThrow(ContentTransitionError);
  });
});

describe('a new local file with spare cache files', { timeout: 10_000 }, () => {
  it('is made at once from a spare, with its rows; under the item\'s lock when something holds the item', async () => {
    const spares = new SpareCacheFiles({ dir: join(cacheDir, 'spare'), keep: 2, retryMs: 60_000, onError: (e) => expect.fail(String(e)) });
    const quick = new ContentOwner({ store: temp.store, cachePath: (id) => cacheFilePath(cacheDir, id), spares });
    await mkdir(dirname(cacheFilePath(cacheDir, 'N1')), { recursive: true });
    await mkdir(dirname(cacheFilePath(cacheDir, 'N2')), { recursive: true });
    // The first asks for spares and makes its own file.
    (await quick.createLocalFile('A', () => {})).close();
    await spares.filled();
    const rows: string[] = [];
    const row = (id: string) => () => {
      temp.store.items.insert({ id, parentId: 'ROOT', name: id, kind: 'file', size: 0, ctimeMs: 1, mtimeMs: 1 });
      rows.push(id);
    };
    const made = quick.createLocalFile('N1', row('N1'));
    expect(made).not.toBeInstanceOf(Promise);
    expect(rows).toEqual(['N1']);
    expect(status('N1')).toBe('dirty');
    (made as CacheFd).close();
    await spares.filled();
    // Held (a transition queued on the key): the create waits for it.
    const held = quick.settled('N2');
    const waited = quick.createLocalFile('N2', row('N2'));
    expect(waited).toBeInstanceOf(Promise);
    expect(rows).toEqual(['N1']);
    await held;
    (await waited).close();
    expect(rows).toEqual(['N1', 'N2']);
    expect(status('N2')).toBe('dirty');
    await spares.close();
  });
});

describe('per-item serialization', { timeout: 10_000 }, () => {
  it('two transitions of one item do not interleave: the second starts after the first has ended', async () => {
    await reach('complete');
    // versionStarted resets the file (an await) before it writes its row; an evict that slipped in
    // between would be undone by that row write (etag e2 left on an evicted item).
    const started = owner.versionStarted('A', { etag: 'e2', ctag: 'c2' }, 10);
    const evicted = owner.evict('A');
    expect(temp.store.content.get('A')).toMatchObject({ status: 'complete', etag: 'e1' });
    await Promise.all([started, evicted]);
    expect(temp.store.content.get('A')).toMatchObject({ status: 'none', etag: null });
    expect(existsSync(cacheFilePath(cacheDir, 'A'))).toBe(false);
  });

  it('transitions of two items do not wait for each other', async () => {
    await reach('complete');
    await owner.versionStarted('B', v1, 10);
    owner.bytesArrived('B', 0, 10, 10);
    const a = owner.versionStarted('A', { etag: 'e2', ctag: 'c2' }, 10);
    const aAgain = owner.evict('A');
    // B's key is free: its evict runs at once, while A's second transition still waits for the first.
    const b = owner.evict('B');
    expect(status('B')).toBe('none');
    expect(temp.store.content.get('A')).toMatchObject({ status: 'complete', etag: 'e1' });
    await Promise.all([a, aAgain, b]);
  });

  it('a first local change waits for an eviction of the item to delete its file', async () => {
    await reach('complete');
    const evicted = owner.evict('A');
    let fileAtCommit: boolean | undefined;
    const changed = owner.startLocalChange('A', async () => {
      fileAtCommit = existsSync(cacheFilePath(cacheDir, 'A'));
      owner.localChangeStarted('A', { etag: null, ctag: null }, new RangeSet());
    });
    await Promise.all([evicted, changed]);
    expect(fileAtCommit).toBe(false);
    expect(status('A')).toBe('dirty');
  });

  it('a refused transition does not block the next one of the item', async () => {
    await reach('dirty');
    const refused = owner.evict('A');
    const next = owner.versionStarted('B', v1, 10);
    await expect(refused).rejects.toMatchObject({ code: 'CONTENT_DIRTY' });
    await next;
    owner.uploadCommitted('A', v1, 10);
    await expect(owner.evict('A')).resolves.toMatchObject({ status: 'complete' });
  });

  it('a change that makes content dirty runs with the item\'s downloads stopped, by every owner of the store', async () => {
    await reach('complete');
    const calls: string[] = [];
    const writers = {
      async stopped<T>(itemId: string, work: () => Promise<T>): Promise<T> {
        calls.push(`stop ${itemId}`);
        try {
          return await work();
        } finally {
          calls.push(`go ${itemId}`);
        }
      },
    };
    const detach = new ContentOwner({ store: temp.store, cachePath: (id) => cacheFilePath(cacheDir, id) }).attachDownloads(writers);
    await owner.startLocalChange('A', async () => {
      calls.push('change A');
      owner.localChangeStarted('A', v1, RangeSet.whole(10));
    });
    expect(calls.splice(0)).toEqual(['stop A', 'change A', 'go A']);
    (await owner.openFd('B')).close();
    writeFileSync(cacheFilePath(cacheDir, 'B'), 'saved');
    await owner.moveFile('B', 'A', () => {
      calls.push('move B over A');
      owner.contentReplaced('A', v1, RangeSet.whole(5));
    });
    expect(calls.splice(0).sort()).toEqual(['go A', 'go B', 'move B over A', 'stop A', 'stop B'].sort());
    detach();
    await owner.adoptFile(join(temp.dir.path, 'gone'), 'B', () => calls.push('adopt B'));
    expect(calls).toEqual(['adopt B']);
  });

  it('owners of one store share their locks', async () => {
    await reach('complete');
    const other = new ContentOwner({ store: temp.store, cachePath: (id) => cacheFilePath(cacheDir, id) });
    const started = owner.versionStarted('A', { etag: 'e2', ctag: 'c2' }, 10);
    const evicted = other.evict('A');
    expect(status('A')).toBe('complete');
    await Promise.all([started, evicted]);
    expect(temp.store.content.get('A')).toMatchObject({ status: 'none', etag: null });
  });
});

describe('recordAnsweredWrites (a run killed between a write\'s reply and its record)', () => {
  it('gives a dirty file whose cache file is longer than its size that length, one more local version; leaves the others', async () => {
    await reach('dirty');
    const before = temp.store.content.get('A')!;
    await mkdir(dirname(cacheFilePath(cacheDir, 'A')), { recursive: true });
    writeFileSync(cacheFilePath(cacheDir, 'A'), Buffer.alloc(25, 7));
    // B: clean and complete, with a cache file longer than its size: not a write of ours.
    await owner.versionStarted('B', v1, 10);
    owner.bytesArrived('B', 0, 10, 10);
    await mkdir(dirname(cacheFilePath(cacheDir, 'B')), { recursive: true });
    writeFileSync(cacheFilePath(cacheDir, 'B'), Buffer.alloc(30, 7));

    const failed: unknown[] = [];
    expect(await owner.recordAnsweredWrites(5_000, (id, e) => failed.push([id, e]))).toBe(1);
    expect(failed).toEqual([]);

    expect(temp.store.items.get('A')).toMatchObject({ size: 25, mtimeMs: 5_000 });
    const after = temp.store.content.get('A')!;
    expect(after).toMatchObject({ status: 'dirty', etag: before.etag, ctag: before.ctag, localVersion: before.localVersion + 1 });
    expect(after.ranges.has(0, 25)).toBe(true);
    expect(temp.store.items.get('B')?.size).toBe(10);
    // Once recorded, nothing more to do.
    expect(await owner.recordAnsweredWrites(6_000, (id, e) => failed.push([id, e]))).toBe(0);
  });

  it('tells of a file it cannot look at and leaves it as recorded', async () => {
    await reach('dirty');
    // A file where the cache file's folder should be: its length cannot be read (ENOTDIR).
    rmSync(dirname(cacheFilePath(cacheDir, 'A')), { recursive: true, force: true });
    writeFileSync(dirname(cacheFilePath(cacheDir, 'A')), 'not a folder');
    const failed: Array<[string, unknown]> = [];
    expect(await owner.recordAnsweredWrites(5_000, (id, e) => failed.push([id, e]))).toBe(0);
    expect(failed).toEqual([['A', expect.objectContaining({ code: 'ENOTDIR' })]]);
    expect(temp.store.items.get('A')?.size).toBe(10);
  });
});

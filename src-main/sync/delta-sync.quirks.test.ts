/**
 * Feed shapes the emulator does not produce (historic P quirks, shortcuts, a root missing from an
 * enumeration, a 410 with and without Location), from a scripted delta source.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../base/logger.ts';
import { GraphApiError, type DeltaBatch, type DriveItem } from '../graph/index.ts';
import { RangeSet } from '../store/index.ts';
import { openTempStore, type TempStore } from '../store/testing/temp-store.ts';
import { DeltaSync, type DeltaSource } from './delta-sync.ts';
import { TaskRegistry } from '../lifecycle/task-registry.ts';

const DRIVE = '0d4648f06c91d9d3';
const root: DriveItem = { id: 'ROOT', name: 'root', root: {}, folder: {}, parentReference: { driveId: DRIVE } };
const ref = (id: string, driveId = DRIVE) => ({ driveId, id });
const folder = (id: string, parent: string, name: string): DriveItem => ({ id, name, folder: { childCount: 0 }, parentReference: ref(parent), eTag: `e-${id}` });
const file = (id: string, parent: string, name: string, version = 1): DriveItem => ({
  id,
  name,
  size: 10 * version,
  eTag: `e-${id}-${version}`,
  cTag: `c-${id}-${version}`,
  file: { hashes: { quickXorHash: `h-${id}-${version}` } },
  parentReference: ref(parent),
});

/** Answers each delta call with the next scripted step; records the links it was given. */
class ScriptedSource implements DeltaSource {
  readonly links: Array<string | undefined> = [];
  readonly rootReads: number[] = [];
  readonly #steps: Array<DriveItem[] | Error>;
  #n = 0;

  constructor(steps: Array<DriveItem[] | Error>) {
    this.#steps = steps;
  }

  async delta(link: string | undefined): Promise<DeltaBatch> {
    this.links.push(link);
    const step = this.#steps.shift();
    if (step === undefined) throw new Error('no more scripted delta answers');
    if (step instanceof Error) throw step;
    return { items: step, deltaLink: `https://graph.test/delta?token=t${++this.#n}`, pages: 1 };
  }

  async getItemByPath(path: string): Promise<DriveItem> {
    this.rootReads.push(path.length);
    return root;
  }
}

function gone410(location?: string): GraphApiError {
  return new GraphApiError({ status: 410, graphCode: 'resyncRequired', message: 'Resync required', request: 'GET /delta', ...(location ? { location } : {}) });
}

describe('DeltaSync with scripted feeds', () => {
  let temp: TempStore;
  const memory = createMemoryLogger('debug', 'quirks');

  afterEach(() => temp.dispose());

  function makeSync(source: DeltaSource, invalidate: (id: string) => void = () => undefined): DeltaSync {
    return new DeltaSync({ graph: source, store: temp.store, invalidator: { invalidate }, logger: memory.logger, tasks: new TaskRegistry({ logger: memory.logger }), driveId: 'D4648F06C91D9D3' });
  }

  it('treats items moved to another drive or without a parent id as gone; last occurrence wins', async () => {
    temp = openTempStore();
    const source = new ScriptedSource([
      [root, folder('A', 'ROOT', 'A'), file('f1', 'A', 'one.txt'), file('f2', 'A', 'two.txt'), file('f3', 'ROOT', 'three.txt'), file('f4', 'ROOT', 'four.txt')],
      [
        // The same drive in another spelling: not foreign.
        { ...file('f1', 'A', 'one.txt'), parentReference: ref('A', 'D4648F06C91D9D3') },
        { ...file('f2', 'A', 'two.txt'), parentReference: ref('A', 'ffffffffffffffff') },
        { ...file('f3', 'ROOT', 'three.txt'), parentReference: { driveId: DRIVE } },
        file('f4', 'ROOT', 'first-name.txt'),
        { id: 'f4', deleted: { state: 'deleted' }, size: 0 },
        file('f4', 'ROOT', 'four-renamed.txt'),
      ],
    ]);
    const sync = makeSync(source);
    await sync.syncOnce();
    const result = await sync.syncOnce();
    expect(result).toMatchObject({ removed: 2, added: 0, updated: 1 });
    expect(temp.store.items.get('f1')!.parentId).toBe('A');
    expect(temp.store.items.get('f2')).toBeUndefined();
    expect(temp.store.items.get('f3')).toBeUndefined();
    expect(temp.store.items.get('f4')!.name).toBe('four-renamed.txt');
  });

  it('records shortcuts and packages without following them', async () => {
    temp = openTempStore();
    const source = new ScriptedSource([
      [
        root,
        { id: 'S', name: 'Team', parentReference: ref('ROOT'), remoteItem: { id: 'BBB!55', folder: { childCount: 4 }, parentReference: { driveId: 'BBB' } } },
        { id: 'N', name: 'Notes', package: { type: 'oneNote' }, size: 99, parentReference: ref('ROOT') },
      ],
    ]);
    await makeSync(source).syncOnce();
    expect(temp.store.items.get('S')).toMatchObject({ kind: 'remote', remoteItemId: 'BBB!55', remoteDriveId: '0000000000000bbb' });
    expect(temp.store.items.get('N')).toMatchObject({ kind: 'package', size: 99 });
    expect(source.links).toEqual([undefined]);
  });

  it('reads the root when an enumeration does not list it', async () => {
    temp = openTempStore();
    const source = new ScriptedSource([[folder('A', 'ROOT', 'A'), file('f', 'A', 'f.txt')]]);
    await makeSync(source).syncOnce();
    expect(source.rootReads).toEqual([0]);
    expect(temp.store.items.pathOf('f')).toBe('/A/f.txt');
  });

  it('follows the Location of a 410, or starts over without a token, then diffs', async () => {
    temp = openTempStore();
    const source = new ScriptedSource([
      [root, file('a', 'ROOT', 'a.txt'), file('b', 'ROOT', 'b.txt')],
      gone410('https://graph.test/delta?restart=1'),
      [root, file('a', 'ROOT', 'a.txt')],
      gone410(),
      [root, file('a', 'ROOT', 'a.txt'), file('c', 'ROOT', 'c.txt')],
    ]);
    const sync = makeSync(source);
    const resyncs: string[] = [];
    sync.events.on('resync', ({ reason }) => void resyncs.push(reason));
    await sync.syncOnce();
    expect(await sync.syncOnce()).toMatchObject({ full: true, removed: 1 });
    expect(await sync.syncOnce()).toMatchObject({ full: true, added: 1, removed: 0 });
    expect(source.links).toEqual([undefined, 'https://graph.test/delta?token=t1', 'https://graph.test/delta?restart=1', 'https://graph.test/delta?token=t2', undefined]);
    expect(resyncs).toHaveLength(2);
    expect(temp.store.driveState.get('deltaLink')).toBe('https://graph.test/delta?token=t3');
  });

  it('reports a failed invalidation and goes on; renames a local item that holds a name the server gives out', async () => {
    temp = openTempStore();
    const source = new ScriptedSource([
      [root, file('a', 'ROOT', 'a.txt'), file('b', 'ROOT', 'b.txt')],
      [file('a', 'ROOT', 'a.txt', 2), file('n', 'ROOT', 'notes.txt')],
    ]);
    const sync = makeSync(source, (id) => {
      throw new Error(`cache of ${id} is unreachable`);
    });
    const errors: Array<{ itemId?: string }> = [];
    sync.events.on('error', (event) => void errors.push(event));
    await sync.syncOnce();
    temp.store.content.setContent('a', { status: 'complete', etag: 'e-a-1', ctag: 'c-a-1', ranges: new RangeSet() });
    temp.store.items.insert({ id: 'local:1', parentId: 'ROOT', name: 'Notes.TXT', kind: 'file', size: 1, ctimeMs: 1, mtimeMs: 1 });
    const result = await sync.syncOnce();
    expect(errors.map((e) => e.itemId)).toEqual(['a']);
    expect(result).toMatchObject({ invalidated: 0, updated: 1, added: 1, conflicts: 1 });
    expect(temp.store.driveState.get('deltaLink')).toBe('https://graph.test/delta?token=t2');
    expect(temp.store.items.get('local:1')!.name).toBe('Notes (conflict 1).TXT');
    expect(temp.store.items.getChild('ROOT', 'notes.txt')!.id).toBe('n');
    expect(temp.store.conflicts.list()).toMatchObject([{ itemId: 'local:1', reason: 'name-clash', localCopyName: 'Notes (conflict 1).TXT' }]);
  });
});

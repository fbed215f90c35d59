/**
 * After the database was found corrupt and rebuilt from the server, the local edits that had not
 * reached the server come back: their bytes are in the old cache folder (moved aside untouched
 * before anything could reuse it), and what the old database still says tells where they were.
 *
 * - An edit of a file the server has: the bytes become that file's local edit again (dirty, on the
 *   version it started from, so the upload keeps both if the server changed meanwhile).
 * - A new file whose folder exists: it is created there again (a taken name gets "(recovered)").
 * - Anything whose place is unknown goes to one clearly named folder at the drive's root.
 *
 * When the old journal or content table was unreadable, cache files no item of the rebuilt drive
 * owns may be unsent files too, and so may whole (hole-free) cache files of server items whose
 * bytes are not the server's: both go to that folder as well. A file made here is known to the
 * rebuilt drive by its server id only: the key log kept beside the database (store/key-log.ts)
 * tells whose its cache file is.
 */
import type { Stats } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { readdirIfExists } from '../base/files.ts';
import type { Logger } from '../base/logger.ts';
import { quickXorHashFile, sameQuickXorHash } from '../graph/index.ts';
import { cacheFilePath } from '../transfers/cache-files.ts';
import { ContentOwner } from '../transfers/content-owner.ts';
import { newLocalId, RangeSet, type Store, type StoredItem } from '../store/index.ts';
import { conflictFreeName, nameKey, withSuffix } from '../../src-shared/model/names.ts';
import type { SalvageReport } from '../store/salvage-reader.ts';

export interface RecoveryResult {
  /** Edits put back where they were. */
  restored: number;
  /** Files that went to the recovered-files folder. */
  recovered: number;
  /** That folder's path in the drive, when it was needed. */
  folder: string | null;
}

export interface RecoveryOptions {
  store: Store;
  /** The cache file of a key in the live cache folder. */
  cachePath: (key: string) => string;
  logger: Logger;
  /** The owner of the items' content; one over `store` and `cachePath` when absent. */
  content?: ContentOwner;
  now?: () => number;
}

export async function recoverEdits(o: RecoveryOptions, salvageDir: string, report: SalvageReport): Promise<RecoveryResult> {
  const { store, logger } = o;
  const content = o.content ?? new ContentOwner({ store, cachePath: o.cachePath });
  const now = o.now ?? Date.now;
  const result: RecoveryResult = { restored: 0, recovered: 0, folder: null };
  let folder: StoredItem | undefined;
  const recoveredFolder = (): StoredItem => {
    if (folder) return folder;
    const root = store.items.getRoot()!;
    const name = freeName(store, root.id, `OneMount recovered files ${stamp(now())}`);
    const id = newLocalId();
    store.transaction(() => {
      store.items.insert({ id, parentId: root.id, name, kind: 'folder', size: 0, ctimeMs: now(), mtimeMs: now() });
      store.journal.append({ kind: 'mkdir', itemId: id, parentId: root.id, name });
    });
    folder = store.items.get(id)!;
    result.folder = `/${name}`;
    return folder;
  };

  const claimed = new Set<string>();
  for (const edit of report.edits) {
    const file = cacheFilePath(salvageDir, edit.key);
    const length = await fileLength(file);
    if (length === undefined && (edit.size ?? 0) > 0) {
      logger.error({ key: edit.key, path: edit.path }, 'an unsent edit lost its bytes with the database; it cannot be recovered');
      continue;
    }
    claimed.add(file);
    const size = Math.min(edit.size ?? length ?? 0, length ?? 0);
    const existing = edit.remoteId ? (store.items.getByRemoteId(edit.remoteId) ?? store.items.get(edit.remoteId)) : undefined;
    if (existing && existing.kind === 'file') {
      await content.adoptFile(file, existing.id, () => {
        content.contentReplaced(existing.id, { etag: edit.baseEtag, ctag: null }, RangeSet.whole(size));
        // The server's hash now is not the one the edit started from, unless the version is the same.
        store.items.update(existing.id, { size, mtimeMs: edit.mtimeMs ?? now(), ...(edit.baseEtag === existing.etag ? {} : { quickXorHash: null }) });
        store.journal.append({ kind: 'write', itemId: existing.id, parentId: existing.parentId, name: existing.name, baseEtag: edit.baseEtag });
      });
      result.restored++;
      logger.warn({ path: store.items.pathOf(existing.id) }, 'an unsent edit was recovered after the database was rebuilt');
      continue;
    }
    // Its folder: by path when the old items table said it, else where the journal says it was created
    // (a folder the server knows keeps its key, or is found by its server id).
    const byPath = edit.path ? store.items.resolvePath(posix.dirname(edit.path)) : undefined;
    const parentKey = edit.createdIn?.parentKey;
    const byJournal = parentKey ? (store.items.get(parentKey) ?? store.items.getByRemoteId(parentKey)) : undefined;
    const parent = byPath ?? byJournal;
    const name0 = edit.name ?? edit.createdIn?.name;
    const home = parent && parent.kind === 'folder' && name0 ? parent : undefined;
    const target = home ?? recoveredFolder();
    const name = freeName(store, target.id, name0 ?? `unnamed file ${result.recovered + 1}`);
    await createFile(store, content, target, name, file, size, edit.mtimeMs ?? now());
    if (home) result.restored++;
    else result.recovered++;
    logger.warn({ path: store.items.pathOf(target.id), name }, 'an unsent new file was recovered after the database was rebuilt');
  }

  if (!report.complete) {
    // The old database could not list every edit: a cache file no item of the drive owns may be an
    // unsent file, and one whose bytes are all written (no holes, as a partial download has) but
    // differ from the server's may be an unsent edit. Both go to the recovered-files folder.
    const owned = new Map<string, StoredItem>();
    const walk = (id: string): void => {
      for (let after: string | undefined; ; ) {
        const page = store.items.listChildren(id, after, 1000);
        for (const child of page) {
          owned.set(cacheFilePath(salvageDir, child.id), child);
          if (child.kind === 'folder') walk(child.id);
        }
        if (page.length < 1000) break;
        after = page[page.length - 1]!.nameKey;
      }
    };
    const root = store.items.getRoot();
    if (root) walk(root.id);
    // A file made here keeps its local key, which names its cache file; the rebuilt drive keys it
    // by its server id. The key log beside the old database pairs the two. Such a file was whole
    // here when it was made, so holes say nothing about it (a sparse edit, a compressing
    // filesystem): only bytes equal to the server's let it go.
    const madeHere = new Map<string, StoredItem>();
    for (const [key, remoteId] of report.serverIds) {
      const item = store.items.getByRemoteId(remoteId);
      if (item?.kind === 'file') madeHere.set(cacheFilePath(salvageDir, key), item);
    }
    for (const file of await cacheFiles(salvageDir)) {
      if (claimed.has(file)) continue;
      const info = await stat(file);
      const made = madeHere.get(file);
      if (made && (await sameBytes(file, info, made))) continue;
      const item = made ?? owned.get(file);
      if (item && !made && !(await mayBeAnEdit(file, info, item))) continue;
      const target = recoveredFolder();
      const name = freeName(store, target.id, item ? item.name : `unnamed file ${result.recovered + 1}`);
      await createFile(store, content, target, name, file, info.size, Math.floor(info.mtimeMs));
      result.recovered++;
    }
  }
  await rm(salvageDir, { recursive: true, force: true });
  if (result.restored + result.recovered > 0) {
    logger.error(
      { restored: result.restored, recovered: result.recovered, folder: result.folder, problems: report.problems.slice(0, 5) },
      `the database was rebuilt: ${result.restored} unsent change(s) were put back where they were` +
        (result.folder ? `, ${result.recovered} file(s) whose place was unknown are in ${result.folder}` : ''),
    );
  }
  return result;
}

async function createFile(store: Store, content: ContentOwner, parent: StoredItem, name: string, from: string, size: number, mtimeMs: number): Promise<void> {
  const id = newLocalId();
  await content.adoptFile(from, id, () => {
    store.items.insert({ id, parentId: parent.id, name, kind: 'file', size, ctimeMs: mtimeMs, mtimeMs });
    content.localFileCreated(id, RangeSet.whole(size));
    store.journal.append({ kind: 'create', itemId: id, parentId: parent.id, name });
  });
}

/** A cache file of a server item holds an edit only if every byte is written and the bytes are not the server's. */
async function mayBeAnEdit(file: string, info: Stats, item: StoredItem): Promise<boolean> {
  if (info.blocks * 512 < info.size) return false;
  return !(await sameBytes(file, info, item));
}

/** The file holds exactly the server's version of the item (by its hash; unknown counts as not). */
async function sameBytes(file: string, info: Stats, item: StoredItem): Promise<boolean> {
  return item.quickXorHash !== null && info.size === item.size && sameQuickXorHash(await quickXorHashFile(file), item.quickXorHash);
}

async function fileLength(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** The cache files of a cache folder (`xx/<sha256>`; thumbnails and the like are not). */
async function cacheFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const sub of await readdirIfExists(dir)) {
    if (!/^[0-9a-f]{2}$/.test(sub)) continue;
    for (const name of await readdir(join(dir, sub))) if (/^[0-9a-f]{64}$/.test(name)) files.push(join(dir, sub, name));
  }
  return files;
}

/** `wanted`, else `wanted (recovered).ext`, else with a number: whatever the folder does not hold. */
function freeName(store: Store, folderId: string, wanted: string): string {
  const taken = (key: string) => store.items.getChild(folderId, key) !== undefined;
  return taken(nameKey(wanted)) ? conflictFreeName(withSuffix(wanted, ' (recovered)'), taken) : wanted;
}

function stamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ').replace(/:/g, '');
}

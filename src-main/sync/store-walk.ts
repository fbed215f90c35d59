import type { Store, StoredItem } from '../store/index.ts';
import type { LoopYielder } from './loop-yielder.ts';

/**
 * Every item below `topId` (not `topId` itself), each parent before its children, read one page of
 * children at a time and yielding to the event loop as it goes, so walking a 100 000-item tree
 * never holds the loop for long.
 */
export async function walkSubtree(store: Store, topId: string, pageSize: number, yielder: LoopYielder): Promise<StoredItem[]> {
  const found: StoredItem[] = [];
  const folders: string[] = [topId];
  for (let folderId = folders.pop(); folderId !== undefined; folderId = folders.pop()) {
    let after: string | undefined;
    for (;;) {
      const page = store.items.listChildren(folderId, after, pageSize);
      for (const child of page) {
        found.push(child);
        if (child.kind === 'folder' || child.kind === 'package') folders.push(child.id);
      }
      await yielder.maybeYield();
      const last = page[page.length - 1];
      if (page.length < pageSize || last === undefined) break;
      after = last.nameKey;
    }
  }
  return found;
}

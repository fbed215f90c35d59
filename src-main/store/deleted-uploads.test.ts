import { afterEach, describe, expect, it } from 'vitest';
import { openTempStore, reopenStore, type TempStore } from './testing/temp-store.ts';

describe('DeletedUploads', () => {
  let clock = Date.now();
  let temp: TempStore;
  afterEach(() => temp.dispose());

  // Any base64 string does: the store compares hashes, it does not compute them.
  const sent = Buffer.from('version one hash').toString('base64');

  it('matches a landed copy by folder, name (any case) and a sent version, across a reopen', () => {
    temp = openTempStore({ now: () => clock });
    temp.store.deletedUploads.add({ itemId: 'local:a', parentId: 'P', name: 'Notes.md', hashes: [sent] });
    expect(temp.store.deletedUploads.match('P', 'notes.md', sent)).toMatchObject({ itemId: 'local:a' });
    expect(temp.store.deletedUploads.match('Q', 'Notes.md', sent)).toBeUndefined();
    expect(temp.store.deletedUploads.match('P', 'other.md', sent)).toBeUndefined();
    expect(temp.store.deletedUploads.match('P', 'Notes.md', Buffer.from('someone else').toString('base64'))).toBeUndefined();
    temp.store.close();
    const reopened = reopenStore(temp.dbPath);
    try {
      expect(reopened.deletedUploads.match('P', 'Notes.md', sent)).toMatchObject({ itemId: 'local:a' });
    } finally {
      reopened.close();
    }
  });

  it('forgets a deleted file after a day', () => {
    temp = openTempStore({ now: () => clock });
    temp.store.deletedUploads.add({ itemId: 'local:a', parentId: 'P', name: 'a.txt', hashes: [sent] });
    clock += 24 * 3_600_000;
    expect(temp.store.deletedUploads.match('P', 'a.txt', sent)).toBeUndefined();
    expect(temp.store.driveState.get('deletedUploads')).toBeUndefined();
  });
});

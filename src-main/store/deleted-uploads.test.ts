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

  it('adds a version sent later to every place of that file, the last few only; other files keep theirs', () => {
    temp = openTempStore({ now: () => clock });
    const uploads = temp.store.deletedUploads;
    uploads.add({ itemId: 'local:a', parentId: 'P', name: 'a.txt', hashes: [sent] });
    uploads.add({ itemId: 'local:a', parentId: 'Q', name: 'a.txt', hashes: [] });
    uploads.add({ itemId: 'local:b', parentId: 'P', name: 'b.txt', hashes: [sent] });
    const later = Array.from({ length: 5 }, (_, i) => Buffer.from(`version ${i + 2}`).toString('base64'));
    for (const hash of later) uploads.sent('local:a', hash);
    for (const place of ['P', 'Q']) {
      expect(uploads.match(place, 'a.txt', later[4]!)).toMatchObject({ itemId: 'local:a' });
      expect(uploads.match(place, 'a.txt', later[1]!)).toMatchObject({ itemId: 'local:a' });
      expect(uploads.match(place, 'a.txt', later[0]!)).toBeUndefined();
    }
    expect(uploads.match('P', 'b.txt', later[4]!)).toBeUndefined();
    // A file watched nowhere gets no place from it.
    uploads.sent('local:c', sent);
    expect(temp.store.driveState.get('deletedUploads')?.map((e) => e.itemId)).toEqual(['local:a', 'local:a', 'local:b']);
  });

  it('stops watching one place of a file; the last one removed leaves nothing', () => {
    temp = openTempStore({ now: () => clock });
    const uploads = temp.store.deletedUploads;
    uploads.add({ itemId: 'local:a', parentId: 'P', name: 'a.txt', hashes: [sent] });
    uploads.add({ itemId: 'local:a', parentId: 'Q', name: 'a.txt', hashes: [sent] });
    uploads.remove('local:a', 'P', 'a.txt');
    expect(uploads.match('P', 'a.txt', sent)).toBeUndefined();
    expect(uploads.match('Q', 'a.txt', sent)).toMatchObject({ itemId: 'local:a' });
    uploads.remove('local:a', 'Q', 'a.txt');
    expect(temp.store.driveState.get('deletedUploads')).toBeUndefined();
  });

  it('forgets a deleted file after a day', () => {
    temp = openTempStore({ now: () => clock });
    temp.store.deletedUploads.add({ itemId: 'local:a', parentId: 'P', name: 'a.txt', hashes: [sent] });
    clock += 24 * 3_600_000;
    expect(temp.store.deletedUploads.match('P', 'a.txt', sent)).toBeUndefined();
    expect(temp.store.driveState.get('deletedUploads')).toBeUndefined();
  });

  it('knows the places upload attempts send to now, and who waits for one to end (by place, any case)', async () => {
    temp = openTempStore({ now: () => clock });
    const uploads = temp.store.deletedUploads;
    await uploads.sendingEnded('P', 'a.txt');
    uploads.sending('local:a', { parentId: 'P', name: 'a.txt' });
    expect(uploads.sendingTo('P', 'A.TXT')).toBe(true);
    expect(uploads.sendingTo('Q', 'a.txt')).toBe(false);
    let ended = false;
    const waiting = uploads.sendingEnded('P', 'a.txt').then(() => (ended = true));
    // The attempt moves on to a copy's place: nothing sends to a.txt any more.
    uploads.sending('local:a', { parentId: 'P', name: 'a (copy).txt' });
    await waiting;
    expect(ended).toBe(true);
    uploads.sending('local:a', undefined);
    expect(uploads.sendingTo('P', 'a (copy).txt')).toBe(false);
  });
});

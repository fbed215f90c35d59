import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreError } from './store-error.ts';
import { openTempStore, type TempStore } from './testing/temp-store.ts';

let temp: TempStore;
let clock: number;
beforeEach(() => {
  clock = 10;
  temp = openTempStore({ now: () => clock });
});
afterEach(() => temp.dispose());

describe('ConflictsRepository', () => {
  it('records conflicts, lists unresolved ones oldest first and resolves them', () => {
    const { conflicts } = temp.store;
    const first = conflicts.record({
      itemId: 'A',
      path: '/docs/a.txt',
      reason: 'both-modified',
      localCopyName: 'a (conflict 2026-11-27 101010 host).txt',
      remoteEtag: 'e9',
    });
    const second = conflicts.record({ itemId: 'B', path: '/b.txt', reason: 'remote-deleted', detectedMs: 5 });
    expect(first).toEqual({
      id: first.id,
      itemId: 'A',
      path: '/docs/a.txt',
      reason: 'both-modified',
      localCopyName: 'a (conflict 2026-11-27 101010 host).txt',
      remoteEtag: 'e9',
      detectedMs: 10,
      resolved: false,
      resolvedMs: null,
    });
    expect(conflicts.list().map((c) => c.id)).toEqual([second.id, first.id]);
    expect(conflicts.countUnresolved()).toBe(2);
    clock = 20;
    expect(conflicts.markResolved(first.id)).toMatchObject({ resolved: true, resolvedMs: 20 });
    expect(conflicts.list().map((c) => c.id)).toEqual([second.id]);
    expect(conflicts.list({ includeResolved: true })).toHaveLength(2);
    expect(conflicts.listForItem('A')).toHaveLength(1);
    conflicts.remove(second.id);
    expect(conflicts.get(second.id)).toBeUndefined();
    expect(() => conflicts.markResolved(second.id)).toThrow(StoreError);
    expect(() => conflicts.record({ itemId: 'C', path: '/c', reason: 'other' as never })).toThrow(StoreError);
  });
  it('keeps one record per unresolved conflict: a later report completes it', () => {
    const { conflicts } = temp.store;
    // Delta saw the remote change first; the upload then kept both versions.
    const seen = conflicts.record({ itemId: 'A', path: '/a.txt', reason: 'both-modified', remoteEtag: 'e2' });
    const kept = conflicts.record({ itemId: 'A', path: '/a.txt', reason: 'both-modified', localCopyName: 'a (conflict).txt' });
    expect(kept).toMatchObject({ id: seen.id, localCopyName: 'a (conflict).txt', remoteEtag: 'e2' });
    expect(conflicts.list()).toHaveLength(1);
    // Another reason, or a new conflict after the first was resolved, is its own record.
    expect(conflicts.record({ itemId: 'A', path: '/a.txt', reason: 'remote-deleted' }).id).not.toBe(seen.id);
    conflicts.markResolved(seen.id);
    expect(conflicts.record({ itemId: 'A', path: '/a.txt', reason: 'both-modified' }).id).not.toBe(seen.id);
  });

  it('a name clash that moves a kept local edit aside completes that edit\'s conflict (fuzz 11000/40)', () => {
    const { conflicts } = temp.store;
    // The server deleted notes.md while it was edited here; then a new server file took the name.
    const deleted = conflicts.record({ itemId: 'A', path: '/notes.md', reason: 'remote-deleted' });
    const clash = conflicts.record({ itemId: 'A', path: '/notes.md', reason: 'name-clash', localCopyName: 'notes (conflict 1).md' });
    expect(clash).toMatchObject({ id: deleted.id, reason: 'remote-deleted', localCopyName: 'notes (conflict 1).md' });
    expect(conflicts.list()).toHaveLength(1);
    // A name clash of an item without an open conflict is a conflict of its own.
    expect(conflicts.record({ itemId: 'B', path: '/b.txt', reason: 'name-clash', localCopyName: 'b (conflict 1).txt' }).reason).toBe('name-clash');
    expect(conflicts.list()).toHaveLength(2);
  });

  it('an upload that places the edit ends the open conflict without a copy, so a later conflict is its own record (fuzz 241000/311)', () => {
    const { conflicts } = temp.store;
    // Delta saw a remote edit of a.txt while it was edited here; the upload then found the file
    // deleted on the server and sent the edit under its name again.
    const seen = conflicts.record({ itemId: 'A', path: '/a.txt', reason: 'both-modified', remoteEtag: 'e2' });
    const sent = conflicts.record({ itemId: 'A', path: '/a.txt', reason: 'remote-deleted', localCopyName: 'a.txt' });
    expect(sent).toMatchObject({ id: seen.id, reason: 'remote-deleted', localCopyName: 'a.txt' });
    expect(conflicts.list()).toHaveLength(1);
    // A later edit on both sides keeps a copy: a new record, not the one already shown.
    const later = conflicts.record({ itemId: 'A', path: '/a.txt', reason: 'both-modified', localCopyName: 'a (conflict 2).txt', remoteEtag: 'e9' });
    expect(later.id).not.toBe(seen.id);
    expect(conflicts.get(seen.id)).toMatchObject({ localCopyName: 'a.txt' });
    expect(conflicts.list()).toHaveLength(2);
    // A record naming no remote version (a refused offline delete) is not another report's to complete.
    const refused = conflicts.record({ itemId: 'B', path: '/b.txt', reason: 'both-modified' });
    expect(conflicts.record({ itemId: 'B', path: '/b.txt', reason: 'remote-deleted', localCopyName: 'b.txt' }).id).not.toBe(refused.id);
    expect(conflicts.get(refused.id)).toMatchObject({ reason: 'both-modified', localCopyName: null });
  });

  it('a kept local edit moved back to the name its upload landed under completes its conflict (fuzz 71000/3)', () => {
    const { conflicts } = temp.store;
    // Delta: the server deleted d while it was edited here, and our re-upload (its answer not in
    // yet) took the name, so the local item moved aside as `d (conflict 1)`.
    const seen = conflicts.record({ itemId: 'A', path: '/d', reason: 'remote-deleted' });
    conflicts.record({ itemId: 'A', path: '/d', reason: 'name-clash', localCopyName: 'd (conflict 1)' });
    // The upload's answer: the copy was ours, and the item is `d` again.
    const done = conflicts.record({ itemId: 'A', path: '/d', reason: 'remote-deleted', localCopyName: 'd', formerCopyName: 'd (conflict 1)' });
    expect(done).toMatchObject({ id: seen.id, localCopyName: 'd' });
    expect(conflicts.list()).toHaveLength(1);
  });

  it('gives a second conflict copy of the same file its own record', () => {
    const { conflicts } = temp.store;
    const first = conflicts.record({ itemId: 'A', path: '/a.txt', reason: 'both-modified', localCopyName: 'a (conflict 1).txt' });
    // Another remote change against another local edit, before the first was dealt with.
    const second = conflicts.record({ itemId: 'A', path: '/a.txt', reason: 'both-modified', localCopyName: 'a (conflict 2).txt' });
    expect(second.id).not.toBe(first.id);
    expect(conflicts.list().map((c) => c.localCopyName)).toEqual(['a (conflict 1).txt', 'a (conflict 2).txt']);
    // Delta's report of the second (no copy yet) completes the newest record, not a new one.
    expect(conflicts.record({ itemId: 'A', path: '/a.txt', reason: 'both-modified', remoteEtag: 'e3' }).id).toBe(second.id);
  });
});

describe('DriveStateRepository', () => {
  it('keeps typed values by key', () => {
    const { driveState } = temp.store;
    expect(driveState.get('deltaLink')).toBeUndefined();
    driveState.set('deltaLink', 'https://graph.test/me/drive/root/delta?token=abc');
    driveState.set('driveId', 'd4648f06c91d9d3d');
    driveState.set('driveType', 'personal');
    driveState.set('quota', { total: 100, used: 40, remaining: 60, state: 'normal', fetchedAtMs: 7 });
    driveState.set('lastFullSyncMs', 123);
    driveState.set('deltaLink', 'https://graph.test/me/drive/root/delta?token=def');
    expect(driveState.get('deltaLink')).toBe('https://graph.test/me/drive/root/delta?token=def');
    expect(driveState.get('quota')).toEqual({ total: 100, used: 40, remaining: 60, state: 'normal', fetchedAtMs: 7 });
    expect(driveState.get('lastFullSyncMs')).toBe(123);
    driveState.delete('deltaLink');
    expect(driveState.get('deltaLink')).toBeUndefined();
    expect(driveState.get('driveId')).toBe('d4648f06c91d9d3d');
  });
});

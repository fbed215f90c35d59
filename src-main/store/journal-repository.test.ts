import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreError } from './store-error.ts';
import { openTempStore, reopenStore, type TempStore } from './testing/temp-store.ts';

let temp: TempStore;
let clock: number;
beforeEach(() => {
  clock = 1_000;
  temp = openTempStore({ now: () => clock });
});
afterEach(() => temp.dispose());

describe('JournalRepository', () => {
  it('appends entries in order with every field kept', () => {
    const { journal } = temp.store;
    const created = journal.append({ kind: 'create', itemId: 'local:1', parentId: 'P', name: 'new.txt' });
    clock = 2_000;
    const renamed = journal.append({
      kind: 'rename',
      itemId: 'X',
      parentId: 'P',
      name: 'old',
      newParentId: 'Q',
      newName: 'new',
      baseEtag: 'etag-1',
    });
    const attrs = journal.append({ kind: 'setattr', itemId: 'X', payload: { mtimeMs: 5, size: 3 } });
    expect(renamed.seq).toBeGreaterThan(created.seq);
    expect(attrs.seq).toBeGreaterThan(renamed.seq);
    expect(created).toMatchObject({
      kind: 'create',
      itemId: 'local:1',
      parentId: 'P',
      name: 'new.txt',
      newParentId: null,
      baseEtag: null,
      payload: null,
      state: 'pending',
      sessionUrl: null,
      confirmedOffset: 0,
      attempts: 0,
      lastError: null,
      createdMs: 1_000,
      updatedMs: 1_000,
    });
    expect(renamed).toMatchObject({ newParentId: 'Q', newName: 'new', baseEtag: 'etag-1', createdMs: 2_000 });
    expect(attrs.payload).toEqual({ mtimeMs: 5, size: 3 });
    expect(journal.list().map((e) => e.seq)).toEqual([created.seq, renamed.seq, attrs.seq]);
    expect(journal.list({ itemId: 'X' }).map((e) => e.kind)).toEqual(['rename', 'setattr']);
  });

  it('hands out pending entries in order and tracks attempts, errors and states', () => {
    const { journal } = temp.store;
    const a = journal.append({ kind: 'write', itemId: 'A', baseEtag: 'e' });
    const b = journal.append({ kind: 'write', itemId: 'B' });
    expect(journal.nextPending()?.seq).toBe(a.seq);
    clock = 5_000;
    expect(journal.markUploading(a.seq)).toMatchObject({ state: 'uploading', attempts: 1, updatedMs: 5_000 });
    expect(journal.nextPending()?.seq).toBe(b.seq);
    expect(journal.nextPending(b.seq)).toBeUndefined();
    expect(journal.markPending(a.seq, 'timeout')).toMatchObject({ state: 'pending', lastError: 'timeout', attempts: 1 });
    journal.markUploading(a.seq);
    expect(journal.markFailed(a.seq, 'quota exceeded')).toMatchObject({ state: 'failed', attempts: 2, lastError: 'quota exceeded' });
    expect(journal.nextPending()?.seq).toBe(b.seq);
    expect(journal.list({ states: ['failed'] }).map((e) => e.seq)).toEqual([a.seq]);
    expect(journal.list({ states: ['failed', 'pending'] }).map((e) => e.seq)).toEqual([a.seq, b.seq]);
    expect(journal.countUnfinished()).toBe(2);
    journal.markDone(b.seq);
    expect(journal.countUnfinished()).toBe(1);
    expect(journal.removeDone()).toBe(1);
    journal.remove(a.seq);
    expect(journal.list()).toEqual([]);
    expect(() => journal.markDone(a.seq)).toThrow(StoreError);
  });

  it('persists the upload session and offset, and resumes interrupted uploads after a restart', () => {
    const { journal } = temp.store;
    const entry = journal.append({ kind: 'write', itemId: 'BIG', baseEtag: 'e1' });
    journal.markUploading(entry.seq);
    journal.updateSession(entry.seq, { sessionUrl: 'https://upload.test/s/1', confirmedOffset: 327_680, expiresMs: 9_999 });
    temp.store.close();

    const store = reopenStore(temp.dbPath);
    try {
      expect(store.journal.requeueInterrupted()).toBe(1);
      expect(store.journal.nextPending()).toMatchObject({
        seq: entry.seq,
        state: 'pending',
        sessionUrl: 'https://upload.test/s/1',
        confirmedOffset: 327_680,
        sessionExpiresMs: 9_999,
        attempts: 1,
      });
      expect(store.journal.clearSession(entry.seq)).toMatchObject({ sessionUrl: null, confirmedOffset: 0, sessionExpiresMs: null });
      expect(() => store.journal.updateSession(entry.seq, { sessionUrl: 'u', confirmedOffset: -1 })).toThrow(StoreError);
    } finally {
      store.close();
    }
  });

  it('rejects unknown kinds and empty item ids', () => {
    const { journal } = temp.store;
    expect(() => journal.append({ kind: 'chmod' as never, itemId: 'A' })).toThrow(StoreError);
    expect(() => journal.append({ kind: 'write', itemId: '' })).toThrow(StoreError);
  });
});

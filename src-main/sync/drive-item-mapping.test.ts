import { describe, expect, it } from 'vitest';
import type { DriveItem } from '../graph/index.ts';
import { isTombstone, mapDriveItem, normalizeDriveId, sameDrive } from './drive-item-mapping.ts';

const DRIVE = 'd4648f06c91d9d3d';

function file(extra: Partial<DriveItem> = {}): DriveItem {
  return {
    id: 'F1',
    name: 'a.txt',
    size: 11,
    eTag: 'e1',
    cTag: 'c1',
    createdDateTime: '2024-03-01T10:00:00.123Z',
    lastModifiedDateTime: '2024-03-01T10:00:05.456Z',
    fileSystemInfo: { createdDateTime: '2024-02-29T08:00:00Z', lastModifiedDateTime: '2024-02-29T09:30:00Z' },
    parentReference: { driveId: DRIVE, id: 'P1' },
    file: { mimeType: 'text/plain', hashes: { quickXorHash: 'qx', sha1Hash: 'SHA' } },
    ...extra,
  };
}

describe('mapDriveItem', () => {
  it('maps a file with client-set times, tags and the quickXorHash only', () => {
    expect(mapDriveItem(file(), { driveId: DRIVE })).toEqual({
      id: 'F1',
      remoteId: 'F1',
      parentId: 'P1',
      name: 'a.txt',
      kind: 'file',
      size: 11,
      ctimeMs: Date.parse('2024-02-29T08:00:00Z'),
      mtimeMs: Date.parse('2024-02-29T09:30:00Z'),
      etag: 'e1',
      ctag: 'c1',
      quickXorHash: 'qx',
      remoteDriveId: null,
      remoteItemId: null,
    });
  });

  it('falls back to the service times, and to null tags and hash when absent (B delta)', () => {
    const { fileSystemInfo: _fsi, cTag: _c, ...rest } = file();
    const record = mapDriveItem({ ...rest, file: {} });
    expect(record).toMatchObject({ ctimeMs: Date.parse('2024-03-01T10:00:00.123Z'), mtimeMs: Date.parse('2024-03-01T10:00:05.456Z'), ctag: null, quickXorHash: null });
  });

  it('maps the root to a record without parent, and an item with the known root id too', () => {
    expect(mapDriveItem({ id: 'R', name: 'root', root: {}, folder: { childCount: 3 }, size: 999, parentReference: { driveId: DRIVE } })).toMatchObject({
      id: 'R',
      parentId: null,
      kind: 'folder',
      size: 0,
    });
    expect(mapDriveItem({ id: 'R', folder: {} }, { rootId: 'R' })).toMatchObject({ parentId: null, name: 'root' });
  });

  it('stores folders with size 0 (the service sends the size of everything below)', () => {
    expect(mapDriveItem({ id: 'D', name: 'Docs', size: 12345, folder: { childCount: 0 }, parentReference: { id: 'R' } })).toMatchObject({ kind: 'folder', size: 0 });
  });

  it('maps OneNote packages as opaque packages', () => {
    expect(mapDriveItem({ id: 'N', name: 'Notebook', size: 50, package: { type: 'oneNote' }, parentReference: { id: 'R' } })).toMatchObject({ kind: 'package', size: 50, quickXorHash: null });
  });

  it('records remoteItem shortcuts as remote, with the other drive id normalised, without following them', () => {
    const record = mapDriveItem({
      id: 'AAA!10',
      name: 'Team',
      parentReference: { driveId: DRIVE, id: 'AAA!103' },
      remoteItem: { id: 'BBB!55', parentReference: { driveId: '0BBB' }, folder: { childCount: 4 }, size: 1234, name: 'Team' },
    }, { driveId: DRIVE });
    expect(record).toMatchObject({ kind: 'remote', remoteItemId: 'BBB!55', remoteDriveId: '0000000000000bbb', size: 0, parentId: 'AAA!103' });
    const remoteFile = mapDriveItem({ id: 'S', parentReference: { id: 'R' }, remoteItem: { id: 'X', name: 'shared.doc', size: 77, file: {} } });
    expect(remoteFile).toMatchObject({ kind: 'remote', name: 'shared.doc', size: 77, remoteDriveId: null });
  });

  it('turns P and B tombstones into tombstones', () => {
    expect(mapDriveItem({ id: 'X', name: 'old.txt', deleted: {}, file: {}, parentReference: { id: 'P' } })).toEqual({ tombstone: true, id: 'X', reason: 'deleted' });
    expect(mapDriveItem({ id: 'Y', deleted: { state: 'deleted' }, size: 0 })).toEqual({ tombstone: true, id: 'Y', reason: 'deleted' });
  });

  it('treats a live item without a parent id, in another drive, or without a name as gone from view', () => {
    expect(mapDriveItem(file({ parentReference: { driveId: DRIVE } }))).toMatchObject({ tombstone: true, reason: 'no-parent' });
    expect(mapDriveItem(file({ parentReference: { driveId: 'ffff000011112222', id: 'P' } }), { driveId: DRIVE })).toMatchObject({ reason: 'foreign-drive' });
    expect(mapDriveItem(file({ name: undefined }))).toMatchObject({ tombstone: true, reason: 'no-name' });
  });

  it('compares P drive ids regardless of case and dropped leading zeros (§15 #7)', () => {
    const record = mapDriveItem(file({ parentReference: { driveId: '24648F06C91D9D3D'.slice(1), id: 'P' } }), { driveId: '04648f06c91d9d3d' });
    expect(isTombstone(record)).toBe(false);
    expect(normalizeDriveId('D4648F06C91D9D3D')).toBe('d4648f06c91d9d3d');
    expect(normalizeDriveId('4648f06c91d9d3d')).toBe('04648f06c91d9d3d');
    expect(sameDrive('b!AbC', 'b!abc')).toBe(false);
    expect(sameDrive('b!AbC', 'b!AbC')).toBe(true);
  });
});

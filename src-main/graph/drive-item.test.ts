import { describe, expect, it } from 'vitest';
import { parseDrive, parseDriveItem, parsePage } from './drive-item.ts';
import { GraphProtocolError } from './errors.ts';
import { nextExpectedOffset } from './upload-limits.ts';

describe('parseDriveItem', () => {
  it('reads a P-mode file with hashes and a download URL', () => {
    const item = parseDriveItem({
      id: 'D4648F06C91D9D3D!54927',
      name: 'hello.txt',
      size: 11,
      eTag: 'aRDQ',
      cTag: 'aYzp',
      fileSystemInfo: { createdDateTime: '2024-02-29T08:00:00Z', lastModifiedDateTime: '2024-02-29T09:30:00Z' },
      parentReference: { driveId: 'd4648f06c91d9d3d', driveType: 'personal', id: 'D4648F06C91D9D3D!103', path: '/drive/root:/Docs' },
      file: { mimeType: 'text/plain', hashes: { quickXorHash: 'aCgDG9jwBhDc4Q1yawMZAAAAAAA=', sha256Hash: 'B94D' } },
      '@microsoft.graph.downloadUrl': 'https://storage/dl/x',
      '@odata.context': 'ignored',
      createdBy: { user: { id: 'u' } },
    });
    expect(item).toEqual({
      id: 'D4648F06C91D9D3D!54927',
      name: 'hello.txt',
      size: 11,
      eTag: 'aRDQ',
      cTag: 'aYzp',
      fileSystemInfo: { createdDateTime: '2024-02-29T08:00:00Z', lastModifiedDateTime: '2024-02-29T09:30:00Z' },
      parentReference: { driveId: 'd4648f06c91d9d3d', driveType: 'personal', id: 'D4648F06C91D9D3D!103', path: '/drive/root:/Docs' },
      file: { mimeType: 'text/plain', hashes: { quickXorHash: 'aCgDG9jwBhDc4Q1yawMZAAAAAAA=', sha256Hash: 'B94D' } },
      downloadUrl: 'https://storage/dl/x',
    });
  });

  it('reads tombstones of both shapes, the root, packages and remote items', () => {
    expect(parseDriveItem({ id: '01BBB', deleted: { state: 'deleted' }, size: 0, parentReference: { driveId: 'b!x', id: '01AAA' } })).toEqual({
      id: '01BBB',
      deleted: { state: 'deleted' },
      size: 0,
      parentReference: { driveId: 'b!x', id: '01AAA' },
    });
    expect(parseDriveItem({ id: 'P!77', name: 'old.txt', deleted: {}, file: {} }).deleted).toEqual({});
    expect(parseDriveItem({ id: 'R', root: {}, folder: { childCount: 3 } })).toEqual({ id: 'R', root: {}, folder: { childCount: 3 } });
    expect(parseDriveItem({ id: 'N', name: 'Notebook', package: { type: 'oneNote' } }).package).toEqual({ type: 'oneNote' });
    const shared = parseDriveItem({
      id: 'AAA!10',
      name: 'Team',
      remoteItem: { id: 'BBB!55', parentReference: { driveId: 'bbb' }, folder: { childCount: 4 }, size: 1234, name: 'Team' },
    });
    expect(shared.remoteItem).toEqual({ id: 'BBB!55', name: 'Team', size: 1234, parentReference: { driveId: 'bbb' }, folder: { childCount: 4 } });
  });

  it('drops wrongly typed fields instead of trusting them, and accepts Int64 strings', () => {
    const item = parseDriveItem({ id: 'x', name: 5, size: '12345678901', eTag: null, folder: { childCount: 'many' } });
    expect(item).toEqual({ id: 'x', size: 12345678901, folder: {} });
  });

  it('rejects items without an id', () => {
    expect(() => parseDriveItem({ name: 'x' })).toThrow(GraphProtocolError);
    expect(() => parseDriveItem(null)).toThrow(GraphProtocolError);
  });
});

describe('parseDrive / parsePage', () => {
  it('reads a drive with its quota', () => {
    expect(
      parseDrive({ id: 'd', driveType: 'personal', owner: { user: { id: 'u', displayName: 'U' } }, quota: { total: 100, used: 5, remaining: 95, deleted: 0, state: 'normal' } }),
    ).toEqual({ id: 'd', driveType: 'personal', owner: { user: { id: 'u', displayName: 'U' } }, quota: { total: 100, used: 5, remaining: 95, deleted: 0, state: 'normal' } });
  });

  it('reads collection pages and refuses ones without value', () => {
    expect(parsePage({ value: [], '@odata.deltaLink': 'L' })).toEqual({ value: [], nextLink: undefined, deltaLink: 'L' });
    expect(() => parsePage({})).toThrow(GraphProtocolError);
  });
});

describe('nextExpectedOffset', () => {
  it('takes the start of the first range', () => {
    expect(nextExpectedOffset(['26-'])).toBe(26);
    expect(nextExpectedOffset(['12345-99999', '200000-'])).toBe(12345);
    expect(nextExpectedOffset([])).toBeUndefined();
    expect(nextExpectedOffset(['junk'])).toBeUndefined();
  });
});

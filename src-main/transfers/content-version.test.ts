import { describe, expect, it } from 'vitest';
import { sameContent, versionOf } from './content-version.ts';

// Real quickXorHashes are 20 bytes, base64: the rule compares the bytes, not the spelling.
const H1 = Buffer.alloc(20, 1).toString('base64');
const H2 = Buffer.alloc(20, 2).toString('base64');

describe('sameContent (the one content-version rule)', () => {
  const base = { size: 10, etag: 'e1', ctag: 'c1', quickXorHash: H1 };

  it('trusts the cTag when both versions have one', () => {
    expect(sameContent(base, { ...base, etag: 'e2' })).toBe(true);
    expect(sameContent(base, { ...base, ctag: 'c2' })).toBe(false);
    // Same bytes rewritten: P gives a new cTag; that is a new content version.
    expect(sameContent(base, { ...base, etag: 'e2', ctag: 'c2' })).toBe(false);
  });

  it('different known sizes are different content, whatever the tags say', () => {
    expect(sameContent(base, { ...base, size: 11 })).toBe(false);
    expect(sameContent({ etag: 'e1' }, { size: 11, etag: 'e1' })).toBe(true);
  });

  it('an unchanged eTag means unchanged bytes when a cTag is missing (B delta)', () => {
    expect(sameContent({ etag: 'e1', ctag: 'c1' }, { etag: 'e1', ctag: null })).toBe(true);
  });

  it('uses the quickXorHash when the eTags differ and a cTag is missing', () => {
    expect(sameContent(base, { size: 10, etag: 'e2', ctag: null, quickXorHash: H1 })).toBe(true);
    expect(sameContent(base, { size: 10, etag: 'e2', ctag: null, quickXorHash: H2 })).toBe(false);
    expect(sameContent(base, { size: 11, etag: 'e2', ctag: null, quickXorHash: H1 })).toBe(false);
    // The hash compares bytes: base64 padding and spelling do not matter.
    expect(sameContent({ etag: 'e1', quickXorHash: H1 }, { etag: 'e2', quickXorHash: H1.replace(/=+$/, '') })).toBe(true);
  });

  it('different eTags without a hash are different content', () => {
    expect(sameContent({ size: 10, etag: 'e1' }, { size: 10, etag: 'e2' })).toBe(false);
    expect(sameContent({ etag: 'e1' }, { etag: null })).toBe(false);
  });

  it('two versions that name no server version are the same never-uploaded local bytes', () => {
    expect(sameContent({ size: 10 }, { size: 10 })).toBe(true);
    expect(sameContent({ etag: null, ctag: null }, { etag: null, ctag: null })).toBe(true);
    expect(sameContent({ etag: null, ctag: null }, { etag: 'e1', ctag: null })).toBe(false);
  });

  it('versionOf reads a server answer in the rule terms', () => {
    const v = versionOf({ id: 'r', eTag: 'e1', cTag: 'c1', size: 3, file: { hashes: { quickXorHash: H1 } } } as never);
    expect(v).toEqual({ etag: 'e1', ctag: 'c1', quickXorHash: H1, size: 3 });
    expect(sameContent({ etag: 'e0', ctag: null, quickXorHash: H1 }, v)).toBe(true);
  });
});

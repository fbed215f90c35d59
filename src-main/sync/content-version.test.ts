import { describe, expect, it } from 'vitest';
import { contentChanged } from './content-version.ts';

describe('contentChanged', () => {
  const base = { size: 10, etag: 'e1', ctag: 'c1', quickXorHash: 'h1' };

  it('trusts the cTag when both versions have one', () => {
    expect(contentChanged(base, { ...base, etag: 'e2' })).toBe(false);
    expect(contentChanged(base, { ...base, ctag: 'c2' })).toBe(true);
    // Same bytes rewritten: P gives a new cTag; that is a new content version.
    expect(contentChanged(base, { ...base, etag: 'e2', ctag: 'c2' })).toBe(true);
  });

  it('uses the quickXorHash and size when a cTag is missing (B delta)', () => {
    expect(contentChanged(base, { size: 10, etag: 'e2', ctag: null, quickXorHash: 'h1' })).toBe(false);
    expect(contentChanged(base, { size: 10, etag: 'e2', ctag: null, quickXorHash: 'h2' })).toBe(true);
    expect(contentChanged(base, { size: 11, etag: 'e2', ctag: null, quickXorHash: 'h1' })).toBe(true);
  });

  it('falls back to size, then the eTag, when hashes are missing too', () => {
    expect(contentChanged({ size: 10, etag: 'e1' }, { size: 12, etag: 'e1' })).toBe(true);
    expect(contentChanged({ size: 10, etag: 'e1' }, { size: 10, etag: 'e1' })).toBe(false);
    expect(contentChanged({ size: 10, etag: 'e1' }, { size: 10, etag: 'e2' })).toBe(true);
    expect(contentChanged({ size: 10 }, { size: 10 })).toBe(true);
  });
});

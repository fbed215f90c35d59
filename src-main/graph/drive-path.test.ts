import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeDrivePath, encodeItemId, encodePathSegment } from './drive-path.ts';

describe('encodePathSegment', () => {
  it('encodes what a path segment cannot carry and keeps pchars', () => {
    expect(encodePathSegment('my file #1 100%.txt')).toBe('my%20file%20%231%20100%25.txt');
    expect(encodePathSegment('a?b/c\\d')).toBe('a%3Fb%2Fc%5Cd');
    expect(encodePathSegment("(x)+y,z;w=v&u@t!s$r'q~p*")).toBe("(x)+y,z;w=v&u@t!s$r'q~p*");
    expect(encodePathSegment('a:b')).toBe('a%3Ab');
  });

  it('encodes non-ASCII as UTF-8 bytes', () => {
    expect(encodePathSegment('Grüße')).toBe('Gr%C3%BC%C3%9Fe');
    expect(encodePathSegment('😀')).toBe('%F0%9F%98%80');
  });

  it('round-trips through decodeURIComponent and never leaves a URL delimiter', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (name) => {
        const encoded = encodePathSegment(name);
        return decodeURIComponent(encoded) === name && !/[/?#\s:%]/.test(encoded.replace(/%[0-9A-F]{2}/g, ''));
      }),
    );
  });
});

describe('encodeDrivePath', () => {
  it('encodes each segment separately and drops empty ones', () => {
    expect(encodeDrivePath('/Documents/My Notes/a#b.txt')).toBe('Documents/My%20Notes/a%23b.txt');
    expect(encodeDrivePath('a//b/')).toBe('a/b');
    expect(encodeDrivePath('/')).toBe('');
  });

  it('keeps P ids readable', () => {
    expect(encodeItemId('D4648F06C91D9D3D!54927')).toBe('D4648F06C91D9D3D!54927');
  });
});

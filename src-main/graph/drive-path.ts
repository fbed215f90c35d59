/**
 * Path-addressed Graph URLs (docs/graph-api.md §3): each segment is percent-encoded on its own as an
 * RFC 3986 `pchar`, so `#`, `?`, `%` and spaces inside names survive; a whole URL is never encoded
 * in one go.
 */

/** Characters RFC 3986 allows unencoded in a path segment (unreserved, sub-delims, ':' and '@'). */
const PCHAR_SAFE = /[A-Za-z0-9\-._~!$&'()*+,;=:@]/;

/**
 * Percent-encodes one path segment. `:` is encoded too, although it is a legal pchar, because
 * Graph uses it to close a path (`root:/a/b:/children`); names cannot contain it on OneDrive anyway.
 */
export function encodePathSegment(segment: string): string {
  let out = '';
  for (const char of segment) {
    if (char !== ':' && PCHAR_SAFE.test(char)) {
      out += char;
    } else {
      for (const byte of Buffer.from(char, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  }
  return out;
}

/** `/a/b c/d#` → `a/b%20c/d%23` (leading/trailing and doubled slashes dropped). */
export function encodeDrivePath(path: string): string {
  return path
    .split('/')
    .filter((segment) => segment.length > 0)
    .map(encodePathSegment)
    .join('/');
}

/** An id placed into a URL path (ids are opaque; P ids contain `!`, which is a legal pchar). */
export function encodeItemId(id: string): string {
  return encodePathSegment(id);
}

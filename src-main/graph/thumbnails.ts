/**
 * Thumbnail sets (`GET /items/{id}/thumbnails`, docs/graph-api.md §9): each set offers small (96 px),
 * medium (176 px) and large (800 px) pictures with a pre-authenticated URL, fetched without the
 * Authorization header like any download URL.
 */
import { GraphProtocolError } from './errors.ts';

export const THUMBNAIL_SIZES = ['small', 'medium', 'large'] as const;
export type ThumbnailSize = (typeof THUMBNAIL_SIZES)[number];

export interface Thumbnail {
  url: string;
  width?: number;
  height?: number;
}

export type ThumbnailSet = { id: string } & Partial<Record<ThumbnailSize, Thumbnail>>;

export function parseThumbnailSets(body: unknown): ThumbnailSet[] {
  const value = (body as { value?: unknown } | null)?.value;
  if (!Array.isArray(value)) throw new GraphProtocolError('a thumbnails answer without a value array');
  return value.map((raw: unknown) => {
    const set: ThumbnailSet = { id: String((raw as { id?: unknown }).id ?? '0') };
    for (const size of THUMBNAIL_SIZES) {
      const t = (raw as Record<string, unknown>)[size] as { url?: unknown; width?: unknown; height?: unknown } | undefined;
      if (!t || typeof t.url !== 'string') continue;
      set[size] = {
        url: t.url,
        ...(typeof t.width === 'number' ? { width: t.width } : {}),
        ...(typeof t.height === 'number' ? { height: t.height } : {}),
      };
    }
    return set;
  });
}

/**
 * Helpers for the item conformance suites (folders, paths, children): small wrappers over the shared
 * HTTP helpers so each test reads as the Graph calls it makes.
 */
import { apiJson, apiSend, pathRef, putContent, type EmulatorHandle, type JsonAnswer } from './helpers.ts';

export type Mode = 'personal' | 'business';
export const MODES: Mode[] = ['personal', 'business'];

export interface Item {
  id: string;
  name: string;
  size: number;
  eTag: string;
  cTag?: string;
  parentReference?: { id?: string; driveId?: string; path?: string };
  folder?: { childCount: number };
  file?: { mimeType: string; hashes: Record<string, string> };
  fileSystemInfo?: { createdDateTime: string; lastModifiedDateTime: string };
  '@microsoft.graph.downloadUrl'?: string;
  [k: string]: unknown;
}

export interface Page {
  value: Item[];
  '@odata.nextLink'?: string;
}

/** `/me/drive/root` for '' and `/me/drive/root:/a/b:` otherwise. */
export function ref(p: string): string {
  return p.split('/').filter(Boolean).length === 0 ? '/me/drive/root' : pathRef(p);
}

/** POST …/children creating a folder; `extra` adds body fields (conflict behaviour annotations). */
export function mkdir(h: EmulatorHandle, parent: string, name: string, extra: Record<string, unknown> = {}, query = ''): Promise<JsonAnswer<Item>> {
  return apiSend<Item>(h, 'POST', `${ref(parent)}/children${query}`, { name, folder: {}, ...extra });
}

/** Creates every missing folder of `p` and returns the last one. */
export async function mkdirp(h: EmulatorHandle, p: string): Promise<Item> {
  let parent = '';
  let last: Item | undefined;
  for (const seg of p.split('/').filter(Boolean)) {
    const made = await mkdir(h, parent, seg, { '@microsoft.graph.conflictBehavior': 'fail' });
    if (made.status === 201) last = made.body;
    else if (made.status === 409) last = (await apiJson<Item>(h, ref(parent ? `${parent}/${seg}` : seg))).body;
    else throw new Error(`mkdirp ${p}: ${made.status} ${JSON.stringify(made.body)}`);
    parent = parent ? `${parent}/${seg}` : seg;
  }
  if (!last) throw new Error(`mkdirp: empty path`);
  return last;
}

export async function getItem(h: EmulatorHandle, p: string): Promise<Item> {
  const got = await apiJson<Item>(h, ref(p));
  if (got.status !== 200) throw new Error(`GET ${p}: ${got.status} ${JSON.stringify(got.body)}`);
  return got.body;
}

export async function getById(h: EmulatorHandle, id: string, query = ''): Promise<JsonAnswer<Item>> {
  return apiJson<Item>(h, `/me/drive/items/${encodeURIComponent(id)}${query}`);
}

/** Follows `@odata.nextLink` verbatim until the last page; returns all pages. */
export async function allPages(h: EmulatorHandle, first: string): Promise<Page[]> {
  const pages: Page[] = [];
  let next: string | undefined = first;
  while (next) {
    const got: JsonAnswer<Page> = await apiJson<Page>(h, next);
    if (got.status !== 200) throw new Error(`GET ${next}: ${got.status} ${JSON.stringify(got.body)}`);
    pages.push(got.body);
    next = got.body['@odata.nextLink'];
  }
  return pages;
}

export async function quota(h: EmulatorHandle): Promise<{ total: number; used: number; remaining: number; deleted: number; state: string; fileCount?: number }> {
  const got = await apiJson<{ quota: { total: number; used: number; remaining: number; deleted: number; state: string } }>(h, '/me/drive');
  return got.body.quota;
}

/** Simple upload at `p`, creating the missing parent folders first (a PUT by path does not create them). */
export async function put(h: EmulatorHandle, p: string, bytes: Uint8Array | string, query = ''): Promise<JsonAnswer<Item>> {
  const parent = p.split('/').filter(Boolean).slice(0, -1).join('/');
  if (parent) await mkdirp(h, parent);
  return (await putContent(h, p, bytes, query)) as JsonAnswer<Item>;
}

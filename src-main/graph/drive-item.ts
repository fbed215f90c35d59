/**
 * The Graph resources the engine reads (docs/graph-api.md §2), parsed loosely: unknown fields are
 * dropped, optional fields may be missing in either the Personal or the Business shape, and only
 * `id` is required.
 */
import { GraphProtocolError } from './errors.ts';

export interface Hashes {
  quickXorHash?: string;
  sha1Hash?: string;
  sha256Hash?: string;
  crc32Hash?: string;
}

export interface FileSystemInfo {
  createdDateTime?: string;
  lastModifiedDateTime?: string;
  lastAccessedDateTime?: string;
}

export interface ItemReference {
  driveId?: string;
  driveType?: string;
  id?: string;
  name?: string;
  /** Absent in delta answers; never rely on it (§2.2). */
  path?: string;
  siteId?: string;
  shareId?: string;
}

export interface FileFacet {
  mimeType?: string;
  hashes?: Hashes;
}

export interface FolderFacet {
  /** Unreliable in delta (P reports 0), §5. */
  childCount?: number;
  view?: { viewType?: string; sortBy?: string; sortOrder?: string };
}

export interface RemoteItem {
  id: string;
  name?: string;
  size?: number;
  parentReference?: ItemReference;
  file?: FileFacet;
  folder?: FolderFacet;
}

export interface DriveItem {
  id: string;
  /** Absent on B delta tombstones. */
  name?: string;
  size?: number;
  eTag?: string;
  cTag?: string;
  createdDateTime?: string;
  lastModifiedDateTime?: string;
  fileSystemInfo?: FileSystemInfo;
  parentReference?: ItemReference;
  file?: FileFacet;
  folder?: FolderFacet;
  /** OneNote notebooks and the like: neither file nor folder, not downloadable. */
  package?: { type?: string };
  /** Present only on the drive root. */
  root?: Record<string, never>;
  /** Tombstone marker in delta (`{}` on P, `{state: "deleted"}` on B). */
  deleted?: { state?: string };
  remoteItem?: RemoteItem;
  /** `@microsoft.graph.downloadUrl`: pre-authenticated and short-lived, a credential in itself. */
  downloadUrl?: string;
  webUrl?: string;
  description?: string;
}

export interface Quota {
  total?: number;
  used?: number;
  remaining?: number;
  deleted?: number;
  state?: string;
  fileCount?: number;
}

export interface Drive {
  id: string;
  driveType?: string;
  name?: string;
  owner?: { user?: { id?: string; displayName?: string } };
  quota?: Quota;
  webUrl?: string;
}

type Json = Record<string, unknown>;

function asObject(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function num(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  // Int64 values may arrive as strings under IEEE754Compatible=true.
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value);
  return undefined;
}

/** Copies the listed string fields that are present. */
function pickStrings<K extends string>(source: Json | undefined, keys: readonly K[]): Partial<Record<K, string>> | undefined {
  if (!source) return undefined;
  const out: Partial<Record<K, string>> = {};
  for (const key of keys) {
    const value = str(source[key]);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

function parseReference(value: unknown): ItemReference | undefined {
  return pickStrings(asObject(value), ['driveId', 'driveType', 'id', 'name', 'path', 'siteId', 'shareId'] as const);
}

function parseFile(value: unknown): FileFacet | undefined {
  const file = asObject(value);
  if (!file) return undefined;
  const out: FileFacet = {};
  const mimeType = str(file['mimeType']);
  if (mimeType !== undefined) out.mimeType = mimeType;
  const hashes = pickStrings(asObject(file['hashes']), ['quickXorHash', 'sha1Hash', 'sha256Hash', 'crc32Hash'] as const);
  if (hashes) out.hashes = hashes;
  return out;
}

function parseFolder(value: unknown): FolderFacet | undefined {
  const folder = asObject(value);
  if (!folder) return undefined;
  const out: FolderFacet = {};
  const childCount = num(folder['childCount']);
  if (childCount !== undefined) out.childCount = childCount;
  const view = pickStrings(asObject(folder['view']), ['viewType', 'sortBy', 'sortOrder'] as const);
  if (view) out.view = view;
  return out;
}

function parseRemoteItem(value: unknown): RemoteItem | undefined {
  const remote = asObject(value);
  const id = str(remote?.['id']);
  if (!remote || id === undefined) return undefined;
  const out: RemoteItem = { id };
  const name = str(remote['name']);
  if (name !== undefined) out.name = name;
  const size = num(remote['size']);
  if (size !== undefined) out.size = size;
  const parentReference = parseReference(remote['parentReference']);
  if (parentReference) out.parentReference = parentReference;
  const file = parseFile(remote['file']);
  if (file) out.file = file;
  const folder = parseFolder(remote['folder']);
  if (folder) out.folder = folder;
  return out;
}

/** Parses one driveItem; throws GraphProtocolError when it has no string `id`. */
export function parseDriveItem(value: unknown): DriveItem {
  const raw = asObject(value);
  const id = str(raw?.['id']);
  if (!raw || id === undefined || id.length === 0) {
    throw new GraphProtocolError('a driveItem without an id');
  }
  const item: DriveItem = { id };
  const strings = pickStrings(raw, [
    'name',
    'eTag',
    'cTag',
    'createdDateTime',
    'lastModifiedDateTime',
    'webUrl',
    'description',
  ] as const)!;
  Object.assign(item, strings);
  const size = num(raw['size']);
  if (size !== undefined) item.size = size;
  const fileSystemInfo = pickStrings(asObject(raw['fileSystemInfo']), [
    'createdDateTime',
    'lastModifiedDateTime',
    'lastAccessedDateTime',
  ] as const);
  if (fileSystemInfo) item.fileSystemInfo = fileSystemInfo;
  const parentReference = parseReference(raw['parentReference']);
  if (parentReference) item.parentReference = parentReference;
  const file = parseFile(raw['file']);
  if (file) item.file = file;
  const folder = parseFolder(raw['folder']);
  if (folder) item.folder = folder;
  const pkg = asObject(raw['package']);
  if (pkg) item.package = pickStrings(pkg, ['type'] as const)!;
  if (asObject(raw['root'])) item.root = {};
  const deleted = asObject(raw['deleted']);
  if (deleted) item.deleted = pickStrings(deleted, ['state'] as const)!;
  const remoteItem = parseRemoteItem(raw['remoteItem']);
  if (remoteItem) item.remoteItem = remoteItem;
  const downloadUrl = str(raw['@microsoft.graph.downloadUrl']) ?? str(raw['@content.downloadUrl']);
  if (downloadUrl !== undefined) item.downloadUrl = downloadUrl;
  return item;
}

export function parseDrive(value: unknown): Drive {
  const raw = asObject(value);
  const id = str(raw?.['id']);
  if (!raw || id === undefined) throw new GraphProtocolError('a drive without an id');
  const drive: Drive = { id };
  Object.assign(drive, pickStrings(raw, ['driveType', 'name', 'webUrl'] as const));
  const user = pickStrings(asObject(asObject(raw['owner'])?.['user']), ['id', 'displayName'] as const);
  if (user) drive.owner = { user };
  const quota = asObject(raw['quota']);
  if (quota) {
    const out: Quota = {};
    for (const key of ['total', 'used', 'remaining', 'deleted', 'fileCount'] as const) {
      const value = num(quota[key]);
      if (value !== undefined) out[key] = value;
    }
    const state = str(quota['state']);
    if (state !== undefined) out.state = state;
    drive.quota = out;
  }
  return drive;
}

/** A collection page: `value` plus whichever of nextLink / deltaLink the server sent. */
export interface RawPage {
  value: unknown[];
  nextLink: string | undefined;
  deltaLink: string | undefined;
}

export function parsePage(value: unknown): RawPage {
  const raw = asObject(value);
  const items = raw?.['value'];
  if (!raw || !Array.isArray(items)) throw new GraphProtocolError('a collection answer without a value array');
  return { value: items, nextLink: str(raw['@odata.nextLink']), deltaLink: str(raw['@odata.deltaLink']) };
}

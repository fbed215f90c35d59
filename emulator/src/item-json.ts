/** driveItem JSON as each mode shows it (docs/graph-api.md §2). */
import type { Drive } from './drive.ts';
import type { ItemRow } from './drive-db.ts';
import { query, type Ctx } from './http-util.ts';
import type { EmulatorState } from './state.ts';

export interface JsonContext {
  drive: Drive;
  /** A fresh pre-authenticated download URL for a file row. */
  downloadUrl(row: ItemRow): string;
  /** Delta answers omit paths, downloadUrl and (B) cTags; P reports childCount 0. */
  inDelta?: boolean;
  select?: Set<string>;
}

/** The JSON context of an answer to `ctx`: download links on the storage base the request came in through. */
export function jsonContext(emu: EmulatorState, ctx: Ctx, extra: Partial<JsonContext> = {}): JsonContext {
  return { drive: emu.drive, downloadUrl: (row) => emu.downloadUrl(row, ctx.storageBase), select: parseSelect(query(ctx.url, 'select')), ...extra };
}

function iso(ms: number, mode: 'personal' | 'business'): string {
  const s = new Date(ms).toISOString();
  return mode === 'personal' ? s : s.replace(/\.\d{3}Z$/, 'Z');
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function parentPath(drive: Drive, parent: ItemRow): string {
  const prefix = drive.mode === 'personal' ? '/drive/root:' : `/drives/${drive.driveId}/root:`;
  return prefix + drive.pathOf(parent);
}

export function itemJson(row: ItemRow, ctx: JsonContext, parentCache?: Map<string, string>): Record<string, unknown> {
  const { drive } = ctx;
  const mode = drive.mode;
  const isRoot = row.id === drive.rootId;
  const driveType = mode === 'personal' ? 'personal' : 'business';
  const out: Record<string, unknown> = { id: row.id };

  if (row.deleted) {
    // Tombstones (docs/graph-api.md §5): B lacks name and cTag and has size 0; P lacks size and cTag.
    if (mode === 'personal') {
      out.name = row.name;
      out.deleted = {};
    } else {
      out.deleted = { state: 'deleted' };
      out.size = 0;
    }
    if (row.kind === 'file') out.file = {};
    if (row.kind === 'folder') out.folder = {};
    out.parentReference = { driveId: drive.driveId, driveType, id: row.parent_id ?? undefined };
    out.eTag = drive.eTag(row);
    return out;
  }

  out.name = row.name;
  out.size = row.size;
  out.eTag = drive.eTag(row);
  const hideCTag = (row.kind === 'folder' && mode === 'business') || (ctx.inDelta && mode === 'business');
  if (!hideCTag) out.cTag = drive.cTag(row);
  out.createdDateTime = iso(row.created_at, mode);
  out.lastModifiedDateTime = iso(row.modified_at, mode);
  out.fileSystemInfo = { createdDateTime: isoSeconds(row.fs_created), lastModifiedDateTime: isoSeconds(row.fs_modified) };
  const user = { user: { id: 'emulator-user', displayName: 'Emulator User' } };
  out.createdBy = user;
  out.lastModifiedBy = user;
  if (isRoot) {
    out.root = {};
    out.parentReference = { driveId: drive.driveId, driveType };
  } else {
    const ref: Record<string, unknown> = { driveId: drive.driveId, driveType, id: row.parent_id };
    if (!ctx.inDelta && row.parent_id) {
      let p = parentCache?.get(row.parent_id);
      if (p === undefined) {
        p = parentPath(drive, drive.row(row.parent_id)!);
        parentCache?.set(row.parent_id, p);
      }
      ref.path = p;
    }
    out.parentReference = ref;
  }
  if (row.kind === 'folder') {
    out.folder = { childCount: ctx.inDelta && mode === 'personal' ? 0 : drive.childCount(row.id) };
    if (mode === 'personal') out.folder = { ...(out.folder as object), view: { viewType: 'thumbnails', sortBy: 'name', sortOrder: 'ascending' } };
  } else if (row.kind === 'package') {
    out.package = { type: 'oneNote' };
  } else if (row.kind === 'remote') {
    // A shared folder added to this drive: no folder facet of its own; the content lives elsewhere.
    out.remoteItem = drive.remoteItemOf?.(row) ?? {};
  } else {
    const hashes: Record<string, string> = {};
    if (row.hashes_hidden_until <= drive.now()) {
      if (row.quickxor) hashes.quickXorHash = row.quickxor;
      if (mode === 'personal' && row.sha256) hashes.sha256Hash = row.sha256;
    }
    out.file = { mimeType: row.mime ?? 'application/octet-stream', hashes };
    const wantUrl = ctx.select ? ctx.select.has('@microsoft.graph.downloadurl') : !ctx.inDelta;
    if (wantUrl) out['@microsoft.graph.downloadUrl'] = ctx.downloadUrl(row);
    if (row.mime?.startsWith('image/')) out.image = {};
  }
  return applySelect(out, ctx.select);
}

export function applySelect(obj: Record<string, unknown>, select: Set<string> | undefined): Record<string, unknown> {
  if (!select) return obj;
  const out: Record<string, unknown> = { id: obj.id };
  for (const [k, v] of Object.entries(obj)) if (select.has(k.toLowerCase())) out[k] = v;
  // Tombstone markers survive $select so clients can still see deletions.
  if (obj.deleted) out.deleted = obj.deleted;
  return out;
}

export function parseSelect(value: string | null): Set<string> | undefined {
  if (!value) return undefined;
  return new Set(value.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean));
}

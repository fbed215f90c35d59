/**
 * The API listener's routes (docs/graph-api.md §3–§9): `/v1.0/me…` and `/v1.0/drives/{id}…`, items by id
 * and by path, children, content, uploads, folders, update, delete, copy, thumbnails, delta.
 */
import { handleDelta } from './delta.ts';
import { parseConflictBehavior, type ConflictBehavior } from './drive.ts';
import type { ItemRow } from './drive-db.ts';
import { sameDriveId } from './ids.ts';
import type { EmulatorState } from './state.ts';
import type { Sessions } from './sessions.ts';
import { badRequest, GraphError, notFound } from './errors.ts';
import { header, query, readJson, sendEmpty, sendJson, type Ctx } from './http-util.ts';
import { applySelect, itemJson, jsonContext, parseSelect } from './item-json.ts';
import { SizeLimitError } from './content-store.ts';
import { listThumbnails, thumbnailRoute } from './thumbnails.ts';
import { startCopy } from './copy.ts';

/** What a URL addresses: an item (by id, or by path below an item) plus the rest of the path. */
export interface Address {
  driveId: string;
  baseId: string;
  /** Path segments after `root:` or `items/{id}:`, each percent-decoded once. */
  segments: string[] | undefined;
  /** What follows, e.g. `children`, `content`, `delta`, `createUploadSession`, `thumbnails/0/small`. */
  rest: string;
}

export function parseAddress(emu: Served, pathname: string): Address | 'drive' | 'me' | undefined {
  const m = /^\/v1\.0\/(?:me\/drive|drives\/([^/]+))(\/.*)?$/.exec(pathname);
  if (!m) return pathname === '/v1.0/me' ? 'me' : undefined;
  const driveId = m[1] ? decodeURIComponent(m[1]) : emu.drive.driveId;
  // `emu` is already the view of the addressed drive (shares.ts scopeFor); /me/drive is the user's own.
  if (m[1] && !sameDriveId(emu.drive.mode, driveId, emu.drive.driveId)) throw notFound('Drive not found');
  if (!m[1] && emu.shares.isOther(emu)) throw notFound('Drive not found');
  const tail = m[2] ?? '';
  if (tail === '' || tail === '/') return 'drive';
  let baseId: string;
  let after: string;
  const root = /^\/root(?=$|[:/(])/.exec(tail);
  if (root) {
    baseId = emu.drive.rootId;
    after = tail.slice(5);
  } else {
    const item = /^\/items\/([^/:]+)/.exec(tail);
    if (!item) throw badRequest(`Unsupported path ${pathname}`, 'invalidPath');
    const id = decodeURIComponent(item[1]!);
    baseId = id === 'root' ? emu.drive.rootId : id;
    after = tail.slice(item[0].length);
  }
  let segments: string[] | undefined;
  if (after.startsWith(':')) {
    const close = after.indexOf(':', 1);
    const pathPart = close < 0 ? after.slice(1) : after.slice(1, close);
    after = close < 0 ? '' : after.slice(close + 1);
    segments = pathPart.split('/').filter((s) => s !== '').map(decodeSegment);
  }
  return { driveId, baseId, segments, rest: after.replace(/^\//, '') };
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw badRequest(`Invalid percent-encoding in path segment '${s}'`, 'invalidPath');
  }
}

/** The emulator as the API routes see it: its state and the upload sessions. */
export type Served = EmulatorState & { readonly sessions: Sessions };

function conflictFrom(ctx: Ctx, body: Record<string, unknown> | undefined, fallback: ConflictBehavior): ConflictBehavior {
  const q = ctx.url.searchParams.get('@microsoft.graph.conflictBehavior') ?? ctx.url.searchParams.get('@name.conflictBehavior');
  const b = body?.['@microsoft.graph.conflictBehavior'] ?? body?.['@name.conflictBehavior'];
  return parseConflictBehavior(q ?? b, fallback);
}

function parseTimes(fsi: unknown): { created?: number; modified?: number } | undefined {
  if (!fsi || typeof fsi !== 'object') return undefined;
  const f = fsi as Record<string, unknown>;
  const parse = (v: unknown): number | undefined => {
    if (v === undefined || v === null) return undefined;
    const t = Date.parse(String(v));
    if (Number.isNaN(t)) throw badRequest(`Invalid date '${String(v)}' in fileSystemInfo`, 'invalidDateTime');
    return t;
  };
  return { created: parse(f.createdDateTime), modified: parse(f.lastModifiedDateTime) };
}

export async function handleApi(base: Served, ctx: Ctx): Promise<void> {
  const emu = scopeFor(base, ctx.url.pathname);
  const method = ctx.req.method ?? 'GET';
  const addr = parseAddress(emu, ctx.url.pathname);
  if (addr === 'me') {
    if (method !== 'GET') throw new GraphError(405, 'invalidRequest', 'Method not allowed');
    sendJson(ctx, 200, { id: 'emulator-user', displayName: 'Emulator User', userPrincipalName: 'user@example.com', mail: 'user@example.com' });
    return;
  }
  if (addr === undefined) throw new GraphError(400, 'BadRequest', `Resource not found for the segment '${ctx.url.pathname}'`);
  if (addr === 'drive') {
    if (method !== 'GET') throw new GraphError(405, 'invalidRequest', 'Method not allowed');
    if (emu.shares.isOther(emu)) throw new GraphError(403, 'accessDenied', 'Access denied to this drive');
    sendJson(ctx, 200, applySelect(driveJson(emu), parseSelect(query(ctx.url, 'select'))));
    return;
  }
  const drive = emu.drive;
  const rest = addr.rest;

  // Path-addressed creation: PUT …/parent:/name:/content and POST …/parent:/name:/createUploadSession
  // address an item that may not exist yet.
  if ((rest === 'content' && method === 'PUT') || rest === 'createUploadSession') {
    const target = resolveTarget(emu, addr);
    emu.shares.guardWrite(emu, emu.drive.get('itemId' in target ? target.itemId : target.parentId));
    if (rest === 'content') await simpleUpload(emu, ctx, target);
    else await emu.sessions.create(ctx, target);
    return;
  }
  if (rest === 'delta' || rest.startsWith('delta(') || rest.startsWith('delta?')) {
    if (method !== 'GET') throw new GraphError(405, 'invalidRequest', 'Method not allowed');
    const folder = resolveItem(emu, addr);
    // Business serves only root delta; on the other drive that is the permission-trimmed view (shares.ts).
    const trimmedRoot = emu.drive.mode === 'business' && folder.id === emu.drive.rootId;
    if (!trimmedRoot) emu.shares.guardRead(emu, folder);
    await handleDelta(emu, ctx, folder, rest);
    return;
  }
  const row = resolveItem(emu, addr);
  if (method === 'GET') emu.shares.guardRead(emu, row);
  else emu.shares.guardWrite(emu, row, rest === '' || rest === 'permanentDelete');
  switch (rest) {
    case '':
      if (method === 'GET') return getItem(emu, ctx, row);
      if (method === 'PATCH') return patchItem(emu, ctx, row);
      if (method === 'DELETE') {
        drive.delete(row.id, header(ctx.req, 'if-match'));
        sendEmpty(ctx, 204);
        return;
      }
      // PUT with @microsoft.graph.sourceUrl commits a finished upload session (docs/graph-api.md §7.4).
      if (method === 'PUT') return emu.sessions.commitBySourceUrl(ctx, row);
      break;
    case 'children':
      if (method === 'GET') return listChildren(emu, ctx, row);
      if (method === 'POST') return createChild(emu, ctx, row);
      break;
    case 'content':
      if (method === 'GET') return contentRedirect(emu, ctx, row);
      break;
    case 'copy':
      if (method === 'POST') return startCopy(emu, ctx, row);
      break;
    case 'permissions':
      if (method === 'GET') return sendJson(ctx, 200, { value: emu.shares.permissionsJson(emu, row) });
      break;
    case 'permanentDelete':
      if (method === 'POST') {
        if (drive.mode !== 'business') throw new GraphError(400, 'invalidRequest', 'permanentDelete is not supported on this drive');
        drive.delete(row.id, header(ctx.req, 'if-match'));
        sendEmpty(ctx, 204);
        return;
      }
      break;
    default:
      if (rest === 'thumbnails' && method === 'GET') return listThumbnails(emu, ctx, row);
      if (rest.startsWith('thumbnails/') && method === 'GET') return thumbnailRoute(emu, ctx, row, rest.slice('thumbnails/'.length));
      throw new GraphError(400, 'BadRequest', `Resource not found for the segment '${rest}'`);
  }
  throw new GraphError(405, 'invalidRequest', `Method ${method} not allowed on this resource`);
}

/** The emulator for a request: the other drive's view when the path addresses `/drives/{otherId}` (shares.ts). */
function scopeFor(base: Served, pathname: string): Served {
  const m = /^\/v1\.0\/drives\/([^/]+)/.exec(pathname);
  if (!m) return base;
  let driveId: string;
  try {
    driveId = decodeURIComponent(m[1]!);
  } catch {
    throw badRequest('Invalid drive id', 'invalidRequest');
  }
  const view = base.shares.viewFor(base, driveId);
  if (!view) throw notFound('Drive not found');
  return view;
}

export function resolveItem(emu: Served, addr: Address): ItemRow {
  return addr.segments ? emu.drive.resolve(addr.baseId, addr.segments) : emu.drive.get(addr.baseId);
}

/** For writes that may create: an existing item, or a parent folder and a new name. */
export function resolveTarget(emu: Served, addr: Address): { itemId: string } | { parentId: string; name: string } {
  if (!addr.segments || addr.segments.length === 0) return { itemId: emu.drive.get(addr.baseId).id };
  const name = addr.segments[addr.segments.length - 1]!;
  const parent = emu.drive.resolve(addr.baseId, addr.segments.slice(0, -1));
  if (parent.kind !== 'folder') throw badRequest('The parent item is not a folder', 'invalidParent');
  return { parentId: parent.id, name };
}

export function driveJson(emu: Served): Record<string, unknown> {
  const drive = emu.drive;
  const quota: Record<string, unknown> = drive.quota();
  if (drive.mode === 'business') quota.fileCount = drive.fileCount();
  else quota.storagePlanInformation = { upgradeAvailable: true };
  return {
    id: drive.driveId,
    driveType: drive.mode === 'personal' ? 'personal' : 'business',
    name: drive.mode === 'personal' ? 'OneDrive' : 'Documents',
    owner: { user: { id: 'emulator-user', displayName: 'Emulator User' } },
    quota,
  };
}

function notModified(emu: Served, ctx: Ctx, row: ItemRow): boolean {
  const inm = header(ctx.req, 'if-none-match');
  if (inm && emu.drive.matches(row, inm)) {
    sendEmpty(ctx, 304);
    return true;
  }
  return false;
}

function getItem(emu: Served, ctx: Ctx, row: ItemRow): void {
  if (notModified(emu, ctx, row)) return;
  const out = itemJson(row, jsonContext(emu, ctx));
  const expand = query(ctx.url, 'expand');
  if (expand && /(^|,)\s*children/.test(expand) && row.kind === 'folder') {
    const limit = emu.options.pageSize;
    const rows = emu.drive.children(row.id, '', limit + 1);
    const page = rows.slice(0, limit);
    const parents = new Map<string, string>();
    out.children = page.map((c) => itemJson(c, jsonContext(emu, ctx, { select: undefined }), parents));
    // Like any collection, an expanded one that does not fit says where the rest is.
    if (rows.length > limit) {
      const next = new URL(`/v1.0/drives/${encodeURIComponent(emu.drive.driveId)}/items/${encodeURIComponent(row.id)}/children`, ctx.apiBase);
      next.searchParams.set('$skiptoken', skipToken(page[page.length - 1]!));
      out['children@odata.nextLink'] = next.toString();
    }
  }
  sendJson(ctx, 200, out);
}

function pageSize(emu: Served, ctx: Ctx): number {
  const top = query(ctx.url, 'top');
  if (top === null) return emu.options.pageSize;
  const n = Number(top);
  if (!Number.isInteger(n) || n < 1) throw badRequest(`Invalid $top value '${top}'`, 'invalidQueryOption');
  return Math.min(n, emu.options.maxPageSize);
}

/** The children cursor: the last name key served, opaque to the client. */
function skipToken(last: ItemRow): string {
  return Buffer.from(last.name_key, 'utf8').toString('base64url');
}

function listChildren(emu: Served, ctx: Ctx, row: ItemRow): void {
  if (row.kind === 'file') throw badRequest('Only folders have children', 'notAFolder');
  // Only a tag that follows the children can vouch for the listing: the P folder cTag does; a folder
  // eTag does not change when children change, and B folders have no cTag.
  const inm = header(ctx.req, 'if-none-match');
  if (inm && emu.drive.mode === 'personal' && inm.trim() === emu.drive.cTag(row)) {
    sendEmpty(ctx, 304);
    return;
  }
  const limit = pageSize(emu, ctx);
  const skip = query(ctx.url, 'skiptoken');
  const after = skip ? Buffer.from(skip, 'base64url').toString('utf8') : '';
  const rows = emu.drive.children(row.id, after, limit + 1);
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  const jctx = jsonContext(emu, ctx);
  const parents = new Map<string, string>();
  const hide = emu.shares.hidesShortcuts(emu, header(ctx.req, 'prefer'));
  const body: Record<string, unknown> = { value: page.filter((c) => !(hide && c.kind === 'remote')).map((c) => itemJson(c, jctx, parents)) };
  if (more) {
    const next = new URL(ctx.url.pathname + ctx.url.search, ctx.apiBase);
    next.searchParams.delete('skiptoken');
    next.searchParams.set('$skiptoken', skipToken(page[page.length - 1]!));
    body['@odata.nextLink'] = next.toString();
  }
  sendJson(ctx, 200, body);
}

async function createChild(emu: Served, ctx: Ctx, parent: ItemRow): Promise<void> {
  const body = await readJson(ctx.req);
  if (typeof body.name !== 'string') throw badRequest('A name is required', 'nameMissing');
  if (!('folder' in body)) throw badRequest('Only folders can be created through children; upload files with PUT', 'invalidRequest');
  const behavior = conflictFrom(ctx, body, 'fail');
  const { row } = emu.drive.createFolder(parent.id, body.name, behavior);
  sendJson(ctx, 201, itemJson(row, jsonContext(emu, ctx)));
}

async function patchItem(emu: Served, ctx: Ctx, row: ItemRow): Promise<void> {
  const body = await readJson(ctx.req);
  const patch: { name?: string; parentId?: string; times?: { created?: number; modified?: number }; description?: string } = {};
  if (body.name !== undefined) {
    if (typeof body.name !== 'string') throw badRequest('name must be a string');
    patch.name = body.name;
  }
  if (body.parentReference !== undefined) {
    const ref = body.parentReference as Record<string, unknown>;
    if (ref.driveId !== undefined && !sameDriveId(emu.drive.mode, String(ref.driveId), emu.drive.driveId)) {
      throw badRequest('Moving items between drives is not supported', 'invalidRequest');
    }
    if (typeof ref.id === 'string') {
      if (ref.id === 'root') throw badRequest("Use the root's id to move an item to the root", 'invalidParent');
      patch.parentId = ref.id;
      emu.shares.guardWrite(emu, emu.drive.get(ref.id));
    } else if (typeof ref.path === 'string') {
      const p = ref.path.replace(/^\/drive(s\/[^/]+)?\/root:?/, '');
      patch.parentId = emu.drive.resolve(emu.drive.rootId, p.split('/').filter(Boolean)).id;
    }
  }
  const times = parseTimes(body.fileSystemInfo);
  if (times) patch.times = times;
  if (typeof body.description === 'string') patch.description = body.description;
  const updated = emu.drive.update(row.id, patch, header(ctx.req, 'if-match'));
  sendJson(ctx, 200, itemJson(updated, jsonContext(emu, ctx)));
}

function contentRedirect(emu: Served, ctx: Ctx, row: ItemRow): void {
  if (row.kind === 'package') throw new GraphError(400, 'notSupported', 'Packages such as OneNote notebooks cannot be downloaded');
  if (row.kind !== 'file') throw badRequest('Only files have content', 'notAFile');
  if (notModified(emu, ctx, row)) return;
  sendEmpty(ctx, 302, { location: emu.downloadUrl(row, ctx.storageBase) });
}

async function simpleUpload(emu: Served, ctx: Ctx, target: { itemId: string } | { parentId: string; name: string }): Promise<void> {
  const declared = Number(header(ctx.req, 'content-length') ?? NaN);
  const limit = emu.options.simpleUploadLimit;
  const tooBig = () =>
    new GraphError(413, 'invalidRequest', `Simple upload is limited to ${limit} bytes; use an upload session`, 'maxFileSizeExceeded');
  if (declared > limit) {
    ctx.req.resume();
    throw tooBig();
  }
  const ifMatch = header(ctx.req, 'if-match');
  // The condition holds when the content is committed, not only when the request began: a version
  // written while the body was arriving fails it (checked again below, in the commit's tick).
  const checkIfMatch = () => {
    if (ifMatch === undefined) return;
    const existing = 'itemId' in target ? emu.drive.get(target.itemId) : emu.drive.child(target.parentId, target.name);
    if (existing) emu.drive.checkIfMatch(existing, ifMatch);
    else throw new GraphError(412, 'resourceModified', 'The item does not exist', 'entityTagDoesNotMatch');
  };
  checkIfMatch();
  const behavior = conflictFrom(ctx, undefined, 'replace');
  let ingested;
  try {
    ingested = await emu.content.ingest(ctx.req, { limit });
  } catch (e) {
    if (e instanceof SizeLimitError) throw tooBig();
    throw e;
  }
  let ref: string | undefined;
  try {
    ref = await emu.content.adopt(ingested.file);
    checkIfMatch();
    const { row, created } = emu.drive.commitContent(target, { ref, size: ingested.size, hashes: ingested.hashes }, { behavior });
    ref = undefined;
    sendJson(ctx, created ? 201 : 200, itemJson(row, jsonContext(emu, ctx)));
  } finally {
    if (ref) await emu.content.remove(ref);
  }
}

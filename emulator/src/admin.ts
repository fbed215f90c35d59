/**
 * The admin side (not part of Graph): seed trees, change items "from another device" so delta has
 * something to report, fault knobs, offline, expiry, strict tokens, the identity provider's knobs
 * (approve a device code, expire or revoke tokens, fail refreshes), and the request log. Tests call
 * `emulator.admin` in process; other processes use the admin listener's `/_emu/…` routes.
 */
import type { Served } from './api-routes.ts';
import { badRequest, GraphError } from './errors.ts';
import type { ItemRow } from './drive-db.ts';
import { readJson, sendEmpty, sendJson, type Ctx } from './http-util.ts';
import { itemJson } from './item-json.ts';
import type { FaultSettings, ScriptedError, ThrottleRule } from './faults.ts';
import { fromDirectory, generate, putBytes, seedDemo, type GenerateSpec } from './seed.ts';
import { syntheticRef } from './content-store.ts';
import type { Listener } from './request-log.ts';
import type { IdentityKnobs } from './identity.ts';
import type { ShareAccess } from './state.ts';

export type RemoteChange =
  | { op: 'write'; path: string; content?: string; size?: number }
  | { op: 'mkdir'; path: string }
  | { op: 'move'; path: string; newPath: string }
  | { op: 'delete'; path: string }
  | { op: 'touch'; path: string; modified?: string };

/** One item of a subtree as `GET /_emu/tree` lists it: a path below the subtree's root and its content hashes. */
export interface TreeItem {
  path: string;
  id: string;
  kind: 'file' | 'folder';
  size: number;
  quickXorHash?: string;
  sha256Hash?: string;
  /** A file's modification time (fileSystemInfo.lastModifiedDateTime), ms. */
  modifiedMs?: number;
}

function split(p: string): { parent: string[]; name: string } {
  const parts = p.split('/').filter(Boolean);
  if (parts.length === 0) throw badRequest('A path below the root is required');
  return { parent: parts.slice(0, -1), name: parts[parts.length - 1]! };
}

export class Admin {
  constructor(private readonly emu: Served & { readonly admin: Admin }) {}

  private resolve(p: string): ItemRow {
    return this.emu.drive.resolve(this.emu.drive.rootId, p.split('/').filter(Boolean));
  }

  /** Resolves a path; undefined when missing. */
  item(p: string): ItemRow | undefined {
    try {
      return this.resolve(p);
    } catch (e) {
      if (e instanceof GraphError && e.status === 404) return undefined;
      throw e;
    }
  }

  /** The item as the API would show it (for assertions). */
  itemJson(p: string): Record<string, unknown> | undefined {
    const row = this.item(p);
    return row && itemJson(row, { drive: this.emu.drive, downloadUrl: (r) => this.emu.downloadUrl(r) });
  }

  /** All bytes of a file, for tests (small files only). */
  async readFile(p: string): Promise<Buffer> {
    const row = this.resolve(p);
    if (row.kind !== 'file' || !row.content_ref) return Buffer.alloc(0);
    const chunks: Buffer[] = [];
    for await (const c of this.emu.content.open(row.content_ref, 0, row.size)) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  /**
   * A change made by "another device": it goes through the same drive logic and shows up in delta.
   * `seen` gets the sha256 of the file a write or delete replaced, read in the tick of the change
   * (a look before the call races with a client's upload landing in between).
   */
  async remote(change: RemoteChange, seen?: { previousSha256?: string }): Promise<Record<string, unknown> | undefined> {
    const drive = this.emu.drive;
    const note = (row: ItemRow | undefined) => {
      if (seen && row?.sha256) seen.previousSha256 = row.sha256;
    };
    switch (change.op) {
      case 'mkdir': {
        const { parent, name } = split(change.path);
        const row = drive.createFolder(drive.resolve(drive.rootId, parent).id, name, 'fail').row;
        return itemJson(row, { drive, downloadUrl: (r) => this.emu.downloadUrl(r) });
      }
      case 'write': {
        const { parent, name } = split(change.path);
        const parentId = drive.resolve(drive.rootId, parent).id;
        if (change.content !== undefined) {
          await putBytes(this.emu, parentId, name, Buffer.from(change.content), () => note(drive.child(parentId, name)));
        } else {
          const size = change.size ?? 0;
          const ref = syntheticRef(Math.floor(Math.random() * 1e9));
          const hashes = await this.emu.content.hashesOf(ref, size);
          note(drive.child(parentId, name));
          drive.commitContent({ parentId, name }, { ref, size, hashes }, { behavior: 'replace' });
          await this.emu.flushGarbage();
        }
        return this.itemJson(change.path);
      }
      case 'move': {
        const row = this.resolve(change.path);
        const { parent, name } = split(change.newPath);
        const newParent = drive.resolve(drive.rootId, parent);
        const updated = drive.update(row.id, { name, parentId: newParent.id }, undefined);
        return itemJson(updated, { drive, downloadUrl: (r) => this.emu.downloadUrl(r) });
      }
      case 'delete': {
        const row = this.resolve(change.path);
        note(row);
        drive.delete(row.id, undefined);
        await this.emu.flushGarbage();
        return undefined;
      }
      case 'touch': {
        const row = this.resolve(change.path);
        const modified = change.modified ? Date.parse(change.modified) : this.emu.now();
        const updated = drive.update(row.id, { times: { modified } }, undefined);
        return itemJson(updated, { drive, downloadUrl: (r) => this.emu.downloadUrl(r) });
      }
      default:
        throw badRequest(`Unknown remote change ${(change as { op: string }).op}`);
    }
  }

  /**
   * Every item below `p` (not `p` itself), parents before children, read in one synchronous pass so
   * the listing is a consistent snapshot even while clients change the drive. Hashes are the stored
   * ones, whatever hideHashesMs says: this is the test's view, not a client's.
   */
  tree(p: string): TreeItem[] {
    const drive = this.emu.drive;
    const top = this.resolve(p);
    if (top.kind !== 'folder') throw badRequest(`${p} is not a folder`);
    const out: TreeItem[] = [];
    const walk = (folderId: string, prefix: string): void => {
      for (let after = ''; ; ) {
        const page = drive.children(folderId, after, 1000);
        if (page.length === 0) return;
        for (const row of page) {
          // A shortcut's content is the other drive's (see shares.ts), not part of this tree.
          if (row.kind === 'remote') continue;
          const rel = prefix ? `${prefix}/${row.name}` : row.name;
          out.push({
            path: rel,
            id: row.id,
            kind: row.kind === 'folder' ? 'folder' : 'file',
            size: row.size,
            ...(row.kind !== 'folder' && row.quickxor ? { quickXorHash: row.quickxor } : {}),
            ...(row.kind !== 'folder' && row.sha256 ? { sha256Hash: row.sha256 } : {}),
            ...(row.kind !== 'folder' ? { modifiedMs: row.fs_modified } : {}),
          });
          if (row.kind === 'folder') walk(row.id, rel);
        }
        after = page[page.length - 1]!.name_key;
      }
    };
    walk(top.id, '');
    return out;
  }

  generate(spec: GenerateSpec) {
    return generate(this.emu, spec);
  }

  seedDemo() {
    return seedDemo(this.emu);
  }

  fromDirectory(dir: string, under?: string) {
    return fromDirectory(this.emu, dir, under);
  }

  /** Every delta token issued so far answers 410 resyncRequired. */
  invalidateDeltaTokens(): void {
    this.emu.drive.bumpEpoch();
  }

  /** Forget all tombstones: tokens older than now answer 410 (a token "too old"). */
  purgeTombstones(): number {
    return this.emu.drive.purgeTombstones(this.emu.drive.currentSeq);
  }

  info(): Record<string, unknown> {
    const drive = this.emu.drive;
    const counts = drive.db.db
      .prepare<[], { files: number; folders: number }>(
        "SELECT SUM(kind = 'file') AS files, SUM(kind = 'folder') AS folders FROM items WHERE deleted = 0",
      )
      .get()!;
    return {
      apiUrl: this.emu.apiUrl,
      storageUrl: this.emu.storageBase,
      adminUrl: this.emu.adminUrl,
      mode: drive.mode,
      refuseHashAndPercent: drive.refuseHashAndPercent,
      driveId: drive.driveId,
      rootId: drive.rootId,
      dataDir: this.emu.dataDir,
      offline: this.emu.isOffline,
      files: counts.files ?? 0,
      folders: (counts.folders ?? 1) - 1,
      quota: drive.quota(),
      options: this.emu.options,
    };
  }
}

/** `/_emu/…` over HTTP; bodies and answers are JSON. */
export async function handleAdmin(emu: Served & { readonly admin: Admin }, ctx: Ctx): Promise<void> {
  const q = ctx.url.searchParams;
  // `?drive=other`: seed, change and read the other user's drive (the one that shares folders).
  const admin = q.get('drive') === 'other' ? emu.shares.otherView(emu).admin : emu.admin;
  const method = ctx.req.method ?? 'GET';
  const route = `${method} ${ctx.url.pathname.replace(/^\/_emu/, '').replace(/\/$/, '')}`;
  const body = method === 'POST' || method === 'PUT' ? await readJson(ctx.req, 16 << 20) : {};
  switch (route) {
    case 'GET /info':
      return sendJson(ctx, 200, admin.info());
    case 'POST /seed': {
      if (typeof body.fromDirectory === 'string') return sendJson(ctx, 200, await admin.fromDirectory(body.fromDirectory, body.under as string | undefined));
      if (body.demo === true) return sendJson(ctx, 200, await admin.seedDemo());
      return sendJson(ctx, 200, await admin.generate(body as GenerateSpec));
    }
    case 'POST /remote': {
      const seen: { previousSha256?: string } = {};
      const item = (await admin.remote(body as unknown as RemoteChange, seen)) ?? null;
      return sendJson(ctx, 200, { item, previousSha256: seen.previousSha256 ?? null });
    }
    case 'GET /item': {
      const item = admin.itemJson(q.get('path') ?? '');
      return item ? sendJson(ctx, 200, item) : sendJson(ctx, 404, { error: { code: 'itemNotFound', message: 'Item not found' } });
    }
    case 'GET /tree':
      return sendJson(ctx, 200, { items: admin.tree(q.get('path') ?? '') });
    case 'GET /content': {
      const bytes = await admin.readFile(q.get('path') ?? '');
      ctx.res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) });
      ctx.res.end(bytes);
      return;
    }
    case 'GET /shares':
      return sendJson(ctx, 200, { shares: emu.shares.list() });
    case 'POST /shares': {
      if (typeof body.path !== 'string') throw badRequest('path (a folder of the other drive) is required');
      const options: { name?: string; addToDrive?: boolean } = {};
      if (typeof body.name === 'string') options.name = body.name;
      if (body.addToDrive === false) options.addToDrive = false;
      return sendJson(ctx, 200, emu.shares.share(body.path, (body.access ?? 'read') as ShareAccess, options));
    }
    case 'DELETE /shares':
      emu.shares.unshare(q.get('path') ?? '');
      return sendEmpty(ctx, 204);
    case 'GET /faults':
      return sendJson(ctx, 200, emu.faults.snapshot());
    case 'POST /faults':
      emu.faults.set(body as FaultSettings);
      return sendJson(ctx, 200, emu.faults.snapshot());
    case 'POST /faults/throttle':
      emu.faults.throttle(body as unknown as ThrottleRule);
      return sendJson(ctx, 200, emu.faults.snapshot());
    case 'POST /faults/fail':
      emu.faults.failNext(body as unknown as ScriptedError);
      return sendJson(ctx, 200, emu.faults.snapshot());
    case 'DELETE /faults':
      emu.faults.reset();
      return sendEmpty(ctx, 204);
    case 'POST /offline':
      await emu.setOffline(body.offline !== false);
      return sendJson(ctx, 200, { offline: emu.isOffline });
    case 'POST /expire': {
      const what = String(body.what);
      if (what === 'sessions') {
        emu.sessions.expireAll();
        if (emu.shares.drive) emu.shares.otherView(emu).sessions.expireAll();
      }
      else if (what === 'downloadUrls') emu.expireDownloadUrls();
      else if (what === 'deltaTokens') admin.invalidateDeltaTokens();
      else if (what === 'tombstones') admin.purgeTombstones();
      else throw badRequest('what must be sessions, downloadUrls, deltaTokens or tombstones');
      return sendEmpty(ctx, 204);
    }
    case 'POST /knobs': {
      if (typeof body.hideHashesMs === 'number') emu.drive.hideHashesMs = body.hideHashesMs;
      if (typeof body.quotaTotal === 'number') emu.drive.quotaTotal = body.quotaTotal;
      if (typeof body.copyDelayMs === 'number') emu.copyDelayMs = body.copyDelayMs;
      if (typeof body.refuseHashAndPercent === 'boolean') emu.drive.refuseHashAndPercent = body.refuseHashAndPercent;
      return sendJson(ctx, 200, admin.info());
    }
    case 'POST /tokens': {
      if (typeof body.token !== 'string' || body.token === '') throw badRequest('token is required');
      emu.tokens.set(body.token, { expiresAt: emu.now() + Number(body.expiresInSec ?? 3600) * 1000 });
      return sendEmpty(ctx, 204);
    }
    case 'DELETE /tokens':
      emu.tokens.delete(q.get('token') ?? '');
      return sendEmpty(ctx, 204);
    case 'GET /identity':
      return sendJson(ctx, 200, { knobs: emu.identity.knobs, user: emu.identity.user, pendingDeviceCodes: emu.identity.pendingDeviceCodes(), grants: emu.identity.grants });
    case 'POST /identity/knobs':
      try {
        return sendJson(ctx, 200, emu.identity.setKnobs(body as Partial<IdentityKnobs>));
      } catch (e) {
        throw badRequest(e instanceof Error ? e.message : String(e));
      }
    case 'POST /identity/user':
      if (typeof body.username !== 'string' || body.username === '') throw badRequest('username is required');
      emu.identity.user = { ...emu.identity.user, username: body.username, ...(typeof body.name === 'string' ? { name: body.name } : {}) };
      return sendJson(ctx, 200, emu.identity.user);
    case 'POST /identity/device': {
      try {
        const decision = body.decline === true ? 'declined' : 'approved';
        return sendJson(ctx, 200, { userCode: emu.identity.approveDevice(typeof body.userCode === 'string' ? body.userCode : undefined, decision) });
      } catch (e) {
        throw new GraphError(404, 'itemNotFound', e instanceof Error ? e.message : String(e));
      }
    }
    case 'POST /identity/expire':
      return sendJson(ctx, 200, { expired: emu.identity.expireAccessTokens() });
    case 'POST /identity/revoke':
      emu.identity.revokeAll();
      return sendEmpty(ctx, 204);
    case 'GET /identity/issued':
      return sendJson(ctx, 200, { tokens: emu.identity.issuedTokens() });
    case 'GET /log':
      return sendJson(ctx, 200, {
        entries: emu.log.list({
          since: Number(q.get('since') ?? 0),
          listener: (q.get('listener') as Listener | null) ?? undefined,
          method: q.get('method') ?? undefined,
          pathIncludes: q.get('path') ?? undefined,
        }),
        lastSeq: emu.log.lastSeq,
        inflight: emu.log.inflight,
      });
    case 'DELETE /log':
      emu.log.clear();
      return sendEmpty(ctx, 204);
    case 'GET /client-faults':
      return sendJson(ctx, 200, { faults: emu.log.clientFaults() });
    case 'GET /sessions':
      return sendJson(ctx, 200, { sessions: emu.sessions.list() });
    default:
      throw new GraphError(404, 'itemNotFound', `Unknown admin route ${route}`);
  }
}

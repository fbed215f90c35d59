/**
 * Shared folders (docs/graph-api.md §2.2): a second drive, owned by another user, shares folders
 * with the signed-in user, read-only or read-write; a share "added to My files" is a shortcut item
 * (kind `remote`) in the user's drive whose `remoteItem` names the other drive and folder.
 *
 * - Requests to `/drives/{otherDriveId}/…` are served by a view of the emulator whose `drive` (and
 *   upload sessions, and admin) is the other drive; every handler works unchanged on it.
 * - The signed-in user sees only what is shared: an item outside every share answers 403
 *   accessDenied; a write (create, upload, rename, move, delete) in a read-only share answers 403
 *   accessDenied too, and so does deleting or moving the shared folder itself.
 * - Delta on a share: Personal serves `/drives/{d}/items/{shared}/delta`; Business only serves a
 *   drive's root delta, which for the other drive lists only what the user can see (the shared
 *   folders and everything below them) — the permission-trimmed view.
 * - Personal (since 2025) lists shortcuts in children and delta only for a request carrying
 *   `Prefer: Include-Feature=AddToOneDrive`; Business always lists them.
 */
import path from 'node:path';
import { existsSync } from 'node:fs';
import { Drive } from './drive.ts';
import type { ItemRow } from './drive-db.ts';
import { badRequest, GraphError } from './errors.ts';
import { Sessions } from './sessions.ts';
import { Admin } from './admin.ts';
import type { EmulatorState, ShareAccess, ShareInfo, SharesState } from './state.ts';

/** The emulator as the shares see it: its state plus the parts a view replaces. */
type Base = EmulatorState & { readonly sessions: Sessions; readonly admin: Admin };

export const OTHER_USER = { id: 'other-user', displayName: 'Other User' } as const;
const OTHER_DRIVE_FILE = 'other-drive.sqlite';

export class Shares implements SharesState {
  #drive: Drive | undefined;
  #view: Base | undefined;

  constructor(private readonly emu: Base) {
    emu.drive.remoteItemOf = (row) => this.remoteItemJson(row);
    // A data directory that already holds the other drive (a restarted emulator) serves it at once.
    if (existsSync(path.join(emu.dataDir, OTHER_DRIVE_FILE))) this.open();
  }

  /** The other user's drive, when it exists. */
  get drive(): Drive | undefined {
    return this.#drive;
  }

  /** Opens (creating on first use) the other user's drive, in the same mode as the user's. */
  open(): Drive {
    if (this.#drive) return this.#drive;
    const drive = Drive.open(path.join(this.emu.dataDir, OTHER_DRIVE_FILE), { mode: this.emu.drive.mode, quotaTotal: this.emu.drive.quotaTotal, now: this.emu.now });
    this.#drive = drive;
    const overrides: Record<string | symbol, unknown> = { drive };
    const view = new Proxy(this.emu, {
      get: (target, prop) => (prop in overrides ? overrides[prop] : Reflect.get(target, prop, target)),
      // Counters and knobs set through the view belong to the emulator itself.
      set: (target, prop, value) => Reflect.set(target, prop, value, target),
    });
    overrides.sessions = new Sessions(view);
    overrides.admin = new Admin(view);
    this.#view = view;
    return drive;
  }

  close(): void {
    this.#drive?.close();
  }

  /** The emulator as seen for requests to `driveId`: `base` itself, the other drive's view, or undefined. */
  viewFor<T extends EmulatorState>(base: T, driveId: string): T | undefined {
    if (sameId(this.emu.drive.mode, driveId, this.emu.drive.driveId)) return base;
    // The view is the emulator (`base` is it) with the other drive's drive, sessions and admin.
    if (this.#drive && sameId(this.#drive.mode, driveId, this.#drive.driveId)) return this.#view as unknown as T;
    return undefined;
  }

  /** True when `emu` is the other drive's view. */
  isOther(emu: EmulatorState): boolean {
    return this.#drive !== undefined && emu.drive === this.#drive;
  }

  /** The other drive's view (opening the drive on first use). */
  otherView<T extends EmulatorState>(_base: T): T {
    this.open();
    return this.#view as unknown as T;
  }

  holdsSession(id: string): boolean {
    return this.#drive?.db.statements.sessionGet.get(id) !== undefined;
  }

  // ---- admin ---------------------------------------------------------------------------------

  /**
   * Shares the other drive's folder at `folderPath` (created when missing) with the user, and
   * unless `addToDrive` is false adds it to the root of the user's drive as `name`. Sharing an
   * already shared folder again changes its access.
   */
  share(folderPath: string, access: ShareAccess, options: { name?: string; addToDrive?: boolean } = {}): ShareInfo {
    if (access !== 'read' && access !== 'write') throw badRequest("access must be 'read' or 'write'");
    const drive = this.open();
    let id = drive.rootId;
    const segments = folderPath.split('/').filter(Boolean);
    if (segments.length === 0) throw badRequest('A folder below the root of the other drive is required');
    for (const seg of segments) {
      const existing = drive.child(id, seg);
      if (existing && existing.kind !== 'folder') throw badRequest(`${seg} in the other drive is not a folder`);
      id = existing ? existing.id : drive.createFolder(id, seg, 'fail').row.id;
    }
    drive.db.db.prepare('INSERT INTO shares (item_id, access) VALUES (?, ?) ON CONFLICT(item_id) DO UPDATE SET access = excluded.access').run(id, access);
    let shortcut = this.emu.drive.shortcutsTo(id)[0];
    if (!shortcut && options.addToDrive !== false) {
      shortcut = this.emu.drive.addShortcut(this.emu.drive.rootId, options.name ?? segments[segments.length - 1]!, { driveId: drive.driveId, itemId: id });
    }
    return { driveId: drive.driveId, itemId: id, path: '/' + segments.join('/'), access, shortcutId: shortcut?.id };
  }

  /** Stops sharing the folder; its shortcuts leave the user's drive (delta reports them deleted). */
  unshare(folderPath: string): void {
    const drive = this.open();
    const row = drive.resolve(drive.rootId, folderPath.split('/').filter(Boolean));
    drive.db.db.prepare('DELETE FROM shares WHERE item_id = ?').run(row.id);
    for (const shortcut of this.emu.drive.shortcutsTo(row.id)) this.emu.drive.delete(shortcut.id, undefined);
  }

  list(): ShareInfo[] {
    const drive = this.#drive;
    if (!drive) return [];
    const rows = drive.db.db.prepare<[], { item_id: string; access: ShareAccess }>('SELECT item_id, access FROM shares').all();
    return rows.flatMap(({ item_id, access }) => {
      const row = drive.row(item_id);
      if (!row || row.deleted) return [];
      return [{ driveId: drive.driveId, itemId: row.id, path: drive.pathOf(row), access, shortcutId: this.emu.drive.shortcutsTo(row.id)[0]?.id }];
    });
  }

  // ---- access --------------------------------------------------------------------------------

  /** The share an item of the other drive is in (itself or its nearest shared ancestor), tombstones included. */
  shareOf(row: ItemRow): { itemId: string; access: ShareAccess } | undefined {
    const drive = this.#drive;
    if (!drive) return undefined;
    const get = drive.db.db.prepare<[string], { access: ShareAccess }>('SELECT access FROM shares WHERE item_id = ?');
    for (let cur: ItemRow | undefined = row; cur; cur = cur.parent_id ? drive.row(cur.parent_id) : undefined) {
      const share = get.get(cur.id);
      if (share) return { itemId: cur.id, access: share.access };
    }
    return undefined;
  }

  /** Refuses a read of an item of the other drive that is not shared with the user. */
  guardRead(emu: EmulatorState, row: ItemRow): void {
    if (!this.isOther(emu)) return;
    if (!this.shareOf(row)) throw accessDenied();
  }

  /**
   * Refuses a write in the other drive outside a read-write share. `ownItem`: the write changes or
   * removes `row` itself (rename, move, delete), which the shared folder itself never allows.
   */
  guardWrite(emu: EmulatorState, row: ItemRow, ownItem = false): void {
    if (!this.isOther(emu)) return;
    const share = this.shareOf(row);
    if (!share) throw accessDenied();
    if (share.access !== 'write') throw accessDenied('This folder is shared with you read-only.');
    if (ownItem && share.itemId === row.id) throw accessDenied('The shared folder itself belongs to its owner.');
  }

  /** What of the other drive a root delta shows the user: shared folders and what is below them. */
  visibleInDelta(emu: EmulatorState): ((row: ItemRow) => boolean) | undefined {
    if (!this.isOther(emu)) return undefined;
    return (row) => this.shareOf(row) !== undefined;
  }

  /** Personal hides shortcuts from requests without `Prefer: Include-Feature=AddToOneDrive`. */
  hidesShortcuts(emu: EmulatorState, prefer: string | undefined): boolean {
    if (emu.drive.mode !== 'personal') return false;
    return !/include-feature\s*=\s*addtoonedrive/i.test(prefer ?? '');
  }

  // ---- JSON ----------------------------------------------------------------------------------

  /** The `remoteItem` facet of a shortcut row of the user's drive. */
  remoteItemJson(shortcut: ItemRow): Record<string, unknown> {
    const target = this.emu.drive.shortcutTarget(shortcut.id);
    if (!target) return {};
    const driveType = this.emu.drive.mode === 'personal' ? 'personal' : 'business';
    const out: Record<string, unknown> = { id: target.itemId, parentReference: { driveId: target.driveId, driveType } };
    const drive = this.#drive;
    const row = drive?.row(target.itemId);
    if (!drive || !row || row.deleted) return out;
    out.name = row.name;
    out.size = row.size;
    out.parentReference = { driveId: drive.driveId, driveType, id: row.parent_id ?? undefined };
    out.folder = { childCount: drive.childCount(row.id) };
    out.createdBy = { user: OTHER_USER };
    out.shared = { owner: { user: OTHER_USER } };
    out.fileSystemInfo = { createdDateTime: new Date(row.fs_created).toISOString(), lastModifiedDateTime: new Date(row.fs_modified).toISOString() };
    return out;
  }

  /** `GET …/items/{id}/permissions`: the user's own permission on the item. */
  permissionsJson(emu: EmulatorState, row: ItemRow): Record<string, unknown>[] {
    const me = { user: { id: 'emulator-user', displayName: 'Emulator User' } };
    if (!this.isOther(emu)) return [{ id: 'owner', roles: ['owner'], grantedTo: me, grantedToV2: me }];
    const share = this.shareOf(row);
    if (!share) throw accessDenied();
    const permission: Record<string, unknown> = { id: `share-${share.itemId}`, roles: [share.access], grantedTo: me, grantedToV2: me };
    if (share.itemId !== row.id) permission.inheritedFrom = { driveId: emu.drive.driveId, id: share.itemId };
    return [permission];
  }
}

export function accessDenied(message = 'Access denied. You do not have permission to perform this action or access this resource.'): GraphError {
  return new GraphError(403, 'accessDenied', message);
}

function sameId(mode: Drive['mode'], a: string, b: string): boolean {
  if (a === b) return true;
  if (mode !== 'personal') return false;
  const norm = (s: string) => s.toLowerCase().replace(/^0+/, '');
  return norm(a) === norm(b);
}

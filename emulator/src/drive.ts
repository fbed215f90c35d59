/**
 * The drive's semantics: the tree, names, eTag/cTag, sizes, tombstones and the change sequence that
 * delta reads. Everything here is synchronous SQLite work in small transactions; byte streams are the
 * ContentStore's business.
 */
import path from 'node:path';
import { conflictFreeName, MAX_PATH_CHARS, nameKey, validateName, type NameRules } from '../../src-shared/model/names.ts';
import type { ContentHashes } from './content-store.ts';
import { DriveDb, type ItemKind, type ItemRow } from './drive-db.ts';
import { badRequest, nameExists, notFound, preconditionFailed, quotaExceeded, GraphError } from './errors.ts';
import { cTagOf, eTagOf, newDriveId, newItemId, type DriveMode } from './ids.ts';

export type ConflictBehavior = 'fail' | 'replace' | 'rename';

export interface DriveOptions {
  mode: DriveMode;
  quotaTotal: number;
  now: () => number;
  /** Business only: the tenant refuses `#` and `%` in names (SharePoint's SpecialCharactersStateInFileFolderNames set to disallowed). */
  refuseHashAndPercent?: boolean;
}

export interface NewContent {
  ref: string;
  size: number;
  hashes: ContentHashes;
}

export interface FileTimes {
  created?: number;
  modified?: number;
}

/** Whole seconds, as OneDrive keeps client-supplied times (docs/graph-api.md §1). */
export function wholeSeconds(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

export function parseConflictBehavior(value: unknown, fallback: ConflictBehavior): ConflictBehavior {
  if (value === undefined || value === null || value === '') return fallback;
  if (value === 'fail' || value === 'replace' || value === 'rename') return value;
  throw badRequest(`Invalid conflict behavior '${String(value)}'`, 'invalidConflictBehavior');
}

const MIME: Record<string, string> = {
  '.txt': 'text/plain',
  '.md': 'text/markdown',
  '.json': 'application/json',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.pdf': 'application/pdf',
  '.mp3': 'audio/mpeg',
  '.mp4': 'video/mp4',
  '.docx': 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  '.xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  '.zip': 'application/zip',
  '.iso': 'application/octet-stream',
};

export function mimeOf(name: string): string {
  return MIME[path.extname(name).toLowerCase()] ?? 'application/octet-stream';
}

export class Drive {
  readonly driveId: string;
  readonly rootId: string;
  readonly mode: DriveMode;
  /** The tenant option of business drives: refuse `#` and `%` in names (default: accept them, as tenants do today). */
  refuseHashAndPercent = false;
  /** Bumped by an admin "invalidate delta tokens" call: every older token answers 410. */
  epoch: number;
  private seq: number;
  private counter: number;
  quotaTotal: number;
  /** Blob refs no longer referenced; the caller deletes them from disk after the transaction. */
  private readonly garbage: string[] = [];
  /** Knob: after a write, hide hashes for this long (docs/graph-api.md §2.2). */
  hideHashesMs = 0;
  /** The `remoteItem` facet of a shortcut row (set by the emulator, which knows the other drive). */
  remoteItemOf: ((row: ItemRow) => Record<string, unknown>) | undefined;

  private constructor(
    readonly db: DriveDb,
    private readonly opts: DriveOptions,
  ) {
    this.refuseHashAndPercent = opts.refuseHashAndPercent === true;
    const existing = db.meta('driveId');
    if (existing) {
      this.driveId = existing;
      this.rootId = db.meta('rootId')!;
      this.mode = db.meta('mode') as DriveMode;
      this.epoch = Number(db.meta('epoch'));
      this.seq = Number(db.meta('seq'));
      this.counter = Number(db.meta('counter'));
      this.quotaTotal = Number(db.meta('quotaTotal'));
      if (this.mode !== opts.mode) {
        throw new Error(`the data directory holds a ${this.mode} drive; remove it or start in ${this.mode} mode`);
      }
      return;
    }
    this.mode = opts.mode;
    this.driveId = newDriveId(opts.mode);
    this.counter = 100;
    this.seq = 0;
    this.epoch = 1;
    this.quotaTotal = opts.quotaTotal;
    this.rootId = newItemId(this.mode, this.driveId, ++this.counter);
    const now = opts.now();
    db.tx(() => {
      db.statements.insert.run(this.newRow(this.rootId, null, 'root', 'folder', 0, now));
      db.setMeta('driveId', this.driveId);
      db.setMeta('rootId', this.rootId);
      db.setMeta('mode', this.mode);
      db.setMeta('quotaTotal', this.quotaTotal);
      this.saveCounters();
    });
  }

  static open(file: string, opts: DriveOptions): Drive {
    const db = new DriveDb(file);
    try {
      return new Drive(db, opts);
    } catch (e) {
      // A refused start (mode mismatch) must not leave the database open.
      db.close();
      throw e;
    }
  }

  /**
   * A transaction whose blob garbage is discarded on rollback: refs queued by a removal that was
   * rolled back are still referenced and must not be deleted from disk.
   */
  private tx<T>(fn: () => T): T {
    const mark = this.garbage.length;
    try {
      return this.db.tx(fn);
    } catch (e) {
      this.garbage.length = mark;
      throw e;
    }
  }

  close(): void {
    this.db.close();
  }

  now(): number {
    return this.opts.now();
  }

  get currentSeq(): number {
    return this.seq;
  }

  private saveCounters(): void {
    this.db.setMeta('seq', this.seq);
    this.db.setMeta('counter', this.counter);
    this.db.setMeta('epoch', this.epoch);
  }

  bumpEpoch(): void {
    this.epoch++;
    this.db.setMeta('epoch', this.epoch);
  }

  takeGarbage(): string[] {
    return this.garbage.splice(0);
  }

  // ---- reads -------------------------------------------------------------------------------

  /** Any row, tombstones included. */
  row(id: string): ItemRow | undefined {
    return this.db.statements.byId.get(id);
  }

  get(id: string): ItemRow {
    const row = this.row(id === 'root' ? this.rootId : id);
    if (!row || row.deleted) throw notFound();
    return row;
  }

  child(parentId: string, name: string): ItemRow | undefined {
    return this.db.statements.child.get(parentId, nameKey(name));
  }

  /** Resolves `a/b/c` below an item; each segment already percent-decoded. */
  resolve(baseId: string, segments: string[]): ItemRow {
    let cur = this.get(baseId);
    for (const seg of segments) {
      if (seg === '') continue;
      if (cur.kind === 'file') throw notFound();
      const next = this.child(cur.id, seg);
      if (!next) throw notFound();
      cur = next;
    }
    return cur;
  }

  children(parentId: string, afterKey: string, limit: number): ItemRow[] {
    return this.db.statements.children.all(parentId, afterKey, limit);
  }

  childCount(id: string): number {
    return this.db.statements.childCount.get(id)!.n;
  }

  /** Live files in the drive (B reports it as quota.fileCount). */
  fileCount(): number {
    return this.db.statements.fileCount.get()!.n;
  }

  /** Ancestors from the parent up to the root. */
  ancestors(row: ItemRow): ItemRow[] {
    const out: ItemRow[] = [];
    let pid = row.parent_id;
    while (pid) {
      const p = this.row(pid);
      if (!p) break;
      out.push(p);
      pid = p.parent_id;
    }
    return out;
  }

  /** `/a/b` for an item below the root, `` for the root. */
  pathOf(row: ItemRow): string {
    if (row.id === this.rootId) return '';
    const names = this.ancestors(row)
      .filter((a) => a.id !== this.rootId)
      .map((a) => a.name)
      .reverse();
    return '/' + [...names, row.name].join('/');
  }

  eTag(row: ItemRow): string {
    return eTagOf(this.mode, row.id, row.etag_seq);
  }

  cTag(row: ItemRow): string {
    return cTagOf(this.mode, row.id, row.ctag_seq);
  }

  /** If-Match / If-None-Match compare against the eTag or the cTag. */
  matches(row: ItemRow, tag: string): boolean {
    const t = tag.trim();
    if (t === '*') return true;
    return t === this.eTag(row) || t === this.cTag(row) || t === `"${this.eTag(row)}"` || t === `W/${this.eTag(row)}`;
  }

  checkIfMatch(row: ItemRow, ifMatch: string | undefined): void {
    if (ifMatch !== undefined && !this.matches(row, ifMatch)) throw preconditionFailed();
  }

  quota(): { total: number; used: number; remaining: number; deleted: number; state: string; fileCount?: number } {
    const used = this.get(this.rootId).size;
    const total = this.quotaTotal;
    const remaining = Math.max(0, total - used);
    const state = used > total ? 'exceeded' : remaining < total * 0.01 ? 'critical' : remaining < total * 0.1 ? 'nearing' : 'normal';
    const deleted = this.db.statements.deletedBytes.get()!.b ?? 0;
    return { total, used, remaining, deleted, state };
  }

  // ---- writes ------------------------------------------------------------------------------

  /** What this drive accepts in names: its kind and its tenant's choice. */
  get nameRules(): NameRules {
    return { mode: this.mode, refuseHashAndPercent: this.refuseHashAndPercent };
  }

  private checkName(name: string): void {
    const problem = validateName(name, this.nameRules);
    if (problem) throw new GraphError(400, 'invalidRequest', problem.message, 'invalidPath');
  }

  /**
   * Whole paths must stay shorter than 400 characters (docs/graph-api.md §3): `name` placed in `parent`,
   * plus the longest path below `subtreeOf` when a folder moves or is renamed or copied with its contents.
   */
  private checkPathLength(parent: ItemRow, name: string, subtreeOf?: string): void {
    const below = subtreeOf ? (this.db.statements.longestPathBelow.get(subtreeOf)?.n ?? 0) : 0;
    const length = this.pathOf(parent).length + 1 + name.length + below;
    if (length >= MAX_PATH_CHARS) {
      throw new GraphError(400, 'invalidRequest', `The path would be ${length} characters long; OneDrive paths must be shorter than ${MAX_PATH_CHARS}.`, 'invalidPath');
    }
  }

  private requireFolder(id: string): ItemRow {
    const parent = this.get(id);
    if (parent.kind !== 'folder') throw badRequest('The parent item is not a folder', 'invalidParent');
    return parent;
  }

  private nextId(): string {
    return newItemId(this.mode, this.driveId, ++this.counter);
  }

  /** Stamps a change: a new place in the delta feed, a new eTag, and on content changes a new cTag. */
  private stamp(row: ItemRow, content: boolean): void {
    row.seq = ++this.seq;
    row.etag_seq++;
    if (content) row.ctag_seq++;
    row.modified_at = this.now();
  }

  /** P folders' cTag changes when anything below changes (docs/graph-api.md §2.2). */
  private touchAncestorsCTag(parentId: string | null): void {
    if (this.mode !== 'personal') return;
    let pid = parentId;
    while (pid) {
      const p = this.row(pid);
      if (!p) break;
      this.db.db.prepare('UPDATE items SET ctag_seq = ctag_seq + 1 WHERE id = ?').run(pid);
      pid = p.parent_id;
    }
  }

  private addSize(fromId: string | null, delta: number): void {
    if (delta === 0) return;
    let pid = fromId;
    while (pid) {
      this.db.statements.sizeAdd.run(delta, pid);
      pid = this.row(pid)?.parent_id ?? null;
    }
  }

  private write(row: ItemRow): void {
    this.db.statements.update.run(row);
  }

  /** A new item's row below `parent`, made now: the fields every new child starts with. */
  private newChildRow(parent: ItemRow, name: string, kind: ItemRow['kind'], now: number): ItemRow {
    return this.newRow(this.nextId(), parent.id, name, kind, parent.depth + 1, now);
  }

  /** A new item's row at its first version (the root's too). */
  private newRow(id: string, parentId: string | null, name: string, kind: ItemRow['kind'], depth: number, now: number): ItemRow {
    return {
      ...blankRow(),
      id,
      parent_id: parentId,
      name,
      name_key: nameKey(name),
      kind,
      depth,
      etag_seq: 1,
      ctag_seq: 1,
      created_at: now,
      modified_at: now,
      fs_created: wholeSeconds(now),
      fs_modified: wholeSeconds(now),
      seq: ++this.seq,
    };
  }

  private insert(row: ItemRow): ItemRow {
    this.db.statements.insert.run(row);
    return this.row(row.id)!;
  }

  /** Applies a conflict behaviour to a name clash; returns the name to use (rename) or undefined after replace. */
  private resolveClash(parentId: string, name: string, behavior: ConflictBehavior, keepFileId: boolean): { name: string; existing?: ItemRow } {
    const existing = this.child(parentId, name);
    if (!existing) return { name };
    if (behavior === 'fail') throw nameExists(name);
    if (behavior === 'rename') {
      const free = conflictFreeName(name, (key) => this.db.statements.child.get(parentId, key) !== undefined);
      return { name: free };
    }
    if (keepFileId && existing.kind === 'file') return { name, existing };
    this.removeTree(existing);
    return { name };
  }

  createFolder(parentId: string, name: string, behavior: ConflictBehavior): { row: ItemRow; created: boolean } {
    this.checkName(name);
    return this.tx(() => {
      const parent = this.requireFolder(parentId);
      const { name: finalName } = this.resolveClash(parent.id, name, behavior, false);
      this.checkPathLength(parent, finalName);
      const now = this.now();
      const row = this.insert(this.newChildRow(parent, finalName, 'folder', now));
      this.touchAncestorsCTag(parent.id);
      this.saveCounters();
      return { row, created: true };
    });
  }

  /** Creates or replaces a file's content at parent/name (path-addressed) or by id. 201 vs 200 is `created`. */
  commitContent(
    target: { parentId: string; name: string } | { itemId: string },
    content: NewContent,
    opts: { behavior: ConflictBehavior; times?: FileTimes; kind?: ItemKind },
  ): { row: ItemRow; created: boolean } {
    return this.tx(() => {
      let existing: ItemRow | undefined;
      let parent: ItemRow;
      let name: string;
      if ('itemId' in target) {
        existing = this.get(target.itemId);
        if (existing.kind !== 'file') throw badRequest('Only files have content', 'notAFile');
        parent = this.get(existing.parent_id!);
        name = existing.name;
      } else {
        this.checkName(target.name);
        parent = this.requireFolder(target.parentId);
        const clash = this.resolveClash(parent.id, target.name, opts.behavior, true);
        name = clash.name;
        existing = clash.existing;
        if (!existing) this.checkPathLength(parent, name);
      }
      const oldSize = existing?.size ?? 0;
      const grow = content.size - oldSize;
      if (grow > 0 && this.get(this.rootId).size + grow > this.quotaTotal) throw quotaExceeded();
      const now = this.now();
      const hidden = this.hideHashesMs > 0 ? now + this.hideHashesMs : 0;
      if (existing) {
        if (existing.content_ref) this.garbage.push(existing.content_ref);
        const row: ItemRow = {
          ...existing,
          size: content.size,
          content_ref: content.ref,
          quickxor: content.hashes.quickXorHash,
          sha256: content.hashes.sha256Hash,
          hashes_hidden_until: hidden,
          fs_modified: opts.times?.modified !== undefined ? wholeSeconds(opts.times.modified) : wholeSeconds(now),
          fs_created: opts.times?.created !== undefined ? wholeSeconds(opts.times.created) : existing.fs_created,
        };
        this.stamp(row, true);
        this.write(row);
        this.addSize(row.parent_id, grow);
        this.touchAncestorsCTag(row.parent_id);
        this.saveCounters();
        return { row: this.row(row.id)!, created: false };
      }
      const row = this.insert({
        ...blankRow(),
        id: this.nextId(),
        parent_id: parent.id,
        name,
        name_key: nameKey(name),
        kind: opts.kind ?? 'file',
        depth: parent.depth + 1,
        size: content.size,
        mime: mimeOf(name),
        content_ref: content.ref,
        quickxor: content.hashes.quickXorHash,
        sha256: content.hashes.sha256Hash,
        hashes_hidden_until: hidden,
        etag_seq: 1,
        ctag_seq: 1,
        created_at: now,
        modified_at: now,
        fs_created: wholeSeconds(opts.times?.created ?? now),
        fs_modified: wholeSeconds(opts.times?.modified ?? now),
        seq: ++this.seq,
      });
      this.addSize(parent.id, content.size);
      this.touchAncestorsCTag(parent.id);
      this.saveCounters();
      return { row, created: true };
    });
  }

  /** PATCH: rename, move, fileSystemInfo, description. */
  update(
    id: string,
    patch: { name?: string; parentId?: string; times?: FileTimes; description?: string },
    ifMatch: string | undefined,
  ): ItemRow {
    return this.tx(() => {
      const row = { ...this.get(id) };
      this.checkIfMatch(row, ifMatch);
      const moving = patch.parentId !== undefined && patch.parentId !== row.parent_id;
      const renaming = patch.name !== undefined && patch.name !== row.name;
      if ((moving || renaming) && row.id === this.rootId) throw badRequest('The root cannot be moved or renamed', 'invalidRoot');
      if (renaming) this.checkName(patch.name!);
      const oldParent = row.parent_id;
      if (moving || renaming) {
        const newParent = this.requireFolder(moving ? patch.parentId! : row.parent_id!);
        if (moving) {
          for (let p: ItemRow | undefined = newParent; p; p = p.parent_id ? this.row(p.parent_id) : undefined) {
            if (p.id === row.id) throw badRequest('An item cannot be moved into itself or its own descendant', 'invalidMove');
          }
        }
        const newName = patch.name ?? row.name;
        const clash = this.child(newParent.id, newName);
        if (clash && clash.id !== row.id) throw nameExists(newName);
        this.checkPathLength(newParent, newName, row.kind === 'folder' ? row.id : undefined);
        if (moving) {
          const depthDelta = newParent.depth + 1 - row.depth;
          if (depthDelta !== 0) this.shiftDepth(row.id, depthDelta);
          row.depth += depthDelta;
          this.addSize(oldParent, -row.size);
          this.addSize(newParent.id, row.size);
          row.parent_id = newParent.id;
        }
        row.name = newName;
        row.name_key = nameKey(newName);
      }
      if (patch.times?.created !== undefined) row.fs_created = wholeSeconds(patch.times.created);
      if (patch.times?.modified !== undefined) row.fs_modified = wholeSeconds(patch.times.modified);
      if (patch.description !== undefined) row.description = patch.description;
      this.stamp(row, false);
      this.write(row);
      this.touchAncestorsCTag(oldParent);
      if (moving) this.touchAncestorsCTag(row.parent_id);
      this.saveCounters();
      return this.row(row.id)!;
    });
  }

  private shiftDepth(folderId: string, delta: number): void {
    for (const { id } of this.db.statements.childIds.all(folderId)) {
      this.db.statements.depthAdd.run(delta, id);
      this.shiftDepth(id, delta);
    }
  }

  delete(id: string, ifMatch: string | undefined): void {
    this.tx(() => {
      const row = this.get(id);
      if (row.id === this.rootId) throw new GraphError(403, 'accessDenied', 'The root cannot be deleted');
      this.checkIfMatch(row, ifMatch);
      this.removeTree(row);
      this.saveCounters();
    });
  }

  /** Tombstones an item and everything below it (children first, so the feed has them before the folder). */
  private removeTree(row: ItemRow): void {
    for (const { id } of this.db.statements.childIds.all(row.id)) this.removeTree(this.row(id)!);
    const tomb: ItemRow = { ...this.row(row.id)!, deleted: 1 };
    this.stamp(tomb, false);
    if (tomb.content_ref) this.garbage.push(tomb.content_ref);
    tomb.content_ref = null;
    this.write(tomb);
    if (tomb.kind !== 'folder') this.addSize(tomb.parent_id, -tomb.size);
    this.touchAncestorsCTag(tomb.parent_id);
  }

  /** Copies a file or folder tree (content refs are shared by copy-on-write: blobs are never modified in place). */
  copy(id: string, parentId: string, name: string | undefined, behavior: ConflictBehavior, sharedRef: (ref: string) => string): ItemRow {
    return this.tx(() => {
      const src = this.get(id);
      const parent = this.requireFolder(parentId);
      if (src.id === this.rootId) throw badRequest('The root cannot be copied', 'invalidRequest');
      for (let p: ItemRow | undefined = parent; p; p = p.parent_id ? this.row(p.parent_id) : undefined) {
        if (p.id === src.id) throw badRequest('An item cannot be copied into itself or its own descendant', 'invalidCopy');
      }
      const wanted = name ?? src.name;
      this.checkName(wanted);
      const { name: finalName } = this.resolveClash(parent.id, wanted, behavior, false);
      this.checkPathLength(parent, finalName, src.kind === 'folder' ? src.id : undefined);
      if (src.size > 0 && this.get(this.rootId).size + src.size > this.quotaTotal) throw quotaExceeded();
      const out = this.copyTree(src, parent, finalName, sharedRef);
      this.saveCounters();
      return out;
    });
  }

  private copyTree(src: ItemRow, parent: ItemRow, name: string, sharedRef: (ref: string) => string): ItemRow {
    const now = this.now();
    const row = this.insert({
      ...src,
      rid: undefined as unknown as number,
      id: this.nextId(),
      parent_id: parent.id,
      name,
      name_key: nameKey(name),
      depth: parent.depth + 1,
      size: src.kind === 'folder' ? 0 : src.size,
      content_ref: src.content_ref ? sharedRef(src.content_ref) : null,
      etag_seq: 1,
      ctag_seq: 1,
      created_at: now,
      modified_at: now,
      seq: ++this.seq,
      deleted: 0,
    });
    if (row.kind !== 'folder') this.addSize(parent.id, row.size);
    for (const { id } of this.db.statements.childIds.all(src.id)) {
      const child = this.row(id)!;
      this.copyTree(child, row, child.name, sharedRef);
    }
    this.touchAncestorsCTag(parent.id);
    return this.row(row.id)!;
  }

  // ---- shortcuts to shared folders -----------------------------------------------------------

  /** Adds a shortcut to a folder of another drive below `parentId` (a shared folder added to this drive). */
  addShortcut(parentId: string, name: string, target: { driveId: string; itemId: string }): ItemRow {
    this.checkName(name);
    return this.tx(() => {
      const parent = this.requireFolder(parentId);
      if (this.child(parent.id, name)) throw nameExists(name);
      const now = this.now();
      const row = this.insert(this.newChildRow(parent, name, 'remote', now));
      this.db.db.prepare('INSERT INTO shortcuts (item_id, drive_id, remote_id) VALUES (?, ?, ?)').run(row.id, target.driveId, target.itemId);
      this.touchAncestorsCTag(parent.id);
      this.saveCounters();
      return row;
    });
  }

  /** Where a shortcut row points. */
  shortcutTarget(id: string): { driveId: string; itemId: string } | undefined {
    const row = this.db.db.prepare<[string], { drive_id: string; remote_id: string }>('SELECT drive_id, remote_id FROM shortcuts WHERE item_id = ?').get(id);
    return row && { driveId: row.drive_id, itemId: row.remote_id };
  }

  /** Live shortcuts pointing at `itemId` of another drive. */
  shortcutsTo(itemId: string): ItemRow[] {
    return this.db.db
      .prepare<[string], ItemRow>('SELECT items.* FROM shortcuts JOIN items ON items.id = shortcuts.item_id WHERE shortcuts.remote_id = ? AND items.deleted = 0')
      .all(itemId);
  }

  // ---- delta -------------------------------------------------------------------------------

  /** Live items parent-first: by depth, then creation order. Keyset cursor (depth, rid). */
  treePage(after: { depth: number; rid: number }, limit: number): ItemRow[] {
    return this.db.statements.treePage.all(after.depth, after.depth, after.rid, limit);
  }

  changesSince(seq: number, limit: number): ItemRow[] {
    return this.db.statements.changedSince.all(seq, limit);
  }

  /** Oldest seq a token may hold; older tokens lost tombstones and must resync. */
  get purgedThroughSeq(): number {
    return Number(this.db.meta('purgedThroughSeq') ?? 0);
  }

  purgeTombstones(throughSeq: number): number {
    return this.tx(() => {
      const n = this.db.statements.purgeTombstones.run(throughSeq).changes;
      if (throughSeq > this.purgedThroughSeq) this.db.setMeta('purgedThroughSeq', throughSeq);
      return n;
    });
  }

  // ---- bulk seeding ------------------------------------------------------------------------

  /** Inserts a generated tree in one transaction (admin seeding, not a Graph operation). */
  bulkInsert(
    entries: Array<{ key: string; parentKey: string | null; name: string; kind: 'file' | 'folder'; size?: number; ref?: string; hashes?: ContentHashes; modified?: number }>,
    parentId: string,
  ): Map<string, ItemRow> {
    return this.tx(() => {
      const made = new Map<string, ItemRow>();
      const now = this.now();
      for (const e of entries) {
        const parent = e.parentKey === null ? this.get(parentId) : made.get(e.parentKey);
        if (!parent) throw new Error(`seed: parent ${e.parentKey} of ${e.name} not yet created`);
        this.checkName(e.name);
        if (this.child(parent.id, e.name)) throw nameExists(e.name);
        const size = e.kind === 'file' ? (e.size ?? 0) : 0;
        const row: ItemRow = {
          ...blankRow(),
          id: this.nextId(),
          parent_id: parent.id,
          name: e.name,
          name_key: nameKey(e.name),
          kind: e.kind,
          depth: parent.depth + 1,
          size,
          mime: e.kind === 'file' ? mimeOf(e.name) : null,
          content_ref: e.ref ?? null,
          quickxor: e.hashes?.quickXorHash ?? null,
          sha256: e.hashes?.sha256Hash ?? null,
          etag_seq: 1,
          ctag_seq: 1,
          created_at: now,
          modified_at: now,
          fs_created: wholeSeconds(e.modified ?? now),
          fs_modified: wholeSeconds(e.modified ?? now),
          seq: ++this.seq,
        };
        this.db.statements.insert.run(row);
        row.rid = 0;
        made.set(e.key, row);
        if (size) this.addSize(parent.id, size);
      }
      this.saveCounters();
      return made;
    });
  }
}

function blankRow(): ItemRow {
  return {
    rid: undefined as unknown as number,
    id: '',
    parent_id: null,
    name: '',
    name_key: '',
    kind: 'file',
    depth: 0,
    size: 0,
    mime: null,
    content_ref: null,
    quickxor: null,
    sha256: null,
    hashes_hidden_until: 0,
    etag_seq: 1,
    ctag_seq: 1,
    created_at: 0,
    modified_at: 0,
    fs_created: 0,
    fs_modified: 0,
    description: null,
    seq: 0,
    deleted: 0,
  };
}

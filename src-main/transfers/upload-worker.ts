/**
 * One upload of one item's local content, start to finish: the conditional check against the
 * version the edit started from, the bytes (one PUT up to 4 MiB, else a resumable session whose
 * URL and confirmed offset are persisted after every fragment), conflicts (both versions kept), and
 * the store commit. The manager decides when and how often this runs; this file decides what one
 * attempt does.
 *
 * Choices worth knowing:
 * - If-Match carries the eTag of the GET made just before the upload, after its cTag was found equal
 *   to the edit's base: as safe as the base eTag (the bytes are the base's), without the 412 a
 *   rename elsewhere would cause. A 412 is checked again by cTag (§15 #13) and retried once without.
 *   A session checks If-Match only when it is created: one that replaces a version defers its
 *   commit and reads the server's version again after its last byte (#commitIfBase).
 * - A server version whose hash is one this manager sent (an answer lost to an abort or a kill) is
 *   our own upload, not a conflict; one whose hash equals the local file needs no upload at all.
 * - Commits are synchronous store transactions after the last await, so a write that arrives
 *   during the upload is seen: the uploaded version then becomes the new base, the content stays
 *   dirty, and the manager uploads again.
 */
import { throwIfAborted } from '../base/abort.ts';
import { errorMessage } from '../base/errors.ts';
import type { Logger } from '../base/logger.ts';
import type { TypedEmitter } from '../base/typed-emitter.ts';
import type { ConflictBehavior, FragmentResult, UploadTarget } from '../graph/client.ts';
import type { DriveItem } from '../graph/drive-item.ts';
import { GraphApiError, isNameConflict, isNotFound, isPreconditionFailed, isThrottled } from '../graph/errors.ts';
import { sameQuickXorHash } from '../graph/quickxor.ts';
import { nextExpectedOffset, SIMPLE_UPLOAD_LIMIT } from '../graph/upload-limits.ts';
import type { Store } from '../store/store.ts';
import { landedCopyKey } from '../store/deleted-uploads.ts';
import { nameLeavingByReplay, serverItemLeavingByReplay } from '../store/leaving-by-replay.ts';
import type { ConflictReason, ItemRecord, JournalEntry, StoredItem } from '../store/types.ts';
import { conflictCopyName } from '../../src-shared/model/names.ts';
import { cacheFileLength } from './cache-files.ts';
import { deleteCopyOfDeleted, deleteLandedCopy } from './landed-copy.ts';
import { sameContent, versionOf, type BaseVersion } from './content-version.ts';
import { ContentOwner } from './content-owner.ts';
import {
  ChangedBeforeCommitError,
  LocalContentMissingError,
  NameFreedByReplayError,
  NotAFileError,
  ParentNotUploadedError,
  UploadHashMismatchError,
  UploadSessionStuckError,
  UploadStoppedError,
} from './upload-errors.ts';
import { UploadHasher } from './upload-hasher.ts';
import type { ContentInvalidator, UploadEvents, UploadSource } from './upload-types.ts';

/** Fragments in a row that do not move the session forward before it counts as stuck. */
const MAX_STALLS = 3;

export interface UploadWorkerOptions {
  graph: UploadSource;
  store: Store;
  cachePath: (itemId: string) => string;
  toRecord: (item: DriveItem) => ItemRecord;
  contentInvalidator: ContentInvalidator | undefined;
  events: TypedEmitter<UploadEvents>;
  logger: Logger;
  fragmentBytes: number;
  hostName: string;
  now: () => number;
  /** The largest body one request may carry now (a bandwidth limit keeps slow requests within their timeout); absent: no bound. */
  maxRequestBytes?: () => number;
  /** The owner of the items' content; one over `store` and `cachePath` when absent. */
  content?: ContentOwner;
}

/** The manager's side of one attempt. */
export interface UploadJob {
  readonly itemId: string;
  /** Fires with an UploadStoppedError when the manager stops the attempt. */
  readonly signal: AbortSignal;
  /** Confirmed bytes, for progress. */
  progress(path: string, bytes: number, total: number): void;
  /** The session in use (undefined: none), so the manager can cancel it after the entry is gone. */
  session(url: string | undefined): void;
}

export type UploadOutcome =
  | { kind: 'uploaded'; itemId: string }
  | { kind: 'conflict'; itemId: string }
  | { kind: 'nothing'; why: string };

interface LocalEdit {
  readonly item: StoredItem;
  /** The content's local change counter when the attempt began (see ContentState.localVersion). */
  readonly localVersion: number;
  entry: JournalEntry;
  base: BaseVersion;
  readonly path: string;
  readonly file: string;
  readonly size: number;
  readonly hasher: UploadHasher;
  readonly job: UploadJob;
  sessionExpiresMs: number | null;
  /** A request carrying the last byte was sent: the server may hold this version even if no answer came. */
  sentFinal: boolean;
  /**
   * The attempt makes a new server file: a file new here, or an edit of a file the server deleted,
   * uploaded anew. The places it sends to are watched (deleted-uploads.ts) from before its bytes
   * leave, so a copy whose answer never came (a kill) is known for ours when it shows up.
   */
  creating: boolean;
}

interface SendPlan {
  target: UploadTarget;
  conflictBehavior: ConflictBehavior;
  ifMatch?: string | undefined;
  /** Continue the entry's persisted session if the server still has it. */
  resume: boolean;
  /**
   * Replacing a version: a session is opened with its commit deferred, and committed only if the
   * server still holds the base once every byte is in (#commitIfBase).
   */
  checkBeforeCommit?: boolean;
}

interface Relocation {
  reason: ConflictReason;
  /** The store folder the item belongs in now. */
  parentId: string;
}

export class UploadWorker {
  readonly #o: UploadWorkerOptions;
  /** Every change of content rows and cache files goes through it (docs/concurrency.md §3). */
  readonly #content: ContentOwner;
  /** Conflict copies uploaded by an attempt that a new write then stopped: the next one replaces them. */
  readonly #copies = new Map<string, string>();
  /**
   * Where the last attempt of each new file sent it (folder key, name). An attempt stopped after
   * its bytes left (a write superseded it) may still land there; if the file has moved since, that
   * copy is not where the next attempt goes, and delta must delete it when it shows up.
   */
  readonly #sentPlaces = new Map<string, { parentId: string; name: string }>();
  /**
   * The server places committed new files are leaving (the answer their copy holds), each with the
   * move that takes the copy to where its file is now (#placeCommitted), settling when it ends.
   */
  readonly #leaving = new Set<{ answer: DriveItem; moved: Promise<void> }>();

  constructor(options: UploadWorkerOptions) {
    this.#o = options;
    this.#content = options.content ?? new ContentOwner({ store: options.store, cachePath: options.cachePath });
  }

  async run(job: UploadJob): Promise<UploadOutcome> {
    const { store } = this.#o;
    const item = store.items.get(job.itemId);
    const entries = uploadEntries(store, job.itemId);
    if (!item) {
      store.transaction(() => entries.forEach((entry) => store.journal.remove(entry.seq)));
      return { kind: 'nothing', why: 'the item is gone locally' };
    }
    const first = entries[0];
    if (first === undefined) return { kind: 'nothing', why: 'no write waits for upload' };
    if (item.kind !== 'file') throw new NotAFileError(item.id, item.kind);
    const content = store.content.get(item.id);
    if (content?.status !== 'dirty') {
      this.#o.logger.warn({ itemId: item.id, status: content?.status ?? 'none' }, 'a journaled write without local changes; nothing to upload');
      store.transaction(() => finishEntries(store, item.id));
      return { kind: 'nothing', why: 'the content has no local changes' };
    }
    // Checked before the attempt is counted: waiting for a folder is not a failed attempt.
    if (item.remoteId === null && item.parentId !== null && !store.items.get(item.parentId)?.remoteId) throw new ParentNotUploadedError(item.id, item.parentId);
    const entry = store.journal.markUploading(first.seq);
    const file = this.#o.cachePath(item.id);
    const length = await cacheFileLength(file);
    if (length === undefined || length < item.size) throw new LocalContentMissingError(item.id, file, item.size, length);
    const edit: LocalEdit = {
      item,
      localVersion: content.localVersion,
      entry,
      base: { etag: content.etag ?? entry.baseEtag, ctag: content.ctag, quickXorHash: item.quickXorHash },
      path: store.items.pathOf(item.id) ?? `/${item.name}`,
      file,
      size: item.size,
      // Every version hashed here is remembered as ours before its last byte leaves: delta may see
      // the server's copy before the upload's answer arrives, and a restart may come in between.
      // One transaction: its three or four writes were as many commits per upload.
      hasher: new UploadHasher(file, item.size, (digest) =>
        store.transaction(() => {
          if (!store.items.get(item.id)) return;
          store.sentVersions.remember(item.id, digest);
          if (edit.creating) this.#watchSent(item.id, digest);
        }),
      ),
      job,
      sessionExpiresMs: entry.sessionExpiresMs,
      sentFinal: false,
      creating: item.remoteId === null,
    };
    job.session(entry.sessionUrl ?? undefined);
    try {
      if (item.remoteId !== null) return await this.#uploadExisting(edit);
      try {
        return await this.#uploadNew(edit);
      } catch (error) {
        if (edit.sentFinal && this.#removedHere(edit)) await this.#undoCreate(edit, undefined);
        throw error;
      }
    } finally {
      store.deletedUploads.sending(item.id, undefined);
    }
  }

  // ── the three cases ───────────────────────────────────────────────────────

  async #uploadExisting(edit: LocalEdit): Promise<UploadOutcome> {
    const itemId = edit.item.remoteId!;
    const remote = await this.#remoteOrGone(edit);
    if (!remote) return this.#reuploadDeleted(edit);
    const verdict = await this.#compare(edit, remote);
    if (verdict !== 'upload') return verdict === 'conflict' ? this.#keepBoth(edit, remote) : this.#commit(edit, remote);
    let answer: DriveItem;
    try {
      answer = await this.#send(edit, { target: { itemId }, conflictBehavior: 'replace', ifMatch: remote.eTag, resume: true, checkBeforeCommit: true });
    } catch (error) {
      if (edit.job.signal.aborted || !(isPreconditionFailed(error) || error instanceof ChangedBeforeCommitError)) throw error;
      const again = await this.#remoteOrGone(edit);
      if (!again) return this.#reuploadDeleted(edit);
      const second = await this.#compare(edit, again);
      if (second === 'conflict') return this.#keepBoth(edit, again);
      if (second === 'same-content') return this.#commit(edit, again);
      // The bytes are still the base's: the eTag moved for metadata only (media extraction, §15 #13).
      this.#o.logger.info({ itemId: edit.item.id, path: edit.path }, 'If-Match failed but the content is unchanged; uploading without it');
      answer = await this.#send(edit, { target: { itemId }, conflictBehavior: 'replace', resume: false, checkBeforeCommit: true });
    }
    return this.#commit(edit, answer);
  }

  async #uploadNew(edit: LocalEdit): Promise<UploadOutcome> {
    const parentId = this.#serverParent(edit);
    const name = edit.item.name;
    this.#leftBehind(edit, { parentId: edit.item.parentId!, name });
    const settle = async (answer: DriveItem): Promise<UploadOutcome> => this.#commitNew(edit, await this.#followLocalPlace(edit, answer));
    let answer: DriveItem;
    try {
      answer = await this.#send(edit, { target: { parentId, name }, conflictBehavior: 'fail', resume: true });
    } catch (error) {
      if (edit.job.signal.aborted) throw error;
      if (isNameConflict(error)) return this.#nameTaken(edit, parentId, name, { settle, copyReason: 'name-clash' });
      if (isNotFound(error)) return this.#rescueToRoot(edit);
      throw error;
    }
    return settle(answer);
  }

  /**
   * A new server file's name is taken in its folder. The occupant may be this very file, sent by
   * an attempt whose answer never came back (`settle` commits it), or an earlier version of it (the
   * bytes here go on top); a copy of a file deleted here, or a name an offline delete is freeing,
   * means another attempt; anything else keeps its name and this file goes up as a conflict copy.
   * `isCopy`: `name` is already the copy's, and someone else's file holds it too.
   */
  async #nameTaken(
    edit: LocalEdit,
    parentId: string,
    name: string,
    how: { settle: (answer: DriveItem) => Promise<UploadOutcome>; copyReason: ConflictReason; isCopy?: boolean },
  ): Promise<UploadOutcome> {
    const { store } = this.#o;
    if (nameLeavingByReplay(store, edit.item.parentId!, name, { exceptItemId: edit.item.id })) throw new NameFreedByReplayError(edit.item.id, name);
    const occupant = await this.#itemAt(edit, parentId, name);
    // Freed between the refusal and the look (an offline delete replayed meanwhile, fuzz
    // 12000/63): the name is this file's to take, on the next attempt.
    if (!occupant) throw new NameFreedByReplayError(edit.item.id, name);
    const mine = await this.#ownFile(edit, occupant);
    // This very version: it is the file, which may have moved here since that attempt began (fuzz 202000/84).
    if (mine?.kind === 'same') return how.settle(mine.item);
    if (mine) {
      this.#o.logger.info({ itemId: edit.item.id, serverId: mine.item.id }, 'the server holds an earlier upload of this file, sent by an attempt whose answer never came; uploading the current bytes over it');
      return how.settle(await this.#send(edit, { target: { itemId: mine.item.id }, conflictBehavior: 'replace', ifMatch: mine.item.eTag, resume: false }));
    }
    if (serverItemLeavingByReplay(store, occupant.id, edit.item.id)) throw new NameFreedByReplayError(edit.item.id, name);
    if (await deleteCopyOfDeleted(this.#o.graph, store, { itemId: edit.item.id, parentKey: edit.item.parentId!, name, path: edit.path, inFolder: (found) => this.#o.toRecord(found).parentId === parentId }, occupant)) throw new NameFreedByReplayError(edit.item.id, name);
    // Someone else's file holds the copy's name as well: the server picks a free one.
    if (how.isCopy) return how.settle(await this.#send(edit, { target: { parentId, name }, conflictBehavior: 'rename', resume: false }));
    // The copy's place is watched as the file's was, and taken only if free: a copy that landed
    // without an answer (a kill) is a stray delta deletes, or the copy a later attempt meets there
    // (fuzz 580000/156: a name the server picked for each attempt left copies nobody knew of).
    const copyName = this.#copyName(name);
    this.#watchPlace(edit, { parentId: edit.item.parentId!, name: copyName });
    const copying = { settle: (answer: DriveItem) => this.#commit(edit, answer, { reason: how.copyReason, parentId: edit.item.parentId! }), copyReason: how.copyReason, isCopy: true };
    let copy: DriveItem;
    try {
      copy = await this.#send(edit, { target: { parentId, name: copyName }, conflictBehavior: 'fail', resume: false });
    } catch (error) {
      if (edit.job.signal.aborted || !isNameConflict(error)) throw error;
      return this.#nameTaken(edit, parentId, copyName, copying);
    }
    return copying.settle(copy);
  }

  /**
   * Commits a new file's first upload. A local rename landing after the last look at its place and
   * before the commit moved only the local item (it had no server id yet, so the vfs left the move
   * to this upload): the server copy follows once more after the commit. So it does when a write
   * made the commit stale: the file has its server id all the same, and later attempts update it
   * by id without moving it (they cannot tell our first place from another device's rename).
   */
  async #commitNew(edit: LocalEdit, answer: DriveItem): Promise<UploadOutcome> {
    let outcome: UploadOutcome;
    try {
      outcome = await this.#commit(edit, answer);
    } catch (error) {
      if (this.#o.store.items.get(edit.item.id)?.remoteId === answer.id) {
        // The job was stopped (superseded): the move goes without its signal.
        await this.#placeCommitted(edit, answer, null).catch((moveError: unknown) =>
          this.#o.logger.warn({ err: moveError, itemId: edit.item.id }, 'uploaded under the name it had when the upload began; could not rename it on the server'),
        );
      }
      throw error;
    }
    await this.#placeCommitted(edit, answer, edit.job.signal);
    return outcome;
  }

  /**
   * A committed new file's server copy is on its way from this place to where the file is now: a
   * rename onto the name it frees waits for this (settles when the move ends, whichever way).
   */
  leaving(parentKey: string, name: string): Promise<void> | undefined {
    const key = name.toLowerCase();
    for (const place of this.#leaving) {
      if (place.answer.name?.toLowerCase() === key && this.#isServerParent(parentKey, place.answer)) return place.moved;
    }
    return undefined;
  }

  /** `signal` null: a move made without the job's signal. */
  async #placeCommitted(edit: LocalEdit, answer: DriveItem, signal: AbortSignal | null): Promise<void> {
    let settle = (): void => undefined;
    const place = { answer, moved: new Promise<void>((resolve) => (settle = resolve)) };
    this.#leaving.add(place);
    let moved: DriveItem;
    try {
      moved = await this.#followLocalPlace(edit, answer, signal);
    } finally {
      settle();
      this.#leaving.delete(place);
    }
    if (moved === answer) return;
    const { store } = this.#o;
    store.items.noteChangedHere(edit.item.id, moved.id);
    // The item's place here stays as it is: renamed again while the move was on its way, the later
    // place is the one that counts (journaled by the vfs; fuzz 373000/33: taking the move's answer
    // whole put the file back where the move had sent it). The rest of the answer is the server's.
    if (store.content.get(edit.item.id)?.status === 'dirty') store.items.update(edit.item.id, { etag: moved.eTag ?? null });
    else store.items.update(edit.item.id, serverFields(this.#o.toRecord(moved)));
  }

  /** Remembers where this attempt sends the file; a copy an earlier attempt may have left elsewhere is watched for. */
  #leftBehind(edit: LocalEdit, place: { parentId: string; name: string }): void {
    const { store } = this.#o;
    const before = this.#sentPlaces.get(edit.item.id);
    this.#sentPlaces.set(edit.item.id, place);
    store.deletedUploads.sending(edit.item.id, place);
    if (!before || (before.parentId === place.parentId && before.name === place.name)) return;
    const hashes = store.sentVersions.list(edit.item.id);
    if (hashes.length) store.deletedUploads.add({ itemId: edit.item.id, parentId: before.parentId, name: before.name, hashes });
  }

  /**
   * A version of a new file is about to leave: its place is watched from now on, not from the next
   * attempt, since a write can stop this one after its last byte left, the server still commit it,
   * and delta see that copy while the file moves elsewhere before another attempt (fuzz 9800/107).
   * Places of earlier attempts watch this version too (a resumed session lands where it began).
   */
  #watchSent(itemId: string, digest: string): void {
    const { store } = this.#o;
    store.deletedUploads.sent(itemId, digest);
    const place = this.#sentPlaces.get(itemId);
    if (place) store.deletedUploads.add({ itemId, parentId: place.parentId, name: place.name, hashes: store.sentVersions.list(itemId) });
  }

  /** From now on this attempt sends the file to `place`: watched at once when its hash is known already. */
  #watchPlace(edit: LocalEdit, place: { parentId: string; name: string }): void {
    this.#leftBehind(edit, place);
    const digest = edit.hasher.digestIfComplete();
    if (digest) this.#watchSent(edit.item.id, digest);
  }

  /**
   * A new file renamed or moved here while its first upload ran was created under its old name:
   * the server item follows the local place before the commit (a few times, if it keeps moving).
   */
  async #followLocalPlace(edit: LocalEdit, answer: DriveItem, signal: AbortSignal | null = edit.job.signal): Promise<DriveItem> {
    const { store, graph, logger } = this.#o;
    for (let tries = 0; tries < 3; tries++) {
      const now = store.items.get(edit.item.id);
      const parentRemoteId = now?.parentId ? store.items.get(now.parentId)?.remoteId : undefined;
      if (!now || !parentRemoteId) return answer;
      const sameParent = this.#isServerParent(now.parentId!, answer);
      if (answer.name === now.name && sameParent) return answer;
      try {
        // A copy not committed yet is watched where it goes, from before the request leaves:
        // stopped before its commit (a write, a kill) while the file moves on, it is a copy delta
        // deletes, not one nobody knows of (fuzz 272000/24). Its first place stays watched too.
        const place = { parentId: now.parentId!, name: now.name };
        const uncommitted = now.remoteId === null;
        if (uncommitted) store.deletedUploads.add({ itemId: edit.item.id, ...place, hashes: store.sentVersions.list(edit.item.id) });
        answer = await graph.update(
          answer.id,
          { name: now.name, ...(sameParent ? {} : { parentReference: { id: parentRemoteId } }) },
          signal ? { signal } : {},
        );
        if (uncommitted) this.#sentPlaces.set(edit.item.id, place);
      } catch (error) {
        // Gone: delta took the copy for one left behind (the file had moved) and deleted it. Its id
        // must not become the file's (the next delta would delete the file here): upload again.
        if (isNotFound(error)) throw error;
        // Committed already (this is the follow after the commit), failed or stopped (a write, a
        // pause, a shutdown; later attempts update the file by id without moving it): the move
        // waits in the journal as an offline rename does, or the next delta (a restart's, say) takes
        // the file back to where the server has it (fuzz 334000/9). Not committed yet: the follow
        // after the commit comes next. A cancelled upload's file is gone here.
        const stop = signal?.aborted ? signal.reason : undefined;
        const cancelled = stop instanceof UploadStoppedError && stop.reason === 'cancelled';
        const journaled = now.remoteId !== null && now.remoteId === answer.id && !cancelled && store.items.get(now.id) !== undefined;
        if (journaled) this.#journalMove(now, edit, answer);
        if (signal?.aborted) throw error;
        logger.warn(
          { err: error, itemId: edit.item.id, name: now.name },
          `uploaded under the name it had when the upload began; could not rename it on the server${journaled ? ' (the rename is sent when it can be)' : ''}`,
        );
        return answer;
      }
    }
    // Renamed here again after each try (or a rename here crossed the last one on its way): the
    // server holds the file elsewhere. Committed, it is journaled as a failed move is.
    const now = store.items.get(edit.item.id);
    if (now?.parentId && now.remoteId !== null && now.remoteId === answer.id && !(answer.name === now.name && this.#isServerParent(now.parentId, answer))) {
      this.#journalMove(now, edit, answer);
      logger.warn({ itemId: now.id, name: now.name }, 'the file kept moving while its server copy followed; the rename is sent when it can be');
    }
    return answer;
  }

  /** The answer's parent is the folder `parentKey` (a shared folder's shortcut: the folder it points to). */
  #isServerParent(parentKey: string, answer: DriveItem): boolean {
    const at = answer.parentReference?.id;
    if (at === undefined) return true;
    const parent = this.#o.store.items.get(parentKey);
    return at === parent?.remoteId || (parent?.kind === 'remote' && at === parent.remoteItemId);
  }

  /** The move of a committed file to its place here waits in the journal, as an offline rename does. */
  #journalMove(now: StoredItem, edit: LocalEdit, answer: DriveItem): void {
    const { store } = this.#o;
    const from = answer.parentReference?.id ? store.items.getByRemoteId(answer.parentReference.id)?.id : undefined;
    store.journal.append({ kind: 'rename', itemId: now.id, parentId: from ?? edit.item.parentId, name: answer.name ?? edit.item.name, newParentId: now.parentId, newName: now.name });
    this.#o.events.emit('journaled', { itemId: now.id, kind: 'rename' });
  }

  /**
   * The server lost the file while it was edited here: the edit is uploaded again as a new file,
   * at its name if that is free, watched as a new file's first upload is: an attempt whose answer
   * never came (a kill) left a copy there that the next attempt, or delta, knows for this file's
   * (fuzz 580000/156: with the server picking a free name, each attempt left another copy).
   */
  async #reuploadDeleted(edit: LocalEdit): Promise<UploadOutcome> {
    const parentId = this.#serverParent(edit);
    const name = edit.item.name;
    this.#o.logger.warn({ itemId: edit.item.id, path: edit.path }, 'the file was deleted on the server while edited here; uploading the edit again');
    edit.creating = true;
    this.#watchPlace(edit, { parentId: edit.item.parentId!, name });
    const settle = async (answer: DriveItem): Promise<UploadOutcome> => this.#commit(edit, answer, { reason: 'remote-deleted', parentId: edit.item.parentId! });
    let answer: DriveItem;
    try {
      answer = await this.#send(edit, { target: { parentId, name }, conflictBehavior: 'fail', resume: false });
    } catch (error) {
      if (edit.job.signal.aborted) throw error;
      if (isNameConflict(error)) return this.#nameTaken(edit, parentId, name, { settle, copyReason: 'remote-deleted' });
      if (isNotFound(error)) return this.#rescueToRoot(edit);
      throw error;
    }
    return settle(answer);
  }

  /** The file's folder is gone on the server too: the edit goes to the drive root. */
  async #rescueToRoot(edit: LocalEdit): Promise<UploadOutcome> {
    const root = this.#o.store.items.getRoot();
    if (!root) throw new NotAFileError(edit.item.id, 'item without a drive root in the store');
    this.#o.logger.warn({ itemId: edit.item.id, path: edit.path }, 'the folder of the file is gone on the server; uploading it to the drive root');
    const answer = await this.#send(edit, { target: { parentId: 'root', name: edit.item.name }, conflictBehavior: 'rename', resume: false });
    return this.#commit(edit, answer, { reason: 'remote-deleted', parentId: root.id });
  }

  /** Both sides changed the file: the local bytes become a conflict copy, the original the server's version. */
  async #keepBoth(edit: LocalEdit, remote: DriveItem): Promise<UploadOutcome> {
    const { store, logger } = this.#o;
    const itemId = edit.item.id;
    logger.warn({ itemId, path: edit.path, base: edit.base, remote: versionOf(remote) }, 'the file changed on the server and here; keeping both');
    const parentId = remote.parentReference?.id ?? this.#serverParent(edit);
    let copy: DriveItem | undefined;
    const earlier = this.#copies.get(itemId);
    if (earlier !== undefined) {
      try {
        copy = await this.#send(edit, { target: { itemId: earlier }, conflictBehavior: 'replace', resume: false });
      } catch (error) {
        if (edit.job.signal.aborted || !isNotFound(error)) throw error;
      }
    }
    // A copy an attempt before a restart may have sent keeps its name, and this one goes over it.
    // (Entries of items deleted since are dropped here: nothing else would.)
    const names = Object.fromEntries(Object.entries(store.driveState.get('conflictCopyNames') ?? {}).filter(([id]) => store.items.get(id)));
    const sentBefore = names[itemId];
    const wantedName = sentBefore ?? this.#copyName(edit.item.name);
    if (!sentBefore) store.driveState.set('conflictCopyNames', { ...names, [itemId]: wantedName });
    copy ??= await this.#send(edit, { target: { parentId, name: wantedName }, conflictBehavior: sentBefore ? 'replace' : 'rename', resume: false });
    // `rename` may have picked another free name: the answer says which.
    const copyName = copy.name ?? wantedName;
    const mismatch = await this.#check(edit, copy);
    const copyCache = await this.#copyCacheFile(edit, copy.id);
    // The original becomes the server's version as it is now: one seen by delta while the copy was
    // sent was kept off the dirty row, and delta does not bring it again (fuzz 22000/70: EIO).
    remote = await this.#serverNow(edit, remote);
    if (this.#stoppedBeforeCommit(edit)) {
      this.#copies.set(itemId, copy.id);
      if (copyCache) await this.#content.removeFile(copyCache);
      throw edit.job.signal.reason;
    }
    this.#copies.delete(itemId);
    let copyStored = false;
    store.transaction(() => {
      store.items.noteChangedHere(itemId, remote.id, copy.id);
      try {
        store.transaction(() => {
          const record = this.#o.toRecord(copy);
          // Where the server put it: its original's folder there, which delta may not have brought
          // here yet (another device moved the file: fuzz 580000/15); else the original's folder here.
          const serverFolder = record.parentId === null ? undefined : store.items.get(store.items.keyOf(record.parentId));
          const stored = store.items.upsert({ ...record, parentId: serverFolder?.id ?? edit.item.parentId, name: copyName });
          if (copyCache && !mismatch) this.#content.copyUploaded(stored.id, tagsOf(copy), edit.size);
        });
        copyStored = true;
      } catch (error) {
        logger.warn({ err: error, itemId: copy.id, name: copy.name }, 'could not add the conflict copy to the store; delta will bring it');
      }
      store.items.update(itemId, serverFields(this.#o.toRecord(remote)));
      this.#content.serverVersionKept(itemId, tagsOf(remote));
      store.content.clearError(itemId);
      finishEntries(store, itemId);
      store.conflicts.record({ itemId, path: edit.path, reason: 'both-modified', localCopyName: copyName, remoteEtag: remote.eTag ?? null });
      const { [itemId]: _done, ...others } = store.driveState.get('conflictCopyNames') ?? {};
      store.driveState.set('conflictCopyNames', others);
    });
    if (copyCache && !copyStored) await this.#content.removeFile(copyCache);
    edit.job.session(undefined);
    await this.#dropLocalContent(itemId);
    this.#o.events.emit('conflict', { itemId, path: edit.path, localCopyName: copyName, reason: 'both-modified', localCopyId: copy.id });
    return { kind: 'conflict', itemId };
  }

  /**
   * A keep-both stopped after its copy was sent (a write came in) left that copy under its conflict
   * name, for the next attempt to reuse. An attempt that ends another way (the server file was
   * deleted meanwhile, or the edit could go up after all) records no conflict for it: the copy, an
   * older version of ours, goes (fuzz 23000/169).
   */
  async #dropUnrecordedCopy(edit: LocalEdit): Promise<void> {
    const { store, graph, logger } = this.#o;
    const itemId = edit.item.id;
    const copyId = this.#copies.get(itemId);
    const { [itemId]: name, ...others } = store.driveState.get('conflictCopyNames') ?? {};
    if (copyId === undefined && name === undefined) return;
    const parentPath = store.items.pathOf(edit.item.parentId!) ?? '/';
    let known: DriveItem | undefined;
    if (copyId !== undefined) {
      try {
        known = await graph.getItem(copyId, { signal: edit.job.signal });
      } catch (error) {
        if (edit.job.signal.aborted || !isNotFound(error)) throw error;
      }
    }
    if (known || name !== undefined) {
      const path = known ? '' : `${parentPath === '/' ? '' : parentPath}/${name}`;
      const gone = await deleteLandedCopy(graph, path, (hash) => store.sentVersions.has(itemId, hash), known);
      if (gone) logger.info({ itemId, copy: gone.name }, 'deleted the copy a stopped keep-both had sent: this attempt recorded no conflict for it');
    }
    this.#copies.delete(itemId);
    store.driveState.set('conflictCopyNames', others);
  }

  /** The server's item as it is now; `known` when it cannot say (gone, unreachable). */
  async #serverNow(edit: LocalEdit, known: DriveItem): Promise<DriveItem> {
    try {
      return await this.#o.graph.getItem(known.id, { signal: edit.job.signal });
    } catch (error) {
      if (edit.job.signal.aborted) throw error;
      this.#o.logger.debug({ err: error, itemId: edit.item.id }, 'could not read the server version again; keeping the one compared');
      return known;
    }
  }

  // ── comparing versions ────────────────────────────────────────────────────

  /**
   * 'upload': the server holds the base (or our own upload): go ahead. 'same-content': it already
   * holds these exact bytes. 'conflict': someone else changed it.
   */
  async #compare(edit: LocalEdit, remote: DriveItem): Promise<'upload' | 'same-content' | 'conflict'> {
    if (sameContent(edit.base, versionOf(remote))) return 'upload';
    const remoteHash = remote.file?.hashes?.quickXorHash;
    if (!remoteHash) return 'conflict';
    if (remote.size === edit.size && sameQuickXorHash(await edit.hasher.digest(edit.job.signal), remoteHash)) return 'same-content';
    if (this.#o.store.sentVersions.has(edit.item.id, remoteHash)) {
      this.#o.logger.info({ itemId: edit.item.id }, 'the server holds a version this engine uploaded (its answer was lost); it is the new base');
      edit.base = versionOf(remote);
      return 'upload';
    }
    return 'conflict';
  }

  async #remoteOrGone(edit: LocalEdit): Promise<DriveItem | undefined> {
    try {
      return await this.#o.graph.getItem(edit.item.remoteId!, { signal: edit.job.signal });
    } catch (error) {
      if (!edit.job.signal.aborted && isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** The server item at the parent's path and this name, if any. */
  async #itemAt(edit: LocalEdit, parentId: string, name: string): Promise<DriveItem | undefined> {
    const parentPath = this.#o.store.items.pathOf(edit.item.parentId ?? parentId);
    if (parentPath === undefined) return undefined;
    try {
      return await this.#o.graph.getItemByPath(parentPath === '/' ? `/${name}` : `${parentPath}/${name}`, { signal: edit.job.signal });
    } catch (error) {
      if (!edit.job.signal.aborted && isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** `existing` holds these bytes ('same') or a version this file sent before ('earlier'). */
  async #ownFile(edit: LocalEdit, existing: DriveItem): Promise<{ kind: 'same' | 'earlier'; item: DriveItem } | undefined> {
    const hash = existing.file?.hashes?.quickXorHash;
    if (!hash) return undefined;
    if (existing.size === edit.size && sameQuickXorHash(hash, await edit.hasher.digest(edit.job.signal))) return { kind: 'same', item: existing };
    return this.#o.store.sentVersions.has(edit.item.id, hash) ? { kind: 'earlier', item: existing } : undefined;
  }

  // ── sending bytes ─────────────────────────────────────────────────────────

  async #send(edit: LocalEdit, plan: SendPlan): Promise<DriveItem> {
    throwIfAborted(edit.job.signal);
    if (edit.size > Math.min(SIMPLE_UPLOAD_LIMIT, this.#o.maxRequestBytes?.() ?? Infinity)) return this.#sendSession(edit, plan);
    // Zero bytes can only go this way (§7.1, §15 #5).
    if (edit.entry.sessionUrl) await this.#dropSession(edit);
    const { graph } = this.#o;
    // Hashed (and so remembered as ours) before the server can hold it; an empty body has no bytes to hash on the way.
    if (edit.size === 0) await edit.hasher.digest(edit.job.signal);
    const body = edit.size === 0 ? Buffer.alloc(0) : edit.hasher.body(0, edit.size, (at) => this.#progress(edit, at));
    const options = { size: edit.size, signal: edit.job.signal, ...(plan.ifMatch === undefined ? {} : { ifMatch: plan.ifMatch }) };
    edit.sentFinal = true;
    const answer =
      'itemId' in plan.target
        ? await graph.uploadSmallById(plan.target.itemId, body, options)
        : await graph.uploadSmall(plan.target.parentId, plan.target.name, body, { ...options, conflictBehavior: plan.conflictBehavior });
    this.#progress(edit, edit.size);
    return this.#carryModifiedTime(edit, answer);
  }

  async #sendSession(edit: LocalEdit, plan: SendPlan): Promise<DriveItem> {
    const { graph, logger } = this.#o;
    const signal = edit.job.signal;
    let url: string | undefined;
    let offset = 0;
    const persisted = edit.entry.sessionUrl;
    if (persisted && plan.resume) {
      const resumed = await this.#askSession(edit, persisted);
      if (resumed !== undefined) {
        url = persisted;
        offset = resumed;
        logger.info({ itemId: edit.item.id, offset, total: edit.size, persisted: edit.entry.confirmedOffset }, 'resuming an upload session');
      }
    } else if (persisted) {
      await this.#dropSession(edit);
    }
    for (let restarts = 0; ; restarts++) {
      if (url === undefined) {
        const session = await graph.createUploadSession(plan.target, {
          conflictBehavior: plan.conflictBehavior,
          fileSize: edit.size,
          fileSystemInfo: { lastModifiedDateTime: wholeSecondsIso(edit.item.mtimeMs) },
          signal,
          ...(plan.ifMatch === undefined ? {} : { ifMatch: plan.ifMatch }),
          ...(plan.checkBeforeCommit ? { deferCommit: true } : {}),
        });
        url = session.uploadUrl;
        offset = 0;
        const expires = session.expirationDateTime === undefined ? Number.NaN : Date.parse(session.expirationDateTime);
        edit.sessionExpiresMs = Number.isNaN(expires) ? null : expires;
        this.#saveSession(edit, url, 0);
      }
      try {
        const sessionUrl = url;
        const sent = await this.#sendFragments(edit, url, offset, plan.checkBeforeCommit ? () => this.#commitIfBase(edit, sessionUrl) : undefined);
        // A session carries the time it was made with: one continued after a restart may be older
        // than the file's time now (a touch before the kill).
        return await this.#carryModifiedTime(edit, sent);
      } catch (error) {
        // The session expired (or the server forgot it) mid-way: one fresh start from zero. Not
        // once its last fragment was sent: the server may have made the file, and a `rename`
        // would make a second one (fuzz 82000/57); the attempt fails, and the next finds it.
        if (signal.aborted || !isNotFound(error) || restarts >= 1 || (edit.sentFinal && plan.conflictBehavior === 'rename')) throw error;
        logger.warn({ itemId: edit.item.id }, 'the upload session is gone; starting a new one from zero');
        this.#forgetSession(edit);
        url = undefined;
      }
    }
  }

  /** `finish`: commits a session whose commit is deferred, once every byte is in. */
  async #sendFragments(edit: LocalEdit, url: string, start: number, finish: (() => Promise<DriveItem>) | undefined): Promise<DriveItem> {
    const { graph, fragmentBytes } = this.#o;
    const signal = edit.job.signal;
    const total = edit.size;
    let offset = start;
    let stalls = 0;
    this.#progress(edit, offset);
    for (;;) {
      throwIfAborted(signal);
      await edit.hasher.catchUp(offset, signal);
      const end = Math.min(offset + Math.min(fragmentBytes, this.#o.maxRequestBytes?.() ?? Infinity), total);
      if (end === total) edit.sentFinal = true;
      let result: FragmentResult;
      try {
        // Progress within the fragment too (a 10 MiB fragment at 1 MB/s is 10 s of "0 B" otherwise).
        result = await graph.uploadFragment(url, offset, end, total, edit.hasher.body(offset, end, (at) => this.#progress(edit, at)), signal, finish !== undefined);
      } catch (error) {
        if (signal.aborted || !(error instanceof GraphApiError) || error.status !== 416) throw error;
        // Overlap or gap: the server's own account of what it holds decides (§15 #4).
        const status = await graph.getUploadSession(url, signal);
        const next = nextExpectedOffset(status.nextExpectedRanges);
        if (next === undefined && finish) return finish();
        if (next === undefined) throw new UploadSessionStuckError(edit.item.id, 'every byte arrived but no file was created');
        stalls = next > offset ? 0 : stalls + 1;
        if (stalls >= MAX_STALLS) throw new UploadSessionStuckError(edit.item.id, `416 at offset ${offset} ${stalls} times`);
        offset = next;
        this.#saveSession(edit, url, offset);
        continue;
      }
      if (result.done) return result.item;
      if (finish && result.nextExpectedRanges.length === 0) return finish();
      const next = nextExpectedOffset(result.nextExpectedRanges) ?? end;
      stalls = next > offset ? 0 : stalls + 1;
      if (stalls >= MAX_STALLS) throw new UploadSessionStuckError(edit.item.id, `the server keeps expecting offset ${next}`);
      offset = Math.min(next, total);
      this.#saveSession(edit, url, offset);
      this.#progress(edit, offset);
    }
  }

  /**
   * The end of a replacing session: the server's version is read once more, and the file created
   * only if it is still the base (or a version this engine sent). An edit made there while the bytes
   * travelled is never overwritten (fuzz 43000/50): the session is dropped and the attempt goes on
   * as after a 412, keeping both. What is left open is the round trip between this read and the
   * commit, instead of the whole transfer.
   */
  async #commitIfBase(edit: LocalEdit, url: string): Promise<DriveItem> {
    const now = await this.#remoteOrGone(edit);
    if (!now || (await this.#compare(edit, now)) !== 'upload') {
      await this.#dropSession(edit);
      throw new ChangedBeforeCommitError(edit.item.id);
    }
    return this.#o.graph.commitUploadSession(url, edit.job.signal);
  }

  /** Where a persisted session stands: the offset to continue from, or undefined when it is gone. */
  async #askSession(edit: LocalEdit, url: string): Promise<number | undefined> {
    try {
      const status = await this.#o.graph.getUploadSession(url, edit.job.signal);
      const next = nextExpectedOffset(status.nextExpectedRanges);
      if (next !== undefined && next <= edit.size) return next;
      this.#o.logger.info({ itemId: edit.item.id, ranges: status.nextExpectedRanges }, 'the persisted session cannot continue; starting a new one');
      await this.#dropSession(edit);
      return undefined;
    } catch (error) {
      if (edit.job.signal.aborted) throw error;
      // 404 expired, 401/403 (B kills sessions after about a day): start afresh. 5xx and network: try later.
      if (error instanceof GraphApiError && error.status >= 400 && error.status < 500 && !isThrottled(error)) {
        this.#o.logger.info({ itemId: edit.item.id, status: error.status }, 'the persisted upload session is gone; starting a new one');
        this.#forgetSession(edit);
        return undefined;
      }
      throw error;
    }
  }

  #saveSession(edit: LocalEdit, url: string, offset: number): void {
    edit.entry = this.#o.store.journal.updateSession(edit.entry.seq, { sessionUrl: url, confirmedOffset: offset, expiresMs: edit.sessionExpiresMs });
    edit.job.session(url);
  }

  #forgetSession(edit: LocalEdit): void {
    edit.entry = this.#o.store.journal.clearSession(edit.entry.seq);
    edit.job.session(undefined);
  }

  /** Forgets the persisted session and asks the server to discard it (P may show it as an empty file otherwise). */
  async #dropSession(edit: LocalEdit): Promise<void> {
    const url = edit.entry.sessionUrl;
    if (!url) return;
    this.#forgetSession(edit);
    try {
      await this.#o.graph.cancelUploadSession(url, edit.job.signal);
    } catch (error) {
      if (edit.job.signal.aborted) throw error;
      this.#o.logger.info({ err: error, itemId: edit.item.id }, 'could not cancel an old upload session; it expires by itself');
    }
  }

  /**
   * A simple PUT carries no fileSystemInfo (§7.1), a session the time it was made with: the local
   * modification time follows in a PATCH when the server's differs.
   */
  async #carryModifiedTime(edit: LocalEdit, answer: DriveItem): Promise<DriveItem> {
    const wanted = wholeSecondsIso(edit.item.mtimeMs);
    const has = answer.fileSystemInfo?.lastModifiedDateTime;
    if (has !== undefined && Date.parse(has) === Date.parse(wanted)) return answer;
    const signal = edit.job.signal;
    // Only on the version just uploaded: the answer describes the item as it is then, and another
    // device's edit landing in between would pass for a corrupted upload of ours.
    let version = answer;
    for (let tries = 0; ; tries++) {
      try {
        return await this.#o.graph.update(answer.id, { fileSystemInfo: { lastModifiedDateTime: wanted } }, { signal, ...(version.eTag ? { ifMatch: version.eTag } : {}) });
      } catch (error) {
        if (signal.aborted) throw error;
        if (!isPreconditionFailed(error)) {
          this.#o.logger.warn({ err: error, itemId: answer.id }, 'uploaded, but could not set the modification time on the server');
          return answer;
        }
      }
      // A rename or move of it (this device's journal replay, sent meanwhile) moves the eTag on too:
      // the bytes are still the ones uploaded while the cTag is (fuzz 1000/20 lost the time).
      let now: DriveItem | undefined;
      try {
        if (tries === 0) now = await this.#o.graph.getItem(answer.id, { signal });
      } catch (error) {
        if (signal.aborted) throw error;
        this.#o.logger.warn({ err: error, itemId: answer.id }, 'uploaded, but could not set the modification time on the server');
        return answer;
      }
      if (now?.eTag === undefined || now.cTag === undefined || now.cTag !== answer.cTag) {
        this.#o.logger.info({ itemId: answer.id }, 'uploaded; the file changed on the server before its modification time was set, so it keeps the server time');
        return answer;
      }
      version = now;
    }
  }

  // ── committing ────────────────────────────────────────────────────────────

  /**
   * Records an upload the server accepted: the item gets the server's id, tags, size and hash, the
   * content is complete at that version, the journal entries are finished. When a write arrived
   * meanwhile the new version only becomes the base of the next upload.
   */
  async #commit(edit: LocalEdit, answer: DriveItem, relocation?: Relocation): Promise<UploadOutcome> {
    const { store, logger } = this.#o;
    const itemId = edit.item.id;
    await this.#dropUnrecordedCopy(edit);
    const mismatch = await this.#check(edit, answer);
    // Synchronous from here on: nothing can slip in between the check and the commit.
    const reason = edit.job.signal.aborted ? edit.job.signal.reason : undefined;
    const stopped = reason instanceof UploadStoppedError ? reason.reason : undefined;
    const content = store.content.get(itemId);
    if (stopped === 'cancelled' || !store.items.get(itemId) || !content) {
      // Removed here while the upload finished: a file this upload created goes from the server too.
      if (edit.creating) await this.#undoCreate(edit, answer);
      else logger.warn({ itemId, serverId: answer.id }, 'the item was removed locally while its upload finished; the server keeps the uploaded version');
      throw reason ?? new UploadStoppedError(itemId, 'cancelled');
    }
    // The one rule for "is the uploaded version still the local one": no local change since the
    // attempt began. Otherwise the server's new version only becomes the base of the next upload.
    const stale = stopped === 'superseded' || content.localVersion !== edit.localVersion;
    const record = this.#o.toRecord(answer);
    let droppedInode: number | undefined;
    let timeSetMeanwhile = false;
    store.transaction(() => {
      // A delta batch asked for before this answer may carry the item's older version: it leaves
      // the item to a fresh read (docs/concurrency.md §2; fuzz 331000/72: the older eTag, then EIO).
      store.items.noteChangedHere(itemId, answer.id);
      if (edit.item.remoteId !== answer.id) droppedInode = this.#adoptServerId(edit.item, answer.id, relocation?.reason === 'remote-deleted');
      // Delta saw this copy where the file had just moved from and queued it for deletion as left
      // behind (delta-apply.ts): it is the file now. (Its If-Match would fail on our move anyway.)
      // (Pending, or being tried by the replayer, which waits while this attempt runs: deleted-uploads.ts.)
      if (edit.creating) store.journal.list({ itemId: landedCopyKey(answer.id), states: ['pending', 'uploading'] }).forEach((e) => store.journal.remove(e.seq));
      if (stale) {
        store.items.update(itemId, { etag: record.etag ?? null, ctag: record.ctag ?? null });
        this.#content.rebased(itemId, tagsOf(answer), content.ranges);
      } else {
        // A time set here while the bytes were on their way (touch -d during the upload) is not
        // the one they carried: it stays, and follows them in a PATCH through the journal.
        const localTime = store.items.get(itemId)!.mtimeMs;
        timeSetMeanwhile = wholeSecondsIso(localTime) !== wholeSecondsIso(edit.item.mtimeMs);
        store.items.update(itemId, timeSetMeanwhile ? { ...serverFields(record), mtimeMs: localTime } : serverFields(record));
        if (timeSetMeanwhile) store.journal.append({ kind: 'setattr', itemId, payload: { mtimeMs: localTime } });
        this.#content.uploadCommitted(itemId, tagsOf(answer), mismatch ? null : edit.size);
        if (mismatch) store.content.setError(itemId, mismatch.code, mismatch.message);
        else store.content.clearError(itemId);
        finishEntries(store, itemId);
      }
      if (relocation) {
        const current = store.items.get(itemId);
        // Delta may have moved the item aside for this very upload (its answer not in yet): the
        // record it made names that place.
        const formerCopyName = current && current.name !== answer.name ? current.name : undefined;
        if (current && (current.name !== answer.name || current.parentId !== relocation.parentId)) {
          try {
            store.transaction(() => store.items.move(itemId, relocation.parentId, answer.name ?? current.name));
          } catch (error) {
            logger.warn({ err: error, itemId, name: answer.name }, 'could not rename the item locally as on the server; delta will');
          }
        }
        store.conflicts.record({ itemId, path: edit.path, reason: relocation.reason, localCopyName: answer.name ?? null, remoteEtag: null, ...(formerCopyName ? { formerCopyName } : {}) });
      }
    });
    if (droppedInode !== undefined) logger.debug({ itemId, droppedInode }, 'merged the copy delta stored of our own upload');
    if (timeSetMeanwhile) this.#o.events.emit('journaled', { itemId, kind: 'setattr' });
    // The server knows the file now: later attempts update it in place. Where it sits, nothing
    // else of ours can land (a first upload never replaces), so that place needs no more watching.
    // The watch of an attempt before a restart (the file's place) goes too.
    const place = this.#sentPlaces.get(itemId) ?? (edit.item.parentId !== null ? { parentId: edit.item.parentId, name: edit.item.name } : undefined);
    if (place && answer.name?.toLowerCase() === place.name.toLowerCase() && this.#isServerParent(place.parentId, answer)) {
      store.deletedUploads.remove(itemId, place.parentId, place.name);
    }
    this.#sentPlaces.delete(itemId);
    edit.job.session(undefined);
    if (relocation && answer.name) {
      this.#o.events.emit('conflict', { itemId, path: edit.path, localCopyName: answer.name, reason: relocation.reason, localCopyId: itemId });
    }
    if (stale) throw reason ?? new UploadStoppedError(itemId, 'superseded');
    if (mismatch) {
      await this.#dropLocalContent(itemId);
      this.#o.events.emit('warning', { itemId, path: edit.path, error: mismatch });
    }
    this.#o.events.emit('done', {
      itemId,
      path: store.items.pathOf(itemId) ?? edit.path,
      total: edit.size,
      verified: !mismatch && answer.file?.hashes?.quickXorHash !== undefined,
    });
    return { kind: 'uploaded', itemId };
  }

  /** The item was removed here (deleted, or its folder) while its upload ran. */
  #removedHere(edit: LocalEdit): boolean {
    const reason: unknown = edit.job.signal.aborted ? edit.job.signal.reason : undefined;
    return (reason instanceof UploadStoppedError && reason.reason === 'cancelled') || !this.#o.store.items.get(edit.item.id);
  }

  /**
   * A new file removed here while its first upload reached the server anyway (the request was on
   * its way when the delete came): the server's copy is deleted too, or delta would bring the file
   * back. Only the copy holding exactly the bytes sent, and only at the version the server gave it.
   */
  async #undoCreate(edit: LocalEdit, known: DriveItem | undefined): Promise<void> {
    const { graph, logger } = this.#o;
    const sent = edit.hasher.digestIfComplete();
    if (!sent) return;
    try {
      const deleted = await deleteLandedCopy(graph, edit.path, (hash) => sameQuickXorHash(sent, hash), known);
      if (deleted) logger.info({ itemId: edit.item.id, serverId: deleted.id, path: edit.path }, 'the file was deleted here while its first upload landed; deleted the uploaded copy on the server too');
    } catch (error) {
      logger.warn({ err: error, itemId: edit.item.id, path: edit.path }, 'the file was deleted here while its first upload landed; could not delete the uploaded copy on the server');
    }
  }

  /**
   * A new item's first upload: the server's id is filled in (once); the item keeps its key. A file
   * the server lost and that was uploaded anew is known by the new file's id from now on.
   */
  #adoptServerId(item: StoredItem, serverId: string, uploadedAnew: boolean): number | undefined {
    const itemId = item.id;
    try {
      return this.#o.store.items.setRemoteId(itemId, serverId, uploadedAnew && item.remoteId !== null ? { replacing: item.remoteId } : {});
    } catch (error) {
      // Delta already gave this item another server id: the server holds two files for one local
      // item. The local item follows this upload's answer no further; delta shows the other.
      this.#o.logger.error({ err: error, itemId, serverId }, 'the uploaded item is known under another server id; keeping the first');
      return undefined;
    }
  }

  /** Compares the server's hash of what it stored with the local bytes; undefined when they match or it has none yet. */
  async #check(edit: LocalEdit, answer: DriveItem): Promise<UploadHashMismatchError | undefined> {
    const serverHash = answer.file?.hashes?.quickXorHash;
    if (!serverHash) {
      this.#o.logger.debug({ itemId: answer.id }, 'the server sent no quickXorHash yet; the upload is not verified');
      return undefined;
    }
    const localHash = await edit.hasher.digest(edit.job.signal);
    if (sameQuickXorHash(localHash, serverHash)) return undefined;
    const error = new UploadHashMismatchError(answer.id, localHash, serverHash, { local: edit.size, server: answer.size });
    this.#o.logger.error({ itemId: answer.id, path: edit.path, localHash, serverHash, size: edit.size, serverSize: answer.size }, error.message);
    return error;
  }

  #stoppedBeforeCommit(edit: LocalEdit): boolean {
    const reason: unknown = edit.job.signal.aborted ? edit.job.signal.reason : undefined;
    return reason instanceof UploadStoppedError && reason.reason !== 'shutdown' && reason.reason !== 'paused';
  }

  /** The conflict copy starts with the local bytes, so it needs no download. Returns the copy's key when its cache file holds them. */
  async #copyCacheFile(edit: LocalEdit, copyId: string): Promise<string | undefined> {
    try {
      await this.#content.copyFile(edit.item.id, copyId, 'copyUploaded');
      return copyId;
    } catch (error) {
      this.#o.logger.warn({ err: error, itemId: copyId }, 'could not copy the local bytes to the conflict copy; it will be downloaded when read');
      return undefined;
    }
  }

  async #dropLocalContent(itemId: string): Promise<void> {
    try {
      if (this.#o.contentInvalidator) await this.#o.contentInvalidator.invalidate(itemId);
      else await this.#content.removeFile(itemId);
    } catch (error) {
      // The store already says nothing is cached; the next download starts the file afresh.
      this.#o.logger.error({ err: error, itemId }, 'could not drop the cached bytes of the local version: ' + errorMessage(error));
    }
  }

  // ── helpers ───────────────────────────────────────────────────────────────

  /** The server's id of the item's folder (the folder as it is in the store now). */
  #serverParent(edit: LocalEdit): string {
    const parentId = this.#o.store.items.get(edit.item.id)?.parentId ?? edit.item.parentId;
    if (parentId === null) throw new NotAFileError(edit.item.id, 'drive root');
    const remoteId = this.#o.store.items.get(parentId)?.remoteId;
    if (!remoteId) throw new ParentNotUploadedError(edit.item.id, parentId);
    return remoteId;
  }

  #copyName(name: string): string {
    return conflictCopyName(name, new Date(this.#o.now()), this.#o.hostName);
  }

  #progress(edit: LocalEdit, bytes: number): void {
    edit.job.progress(edit.path, Math.min(bytes, edit.size), edit.size);
  }
}

/** The unfinished write/create entries of an item, oldest first (the first one holds the session). */
export function uploadEntries(store: Store, itemId: string): JournalEntry[] {
  return store.journal.list({ itemId }).filter((entry) => (entry.kind === 'write' || entry.kind === 'create') && entry.state !== 'done');
}

function finishEntries(store: Store, itemId: string): void {
  for (const entry of uploadEntries(store, itemId)) {
    store.journal.markDone(entry.seq);
    store.journal.remove(entry.seq);
  }
}

function serverFields(record: ItemRecord): Parameters<Store['items']['update']>[1] {
  return {
    size: record.size,
    etag: record.etag ?? null,
    ctag: record.ctag ?? null,
    quickXorHash: record.quickXorHash ?? null,
    mtimeMs: record.mtimeMs,
    ctimeMs: record.ctimeMs,
  };
}

function tagsOf(answer: DriveItem): { etag: string | null; ctag: string | null } {
  return { etag: answer.eTag ?? null, ctag: answer.cTag ?? null };
}

/** OneDrive keeps whole seconds of fileSystemInfo times (§15 #11). */
function wholeSecondsIso(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

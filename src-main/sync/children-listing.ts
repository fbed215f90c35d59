/**
 * A large drive is browsable as soon as it is mounted: while the first enumeration through delta
 * runs in the background, a folder whose children the store does not hold yet is listed on demand
 * (`GET /items/{id}/children`, paged) and its children are stored at once. Delta stays the source
 * of truth: once the enumeration is applied every folder is complete and listings stop; the rules
 * that merge the two (docs/concurrency.md, "Listings during the first enumeration") are kept here:
 *
 * - One logical clock orders listing requests and delta pages. A listing is stamped with the time
 *   its request started, a delta page with the time it arrived.
 * - When the enumeration's batch is applied, an item's delta record wins unless a listing that
 *   started after the page carrying it was received stored it (that listing saw a later state), or
 *   the item was deleted here after that page arrived (the page would bring it back).
 * - A full enumeration removes what it did not list, except items a listing stored, or the store
 *   gained (a folder made here, an upload's answer), after the enumeration began: they may be newer
 *   than the page that would have carried them, and the next delta round (which reports every
 *   change since the enumeration began) confirms or removes them. A tombstone always removes.
 * - While the batch is applied ("sealed"), no listing lands: one that answers then is dropped and
 *   its callers read the store once the batch is in. Listings go first: the enumeration asks for
 *   its next page, and seals, only when none is in flight.
 */
import { OneMountError } from '../base/errors.ts';
import { DEFAULT_TIMEOUTS } from '../lifecycle/timeout-policy.ts';
import type { Logger } from '../base/logger.ts';
import type { DriveItem, GraphClient } from '../graph/index.ts';
import type { ItemRecord, Store, StoredItem } from '../store/index.ts';
import { DELTA_SELECT, isTombstone, mapDriveItem } from './drive-item-mapping.ts';

export type ChildrenSource = Pick<GraphClient, 'listChildren'>;

/** What the filesystem asks before it answers from the store. */
export interface ListingPort {
  /** True once the first enumeration is applied: the store then holds every folder's children. */
  readonly complete: boolean;
  /** The store holds all of this folder's children (by item key). */
  isListed(folderId: string): boolean;
  /** Resolves once the store holds the folder's children (listed now, or by the enumeration). */
  ensureListed(folder: StoredItem, signal?: AbortSignal): Promise<void>;
  /** A program is using the filesystem: the enumeration waits until it has been quiet a moment. */
  activity(): void;
}

/** What delta sync tells about the first enumeration, and asks before applying it. */
export interface EnumerationObserver {
  readonly complete: boolean;
  /** The enumeration's first request is about to be sent. */
  enumerationStarted(): void;
  /** One page of the enumeration arrived. */
  pageReceived(items: readonly DriveItem[]): void;
  /**
   * Resolves when no listing is in flight and the filesystem has been quiet for a moment: the
   * enumeration's next page and its apply wait for it.
   */
  idle(): Promise<void>;
  /** The whole batch arrived and is about to be applied: listings stop landing until finished(). */
  seal(): EnumerationMerge;
  /** The batch was applied (`applied`), or the run failed and listings go on. */
  finished(applied: boolean): void;
}

/** The merge rule, for the batch being applied. */
export interface EnumerationMerge {
  /**
   * What the store holds for this item (server id) is newer than the page that carries it: a
   * listing stored it, or it was deleted here, after that page arrived. The page is not applied.
   */
  storeIsNewer(remoteId: string): boolean;
  /**
   * Server ids that listings stored, or that were inserted into the store, since the enumeration
   * began (kept even when the batch lacks them).
   */
  storedSinceStart(): Iterable<string>;
}

export interface ChildrenListingOptions {
  graph: ChildrenSource;
  store: Store;
  logger: Logger;
  /** The store already holds an applied enumeration (a deltaLink): nothing is ever listed. */
  complete: boolean;
  /** Children per page asked for. Default 1000. */
  pageSize?: number;
  /** How long the filesystem must be quiet before the enumeration goes on. Default 100 ms. */
  quietMs?: number;
  now?: () => number;
}

/** A hidden name for a stored item whose name a listing gives to another item (see #park). */
const STALE_PREFIX = '.onemount-stale-';

export class ChildrenListing implements ListingPort, EnumerationObserver {
  readonly #graph: ChildrenSource;
  readonly #store: Store;
  readonly #logger: Logger;
  readonly #pageSize: number;
  readonly #quietMs: number;
  readonly #now: () => number;
  #lastActivity = Number.NEGATIVE_INFINITY;
  #storingListing = false;
  #complete: boolean;
  #clock = 0;
  /** Folder keys whose children are all in the store. */
  readonly #listed = new Set<string>();
  readonly #inFlight = new Map<string, Promise<void>>();
  /** Server id → start time of the listing that last stored it. */
  readonly #listedAt = new Map<string, number>();
  /** Item key → when it was deleted from the store while the enumeration ran. */
  readonly #deletedAt = new Map<string, number>();
  /** Server id → arrival time of the last enumeration page that carried it. */
  readonly #pageAt = new Map<string, number>();
  #enumerationStart: number | undefined;
  /** The store's highest inode when the enumeration began: items above it arrived since. */
  #inodeAtStart = 0;
  /** Items the running enumeration has received so far. */
  #indexed = 0;
  /** Set while the batch is applied; resolves when finished() is called. */
  #sealed: { promise: Promise<void>; release: () => void } | undefined;

  constructor(options: ChildrenListingOptions) {
    this.#graph = options.graph;
    this.#store = options.store;
    this.#logger = options.logger;
    this.#complete = options.complete;
    this.#pageSize = options.pageSize ?? 1000;
    this.#quietMs = options.quietMs ?? DEFAULT_TIMEOUTS.enumerationQuietMs;
    this.#now = options.now ?? Date.now;
    if (!this.#complete) {
      // The mount's first moments count as activity: the enumeration waits for them (see idle()).
      this.#lastActivity = this.#now();
      this.#store.items.deletionListener = (deleted) => {
        if (this.#enumerationStart === undefined || this.#sealed || this.#storingListing) return;
        const at = ++this.#clock;
        for (const item of deleted) this.#deletedAt.set(item.id, at);
      };
    }
  }

  activity(): void {
    this.#lastActivity = this.#now();
  }

  get complete(): boolean {
    return this.#complete;
  }

  /** While the first enumeration runs: how many items it has received so far. */
  get indexing(): { items: number } | undefined {
    return this.#complete ? undefined : { items: this.#indexed };
  }

  isListed(folderId: string): boolean {
    return this.#complete || this.#listed.has(folderId);
  }

  async ensureListed(folder: StoredItem, signal?: AbortSignal): Promise<void> {
    for (;;) {
      if (this.isListed(folder.id)) return;
      if (this.#sealed) {
        // The enumeration's batch is landing: it holds this folder's children too.
        await this.#sealed.promise;
        continue;
      }
      let running = this.#inFlight.get(folder.id);
      if (!running) {
        running = this.#list(folder, signal).finally(() => this.#inFlight.delete(folder.id));
        this.#inFlight.set(folder.id, running);
      }
      await running;
      // Dropped because the batch started landing meanwhile: the loop waits for it.
    }
  }

  async #list(folder: StoredItem, signal: AbortSignal | undefined): Promise<void> {
    if (folder.remoteId === null || (folder.kind !== 'folder' && folder.kind !== 'package')) {
      // Not on the server yet (or nothing listable there): what the store holds is all there is.
      this.#listed.add(folder.id);
      return;
    }
    const started = ++this.#clock;
    const items: DriveItem[] = [];
    for await (const page of this.#graph.listChildren(folder.remoteId, { top: this.#pageSize, select: DELTA_SELECT, signal })) {
      items.push(...page);
    }
    if (this.#complete || this.#sealed) return;
    const current = this.#store.items.get(folder.id);
    if (!current) return;
    // Its own removals are of entries the server no longer has there, not deletes made here.
    this.#storingListing = true;
    try {
      this.#store.transaction(() => this.#storeListing(current, items, started));
    } finally {
      this.#storingListing = false;
    }
    this.#listed.add(folder.id);
    this.#logger.debug({ folderId: folder.id, children: items.length }, 'folder listed before the enumeration reached it');
  }

  /** Writes one folder's listing (inside a transaction). */
  #storeListing(folder: StoredItem, items: readonly DriveItem[], started: number): void {
    const store = this.#store;
    const driveId = store.driveState.get('driveId') ?? undefined;
    const records: ItemRecord[] = [];
    const seen = new Set<string>();
    for (const item of items) {
      const mapped = mapDriveItem(item, { driveId });
      if (isTombstone(mapped)) continue;
      const remoteId = mapped.remoteId ?? mapped.id;
      seen.add(remoteId);
      const key = store.items.keyOfServerId(remoteId);
      const old = store.items.get(key);
      // A local edit is delta's to reconcile (it records the conflict): a listing leaves it alone.
      if (old && this.#holdsLocalState(old)) continue;
      records.push({ ...mapped, id: key, parentId: folder.id, remoteId });
      this.#listedAt.set(remoteId, started);
    }
    // Children stored earlier (an interrupted start's listings) that the server no longer has here.
    let after: string | undefined;
    const stale: StoredItem[] = [];
    for (;;) {
      const page = store.items.listChildren(folder.id, after, 1000);
      for (const child of page) if (child.remoteId !== null && !seen.has(child.remoteId) && !this.#holdsLocalState(child)) stale.push(child);
      if (page.length < 1000) break;
      after = page[page.length - 1]!.nameKey;
    }
    for (const child of stale) {
      // Cached bytes go with the enumeration's removal, which tells the download manager.
      if (child.kind === 'file' && store.content.get(child.id) === undefined) store.items.deleteSubtree(child.id);
    }
    store.items.upsertMany(records, {
      // A folder that moved away or a stale entry: hidden until the enumeration places or removes it.
      onNameClash: (occupant) => `${STALE_PREFIX}${occupant.inode}`,
    });
  }

  #holdsLocalState(item: StoredItem): boolean {
    if (item.remoteId === null) return true;
    return item.kind === 'file' && this.#store.content.get(item.id)?.status === 'dirty';
  }

  // ---- the enumeration ---------------------------------------------------------------------

  enumerationStarted(): void {
    this.#enumerationStart = ++this.#clock;
    this.#inodeAtStart = this.#store.items.maxInode();
    this.#pageAt.clear();
    this.#deletedAt.clear();
    this.#indexed = 0;
  }

  async idle(): Promise<void> {
    // A folder someone is waiting for, and a program walking what is listed (`ls -l` looks up
    // every entry), go before the enumeration, which nobody waits for.
    for (;;) {
      if (this.#inFlight.size > 0) {
        await Promise.allSettled([...this.#inFlight.values()]);
        continue;
      }
      const wait = this.#lastActivity + this.#quietMs - this.#now();
      if (wait <= 0) return;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  pageReceived(items: readonly DriveItem[]): void {
    const at = ++this.#clock;
    for (const item of items) this.#pageAt.set(item.id, at);
    this.#indexed += items.length;
  }

  seal(): EnumerationMerge {
    if (this.#sealed) throw new OneMountError('LISTING_SEALED', 'an enumeration batch is already being applied');
    let release!: () => void;
    const promise = new Promise<void>((resolve) => (release = resolve));
    this.#sealed = { promise, release };
    const start = this.#enumerationStart ?? 0;
    const listedAt = this.#listedAt;
    const pageAt = this.#pageAt;
    const inserted = this.#store.items.remoteIdsInsertedAfter(this.#inodeAtStart);
    const deletedAt = this.#deletedAt;
    // Items made here have keys of their own; one deleted here is known by its key.
    const keyOf = (remoteId: string) => this.#store.items.keyOf(remoteId);
    return {
      // Without a page time (a source that does not report pages) delta counts as the newer.
      storeIsNewer: (remoteId) => {
        const page = pageAt.get(remoteId) ?? Number.POSITIVE_INFINITY;
        return (listedAt.get(remoteId) ?? -1) > page || (deletedAt.get(keyOf(remoteId)) ?? deletedAt.get(remoteId) ?? -1) > page;
      },
      *storedSinceStart() {
        for (const [id, at] of listedAt) if (at > start) yield id;
        yield* inserted;
      },
    };
  }

  finished(applied: boolean): void {
    const sealed = this.#sealed;
    this.#sealed = undefined;
    this.#pageAt.clear();
    this.#deletedAt.clear();
    this.#enumerationStart = undefined;
    if (applied) {
      this.#complete = true;
      this.#store.items.deletionListener = undefined;
      this.#listed.clear();
      this.#listedAt.clear();
      this.#logger.info('the first enumeration is applied; delta alone keeps the drive current from now on');
    }
    sealed?.release();
  }
}

/**
 * The engine's composition root: store, Graph client, download manager, delta sync, vfs, FUSE mount,
 * the IPC socket and the ordered shutdown. Both front doors use it: `onemount mount|demo|daemon` and
 * (as a supervised child process) the Electron app.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setImmediate as nextLoopTurn } from 'node:timers/promises';
import { ensurePrivateDirSync } from '../base/files.ts';
import type { Logger } from '../base/logger.ts';
import { errorMessage, OneMountError } from '../base/errors.ts';
import { settledWithin } from '../base/deadline.ts';
import { abortableSleep } from '../base/abort.ts';
import { collectGarbage, collectWhenSettled } from '../base/gc.ts';
import { ShutdownCoordinator, type ShutdownReport } from '../lifecycle/shutdown-coordinator.ts';
import { resultAsTask, TaskRegistry, type TaskHandle } from '../lifecycle/task-registry.ts';
import { TimeoutPolicy, type TimeoutConfig } from '../lifecycle/timeout-policy.ts';
import { joinShutdown, type ShutdownAware } from '../lifecycle/participation.ts';
import { openStore, type QuotaSnapshot, type Store } from '../store/index.ts';
import { GraphClient, NetworkError, type Drive, type DriveItem, type TokenProvider } from '../graph/index.ts';
import { DownloadManager, UploadManager } from '../transfers/index.ts';
import { QuotaExceededError } from '../transfers/upload-errors.ts';
import { JournalReplayer } from '../sync/journal-replayer.ts';
import { DeltaSync } from '../sync/delta-sync.ts';
import { ConnectivityMonitor } from '../sync/connectivity.ts';
import { followConnectivity, JOURNAL_PAUSE } from '../sync/reconnect.ts';
import { DELTA_SELECT, isTombstone, mapDriveItem } from '../sync/drive-item-mapping.ts';
import { ChildrenListing } from '../sync/children-listing.ts';
import { SharedFolders } from '../sync/shared-folders.ts';
import type { RecoveryResult } from '../vfs/recovery.ts';
import { recoverSetAside, setCacheAside } from './salvage.ts';
import { followAddressChange } from './address-change.ts';
import { TransferFeed } from './transfer-feed.ts';
import { EditChoices } from '../vfs/edit-choices.ts';
import { Vfs } from '../vfs/vfs.ts';
import { CacheCleaner } from '../vfs/cache-cleaner.ts';
import { PauseControl } from './pause-control.ts';
import { ConflictResolution } from './conflict-resolution.ts';
import { LogLevelSchema, type Settings, type SettingsUpdate } from '../../src-shared/ipc/desktop-calls.ts';
import { loadSettings, saveSettings } from './saved-settings.ts';
import { Pins } from '../vfs/pins.ts';
import { ThumbnailCache } from '../transfers/thumbnail-cache.ts';
import { VfsError } from '../vfs/vfs-error.ts';
import { FuseMount, trimNativeHeap } from '../fuse/fuse-mount.ts';
import { DEFAULT_INDEXER_PROGRAMS, IndexerGuard, type IndexerGuardSettings } from '../fuse/indexer-guard.ts';
import { SocketServer, type EngineHandlers } from '../ipc/socket-server.ts';
import type { EngineState, EngineStatus } from '../../src-shared/ipc/contract.ts';
import type { ShutdownProgress } from '../../src-shared/model/transfer.ts';
import type { AccountPaths } from './paths.ts';
import type { AccountSession } from './account-session.ts';
import { SignedOutError } from '../auth/auth-errors.ts';
import { DriveNameRules, withNameRules } from './name-rules.ts';
import { SuspendGuard } from './suspend-guard.ts';
import { BandwidthLimiter, paceDownloads, paceUploads, requestBytesWithin, type BandwidthLimits } from '../transfers/bandwidth.ts';

/** Records what the drive answer tells (type, id, quota); returns the quota snapshot. */
function rememberDrive(store: Store, drive: Drive): QuotaSnapshot | undefined {
  if (drive.driveType) store.driveState.set('driveType', drive.driveType);
  store.driveState.set('driveId', drive.id);
  const quota = drive.quota;
  if (quota?.total === undefined) return undefined;
  const snapshot: QuotaSnapshot = {
    total: quota.total,
    used: quota.used ?? 0,
    remaining: quota.remaining ?? Math.max(0, quota.total - (quota.used ?? 0)),
    state: quota.state,
    fetchedAtMs: Date.now(),
  };
  store.driveState.set('quota', snapshot);
  return snapshot;
}

/**
 * The drive (every start asks for it) and, on a first start, the root, asked before the store is
 * open. Each promise is also marked handled here: a start that fails first (the store) or takes
 * another path (a rebuilt store enumerates) does not await them, and their outcome then no longer
 * matters; a start that awaits one sees its error as before. A start that knows the drive does not
 * wait for it (Engine.start): `stopDrive` ends its request when the engine stops first.
 */
function startEarlyRequests(
  graph: GraphClient,
  firstStart: boolean,
): { drive: Promise<Drive>; root: Promise<DriveItem> | undefined; stopDrive: (reason: unknown) => void } {
  const driveRequest = new AbortController();
  const drive = graph.getDrive({ signal: driveRequest.signal });
  const root = firstStart ? graph.getItemByPath('', { select: DELTA_SELECT }) : undefined;
  for (const p of [drive, root]) p?.catch(() => undefined);
  return { drive, root, stopDrive: (reason) => driveRequest.abort(reason) };
}

/** The early drive request, as a start that knows the drive takes it after the mount (Engine.start). */
type LaterDrive = Pick<ReturnType<typeof startEarlyRequests>, 'drive' | 'stopDrive'>;

/** The delta pause reason of the user's "pause syncing". */
const USER_PAUSE = 'user';

/** Growth of the memory V8 holds since the last collection that is collected once the engine settles (gc.ts). */
const GC_GROWTH_BYTES = 16 * 1024 * 1024;

/** Changed pictures fetched ahead at most per delta batch (more is a whole drive: the UI asks as it shows them). */
const THUMBNAIL_PREFETCH_LIMIT = 500;
/** Empty cache files kept ready for new local files (transfers/spare-cache-files.ts). */
const SPARE_CACHE_FILES = 16;

/** IPC calls that start work: refused once shutdown began (questions and quit are still answered). */
const CALLS_THAT_START_WORK = ['syncNow', 'retryTransfer', 'pin', 'unpin', 'free', 'thumbnail', 'resolveConflict', 'pause', 'resume', 'updateSettings', 'signIn', 'signOut'] as const;

export interface EngineConfig {
  paths: AccountPaths;
  mountpoint: string;
  graphUrl: string;
  tokenProvider: TokenProvider;
  /** A signed-in account (its token provider is `tokenProvider`); absent with a fixed emulator token. */
  session?: AccountSession;
  logger: Logger;
  pollIntervalMs: number;
  downloadConcurrency: number;
  uploadConcurrency: number;
  /** Quiet time after the last write before a file uploads. */
  writeBackDelayMs: number;
  /** Kernel attribute/entry cache, seconds. */
  kernelCacheSec: number;
  /** Cache size limit in bytes; default the smaller of 10 GiB and 10 % of the cache's filesystem. */
  cacheLimitBytes?: number;
  /** Indexers' and thumbnailers' reads of files not on this device (default: refused, the known programs). */
  indexers?: IndexerGuardSettings;
  timeouts?: Partial<TimeoutConfig>;
  /** The system bus where logind announces sleep and shutdown; default $DBUS_SYSTEM_BUS_ADDRESS, else the standard one. */
  systemBusAddress?: string;
  /** Bandwidth limits for all uploads / all downloads together, bytes per second; 0 or absent: none. */
  uploadLimitBytesPerSecond?: number;
  downloadLimitBytesPerSecond?: number;
  /** Shutdown progress, for the terminal or the UI. */
  onShutdownProgress?: (p: ShutdownProgress) => void;
}

export class Engine {
  private state: EngineState = 'starting';
  private lastSyncAt: number | undefined;
  private lastSyncError: string | undefined;

  private constructor(
    private readonly cfg: EngineConfig,
    readonly store: Store,
    readonly graph: GraphClient,
    readonly downloads: DownloadManager,
    readonly uploads: UploadManager,
    readonly replayer: JournalReplayer,
    readonly sync: DeltaSync,
    readonly vfs: Vfs,
    readonly tasks: TaskRegistry,
    readonly policy: TimeoutPolicy,
    readonly shutdownCoordinator: ShutdownCoordinator,
    readonly connectivity: ConnectivityMonitor,
    private driveType: string | undefined,
    private readonly editChoices: EditChoices,
    /** What was recovered from a corrupt database at this start, for status. */
    private readonly recovery: RecoveryResult | undefined,
    readonly sharedFolders: SharedFolders,
    private readonly listing: ChildrenListing,
  ) {}

  private mount: FuseMount | undefined;
  private quotaRefreshNow: TaskHandle | undefined;
  private cleaner: CacheCleaner | undefined;
  private pauseControl: PauseControl | undefined;
  private stopped: Promise<ShutdownReport> | undefined;
  /** Settings changed over IPC since start. */
  private liveSettings: SettingsUpdate = {};
  private pins: Pins | undefined;
  private thumbnails: ThumbnailCache | undefined;
  private ipc: SocketServer | undefined;
  private suspendGuard: SuspendGuard | undefined;
  /** Uploads this engine paused for a sleep (not the user's pause), resumed on waking. */
  private pausedForSleep = false;
  private sleptWithChanges: EngineStatus['sleptWithChanges'];
  /** The shared upload and download limiters (set by start). */
  private bandwidth: BandwidthLimits | undefined;
  private indexerGuard: IndexerGuard | undefined;
  /** A status push after indexer refusals is waiting (one a second however many are refused). */
  private indexerStatusPending = false;

  static async start(cfg: EngineConfig): Promise<Engine> {
    const { paths, logger } = cfg;
    const policy = new TimeoutPolicy(cfg.timeouts);
    const tasks = new TaskRegistry({ logger });

    // Every Graph attempt feeds the connectivity state; while offline nothing repeats against a
    // service known to be away, and the probe finds out when it is back.
    const connectivity: ConnectivityMonitor = new ConnectivityMonitor({
      probe: (signal): Promise<void> => graph.probe({ signal }),
      tasks,
      logger,
      probeTimeoutMs: policy.ms('probeTimeoutMs'),
      backoff: { baseMs: policy.ms('probeRetryBaseMs'), maxMs: policy.ms('probeRetryMaxMs') },
    });
    const graph = new GraphClient({
      baseUrl: cfg.graphUrl,
      tokenProvider: cfg.tokenProvider,
      logger,
      requestTimeoutMs: policy.ms('requestTimeoutMs'),
      connectTimeoutMs: policy.ms('connectTimeoutMs'),
      idleConnectionMs: policy.ms('idleConnectionMs'),
      stallTimeoutMs: policy.ms('transferStallTimeoutMs'),
      maxRetries: policy.ms('requestRetries'),
      maxThrottleRetries: policy.ms('requestThrottleRetries'),
      retryBaseMs: policy.ms('requestRetryBaseMs'),
      retryMaxMs: policy.ms('requestRetryMaxMs'),
      onOutcome: (ok, error) => connectivity.report(ok, error),
      isOffline: () => connectivity.offline,
    });
    // The start's first requests (what every start asks) go out now and travel while the folders
    // and the store are opened; their answers are used below exactly as if asked there. No store
    // file yet means a first start, which also asks for the root. (A database found corrupt below
    // enumerates instead: its early drive answer is then not used.)
    const early = startEarlyRequests(graph, !existsSync(paths.storeFile));
    // One turn of the event loop lets them connect and go out before the synchronous steps below.
    await nextLoopTurn();

    let opened: ReturnType<typeof openStore>;
    try {
      // Synchronous: the early requests' events would hold up each folder level (files.ts).
      for (const dir of [paths.configDir, paths.stateDir, paths.cacheDir]) ensurePrivateDirSync(dir);
      opened = openStore({ path: paths.storeFile, logger, busyTimeoutMs: policy.ms('storeBusyTimeoutMs') });
    } catch (e) {
      await graph.close();
      throw e;
    }
    const { store, rebuiltFrom } = opened;
    if (rebuiltFrom) {
      // Unsent edits live in the cache folder: set it aside before anything can reuse its files.
      const setAside = await setCacheAside(paths.cacheDir, rebuiltFrom, Date.now());
      logger.error({ movedTo: rebuiltFrom, cacheSetAside: setAside }, 'the local database was unreadable; it was moved aside, the drive is enumerated again and unsent changes are recovered');
    }

    followAddressChange(store, cfg.graphUrl, logger);
    // Entries a previous run left mid-request (even by kill -9) go back to pending before the
    // replayer and the upload manager first look at the journal, which both read pending entries
    // only: requeued later, a folder made offline waited for a kick that never came (fuzz 111000/6).
    const requeued = store.journal.requeueInterrupted();
    if (requeued > 0) logger.info({ requeued }, 'changes a previous run left mid-request are sent again');

    const bandwidth: BandwidthLimits = {
      up: new BandwidthLimiter({ bytesPerSecond: cfg.uploadLimitBytesPerSecond ?? 0, burstMs: policy.ms('bandwidthBurstMs') }),
      down: new BandwidthLimiter({ bytesPerSecond: cfg.downloadLimitBytesPerSecond ?? 0, burstMs: policy.ms('bandwidthBurstMs') }),
    };
    const downloads = new DownloadManager({
      graph: paceDownloads(graph, bandwidth.down),
      store,
      cacheDir: paths.cacheDir,
      // A burst of new files (an unpacked archive, a copied folder) takes them faster than one at a time.
      spareFiles: SPARE_CACHE_FILES,
      spareFilesRetryMs: policy.ms('spareFilesRetryMs'),
      tasks,
      logger,
      concurrency: cfg.downloadConcurrency,
      downloadUrlTtlMs: policy.ms('downloadUrlTtlMs'),
      progressIntervalMs: policy.ms('downloadProgressIntervalMs'),
      maxInterruptions: policy.ms('downloadInterruptionRetries'),
      buffersKeepMs: policy.ms('downloadBuffersKeepMs'),
    });
    // Writes the previous run answered before it could record them (killed in between).
    const grown = await downloads.content.recordAnsweredWrites(Date.now(), (itemId, err) =>
      logger.error({ err, itemId }, 'could not check whether a file the previous run wrote to is longer than it had recorded; it keeps its recorded size'),
    );
    if (grown > 0) logger.warn({ files: grown }, 'files the previous run wrote to just before it ended are longer than it had recorded: their new size is kept and uploaded');
    // A first start mounts as soon as the drive and its root are known; the enumeration runs in the
    // background while folders are listed on demand. A rebuilt store still enumerates first: its
    // unsent changes are recovered once the drive is known whole.
    const firstStart = !store.driveState.get('deltaLink');
    const indexInBackground = firstStart && !rebuiltFrom;
    const listing = new ChildrenListing({ graph, store, logger, complete: !indexInBackground, quietMs: policy.ms('enumerationQuietMs') });
    const sync = new DeltaSync({
      graph,
      store,
      listing,
      invalidator: downloads,
      logger,
      tasks,
      pollIntervalMs: cfg.pollIntervalMs,
      sliceMs: policy.ms('deltaApplySliceMs'),
      errorBackoff: { baseMs: policy.ms('deltaRetryBaseMs'), maxMs: policy.ms('deltaRetryMaxMs') },
    });
    // Shared folders: requests for their items go to their drives; each one's own delta runs after the main one.
    const shared = new SharedFolders({
      graph,
      store,
      invalidator: downloads,
      logger,
      tasks,
      driveMode: () => (store.driveState.get('driveType') === 'personal' ? 'personal' : 'business'),
    });
    graph.setRouter(shared);
    sync.events.on('applied', () => shared.kick());
    shared.events.on('changed', (change) => sync.events.emit('changed', change));
    shared.start();

    // The drive's kind decides the naming rules. A start that knows it and the root (a later
    // start, or one after a first enumeration that did not finish) mounts the drive it has and
    // applies the drive's answer (id, quota) when it comes: waiting for it held the mount for a
    // round trip at every start, and for minutes behind a network that takes connections but never
    // answers. Offline or signed out with a known drive, the stored answer will do.
    let laterDrive: LaterDrive | undefined;
    try {
      if (store.driveState.get('driveType') && store.items.getRoot()) {
        laterDrive = early;
        if (indexInBackground) logger.info('the first enumeration did not finish: mounting now and enumerating the drive again in the background');
      } else if (indexInBackground) {
        logger.info('first start: mounting now and enumerating the drive in the background');
        const [drive, root] = await Promise.all([early.drive, early.root ?? graph.getItemByPath('', { select: DELTA_SELECT })]);
        rememberDrive(store, drive);
        const record = mapDriveItem(root, { driveId: drive.id });
        if (isTombstone(record)) throw new OneMountError('ROOT_GONE', `the drive's root came back as gone (${record.reason})`);
        store.items.upsert(record);
      } else if (firstStart) {
        logger.info('first start: enumerating the drive');
        await sync.syncOnce();
      } else {
        rememberDrive(store, await early.drive);
      }
    } catch (e) {
      // Offline or signed out with a known drive: mount what is cached; the rest waits.
      if (!(e instanceof NetworkError || e instanceof SignedOutError) || !store.items.getRoot()) {
        store.close();
        await graph.close();
        throw e;
      }
      logger.warn({ err: e }, e instanceof SignedOutError ? 'signed out; mounting the cached drive until the account signs in again' : 'the server is unreachable; mounting the cached drive offline');
    }
    let recovery: RecoveryResult | undefined;
    try {
      // Once the rebuilt store holds the drive again (a start that failed before keeps it for the next).
      if (store.driveState.get('deltaLink')) recovery = await recoverSetAside(paths.cacheDir, store, logger);
    } catch (e) {
      logger.error({ err: e }, 'could not recover the unsent changes of the corrupt database yet; trying again at the next start');
    }
    const driveType = store.driveState.get('driveType') ?? undefined;
    const driveMode = driveType === 'personal' ? 'personal' : 'business';
    // What the drive accepts in names, as it has shown so far; every call that names an item reports a refusal to it.
    const nameRules = await DriveNameRules.load(path.join(paths.stateDir, 'name-rules.json'), driveMode, logger);
    const named = withNameRules(graph, nameRules);
    const toRecord = (item: DriveItem) => {
      // Answers may be about items of shared folders (other drives): they keep their drive.
      const r = mapDriveItem(item, { ownDriveId: store.driveState.get('driveId') ?? undefined });
      if (isTombstone(r)) throw new Error(`the server answered with an item that is gone (${r.reason})`);
      if (r.parentId !== null) r.parentId = shared.localParent(r.parentId);
      return r;
    };
    const hostName = os.hostname();
    const uploads = new UploadManager({
      graph: paceUploads(named, bandwidth.up),
      maxRequestBytes: () => requestBytesWithin(bandwidth.up),
      store,
      cachePath: (id) => downloads.cachePath(id),
      content: downloads.content,
      toRecord,
      contentInvalidator: downloads,
      tasks,
      logger,
      concurrency: cfg.uploadConcurrency,
      writeBackDelayMs: cfg.writeBackDelayMs,
      retryBaseMs: policy.ms('uploadRetryBaseMs'),
      retryMaxMs: policy.ms('uploadRetryMaxMs'),
      parentWaitMs: policy.ms('parentWaitMs'),
      maxAttempts: policy.ms('uploadAttempts'),
      serviceReachable: () => !connectivity.offline,
      hostName,
    });
    const replayer = new JournalReplayer({
      graph: named,
      store,
      toRecord,
      logger,
      tasks,
      hostName,
      retry: { baseMs: policy.ms('replayRetryBaseMs'), maxMs: policy.ms('replayRetryMaxMs') },
      drives: shared,
    });
    // A share's batch that journaled deletes of landed copies (as the main delta's): replay them.
    shared.events.on('applied', (e) => {
      if (e.deletedHere > 0) replayer.kick();
    });
    // Offline changes replay before delta runs again, so a remote view cannot undo them first.
    const journaled = () => {
      sync.pause(JOURNAL_PAUSE);
      replayer.kick();
    };
    // An upload that could not move its new file to where it is here journals the move.
    uploads.events.on('journaled', journaled);
    const vfs = new Vfs({
      store,
      graph: named,
      downloads,
      content: downloads.content,
      uploads,
      onJournaled: journaled,
      logger,
      driveMode: nameRules,
      toRecord,
      uid: process.getuid?.() ?? 0,
      gid: process.getgid?.() ?? 0,
      readTimeoutMs: policy.ms('uncachedReadTimeoutMs'),
      prepareTimeoutMs: policy.ms('prepareForChangeTimeoutMs'),
      hideGraceMs: policy.ms('hiddenFileGraceMs'),
      network: connectivity,
      shares: shared,
      listing,
    });
    const known = store.driveState.get('quota');
    if (known) vfs.setQuota(known);
    const coordinator = new ShutdownCoordinator({ policy, logger });
    const editChoices = new EditChoices({ store, graph: named, downloads, content: downloads.content, uploads, toRecord, hostName });
    const engine = new Engine(cfg, store, graph, downloads, uploads, replayer, sync, vfs, tasks, policy, coordinator, connectivity, driveType, editChoices, recovery, shared, listing);
    engine.bandwidth = bandwidth;
    await engine.begin(firstStart && !indexInBackground, laterDrive);
    return engine;
  }

  /** A drive's answer: stored (kind, id, quota), and its quota shown by statfs from now on. */
  private applyDrive(drive: Drive): void {
    const quota = rememberDrive(this.store, drive);
    if (quota) this.vfs.setQuota(quota);
  }

  private async begin(enumerated: boolean, laterDrive: LaterDrive | undefined): Promise<void> {
    const { logger } = this.cfg;
    if (laterDrive) {
      this.tasks.start('drive-at-start', async (signal) => {
        const stop = () => laterDrive.stopDrive(signal.reason);
        signal.addEventListener('abort', stop, { once: true });
        try {
          this.applyDrive(await laterDrive.drive);
        } catch (e) {
          if (signal.aborted) return;
          // Offline or signed out is a state the engine shows anyway; anything else is worth a warning.
          const level = e instanceof NetworkError || e instanceof SignedOutError ? 'info' : 'warn';
          logger[level]({ err: e }, 'the drive could not be asked for at the start; its stored answer is used');
        } finally {
          signal.removeEventListener('abort', stop);
        }
      });
    }
    const isOpen = (itemId: string) => this.vfs.isOpen(itemId);
    const policy = this.policy;
    const cleaner = new CacheCleaner({
      store: this.store,
      downloads: this.downloads,
      isOpen,
      cacheDir: this.cfg.paths.cacheDir,
      tasks: this.tasks,
      logger,
      limitBytes: this.cfg.cacheLimitBytes,
      intervalMs: policy.ms('cacheCleanIntervalMs'),
      minGapMs: policy.ms('cacheCleanMinGapMs'),
    });
    const pins = new Pins({ store: this.store, downloads: this.downloads, isOpen, tasks: this.tasks, logger, changes: this.sync.events, rescanIntervalMs: policy.ms('pinsRescanMs') });
    this.cleaner = cleaner;
    this.pins = pins;
    const thumbnails = new ThumbnailCache({ graph: this.graph, cacheDir: this.cfg.paths.cacheDir, tasks: this.tasks, logger });
    this.thumbnails = thumbnails;
    // Pictures that arrive or change after the first enumeration get thumbnails ahead of time; a
    // whole drive's worth is left to the UI to ask for as it shows them.
    this.sync.events.on('changed', (change) => {
      if (change.upserted.length > THUMBNAIL_PREFETCH_LIMIT) return;
      thumbnails.prefetch(change.upserted.flatMap((id) => this.store.items.get(id) ?? []));
    });
    this.sync.events.on('applied', (e) => {
      this.lastSyncAt = Date.now();
      this.lastSyncError = undefined;
      if (this.state === 'syncing' || this.state === 'offline') this.state = 'ready';
      logger.info(e, 'remote changes applied');
      if (e.deletedHere > 0) this.replayer.kick();
    });
    this.sync.events.on('error', (e) => {
      this.lastSyncError = errorMessage(e.error);
    });
    this.indexerGuard = new IndexerGuard({
      ...(this.cfg.indexers ?? { refuse: true, programs: DEFAULT_INDEXER_PROGRAMS }),
      logger,
      onRefused: () => this.pushIndexerStatus(),
    });
    const leftOver = await this.vfs.deleteHiddenLeftOver();
    if (leftOver > 0) logger.info({ files: leftOver }, 'files deleted while a program held them open, just before the engine stopped, are deleted now');
    this.mount = await FuseMount.mount({
      mountpoint: this.cfg.mountpoint,
      vfs: this.vfs,
      logger,
      indexerGuard: this.indexerGuard,
      attrTimeoutSec: this.cfg.kernelCacheSec,
      entryTimeoutSec: this.cfg.kernelCacheSec,
      keptAttrsMs: policy.ms('keptAttrsMs'),
    });
    this.state = 'ready';
    followConnectivity({ connectivity: this.connectivity, sync: this.sync, replayer: this.replayer, uploads: this.uploads });
    this.watchConnectivity();
    this.replayer.start();
    this.uploads.start();
    this.sync.start({ afterInterval: enumerated });
    // A first enumeration, a large delta batch or the listing of a large folder leaves its pages
    // behind as garbage an idle process would keep holding.
    this.tasks.start('gc-when-settled', (signal) =>
      collectWhenSettled({
        everyMs: policy.ms('gcCheckMs'),
        growthBytes: GC_GROWTH_BYTES,
        signal,
        collect: async () => {
          this.vfs.dropCaches();
          await collectGarbage();
          trimNativeHeap();
        },
        // A first enumeration that ran before the mount left its pages in the heap already.
        ...(enumerated ? { countFrom: 0 } : {}),
        onCollected: (e) => logger.debug({ heldBeforeMiB: Math.round(e.before / 2 ** 20), heldAfterMiB: Math.round(e.after / 2 ** 20), ms: Math.round(e.ms) }, 'garbage of a burst collected'),
        onError: (err) => logger.warn({ err }, 'could not collect the garbage of a burst'),
      }),
    );
    // The quota (statfs, the panel's storage bar) is not urgent: refreshed in the background.
    this.tasks.start('quota-refresh', async (signal) => {
      // Soon when nothing is known yet (a first start asked only delta), else at the usual pace.
      let wait = policy.ms(this.store.driveState.get('quota') ? 'quotaRefreshMs' : 'quotaFirstRefreshMs');
      while (!signal.aborted) {
        await abortableSleep(wait, signal).catch(() => undefined);
        if (signal.aborted) return;
        wait = policy.ms('quotaRefreshMs');
        try {
          this.applyDrive(await this.graph.getDrive({ signal }));
        } catch (e) {
          logger.debug({ err: e }, 'could not refresh the drive quota; keeping the last known numbers');
        }
      }
    });
    cleaner.start();
    pins.start();
    thumbnails.start();
    for (const [event, level] of [['conflict', 'warn'], ['failed', 'error']] as const) {
      this.uploads.events.on(event, (e) => logger[level](e, `upload ${event}`));
    }
    // A full drive: the storage numbers shown (statfs, status, the panel) must say so now.
    this.uploads.events.on('failed', (e) => {
      if (e.error instanceof QuotaExceededError && !this.quotaRefreshNow) {
        this.quotaRefreshNow = this.tasks.start('quota-refresh:now', async (signal) => {
          try {
            this.applyDrive(await this.graph.getDrive({ signal }));
          } catch (err) {
            logger.warn({ err }, 'could not refresh the drive quota after it ran out');
          } finally {
            this.quotaRefreshNow = undefined;
          }
        });
      }
    });
    this.tasks.start('access-times', async (signal) => {
      // Last-access times feed the cache cleaner's LRU; batching them keeps reads free of commits.
      while (!signal.aborted) {
        await abortableSleep(policy.ms('accessTimesFlushMs'), signal).catch(() => undefined);
        this.vfs.flushAccessTimes();
      }
    });
    // "Pause syncing": delta (with its own reason, so an outage cannot lift it) and uploads.
    this.pauseControl = new PauseControl(
      [
        { pause: () => this.sync.pause(USER_PAUSE), resume: () => this.sync.resume(USER_PAUSE) },
        { pause: () => this.uploads.pause(), resume: () => this.uploads.resume() },
      ],
      this.tasks,
      (state) => {
        logger.info(state, state.paused ? 'syncing paused' : 'syncing resumed');
        if (this.ipc) this.ipc.emit('status', this.status());
      },
    );
    const conflicts = new ConflictResolution(this.store, this.vfs, this.editChoices);
    const session = this.cfg.session;
    session?.attach({
      tasks: this.tasks,
      retryUploads: () => this.uploads.retryNow(),
      catchUp: () => {
        this.replayer.kick();
        this.tasks.start('sync-after-sign-in', async () => {
          try {
            await this.sync.syncNow();
          } catch (e) {
            logger.warn({ err: e }, 'catching up after sign-in failed');
          }
        });
      },
      emit: (event, payload) => this.ipc?.emit(event, payload),
      pushStatus: () => this.ipc?.emit('status', this.status()),
      shutdown: (reason) => void this.shutdown(reason),
    });
    const feed = new TransferFeed({
      uploads: this.uploads,
      downloads: this.downloads,
      store: this.store,
      tasks: this.tasks,
      logger,
      emit: (transfers) => this.ipc?.emit('transferProgress', { transfers }),
    });
    this.vfs.events.on('fileError', (e) => this.ipc?.emit('fileError', e));
    this.ipc = await SocketServer.listen(
      this.cfg.paths.socketPath,
      this.callsAsTasks({
        status: () => this.status(),
        retryTransfer: ({ id }) => {
          const row = this.uploads.snapshot().find((t) => t.id === id);
          // Downloads retry when a program reads again; an upload is sent again now.
          if (!row) throw new OneMountError('TRANSFER_NOT_FOUND', `no upload ${id} to retry (downloads retry when the file is read again)`);
          this.uploads.schedule(row.itemId, { priority: 'high' });
          return { ok: true as const };
        },
        pause: ({ durationMs }) => this.pauseControl!.pause(durationMs),
        resume: () => this.pauseControl!.resume(),
        conflicts: () => ({ conflicts: conflicts.list() }),
        recent: () => ({ recent: feed.recent() }),
        resolveConflict: async ({ id, choice }) => {
          const message = await conflicts.resolve(id, choice);
          logger.info({ conflict: id, choice }, message);
          return { ok: true as const, message };
        },
        settings: () => this.currentSettings(),
        updateSettings: async (update) => {
          if (update.cacheLimitBytes !== undefined) this.cleaner?.setLimit(update.cacheLimitBytes);
          if (update.downloadConcurrency !== undefined) this.downloads.setConcurrency(update.downloadConcurrency);
          if (update.uploadConcurrency !== undefined) this.uploads.setConcurrency(update.uploadConcurrency);
          if (update.logLevel !== undefined) logger.level = update.logLevel;
          // Transfers under way follow a new limit from their next piece.
          if (update.uploadLimitBytesPerSecond !== undefined) this.bandwidth?.up.setLimit(update.uploadLimitBytesPerSecond);
          if (update.downloadLimitBytesPerSecond !== undefined) this.bandwidth?.down.setLimit(update.downloadLimitBytesPerSecond);
          if (update.refuseIndexers !== undefined || update.indexerPrograms !== undefined) {
            this.indexerGuard?.update({
              ...(update.refuseIndexers !== undefined ? { refuse: update.refuseIndexers } : {}),
              ...(update.indexerPrograms !== undefined ? { programs: update.indexerPrograms } : {}),
            });
          }
          this.liveSettings = { ...this.liveSettings, ...update };
          await saveSettings(this.cfg.paths.configDir, { ...(await loadSettings(this.cfg.paths.configDir)), ...update });
          return this.currentSettings();
        },
        quitNow: () => {
          // A second "quit": the fast, still lossless exit (uploads persist their offsets).
          this.shutdownCoordinator.force('quit now requested over IPC');
          return { ok: true as const };
        },
        syncNow: () => {
          if (this.pauseControl?.state.paused) return { started: false, message: 'Syncing is paused: resume it to sync now' };
          if (this.connectivity.offline) {
            // Offline, "sync now" means "try the network now".
            this.connectivity.checkNow();
            return { started: false, message: 'Offline: checking the connection now; syncing resumes when OneDrive answers' };
          }
          this.tasks.start('sync-now', async () => {
            try {
              await this.sync.syncNow();
            } catch (e) {
              logger.warn({ err: e }, 'sync now failed');
            }
          });
          return { started: true };
        },
        pin: ({ path }) => pins.pin(path),
        unpin: ({ path }) => pins.unpin(path),
        free: ({ path }) => pins.free(path),
        thumbnail: async ({ path, size }) => {
          const item = path === '/' ? this.store.items.getRoot() : this.store.items.resolvePath(path);
          if (!item) throw new VfsError('ENOENT', `no such file or folder: ${path}`);
          const file = await thumbnails.get(item, size);
          return file === undefined ? {} : { file };
        },
        quit: () => {
          void this.shutdown('quit requested over IPC');
          return { ok: true as const };
        },
        ...(session ? { signIn: () => session.signIn(), signOut: () => session.signOut() } : {}),
      }),
      logger,
      { startsWork: CALLS_THAT_START_WORK },
    );
    this.joinShutdown(cleaner, pins, thumbnails);
    this.guardSuspend();
  }

  /** Changes waiting to upload: uploads not failed, and namespace changes not sent yet. */
  private pendingChanges(): number {
    const uploads = this.uploads.snapshot().filter((t) => t.state !== 'failed').length;
    const namespace = this.store.journal.list({ states: ['pending', 'uploading'] }).filter((e) => e.kind !== 'write' && e.kind !== 'create').length;
    return uploads + namespace;
  }

  /** Sleep and shutdown wait for uploads (suspend-guard.ts); started in the background, it never holds up the mount. */
  private guardSuspend(): void {
    const { logger } = this.cfg;
    const guard = new SuspendGuard({
      logger,
      timing: {
        recheckMs: this.policy.ms('suspendRecheckMs'),
        releaseMarginMs: this.policy.ms('suspendReleaseMarginMs'),
        assumedDelayMs: this.policy.ms('suspendAssumedDelayMs'),
        connectTimeoutMs: this.policy.ms('localCallTimeoutMs'),
      },
      ...(this.cfg.systemBusAddress ? { busAddress: this.cfg.systemBusAddress } : {}),
      hooks: {
        pendingChanges: () => this.pendingChanges(),
        prepare: async (budgetMs) => {
          await settledWithin(this.uploads.whenIdle(), budgetMs);
          // The rest stop with their sessions and offsets kept; they continue from there on waking.
          if (!this.uploads.paused && this.pendingChanges() > 0) {
            this.uploads.pause();
            this.pausedForSleep = true;
          }
          this.vfs.flushAccessTimes();
          this.store.checkpoint();
          return this.pendingChanges();
        },
        resumed: () => {
          if (this.pausedForSleep) {
            this.pausedForSleep = false;
            this.uploads.resume();
          }
          // The network may have changed while asleep: the connections kept from before may lead
          // nowhere (a request on one would wait for its whole timeout); find out now, not at the
          // next poll.
          this.graph.dropIdleConnections();
          this.connectivity.checkNow();
          this.uploads.retryNow();
          if (!this.pauseControl?.state.paused) {
            this.tasks.start('sync-after-wake', async () => {
              try {
                await this.sync.syncNow();
              } catch (e) {
                logger.info({ err: e }, 'syncing after waking up failed; the connection is checked again');
              }
            });
          }
        },
        announce: (notUploaded) => {
          this.sleptWithChanges = { notUploaded, at: Date.now() };
          this.ipc?.emit('status', this.status());
        },
      },
    });
    this.suspendGuard = guard;
    for (const event of ['done', 'failed'] as const) this.uploads.events.on(event, () => guard.changed());
    this.tasks.start('suspend-guard', async () => {
      await guard.start();
    });
  }

  /**
   * The shutdown is the components' own steps, joined (lifecycle/participation.ts): each says
   * what it does in which phase. The engine adds only what belongs to no component: its state,
   * the store's last checkpoint, the unmount and the final count of background tasks.
   */
  private joinShutdown(cleaner: CacheCleaner, pins: Pins, thumbnails: ThumbnailCache): void {
    const c = this.shutdownCoordinator;
    c.onProgress((p) => {
      this.cfg.onShutdownProgress?.(p);
      this.ipc?.emit('shutdown', p);
    });
    const engine: ShutdownAware = {
      shutdownSteps: () => [
        { phase: 'stop-new-work', name: 'engine: stopping', run: async () => void (this.state = 'stopping') },
        // Held until the uploads phase has saved what it could; then sleep and shutdown need not wait.
        { phase: 'save-state', name: 'suspend-guard', run: async () => this.suspendGuard?.stop() },
        { phase: 'save-state', name: 'store', run: async () => this.saveState() },
        { phase: 'unmount', name: 'fuse', run: () => this.unmountAndStopTasks() },
      ],
    };
    // Background downloaders stop in the downloads phase, next to the manager they use.
    const downloaders: ShutdownAware = {
      shutdownSteps: () => [
        { phase: 'downloads', name: 'pins', run: () => pins.stop() },
        { phase: 'downloads', name: 'thumbnails', run: () => thumbnails.stop() },
        { phase: 'downloads', name: 'cache-cleaner', run: () => cleaner.stop() },
      ],
    };
    const components: ShutdownAware[] = [engine, this.sync, this.sharedFolders, this.connectivity, this.uploads, downloaders, this.downloads];
    if (this.ipc) components.push(this.ipc);
    joinShutdown(c, components);
  }

  private saveState(): void {
    this.vfs.flushAccessTimes();
    this.store.checkpoint();
  }

  /** The last step: no FUSE call can start work after the unmount; then every task must end. */
  private async unmountAndStopTasks(): Promise<void> {
    const { logger } = this.cfg;
    try {
      await this.mount?.unmount();
    } finally {
      // A file libfuse hid a moment before (an unlink of an open file, its fate not known yet) is
      // deleted, as the unlink was answered: journaled, for the next start.
      await this.vfs.deleteHiddenFiles();
    }
    const { unfinished } = await this.tasks.stopAll(this.policy.ms('taskStopTimeoutMs'));
    if (unfinished.length === 0) logger.info({ tasksLeft: 0 }, 'shutdown: no background task left');
    else logger.error({ tasksLeft: unfinished.length, tasks: unfinished.map((t) => t.name) }, `shutdown: ${unfinished.length} background task(s) still running`);
    this.store.close();
    await this.graph.close();
  }

  /**
   * The IPC calls that start work run as tasks named `ipc:<call>` (a pin walking a folder, a
   * conflict being resolved): listed while they run and awaited before the store closes, instead
   * of running on behind the shutdown.
   */
  private callsAsTasks(handlers: EngineHandlers): EngineHandlers {
    const wrapped: Record<string, unknown> = { ...handlers };
    for (const name of CALLS_THAT_START_WORK) {
      const handler = handlers[name] as ((params: unknown) => unknown) | undefined;
      if (!handler) continue;
      wrapped[name] = (params: unknown) =>
        resultAsTask(this.tasks, `ipc:${name}`, this.tasks.signal, async () => handler(params));
    }
    return wrapped as EngineHandlers;
  }

  /** Background tasks running now: zero once a shutdown has finished (tests assert it). */
  get tasksLeft(): number {
    return this.tasks.size;
  }

  /** The status follows connectivity (sync/reconnect.ts has what the engine does about it) and is pushed on changes. */
  private watchConnectivity(): void {
    const goOffline = () => {
      if (this.state === 'ready' || this.state === 'syncing') this.state = 'offline';
    };
    this.connectivity.on('offline', goOffline);
    this.connectivity.on('online', () => {
      if (this.state === 'offline') this.state = 'ready';
    });
    this.connectivity.on('change', () => this.ipc?.emit('status', this.status()));
    if (this.connectivity.offline) goOffline();
  }

  status(): EngineStatus {
    const quota = this.store.driveState.get('quota') ?? undefined;
    return {
      account: this.cfg.paths.account,
      mountpoint: this.cfg.mountpoint,
      state: this.state,
      driveType: this.driveType,
      items: this.store.items.count(),
      cachedBytes: this.store.content.totalCachedBytes(),
      quota: quota ? { total: quota.total, used: quota.used, remaining: quota.remaining, state: quota.state } : undefined,
      lastSyncAt: this.lastSyncAt,
      lastSyncError: this.lastSyncError,
      connectivity: this.connectivity.current,
      throttledUntil: this.graph.throttledUntil,
      transfers: [...this.uploads.snapshot(), ...this.downloads.snapshot()],
      pid: process.pid,
      pause: this.pauseControl?.state ?? { paused: false },
      conflicts: this.store.conflicts.countUnresolved(),
      ...(this.cfg.session ? { auth: this.cfg.session.authState() } : {}),
      ...(this.indexerGuard ? { indexers: this.indexerGuard.snapshot() } : {}),
      ...(this.listing.indexing ? { indexing: this.listing.indexing } : {}),
      ...(this.recovery && this.recovery.restored + this.recovery.recovered > 0 ? { recovery: this.recovery } : {}),
      ...(this.sleptWithChanges && this.pendingChanges() > 0 ? { sleptWithChanges: this.sleptWithChanges } : {}),
      ...this.failedChanges(),
    };
  }

  /** Namespace changes the server refused (failed uploads show as failed transfer rows instead). */
  private failedChanges(): Pick<EngineStatus, 'failedChanges'> {
    const failed = this.store.journal.list({ states: ['failed'] }).filter((e) => e.kind !== 'write' && e.kind !== 'create');
    if (failed.length === 0) return {};
    return {
      failedChanges: failed.map((e) => ({
        path: this.store.items.pathOf(e.itemId) ?? e.name ?? e.itemId,
        change: e.kind === 'rename' ? `rename to ${e.newName ?? '?'}` : e.kind,
        message: e.lastError ?? 'refused by the server',
      })),
    };
  }

  /** What the settings view shows; start on login and notifications belong to the desktop app. */
  private currentSettings(): Settings {
    return {
      mountpoint: this.cfg.mountpoint,
      cacheLimitBytes: this.cleaner?.limitBytes ?? 0,
      downloadConcurrency: this.liveSettings.downloadConcurrency ?? this.cfg.downloadConcurrency,
      uploadConcurrency: this.liveSettings.uploadConcurrency ?? this.cfg.uploadConcurrency,
      startOnLogin: this.liveSettings.startOnLogin ?? false,
      notifications: this.liveSettings.notifications ?? false,
      logLevel: LogLevelSchema.catch('info').parse(this.cfg.logger.level),
      uploadLimitBytesPerSecond: this.bandwidth?.up.bytesPerSecond ?? 0,
      downloadLimitBytesPerSecond: this.bandwidth?.down.bytesPerSecond ?? 0,
      ...(this.indexerGuard ? { refuseIndexers: this.indexerGuard.settings.refuse, indexerPrograms: [...this.indexerGuard.settings.programs] } : {}),
    };
  }

  /** The panel's refusal count follows an indexer's burst of opens without a status per open. */
  private pushIndexerStatus(): void {
    if (this.indexerStatusPending || !this.ipc) return;
    this.indexerStatusPending = true;
    setTimeout(() => {
      this.indexerStatusPending = false;
      // After the shutdown began the store may be closed; its own events tell the panel the rest.
      if (this.stopped === undefined) this.ipc?.emit('status', this.status());
    }, this.policy.ms('indexerStatusPushMs')).unref();
  }

  /** The ordered shutdown (same promise however often asked); the control socket closes last. */
  shutdown(reason: string): Promise<ShutdownReport> {
    this.stopped ??= this.shutdownCoordinator.shutdown(reason).then(async (report) => {
      await this.ipc?.close();
      return report;
    });
    return this.stopped;
  }
}


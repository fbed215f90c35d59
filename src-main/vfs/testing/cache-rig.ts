/**
 * The engine's cache-related parts wired against a real emulator, for the cleaner and pin tests: a
 * temp store filled by a real delta sync, a real download manager with cache files on disk, and a
 * real Vfs for open handles, reads and local writes. Uploads are recorded, not performed, so a
 * written file stays dirty for as long as a test needs. Tests start the emulator (only test files
 * may import it) and hand its API URL in.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryLogger, type MemoryLogger } from '../../base/logger.ts';
import { GraphClient, StaticTokenProvider } from '../../graph/index.ts';
import { TaskRegistry } from '../../lifecycle/task-registry.ts';
import { openTempStore, type TempStore } from '../../store/testing/temp-store.ts';
import type { StoredItem } from '../../store/index.ts';
import { DeltaSync } from '../../sync/delta-sync.ts';
import { DownloadManager } from '../../transfers/index.ts';
import { Vfs, type UploadsPort } from '../vfs.ts';
import { toRecord } from '../../sync/testing/to-record.ts';

const TOKEN = 'emulator-token-not-a-secret-1234567890';

export class RecordingUploads implements UploadsPort {
  readonly scheduled: string[] = [];
  schedule(itemId: string): void {
    this.scheduled.push(itemId);
  }
  touch(): void {}
  cancel(): void {}
  /** What leaving() answers; a test sets it to stand for a first upload's move in flight. */
  leavingPlace: ((parentKey: string, name: string) => Promise<void> | undefined) | undefined;
  leaving(parentKey: string, name: string): Promise<void> | undefined {
    return this.leavingPlace?.(parentKey, name);
  }
}

export interface CacheRig {
  graph: GraphClient;
  temp: TempStore;
  cacheDir: string;
  memory: MemoryLogger;
  tasks: TaskRegistry;
  downloads: DownloadManager;
  sync: DeltaSync;
  vfs: Vfs;
  uploads: RecordingUploads;
  /** A clock the vfs records access times with; tests move it to order the LRU. */
  clock: { now: number };
  item(path: string): StoredItem;
  /** Reads the whole file through the vfs (open, read, release), at the rig clock's time. */
  readAll(path: string): Promise<Buffer>;
  close(): Promise<void>;
}

/** The rig against a running emulator's API (the test starts and stops the emulator). */
export function startCacheRig(apiUrl: string, options: { hideGraceMs?: number; unrecordedRetryMs?: number } = {}): CacheRig {
  const graph = new GraphClient({
    baseUrl: apiUrl,
    tokenProvider: new StaticTokenProvider(TOKEN),
    requestTimeoutMs: 10_000,
    maxRetries: 2,
    retryBaseMs: 5,
    retryMaxMs: 20,
  });
  const temp = openTempStore();
  const cacheDir = mkdtempSync(join(tmpdir(), 'onemount-cache-rig-'));
  const memory = createMemoryLogger('debug', 'cache-test');
  const logger = memory.logger;
  const tasks = new TaskRegistry({ logger });
  const downloads = new DownloadManager({ graph, store: temp.store, cacheDir, tasks, logger, chunkBytes: 256 * 1024 });
  const sync = new DeltaSync({ graph, store: temp.store, invalidator: downloads, logger, tasks, pollIntervalMs: 60_000 });
  const clock = { now: 1_000_000 };
  const uploads = new RecordingUploads();
  const vfs = new Vfs({
    store: temp.store,
    graph,
    downloads,
    uploads,
    logger,
    driveMode: 'personal',
    toRecord,
    uid: 0,
    gid: 0,
    readTimeoutMs: 20_000,
    now: () => clock.now,
    ...options,
  });
  const rig: CacheRig = {
    graph,
    temp,
    cacheDir,
    memory,
    tasks,
    downloads,
    sync,
    vfs,
    uploads,
    clock,
    item: (path) => {
      const found = temp.store.items.resolvePath(path);
      if (!found) throw new Error(`${path} is not in the store`);
      return found;
    },
    readAll: async (path) => {
      const fh = await vfs.open(path, 0);
      try {
        const size = (await vfs.getattr(path)).size;
        const buf = Buffer.alloc(size);
        let done = 0;
        while (done < size) {
          const n = await vfs.read(fh, buf.subarray(done), size - done, done);
          if (n === 0) break;
          done += n;
        }
        return buf.subarray(0, done);
      } finally {
        await vfs.release(fh);
      }
    },
    close: async () => {
      await sync.stop();
      await downloads.close();
      await tasks.stopAll(5000);
      await graph.close();
      temp.dispose();
      rmSync(cacheDir, { recursive: true, force: true });
    },
  };
  return rig;
}

/**
 * A large drive enumerated and applied while the event loop stays responsive. The emulator runs in
 * its own process, so the loop measured here is the engine's alone (HTTP client, JSON parsing,
 * planning and SQLite).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmulatorProcess } from '../../emulator/src/spawn.ts';
import { createMemoryLogger } from '../base/logger.ts';
import { GraphClient, StaticTokenProvider } from '../graph/index.ts';
import { openTempStore, type TempStore } from '../store/testing/temp-store.ts';
import { DeltaSync } from './delta-sync.ts';
import { TaskRegistry } from '../lifecycle/task-registry.ts';

const FOLDERS = 100;
const FILES_PER_FOLDER = 999;
const ITEMS = FOLDERS * (FILES_PER_FOLDER + 1);

describe(`DeltaSync on a ${ITEMS}-item drive`, () => {
  let dataDir: string;
  let emulator: EmulatorProcess;
  let graph: GraphClient;
  let temp: TempStore;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'onemount-delta-large-'));
    emulator = await EmulatorProcess.start({ dataDir, mode: 'personal' });
    await emulator.admin.generate({ folders: FOLDERS, filesPerFolder: FILES_PER_FOLDER, fileSize: 100 });
    graph = new GraphClient({
      baseUrl: emulator.info.apiUrl,
      tokenProvider: new StaticTokenProvider('emulator-token-not-a-secret-1234567890'),
      requestTimeoutMs: 60_000,
      maxRetries: 2,
      retryBaseMs: 10,
      retryMaxMs: 100,
    });
    temp = openTempStore();
  }, 300_000);

  afterAll(async () => {
    await graph?.close();
    await emulator?.stop();
    temp?.dispose();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('enumerates and applies it without blocking the event loop for long', async () => {
    const invalidated: string[] = [];
    const memory = createMemoryLogger('info');
    const slowCommits = (): unknown[] => memory.records().filter((r) => r['heldMs'] !== undefined).map((r) => r['heldMs']);
    const sync = new DeltaSync({
      graph,
      store: temp.store,
      invalidator: { invalidate: (id) => void invalidated.push(id) },
      logger: memory.logger,
      tasks: new TaskRegistry({ logger: memory.logger }),
    });
    const histogram = monitorEventLoopDelay({ resolution: 5 });
    let longestGapMs = 0;
    let last = performance.now();
    const probe = setInterval(() => {
      const now = performance.now();
      longestGapMs = Math.max(longestGapMs, now - last);
      last = now;
    }, 5);
    histogram.enable();
    const result = await sync.syncOnce();
    histogram.disable();
    clearInterval(probe);

    const maxDelayMs = histogram.max / 1e6;
    console.info(
      `delta enumeration of ${result.items} items in ${result.pages} pages: ${result.ms} ms; ` +
        `longest event-loop block ${maxDelayMs.toFixed(1)} ms (histogram), longest timer gap ${longestGapMs.toFixed(1)} ms, ` +
        `p99 delay ${(histogram.percentile(99) / 1e6).toFixed(1)} ms; commits over 100 ms: [${slowCommits().join(', ')}]`,
    );
    expect(result).toMatchObject({ full: true, added: ITEMS + 1, removed: 0 });
    expect(temp.store.items.count()).toBe(ITEMS + 1);
    expect(invalidated).toEqual([]);
    // Loose bound, to catch a whole-batch synchronous apply (seconds), not to time the machine.
    expect(maxDelayMs).toBeLessThan(1000);

    // A resync of the same drive diffs 100 000 unchanged items without writing any.
    await emulator.admin.expire('deltaTokens');
    await emulator.admin.remote({ op: 'delete', path: '/Folder 0042' });
    histogram.reset();
    histogram.enable();
    const again = await sync.syncOnce();
    histogram.disable();
    console.info(
      `resync with diff of ${again.items} items: ${again.ms} ms; longest event-loop block ${(histogram.max / 1e6).toFixed(1)} ms; ` +
        `commits over 100 ms (both runs): [${slowCommits().join(', ')}]`,
    );
    // The root is the one update: a P folder's cTag changes with anything below it.
    expect(again).toMatchObject({ full: true, added: 0, updated: 1, removed: FILES_PER_FOLDER + 1 });
    expect(histogram.max / 1e6).toBeLessThan(1000);
  }, 300_000);
});

/**
 * Connectivity against the Graph emulator over real HTTP, wired as the engine wires it (GraphClient
 * outcomes → ConnectivityMonitor → followConnectivity over DeltaSync, JournalReplayer and uploads):
 * an outage is noticed from a failed request, probed with a growing backoff, and ended by itself
 * when the server is back, with the journal replayed before delta runs again.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer, type AddressInfo } from 'node:net';
import { startEmulator, type EmulatorHandle } from '../../emulator/src/emulator.ts';
import { createMemoryLogger } from '../base/logger.ts';
import { GraphClient, NetworkError, StaticTokenProvider } from '../graph/index.ts';
import { TaskRegistry } from '../lifecycle/task-registry.ts';
import { newLocalId } from '../store/index.ts';
import { openTempStore, type TempStore } from '../store/testing/temp-store.ts';
import type { Connectivity } from '../../src-shared/model/transfer.ts';
import { ConnectivityMonitor, type ConnectivityOptions } from './connectivity.ts';
import { DeltaSync } from './delta-sync.ts';
import { mapDriveItem } from './drive-item-mapping.ts';
import { JournalReplayer } from './journal-replayer.ts';
import { followConnectivity } from './reconnect.ts';

const BACKOFF = { baseMs: 100, maxMs: 400 };

let handle: EmulatorHandle;
let temp: TempStore;
let tasks: TaskRegistry;
let graph: GraphClient;
let monitor: ConnectivityMonitor;
let sync: DeltaSync;
let replayer: JournalReplayer;
let retryNowCalls: number;
let probeStarts: number[];
let changes: Connectivity[];
let handled: string[];

function setup(overrides: { requestTimeoutMs?: number; probeTimeoutMs?: number } = {}): void {
  const { logger } = createMemoryLogger('debug', 'connectivity-emulator-test');
  tasks = new TaskRegistry({ logger });
  const options: ConnectivityOptions = {
    probe: (signal) => {
      probeStarts.push(Date.now());
      return graph.probe({ signal });
    },
    tasks,
    logger,
    probeTimeoutMs: overrides.probeTimeoutMs ?? 2_000,
    backoff: BACKOFF,
  };
  monitor = new ConnectivityMonitor(options);
  graph = new GraphClient({
    baseUrl: handle.apiUrl,
    tokenProvider: new StaticTokenProvider('emulator-token'),
    requestTimeoutMs: overrides.requestTimeoutMs ?? 5_000,
    maxRetries: 3,
    retryBaseMs: 50,
    retryMaxMs: 200,
    onOutcome: (ok, error) => monitor.report(ok, error),
    isOffline: () => monitor.offline,
  });
  const toRecord = (item: Parameters<typeof mapDriveItem>[0]) => {
    const r = mapDriveItem(item, {});
    if ('reason' in r) throw new Error('tombstone');
    return r;
  };
  sync = new DeltaSync({ graph, store: temp.store, invalidator: { invalidate: () => undefined }, logger, tasks, pollIntervalMs: 100 });
  replayer = new JournalReplayer({ graph, store: temp.store, toRecord, logger, tasks, hostName: 'test-host', retry: { baseMs: 5_000, maxMs: 5_000 } });
  followConnectivity({ connectivity: monitor, sync, replayer, uploads: { retryNow: () => void retryNowCalls++ } });
  monitor.on('change', (c) => void changes.push(c));
  // A handler runs inside a listed task (shutdown can wait for it).
  monitor.on('offline', () => void handled.push(`offline:${tasks.list().some((t) => t.name === 'connectivity-listeners:offline' && t.state === 'running')}`));
  monitor.on('online', () => void handled.push('online'));
}

/** Resolves with the payload of the next `event`, or fails after `ms` (a hang guard). */
function next(event: 'offline' | 'online', ms = 20_000): Promise<Connectivity> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} event within ${ms} ms`)), ms);
    const off = monitor.on(event, (c) => {
      clearTimeout(timer);
      off();
      resolve(c);
    });
  });
}

/** A loopback port nothing listens on (taken, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeEach(async () => {
  handle = await startEmulator({ mode: 'personal' });
  temp = openTempStore();
  retryNowCalls = 0;
  probeStarts = [];
  changes = [];
  handled = [];
});

afterEach(async () => {
  await monitor.stop();
  await sync.stop();
  await tasks.stopAll(5_000);
  expect(tasks.list()).toEqual([]);
  await graph.close();
  await handle.close();
  temp.dispose();
});

describe('connectivity against the emulator', () => {
  it('the probe answers but the delta link is refused: shown offline with the reason, online again once a request gets through (issue #11 point 6)', async () => {
    setup();
    await sync.syncOnce();
    const good = temp.store.driveState.get('deltaLink')!;
    // The stored absolute link points at an address nothing listens on (a previous run's port).
    const dead = await closedPort();
    const origin = new URL(good).origin;
    temp.store.driveState.set('deltaLink', good.replace(origin, `http://127.0.0.1:${dead}`));
    const failed = sync.syncOnce().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(await failed).toBeInstanceOf(NetworkError);
    await expect
      .poll(() => monitor.current, { timeout: 20_000 })
      .toMatchObject({ state: 'offline', reason: expect.stringMatching(/^OneDrive answers, but \d+ requests in a row failed \(connection refused\)$/) });
    // The probe did answer (the emulator is up), and nothing is held back: it is not an outage.
    expect(handle.emulator.log.list({ pathIncludes: '/me/drive?$select=id' }).length).toBeGreaterThan(0);
    expect(monitor.offline).toBe(false);
    // More refused requests keep it so.
    await expect(sync.syncOnce()).rejects.toBeInstanceOf(NetworkError);
    // Offline, or checking while the probe looks again: never online.
    expect(monitor.current.state).not.toBe('online');
    // A request that gets an answer ends it.
    temp.store.driveState.set('deltaLink', good);
    await sync.syncOnce();
    expect(monitor.current.state).toBe('online');
  }, 60_000);

  it('refused connections: offline after a failed request, probes back off, back online by itself; journal first, then delta', async () => {
    setup();
    await sync.syncOnce();
    sync.start();
    replayer.start();
    await handle.emulator.setOffline(true);
    const offline = next('offline');
    await expect(graph.getItem('root')).rejects.toBeInstanceOf(NetworkError);
    expect(await offline).toMatchObject({ state: 'offline', reason: 'connection refused' });
    expect(sync.paused).toBe(true);
    expect(monitor.offlineSignal.aborted).toBe(true);

    // A folder made offline waits in the journal.
    const root = temp.store.items.getRoot()!;
    const localId = newLocalId();
    temp.store.transaction(() => {
      temp.store.items.insert({ id: localId, parentId: root.id, name: 'made offline', kind: 'folder', size: 0, ctimeMs: 1, mtimeMs: 1 });
      temp.store.journal.append({ kind: 'mkdir', itemId: localId, parentId: root.id, name: 'made offline' });
    });

    // Let the probe fail a few times: the announced waits double up to the maximum.
    await expect.poll(() => changes.filter((c) => c.state === 'offline').length, { timeout: 20_000 }).toBeGreaterThanOrEqual(4);
    const probeGaps = probeStarts.slice(1).map((t, i) => t - probeStarts[i]!);
    console.log(`probe gaps while refused: ${probeGaps.join(', ')} ms`);
    // Each probe starts at least its backoff after the one before it ended.
    for (const [i, gap] of probeGaps.slice(0, 3).entries()) expect(gap).toBeGreaterThanOrEqual(BACKOFF.baseMs * 2 ** i - 5);
    expect(changes.every((c) => c.state !== 'online')).toBe(true);

    const before = handle.emulator.log.lastSeq;
    const online = next('online');
    await handle.emulator.setOffline(false);
    await online;
    expect(monitor.current.state).toBe('online');
    expect(handled).toEqual(['offline:true', 'online']);
    expect(retryNowCalls).toBe(1);

    // The journal replays first; delta resumes only once it is empty.
    await expect.poll(() => temp.store.items.get(localId)?.remoteId, { timeout: 20_000 }).toBeTruthy();
    await expect.poll(() => handle.emulator.log.list({ since: before, pathIncludes: '/delta' }).length, { timeout: 20_000 }).toBeGreaterThan(0);
    const after = handle.emulator.log.list({ since: before });
    const created = after.findIndex((e) => e.method === 'POST' && e.path.includes('/children'));
    const firstDelta = after.findIndex((e) => e.path.includes('/delta'));
    expect(created).toBeGreaterThanOrEqual(0);
    expect(created).toBeLessThan(firstDelta);
    expect(sync.paused).toBe(false);
    expect(handle.emulator.admin.item('made offline')).toBeDefined();
  }, 60_000);

  it('no answers at all (a black hole): requests and probes time out; the request log shows probes spaced further and further apart', async () => {
    setup({ requestTimeoutMs: 200, probeTimeoutMs: 150 });
    await handle.emulator.setOffline(false);
    handle.emulator.faults.set({ latencyMs: 10_000 });
    const offline = next('offline');
    await expect(graph.getItem('root')).rejects.toThrow(/timed out/);
    expect(await offline).toMatchObject({ state: 'offline', reason: 'no answer in time' });
    await expect
      .poll(() => handle.emulator.log.list({ pathIncludes: '/me/drive?$select=id' }).length, { timeout: 20_000 })
      .toBeGreaterThanOrEqual(4);
    // The server saw the probes; their spacing is measured where they start (the server logs a request
    // when its connection closes, which a loaded machine notices late or early).
    const gaps = probeStarts.slice(1).map((t, i) => t - probeStarts[i]!);
    console.log(`probe gaps while nothing answers: ${gaps.join(', ')} ms`);
    // Each probe: its own timeout, then the backoff (doubling), then the next one.
    for (const [i, gap] of gaps.slice(0, 3).entries()) expect(gap).toBeGreaterThanOrEqual(150 + BACKOFF.baseMs * 2 ** i - 5);

    const online = next('online');
    handle.emulator.faults.reset();
    await online;
    expect(handled).toEqual(['offline:true', 'online']);
  }, 60_000);
});

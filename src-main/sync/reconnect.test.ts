/** The reconnection rules as pause reasons on a real DeltaSync: outages, offline changes and a user's pause stay independent. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../base/logger.ts';
import { TypedEmitter } from '../base/typed-emitter.ts';
import type { JournalEntry } from '../store/index.ts';
import { openTempStore, type TempStore } from '../store/testing/temp-store.ts';
import type { ConnectivityEvent } from './connectivity.ts';
import { DeltaSync, type DeltaSource } from './delta-sync.ts';
import type { ReplayerEvents } from './journal-replayer.ts';
import { followConnectivity, JOURNAL_PAUSE } from './reconnect.ts';
import { TaskRegistry } from '../lifecycle/task-registry.ts';

let temp: TempStore;
let sync: DeltaSync;
let offline: boolean;
let handlers: Map<ConnectivityEvent, Array<() => void>>;
let pending: JournalEntry[];
let replayerEvents: TypedEmitter<ReplayerEvents>;
let kicks: number;
let retries: number;

const entry = { seq: 1, kind: 'mkdir', itemId: 'L1' } as JournalEntry;

function install(): () => void {
  return followConnectivity({
    connectivity: {
      get offline() {
        return offline;
      },
      on: ((event: ConnectivityEvent, handler: () => void) => {
        handlers.set(event, [...(handlers.get(event) ?? []), handler]);
        return () => handlers.set(event, (handlers.get(event) ?? []).filter((h) => h !== handler));
      }) as never,
    },
    sync,
    replayer: { kick: () => void kicks++, pending: () => pending, events: replayerEvents },
    uploads: { retryNow: () => void retries++ },
  });
}

function fire(event: ConnectivityEvent): void {
  offline = event === 'offline';
  for (const handler of handlers.get(event) ?? []) handler();
}

beforeEach(() => {
  temp = openTempStore();
  const { logger } = createMemoryLogger();
  sync = new DeltaSync({ graph: {} as DeltaSource, store: temp.store, invalidator: { invalidate: () => undefined }, logger, tasks: new TaskRegistry({ logger }) });
  offline = false;
  handlers = new Map();
  pending = [];
  replayerEvents = new TypedEmitter<ReplayerEvents>((error) => {
    throw error;
  });
  kicks = 0;
  retries = 0;
});

afterEach(async () => {
  await sync.stop();
  temp.dispose();
});

describe('followConnectivity', () => {
  it('pauses delta for an outage and resumes it when the service is back, waking the replayer and the uploads', () => {
    install();
    fire('offline');
    expect(sync.paused).toBe(true);
    fire('online');
    expect(sync.paused).toBe(false);
    expect(kicks).toBe(1);
    expect(retries).toBe(1);
  });

  it("a user's pause outlasts an outage, and an outage outlasts the user's resume", () => {
    install();
    sync.pause();
    fire('offline');
    fire('online');
    expect(sync.paused).toBe(true);
    fire('offline');
    sync.resume();
    expect(sync.paused).toBe(true);
    fire('online');
    expect(sync.paused).toBe(false);
  });

  it('back online with offline changes to replay: delta waits until the last one is replayed (or set aside as failed)', () => {
    install();
    fire('offline');
    sync.pause(JOURNAL_PAUSE);
    pending = [entry, { ...entry, seq: 2 }];
    fire('online');
    expect(sync.paused).toBe(true);
    pending = [{ ...entry, seq: 2 }];
    replayerEvents.emit('replayed', { seq: 1, kind: 'mkdir', itemId: 'L1' });
    expect(sync.paused).toBe(true);
    pending = [];
    replayerEvents.emit('error', { error: new Error('refused for good'), seq: 2 });
    replayerEvents.emit('drained', {});
    expect(sync.paused).toBe(false);
  });

  it('a journal pause whose entries left without a replay (made and removed offline) lifts at the next empty pass', () => {
    install();
    fire('offline');
    sync.pause(JOURNAL_PAUSE);
    pending = [];
    fire('online');
    expect(sync.paused).toBe(true);
    replayerEvents.emit('drained', {});
    expect(sync.paused).toBe(false);
  });

  it('starts paused when installed offline or with changes waiting; removing the rules stops them', () => {
    offline = true;
    pending = [entry];
    const remove = install();
    expect(sync.paused).toBe(true);
    pending = [];
    replayerEvents.emit('drained', {});
    expect(sync.paused).toBe(true);
    remove();
    fire('online');
    expect(sync.paused).toBe(true);
    expect(kicks).toBe(0);
  });
});

/**
 * What the engine does when the network goes and comes back (docs/architecture.md: "Back online: the journal
 * replays, then delta catches up"), as pause reasons on the delta loop, independent of any other
 * (a user's "pause syncing" stays in force whatever the network does):
 *
 * - Offline (reason 'offline'): the delta poll waits, so it neither spins on failures nor applies a
 *   remote view over local changes it could not upload yet.
 * - Offline changes waiting to replay (reason 'journal', also taken by whoever journals one): delta
 *   waits until the replayer has none left, so a remote view cannot undo them first.
 * - Online: the journal replayer is woken and uploads waiting for the network go at once.
 */
import type { DeltaSync } from './delta-sync.ts';
import type { JournalReplayer } from './journal-replayer.ts';
import type { ConnectivityMonitor } from './connectivity.ts';

export const OFFLINE_PAUSE = 'offline';
export const JOURNAL_PAUSE = 'journal';

export interface ReconnectParts {
  connectivity: Pick<ConnectivityMonitor, 'on' | 'offline'>;
  sync: Pick<DeltaSync, 'pause' | 'resume'>;
  replayer: Pick<JournalReplayer, 'kick' | 'pending' | 'events'>;
  uploads: { retryNow(): void };
}

/** Installs the rules; the returned function removes them. */
export function followConnectivity({ connectivity, sync, replayer, uploads }: ReconnectParts): () => void {
  const holdForJournal = () => {
    if (replayer.pending().length > 0) sync.pause(JOURNAL_PAUSE);
  };
  const offs = [
    connectivity.on('offline', () => sync.pause(OFFLINE_PAUSE)),
    connectivity.on('online', () => {
      holdForJournal();
      replayer.kick();
      uploads.retryNow();
      sync.resume(OFFLINE_PAUSE);
    }),
    // A replay pass that leaves nothing pending lifts the pause (an entry that cannot be replayed is
    // set aside as failed: it no longer holds delta back either).
    replayer.events.on('drained', () => sync.resume(JOURNAL_PAUSE)),
  ];
  // What was already true when these rules were installed (a start offline, or with changes to replay).
  holdForJournal();
  if (connectivity.offline) sync.pause(OFFLINE_PAUSE);
  return () => {
    for (const off of offs) off();
  };
}

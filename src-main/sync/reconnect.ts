/**
 * What the engine does when the network goes and comes back (design.md: "Back online: the journal
 * replays, then delta catches up"):
 *
 * - Offline: the delta poll waits (paused), so it neither spins on failures nor applies a remote
 *   view over local changes it could not upload yet.
 * - Online: the journal replayer is woken, uploads waiting for the network go at once, and delta
 *   resumes only once no namespace change is left to replay (otherwise the 'replayed' rule below
 *   resumes it when the last one is done).
 */
import type { DeltaSync } from './delta-sync.ts';
import type { JournalReplayer } from './journal-replayer.ts';
import type { ConnectivityMonitor } from './connectivity.ts';

export interface ReconnectParts {
  connectivity: Pick<ConnectivityMonitor, 'on' | 'offline'>;
  sync: Pick<DeltaSync, 'pause' | 'resume' | 'paused'>;
  replayer: Pick<JournalReplayer, 'kick' | 'pending' | 'events'>;
  uploads: { retryNow(): void };
}

/** Installs the rules; the returned function removes them. */
export function followConnectivity({ connectivity, sync, replayer, uploads }: ReconnectParts): () => void {
  const offs = [
    connectivity.on('offline', () => sync.pause()),
    connectivity.on('online', () => {
      replayer.kick();
      uploads.retryNow();
      if (replayer.pending().length === 0) sync.resume();
    }),
    replayer.events.on('replayed', () => {
      if (replayer.pending().length === 0 && sync.paused && !connectivity.offline) sync.resume();
    }),
  ];
  // An outage that began before these rules existed (a start without the network).
  if (connectivity.offline) sync.pause();
  return () => {
    for (const off of offs) off();
  };
}

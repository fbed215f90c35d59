import type { Logger } from '../base/logger.ts';
import type { Store } from '../store/index.ts';

/**
 * The stored delta link and upload-session URLs are absolute. When the service's address changed
 * since they were stored (the demo drive's emulator gets new ports each run), the delta link moves
 * to the new address (its token is the server's, not the address's) and upload sessions start
 * afresh, instead of every request failing against an address nothing listens on.
 */
export function followAddressChange(store: Store, graphUrl: string, logger: Logger): void {
  const before = store.driveState.get('graphUrl');
  const now = graphUrl.replace(/\/+$/, '');
  if (before !== undefined && before !== now) {
    const deltaLink = store.driveState.get('deltaLink');
    let dropped = 0;
    store.transaction(() => {
      if (deltaLink?.startsWith(before)) store.driveState.set('deltaLink', now + deltaLink.slice(before.length));
      for (const entry of store.journal.list()) {
        if (entry.sessionUrl !== null) {
          store.journal.clearSession(entry.seq);
          dropped++;
        }
      }
    });
    logger.warn({ from: before, to: now, uploadSessionsRestarted: dropped }, 'the service moved to another address; the delta link follows it and upload sessions start again');
  }
  if (before !== now) store.driveState.set('graphUrl', now);
}

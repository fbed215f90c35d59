/**
 * The one deadline race: waits for work, but no longer than a deadline (or a signal). The work is
 * not cancelled (that is its own signal's job); the caller learns whether it settled in time and
 * decides what to do about the rest (abort it, report it, move on).
 */
import { onAbort } from './abort.ts';

/**
 * True when `work` settled (either way) within `ms` and before `until` fired; its outcome is the
 * caller's to observe. Leaves no timer and no listener behind.
 */
export async function settledWithin(work: Promise<unknown>, ms: number, until?: AbortSignal): Promise<boolean> {
  if (until?.aborted) return false;
  let timer: NodeJS.Timeout | undefined;
  let unsubscribe = (): void => undefined;
  const expired = new Promise<false>((resolve) => {
    if (Number.isFinite(ms)) timer = setTimeout(() => resolve(false), Math.max(0, ms));
    if (until) unsubscribe = onAbort(until, () => resolve(false));
  });
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      expired,
    ]);
  } finally {
    clearTimeout(timer);
    unsubscribe();
  }
}

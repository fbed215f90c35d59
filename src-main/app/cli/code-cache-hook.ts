/**
 * Tells the compiled engine's loader (engine-loader.js) that the start is done: the functions a
 * start runs are compiled now, and the loader may keep them in its code cache for the next start
 * (and keeps what the session compiles as well at a clean exit). Run from the sources (tsx) there
 * is no loader and nothing happens.
 */
const HOOK = Symbol.for('onemount.codeCache.started');

/** The code cache the start was compiled from: 'start' (made by an earlier run), 'build', 'none'; undefined without a loader. */
export type CodeCacheFound = 'start' | 'build' | 'none' | undefined;

export function startFinished(): CodeCacheFound {
  const hook = (globalThis as Record<symbol, unknown>)[HOOK];
  if (typeof hook !== 'function') return undefined;
  const found = (hook as { found?: 'start' | 'build' }).found ?? 'none';
  (hook as () => void)();
  return found;
}

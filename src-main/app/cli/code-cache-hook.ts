/**
 * Tells the compiled engine's loader (engine-loader.js) that the start is done: the functions a
 * start runs are compiled now, and the loader may keep them in its code cache for the next start.
 * Run from the sources (tsx) there is no loader and nothing happens.
 */
const HOOK = Symbol.for('onemount.codeCache.started');

export function startFinished(): void {
  const hook = (globalThis as Record<symbol, unknown>)[HOOK];
  if (typeof hook === 'function') (hook as () => void)();
}

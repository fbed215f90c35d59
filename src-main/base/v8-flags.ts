/**
 * The V8 flags the engine sets while it runs. V8's code cache is only accepted under the flags it
 * was made with (v8.cachedDataVersionTag), so the compiled engine's loader
 * (src-main/app/cli/engine-loader.js, which keeps its own copy of this list: its test runs a start
 * that sets these and checks the cache is still written and used) sets them before anything is
 * compiled; setting them again here then changes nothing. Run from the sources, these calls are
 * the only ones.
 *
 * - `--semi-space-growth-factor=1`: the young generation stays at its first size instead of
 *   growing (to 32 MiB here) in a large listing and keeping that memory for the life of the
 *   process: 25 MiB less resident after a 10 000-entry listing (bench peers, the RSS row). V8
 *   reads it whenever it would grow.
 * - `--heap-growing-percent=30`: in a burst (an enumeration, a large listing) V8 runs its next
 *   full collection once the old generation has grown 30 % past what the last one left, where by
 *   itself it lets it grow up to four times: RSS right after a 10 000-entry listing beside a first
 *   enumeration 107–121 instead of 123–140 MiB, after a 100 000-entry one 310–330 instead of
 *   430–440 MiB, for a burst that takes longer (the listing 7–20 %, the enumeration 8–14 %). What
 *   stays once the burst is over is collectWhenSettled's (gc.ts) either way.
 * - `--expose-gc`: gc.ts gets its `gc` function from a fresh context (collectGarbage's full
 *   collections, droppedBuffers' young ones; it sets this one flag itself where the others are
 *   not set, as in a test process).
 * - `--no-flush-bytecode`: a function's bytecode stays once compiled (V8 would drop it after five
 *   full collections without a call, and the collections after each burst come quickly), so the
 *   code cache the compiled engine writes at exit still holds the start's functions beside the
 *   session's. At most the bundle's bytecode (a few MiB) is kept.
 */
import v8 from 'node:v8';

export const ENGINE_V8_FLAGS: readonly string[] = ['--semi-space-growth-factor=1', '--heap-growing-percent=30', '--expose-gc', '--no-flush-bytecode'];

export function applyEngineV8Flags(): void {
  for (const flag of ENGINE_V8_FLAGS) v8.setFlagsFromString(flag);
}

/**
 * Garbage collections the engine asks V8 for.
 *
 * - Full collections when the engine has settled after a burst. An idle Node process never runs
 *   V8's major collection by itself: after a delta enumeration (hundreds of MiB of pages) or the
 *   listing of a large folder (tens of MiB of answers and entries) the engine would sit at twice
 *   the memory it needs for as long as nothing else happens. collectWhenSettled watches the memory
 *   V8 holds and collects once it has grown well past what the last collection left and stopped
 *   growing (measured by bench/mount with a 100 000-item drive and bench/peers' RSS rows).
 * - Young-generation collections during a transfer (droppedBuffers), so its buffers leave no work
 *   for the full collector.
 */
import { abortableSleep } from './abort.ts';
import { errorMessage } from './errors.ts';
import v8 from 'node:v8';
import vm from 'node:vm';

type GcFunction = (options?: { type?: 'major' | 'minor' }) => void;
let gcFunction: GcFunction | undefined;

function gc(): GcFunction {
  // --expose-gc (one of the engine's flags, v8-flags.ts) at run time gives a fresh context a `gc`
  // function; nothing else changes.
  if (!gcFunction) {
    v8.setFlagsFromString('--expose-gc');
    gcFunction = vm.runInNewContext('gc') as GcFunction;
  }
  return gcFunction;
}

export async function collectGarbage(): Promise<void> {
  // Twice: the first full collection frees the heap, the second compacts it and hands the freed
  // pages back to the system (measured on Node 20: RSS 274 → 275 → 86 MiB; after a 10 000-entry
  // listing 116 MiB with one, 98 MiB with two). Each stops the event loop for ~20 ms there: what
  // waits in between (a FUSE request) is served between the two.
  gc()();
  await new Promise<void>((resolve) => setImmediate(resolve));
  gc()();
}

/** Short-lived buffers dropped between two collections of the young generation (droppedBuffers). */
const YOUNG_COLLECTION_BYTES = 4 * 1024 * 1024;
let dropped = 0;

/**
 * A transfer's buffers outside V8's heap (a download's network chunks, an upload's file reads), each
 * used for a moment, are freed only when V8 collects the young generation, which it does after a
 * MiB or so of new objects; a transfer makes few objects for its bytes (~10 MiB of buffers between
 * two such collections), and V8 counts every buffer made since its last full collection against
 * the old generation's limit (~7 MiB above a 15 MiB heap under the engine's flags). A read at 300
 * MiB/s made V8 run a full collection of an unchanged heap every ~15 MiB. Told the size of each
 * such buffer once its holder lets go of it, this collects the young generation every 4 MiB of
 * them (a collection of a few live objects: ~0.5 ms). Measured: docs/architecture.md, "A transfer's buffers".
 */
export function droppedBuffers(bytes: number): void {
  dropped += bytes;
  if (dropped < YOUNG_COLLECTION_BYTES) return;
  dropped = 0;
  try {
    gc()({ type: 'minor' });
  } catch (error) {
    // Called from a transfer's stream: the transfer goes on without these collections (V8 then
    // runs its full ones, as before), and the process says so once.
    dropped = Number.NEGATIVE_INFINITY;
    process.emitWarning(`young-generation collections are not available (${errorMessage(error)}): transfers make V8 run full collections`, 'OneMountWarning');
  }
}

export interface SettledCollectorOptions {
  /** How often the memory is looked at. */
  everyMs: number;
  /** Growth of the memory V8 holds past what the last collection left that is worth a collection. */
  growthBytes: number;
  signal: AbortSignal;
  /** The collection (the engine's: collectGarbage, then the C heap's trim). */
  collect: () => void | Promise<void>;
  /**
   * Where the first growth counts from: by default the memory when the watch starts; 0 when that
   * holds a burst already (a first enumeration that ran before it), so it is collected.
   */
  countFrom?: number;
  /** After each collection: the memory V8 held before and after it, and how long it took (both collections and what ran between them). */
  onCollected?: (e: { before: number; after: number; ms: number }) => void;
  /** A collection that failed: the watch goes on. */
  onError: (error: unknown) => void;
  /** For tests: the memory measure, the wait between two looks and the clock. */
  memory?: () => number;
  wait?: (ms: number, signal: AbortSignal) => Promise<void>;
  now?: () => number;
}

/**
 * A collection that gave memory back is followed by at least this many times its own duration
 * without one (a ratio): at most ~1 % of the time goes to them. Memory that grows back as fast as it
 * is collected (a long transfer whose buffers come and go; with a large heap each collection takes
 * hundreds of ms) would otherwise be collected again every few looks. One that gave little back
 * (the growth was live: a pause in the middle of a burst) leaves no gap: growth counts from there,
 * and the end of the burst is collected once it settles.
 */
const GAP_FACTOR = 100;

/**
 * The memory V8 holds: the pages of its heap, in use or not, and the buffers it knows of outside
 * it (downloads' and uploads' chunks). Not the heap in use: in a burst V8's own collections
 * (every 30 % of growth, v8-flags.ts) free the objects and keep their pages, which a watch of the
 * part in use never saw grow (measured: RSS at rest after a 10 000-entry listing 118–121 MiB with
 * it, 95 MiB with this). Not resident memory either: a trim makes the C heap give back pages that
 * a running transfer touches again within a second, which looked like new growth every few looks.
 */
function heldByV8(): number {
  const h = v8.getHeapStatistics();
  return h.total_heap_size + h.external_memory;
}

/**
 * Until the signal aborts: collects when the memory V8 holds (heldByV8) has grown by growthBytes
 * since the last collection (or since it last shrank by itself) and grew by less than a sixteenth
 * of that over the last period (the burst is over: a collection in the middle of one would be
 * repeated soon after), and the last one that gave memory back was long enough ago (GAP_FACTOR).
 */
export async function collectWhenSettled(o: SettledCollectorOptions): Promise<void> {
  const memory = o.memory ?? heldByV8;
  const wait = o.wait ?? abortableSleep;
  const now = o.now ?? (() => performance.now());
  let previous = memory();
  let floor = o.countFrom ?? previous;
  let notBefore = Number.NEGATIVE_INFINITY;
  while (!o.signal.aborted) {
    await wait(o.everyMs, o.signal).catch(() => undefined);
    if (o.signal.aborted) return;
    const used = memory();
    // Memory given back by itself lowers the floor: growth counts from there.
    floor = Math.min(floor, used);
    const settled = used - floor >= o.growthBytes && used - previous < o.growthBytes / 16;
    previous = used;
    if (!settled || now() < notBefore) continue;
    const started = now();
    try {
      await o.collect();
      const ms = now() - started;
      previous = memory();
      if (used - previous >= o.growthBytes / 2) notBefore = started + ms * (GAP_FACTOR + 1);
      o.onCollected?.({ before: used, after: previous, ms });
    } catch (error) {
      o.onError(error);
      previous = memory();
    }
    // Growth counts from here, collected or not (a failed collection is not tried again at once).
    floor = previous;
  }
}

/**
 * Full garbage collections when the engine has settled after a burst. An idle Node process never
 * runs V8's major collection by itself: after a delta enumeration (hundreds of MiB of pages) or
 * the listing of a large folder (tens of MiB of answers and entries) the engine would sit at
 * twice the memory it needs for as long as nothing else happens. collectWhenSettled watches the
 * heap and collects once it has grown well past what the last collection left and stopped growing
 * (measured by bench/mount with a 100 000-item drive and bench/peers' RSS rows).
 */
import { abortableSleep } from './abort.ts';
import { applyEngineV8Flags } from './v8-flags.ts';
import v8 from 'node:v8';
import vm from 'node:vm';

let gc: (() => void) | undefined;

export async function collectGarbage(): Promise<void> {
  if (!gc) {
    // --expose-gc at run time gives a fresh context a `gc` function; nothing else changes.
    applyEngineV8Flags();
    gc = vm.runInNewContext('gc') as () => void;
  }
  // Twice: the first full collection frees the heap, the second compacts it and hands the freed
  // pages back to the system (measured on Node 20: RSS 274 → 275 → 86 MiB; after a 10 000-entry
  // listing 116 MiB with one, 98 MiB with two). Each stops the event loop for ~20 ms there: what
  // waits in between (a FUSE request) is served between the two.
  gc();
  await new Promise<void>((resolve) => setImmediate(resolve));
  gc();
}

export interface SettledCollectorOptions {
  /** How often the heap is looked at. */
  everyMs: number;
  /** Growth past what the last collection left that is worth a collection. */
  growthBytes: number;
  signal: AbortSignal;
  /** The collection (the engine's: collectGarbage, then the C heap's trim). */
  collect: () => void | Promise<void>;
  /**
   * Where the first growth counts from: by default the heap in use when the watch starts; 0 when
   * that is a burst's already (a first enumeration that ran before it), so it is collected.
   */
  countFrom?: number;
  /** After each collection: the heap in use before and after it, and how long it took (both collections and what ran between them). */
  onCollected?: (e: { heapBefore: number; heapAfter: number; ms: number }) => void;
  /** A collection that failed: the watch goes on. */
  onError: (error: unknown) => void;
  /** For tests: the heap in use and the wait between two looks. */
  heapUsed?: () => number;
  wait?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/**
 * Until the signal aborts: collects when the heap has grown by growthBytes since the last
 * collection (V8's own or this one's) and grew by less than a sixteenth of that over the last
 * period (the burst is over: a collection in the middle of one would be repeated soon after).
 * The heap counts the buffers V8 knows of outside it (downloads' and uploads' chunks).
 */
export async function collectWhenSettled(o: SettledCollectorOptions): Promise<void> {
  const heapUsed =
    o.heapUsed ??
    (() => {
      const h = v8.getHeapStatistics();
      return h.used_heap_size + h.external_memory;
    });
  const wait = o.wait ?? abortableSleep;
  let previous = heapUsed();
  let floor = o.countFrom ?? previous;
  while (!o.signal.aborted) {
    await wait(o.everyMs, o.signal).catch(() => undefined);
    if (o.signal.aborted) return;
    const used = heapUsed();
    // A collection of V8's own lowers the floor: growth counts from there.
    floor = Math.min(floor, used);
    if (used - floor >= o.growthBytes && used - previous < o.growthBytes / 16) {
      const started = performance.now();
      try {
        await o.collect();
        o.onCollected?.({ heapBefore: used, heapAfter: heapUsed(), ms: performance.now() - started });
      } catch (error) {
        o.onError(error);
      }
      // Growth counts from here, collected or not (a failed collection is not tried again at once).
      floor = heapUsed();
    }
    previous = heapUsed();
  }
}

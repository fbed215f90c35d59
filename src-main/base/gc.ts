/**
 * Full garbage collections when the engine has settled after a burst. An idle Node process never
 * runs V8's major collection by itself: after a delta enumeration (hundreds of MiB of pages) or
 * the listing of a large folder (tens of MiB of answers and entries) the engine would sit at
 * twice the memory it needs for as long as nothing else happens. collectWhenSettled watches the
 * process's memory and collects once it has grown well past what the last collection left and stopped growing
 * (measured by bench/mount with a 100 000-item drive and bench/peers' RSS rows).
 */
import { abortableSleep } from './abort.ts';
import { applyEngineV8Flags } from './v8-flags.ts';
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
  /** How often the memory is looked at. */
  everyMs: number;
  /** Growth of resident memory past what the last collection left that is worth a collection. */
  growthBytes: number;
  signal: AbortSignal;
  /** The collection (the engine's: collectGarbage, then the C heap's trim). */
  collect: () => void | Promise<void>;
  /**
   * Where the first growth counts from: by default the memory when the watch starts; 0 when that
   * holds a burst already (a first enumeration that ran before it), so it is collected.
   */
  countFrom?: number;
  /** After each collection: the resident memory before and after it, and how long it took (both collections and what ran between them). */
  onCollected?: (e: { before: number; after: number; ms: number }) => void;
  /** A collection that failed: the watch goes on. */
  onError: (error: unknown) => void;
  /** For tests: the memory measure and the wait between two looks. */
  memory?: () => number;
  wait?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/**
 * Until the signal aborts: collects when the process's resident memory has grown by growthBytes
 * since the last collection (or since it last shrank by itself) and grew by less than a sixteenth
 * of that in each of the last two periods (the burst is over: a collection in the middle of one
 * frees little and counts growth from there, so the rest of the burst may never be collected; one
 * quiet period was seen in the middle of a burst). Resident memory, not the heap in use: V8's own collections in a burst free
 * the objects and keep their pages, and the C heap keeps what it freed; both are what the
 * collection gives back.
 */
export async function collectWhenSettled(o: SettledCollectorOptions): Promise<void> {
  const memory = o.memory ?? (() => process.memoryUsage.rss());
  const wait = o.wait ?? abortableSleep;
  let previous = memory();
  let floor = o.countFrom ?? previous;
  /** How many periods in a row grew by less than a sixteenth of growthBytes. */
  let quiet = 0;
  while (!o.signal.aborted) {
    await wait(o.everyMs, o.signal).catch(() => undefined);
    if (o.signal.aborted) return;
    const used = memory();
    // Memory given back by itself lowers the floor: growth counts from there.
    floor = Math.min(floor, used);
    quiet = used - previous < o.growthBytes / 16 ? quiet + 1 : 0;
    if (used - floor >= o.growthBytes && quiet >= 2) {
      const started = performance.now();
      try {
        await o.collect();
        o.onCollected?.({ before: used, after: memory(), ms: performance.now() - started });
      } catch (error) {
        o.onError(error);
      }
      // Growth counts from here, collected or not (a failed collection is not tried again at once).
      floor = memory();
      quiet = 0;
    }
    previous = memory();
  }
}

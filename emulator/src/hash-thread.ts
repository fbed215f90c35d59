/**
 * Upload hashing off the main thread. The main thread only receives fragments and writes them to
 * the session's temp file; each accepted range is then hashed by a worker thread (hash-worker.ts)
 * from that file while the next fragment arrives, and the final fragment's commit waits for the
 * digest. On one thread, hashing (quickXor + SHA-256) held upload ingest to a fraction of what the
 * loopback carries.
 */
import { Worker } from 'node:worker_threads';
import type { ContentHashes } from './content-store.ts';
import { handleHashRequest, type HashReply, type HashRequest } from './hash-worker.ts';

const WORKER = new URL('./hash-worker.ts', import.meta.url).href;
/**
 * Workers do not inherit the TypeScript loader: the worker registers tsx before loading its module
 * (resolved from here: an eval'd worker would resolve a bare name against the process's cwd). In
 * the compiled engine (a bundle, no tsx) there is no worker module to load: hashing runs on the
 * main thread there, as the demo's emulator needs no speed.
 */
const BOOT = ((): string | undefined => {
  if (!import.meta.url.endsWith('.ts')) return undefined;
  const tsx = import.meta.resolve('tsx/esm/api');
  return `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER)}); })`;
})();

/** The worker's side of the conversation, for when hashing runs on this thread. */
interface Port {
  postMessage(m: HashRequest): void;
  terminate(): Promise<unknown>;
}

function inThread(onReply: (r: HashReply) => void): Port {
  return {
    postMessage: (m) => handleHashRequest(m, (r) => queueMicrotask(() => onReply(r))),
    terminate: async () => undefined,
  };
}

export class HashThread {
  private worker: Port | undefined;
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (h: ContentHashes) => void; reject: (e: Error) => void }>();

  private get port(): Port {
    if (this.worker) return this.worker;
    if (BOOT === undefined) return (this.worker = inThread((r) => this.settle(r)));
    const w = new Worker(BOOT, { eval: true });
    // Only pending digests keep the process waiting on it.
    w.unref();
    const failAll = (e: Error) => {
      if (this.worker === w) this.worker = undefined;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    w.on('message', (r: HashReply) => this.settle(r));
    w.on('error', (e) => failAll(new Error(`hash thread failed: ${e.message}`, { cause: e })));
    w.on('exit', (code) => failAll(new Error(`hash thread exited (code ${code})`)));
    this.worker = w;
    return w;
  }

  private settle(r: HashReply): void {
    const p = this.pending.get(r.seq);
    if (!p) return;
    this.pending.delete(r.seq);
    if (r.error !== undefined) p.reject(new Error(`hash thread: ${r.error}`));
    else p.resolve(r.hashes);
  }

  private ask(m: { op: 'digest'; id: string; size: number } | { op: 'file'; file: string; size: number }): Promise<ContentHashes> {
    const seq = ++this.seq;
    return new Promise<ContentHashes>((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      this.port.postMessage({ ...m, seq } satisfies HashRequest);
    });
  }

  /** Hash bytes [start, end) of `file` into session `id`'s running hash, after the bytes before them. */
  range(id: string, file: string, start: number, end: number): void {
    this.port.postMessage({ op: 'range', id, file, start, end } satisfies HashRequest);
  }

  /** The session's hashes once all its ranges are hashed; rejects when they do not add up to `size`. */
  digest(id: string, size: number): Promise<ContentHashes> {
    return this.ask({ op: 'digest', id, size });
  }

  /** The hashes of the first `size` bytes of a file. */
  file(file: string, size: number): Promise<ContentHashes> {
    return this.ask({ op: 'file', file, size });
  }

  drop(id: string): void {
    this.worker?.postMessage({ op: 'drop', id } satisfies HashRequest);
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}

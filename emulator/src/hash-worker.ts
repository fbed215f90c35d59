/**
 * The emulator's hashing thread: quickXorHash + SHA-256 of upload bytes, read back from the session's
 * temp file (still in the page cache) while the main thread receives the next fragment. Messages are
 * handled in order, so a session's ranges are hashed in the order they were accepted. Started by
 * HashThread (hash-thread.ts); blocking reads are fine here, this thread serves nothing else.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { StreamHasher, type ContentHashes } from './content-store.ts';

/** What the main thread asks (HashThread, hash-thread.ts); defined here so neither module imports the other back. */
export type HashRequest =
  | { op: 'range'; id: string; file: string; start: number; end: number }
  | { op: 'digest'; id: string; size: number; seq: number }
  | { op: 'file'; file: string; size: number; seq: number }
  | { op: 'drop'; id: string };

export type HashReply = { seq: number; hashes: ContentHashes; error?: undefined } | { seq: number; hashes?: undefined; error: string };

/** Running hashes by session; a session whose range could not be read keeps its error until digest or drop. */
const sessions = new Map<string, { hasher: StreamHasher; error?: string }>();
/** One read buffer, reused for every range. */
const buf = Buffer.allocUnsafeSlow(1 << 20);

function hashRange(hasher: StreamHasher, file: string, start: number, end: number): void {
  const fd = openSync(file, 'r');
  try {
    for (let pos = start; pos < end; ) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, end - pos), pos);
      if (n === 0) throw new Error(`short read of ${file} at ${pos} (wanted up to ${end})`);
      hasher.update(buf.subarray(0, n));
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
}

/** Handles one request; also run in-process where no worker can load this module (see hash-thread.ts). */
export function handleHashRequest(m: HashRequest, reply: (r: HashReply) => void): void {
  switch (m.op) {
    case 'range': {
      let s = sessions.get(m.id);
      if (!s) sessions.set(m.id, (s = { hasher: new StreamHasher() }));
      if (s.error) return;
      if (s.hasher.size !== m.start) {
        s.error = `range ${m.start}-${m.end} does not follow the ${s.hasher.size} bytes hashed`;
        return;
      }
      try {
        hashRange(s.hasher, m.file, m.start, m.end);
      } catch (e) {
        s.error = e instanceof Error ? e.message : String(e);
      }
      return;
    }
    case 'digest': {
      const s = sessions.get(m.id);
      sessions.delete(m.id);
      if (!s) return reply({ seq: m.seq, error: 'no running hash for this session' });
      if (s.error) return reply({ seq: m.seq, error: s.error });
      if (s.hasher.size !== m.size) return reply({ seq: m.seq, error: `hashed ${s.hasher.size} bytes, the file has ${m.size}` });
      return reply({ seq: m.seq, hashes: s.hasher.digest() });
    }
    case 'file': {
      try {
        const h = new StreamHasher();
        hashRange(h, m.file, 0, m.size);
        return reply({ seq: m.seq, hashes: h.digest() });
      } catch (e) {
        return reply({ seq: m.seq, error: e instanceof Error ? e.message : String(e) });
      }
    }
    case 'drop':
      sessions.delete(m.id);
      return;
  }
}

// As a worker thread: requests arrive as messages.
if (parentPort) {
  const port = parentPort;
  port.on('message', (m: HashRequest) => handleHashRequest(m, (r) => port.postMessage(r)));
}

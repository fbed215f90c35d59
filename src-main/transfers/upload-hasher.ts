import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { throwIfAborted } from '../base/abort.ts';
import { droppedBuffers } from '../base/gc.ts';
import { QuickXorHash } from '../graph/quickxor.ts';

const READ_BYTES = 1024 * 1024;
const STREAM_CHUNK = 256 * 1024;

/**
 * The quickXorHash of a file being uploaded, computed from the bytes as they are streamed: request
 * bodies are read through a tap that feeds the hash with every byte past what it has seen, so a
 * repeated fragment (a retry, a 416 recovery) is not counted twice. Bytes the upload skips (a
 * session resumed after a restart) are read from the file in 1 MiB blocks, handing the event loop
 * back between them. The file must not change meanwhile: a new write stops the upload.
 */
export class UploadHasher {
  readonly #hash = new QuickXorHash();
  readonly #path: string;
  readonly #size: number;
  #position = 0;
  #digest: string | undefined;
  readonly #onDigest: ((digest: string) => void) | undefined;

  /** `onDigest` hears the hash once every byte went through, before the last byte is sent on. */
  constructor(path: string, size: number, onDigest?: (digest: string) => void) {
    this.#path = path;
    this.#size = size;
    this.#onDigest = onDigest;
  }

  /** Every byte of the file has been hashed. */
  get complete(): boolean {
    return this.#position >= this.#size;
  }

  /** A replayable request body for bytes [start, end) of the file; `onSent` hears each position the request has taken up to. */
  body(start: number, end: number, onSent?: (position: number) => void): () => Readable {
    if (end <= start) return () => Readable.from([], { objectMode: false });
    return () =>
      Readable.from(this.#tap(createReadStream(this.#path, { start, end: end - 1, highWaterMark: STREAM_CHUNK }), start, onSent), {
        objectMode: false,
      });
  }

  /** Hashes the file's bytes up to `offset` that no body has carried yet. */
  async catchUp(offset: number, signal: AbortSignal): Promise<void> {
    const to = Math.min(offset, this.#size);
    if (this.#position >= to) return;
    const handle = await open(this.#path, 'r');
    try {
      const buffer = Buffer.allocUnsafe(Math.min(READ_BYTES, to - this.#position));
      while (this.#position < to) {
        throwIfAborted(signal);
        const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, to - this.#position), this.#position);
        if (bytesRead === 0) throw new Error(`${this.#path} ended at ${this.#position}, before byte ${to}`);
        this.#see(this.#position, buffer.subarray(0, bytesRead));
      }
    } finally {
      await handle.close();
    }
  }

  /** The hash of the whole file (reading whatever no body carried). */
  async digest(signal: AbortSignal): Promise<string> {
    if (this.#digest === undefined) await this.catchUp(this.#size, signal);
    // Computed by #see once the last byte went through; here for an empty file.
    return this.digestIfComplete()!;
  }

  /** The digest when every byte has gone through already (no I/O), else undefined. `onDigest` hears it once, whoever asks first. */
  digestIfComplete(): string | undefined {
    if (this.#digest === undefined && this.complete) {
      this.#digest = this.#hash.digest();
      this.#onDigest?.(this.#digest);
    }
    return this.#digest;
  }

  async *#tap(source: AsyncIterable<Buffer>, start: number, onSent?: (position: number) => void): AsyncGenerator<Buffer, void, undefined> {
    let at = start;
    for await (const chunk of source) {
      this.#see(at, chunk);
      at += chunk.length;
      yield chunk;
      // Resumed: the request took the chunk (a file read's fresh buffer: see droppedBuffers).
      droppedBuffers(chunk.length);
      onSent?.(at);
    }
  }

  #see(at: number, chunk: Uint8Array): void {
    if (this.#digest !== undefined) return;
    const end = Math.min(at + chunk.length, this.#size);
    if (at > this.#position || end <= this.#position) return;
    this.#hash.update(chunk.subarray(this.#position - at, end - at));
    this.#position = end;
    if (this.complete) this.digestIfComplete();
  }
}

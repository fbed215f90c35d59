/**
 * Read-ahead end to end (issue 13): a long sequential read of an uncached file is fetched in a few
 * large ranged GETs that grow with the run, more than one at a time, each byte once; and readers
 * at several offsets at once (sequential and random) all get the server's bytes. The emulator and
 * the engine run in their own processes; this process reads the mount through ordinary programs
 * and asynchronous fs calls only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { open } from 'node:fs/promises';
import { quickXorHash } from '../src-main/graph/quickxor.ts';
import { logPosition, MountHarness, parseRange, runBuffer, settledLog, type ByteRange } from './harness.ts';

const MiB = 1 << 20;
const SEQ_SIZE = 160 * MiB + 4321;
const MIXED_SIZE = 96 * MiB + 77;

let h: MountHarness;

async function serverHash(path: string): Promise<string> {
  const item = await h.admin.item(path);
  const hash = (item.file as { hashes?: { quickXorHash?: string } } | undefined)?.hashes?.quickXorHash;
  if (!hash) throw new Error(`the server has no quickXorHash for ${path}`);
  return hash;
}

/** Server bytes of a range, fetched through the API as another client would. */
async function serverRange(path: string, range: ByteRange): Promise<Buffer> {
  const res = await fetch(`${h.emulator.info.apiUrl}/me/drive/root:/${path}:/content`, {
    headers: { authorization: 'Bearer e2e', range: `bytes=${range.start}-${range.end - 1}` },
  });
  if (res.status !== 206) throw new Error(`ranged GET of ${path} → ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

/** Reads [start, end) of a mounted file in `block`-sized async reads. */
async function readRange(file: string, start: number, end: number, block: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const out = Buffer.alloc(end - start);
    for (let at = 0; at < out.length; ) {
      const { bytesRead } = await fh.read(out, at, Math.min(block, out.length - at), start + at);
      if (bytesRead === 0) throw new Error(`${file}: end of file at ${start + at}, expected ${end}`);
      at += bytesRead;
    }
    return out;
  } finally {
    await fh.close();
  }
}

describe('read-ahead (e2e)', () => {
  beforeAll(async () => {
    h = await MountHarness.start({
      seed: async (admin) => {
        await admin.remote({ op: 'write', path: 'seq.bin', size: SEQ_SIZE });
        await admin.remote({ op: 'write', path: 'mixed.bin', size: MIXED_SIZE });
      },
    });
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  }, 60_000);

  it('fetches a long sequential read in a few growing ranges, several at once, each byte once', async () => {
    const from = await logPosition(h.admin);
    // A network's round trip: over bare loopback a request can be answered before the reader
    // needs the next one, and "several at once" would depend on the machine's speed.
    await h.admin.setFaults({ latencyMs: 40 });
    let r: Awaited<ReturnType<typeof runBuffer>>;
    try {
      r = await runBuffer('cat', [h.at('seq.bin')], { timeoutMs: 120_000 });
    } finally {
      await h.admin.setFaults({ latencyMs: 0 });
    }
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.length).toBe(SEQ_SIZE);
    expect(quickXorHash(r.stdout)).toBe(await serverHash('seq.bin'));
    const gets = (await settledLog(h, 'storage', from)).filter((e) => e.method === 'GET');
    const ranges = gets.map((e) => parseRange(e.range, SEQ_SIZE)).sort((a, b) => a.start - b.start);
    // Each byte once: the ranges tile the file.
    expect(ranges[0]!.start).toBe(0);
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]!.start, `range ${i}`).toBe(ranges[i - 1]!.end);
    expect(ranges[ranges.length - 1]!.end).toBe(SEQ_SIZE);
    // A few large requests, not one per MiB; the first ones small, the later ones large.
    const sizes = ranges.map((x) => x.end - x.start);
    console.log(`cat of ${(SEQ_SIZE / MiB).toFixed(0)} MiB: ${ranges.length} ranged GETs, sizes ${sizes.map((n) => (n / MiB).toFixed(1)).join(' ')} MiB`);
    expect(ranges.length).toBeLessThan(40);
    expect(sizes[0]).toBeLessThanOrEqual(MiB);
    expect(Math.max(...sizes)).toBeGreaterThanOrEqual(8 * MiB);
    // More than one request in flight at some moment (each entry: started at `at - ms`, ended at `at`).
    const spans = gets.map((e) => ({ from: e.at - e.ms, to: e.at }));
    const overlapping = spans.some((a, i) => spans.some((b, j) => i !== j && a.from < b.to && b.from < a.to));
    expect(overlapping).toBe(true);
  }, 180_000);

  it('serves readers at several offsets at once, sequential and random, with the server bytes', async () => {
    const file = h.at('mixed.bin');
    const sequential: ByteRange[] = [
      { start: 0, end: 24 * MiB },
      { start: 40 * MiB + 5, end: 64 * MiB },
      { start: 80 * MiB, end: MIXED_SIZE },
    ];
    // Random 4 KiB–200 KiB reads spread over the file, from a fixed seed.
    let seed = 0x2f6b;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    const random: ByteRange[] = Array.from({ length: 24 }, () => {
      const start = next() % (MIXED_SIZE - 300_000);
      return { start, end: start + 4096 + (next() % 200_000) };
    });
    const reads = [
      ...sequential.map((range) => ({ range, block: 128 * 1024 })),
      ...random.map((range) => ({ range, block: 64 * 1024 })),
    ];
    const got = await Promise.all(reads.map(({ range, block }) => readRange(file, range.start, range.end, block)));
    for (const [i, { range }] of reads.entries()) {
      const expected = await serverRange('mixed.bin', range);
      expect(got[i]!.equals(expected), `bytes ${range.start}-${range.end}`).toBe(true);
    }
    // And the whole file read afterwards is the server's.
    const all = await runBuffer('cat', [file], { timeoutMs: 120_000 });
    expect(all.code, all.stderr).toBe(0);
    expect(quickXorHash(all.stdout)).toBe(await serverHash('mixed.bin'));
  }, 180_000);
});

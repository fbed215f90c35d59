import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Readable } from 'node:stream';
import { BandwidthLimiter, MIN_LIMIT_BYTES_PER_SECOND, paceDownloads, paceUploads, REQUEST_BODY_BUDGET_MS, requestBytesWithin } from './bandwidth.ts';
import { FRAGMENT_UNIT } from '../graph/upload-limits.ts';

const MiB = 1024 * 1024;

describe('BandwidthLimiter', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('lets bytes through at the limit, shared by every taker', { timeout: 10_000 }, async () => {
    const limiter = new BandwidthLimiter({ bytesPerSecond: MiB, burstMs: 0 });
    const start = Date.now();
    const passedAt: number[] = [];
    // Three transfers of 2 MiB each, in 64 KiB pieces, all at once.
    const transfer = async () => {
      for (let i = 0; i < 32; i++) {
        await limiter.take(64 * 1024);
        passedAt.push(Date.now() - start);
      }
    };
    const all = Promise.all([transfer(), transfer(), transfer()]);
    await vi.runAllTimersAsync();
    await all;
    // 6 MiB at 1 MiB/s: the last piece may pass once 6 MiB less that piece went through.
    // (timers fire on whole milliseconds, so each wait may end up to 1 ms late)
    expect(Math.max(...passedAt)).toBeGreaterThanOrEqual(6000 - 62.5);
    expect(Math.max(...passedAt)).toBeLessThan(6000 - 62.5 + 96);
    expect(limiter.bytesPassed).toBe(6 * MiB);
    // Never ahead of the limit at any moment.
    passedAt.sort((a, b) => a - b).forEach((t, i) => expect(i * 64 * 1024).toBeLessThanOrEqual((t / 1000) * MiB));
  });

  it('serves waiters in order, so a big transfer does not starve a small one', { timeout: 10_000 }, async () => {
    const limiter = new BandwidthLimiter({ bytesPerSecond: MiB, burstMs: 0 });
    const order: string[] = [];
    await limiter.take(MiB);
    const big = limiter.take(MiB).then(() => order.push('big'));
    const small = limiter.take(1024).then(() => order.push('small'));
    const big2 = limiter.take(MiB).then(() => order.push('big2'));
    await vi.runAllTimersAsync();
    await Promise.all([big, small, big2]);
    expect(order).toEqual(['big', 'small', 'big2']);
  });

  it('an aborted wait leaves the line and rejects with the reason', { timeout: 10_000 }, async () => {
    const limiter = new BandwidthLimiter({ bytesPerSecond: MiB, burstMs: 0 });
    await limiter.take(MiB);
    const controller = new AbortController();
    const waiting = limiter.take(1024, controller.signal);
    expect(limiter.waiting).toBe(1);
    controller.abort(new Error('cancelled'));
    await expect(waiting).rejects.toThrow('cancelled');
    expect(limiter.waiting).toBe(0);
  });

  it('a new limit applies to transfers already waiting', { timeout: 10_000 }, async () => {
    const limiter = new BandwidthLimiter({ bytesPerSecond: MIN_LIMIT_BYTES_PER_SECOND, burstMs: 0 });
    await limiter.take(10 * MiB);
    let passed = false;
    const waiting = limiter.take(1024).then(() => (passed = true));
    await vi.advanceTimersByTimeAsync(1000);
    expect(passed).toBe(false);
    limiter.setLimit(0);
    await waiting;
    expect(passed).toBe(true);
  });

  it('an idle link banks at most one burst of credit', { timeout: 10_000 }, async () => {
    const limiter = new BandwidthLimiter({ bytesPerSecond: MiB, burstMs: 250 });
    await vi.advanceTimersByTimeAsync(60_000);
    const start = Date.now();
    const all = (async () => {
      for (let i = 0; i < 16; i++) await limiter.take(64 * 1024);
    })();
    await vi.runAllTimersAsync();
    await all;
    // 1 MiB at 1 MiB/s with a quarter second banked: the last piece passes after 1 s − 250 ms − one piece.
    expect(Date.now() - start).toBeGreaterThanOrEqual(1000 - 250 - 62.5);
    expect(Date.now() - start).toBeLessThan(1000 - 250 - 62.5 + 16);
  });

  it('refuses limits too slow for the smallest upload fragment to finish within a request', () => {
    expect(() => new BandwidthLimiter({ bytesPerSecond: 1000 })).toThrow(/at least/);
    expect(() => new BandwidthLimiter({ bytesPerSecond: -1 })).toThrow(RangeError);
    expect(new BandwidthLimiter({ bytesPerSecond: 0 }).bytesPerSecond).toBe(0);
  });

  it('the slowest limit still carries the smallest fragment within the request budget', () => {
    expect((MIN_LIMIT_BYTES_PER_SECOND * REQUEST_BODY_BUDGET_MS) / 1000).toBeGreaterThanOrEqual(FRAGMENT_UNIT);
  });

  it('sizes request bodies to what the limit passes within the request budget', () => {
    expect(requestBytesWithin(new BandwidthLimiter())).toBe(Infinity);
    expect(requestBytesWithin(new BandwidthLimiter({ bytesPerSecond: MiB }))).toBe(32 * FRAGMENT_UNIT);
    expect(requestBytesWithin(new BandwidthLimiter({ bytesPerSecond: MIN_LIMIT_BYTES_PER_SECOND }))).toBe(FRAGMENT_UNIT);
  });
});

describe('throttled streams', () => {
  it('carry every byte in order, through the limiter', { timeout: 10_000 }, async () => {
    const limiter = new BandwidthLimiter({ bytesPerSecond: 64 * MiB });
    const data = Buffer.alloc(1 * MiB + 17).map((_, i) => i % 251);
    const chunks: Buffer[] = [];
    for await (const chunk of limiter.throttle(Readable.from([data.subarray(0, 300_000), data.subarray(300_000)]))) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    expect(limiter.bytesPassed).toBe(data.length);
  });

  it('destroying the throttled stream destroys its source and ends the wait', { timeout: 10_000 }, async () => {
    const limiter = new BandwidthLimiter({ bytesPerSecond: MIN_LIMIT_BYTES_PER_SECOND, burstMs: 0 });
    const source = new Readable({ read() {} });
    const paced = limiter.throttle(source);
    source.push(Buffer.alloc(256 * 1024));
    paced.resume();
    // The first chunk takes the burst-free bucket's tokens; the next waits for more.
    await vi.waitUntil(() => limiter.waiting === 1, { timeout: 5_000, interval: 5 });
    paced.destroy();
    await new Promise((resolve) => setImmediate(resolve));
    expect(source.destroyed).toBe(true);
    expect(limiter.waiting).toBe(0);
  });

  it('a source error reaches the reader', { timeout: 10_000 }, async () => {
    const limiter = new BandwidthLimiter();
    const source = new Readable({ read() {} });
    const paced = limiter.throttle(source);
    source.destroy(new Error('connection reset'));
    await expect(
      (async () => {
        for await (const chunk of paced) void chunk;
      })(),
    ).rejects.toThrow('connection reset');
  });
});

describe('paced Graph clients', () => {
  class FakeGraph {
    #secret = 'private state';
    bodies: Buffer[] = [];
    get state(): string {
      return this.#secret;
    }
    other(): string {
      return this.#secret;
    }
    async downloadRange() {
      return { stream: Readable.from([Buffer.from('hello')]), totalSize: 5, partial: true };
    }
    async uploadFragment(_url: string, _start: number, _end: number, _total: number, body: unknown) {
      const stream = typeof body === 'function' ? (body as () => Readable)() : (body as Readable);
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      this.bodies.push(Buffer.concat(chunks));
      return { done: false as const, nextExpectedRanges: [] };
    }
    async uploadSmall(_p: string, _n: string, body: unknown) {
      this.bodies.push(Buffer.from(body as Uint8Array));
      return { id: 'x' };
    }
    async uploadSmallById(_id: string, body: unknown) {
      this.bodies.push(Buffer.from(body as Uint8Array));
      return { id: 'x' };
    }
  }

  it('pass other calls to the client itself (its private fields work)', { timeout: 10_000 }, async () => {
    const graph = new FakeGraph();
    const limiter = new BandwidthLimiter();
    const down = paceDownloads(graph as never, limiter) as unknown as FakeGraph;
    expect(down.other()).toBe('private state');
    expect(down.state).toBe('private state');
    const range = await down.downloadRange();
    const chunks: Buffer[] = [];
    for await (const c of range.stream) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('hello');
    expect(limiter.bytesPassed).toBe(5);
  });

  it('count upload bodies, streamed or buffered', { timeout: 10_000 }, async () => {
    const graph = new FakeGraph();
    const limiter = new BandwidthLimiter();
    const up = paceUploads(graph as never, limiter) as unknown as FakeGraph;
    await up.uploadFragment('u', 0, 3, 10, () => Readable.from([Buffer.from('abc')]));
    await up.uploadSmall('p', 'n', Buffer.from('defg'));
    await up.uploadSmallById('i', Buffer.alloc(0));
    expect(graph.bodies.map(String)).toEqual(['abc', 'defg', '']);
    expect(limiter.bytesPassed).toBe(7);
  });
});

/**
 * Bandwidth limits on a real mount (issue 15, point 2): `--bwlimit-down` and `--bwlimit-up` hold all
 * transfers of a direction together to the limit over a 30 s transfer, within 10 %, and a limit
 * changed over the control socket applies to a transfer already running.
 *
 * A limit is a ceiling, so the measured rate is asserted to be at most the limit + 10 % (a loaded
 * machine can only make it slower); how close it came to the limit is printed, not asserted, since
 * that depends on the machine's load. Bytes are counted by the emulator (its request log); time runs
 * from the first request the emulator saw to the moment the transfer was done.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SocketClient } from '../src-main/ipc/socket-client.ts';
import { FRAGMENT_UNIT } from '../src-main/graph/upload-limits.ts';
import type { LogEntry } from '../emulator/src/request-log.ts';
import { ACCOUNT, eventually, logPosition, MountHarness, run, scratchFile, settledLog } from './harness.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const DOWN_LIMIT = MiB;
const UP_LIMIT = 512 * KiB;
/** 30 s at each limit. */
const DOWN_SIZE = 30 * DOWN_LIMIT;
const UP_SIZE = 30 * UP_LIMIT;

let h: MountHarness;

async function engine(): Promise<SocketClient> {
  return SocketClient.connect(path.join(h.env.XDG_RUNTIME_DIR!, 'onemount', `${ACCOUNT}.sock`));
}

/** Bytes per second of `entries` from the first one's start to `doneAt`, counting `bytes` of each. */
function rateOf(entries: LogEntry[], doneAt: number, bytes: (e: LogEntry) => number): { bytes: number; seconds: number; rate: number } {
  const total = entries.reduce((sum, e) => sum + bytes(e), 0);
  const seconds = (doneAt - Math.min(...entries.map((e) => e.at))) / 1000;
  return { bytes: total, seconds, rate: total / seconds };
}

describe('bandwidth limits', () => {
  beforeAll(async () => {
    h = await MountHarness.start({
      seed: async (admin) => {
        await admin.remote({ op: 'write', path: 'down.bin', size: DOWN_SIZE });
        await admin.remote({ op: 'write', path: 'live.bin', size: 24 * MiB });
      },
      engineArgs: ['--bwlimit-down', '1M', '--bwlimit-up', '512K', '--write-back', '200'],
    });
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  }, 60_000);

  it('the settings show the limits given on the command line', { timeout: 30_000 }, async () => {
    const client = await engine();
    try {
      expect(await client.call('settings', {})).toMatchObject({ downloadLimitBytesPerSecond: DOWN_LIMIT, uploadLimitBytesPerSecond: UP_LIMIT });
    } finally {
      client.close();
    }
  });

  it('downloads: 30 MiB read at --bwlimit-down 1M take 30 s, within 10 %', { timeout: 120_000 }, async () => {
    const since = await logPosition(h.admin);
    const read = await run('dd', [`if=${h.at('down.bin')}`, 'of=/dev/null', 'bs=1M'], { timeoutMs: 100_000 });
    const doneAt = Date.now();
    expect(read.code, read.stderr).toBe(0);
    const entries = (await settledLog(h, 'storage', since)).filter((e) => e.method === 'GET');
    const { bytes, seconds, rate } = rateOf(entries, doneAt, (e) => e.bytesOut);
    console.info(`download: ${bytes} bytes in ${seconds.toFixed(2)} s = ${(rate / MiB).toFixed(3)} MiB/s at a limit of 1 MiB/s (${entries.length} requests)`);
    expect(bytes).toBeGreaterThanOrEqual(DOWN_SIZE);
    expect(rate).toBeLessThanOrEqual(DOWN_LIMIT * 1.1);
  });

  it('uploads: 15 MiB written at --bwlimit-up 512K take 30 s, within 10 %, in fragments that fit the limit', { timeout: 120_000 }, async () => {
    const local = await scratchFile(h, 'up.bin');
    const data = randomBytes(UP_SIZE);
    await writeFile(local, data);
    const since = await logPosition(h.admin);
    // Lands locally at disk speed; the upload starts after the write-back delay.
    await run('cp', [local, h.at('up.bin')], { timeoutMs: 60_000 });
    await eventually('up.bin on the server', async () => ((await h.admin.item('up.bin').catch(() => undefined))?.size === UP_SIZE ? true : undefined), 100_000, 250);
    const doneAt = Date.now();
    const puts = (await settledLog(h, 'storage', since)).filter((e) => e.method === 'PUT' && e.contentRange !== undefined);
    // The body's length from its Content-Range (the socket count can miss bytes read ahead of the request).
    const carried = (e: LogEntry) => {
      const m = /^bytes (\d+)-(\d+)\//.exec(e.contentRange ?? '');
      return m ? Number(m[2]) - Number(m[1]) + 1 : 0;
    };
    const { bytes, seconds, rate } = rateOf(puts, doneAt, carried);
    console.info(`upload: ${bytes} bytes in ${seconds.toFixed(2)} s = ${(rate / KiB).toFixed(1)} KiB/s at a limit of 512 KiB/s (${puts.length} fragments)`);
    expect(bytes).toBeGreaterThanOrEqual(UP_SIZE);
    expect(rate).toBeLessThanOrEqual(UP_LIMIT * 1.1);
    // At 512 KiB/s a fragment carries what passes in 10 s (16 units of 320 KiB), not the default 10 MiB.
    for (const put of puts) expect(carried(put)).toBeLessThanOrEqual(16 * FRAGMENT_UNIT);
    expect((await h.admin.content('up.bin')).equals(data)).toBe(true);
  });

  it('a limit changed over the control socket applies to the download under way, and is saved', { timeout: 120_000 }, async () => {
    const client = await engine();
    try {
      await client.call('updateSettings', { downloadLimitBytesPerSecond: 64 * KiB });
      const reading = run('dd', [`if=${h.at('live.bin')}`, 'of=/dev/null', 'bs=1M'], { timeoutMs: 100_000 });
      // Under way at 64 KiB/s: the rest would take minutes.
      await eventually(
        'the download under way',
        async () => ((await client.call('status', {})).transfers.some((t) => t.path === '/live.bin' && t.direction === 'download' && t.bytes > 0) ? true : undefined),
        20_000,
        100,
      );
      const changedAt = Date.now();
      expect(await client.call('updateSettings', { downloadLimitBytesPerSecond: 0 })).toMatchObject({ downloadLimitBytesPerSecond: 0 });
      const read = await reading;
      const seconds = (Date.now() - changedAt) / 1000;
      expect(read.code, read.stderr).toBe(0);
      console.info(`live change: the rest of 24 MiB took ${seconds.toFixed(2)} s after the limit went from 64 KiB/s to none`);
      // At 64 KiB/s the 24 MiB need 384 s; a quarter of that is proof the old limit no longer holds.
      expect(seconds).toBeLessThan(96);
      const saved = JSON.parse(await readFile(path.join(h.env.XDG_CONFIG_HOME!, 'onemount', ACCOUNT, 'settings.json'), 'utf8')) as Record<string, unknown>;
      expect(saved).toMatchObject({ downloadLimitBytesPerSecond: 0 });
    } finally {
      client.close();
    }
  });
});

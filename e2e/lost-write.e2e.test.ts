/**
 * A write that returned success is never lost: a file changed again while its previous upload is
 * still under way (or just committing) ends with its last content, on the mount and on the server.
 *
 * The recipe that lost writes before items kept one key for life: uploads slowed down (bandwidth for
 * upload sessions, latency for single-request uploads), the file rewritten, appended to or renamed
 * 0.15–3 s after its close, many files at once so some changes land exactly while an upload's
 * answer is being committed.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, open, readFile, rename, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prng } from './fs-ops.ts';
import { eventually, MountHarness, sleep } from './harness.ts';

let h: MountHarness;


/** Until no upload is waiting, running or retrying (a failed one fails the test). */
async function quiet(): Promise<void> {
  await eventually(
    'no transfer left',
    async () => {
      const s = await h.status();
      const failed = s.transfers.filter((t) => t.state === 'failed');
      if (failed.length > 0) throw new Error(`uploads failed: ${JSON.stringify(failed)}`);
      return s.transfers.length === 0 ? true : undefined;
    },
    120_000,
    300,
  );
}

/** Overwrites the whole file the way `>` does (open with O_TRUNC, write, close). */
async function rewrite(path: string, bytes: Buffer): Promise<void> {
  const fh = await open(path, 'w');
  try {
    if (bytes.length > 0) await fh.write(bytes, 0, bytes.length, 0);
  } finally {
    await fh.close();
  }
}

type Change = 'rewrite' | 'append' | 'rename';

interface Case {
  name: string;
  /** Where the file ends (a rename moves it). */
  finalName: string;
  expected: Buffer;
}

/**
 * One round: `count` files written at once, each changed again `delay` after its close while its
 * upload is slowed down; then the slowdown is lifted and every file is checked on both sides.
 */
async function round(o: { prefix: string; count: number; size: number; change: Change; existing: boolean; seed: number; slow: 'bandwidth' | 'latency' }): Promise<Case[]> {
  const rnd = prng(o.seed);
  const cases: Case[] = [];
  if (o.existing) {
    // Second and later uploads: the files are on the server before the round starts.
    await Promise.all(Array.from({ length: o.count }, (_, i) => writeFile(h.at(`${o.prefix}-${i}.bin`), randomBytes(1000))));
    await quiet();
  }
  await h.admin.setFaults(o.slow === 'bandwidth' ? { bandwidthBytesPerSec: 2_000_000 } : { latencyMs: 300 + Math.floor(rnd() * 500) });
  try {
    await Promise.all(
      Array.from({ length: o.count }, async (_, i) => {
        const name = `${o.prefix}-${i}.bin`;
        const first = randomBytes(o.size);
        await writeFile(h.at(name), first).catch((e: unknown) => {
          throw new Error(`writing ${name} the first time`, { cause: e });
        });
        await sleep(150 + Math.floor(rnd() * 2850));
        if (o.change === 'rewrite') {
          const second = randomBytes(i % 4 === 0 ? 0 : Math.floor(rnd() * 5000));
          await rewrite(h.at(name), second).catch((e: unknown) => {
            throw new Error(`rewriting ${name}`, { cause: e });
          });
          cases.push({ name, finalName: name, expected: second });
        } else if (o.change === 'append') {
          const tail = randomBytes(1 + Math.floor(rnd() * 5000));
          await appendFile(h.at(name), tail);
          cases.push({ name, finalName: name, expected: Buffer.concat([first, tail]) });
        } else {
          const finalName = `${o.prefix}-${i}-renamed.bin`;
          await rename(h.at(name), h.at(finalName));
          cases.push({ name, finalName, expected: first });
        }
      }),
    );
  } finally {
    await h.admin.resetFaults();
  }
  await quiet();
  return cases;
}

async function check(cases: Case[]): Promise<void> {
  const wrong: string[] = [];
  for (const c of cases) {
    const local = await readFile(h.at(c.finalName)).catch(() => Buffer.from('(missing on the mount)'));
    const server = await h.admin.content(`/${c.finalName}`).catch(() => Buffer.from('(missing on the server)'));
    const describe = (b: Buffer) => (b.length < 40 ? b.toString() : `${b.length} bytes`);
    if (!local.equals(c.expected)) wrong.push(`${c.finalName}: mount has ${describe(local)}, want ${c.expected.length} bytes`);
    if (!server.equals(c.expected)) wrong.push(`${c.finalName}: server has ${describe(server)}, want ${c.expected.length} bytes`);
    if (c.finalName !== c.name) {
      const stale = await h.admin.item(`/${c.name}`).then(
        () => true,
        () => false,
      );
      if (stale) wrong.push(`${c.name}: still on the server under its old name`);
    }
  }
  // On failure, what the engine warned about says where to look.
  const warnings = wrong.length === 0 ? [] : (await h.engineLog()).split('\n').filter((line) => /"level":(40|50)/.test(line));
  expect({ wrong, warnings }).toEqual({ wrong: [], warnings });
}

describe('a change racing the previous upload of the same file', () => {
  beforeAll(async () => {
    h = await MountHarness.start({ engineArgs: ['--write-back', '100', '--poll-interval', '2', '--uploads', '10'] });
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  }, 60_000);

  it('a new file rewritten (smaller or empty) while its first upload runs ends with the rewrite', async () => {
    // 160 files: upload sessions slowed by bandwidth, and single-request uploads slowed by latency.
    for (let r = 0; r < 8; r++) {
      await check(await round({ prefix: `session-${r}`, count: 10, size: 4_500_000, change: 'rewrite', existing: false, seed: r, slow: 'bandwidth' }));
      await check(await round({ prefix: `simple-${r}`, count: 10, size: 3_000_000, change: 'rewrite', existing: false, seed: 100 + r, slow: 'latency' }));
    }
  }, 900_000);

  it('an existing file rewritten while its next upload runs ends with the rewrite', async () => {
    for (let r = 0; r < 2; r++) {
      await check(await round({ prefix: `existing-${r}`, count: 10, size: 4_500_000, change: 'rewrite', existing: true, seed: 200 + r, slow: 'bandwidth' }));
    }
  }, 600_000);

  it('a file appended to while its upload runs ends with both parts', async () => {
    await check(await round({ prefix: 'append', count: 10, size: 3_000_000, change: 'append', existing: false, seed: 300, slow: 'latency' }));
    await check(await round({ prefix: 'append-s', count: 10, size: 4_500_000, change: 'append', existing: false, seed: 301, slow: 'bandwidth' }));
  }, 600_000);

  it('a file renamed while its upload runs ends under the new name only', async () => {
    await check(await round({ prefix: 'rename', count: 10, size: 3_000_000, change: 'rename', existing: false, seed: 400, slow: 'latency' }));
    await check(await round({ prefix: 'rename-s', count: 10, size: 4_500_000, change: 'rename', existing: false, seed: 401, slow: 'bandwidth' }));
  }, 600_000);
});

/**
 * A file emptied while the upload of its previous content is still in flight ends empty on the
 * server too (the emptying supersedes that upload, whatever the order its answer and the truncate
 * take).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { eventually, MountHarness, sleep } from './harness.ts';

let h: MountHarness;

async function serverBytes(p: string): Promise<number | undefined> {
  try {
    return Number((await h.admin.item(p)).size);
  } catch (e) {
    if (/→ 404/.test(String(e))) return undefined;
    throw e;
  }
}

describe('emptying a file while its upload is in flight', () => {
  beforeAll(async () => {
    h = await MountHarness.start({ engineArgs: ['--write-back', '50'] });
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  }, 60_000);

  for (const delay of [100, 300, 600]) {
    it(`ends empty on the server (truncate ${delay} ms into a slow upload)`, async () => {
      const name = `empty-${delay}.txt`;
      await writeFile(h.at(name), 'x'.repeat(100));
      await eventually('on the server', async () => ((await serverBytes(name)) === 100 ? true : undefined));
      // Every request now takes 400 ms: the next upload is in flight when the file is emptied.
      await h.admin.setFaults({ latencyMs: 400 });
      try {
        await writeFile(h.at(name), 'y'.repeat(100));
        await sleep(delay);
        await writeFile(h.at(name), Buffer.alloc(0));
        await eventually('empty on the server', async () => ((await serverBytes(name)) === 0 ? true : undefined), 20_000);
      } finally {
        await h.admin.setFaults({ latencyMs: 0 });
      }
      expect(await serverBytes(name)).toBe(0);
    }, 60_000);
  }
});

/**
 * A change made offline that the server then refuses for good is shown (status) and undone on the
 * mount, so the mount never claims what the server does not hold, and nothing is lost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile, rename } from 'node:fs/promises';
import { eventually, MountHarness } from './harness.ts';

let h: MountHarness;
const DEEP = `${'d'.repeat(200)}/${'f'.repeat(180)}.txt`;


describe('an offline change the server refuses', () => {
  beforeAll(async () => {
    h = await MountHarness.start({
      seed: async (admin) => {
        await admin.remote({ op: 'mkdir', path: 'Projects' });
        await admin.remote({ op: 'mkdir', path: `Projects/${DEEP.split('/')[0]}` });
        await admin.remote({ op: 'write', path: `Projects/${DEEP}`, content: 'deep down\n' });
      },
      engineArgs: ['--poll-interval', '1'],
    });
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  }, 60_000);

  it('a rename that would make a path inside pass 400 characters is undone and reported', async () => {
    await h.admin.setOffline(true);
    try {
      // Locally fine (the folder's own path is short); the file inside would pass the limit.
      await rename(h.at('Projects'), h.at(`Projects ${'x'.repeat(30)}`));
    } finally {
      await h.admin.setOffline(false);
    }
    const s = await eventually('the refusal reported', async () => {
      const now = await h.status();
      return now.failedChanges?.length ? now : undefined;
    }, 40_000);
    expect(s.failedChanges).toEqual([expect.objectContaining({ change: expect.stringMatching(/^rename to Projects x+$/), path: '/Projects' })]);
    // The mount shows what the server holds, the file included.
    await eventually('the old name back', async () => ((await readdir(h.mountpoint)).includes('Projects') ? true : undefined), 20_000);
    expect(await readdir(h.mountpoint)).not.toContain(`Projects ${'x'.repeat(30)}`);
    expect(await readFile(h.at(`Projects/${DEEP}`), 'utf8')).toBe('deep down\n');
    expect((await h.admin.item('/Projects')).name).toBe('Projects');
  }, 120_000);
});

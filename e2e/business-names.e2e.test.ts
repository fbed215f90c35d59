/**
 * Business names on a real mount (issue 15, point 5): OneDrive for Business accepts `#` and `%` in
 * names unless the tenant turned them off. On a default business drive they go through; on a
 * strict tenant the first refusal teaches the engine the rule (EINVAL with the reason, at once for a
 * folder; a failed upload that says why for a file written first), after which such names fail with
 * EINVAL before any request — also after a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { eventually, logPosition, MountHarness, run, settledLog } from './harness.ts';

describe('business drive, default tenant: # and % are ordinary characters', () => {
  let h: MountHarness;
  beforeAll(async () => {
    h = await MountHarness.start({ emulator: { mode: 'business' }, engineArgs: ['--write-back', '200'] });
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  }, 60_000);

  it('folders, files and renames with # and % reach the server under their names', { timeout: 60_000 }, async () => {
    expect((await run('mkdir', [h.at('Issue #12')])).code).toBe(0);
    await writeFile(h.at('Issue #12', '100% done.txt'), 'all of it\n');
    await writeFile(h.at('plain.txt'), 'renamed later\n');
    await eventually('plain.txt uploaded', async () => ((await h.serverText('plain.txt')) === 'renamed later\n' ? true : undefined));
    expect((await run('mv', [h.at('plain.txt'), h.at('50% #2.txt')])).code).toBe(0);
    await eventually('the file in the folder', async () => ((await h.serverText('Issue #12/100% done.txt')) === 'all of it\n' ? true : undefined));
    await eventually('the rename', async () => ((await h.serverText('50% #2.txt')) === 'renamed later\n' ? true : undefined));
    expect((await h.status()).transfers.filter((t) => t.state === 'failed')).toEqual([]);
  });
});

describe('business drive whose tenant refuses # and %', () => {
  let h: MountHarness;
  const rulesFile = () => path.join(h.stateDir, 'name-rules.json');
  beforeAll(async () => {
    h = await MountHarness.start({ emulator: { mode: 'business', refuseHashPercent: true }, engineArgs: ['--write-back', '200'] });
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  }, 60_000);

  it('a file written first: its upload fails saying why, and the rule is learned', { timeout: 60_000 }, async () => {
    await writeFile(h.at('report #1.txt'), 'draft\n');
    const failed = await eventually('the refused upload', async () => (await h.status()).transfers.find((t) => t.path === '/report #1.txt' && t.state === 'failed'));
    expect(failed.error?.message).toMatch(/does not accept "#" in names/);
    expect(await h.serverText('report #1.txt')).toBeUndefined();
    expect(JSON.parse(await readFile(rulesFile(), 'utf8'))).toEqual({ refuseHashAndPercent: true });
    // Learned: the next such name is refused by the mount itself, before any request.
    const since = await logPosition(h.admin);
    const touch = await run('touch', [h.at('100%.txt')]);
    expect(touch.code).not.toBe(0);
    expect(touch.stderr).toMatch(/Invalid argument/);
    expect((await settledLog(h, 'api', since)).filter((e) => decodeURIComponent(e.path).includes('100%'))).toEqual([]);
    // Names without them are untouched.
    await writeFile(h.at('report 1.txt'), 'fine\n');
    await eventually('report 1.txt uploaded', async () => ((await h.serverText('report 1.txt')) === 'fine\n' ? true : undefined));
  });

  it('from a fresh start, a folder is refused at once with EINVAL; the rule outlives a restart', { timeout: 90_000 }, async () => {
    await h.stopEngine();
    await rm(rulesFile());
    await h.startEngine();
    const mkdir = await run('mkdir', [h.at('Q#1')]);
    expect(mkdir.code).not.toBe(0);
    expect(mkdir.stderr).toMatch(/Invalid argument/);
    expect(await h.engineLog()).toMatch(/refuses # and % in names/);
    await h.stopEngine();
    await h.startEngine();
    const since = await logPosition(h.admin);
    // (mv words an EINVAL from rename(2) as "a subdirectory of itself", so the call is made directly.)
    await expect(rename(h.at('report 1.txt'), h.at('report #2.txt'))).rejects.toMatchObject({ code: 'EINVAL' });
    expect((await settledLog(h, 'api', since)).filter((e) => e.method === 'PATCH')).toEqual([]);
    expect(await h.serverText('report 1.txt')).toBe('fine\n');
  });
});

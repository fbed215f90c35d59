/**
 * Shared folders on a real mount, in both modes: another user's drive shares "Team" read-write and
 * "Archive" read-only, both added to the user's drive. On the mount they are folders: listed and
 * read, written into (the change lands in the other drive), refused with EACCES where the share is
 * read-only (nothing lost on either side), followed when their owner changes them (each has its own
 * delta on its own drive), and `user.onemount.status` says `shared`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { eventually, logPosition, MountHarness, runOk } from './harness.ts';

/** getxattr through a separate program: the value, or the errno name it failed with. */
async function getxattr(file: string, name: string): Promise<string> {
  const py = 'import os,sys,errno\ntry: sys.stdout.write(os.getxattr(sys.argv[1], sys.argv[2]).decode())\nexcept OSError as e: sys.stdout.write(errno.errorcode[e.errno])';
  return runOk('/usr/bin/python3', ['-c', py, file, name], { timeoutMs: 20_000 });
}

/** The errno code a failed fs call threw (the call is made by this test process, not the engine). */
async function errnoOf(work: () => Promise<unknown>): Promise<string> {
  try {
    await work();
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
  return 'no error';
}

for (const mode of ['personal', 'business'] as const) {
  describe(`shared folders on the mount (${mode})`, () => {
    let h: MountHarness;

    beforeAll(async () => {
      h = await MountHarness.start({
        emulator: { mode },
        engineArgs: ['--write-back', '100', '--poll-interval', '1'],
        seed: async (admin) => {
          await admin.share('Team', 'write');
          await admin.share('Archive', 'read', { name: 'Old archive' });
          await admin.share('Shifting', 'write');
          await admin.remote({ op: 'write', path: 'Shifting/draft.txt', content: 'draft v1' }, 'other');
          await admin.share('Turned', 'write');
          await admin.remote({ op: 'write', path: 'Turned/plan.txt', content: 'plan v1' }, 'other');
          await admin.remote({ op: 'write', path: 'Team/readme.txt', content: 'team notes' }, 'other');
          await admin.remote({ op: 'mkdir', path: 'Team/Plans' }, 'other');
          await admin.remote({ op: 'write', path: 'Team/Plans/q1.txt', content: 'plan for q1' }, 'other');
          await admin.remote({ op: 'write', path: 'Archive/2019.txt', content: 'old report' }, 'other');
          await admin.remote({ op: 'mkdir', path: 'Private' }, 'other');
          await admin.remote({ op: 'write', path: 'Private/secret.txt', content: 'not shared' }, 'other');
          await admin.remote({ op: 'write', path: 'mine.txt', content: 'my own file' });
        },
      });
    }, 120_000);

    afterAll(async () => {
      await h?.close();
    }, 60_000);

    it('lists and reads a shared folder like any folder', async () => {
      const entries = await eventually('the shared folder is listed with its content', async () => {
        const names = await readdir(h.at('Team')).catch((): string[] => []);
        return names.includes('readme.txt') ? names : undefined;
      });
      expect(entries.sort()).toEqual(['Plans', 'readme.txt']);
      expect((await readdir(h.mountpoint)).sort()).toEqual(['Old archive', 'Shifting', 'Team', 'Turned', 'mine.txt']);
      expect(await readFile(h.at('Team', 'readme.txt'), 'utf8')).toBe('team notes');
      expect(await readFile(h.at('Team', 'Plans', 'q1.txt'), 'utf8')).toBe('plan for q1');
      await eventually('the read-only share is listed', async () => ((await readdir(h.at('Old archive')).catch((): string[] => [])).includes('2019.txt') ? true : undefined));
      expect(await readFile(h.at('Old archive', '2019.txt'), 'utf8')).toBe('old report');
    }, 60_000);

    it('status xattr: the shared folder says shared; the share attribute says what it allows', async () => {
      expect(await getxattr(h.at('Team'), 'user.onemount.status')).toBe('shared');
      expect(await getxattr(h.at('Old archive'), 'user.onemount.status')).toBe('shared');
      expect(await getxattr(h.at('Team'), 'user.onemount.share')).toBe('read-write');
      expect(await getxattr(h.at('Old archive', '2019.txt'), 'user.onemount.share')).toBe('read-only');
      expect(await getxattr(h.at('Team', 'readme.txt'), 'user.onemount.status')).toMatch(/^(cached|cloud-only)$/);
      expect(await getxattr(h.at('mine.txt'), 'user.onemount.share')).toBe('ENODATA');
    }, 60_000);

    it('writes into a read-write share land in the other drive: new file, edit, mkdir, rename, delete', async () => {
      await writeFile(h.at('Team', 'from-me.txt'), 'written on the mount');
      await mkdir(h.at('Team', 'New folder'));
      await writeFile(h.at('Team', 'readme.txt'), 'team notes, edited');
      await eventually('the new file is in the other drive', async () =>
        (await h.admin.content('Team/from-me.txt', 'other').catch(() => undefined))?.toString() === 'written on the mount' ? true : undefined,
      );
      await eventually('the edit is in the other drive', async () =>
        (await h.admin.content('Team/readme.txt', 'other')).toString() === 'team notes, edited' ? true : undefined,
      );
      // Past the simple-upload limit: an upload session opened in the other drive.
      const big = Buffer.alloc(5 * 1024 * 1024 + 123, 7);
      await writeFile(h.at('Team', 'big.bin'), big);
      await eventually('the large file is in the other drive', async () => {
        const item = (await h.admin.tree('Team', 'other')).find((i) => i.path === 'big.bin');
        return item?.size === big.length ? true : undefined;
      });
      await rm(h.at('Team', 'big.bin'));
      await rename(h.at('Team', 'from-me.txt'), h.at('Team', 'New folder', 'moved.txt'));
      await rm(h.at('Team', 'Plans', 'q1.txt'));
      const want = ['New folder', 'New folder/moved.txt', 'Plans', 'readme.txt'];
      let tree: string[] = [];
      await eventually(`the other drive holds ${want.join(', ')}`, async () => {
        tree = (await h.admin.tree('Team', 'other')).map((i) => i.path).sort();
        return JSON.stringify(tree) === JSON.stringify(want) ? true : undefined;
      }).catch(() => expect(tree).toEqual(want));
      // Nothing of it went to the user's own drive.
      expect((await h.admin.tree('')).map((i) => i.path).sort()).toEqual(['mine.txt']);
    }, 90_000);

    it('a read-only share refuses changes with EACCES and a clear log line; nothing is lost', async () => {
      expect(await errnoOf(() => writeFile(h.at('Old archive', 'new.txt'), 'x'))).toBe('EACCES');
      expect(await errnoOf(() => writeFile(h.at('Old archive', '2019.txt'), 'overwritten'))).toBe('EACCES');
      expect(await errnoOf(() => mkdir(h.at('Old archive', 'Sub')))).toBe('EACCES');
      expect(await errnoOf(() => rm(h.at('Old archive', '2019.txt')))).toBe('EACCES');
      expect(await errnoOf(() => rename(h.at('Old archive', '2019.txt'), h.at('Old archive', '2020.txt')))).toBe('EACCES');
      expect(await readFile(h.at('Old archive', '2019.txt'), 'utf8')).toBe('old report');
      expect((await readdir(h.at('Old archive'))).sort()).toEqual(['2019.txt']);
      expect((await h.admin.content('Archive/2019.txt', 'other')).toString()).toBe('old report');
      expect((await h.admin.tree('Archive', 'other')).map((i) => i.path)).toEqual(['2019.txt']);
      expect(await h.engineLog()).toMatch(/"Old archive\\" is shared with you read-only; the change was refused/);
    }, 60_000);

    it('a rename between the own drive and a shared folder is EXDEV (mv copies instead)', async () => {
      expect(await errnoOf(() => rename(h.at('mine.txt'), h.at('Team', 'mine.txt')))).toBe('EXDEV');
      await runOk('mv', [h.at('mine.txt'), h.at('Team', 'mine.txt')], { timeoutMs: 30_000 });
      await eventually('mv landed the file in the other drive', async () =>
        (await h.admin.content('Team/mine.txt', 'other').catch(() => undefined))?.toString() === 'my own file' ? true : undefined,
      );
      await eventually('and removed it from the own drive', async () => ((await h.admin.tree('')).length === 0 ? true : undefined));
    }, 60_000);

    it('a share its owner turned read-only: a namespace change gets the server\'s 403 as EACCES, and later ones are refused at once', async () => {
      await eventually('the share is listed', async () => ((await readdir(h.at('Turned')).catch((): string[] => [])).includes('plan.txt') ? true : undefined));
      expect(await getxattr(h.at('Turned'), 'user.onemount.share')).toBe('read-write');
      // The owner takes write access away; the engine still believes the share is writable.
      await h.admin.share('Turned', 'read');
      expect(await errnoOf(() => mkdir(h.at('Turned', 'Sub')))).toBe('EACCES');
      expect(await h.engineLog()).toMatch(/the owner of \\"Turned\\" did not let us change it \(403 accessDenied\)/);
      expect(await getxattr(h.at('Turned'), 'user.onemount.share')).toBe('read-only');
      expect(await errnoOf(() => writeFile(h.at('Turned', 'plan.txt'), 'plan v2'))).toBe('EACCES');
      expect(await readFile(h.at('Turned', 'plan.txt'), 'utf8')).toBe('plan v1');
      expect((await h.admin.tree('Turned', 'other')).map((i) => i.path)).toEqual(['plan.txt']);
    }, 60_000);

    it('an edit saved while the share still looked writable stays on this device when its upload is refused', async () => {
      await eventually('the share is listed', async () => ((await readdir(h.at('Shifting')).catch((): string[] => [])).includes('draft.txt') ? true : undefined));
      expect(await getxattr(h.at('Shifting'), 'user.onemount.share')).toBe('read-write');
      await h.admin.share('Shifting', 'read');
      // Local first: the write succeeds here; the upload after close is what the server refuses.
      await writeFile(h.at('Shifting', 'draft.txt'), 'draft v2, written here');
      await eventually('the refused upload is logged', async () => (/the owner of \\"Shifting\\" did not let us change it/.test(await h.engineLog()) ? true : undefined));
      expect(await readFile(h.at('Shifting', 'draft.txt'), 'utf8')).toBe('draft v2, written here');
      // Kept, and marked: the failed upload is an error the panel and `onemount status` list.
      expect(await getxattr(h.at('Shifting', 'draft.txt'), 'user.onemount.status')).toBe('error');
      expect((await h.admin.content('Shifting/draft.txt', 'other')).toString()).toBe('draft v1');
      expect(await getxattr(h.at('Shifting'), 'user.onemount.share')).toBe('read-only');
    }, 60_000);

    it('a share removed from the drive keeps the edit it held that never reached the server', async () => {
      await h.admin.remote({ op: 'write', path: 'Shifting/clean.txt', content: 'no local edit' }, 'other');
      await eventually('the owner\'s new file is listed', async () => ((await readdir(h.at('Shifting'))).includes('clean.txt') ? true : undefined));
      await h.admin.unshare('Shifting');
      await eventually('the unshared folder loses what had no local edit, and only that', async () => {
        const names = await readdir(h.at('Shifting')).catch((): string[] => []);
        return names.length === 1 && names[0] === 'draft.txt' ? names : undefined;
      });
      expect(await readFile(h.at('Shifting', 'draft.txt'), 'utf8')).toBe('draft v2, written here');
      const status = await h.status();
      expect(JSON.stringify(status)).toMatch(/Shifting/);
    }, 60_000);

    it("the owner's changes in the other drive appear on the mount (the share's own delta)", async () => {
      await h.admin.remote({ op: 'write', path: 'Team/by-owner.txt', content: 'added by the owner' }, 'other');
      await h.admin.remote({ op: 'write', path: 'Archive/2019.txt', content: 'old report, revised' }, 'other');
      await h.admin.remote({ op: 'delete', path: 'Team/Plans' }, 'other');
      await eventually('the owner\'s new file is on the mount', async () =>
        (await readFile(h.at('Team', 'by-owner.txt'), 'utf8').catch(() => undefined)) === 'added by the owner' ? true : undefined,
      );
      await eventually('the owner\'s edit in the read-only share is on the mount', async () =>
        (await readFile(h.at('Old archive', '2019.txt'), 'utf8')) === 'old report, revised' ? true : undefined,
      );
      await eventually('the owner\'s delete is on the mount', async () => (!(await readdir(h.at('Team'))).includes('Plans') ? true : undefined));
      // What is not shared never shows up.
      expect(await h.engineLog()).not.toContain('secret.txt');
    }, 60_000);

    it('a shared folder its owner deleted empties on the mount, with one log line', async () => {
      expect((await readdir(h.at('Turned'))).length).toBeGreaterThan(0);
      await h.admin.remote({ op: 'delete', path: 'Turned' }, 'other');
      await eventually('the deleted share is empty on the mount', async () => ((await readdir(h.at('Turned'))).length === 0 ? true : undefined));
      await eventually('its loss is logged once', async () => {
        const lines = (await h.engineLog()).split('\n').filter((l) => l.includes('\\"Turned\\" can no longer be reached'));
        return lines.length === 1 ? true : undefined;
      });
      expect(await getxattr(h.at('Turned'), 'user.onemount.status')).toBe('shared');
    }, 60_000);

    it('after a restart the shares are served at once and their deltas resume where they were', async () => {
      await h.stopEngine();
      // The shares' sync loop stopped with the rest: nothing ran on behind the closed store.
      expect(await h.engineLog()).toContain('shutdown: no background task left');
      // Which shares have a stored delta link (a share gone from its owner's drive has none: it is asked from the start).
      const Database = (await import('better-sqlite3')).default;
      const db = new Database(h.storeFile, { readonly: true });
      const rows = db.prepare<[], { remote_item_id: string; delta_link: string | null }>('SELECT remote_item_id, delta_link FROM shared_folders').all();
      db.close();
      const linked = rows.filter((r) => r.delta_link !== null).map((r) => r.remote_item_id);
      expect(linked.length).toBeGreaterThanOrEqual(2);
      const since = await logPosition(h.admin);
      await h.admin.remote({ op: 'write', path: 'Team/while-stopped.txt', content: 'added while the engine was stopped' }, 'other');
      await h.startEngine();
      expect(await readFile(h.at('Team', 'readme.txt'), 'utf8')).toBe('team notes, edited');
      await eventually('the change made while stopped arrives', async () =>
        (await readFile(h.at('Team', 'while-stopped.txt'), 'utf8').catch(() => undefined)) === 'added while the engine was stopped' ? true : undefined,
      );
      // Each share with a stored link resumed from it (its first request is that link), and on
      // Personal none of them was enumerated from the start again.
      const log = await h.admin.log({ since, path: '/delta' });
      const asked = log.entries.map((e) => e.path);
      for (const row of rows.filter((r) => r.delta_link !== null)) {
        const link = new URL(row.delta_link!);
        expect(asked).toContain(link.pathname + link.search);
      }
      if (mode === 'personal') {
        const starts = asked.filter((p) => p.startsWith('/v1.0/drives/') && !p.includes('token='));
        expect(starts.filter((p) => linked.some((id) => p.includes(`/items/${id}/`) || p.includes(`/items/${encodeURIComponent(id)}/`)))).toEqual([]);
      }
    }, 90_000);
  });
}

/**
 * A corrupt database never costs an unsent change: the engine moves it aside, rebuilds the drive
 * from the server, and brings every edit that had not reached the server back — where it was when
 * the old database still says so, else into a clearly named folder — and says so in status.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { open, readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { ACCOUNT, eventually, MountHarness } from './harness.ts';

let h: MountHarness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
}, 60_000);



/** Pause, then a new file and an edit of an existing one, then a clean stop: both wait in the journal. */
async function unsentChanges(): Promise<MountHarness> {
  const harness = await MountHarness.start({
    seed: async (admin) => {
      await admin.remote({ op: 'mkdir', path: 'Documents' });
      await admin.remote({ op: 'write', path: 'Documents/report.txt', content: 'the server version\n' });
    },
    engineArgs: ['--write-back', '200', '--poll-interval', '1'],
  });
  expect((await harness.onemount(['pause', '--account', ACCOUNT])).code).toBe(0);
  await writeFile(harness.at('Documents/new.txt'), 'a new file, not uploaded\n');
  await writeFile(harness.at('Documents/report.txt'), 'an edit, not uploaded\n');
  await harness.stopEngine();
  return harness;
}

/** Overwrites the pages of the items table (its b-tree root and what follows) with garbage. */
async function corruptItemsTable(file: string): Promise<void> {
  const db = new Database(file, { readonly: true });
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const root = (db.prepare(`SELECT rootpage FROM sqlite_master WHERE name = 'items'`).get() as { rootpage: number }).rootpage;
  db.close();
  const fh = await open(file, 'r+');
  try {
    await fh.write(Buffer.alloc(pageSize, 0x5a), 0, pageSize, (root - 1) * pageSize);
  } finally {
    await fh.close();
  }
}

describe('a corrupt database', () => {
  it('with its items table broken: the unsent new file and edit come back where they were, and upload', async () => {
    h = await unsentChanges();
    await corruptItemsTable(h.storeFile);
    await h.startEngine();
    const harness = h;
    // The journal and content tables were readable: both changes are back in place.
    expect(await readFile(harness.at('Documents/new.txt'), 'utf8')).toBe('a new file, not uploaded\n');
    expect(await readFile(harness.at('Documents/report.txt'), 'utf8')).toBe('an edit, not uploaded\n');
    const s = await harness.status();
    expect(s.recovery).toEqual({ restored: 2, recovered: 0, folder: null });
    expect(await harness.engineLog()).toMatch(/unsent change\(s\) were put back/);
    expect((await harness.onemount(['resume', '--account', ACCOUNT])).code).toBe(0);
    await eventually('both on the server', async () =>
      (await harness.serverText('Documents/new.txt')) === 'a new file, not uploaded\n' && (await harness.serverText('Documents/report.txt')) === 'an edit, not uploaded\n' ? true : undefined,
    30_000);
  }, 120_000);

  it('not readable at all: the bytes go to a recovered-files folder and nothing is lost', async () => {
    h = await unsentChanges();
    const fh = await open(h.storeFile, 'r+');
    await fh.write(Buffer.alloc(4096, 0x5a), 0, 4096, 0);
    await fh.close();
    await h.startEngine();
    const harness = h;
    const s = await harness.status();
    expect(s.recovery?.recovered).toBe(2);
    const folder = s.recovery!.folder!;
    expect(folder).toMatch(/^\/OneMount recovered files /);
    const names = await readdir(harness.at(folder.slice(1)));
    const contents = await Promise.all(names.map((n) => readFile(harness.at(folder.slice(1), n), 'utf8')));
    expect(contents.sort()).toEqual(['a new file, not uploaded\n', 'an edit, not uploaded\n']);
    // The edit of an existing file kept its name there; the new file's name was in the lost database.
    expect(names).toContain('report.txt');
    // The server's own version stays untouched at its place.
    expect(await readFile(harness.at('Documents/report.txt'), 'utf8')).toBe('the server version\n');
  }, 120_000);

  // A file made on this device keeps its local key after its upload (one key per item), and the
  // drive rebuilt from the server keys it by its server id: the key log beside the database pairs
  // the two, so its cache file is known to hold what the server has, not an unsent file.
  it('not readable at all: a file made here that reached the server does not come back as a copy', async () => {
    h = await MountHarness.start({ seed: async (admin) => void (await admin.remote({ op: 'mkdir', path: 'Documents' })), engineArgs: ['--write-back', '200'] });
    const harness = h;
    await writeFile(harness.at('Documents/sent.txt'), 'made here, uploaded\n');
    await eventually('on the server', async () => ((await harness.serverText('Documents/sent.txt')) === 'made here, uploaded\n' ? true : undefined), 30_000);
    await harness.stopEngine();
    const fh = await open(harness.storeFile, 'r+');
    await fh.write(Buffer.alloc(4096, 0x5a), 0, 4096, 0);
    await fh.close();
    await harness.startEngine();
    expect(await readFile(harness.at('Documents/sent.txt'), 'utf8')).toBe('made here, uploaded\n');
    expect((await harness.status()).recovery ?? { restored: 0, recovered: 0, folder: null }).toEqual({ restored: 0, recovered: 0, folder: null });
  }, 120_000);

  // Its later edit, not sent, is kept however its cache file looks: lengthened by truncate, it has
  // a hole (as a partial download would), and holes must not make it count as the server's bytes.
  it('not readable at all: an unsent edit of a file made here that reached the server comes back, holes and all', async () => {
    h = await MountHarness.start({ seed: async (admin) => void (await admin.remote({ op: 'mkdir', path: 'Documents' })), engineArgs: ['--write-back', '200'] });
    const harness = h;
    await writeFile(harness.at('Documents/sent.txt'), 'made here, uploaded\n');
    await eventually('on the server', async () => ((await harness.serverText('Documents/sent.txt')) === 'made here, uploaded\n' ? true : undefined), 30_000);
    expect((await harness.onemount(['pause', '--account', ACCOUNT])).code).toBe(0);
    await truncate(harness.at('Documents/sent.txt'), 256 * 1024);
    await harness.stopEngine();
    const fh = await open(harness.storeFile, 'r+');
    await fh.write(Buffer.alloc(4096, 0x5a), 0, 4096, 0);
    await fh.close();
    await harness.startEngine();
    const s = await harness.status();
    expect(s.recovery?.recovered).toBe(1);
    const folder = s.recovery!.folder!.slice(1);
    const [name] = await readdir(harness.at(folder));
    const kept = await readFile(harness.at(folder, name!));
    expect(kept.length).toBe(256 * 1024);
    expect(kept.subarray(0, 20).toString()).toBe('made here, uploaded\n');
    expect(kept.subarray(20).every((b) => b === 0)).toBe(true);
    // The server's version stays at its place.
    expect(await readFile(harness.at('Documents/sent.txt'), 'utf8')).toBe('made here, uploaded\n');
  }, 120_000);
});

/**
 * A conflict is one record, whoever notices it first (delta seeing the remote change, or the
 * upload finding it), and each of "keep mine", "keep theirs" and "keep both" ends in the state it
 * names — read back on the mount and on the server — whether the upload had already kept both
 * versions or the local edit was still waiting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { EngineStatus } from '../src-shared/ipc/contract.ts';
import type { Conflict, ConflictChoice } from '../src-shared/ipc/desktop-calls.ts';
import { SocketClient } from '../src-main/ipc/socket-client.ts';
import { ACCOUNT, eventually, MountHarness } from './harness.ts';


async function quiet(client: SocketClient): Promise<void> {
  await eventually(
    'nothing left to upload',
    async () => {
      const status = (await client.call('status', {})) as EngineStatus;
      return status.transfers.length === 0 ? true : undefined;
    },
    30_000,
  );
}

/** My edit while paused, theirs on the server meanwhile, then syncing again. */
async function collide(h: MountHarness, client: SocketClient, file: string): Promise<Conflict> {
  await client.call('pause', {});
  await writeFile(h.at(file), 'my edit\n');
  await h.admin.remote({ op: 'write', path: file, content: 'their edit\n' });
  await client.call('resume', {});
  return eventually(
    'the conflict listed',
    async () => {
      const { conflicts } = await client.call('conflicts', {});
      return conflicts.find((c) => c.path === `/${file}`);
    },
    30_000,
  );
}

describe('conflicts while the local edit still waits to upload', () => {
  let h: MountHarness;
  let client: SocketClient;

  beforeAll(async () => {
    h = await MountHarness.start({
      seed: async (admin) => {
        await admin.remote({ op: 'mkdir', path: 'Documents' });
        for (const name of ['mine.txt', 'theirs.txt', 'both.txt']) await admin.remote({ op: 'write', path: `Documents/${name}`, content: 'the original\n' });
      },
      // The upload waits long after the close: delta sees the remote change first.
      engineArgs: ['--write-back', '20000', '--poll-interval', '1'],
    });
    client = await SocketClient.connect(path.join(h.env.XDG_RUNTIME_DIR!, 'onemount', `${ACCOUNT}.sock`));
  }, 120_000);

  afterAll(async () => {
    client?.close();
    await h?.close();
  }, 60_000);

  async function resolve(file: string, choice: ConflictChoice): Promise<string | undefined> {
    const conflict = await collide(h, client, file);
    expect(conflict.localCopyName).toBeNull();
    const { conflicts } = await client.call('conflicts', {});
    expect(conflicts.filter((c) => c.path === `/${file}`)).toHaveLength(1);
    const answer = await client.call('resolveConflict', { id: conflict.id, choice });
    expect((await client.call('conflicts', {})).conflicts.filter((c) => c.path === `/${file}`)).toEqual([]);
    return answer.message;
  }

  it('keep mine: my version replaces theirs on the mount and on the server', async () => {
    const message = await resolve('Documents/mine.txt', 'keep-mine');
    expect(message).toMatch(/your version/i);
    await eventually('mine on the server', async () => ((await h.serverText('Documents/mine.txt')) === 'my edit\n' ? true : undefined), 40_000);
    expect(await readFile(h.at('Documents/mine.txt'), 'utf8')).toBe('my edit\n');
    await quiet(client);
    expect((await client.call('conflicts', {})).conflicts).toEqual([]);
  }, 90_000);

  it('keep theirs: their version stays, mine is discarded, nothing uploads', async () => {
    const message = await resolve('Documents/theirs.txt', 'keep-theirs');
    expect(message).toMatch(/other version/i);
    expect(await readFile(h.at('Documents/theirs.txt'), 'utf8')).toBe('their edit\n');
    await quiet(client);
    expect(await h.serverText('Documents/theirs.txt')).toBe('their edit\n');
    expect((await client.call('conflicts', {})).conflicts).toEqual([]);
  }, 90_000);

  it('keep both: theirs at the name, mine next to it, on the mount and on the server', async () => {
    const message = await resolve('Documents/both.txt', 'keep-both');
    const copy = /and (both \(conflict [^)]*\)\.txt)/.exec(message ?? '')?.[1];
    expect(copy, message).toBeDefined();
    expect(await readFile(h.at('Documents/both.txt'), 'utf8')).toBe('their edit\n');
    expect(await readFile(h.at(`Documents/${copy!}`), 'utf8')).toBe('my edit\n');
    await eventually('my copy on the server', async () => ((await h.serverText(`Documents/${copy!}`)) === 'my edit\n' ? true : undefined), 40_000);
    expect(await h.serverText('Documents/both.txt')).toBe('their edit\n');
    expect((await client.call('conflicts', {})).conflicts).toEqual([]);
  }, 90_000);
});

describe('conflicts the upload already kept both versions of', () => {
  let h: MountHarness;
  let client: SocketClient;

  beforeAll(async () => {
    h = await MountHarness.start({
      seed: async (admin) => {
        await admin.remote({ op: 'write', path: 'Shopping list.txt', content: 'the original\n' });
      },
      engineArgs: ['--write-back', '200', '--poll-interval', '1'],
    });
    client = await SocketClient.connect(path.join(h.env.XDG_RUNTIME_DIR!, 'onemount', `${ACCOUNT}.sock`));
  }, 120_000);

  afterAll(async () => {
    client?.close();
    await h?.close();
  }, 60_000);

  it('one edit against one remote change is one conflict row; keep mine puts my version at the name', async () => {
    await collide(h, client, 'Shopping list.txt');
    const conflict = await eventually(
      'my copy kept',
      async () => (await client.call('conflicts', {})).conflicts.find((c) => c.localCopyName),
      30_000,
    );
    await quiet(client);
    // Delta and the upload both saw it: still one row.
    expect((await client.call('conflicts', {})).conflicts).toHaveLength(1);
    const copy = conflict.localCopyName!;
    expect(await h.serverText(copy)).toBe('my edit\n');
    const { message } = await client.call('resolveConflict', { id: conflict.id, choice: 'keep-mine' });
    expect(message).toMatch(/your version/i);
    await eventually('mine at the name on the server', async () => ((await h.serverText('Shopping list.txt')) === 'my edit\n' ? true : undefined), 30_000);
    await eventually('the copy gone from the server', async () => ((await h.serverText(copy)) === undefined ? true : undefined), 30_000);
    expect(await readFile(h.at('Shopping list.txt'), 'utf8')).toBe('my edit\n');
    expect(await readdir(h.mountpoint)).not.toContain(copy);
    expect((await client.call('conflicts', {})).conflicts).toEqual([]);
  }, 90_000);
});

/**
 * The engine's outside face over its socket, end to end: pause/resume (timed and until resumed)
 * with the mount still readable and writable, conflicts listed and resolved by the user's choice,
 * and `onemount status --watch`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SocketClient } from '../src-main/ipc/socket-client.ts';
import { ACCOUNT, eventually, MountHarness } from './harness.ts';

let h: MountHarness;

async function engine(): Promise<SocketClient> {
  return SocketClient.connect(path.join(h.env.XDG_RUNTIME_DIR!, 'onemount', `${ACCOUNT}.sock`));
}

interface Status {
  pause: { paused: boolean; until?: number };
  transfers: Array<{ path: string; state: string }>;
}

/**
 * The engine's status once the upload of `file` is 'paused': its write-back delay is over, so it
 * would be running now but for the pause. (During the delay it is 'queued'.)
 */
async function heldByPause(file: string): Promise<Status> {
  const client = await engine();
  try {
    return await eventually(`${file} due and held by the pause`, async () => {
      const status = (await client.call('status', {})) as Status;
      return status.transfers.some((t) => t.path === file && t.state === 'paused') ? status : undefined;
    }, 20_000, 50);
  } finally {
    client.close();
  }
}


describe('controlling a running engine', () => {
  beforeAll(async () => {
    h = await MountHarness.start({
      seed: async (admin) => {
        await admin.remote({ op: 'write', path: 'shared.txt', content: 'from the server\n' });
      },
      engineArgs: ['--write-back', '200'],
    });
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  }, 60_000);

  it('pause stops uploads (the mount keeps working) and resume sends them', async () => {
    expect((await h.onemount(['pause', '--account', ACCOUNT])).code).toBe(0);
    await writeFile(h.at('while-paused.txt'), 'written while paused\n');
    expect((await readFile(h.at('shared.txt'))).toString()).toBe('from the server\n');
    // 'paused' once its write-back delay is over: the upload is due and the pause holds it.
    const status = await heldByPause('/while-paused.txt');
    expect(status.pause).toEqual({ paused: true });
    expect(await h.serverText('while-paused.txt')).toBeUndefined();
    expect((await h.onemount(['resume', '--account', ACCOUNT])).code).toBe(0);
    await eventually('the upload after resume', async () => ((await h.serverText('while-paused.txt')) === 'written while paused\n' ? true : undefined));
  });

  it('"sync now" while paused says why it does not run; once resumed it runs', async () => {
    const client = await engine();
    try {
      await client.call('pause', {});
      expect(await client.call('syncNow', {})).toEqual({ started: false, message: expect.stringMatching(/paused/) });
      await client.call('resume', {});
      expect(await client.call('syncNow', {})).toEqual({ started: true });
    } finally {
      client.close();
    }
  });

  it('a timed pause resumes by itself', async () => {
    // Long enough past the 200 ms write-back delay for the test to see the upload held.
    const out = await h.onemount(['pause', '--for', '4s', '--account', ACCOUNT]);
    expect(out.stdout).toMatch(/paused until/);
    await writeFile(h.at('timed.txt'), 'after a timed pause\n');
    await heldByPause('/timed.txt');
    expect(await h.serverText('timed.txt')).toBeUndefined();
    await eventually('the upload after the timed pause', async () => ((await h.serverText('timed.txt')) ? true : undefined), 20_000);
    const status = JSON.parse((await h.onemount(['status', '--json', '--account', ACCOUNT])).stdout);
    expect(status.pause).toEqual({ paused: false });
  });

  it('a conflict is listed and "keep theirs" removes my copy', async () => {
    const client = await engine();
    try {
      // My edit waits while paused; their edit lands meanwhile: a real conflict at upload time.
      await client.call('pause', {});
      await writeFile(h.at('shared.txt'), 'my edit\n');
      await h.admin.remote({ op: 'write', path: 'shared.txt', content: 'their edit\n' });
      await client.call('resume', {});
      const conflict = await eventually('the conflict listed', async () => {
        const { conflicts } = await client.call('conflicts', {});
        return conflicts.find((c) => c.localCopyName);
      }, 30_000);
      expect(conflict.path).toBe('/shared.txt');
      const copy = conflict.localCopyName!;
      await eventually('my copy on the server', async () => ((await h.serverText(copy)) === 'my edit\n' ? true : undefined));
      expect(await h.serverText('shared.txt')).toBe('their edit\n');
      await client.call('resolveConflict', { id: conflict.id, choice: 'keep-theirs' });
      await eventually('my copy removed', async () => ((await h.serverText(copy)) === undefined ? true : undefined));
      expect(await readdir(h.mountpoint)).not.toContain(copy);
      const { conflicts } = await client.call('conflicts', {});
      expect(conflicts.find((c) => c.id === conflict.id)).toBeUndefined();
      await expect(client.call('resolveConflict', { id: conflict.id, choice: 'keep-both' })).rejects.toThrow(/no open conflict/);
    } finally {
      client.close();
    }
  });

  it('settings changed over the socket apply at once and are used again after a restart', async () => {
    let client = await engine();
    try {
      const updated = await client.call('updateSettings', { uploadConcurrency: 3, cacheLimitBytes: 64 * 1024 * 1024, logLevel: 'debug' });
      expect(updated).toMatchObject({ mountpoint: h.mountpoint, uploadConcurrency: 3, cacheLimitBytes: 64 * 1024 * 1024, logLevel: 'debug' });
      await expect(client.call('updateSettings', { uploadConcurrency: 0 } as never)).rejects.toThrow();
    } finally {
      client.close();
    }
    await h.stopEngine();
    await h.startEngine();
    client = await engine();
    try {
      expect(await client.call('settings', {})).toMatchObject({ uploadConcurrency: 3, cacheLimitBytes: 64 * 1024 * 1024, logLevel: 'debug' });
    } finally {
      client.close();
    }
  });

  it('`onemount status --watch` keeps printing live status until interrupted', async () => {
    const child = spawn(process.execPath, [path.resolve('src-main/app/cli/onemount.js'), 'status', '--watch', '--json', '--account', ACCOUNT], { env: h.env });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await eventually('two status lines', async () => (out.split('\n').filter((l) => l.startsWith('{')).length >= 2 ? true : undefined), 15_000);
    child.kill('SIGINT');
    await new Promise((r) => child.once('exit', r));
    const first = JSON.parse(out.split('\n').find((l) => l.startsWith('{'))!);
    expect(first.mountpoint).toBe(h.mountpoint);
  });
});

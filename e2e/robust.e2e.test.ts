/**
 * The engine never dies of a client, never runs twice for one account, and stops cleanly however
 * its mount goes away, on a real mount:
 *  - a storm of bad clients at the control socket and at the panel's WebSocket (random bytes, huge
 *    and half lines, hang-ups mid-request and mid-answer, floods of connections), after which the
 *    mount still answers and a file written before is still there and uploaded;
 *  - a second `onemount mount` for the same account refuses to start, names the first and leaves its
 *    socket and mount alone; a kill -9 frees the account;
 *  - `onemount unmount` and an unmount from outside (`fusermount -u`) both end the engine through
 *    its normal shutdown, and what was written is on the server.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import WebSocket from 'ws';
import { createMemoryLogger } from '../src-main/base/logger.ts';
import { SocketClient } from '../src-main/ipc/socket-client.ts';
import { UiServer } from '../src-main/app/ui/ui-server.ts';
import { EXIT_ALREADY_RUNNING } from '../src-main/app/cli/instance-lock.ts';
import { prng } from './fs-ops.ts';
import { ACCOUNT, eventually, isMounted, MountHarness, run } from './harness.ts';

let h: MountHarness;

const socketPath = () => path.join(h.env.XDG_RUNTIME_DIR!, 'onemount', `${ACCOUNT}.sock`);


const uploaded = (p: string, content: string) =>
  eventually(`${p} on the server`, async () => ((await h.serverText(p)) === content ? true : undefined), 30_000);

async function status(): Promise<{ pid: number; mountpoint: string }> {
  const client = await SocketClient.connect(socketPath());
  try {
    return await client.call('status', {}, 10_000);
  } finally {
    client.close();
  }
}


function rawConnection(): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const s = connect(socketPath());
    s.on('error', () => resolve(undefined));
    s.once('connect', () => resolve(s));
  });
}

const tick = () => new Promise((r) => setImmediate(r));

/** One bad client at the control socket. */
async function abuseSocket(random: () => number): Promise<void> {
  const s = await rawConnection();
  if (!s) return;
  s.on('error', () => undefined);
  const kind = Math.floor(random() * 7);
  const bytes = Buffer.alloc(1 + Math.floor(random() * 4096));
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
  switch (kind) {
    case 0: // random bytes, then gone
      s.write(bytes);
      break;
    case 1: // a request, gone before its answer
      s.write('{"id":1,"method":"status","params":{}}\n');
      break;
    case 2: // half a line
      s.write('{"id":2,"method":"sta');
      break;
    case 3: // a line far over the cap
      s.write(Buffer.alloc(300 * 1024, 'z'));
      break;
    case 4: // subscribe, stop reading while events pile up, vanish
      s.write('{"id":3,"method":"subscribe","params":{}}\n' + '{"id":4,"method":"status","params":{}}\n'.repeat(50));
      s.pause();
      break;
    case 5: // names of Object.prototype, valid JSON of the wrong shape
      s.write('{"id":5,"method":"constructor"}\n{"id":6,"method":"__proto__","params":null}\n[1,2]\n"x"\n');
      break;
    default: // many requests at once
      s.write('{"id":7,"method":"status","params":{}}\n'.repeat(200));
  }
  await new Promise((r) => setTimeout(r, random() * 30));
  s.destroy();
}

/** One bad page at the WebSocket. */
async function abusePage(url: string, origin: string, random: () => number): Promise<void> {
  const ws = new WebSocket(url, { origin });
  ws.on('error', () => undefined);
  const opened = await new Promise<boolean>((resolve) => {
    ws.once('open', () => resolve(true));
    ws.once('error', () => resolve(false));
    ws.once('unexpected-response', () => resolve(false));
  });
  if (!opened) return;
  const kind = Math.floor(random() * 5);
  if (kind === 0) ws.send(Buffer.from([0xff, 0, 1, 2]), { binary: true });
  else if (kind === 1) ws.send('{"id":1,"method":"status","params":{}}');
  else if (kind === 2) ws.send('x'.repeat(200 * 1024));
  else if (kind === 3) for (let i = 0; i < 100; i++) ws.send(JSON.stringify({ id: i, method: 'status', params: {} }));
  else ws.send('{"id":2,"method":"subscribe","params":{}}');
  await new Promise((r) => setTimeout(r, random() * 30));
  ws.terminate();
}

describe('the engine survives its clients, runs once per account and stops however its mount goes', () => {
  beforeAll(async () => {
    h = await MountHarness.start({ engineArgs: ['--write-back', '200'] });
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  }, 60_000);

  afterEach(async () => {
    // Every test leaves a running engine for the next.
    if (!h.engine || h.engine.exitStatus) {
      await h.engine?.stop();
      await h.startEngine();
    }
  }, 120_000);

  it('a storm of bad clients at the control socket and the WebSocket leaves the mount serving and loses nothing', { timeout: 180_000 }, async () => {
    await writeFile(h.at('before-storm.txt'), 'written before the storm\n');
    await uploaded('before-storm.txt', 'written before the storm\n');
    const site = path.join(h.root, 'site');
    await mkdir(site, { recursive: true });
    await writeFile(path.join(site, 'index.html'), '<!doctype html><title>panel</title>');
    const ui = await UiServer.start({ staticDir: site, socketPath: socketPath(), logger: createMemoryLogger().logger });
    const origin = `http://127.0.0.1:${ui.port}`;
    const wsUrl = `${ui.url.replace('http', 'ws')}ipc`;
    try {
      const random = prng(11);
      const until = Date.now() + 8000;
      let round = 0;
      while (Date.now() < until) {
        round++;
        // Writes during the storm make the engine send events to whoever subscribed.
        if (round % 5 === 0) await writeFile(h.at(`during-${round}.txt`), `round ${round}\n`);
        await Promise.all([
          ...Array.from({ length: 40 }, () => abuseSocket(random)),
          ...Array.from({ length: 10 }, () => abusePage(wsUrl, origin, random)),
        ]);
        if (round % 10 === 0) {
          // A flood: many connections at once, all dropped together.
          const flood = await Promise.all(Array.from({ length: 1500 }, () => rawConnection()));
          for (const s of flood) s?.destroy();
        }
        await tick();
      }
      expect(round).toBeGreaterThan(3);
    } finally {
      await ui.close();
    }
    expect(h.engine!.exitStatus).toBeUndefined();
    const r = await h.onemount(['status', '--json', '--account', ACCOUNT]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ pid: h.engine!.pid, mountpoint: h.mountpoint });
    expect(await readFile(h.at('before-storm.txt'), 'utf8')).toBe('written before the storm\n');
    expect(await h.serverText('before-storm.txt')).toBe('written before the storm\n');
    await writeFile(h.at('after-storm.txt'), 'after\n');
    await uploaded('after-storm.txt', 'after\n');
    await uploaded('during-5.txt', 'round 5\n');
    expect(h.engine!.stderr).not.toMatch(/Error|MaxListenersExceededWarning/);
  });

  it('many reads and downloads at once add no MaxListenersExceededWarning (waiters share one abort listener)', { timeout: 120_000 }, async () => {
    for (let i = 0; i < 40; i++) await h.admin.remote({ op: 'write', path: `remote-${i}.bin`, size: 3 << 20 });
    await eventually('the remote files on the mount', async () => ((await readdir(h.mountpoint)).filter((n) => n.startsWith('remote-')).length === 40 ? true : undefined), 30_000);
    const sizes = await Promise.all(Array.from({ length: 40 }, async (_, i) => (await readFile(h.at(`remote-${i}.bin`))).length));
    expect(sizes).toEqual(sizes.map(() => 3 << 20));
    expect(h.engine!.stderr).not.toContain('MaxListenersExceededWarning');
  });

  it('a second engine for the same account refuses to start, names the first, and leaves its socket and mount alone', { timeout: 120_000 }, async () => {
    const first = h.engine!;
    const other = path.join(h.root, 'second-mnt');
    const r = await h.onemount(['mount', other, '--emulator-url', h.emulator.info.apiUrl, '--account', ACCOUNT]);
    expect(r.code).toBe(EXIT_ALREADY_RUNNING);
    expect(r.stderr).toContain(`already served by process ${first.pid} (mounted at ${h.mountpoint})`);
    expect(await isMounted(other)).toBe(false);
    expect(first.exitStatus).toBeUndefined();
    expect(await status()).toMatchObject({ pid: first.pid, mountpoint: h.mountpoint });

    // kill -9 frees the account: the next start takes it.
    await first.kill();
    await h.startEngine();
    expect((await status()).pid).toBe(h.engine!.pid);
  });

  it('`onemount unmount` ends the engine through its shutdown, and what was written is on the server', { timeout: 120_000 }, async () => {
    await writeFile(h.at('before-unmount.txt'), 'written just before unmount\n');
    // Named through a symlink to the run folder, as a user's shortcut would.
    const alias = path.join(h.root, 'alias');
    await symlink(h.root, alias);
    const r = await h.onemount(['unmount', path.join(alias, path.basename(h.mountpoint))]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Unmounted ${h.mountpoint}.`);
    const exit = await eventually('the engine to exit', async () => h.engine!.exitStatus, 30_000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(await isMounted(h.mountpoint)).toBe(false);
    expect(h.engine!.stdout).toContain(`Unmounted ${h.mountpoint}`);
    expect(await h.serverText('before-unmount.txt')).toBe('written just before unmount\n');
  });

  it('an unmount from outside (fusermount -u) ends the engine through its normal shutdown', { timeout: 120_000 }, async () => {
    await writeFile(h.at('before-eject.txt'), 'written just before the eject\n');
    await uploaded('before-eject.txt', 'written just before the eject\n');
    await writeFile(h.at('pending-at-eject.txt'), 'still to upload at the eject\n');
    const r = await run('fusermount', ['-u', h.mountpoint], { timeoutMs: 15_000 });
    expect(r.code, r.stderr).toBe(0);
    const exit = await eventually('the engine to exit', async () => h.engine!.exitStatus, 30_000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(h.engine!.stdout).toContain('was unmounted from outside; shutting down.');
    expect(await h.serverText('pending-at-eject.txt')).toBe('still to upload at the eject\n');
    expect(await h.engineLog()).not.toMatch(/"level":50.*unmount/);
  });

  it('`onemount unmount` of a mount left by a killed engine unmounts it directly', { timeout: 60_000 }, async () => {
    await h.engine!.kill();
    expect(await isMounted(h.mountpoint)).toBe(true);
    const r = await h.onemount(['unmount', h.mountpoint]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`No running engine served ${h.mountpoint}; unmounted it.`);
    expect(await isMounted(h.mountpoint)).toBe(false);
  });

  it('`onemount unmount` of a folder no engine serves says it is not mounted', { timeout: 60_000 }, async () => {
    const r = await h.onemount(['unmount', path.join(h.root, 'never-mounted')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('is not mounted');
    expect(h.engine!.exitStatus).toBeUndefined();
  });
});

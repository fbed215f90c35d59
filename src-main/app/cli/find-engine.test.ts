import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectEngine, runningAccount } from './find-engine.ts';

describe('which running engine a command talks to', () => {
  let root: string;
  let env: NodeJS.ProcessEnv;
  const servers: Server[] = [];

  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'find-engine-'));
    env = { HOME: root, XDG_RUNTIME_DIR: root };
    await mkdir(path.join(root, 'onemount'));
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
    await rm(root, { recursive: true, force: true });
  });

  /** An engine's control socket that accepts connections (the calls themselves are not needed). */
  async function listen(account: string): Promise<void> {
    const server = createServer((socket) => socket.on('error', () => socket.destroy()));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(path.join(root, 'onemount', `${account}.sock`), resolve));
  }

  it('finds the one running engine whatever its account is called', { timeout: 10_000 }, async () => {
    await listen('demo');
    // A socket file left by a killed engine answers nothing: not a running engine.
    await writeFile(path.join(root, 'onemount', 'default.sock'), '');
    const client = await connectEngine(undefined, env);
    client.close();
    expect(await runningAccount(env)).toBe('demo');
  });

  it('with several, names them and says how to pick one', { timeout: 10_000 }, async () => {
    await listen('work');
    await listen('demo');
    await expect(connectEngine(undefined, env)).rejects.toThrow('engines are running for the accounts demo, work; pick one with --account <name>');
    await expect(runningAccount(env)).rejects.toThrow('engines are running for the accounts demo, work');
    const picked = await connectEngine('work', env);
    picked.close();
  });

  it('with none, says so instead of naming a socket of an account that never ran', { timeout: 10_000 }, async () => {
    await expect(connectEngine(undefined, env)).rejects.toThrow(/^no engine is running .*start one with `onemount mount` or `npm run demo`$/);
    expect(await runningAccount(env)).toBeUndefined();
    await rm(path.join(root, 'onemount'), { recursive: true });
    await expect(connectEngine(undefined, env)).rejects.toThrow(/^no engine is running/);
  });
});

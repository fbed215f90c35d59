/**
 * `onemount unmount <dir>`: asks the engine serving <dir> to quit, so the unmount goes through its
 * ordered, lossless shutdown (uploads finished or saved for next time, store closed) and the engine
 * process ends. Only a mount no engine serves (one left by a killed engine) is unmounted directly.
 */
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { OneMountError } from '../../base/errors.ts';
import { canonicalMountPoint, isMountPoint } from '../../fuse/mount-watch.ts';
import { SocketClient } from '../../ipc/socket-client.ts';
import { DEFAULT_TIMEOUTS } from '../../lifecycle/timeout-policy.ts';

/** How long one engine has to say which mount it serves. */
const STATUS_TIMEOUT_MS = DEFAULT_TIMEOUTS.localCallTimeoutMs;

/**
 * The engine whose status names `mountpoint`, with an open connection to it and the mount point as
 * it names it; the other connections are closed.
 */
export async function findEngineServing(mountpoint: string, runtimeDir: string): Promise<{ client: SocketClient; mountpoint: string } | undefined> {
  let names: string[];
  try {
    names = (await readdir(runtimeDir)).filter((n) => n.endsWith('.sock'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const wanted = await canonicalMountPoint(mountpoint);
  const answers = await Promise.all(
    names.map(async (name) => {
      let client: SocketClient | undefined;
      try {
        client = await SocketClient.connect(path.join(runtimeDir, name));
        const status = await client.call('status', {}, STATUS_TIMEOUT_MS);
        return { client, served: status.mountpoint, serves: status.mountpoint === mountpoint || (await canonicalMountPoint(status.mountpoint)) === wanted };
      } catch {
        // A socket left by a killed engine, or an engine too busy to answer: not the one we look for.
        client?.close();
        return undefined;
      }
    }),
  );
  let found: { client: SocketClient; mountpoint: string } | undefined;
  for (const a of answers) {
    if (a?.serves && !found) found = { client: a.client, mountpoint: a.served };
    else a?.client.close();
  }
  return found;
}

export async function unmount(dir: string, runtimeDir: string, print: (line: string) => void): Promise<void> {
  const given = path.resolve(dir);
  const found = await findEngineServing(given, runtimeDir);
  if (!found) {
    const mountpoint = await canonicalMountPoint(given);
    if (!(await isMountPoint(mountpoint))) throw new OneMountError('NOT_MOUNTED', `${given} is not mounted`);
    await promisify(execFile)('fusermount', ['-u', mountpoint]);
    print(`No running engine served ${mountpoint}; unmounted it.`);
    return;
  }
  const { client: engine, mountpoint } = found;
  // The engine closes its socket last, once the shutdown is over.
  const closed = new Promise<void>((resolve) => engine.onClose(resolve));
  engine.on('shutdown', (p) => {
    if (!p.done) print(`  shutting down: ${p.phase} (${p.phaseIndex + 1}/${p.phases.length})${p.itemsLeft ? `, ${p.itemsLeft} left` : ''}`);
  });
  try {
    await engine.call('subscribe', { events: ['shutdown'] });
    await engine.call('quit', {});
  } catch (e) {
    // An engine already on its way out may close the connection before it answers.
    if ((e as { code?: unknown }).code !== 'IPC_CLOSED') throw e;
  }
  await closed;
  if (await isMountPoint(mountpoint)) throw new OneMountError('UNMOUNT_FAILED', `the engine stopped but ${mountpoint} is still mounted; see its log`);
  print(`Unmounted ${mountpoint}.`);
}

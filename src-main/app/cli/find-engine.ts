/**
 * Which running engine a command talks to. `--account` names it; without it the command looks at
 * every account's control socket: one engine answering is the one meant (the demo runs as `demo`,
 * a first mount as `default`), several need `--account`, none is said plainly.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { OneMountError } from '../../base/errors.ts';
import { SocketClient } from '../../ipc/socket-client.ts';
import { accountPaths } from '../paths.ts';

/** Accounts whose engine answers on its socket, each with its open connection. */
async function runningEngines(env: NodeJS.ProcessEnv): Promise<{ dir: string; found: Map<string, SocketClient> }> {
  const dir = path.dirname(accountPaths('default', env).socketPath);
  const names = await readdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return [] as string[];
    throw e;
  });
  const accounts = names.filter((n) => n.endsWith('.sock')).map((n) => n.slice(0, -'.sock'.length));
  const found = new Map<string, SocketClient>();
  // A socket file left by a killed engine refuses the connection: that account is not running.
  await Promise.all(
    accounts.map(async (account) => {
      const client = await SocketClient.connect(path.join(dir, `${account}.sock`)).catch(() => undefined);
      if (client) found.set(account, client);
    }),
  );
  return { dir, found };
}

/**
 * The account of the one running engine, undefined when none runs; several is an error naming them.
 * For commands that follow an engine that may start later (`onemount ui`).
 */
export async function runningAccount(env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const { found } = await runningEngines(env);
  for (const client of found.values()) client.close();
  if (found.size > 1) throw ambiguous([...found.keys()]);
  return [...found.keys()][0];
}

function ambiguous(accounts: string[]): OneMountError {
  const sorted = [...accounts].sort();
  return new OneMountError('ENGINE_AMBIGUOUS', `engines are running for the accounts ${sorted.join(', ')}; pick one with --account <name>, e.g. --account ${sorted[0]}`);
}

export async function connectEngine(account: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<SocketClient> {
  if (account !== undefined) return SocketClient.connect(accountPaths(account, env).socketPath);
  const { dir, found } = await runningEngines(env);
  if (found.size === 1) return [...found.values()][0]!;
  for (const client of found.values()) client.close();
  if (found.size === 0) {
    throw new OneMountError('ENGINE_NOT_RUNNING', `no engine is running (no account's socket answers in ${dir}); start one with \`onemount mount\` or \`npm run demo\``);
  }
  throw ambiguous([...found.keys()]);
}

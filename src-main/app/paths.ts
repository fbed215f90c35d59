/**
 * Where an account's files live (XDG base directories, one folder per account):
 *   config  $XDG_CONFIG_HOME/onemount/<account>/
 *   state   $XDG_STATE_HOME/onemount/<account>/      the store (SQLite) and logs
 *   cache   $XDG_CACHE_HOME/onemount/<account>/      file content
 *   socket  $XDG_RUNTIME_DIR/onemount/<account>.sock (or /tmp/onemount-<uid>/)
 * Directories are 0700 and files 0600 (ensurePrivateDir / the store / the cache).
 */
import os from 'node:os';
import path from 'node:path';

export interface AccountPaths {
  account: string;
  configDir: string;
  stateDir: string;
  cacheDir: string;
  storeFile: string;
  logFile: string;
  socketPath: string;
}

const ACCOUNT_NAME = /^[A-Za-z0-9._@-]{1,64}$/;

export function accountPaths(account: string, env: NodeJS.ProcessEnv = process.env): AccountPaths {
  if (!ACCOUNT_NAME.test(account) || account.startsWith('.')) {
    throw new Error(`invalid account name '${account}': use letters, digits, '.', '_', '@' or '-' (at most 64)`);
  }
  const home = env.HOME ?? os.homedir();
  const config = env.XDG_CONFIG_HOME || path.join(home, '.config');
  const state = env.XDG_STATE_HOME || path.join(home, '.local', 'state');
  const cache = env.XDG_CACHE_HOME || path.join(home, '.cache');
  const runtime = env.XDG_RUNTIME_DIR ? path.join(env.XDG_RUNTIME_DIR, 'onemount') : path.join(os.tmpdir(), `onemount-${process.getuid?.() ?? 'user'}`);
  const stateDir = path.join(state, 'onemount', account);
  return {
    account,
    configDir: path.join(config, 'onemount', account),
    stateDir,
    cacheDir: path.join(cache, 'onemount', account),
    storeFile: path.join(stateDir, 'onemount.sqlite'),
    logFile: path.join(stateDir, 'engine.log'),
    socketPath: path.join(runtime, `${account}.sock`),
  };
}

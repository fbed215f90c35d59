import path from 'node:path';
import type { Logger } from '../../base/logger.ts';
import { StaticTokenProvider } from '../../graph/index.ts';
import type { EngineConfig } from '../engine.ts';
import { accountPaths } from '../paths.ts';

const TOKEN = 'emulator-token-not-a-secret-1234567890';

/** An engine against the emulator at `apiUrl`, its XDG folders and mount point under `root`; tests only. */
export function emulatorEngineConfig(o: { apiUrl: string; root: string; account: string; logger: Logger }, overrides: Partial<EngineConfig> = {}): EngineConfig {
  const env = { XDG_CONFIG_HOME: path.join(o.root, 'config'), XDG_STATE_HOME: path.join(o.root, 'state'), XDG_CACHE_HOME: path.join(o.root, 'cache'), XDG_RUNTIME_DIR: path.join(o.root, 'run') };
  return {
    paths: accountPaths(o.account, env),
    mountpoint: path.join(o.root, 'mnt'),
    graphUrl: o.apiUrl,
    tokenProvider: new StaticTokenProvider(TOKEN),
    logger: o.logger,
    pollIntervalMs: 200,
    downloadConcurrency: 2,
    uploadConcurrency: 2,
    writeBackDelayMs: 20,
    kernelCacheSec: 1,
    ...overrides,
  };
}

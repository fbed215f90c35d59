import type { ICachePlugin, TokenCacheContext } from '@azure/msal-node';
import type { SecretStore } from './secret-store.ts';

/**
 * MSAL's cache persistence over a SecretStore: the cache is read before every access (so a sign-in
 * made by another process, e.g. `onemount sign-in` while the engine runs, is seen) and written
 * back only when MSAL changed it.
 */
export class SecretStoreCachePlugin implements ICachePlugin {
  constructor(readonly store: SecretStore) {}

  async beforeCacheAccess(context: TokenCacheContext): Promise<void> {
    const text = await this.store.read();
    context.tokenCache.deserialize(text ?? '{}');
  }

  async afterCacheAccess(context: TokenCacheContext): Promise<void> {
    if (!context.cacheHasChanged) return;
    await this.store.write(context.tokenCache.serialize());
  }
}

import { GraphClient } from '../client.ts';
import { StaticTokenProvider } from '../token-provider.ts';

/** A Graph client for tests against the emulator: any bearer token, short retries. */
export function emulatorGraphClient(baseUrl: string): GraphClient {
  return new GraphClient({
    baseUrl,
    tokenProvider: new StaticTokenProvider('emulator-token-not-a-secret-1234567890'),
    requestTimeoutMs: 10_000,
    maxRetries: 2,
    retryBaseMs: 5,
    retryMaxMs: 20,
  });
}

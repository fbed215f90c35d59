import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';
import { OneMountError } from '../base/errors.ts';
import { DEFAULT_TIMEOUTS } from '../lifecycle/timeout-policy.ts';


/**
 * MSAL's HTTP for an authority that lives somewhere other than its published origin (the
 * emulator's https://login.test on a loopback port): every request is sent to `map(url)`.
 * Errors name the method and the path only: a URL's query may carry a code.
 */
export class MappedNetworkClient implements INetworkModule {
  constructor(private readonly map: (url: string) => string) {}

  sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions, timeout?: number): Promise<NetworkResponse<T>> {
    return this.#send<T>('GET', url, options, timeout);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.#send<T>('POST', url, options, undefined);
  }

  async #send<T>(method: string, url: string, options: NetworkRequestOptions | undefined, timeout: number | undefined): Promise<NetworkResponse<T>> {
    const target = this.map(url);
    let res: Response;
    try {
      res = await fetch(target, {
        method,
        headers: options?.headers ?? {},
        body: method === 'POST' ? (options?.body ?? '') : undefined,
        signal: AbortSignal.timeout(timeout ?? DEFAULT_TIMEOUTS.tokenRefreshTimeoutMs),
      });
    } catch (e) {
      throw new OneMountError('SIGN_IN_NETWORK', `${method} ${new URL(target).origin}${new URL(target).pathname} failed: ${(e as Error).message}`, { cause: e });
    }
    const text = await res.text();
    const headers: Record<string, string> = {};
    res.headers.forEach((value, key) => (headers[key.toLowerCase()] = value));
    let body: unknown;
    try {
      body = text === '' ? {} : JSON.parse(text);
    } catch {
      body = {};
    }
    return { status: res.status, headers, body: body as T };
  }
}

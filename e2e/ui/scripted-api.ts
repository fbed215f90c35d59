/**
 * A scripted `window.onemount` for renderer-only tests: states the emulator's engine cannot be put in
 * on demand (signed out, throttled, failed for good) and very long lists. Installed before the page's
 * own script runs, in the seat the Electron preload takes, so the page never opens its WebSocket.
 */
import type { Page } from '@playwright/test';

export interface Script {
  /** Answers by method; a method not listed answers NOT_SUPPORTED. */
  answers: Record<string, unknown>;
  /** Events delivered right after the page subscribes. */
  events?: Array<{ event: string; payload: unknown }>;
}

export async function installScriptedApi(page: Page, script: Script): Promise<void> {
  await page.addInitScript((s: Script) => {
    const listeners = new Map<string, Array<(payload: unknown) => void>>();
    (globalThis as unknown as { onemount: unknown }).onemount = {
      call: (method: string) => {
        if (method === 'subscribe') setTimeout(() => (s.events ?? []).forEach((e) => (listeners.get(e.event) ?? []).forEach((l) => l(e.payload))), 0);
        return method in s.answers
          ? Promise.resolve(s.answers[method])
          : Promise.reject(Object.assign(new Error(`${method} is not available in this scripted engine`), { code: 'NOT_SUPPORTED' }));
      },
      on: (event: string, listener: (payload: unknown) => void) => {
        listeners.set(event, [...(listeners.get(event) ?? []), listener]);
        return () => undefined;
      },
      onLink: (listener: (link: unknown) => void) => {
        listener({ state: 'connected' });
        return () => undefined;
      },
    };
  }, script);
}

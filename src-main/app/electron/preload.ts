/**
 * The panel's preload (sandboxed, context-isolated): exposes the contract — and only the contract —
 * as `window.onemount` (OneMountApi). It speaks the engine's wire form to the main process, which
 * validates every message and its sender (ipc-validation.ts) before relaying it.
 *
 * contextBridge copies errors without their own properties, so a failed call crosses as a plain
 * outcome object and becomes an Error with `code` (name 'CallError') in the page's own world.
 * Bundled into one CommonJS file (build.ts): a sandboxed preload can require only 'electron'.
 */
import { contextBridge, ipcRenderer } from 'electron';
import { CallError, type EngineLink } from '../../../src-shared/ipc/api.ts';
import type { CallName, EventName } from '../../../src-shared/ipc/contract.ts';
import { ContractClient } from '../../../src-shared/ipc/contract-client.ts';
import { HELLO_CHANNEL, LINK_CHANNEL, MESSAGE_CHANNEL, REQUEST_CHANNEL } from './ipc-validation.ts';

type Outcome = { ok: true; result: unknown } | { ok: false; code: string; message: string };

interface Bridge {
  call(method: string, params: unknown): Promise<Outcome>;
  on(event: string, listener: (payload: unknown) => void): () => void;
  onLink(listener: (link: EngineLink) => void): () => void;
}

function isEngineLink(v: unknown): v is EngineLink {
  if (typeof v !== 'object' || v === null) return false;
  const s = (v as { state?: unknown }).state;
  if (s === 'connecting' || s === 'connected') return true;
  return s === 'disconnected' && typeof (v as { reason?: unknown }).reason === 'string';
}

const client = new ContractClient({ send: (text) => ipcRenderer.send(REQUEST_CHANNEL, text) });

ipcRenderer.on(MESSAGE_CHANNEL, (_event, text: unknown) => {
  if (typeof text !== 'string') return;
  try {
    client.receive(text);
  } catch (e) {
    console.error('onemount: dropped a message from the engine', e);
  }
});
ipcRenderer.on(LINK_CHANNEL, (_event, link: unknown) => {
  if (isEngineLink(link)) client.setLink(link);
});

const bridge: Bridge = {
  call: (method, params) =>
    client.call(method as CallName, params as never).then(
      (result): Outcome => ({ ok: true, result }),
      (e: unknown): Outcome => ({ ok: false, code: e instanceof CallError ? e.code : 'FAILED', message: e instanceof Error ? e.message : String(e) }),
    ),
  on: (event, listener) => client.on(event as EventName, listener),
  onLink: (listener) => client.onLink(listener),
};

/** Runs in the page's world (serialized: it may use nothing from this file). */
function installApi(b: Bridge): void {
  class CallError extends Error {
    readonly code: string;
    constructor(code: string, message: string) {
      super(message);
      this.name = 'CallError';
      this.code = code;
    }
  }
  const api = Object.freeze({
    call: (method: string, params: unknown) => b.call(method, params).then((r) => (r.ok ? r.result : Promise.reject(new CallError(r.code, r.message)))),
    on: (event: string, listener: (payload: unknown) => void) => b.on(event, listener),
    onLink: (listener: (link: EngineLink) => void) => b.onLink(listener),
  });
  Object.defineProperty(globalThis, 'onemount', { value: api, enumerable: true, configurable: false, writable: false });
}

contextBridge.executeInMainWorld({ func: installApi, args: [bridge] });
ipcRenderer.send(HELLO_CHANNEL);

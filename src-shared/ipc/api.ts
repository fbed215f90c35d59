/**
 * The one object the renderer talks to (`window.onemount`): the contract's calls and events, and
 * whether the engine is reachable. The Electron preload provides it over contextBridge; in a browser
 * a WebSocket client provides it. Same contract, same renderer.
 */
import type { CallName, CallParams, CallResult, EventName, EventPayload } from './contract.ts';

/** The link to the engine as the UI shows it ("Connecting…", "The engine is not running"). */
export type EngineLink =
  | { state: 'connecting' }
  | { state: 'connected' }
  | {
      state: 'disconnected';
      reason: string;
      retryAt?: number;
      /**
       * The page itself is no longer served: its address belonged to an earlier run (each run of
       * `onemount ui` has a new secret address), so reconnecting from it can never work.
       */
      expired?: boolean;
    };

export interface OneMountApi {
  /** Rejects with a CallError (code + message) when the engine answers with an error. */
  call<M extends CallName>(method: M, params: CallParams<M>): Promise<CallResult<M>>;
  /** Returns a function that removes the listener. */
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
  /** Called at once with the current state, then on every change. */
  onLink(listener: (link: EngineLink) => void): () => void;
}

/** An error answer from the engine, or a broken link. */
export class CallError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'CallError';
  }
}

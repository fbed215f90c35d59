/**
 * The whole-client pause for 429/503 Retry-After (graph-api.md §10, §15 #1): throttling is per app
 * and user, not per URL, so once the server names a wait, no request of any kind — Graph, download
 * or upload URL — leaves before it has passed.
 */
import { TypedEmitter } from '../base/typed-emitter.ts';

export interface ThrottleState {
  /** Epoch ms until which requests wait, or undefined when not throttled. */
  throttledUntil: number | undefined;
}

export interface ThrottleEvents {
  /** Fired when a pause starts or is extended, and once more (with `undefined`) when it ends. */
  throttle: ThrottleState;
}

export interface ThrottleGateOptions {
  now: () => number;
  sleep: (ms: number, signal: AbortSignal | undefined) => Promise<void>;
  onListenerError: (error: unknown) => void;
}

export class ThrottleGate {
  readonly events: TypedEmitter<ThrottleEvents>;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal: AbortSignal | undefined) => Promise<void>;
  #until: number | undefined;
  #endTimer: NodeJS.Timeout | undefined;

  constructor(options: ThrottleGateOptions) {
    this.#now = options.now;
    this.#sleep = options.sleep;
    this.events = new TypedEmitter<ThrottleEvents>((error) => options.onListenerError(error));
  }

  /** Epoch ms until which the client is paused, or undefined. */
  get throttledUntil(): number | undefined {
    if (this.#until !== undefined && this.#until <= this.#now()) this.#end();
    return this.#until;
  }

  /** Pauses every request for `ms` from now; a shorter pause never cuts a longer one short. */
  pause(ms: number): void {
    const until = this.#now() + Math.max(0, ms);
    if (this.#until !== undefined && until <= this.#until) return;
    this.#until = until;
    this.#scheduleEnd(ms);
    this.events.emit('throttle', { throttledUntil: until });
  }

  /** Resolves once no pause is in force (re-checking, since a pause may be extended meanwhile). */
  async wait(signal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      const until = this.throttledUntil;
      if (until === undefined) return;
      await this.#sleep(until - this.#now(), signal);
    }
  }

  /** Stops the end-of-pause timer (the pause itself stays in force for anyone still waiting). */
  dispose(): void {
    clearTimeout(this.#endTimer);
    this.#endTimer = undefined;
  }

  #scheduleEnd(ms: number): void {
    clearTimeout(this.#endTimer);
    // Only announces the end for the UI; waiters do not depend on it, so it must not hold the process.
    this.#endTimer = setTimeout(() => {
      this.#endTimer = undefined;
      // Reading the getter ends the pause if its time has come (with an injected clock it may not have).
      if (this.throttledUntil !== undefined) this.#scheduleEnd(Math.max(1, this.#until! - this.#now()));
    }, ms + 1);
    this.#endTimer.unref();
  }

  #end(): void {
    this.#until = undefined;
    clearTimeout(this.#endTimer);
    this.#endTimer = undefined;
    this.events.emit('throttle', { throttledUntil: undefined });
  }
}

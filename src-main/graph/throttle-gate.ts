/**
 * The whole-client pause for 429/503 Retry-After (docs/graph-api.md §10, §15 #1): throttling is per app
 * and user, not per URL, so once the server names a wait, no request of any kind — Graph, download
 * or upload URL — leaves before it has passed.
 *
 * When a pause ends, one request goes first and the others wait for its answer: if the server is
 * still throttling, that answer starts the next pause before anyone else has been sent (a crowd
 * released at once would meet it mid-flight, and the service lengthens the wait for clients that
 * come back early).
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

/** What wait() hands out; give it back to settle() once the request has its answer (or failed). */
export interface GateTicket {
  readonly probe: boolean;
}

const PASS: GateTicket = Object.freeze({ probe: false });

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
  /** A pause happened and no request has had an answer since. */
  #recovering = false;
  #probe: GateTicket | undefined;
  #probeAnswered: Array<() => void> = [];

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
    this.#recovering = true;
    const until = this.#now() + Math.max(0, ms);
    if (this.#until !== undefined && until <= this.#until) return;
    this.#until = until;
    this.#scheduleEnd(ms);
    this.events.emit('throttle', { throttledUntil: until });
  }

  /**
   * Resolves once this request may go: no pause in force and, right after one, either it is the
   * request that goes first or that one has had its answer. Pass back the ticket from an earlier
   * wait() of the same request (it keeps its place as the one that goes first).
   */
  async wait(signal: AbortSignal | undefined, held?: GateTicket): Promise<GateTicket> {
    for (;;) {
      const until = this.throttledUntil;
      if (until !== undefined) {
        await this.#sleep(until - this.#now(), signal);
        continue;
      }
      if (!this.#recovering) return PASS;
      if (held?.probe && held === this.#probe) return held;
      if (this.#probe === undefined) {
        this.#probe = Object.freeze({ probe: true });
        return this.#probe;
      }
      await this.#probeAnswer(signal);
    }
  }

  /** The request holding `ticket` has its answer (any status) or failed; call after pausing for a 429/503. */
  settle(ticket: GateTicket): void {
    if (!ticket.probe || ticket !== this.#probe) return;
    this.#probe = undefined;
    // A throttled answer has started a new pause (recovering again); anything else ends recovery.
    if (this.#until === undefined) this.#recovering = false;
    for (const wake of this.#probeAnswered.splice(0)) wake();
  }

  /** The request holding `ticket` was never sent: if it was to go first, the next in line goes instead. */
  abandon(ticket: GateTicket): void {
    if (!ticket.probe || ticket !== this.#probe) return;
    this.#probe = undefined;
    for (const wake of this.#probeAnswered.splice(0)) wake();
  }

  #probeAnswer(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const done = () => {
        signal?.removeEventListener('abort', aborted);
        resolve();
      };
      const aborted = () => {
        this.#probeAnswered = this.#probeAnswered.filter((w) => w !== done);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', aborted, { once: true });
      this.#probeAnswered.push(done);
    });
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

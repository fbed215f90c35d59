/**
 * Whether the engine can reach OneDrive (docs/architecture.md: "Offline is a state, not an error"). A small
 * state machine fed by two sources:
 *
 * - Request outcomes (GraphClient's `onOutcome`): any HTTP answer proves the service reachable; a
 *   network failure or timeout puts the state in doubt ('checking') and starts a probe at once.
 *   HTTP error statuses never count against connectivity: only an answer can carry one.
 * - A probe (one cheap request, never repeated by the client) run by the task "connectivity-probe":
 *   an answer → online; no answer → offline, and the probe tries again after a backoff that doubles
 *   per failed probe (1 s … 60 s by default). Any request getting through meanwhile ends the outage.
 *
 *        online ──failure──▶ checking ──probe fails──▶ offline ──backoff──▶ checking ─┐
 *          ▲                    │ probe answers /           │ request answers           │
 *          └────────────────────┴──── a request answers ◀───┴───────────────────────────┘
 *
 * A failure seen while online does not flip the state by itself: one reset connection on a busy
 * link is not an outage, and the probe settles it within a round trip (or `probeTimeoutMs`).
 *
 * The probe's answer is trusted only while requests get through too: after `failuresBeforeDistrust`
 * requests in a row failed to connect with none answered since, an answering probe leaves the state
 * offline ("OneDrive answers, but N requests in a row failed (connection refused)") instead of
 * saying online while every request fails. That is not an outage (nothing is held back: each
 * request keeps trying on its own backoff); the first request that gets an answer ends it.
 *
 * Changes are delivered to handlers registered with `on()`: each delivery runs as a named task
 * ("connectivity-listeners:<event>") with its AbortSignal, deliveries run one after another in
 * the order the changes happened, and `stop()` (a shutdown phase) waits for them and the probe.
 */
import { AbortError, abortableSleep, isCausedBySignal, linkedController, timeoutSignal, type LinkedController } from '../base/abort.ts';
import { backoffDelay, checkBackoff } from '../base/backoff.ts';
import { errorMessage } from '../base/errors.ts';
import type { Logger } from '../base/logger.ts';
import { NetworkError, TimeoutError } from '../graph/errors.ts';
import type { ShutdownStep } from '../lifecycle/participation.ts';
import type { TaskHandle, TaskRegistry } from '../lifecycle/task-registry.ts';
import type { Connectivity } from '../../src-shared/model/transfer.ts';
import { DEFAULT_TIMEOUTS } from '../lifecycle/timeout-policy.ts';

export interface ConnectivityEvents {
  /** Every change of state (including each probe of an outage): what the status and the UI show. */
  change: Connectivity;
  /** The service became unreachable (once per outage). */
  offline: Connectivity;
  /** The service answers again (once per outage, when it ends). */
  online: Connectivity;
}

export type ConnectivityEvent = keyof ConnectivityEvents;

/** A handler runs inside a tracked task: it may be async, and should stop when `signal` fires. */
export type ConnectivityHandler<E extends ConnectivityEvent> = (payload: ConnectivityEvents[E], signal: AbortSignal) => void | Promise<void>;

export interface ConnectivityOptions {
  /** One attempt to reach the service; resolves when it answered anything at all. */
  probe: (signal: AbortSignal) => Promise<void>;
  tasks: TaskRegistry;
  logger: Logger;
  /** Deadline of one probe (TimeoutPolicy `probeTimeoutMs`). */
  probeTimeoutMs: number;
  /** Wait after the first failed probe, doubling per failure up to maxMs. Default 1 s … 60 s. */
  backoff?: { baseMs: number; maxMs: number };
  /**
   * Requests in a row that failed to connect, with none answered since, after which a probe that
   * answers no longer means online (the probe's URL answers, the ones the work needs do not).
   * Default 3.
   */
  failuresBeforeDistrust?: number;
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** The reason of the offline signal: what reads that need the network fail with while offline. */
export class OfflineError extends NetworkError {
  constructor(reason: string | undefined) {
    super(`OneDrive is unreachable${reason ? ` (${reason})` : ''}`, { causeCode: 'ENETDOWN' });
  }
}

const DEFAULT_BACKOFF = { baseMs: DEFAULT_TIMEOUTS.probeRetryBaseMs, maxMs: DEFAULT_TIMEOUTS.probeRetryMaxMs } as const;

export class ConnectivityMonitor {
  readonly #o: ConnectivityOptions;
  readonly #backoff: { baseMs: number; maxMs: number };
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly #handlers = new Map<ConnectivityEvent, Set<ConnectivityHandler<never>>>();
  #state: Connectivity;
  /** True from the first failed probe until the service answers again (also while re-probing). */
  #outage = false;
  /** Why the last attempt failed, for people. */
  #reason: string | undefined;
  /** Requests that failed to connect since a request last got an answer (probes do not count). */
  #failedRequests = 0;
  /** What the last failed request ran into. */
  #requestFailure: string | undefined;
  readonly #failuresBeforeDistrust: number;
  /** Shown offline because requests fail although the probe answers (not an outage). */
  #degraded = false;
  #offline: AbortController = new AbortController();
  #probe: TaskHandle | undefined;
  /** Ends the probe's backoff wait early (checkNow). */
  #wake: LinkedController | undefined;
  /** Deliveries, one after another. */
  #delivery: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(options: ConnectivityOptions) {
    this.#o = options;
    this.#backoff = checkBackoff(options.backoff ?? DEFAULT_BACKOFF, 'probe');
    this.#failuresBeforeDistrust = Math.max(1, options.failuresBeforeDistrust ?? 3);
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? abortableSleep;
    this.#state = { state: 'online', since: this.#now() };
  }

  /** The current state, as the contract carries it. */
  get current(): Connectivity {
    return this.#state;
  }

  /** True while the service is known to be unreachable (offline, or probing again during an outage). */
  get offline(): boolean {
    return this.#outage;
  }

  /**
   * Fires (with an OfflineError) when an outage begins; already fired during one. A fresh signal
   * is handed out once the service answers again, so take it anew for each wait.
   */
  get offlineSignal(): AbortSignal {
    return this.#offline.signal;
  }

  /** Adds a handler; the returned function removes it. */
  on<E extends ConnectivityEvent>(event: E, handler: ConnectivityHandler<E>): () => void {
    let set = this.#handlers.get(event);
    if (!set) {
      set = new Set();
      this.#handlers.set(event, set);
    }
    set.add(handler as ConnectivityHandler<never>);
    return () => set.delete(handler as ConnectivityHandler<never>);
  }

  /** One request's outcome: answered (any status) or failed to reach the service. Cheap while online. */
  report(ok: boolean, error?: unknown): void {
    if (this.#stopped) return;
    if (ok) {
      this.#failedRequests = 0;
      this.#requestFailure = undefined;
      if (this.#state.state !== 'online') this.#goOnline('a request got an answer');
      return;
    }
    this.#failedRequests++;
    this.#requestFailure = describeFailure(error);
    if (!this.#distrustsProbe) this.#reason = this.#requestFailure;
    if (this.#state.state === 'online') this.#startProbing();
  }

  /** Probes at once instead of waiting out the backoff ("retry now"); nothing to do while online. */
  checkNow(): void {
    if (this.#stopped || this.#state.state === 'online') return;
    if (this.#probe) this.#wake?.abort(new AbortError('probe requested'));
    else this.#startProbing();
  }

  /** Shutdown: the probe stops with remote sync (nothing needs to know any more whether OneDrive answers). */
  shutdownSteps(): readonly ShutdownStep[] {
    return [{ phase: 'stop-sync', name: 'connectivity', run: () => this.stop() }];
  }

  /** Stops probing and waits for the probe and every pending delivery. Final. */
  async stop(): Promise<void> {
    this.#stopped = true;
    const probe = this.#probe;
    probe?.abort(new AbortError('connectivity monitor stopped'));
    await probe?.done;
    await this.#delivery;
  }

  #startProbing(): void {
    if (this.#stopped) return;
    if (this.#state.state === 'online') this.#set({ state: 'checking', since: this.#now() });
    // A probe ended by a request's answer may still be unwinding; it no longer touches the state.
    this.#probe?.abort(new AbortError('a newer probe started'));
    let handle: TaskHandle;
    try {
      handle = this.#o.tasks.start('connectivity-probe', (signal) => this.#probeLoop(signal));
    } catch (error) {
      // Shutting down: nobody needs to know any more whether the service answers.
      this.#o.logger.debug({ err: error }, 'no connectivity probe: the engine is stopping');
      return;
    }
    this.#probe = handle;
  }

  async #probeLoop(signal: AbortSignal): Promise<void> {
    try {
      await this.#probeUntilOnline(signal);
    } finally {
      if (this.#probe?.signal === signal) this.#probe = undefined;
    }
  }

  async #probeUntilOnline(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      if (this.#state.state === 'offline') this.#set({ state: 'checking', since: this.#state.since });
      const attempt = timeoutSignal(this.#o.probeTimeoutMs, signal, 'connectivity probe');
      let failure: unknown;
      try {
        await this.#o.probe(attempt.signal);
      } catch (error) {
        failure = error;
      } finally {
        attempt.dispose();
      }
      // Stopped, or a request's answer ended the outage (and this probe) meanwhile.
      if (signal.aborted) return;
      if (failure === undefined && !this.#distrustsProbe) {
        this.#goOnline('the probe got an answer');
        return;
      }
      failures++;
      const delay = backoffDelay(failures - 1, this.#backoff);
      const since = this.#state.since;
      if (failure === undefined) {
        // The probe's URL answers, the requests the work needs do not (a stale absolute URL, a
        // storage host that is down …). Not online, but no outage either: requests are not held
        // back, each one keeps trying on its own backoff, and the first that gets an answer ends
        // this state.
        const first = !this.#degraded;
        this.#degraded = true;
        // The network itself is back: an outage under way ends (waiting work tries again).
        const endsOutage = this.#outage;
        this.#outage = false;
        this.#reason = `OneDrive answers, but ${this.#failedRequests} requests in a row failed (${this.#requestFailure ?? 'unknown failure'})`;
        this.#set({ state: 'offline', since, nextRetryAt: this.#now() + delay, reason: this.#reason });
        if (first) this.#o.logger.warn({ reason: this.#reason }, 'OneDrive answers its probe but every request fails: shown as offline');
        if (endsOutage) {
          this.#offline = new AbortController();
          this.#deliver('online', this.#state);
        }
        await this.#backOff(delay, signal);
        continue;
      }
      this.#reason = describeFailure(failure);
      const beginning = !this.#outage;
      this.#outage = true;
      this.#set({ state: 'offline', since, nextRetryAt: this.#now() + delay, ...(this.#reason ? { reason: this.#reason } : {}) });
      if (beginning) {
        this.#o.logger.warn({ reason: this.#reason }, 'OneDrive is unreachable: working offline');
        this.#offline.abort(new OfflineError(this.#reason));
        this.#deliver('offline', this.#state);
      } else {
        this.#o.logger.debug({ reason: this.#reason, nextProbeInMs: delay }, 'OneDrive is still unreachable');
      }
      await this.#backOff(delay, signal);
    }
  }

  /** Requests keep failing to connect although the probe may answer: the probe proves nothing now. */
  get #distrustsProbe(): boolean {
    return this.#failedRequests >= this.#failuresBeforeDistrust;
  }

  /** The probe's wait between attempts; checkNow() ends it early. */
  async #backOff(delay: number, signal: AbortSignal): Promise<void> {
    const wake = linkedController(signal);
    this.#wake = wake;
    try {
      await this.#sleep(delay, wake.signal);
    } catch (error) {
      if (!isCausedBySignal(error, wake.signal)) throw error;
    } finally {
      wake.dispose();
      if (this.#wake === wake) this.#wake = undefined;
    }
  }

  #goOnline(why: string): void {
    const wasOutage = this.#outage;
    if (this.#degraded) this.#o.logger.info({ why }, 'requests get through to OneDrive again');
    this.#degraded = false;
    this.#outage = false;
    this.#reason = undefined;
    this.#probe?.abort(new AbortError('the service answered'));
    this.#probe = undefined;
    this.#set({ state: 'online', since: this.#now() });
    if (!wasOutage) return;
    this.#offline = new AbortController();
    this.#o.logger.info({ why }, 'OneDrive is reachable again');
    this.#deliver('online', this.#state);
  }

  #set(next: Connectivity): void {
    this.#state = next;
    this.#deliver('change', next);
  }

  #deliver<E extends ConnectivityEvent>(event: E, payload: ConnectivityEvents[E]): void {
    const handlers = [...(this.#handlers.get(event) ?? [])] as Array<ConnectivityHandler<E>>;
    if (handlers.length === 0 || this.#stopped) return;
    this.#delivery = this.#delivery.then(() => this.#run(event, payload, handlers));
  }

  /** One delivery as a task; never rejects (a failing handler is logged and the next one runs). */
  async #run<E extends ConnectivityEvent>(event: E, payload: ConnectivityEvents[E], handlers: Array<ConnectivityHandler<E>>): Promise<void> {
    let handle: TaskHandle;
    try {
      handle = this.#o.tasks.start(`connectivity-listeners:${event}`, async (signal) => {
        for (const handler of handlers) {
          if (signal.aborted) return;
          try {
            await handler(payload, signal);
          } catch (error) {
            if (isCausedBySignal(error, signal)) return;
            this.#o.logger.error({ err: error, event }, `a connectivity "${event}" handler failed`);
          }
        }
      });
    } catch (error) {
      this.#o.logger.debug({ err: error, event }, 'connectivity change not delivered: the engine is stopping');
      return;
    }
    await handle.done;
  }
}

/** What a failed attempt ran into, in words people can act on. */
export function describeFailure(error: unknown): string {
  if (error instanceof TimeoutError) return 'no answer in time';
  const code = error instanceof NetworkError ? error.causeCode : undefined;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
    case 'EPIPE':
      return 'connection reset';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'DNS lookup failed';
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
    case 'ENETDOWN':
      return 'network unreachable';
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'connection timed out';
    default:
      return error === undefined ? 'unknown failure' : errorMessage(error) || 'unknown failure';
  }
}

/**
 * The client half of the contract, independent of the wire: it numbers requests, matches answers,
 * validates results and events with the contract's schemas and fans events out to listeners. A
 * transport (WebSocket in a browser, Electron IPC in the preload) feeds it text and tells it when the
 * link changes; pending calls fail when the link drops, so no caller waits forever.
 */
import { CallError, type EngineLink, type OneMountApi } from './api.ts';
import { Calls, Events, ResponseSchema, type CallName, type CallParams, type CallResult, type EventName, type EventPayload } from './contract.ts';

export interface ContractClientOptions {
  /** Sends one request as text; throws when the link is down. */
  send: (text: string) => void;
  /** A call without an answer fails after this long. Default 30 s. */
  callTimeoutMs?: number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

interface Pending {
  method: CallName;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: unknown;
}

export class ContractClient implements OneMountApi {
  readonly #send: (text: string) => void;
  readonly #timeoutMs: number;
  readonly #setTimer: (fn: () => void, ms: number) => unknown;
  readonly #clearTimer: (handle: unknown) => void;
  readonly #pending = new Map<number, Pending>();
  readonly #listeners = new Map<string, Set<(payload: unknown) => void>>();
  readonly #linkListeners = new Set<(link: EngineLink) => void>();
  #nextId = 1;
  #link: EngineLink = { state: 'connecting' };

  constructor(o: ContractClientOptions) {
    this.#send = o.send;
    this.#timeoutMs = o.callTimeoutMs ?? 30_000;
    this.#setTimer = o.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.#clearTimer = o.clearTimer ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>));
  }

  get link(): EngineLink {
    return this.#link;
  }

  call<M extends CallName>(method: M, params: CallParams<M>): Promise<CallResult<M>> {
    if (this.#link.state !== 'connected') {
      return Promise.reject(new CallError('ENGINE_UNREACHABLE', this.#link.state === 'disconnected' ? this.#link.reason : 'not connected to the engine yet'));
    }
    const checked = Calls[method].params.safeParse(params);
    if (!checked.success) return Promise.reject(new CallError('BAD_PARAMS', checked.error.message));
    const id = this.#nextId++;
    return new Promise<CallResult<M>>((resolve, reject) => {
      const timer = this.#setTimer(() => {
        this.#pending.delete(id);
        reject(new CallError('IPC_TIMEOUT', `${method} got no answer within ${Math.round(this.#timeoutMs / 1000)} s`));
      }, this.#timeoutMs);
      this.#pending.set(id, { method, resolve: resolve as (v: unknown) => void, reject, timer });
      try {
        this.#send(JSON.stringify({ id, method, params: checked.data }));
      } catch (e) {
        this.#settle(id)?.reject(new CallError('ENGINE_UNREACHABLE', e instanceof Error ? e.message : String(e)));
      }
    });
  }

  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    const l = listener as (p: unknown) => void;
    set.add(l);
    return () => set.delete(l);
  }

  onLink(listener: (link: EngineLink) => void): () => void {
    this.#linkListeners.add(listener);
    listener(this.#link);
    return () => this.#linkListeners.delete(listener);
  }

  /** The transport's report of a link change; a lost link fails every pending call. */
  setLink(link: EngineLink): void {
    this.#link = link;
    if (link.state !== 'connected') {
      for (const id of [...this.#pending.keys()]) {
        this.#settle(id)?.reject(new CallError('ENGINE_UNREACHABLE', link.state === 'disconnected' ? link.reason : 'the link to the engine was lost'));
      }
    }
    for (const l of this.#linkListeners) l(link);
  }

  /** One message from the engine. Malformed ones are reported, not guessed at. */
  receive(text: string): void {
    let msg;
    try {
      msg = ResponseSchema.parse(JSON.parse(text));
    } catch (e) {
      throw new CallError('BAD_MESSAGE', `the engine sent a message that is not in the contract: ${e instanceof Error ? e.message : String(e)}`);
    }
    if ('event' in msg) {
      const schema = Events[msg.event as EventName];
      if (!schema) return; // an event a newer engine knows and this UI does not
      const payload = schema.parse(msg.payload);
      for (const l of this.#listeners.get(msg.event) ?? []) l(payload);
      return;
    }
    const p = this.#settle(msg.id);
    if (!p) return;
    if ('error' in msg) {
      p.reject(new CallError(msg.error.code, msg.error.message));
      return;
    }
    const result = Calls[p.method].result.safeParse(msg.result);
    if (result.success) p.resolve(result.data);
    else p.reject(new CallError('BAD_RESULT', `the engine's answer to ${p.method} is not in the contract: ${result.error.message}`));
  }

  #settle(id: number): Pending | undefined {
    const p = this.#pending.get(id);
    if (!p) return undefined;
    this.#pending.delete(id);
    this.#clearTimer(p.timer);
    return p;
  }
}

/** A listener may be async; its rejection is reported like a thrown error. */
export type Listener<Payload> = (payload: Payload) => void | Promise<void>;

/** Receives what a listener threw, with the event it was handling. */
export type ListenerErrorHandler<Events> = (error: unknown, event: keyof Events & string) => void;

/**
 * A synchronous event emitter typed by a map `{ eventName: payload }`. Unlike node:events, a
 * throwing listener neither breaks `emit` for the other listeners nor disappears: every failure
 * goes to the handler given at construction, which is mandatory for that reason.
 */
export class TypedEmitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<Listener<never>>>();
  readonly #onListenerError: ListenerErrorHandler<Events>;

  constructor(onListenerError: ListenerErrorHandler<Events>) {
    this.#onListenerError = onListenerError;
  }

  /** Adds a listener; the returned function removes it. */
  on<K extends keyof Events & string>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as Listener<never>);
    return () => this.off(event, listener);
  }

  /** Adds a listener that removes itself after the first event. */
  once<K extends keyof Events & string>(event: K, listener: Listener<Events[K]>): () => void {
    const off = this.on(event, (payload) => {
      off();
      return listener(payload);
    });
    return off;
  }

  off<K extends keyof Events & string>(event: K, listener: Listener<Events[K]>): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    set.delete(listener as Listener<never>);
    if (set.size === 0) this.#listeners.delete(event);
  }

  emit<K extends keyof Events & string>(event: K, payload: Events[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    // Copy: listeners may unsubscribe (once) or subscribe while we iterate.
    for (const listener of [...set] as Array<Listener<Events[K]>>) {
      try {
        const result = listener(payload);
        if (result instanceof Promise) result.catch((error: unknown) => this.#report(error, event));
      } catch (error) {
        this.#report(error, event);
      }
    }
  }

  listenerCount(event: keyof Events & string): number {
    return this.#listeners.get(event)?.size ?? 0;
  }

  removeAllListeners(): void {
    this.#listeners.clear();
  }

  #report(error: unknown, event: keyof Events & string): void {
    try {
      this.#onListenerError(error, event);
    } catch (handlerError) {
      // The error handler itself failed: surface both instead of losing them.
      queueMicrotask(() => {
        throw new AggregateError([error, handlerError], `listener for "${event}" and its error handler both failed`);
      });
    }
  }
}

/**
 * One lifecycle idiom (VS Code's disposables and `join` are the model): a component that takes part
 * in the shutdown lists its own steps (which phase, under which name, doing what), and the engine
 * only joins the components together. Stopping a component is thereby described where the
 * component is, next to what it starts, instead of in a hand-written list in the engine.
 */
import { OneMountError } from '../base/errors.ts';
import type { ShutdownPhase } from '../../src-shared/model/transfer.ts';
import type { ShutdownCoordinator, ShutdownParticipant } from './shutdown-coordinator.ts';

/** One step a component takes in the shutdown. */
export interface ShutdownStep {
  readonly phase: ShutdownPhase;
  readonly name: string;
  readonly run: ShutdownParticipant;
}

/** A component that stops itself in the shutdown, in the steps it names. */
export interface ShutdownAware {
  shutdownSteps(): readonly ShutdownStep[];
}

/** Registers every step of every component, in order; the returned function removes them all. */
export function joinShutdown(coordinator: ShutdownCoordinator, components: readonly ShutdownAware[]): () => void {
  const removers = components.flatMap((component) => component.shutdownSteps().map((step) => coordinator.register(step.phase, step.name, step.run)));
  return () => {
    for (const remove of removers.splice(0)) remove();
  };
}

/** New work asked for after shutdown began: refused, and the error says so in words. */
export class ShuttingDownError extends OneMountError {
  constructor(what: string) {
    super('SHUTTING_DOWN', `OneMount is shutting down: ${what} is refused (whatever waits runs at the next start)`);
  }
}

/**
 * The switch a component's `stop-new-work` step turns: work already running continues, work
 * asked for afterwards is refused with a ShuttingDownError.
 */
export class Admission {
  #closed = false;

  close(): void {
    this.#closed = true;
  }

  get open(): boolean {
    return !this.#closed;
  }

  /** Throws a ShuttingDownError naming `what` once closed. */
  check(what: string): void {
    if (this.#closed) throw new ShuttingDownError(what);
  }
}

import type { Logger } from '../base/logger.ts';
import type { ShutdownCoordinator } from './shutdown-coordinator.ts';

export const SHUTDOWN_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/** Where signals come from: `process` in the engine, an EventEmitter in tests. */
export interface SignalSource {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

export interface ShutdownSignalOptions {
  logger: Logger;
  source?: SignalSource;
  signals?: readonly NodeJS.Signals[];
}

/**
 * First SIGTERM/SIGINT/SIGHUP starts the graceful shutdown; the second forces the fast (still
 * lossless) exit; later ones are only logged. Returns a function that removes the handlers.
 * Exiting the process is the caller's business, once `coordinator.shutdown()` has resolved.
 */
export function installShutdownSignals(coordinator: ShutdownCoordinator, options: ShutdownSignalOptions): () => void {
  const source = options.source ?? process;
  const signals = options.signals ?? SHUTDOWN_SIGNALS;
  const { logger } = options;
  let received = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    received++;
    if (received === 1) {
      logger.info({ signal }, `received ${signal}: shutting down`);
      coordinator.shutdown(`received ${signal}`).catch((error: unknown) => logger.fatal({ err: error }, 'shutdown crashed'));
    } else if (received === 2) {
      logger.warn({ signal }, `received ${signal} again: forcing a fast exit`);
      coordinator.force(`received ${signal} twice`).catch((error: unknown) => logger.fatal({ err: error }, 'shutdown crashed'));
    } else {
      logger.warn({ signal }, `received ${signal}: fast exit already under way, persisting unfinished work`);
    }
  };
  for (const signal of signals) source.on(signal, onSignal);
  return () => {
    for (const signal of signals) source.off(signal, onSignal);
  };
}

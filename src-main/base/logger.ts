import { pino } from 'pino';
import { PRIVATE_FILE_MODE } from './files.ts';
import { REDACTED, SENSITIVE_KEY_PATTERN, redactSecrets } from './redact.ts';

export type Logger = pino.Logger;
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** Anything with `write(line)`: pino's own destinations, a stream, or an in-memory collector in tests. */
export interface LogDestination {
  write(line: string): void;
}

export interface LoggerOptions {
  /** Component name, written as `name` on every line. */
  name: string;
  level?: LogLevel;
  /** A file path (created with mode 0600, parents made) or a destination. Default: stdout. */
  destination?: string | LogDestination;
}

const MAX_DEPTH = 12;

/**
 * A pino logger that cannot write a secret: fields whose *name* is sensitive are censored at any
 * depth (also in child bindings and in errors' own properties), and every finished line passes
 * through redactSecrets so tokens inside messages, URLs and stacks are masked as well.
 */
export function createLogger(options: LoggerOptions): Logger {
  const { destination } = options;
  // Synchronous appends, as pino does for stdout: a line is a few hundred bytes, and nothing is
  // lost when the process dies right after logging why.
  const stream =
    typeof destination === 'string'
      ? pino.destination({ dest: destination, mkdir: true, sync: true, mode: PRIVATE_FILE_MODE })
      : destination;
  return pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      formatters: {
        log: (object) => censorFields(object) as Record<string, unknown>,
        bindings: (bindings) => censorFields(bindings) as pino.Bindings,
      },
      // Errors are turned into plain objects by censorFields; pino's serializer must not redo it.
      serializers: { err: (value: unknown) => value },
      hooks: { streamWrite: redactSecrets },
      // pino applies formatters.bindings to the root logger only; children get theirs censored here.
      onChild: censorChildBindings,
    },
    stream,
  );
}

function censorChildBindings(child: Logger): void {
  const serialized = (child as unknown as Record<symbol, string>)[pino.symbols.chindingsSym];
  if (!serialized) return;
  const bindings = JSON.parse(`{${serialized.slice(1)}}`) as Record<string, unknown>;
  const censored = JSON.stringify(censorFields(bindings));
  (child as unknown as Record<symbol, string>)[pino.symbols.chindingsSym] = `,${censored.slice(1, -1)}`;
}

/** Flushes buffered lines (file destinations write asynchronously); resolves when written. */
export function flushLogger(logger: Logger): Promise<void> {
  return new Promise((resolve, reject) => logger.flush((error) => (error ? reject(error) : resolve())));
}

/** A deep copy of `value` with sensitive fields replaced by REDACTED; exported for non-log outputs. */
export function censorFields(value: unknown): unknown {
  return censor(value, new Set(), 0);
}

function censor(value: unknown, ancestors: Set<object>, depth: number): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (ancestors.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Too deep]';
  if (value instanceof Date || Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return value;
  ancestors.add(value);
  try {
    if (value instanceof Error) return censor(serializeError(value), ancestors, depth);
    if (Array.isArray(value)) return value.map((item) => censor(item, ancestors, depth + 1));
    const withJson = value as { toJSON?: () => unknown };
    if (typeof withJson.toJSON === 'function') return censor(withJson.toJSON(), ancestors, depth + 1);
    if (value instanceof Map) return censor(Object.fromEntries(value), ancestors, depth + 1);
    if (value instanceof Set) return censor([...value], ancestors, depth + 1);
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(value)) {
      out[key] = SENSITIVE_KEY_PATTERN.test(key) && field != null ? REDACTED : censor(field, ancestors, depth + 1);
    }
    return out;
  } finally {
    ancestors.delete(value);
  }
}

/** pino's error shape (type, message, stack, own fields) plus the cause chain. */
function serializeError(error: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { type: error.name, message: error.message, stack: error.stack };
  for (const [key, field] of Object.entries(error)) out[key] = field;
  if (error.cause !== undefined) out['cause'] = error.cause;
  if (error instanceof AggregateError) out['errors'] = error.errors;
  return out;
}

export interface MemoryLogger {
  readonly logger: Logger;
  /** The raw lines written so far (after redaction). */
  lines(): string[];
  /** The lines parsed as JSON objects. */
  records(): Array<Record<string, unknown>>;
}

/** A real, redacting logger that keeps its lines in memory: for tests that assert on logging. */
export function createMemoryLogger(level: LogLevel = 'debug', name = 'test'): MemoryLogger {
  const lines: string[] = [];
  const logger = createLogger({ name, level, destination: { write: (line) => void lines.push(line) } });
  return {
    logger,
    lines: () => [...lines],
    records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

/**
 * The little the store needs from a logger. A pino logger satisfies it; the store does not
 * depend on a particular logging package.
 */
export interface StoreLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** Used when the caller gives no logger: warnings and errors still reach stderr, never vanish. */
export function stderrStoreLogger(): StoreLogger {
  const write = (level: string, fields: object, message: string): void => {
    process.stderr.write(`[onemount store] ${level}: ${message} ${JSON.stringify(fields)}\n`);
  };
  return {
    info: () => undefined,
    warn: (fields, message) => write('warn', fields, message),
    error: (fields, message) => write('error', fields, message),
  };
}

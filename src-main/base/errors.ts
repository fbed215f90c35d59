/**
 * The engine's error base: every error it raises on purpose carries a stable machine-readable
 * `code` next to the human-readable message, so callers branch on codes, never on message text.
 */
export class OneMountError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    // Subclasses get their own class name without repeating it in every constructor.
    this.name = new.target.name;
  }
}

/** True when `error` is a OneMountError, optionally with the given code. */
export function isOneMountError(error: unknown, code?: string): error is OneMountError {
  return error instanceof OneMountError && (code === undefined || error.code === code);
}

/** A readable one-line message for any thrown value (throwing non-Errors happens in libraries). */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  try {
    return JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}

/** Wraps a thrown non-Error value so it can travel as an Error (keeps Errors as they are). */
export function toError(error: unknown): Error {
  return error instanceof Error ? error : new OneMountError('NON_ERROR_THROWN', errorMessage(error), { cause: error });
}

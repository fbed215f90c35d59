/**
 * Typed errors of the Graph client (docs/graph-api.md §10). Callers branch on `status` and codes through
 * the predicates below, never on message text.
 */
import { OneMountError } from '../base/errors.ts';
import { TimeoutError } from '../base/abort.ts';

export { TimeoutError };

/** An error answer from the Graph API or from a storage (download/upload) URL. */
export class GraphApiError extends OneMountError {
  readonly status: number;
  /** The outermost error code (`itemNotFound`, `InvalidAuthenticationToken` …), or `http<status>` when the body had none. */
  readonly graphCode: string;
  /** Nested inner codes, outermost first (the last one is the most specific). */
  readonly innerCodes: readonly string[];
  readonly requestId: string | undefined;
  /** The wait the server asked for with Retry-After, if any. */
  readonly retryAfterMs: number | undefined;
  /** The `Location` header (a fresh delta URL on `410 resyncRequired`). */
  readonly location: string | undefined;
  /** The HTTP method and a log-safe form of the URL the answer came from. */
  readonly request: string;
  /** How many attempts were made, 1 when the first answer was final. */
  readonly attempts: number;
  /** The server's own message (for logs and users; never branch on it). */
  readonly serverMessage: string;

  constructor(fields: {
    status: number;
    graphCode: string;
    innerCodes?: readonly string[];
    message: string;
    requestId?: string;
    retryAfterMs?: number;
    location?: string;
    request: string;
    attempts?: number;
  }) {
    super(`GRAPH_${fields.status}`, `${fields.request} → ${fields.status} ${fields.graphCode}: ${fields.message}`);
    this.status = fields.status;
    this.graphCode = fields.graphCode;
    this.innerCodes = fields.innerCodes ?? [];
    this.requestId = fields.requestId;
    this.retryAfterMs = fields.retryAfterMs;
    this.location = fields.location;
    this.request = fields.request;
    this.attempts = fields.attempts ?? 1;
    this.serverMessage = fields.message;
  }

  /** True when the outer code or any inner code equals one of `codes`, ignoring case (§10). */
  hasCode(...codes: string[]): boolean {
    const wanted = codes.map((c) => c.toLowerCase());
    return [this.graphCode, ...this.innerCodes].some((c) => wanted.includes(c.toLowerCase()));
  }

  /** A copy that records how many attempts preceded it. */
  withAttempts(attempts: number): GraphApiError {
    return new GraphApiError({
      status: this.status,
      graphCode: this.graphCode,
      innerCodes: this.innerCodes,
      message: this.serverMessage,
      requestId: this.requestId,
      retryAfterMs: this.retryAfterMs,
      location: this.location,
      request: this.request,
      attempts,
    });
  }
}

/** No HTTP answer at all: connection refused or reset, DNS failure, socket closed mid-answer. */
export class NetworkError extends OneMountError {
  /** The system or undici error code (`ECONNREFUSED`, `UND_ERR_SOCKET` …) when known. */
  readonly causeCode: string | undefined;

  constructor(message: string, options: { cause?: unknown; causeCode?: string }) {
    super('NETWORK', message, { cause: options.cause });
    this.causeCode = options.causeCode;
  }
}

/**
 * A pre-authenticated download URL no longer works (401/403/404 from the storage host, §6): fetch
 * a fresh one through `downloadUrl(id)` and retry.
 */
export class DownloadUrlExpiredError extends OneMountError {
  readonly status: number;

  constructor(status: number, options?: { cause?: unknown }) {
    super('DOWNLOAD_URL_EXPIRED', `the download URL was refused with ${status}; fetch a fresh one`, options);
    this.status = status;
  }
}

/** A ranged read asked for bytes at or beyond the end of the file (416). */
export class RangeNotSatisfiableError extends OneMountError {
  /** The file size from `Content-Range: bytes *\/size`, when the server sent it. */
  readonly size: number | undefined;

  constructor(start: number, size: number | undefined) {
    super('RANGE_NOT_SATISFIABLE', `range starting at ${start} is beyond the end of the file (size ${size ?? 'unknown'})`);
    this.size = size;
  }
}

/** The server answered something this client cannot interpret (malformed JSON, missing fields). */
export class GraphProtocolError extends OneMountError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('GRAPH_PROTOCOL', message, options);
  }
}

function graphError(e: unknown): GraphApiError | undefined {
  return e instanceof GraphApiError ? e : undefined;
}

/**
 * The delta token can no longer be served: `410 resyncRequired` (follow `location`), an expired
 * sync state, or a 404 on a delta URL (seen on B, §5). The caller restarts with a full enumeration.
 */
export function isResyncRequired(e: unknown): boolean {
  const g = graphError(e);
  if (!g) return false;
  if (g.status === 410) return true;
  if (g.hasCode('resyncRequired', 'syncStateNotFound', 'resyncChangesApplyDifferences', 'resyncChangesUploadDifferences', 'resyncApplyDifferences', 'resyncUploadDifferences')) {
    return true;
  }
  return g.status === 404 && /\/delta\b|delta\(/i.test(g.request);
}

export function isNotFound(e: unknown): boolean {
  return graphError(e)?.status === 404;
}

export function isPreconditionFailed(e: unknown): boolean {
  return graphError(e)?.status === 412;
}

export function isNameConflict(e: unknown): boolean {
  const g = graphError(e);
  return g !== undefined && (g.status === 409 || g.hasCode('nameAlreadyExists', 'upload_name_conflict'));
}

export function isThrottled(e: unknown): boolean {
  const g = graphError(e);
  return g !== undefined && (g.status === 429 || g.status === 509 || (g.status === 503 && g.retryAfterMs !== undefined));
}

export function isQuota(e: unknown): boolean {
  const g = graphError(e);
  return g !== undefined && (g.status === 507 || g.hasCode('quotaLimitReached'));
}

export function isUnauthorized(e: unknown): boolean {
  return graphError(e)?.status === 401;
}

/**
 * Reads Graph's OData error body (§10): `{"error":{"code","message","innerError"|"innererror":{…}}}`.
 * Tolerates a non-JSON or empty body (then the code is `http<status>`).
 */
export function parseErrorBody(
  status: number,
  bodyText: string,
): { graphCode: string; innerCodes: string[]; message: string; requestId: string | undefined } {
  let parsed: unknown;
  try {
    parsed = bodyText.length > 0 ? JSON.parse(bodyText) : undefined;
  } catch {
    parsed = undefined;
  }
  const error = field(parsed, 'error');
  if (typeof error !== 'object' || error === null) {
    const text = bodyText.trim().slice(0, 200);
    return { graphCode: `http${status}`, innerCodes: [], message: text.length > 0 ? text : `HTTP ${status}`, requestId: undefined };
  }
  const code = field(error, 'code');
  const message = field(error, 'message');
  const innerCodes: string[] = [];
  let requestId: string | undefined;
  let inner = innerOf(error);
  // Bounded: a hostile or broken body must not spin forever.
  for (let depth = 0; inner !== undefined && depth < 16; depth++) {
    const innerCode = field(inner, 'code');
    if (typeof innerCode === 'string' && innerCode.length > 0) innerCodes.push(innerCode);
    const rid = field(inner, 'request-id');
    if (requestId === undefined && typeof rid === 'string') requestId = rid;
    inner = innerOf(inner);
  }
  return {
    graphCode: typeof code === 'string' && code.length > 0 ? code : `http${status}`,
    innerCodes,
    message: typeof message === 'string' && message.length > 0 ? message : `HTTP ${status}`,
    requestId,
  };
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

/** `innerError` (Graph) or `innererror` (older OneDrive endpoint), in any letter case. */
function innerOf(value: unknown): object | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [key, inner] of Object.entries(value)) {
    if (key.toLowerCase() === 'innererror' && typeof inner === 'object' && inner !== null) return inner;
  }
  return undefined;
}

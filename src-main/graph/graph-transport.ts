/**
 * One HTTP exchange with Graph or a storage URL, made robust: the whole-client throttle pause,
 * bearer tokens (only on Graph URLs), one refresh-and-retry on 401, capped exponential backoff
 * with full jitter for transient failures, a per-attempt deadline, and typed errors.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import Agent from 'undici/lib/dispatcher/agent.js';
import dispatchRequest from 'undici/lib/api/api-request.js';
import { backoffDelay } from '../base/backoff.ts';
import { DEFAULT_TIMEOUTS } from '../lifecycle/timeout-policy.ts';
import { AbortError, TimeoutError, abortReason, abortableSleep, linkedController, raceWithSignal } from '../base/abort.ts';
import type { Logger } from '../base/logger.ts';
import { redactUrl } from '../base/redact.ts';
import { GraphApiError, NetworkError, parseErrorBody } from './errors.ts';
import { isRetryableStatus, isThrottleStatus, parseRetryAfter } from './retry-policy.ts';
import { ThrottleGate, type GateTicket } from './throttle-gate.ts';
import type { TokenProvider } from './token-provider.ts';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * A request body. A Readable can be sent once, so a request carrying one is never repeated; pass a
 * Buffer or a factory (`() => fs.createReadStream(…)`) to keep retries possible.
 */
export type BodySource = Buffer | Uint8Array | string | Readable | (() => Readable);

export interface TransportOptions {
  tokenProvider: TokenProvider;
  logger?: Logger;
  /** Deadline for one attempt until the answer's headers arrive (and its body, for JSON answers). */
  requestTimeoutMs: number;
  /** Establishing a connection; default the smaller of requestTimeoutMs and the policy's connectTimeoutMs. */
  connectTimeoutMs?: number;
  /** How long an idle connection is kept for the next request unless the server says less (the policy's idleConnectionMs by default). */
  idleConnectionMs?: number;
  /** A body that moves no bytes for this long fails (TimeoutPolicy transferStallTimeoutMs); default requestTimeoutMs. */
  stallTimeoutMs?: number;
  /** Repeats allowed for transient failures (5xx, 408, network errors, timeouts). */
  maxRetries: number;
  /** Repeats allowed after a throttling answer; separate because obeying the server is not failing. */
  maxThrottleRetries?: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** Connections per origin in the pool. */
  connections?: number;
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal | undefined) => Promise<void>;
  random?: () => number;
  /** An undici dispatcher to use instead of the transport's own pooled Agent (not closed by close()). */
  dispatcher?: Dispatcher;
  /**
   * Told once per attempt whether it reached the server: true for any HTTP answer (an error status
   * still proves the service is reachable), false with the failure for a network error or timeout.
   * Attempts the caller aborted are not reported. Feeds the connectivity state machine.
   */
  onOutcome?: (ok: boolean, error?: Error) => void;
  /**
   * While this answers true, network failures are not repeated: the connectivity probe finds out
   * when the service is back, and the callers' own waits (upload queue, journal replay) follow it.
   */
  isOffline?: () => boolean;
}

export interface SendRequest {
  method: HttpMethod;
  /** Used exactly as given. */
  url: string;
  /** Graph API URL (bearer token sent) or a pre-authenticated storage URL (never any token). */
  authenticated: boolean;
  headers?: Record<string, string>;
  body?: BodySource;
  /** Sent as JSON with the matching content type (instead of `body`). */
  json?: unknown;
  signal?: AbortSignal;
  /** Whether transient failures may be repeated (the caller knows if the operation is safe to repeat). */
  retry: boolean;
  /** Non-2xx statuses handed back instead of thrown (302 for /content, 416 for ranges …). */
  accept?: readonly number[];
  /** Hand back the body as a stream instead of reading it (only the headers are under the deadline). */
  stream?: boolean;
  /**
   * Statuses that mean "already done" when they answer a *repeated* attempt, e.g. 404 for a DELETE
   * whose first attempt may have reached the server before the connection broke.
   */
  doneOnRepeat?: readonly number[];
  /**
   * The connectivity probe: its outcome goes to its caller only. A probe that answers must not
   * count as a request getting through (the probe URL may answer while every other one fails).
   */
  probe?: boolean;
}

export interface SendResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body text (empty for stream requests). */
  text: string;
  /** The body stream (stream requests only); the consumer must read it or pass it to discardBody(). */
  body: Dispatcher.ResponseData['body'] | undefined;
  attempts: number;
}

const ERROR_BODY_LIMIT = 64 * 1024;

/** System and undici error codes that mean the exchange failed in transit and may succeed if repeated. */
const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

export function headerValue(headers: SendResult['headers'], name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** A URL fit for logs and error messages; pre-authenticated URLs are credentials, so only their origin shows. */
export function loggableUrl(url: string, authenticated: boolean): string {
  if (authenticated) return redactUrl(url);
  try {
    return `${new URL(url).origin}/[pre-authenticated]`;
  } catch {
    return '[pre-authenticated]';
  }
}

function errorCode(error: unknown): string | undefined {
  // undici wraps socket failures; the system code can sit on the error or its cause.
  for (let e: unknown = error, depth = 0; typeof e === 'object' && e !== null && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (TRANSIENT_NETWORK_CODES.has(code) || code.startsWith('E'))) return code;
    e = (e as { cause?: unknown }).cause;
  }
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export class GraphTransport {
  readonly gate: ThrottleGate;
  readonly #options: Required<Omit<TransportOptions, 'logger' | 'dispatcher' | 'connections' | 'onOutcome' | 'isOffline' | 'connectTimeoutMs' | 'idleConnectionMs' | 'stallTimeoutMs'>>;
  readonly #onOutcome: ((ok: boolean, error?: Error) => void) | undefined;
  readonly #isOffline: () => boolean;
  readonly #logger: Logger | undefined;
  #dispatcher: Dispatcher;
  /** Makes this transport's own dispatcher (undefined when the caller gave one). */
  readonly #newDispatcher: (() => Dispatcher) | undefined;
  /** Dispatchers let go of by dropIdleConnections, closing once their requests are answered. */
  readonly #retired = new Set<Promise<void>>();
  /** The last refresh and the token it replaced: requests that failed with that token share it. */
  #lastRefresh: { from: string; result: Promise<string> } | undefined;

  constructor(options: TransportOptions) {
    const now = options.now ?? Date.now;
    const sleep = options.sleep ?? abortableSleep;
    this.#options = {
      tokenProvider: options.tokenProvider,
      requestTimeoutMs: options.requestTimeoutMs,
      maxRetries: options.maxRetries,
      maxThrottleRetries: options.maxThrottleRetries ?? DEFAULT_TIMEOUTS.requestThrottleRetries,
      retryBaseMs: options.retryBaseMs,
      retryMaxMs: options.retryMaxMs,
      now,
      sleep,
      random: options.random ?? Math.random,
    };
    this.#logger = options.logger;
    this.#onOutcome = options.onOutcome;
    this.#isOffline = options.isOffline ?? (() => false);
    const newAgent = () =>
      new Agent({
        connections: options.connections ?? 8,
        headersTimeout: options.requestTimeoutMs,
        // Idle time between body chunks; the whole body of a large download may take far longer.
        bodyTimeout: options.stallTimeoutMs ?? options.requestTimeoutMs,
        connectTimeout: options.connectTimeoutMs ?? Math.min(options.requestTimeoutMs, DEFAULT_TIMEOUTS.connectTimeoutMs),
        // A server's Keep-Alive hint, when it gives one, still wins (less its 2 s margin).
        keepAliveTimeout: options.idleConnectionMs ?? DEFAULT_TIMEOUTS.idleConnectionMs,
      });
    this.#newDispatcher = options.dispatcher ? undefined : newAgent;
    this.#dispatcher = options.dispatcher ?? newAgent();
    this.gate = new ThrottleGate({
      now,
      sleep,
      onListenerError: (error) => this.#logger?.error({ err: error }, 'throttle listener failed'),
    });
  }

  async close(): Promise<void> {
    this.gate.dispose();
    if (this.#newDispatcher) await Promise.all([this.#dispatcher.close(), ...this.#retired]);
  }

  /**
   * Requests from now on go over new connections; the idle ones are closed, and those carrying a
   * request close once it is answered. After the system slept, or the network changed, a kept
   * connection may lead nowhere: a request sent on it would wait for its whole timeout. Nothing
   * with a dispatcher the caller gave (it is theirs).
   */
  dropIdleConnections(): void {
    if (!this.#newDispatcher) return;
    const old = this.#dispatcher;
    this.#dispatcher = this.#newDispatcher();
    const closing = old.close().catch((error: unknown) => this.#logger?.warn({ err: error }, 'closing the connections of before failed'));
    this.#retired.add(closing);
    void closing.finally(() => this.#retired.delete(closing));
  }

  async send(req: SendRequest): Promise<SendResult> {
    const { signal } = req;
    const options = this.#options;
    const logUrl = loggableUrl(req.url, req.authenticated);
    const what = `${req.method} ${logUrl}`;
    const replayable = !(req.body instanceof Readable);
    const mayRepeat = req.retry && replayable;
    let transientRetries = 0;
    let throttleRetries = 0;
    let refreshed = false;
    let staleToken: string | undefined;
    let usedToken: string | undefined;
    for (let attempt = 1; ; attempt++) {
      const headers: Record<string, string> = { 'client-request-id': randomUUID(), ...req.headers };
      // Wait out any pause, then take the token; if a pause began meanwhile, wait again, so no
      // request leaves during one and none carries a token that went stale during a long wait.
      let ticket: GateTicket | undefined;
      let body: Buffer | Uint8Array | string | Readable | undefined;
      try {
        do {
          ticket = await this.gate.wait(signal, ticket);
          if (req.authenticated) {
            usedToken =
              staleToken !== undefined
                ? await this.#refresh(staleToken, signal)
                : await options.tokenProvider.getToken(signal ?? new AbortController().signal);
            staleToken = undefined;
            headers['authorization'] = `Bearer ${usedToken}`;
          }
        } while (this.gate.throttledUntil !== undefined);
        if (req.json !== undefined) {
          body = JSON.stringify(req.json);
          headers['content-type'] = 'application/json';
        } else if (typeof req.body === 'function') {
          body = req.body();
        } else {
          body = req.body;
        }
      } catch (error) {
        // Never sent: if it was to go first after a pause, the next one in line goes instead.
        if (ticket) this.gate.abandon(ticket);
        throw error;
      }

      const started = options.now();
      const link = linkedController(signal);
      const deadline = setTimeout(() => link.abort(new TimeoutError(`${what} timed out after ${options.requestTimeoutMs} ms`)), options.requestTimeoutMs);
      let response: Dispatcher.ResponseData;
      try {
        const target = new URL(req.url);
        response = await dispatchRequest.call(this.#dispatcher, {
          origin: target.origin,
          path: `${target.pathname}${target.search}`,
          method: req.method,
          headers,
          body: body ?? null,
          signal: link.signal,
        });
        // A throttled answer pauses everyone before the requests held behind this one may go.
        if (isThrottleStatus(response.statusCode)) {
          const wait = parseRetryAfter(headerValue(response.headers, 'retry-after'), options.now());
          if (wait !== undefined) this.gate.pause(wait);
        }
        this.gate.settle(ticket);
      } catch (error) {
        this.gate.settle(ticket);
        clearTimeout(deadline);
        link.dispose();
        if (body instanceof Readable) body.destroy();
        if (signal?.aborted) throw abortReason(signal);
        const failure = this.#classify(error, link.signal, what);
        this.#logger?.debug({ method: req.method, url: logUrl, attempt, err: failure }, 'graph request failed');
        if (!req.probe) this.#reportFailure(failure);
        if (mayRepeat && transientRetries < options.maxRetries && !this.#isOffline()) {
          await options.sleep(backoffDelay(transientRetries++, { baseMs: options.retryBaseMs, maxMs: options.retryMaxMs }, { jitter: 'full', random: options.random }), signal);
          continue;
        }
        throw failure;
      }

      if (!req.probe) this.#report(true);
      const { statusCode: status } = response;
      const resHeaders = response.headers;
      const ok = (status >= 200 && status < 300) || (req.accept?.includes(status) ?? false);
      const repeatedDone = attempt > 1 && (req.doneOnRepeat?.includes(status) ?? false);
      if (ok || repeatedDone) {
        if (req.stream && !repeatedDone) {
          clearTimeout(deadline);
          // The caller's signal keeps governing the stream; the link goes when the stream ends.
          response.body.once('close', () => link.dispose());
          this.#logLine(req.method, logUrl, status, started, attempt, headers);
          return { status, headers: resHeaders, text: '', body: response.body, attempts: attempt };
        }
        try {
          const text = await response.body.text();
          this.#logLine(req.method, logUrl, status, started, attempt, headers);
          return { status, headers: resHeaders, text, body: undefined, attempts: attempt };
        } catch (error) {
          if (signal?.aborted) throw abortReason(signal);
          const failure = this.#classify(error, link.signal, what);
          if (!req.probe) this.#reportFailure(failure);
          if (mayRepeat && transientRetries < options.maxRetries && !this.#isOffline()) {
            await options.sleep(backoffDelay(transientRetries++, { baseMs: options.retryBaseMs, maxMs: options.retryMaxMs }, { jitter: 'full', random: options.random }), signal);
            continue;
          }
          throw failure;
        } finally {
          clearTimeout(deadline);
          link.dispose();
        }
      }

      let errorText: string;
      try {
        errorText = await readLimited(response.body, ERROR_BODY_LIMIT);
      } catch (error) {
        if (signal?.aborted) throw abortReason(signal);
        errorText = '';
        this.#logger?.debug({ err: error, url: logUrl }, 'error body unreadable');
      } finally {
        clearTimeout(deadline);
        link.dispose();
      }
      this.#logLine(req.method, logUrl, status, started, attempt, headers);
      const retryAfterMs = parseRetryAfter(headerValue(resHeaders, 'retry-after'), options.now());
      const parsed = parseErrorBody(status, errorText);
      const failure = new GraphApiError({
        status,
        graphCode: parsed.graphCode,
        innerCodes: parsed.innerCodes,
        message: parsed.message,
        requestId: headerValue(resHeaders, 'request-id') ?? parsed.requestId,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
        ...(headerValue(resHeaders, 'location') === undefined ? {} : { location: headerValue(resHeaders, 'location')! }),
        request: what,
        attempts: attempt,
      });

      if (status === 401 && req.authenticated && !refreshed && replayable && usedToken !== undefined) {
        refreshed = true;
        staleToken = usedToken;
        continue;
      }
      if (isThrottleStatus(status) && retryAfterMs !== undefined) {
        // The pause itself started when the answer arrived (before held requests were released).
        this.#logger?.warn({ url: logUrl, status, retryAfterMs, until: this.gate.throttledUntil }, 'throttled: pausing every request');
        if (replayable && throttleRetries < options.maxThrottleRetries) {
          throttleRetries++;
          continue;
        }
        throw failure;
      }
      if (isRetryableStatus(status) && mayRepeat && transientRetries < options.maxRetries) {
        const wait = retryAfterMs ?? backoffDelay(transientRetries, { baseMs: options.retryBaseMs, maxMs: options.retryMaxMs }, { jitter: 'full', random: options.random });
        transientRetries++;
        this.#logger?.debug({ url: logUrl, status, wait }, 'transient failure, repeating');
        await options.sleep(wait, signal);
        continue;
      }
      throw failure;
    }
  }

  /**
   * A new token to replace `stale`. Concurrent requests rejected with the same token share one
   * refresh (also one that already finished), so a burst of 401s costs a single refresh.
   */
  async #refresh(stale: string, signal: AbortSignal | undefined): Promise<string> {
    let entry = this.#lastRefresh;
    if (entry?.from !== stale) {
      const deadline = AbortSignal.timeout(this.#options.requestTimeoutMs);
      const result = this.#options.tokenProvider.refreshToken(deadline);
      entry = { from: stale, result };
      this.#lastRefresh = entry;
      // A failed refresh must not be reused: the next 401 tries again.
      const current = entry;
      result.catch(() => {
        if (this.#lastRefresh === current) this.#lastRefresh = undefined;
      });
    }
    return signal ? raceWithSignal(entry.result, signal) : entry.result;
  }

  /** Only failures that say nothing came back count against connectivity. */
  #reportFailure(failure: Error): void {
    if (failure instanceof NetworkError || failure instanceof TimeoutError) this.#report(false, failure);
  }

  #report(ok: boolean, error?: Error): void {
    if (!this.#onOutcome) return;
    try {
      this.#onOutcome(ok, error);
    } catch (listenerError) {
      // A broken observer must not fail the request it observes.
      this.#logger?.error({ err: listenerError }, 'the request outcome listener failed');
    }
  }

  #classify(error: unknown, attemptSignal: AbortSignal, what: string): Error {
    if (attemptSignal.aborted && attemptSignal.reason instanceof TimeoutError) return attemptSignal.reason;
    const code = errorCode(error);
    if (code !== undefined && TIMEOUT_CODES.has(code)) {
      return new TimeoutError(`${what} timed out (${code})`, { cause: error });
    }
    if (code !== undefined && TRANSIENT_NETWORK_CODES.has(code)) {
      return new NetworkError(`${what} failed: ${code}`, { cause: error, causeCode: code });
    }
    if (error instanceof AbortError) return error;
    const message = error instanceof Error ? error.message : String(error);
    // "socket hang up", "other side closed" and friends without a known code.
    if (/socket|hang up|closed|reset|refused|network/i.test(message)) {
      return new NetworkError(`${what} failed: ${message}`, { cause: error, ...(code === undefined ? {} : { causeCode: code }) });
    }
    return error instanceof Error ? error : new NetworkError(`${what} failed: ${message}`, { cause: error });
  }

  #logLine(method: string, url: string, status: number, started: number, attempt: number, headers: Record<string, string>): void {
    this.#logger?.debug(
      { method, url, status, ms: this.#options.now() - started, attempt, clientRequestId: headers['client-request-id'] },
      'graph request',
    );
  }
}

/**
 * Drops a body the caller does not want (a redirect's, an error's): small ones are drained so the
 * connection can be reused, larger ones close it. Unlike destroy(), this raises no abort error.
 */
export async function discardBody(body: Dispatcher.ResponseData['body']): Promise<void> {
  await body.dump({ limit: 64 * 1024 });
}

async function readLimited(body: Readable, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = chunk as Buffer;
    if (size < limit) chunks.push(buffer.subarray(0, limit - size));
    size += buffer.length;
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * When and how long to wait before repeating a Graph request (docs/graph-api.md §10): Retry-After when
 * the server names a wait, otherwise capped exponential backoff with full jitter (base/backoff.ts).
 */

/** Statuses worth repeating: transient server trouble, request timeout, throttling. */
const RETRYABLE_STATUSES = new Set([408, 429, 500, 502, 503, 504, 509]);

export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUSES.has(status);
}

/** Statuses whose Retry-After pauses the whole client, not just the request that got it. */
export function isThrottleStatus(status: number): boolean {
  return status === 429 || status === 503 || status === 509;
}

/**
 * Retry-After as milliseconds from `nowMs`: either delay-seconds (`"120"`) or an HTTP date. A date
 * in the past gives 0; a missing or unreadable value gives undefined (the caller backs off instead).
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (text.length === 0) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Fractional seconds are not in RFC 9110 but cost nothing to honour.
  if (/^\d*\.\d+$/.test(text)) return Math.ceil(Number(text) * 1000);
  // An HTTP date always names its month; Date.parse alone would read "-5" as a year.
  if (!/[A-Za-z]{3}/.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

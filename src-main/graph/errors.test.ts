import { describe, expect, it } from 'vitest';
import {
  GraphApiError,
  isNameConflict,
  isNotFound,
  isPreconditionFailed,
  isQuota,
  isResyncRequired,
  isThrottled,
  parseErrorBody,
} from './errors.ts';

function apiError(status: number, body: unknown, request = 'GET http://x/v1.0/me/drive/items/1', retryAfterMs?: number): GraphApiError {
  const parsed = parseErrorBody(status, typeof body === 'string' ? body : JSON.stringify(body));
  return new GraphApiError({ status, ...parsed, request, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
}

describe('parseErrorBody', () => {
  it('walks nested innerError / innererror to the most specific code', () => {
    const throttle = {
      error: {
        code: 'activityLimitReached',
        message: 'The request has been throttled',
        innerError: { code: 'throttledRequest', innerError: { code: 'quota' }, 'request-id': 'rid-1' },
      },
    };
    expect(parseErrorBody(429, JSON.stringify(throttle))).toEqual({
      graphCode: 'activityLimitReached',
      innerCodes: ['throttledRequest', 'quota'],
      message: 'The request has been throttled',
      requestId: 'rid-1',
    });
    const legacy = { error: { code: 'invalidRange', message: 'overlaps', innererror: { code: 'fragmentOverlap' } } };
    expect(parseErrorBody(416, JSON.stringify(legacy)).innerCodes).toEqual(['fragmentOverlap']);
  });

  it('survives bodies that are empty, not JSON, or not an OData error', () => {
    expect(parseErrorBody(502, '')).toEqual({ graphCode: 'http502', innerCodes: [], message: 'HTTP 502', requestId: undefined });
    expect(parseErrorBody(500, '<html>oops</html>').message).toBe('<html>oops</html>');
    expect(parseErrorBody(400, '{"error":"nope"}').graphCode).toBe('http400');
    expect(parseErrorBody(400, '{"error":{"code":7}}').graphCode).toBe('http400');
  });
});

describe('error predicates', () => {
  it('compares codes case-insensitively, inner codes included', () => {
    const e = apiError(401, { error: { code: 'InvalidAuthenticationToken', message: 'expired' } });
    expect(e.hasCode('invalidauthenticationtoken')).toBe(true);
    const inner = apiError(412, { error: { code: 'resourceModified', message: 'x', innerError: { code: 'EntityTagDoesNotMatch' } } });
    expect(inner.hasCode('entityTagDoesNotMatch')).toBe(true);
    expect(inner.hasCode('nameAlreadyExists')).toBe(false);
    expect(isPreconditionFailed(inner)).toBe(true);
  });

  it('recognises resync: 410, syncStateNotFound, and 404 on a delta URL only', () => {
    expect(isResyncRequired(apiError(410, { error: { code: 'resyncRequired', message: 'x' } }))).toBe(true);
    expect(isResyncRequired(apiError(400, { error: { code: 'SyncStateNotFound', message: 'x' } }))).toBe(true);
    expect(isResyncRequired(apiError(404, { error: { code: 'itemNotFound', message: 'x' } }, 'GET http://x/v1.0/me/drive/root/delta?token=[REDACTED]'))).toBe(true);
    expect(isResyncRequired(apiError(404, { error: { code: 'itemNotFound', message: 'x' } }))).toBe(false);
    expect(isResyncRequired(new Error('410'))).toBe(false);
  });

  it('classifies not found, name conflict, throttling and quota', () => {
    expect(isNotFound(apiError(404, { error: { code: 'itemNotFound', message: 'x' } }))).toBe(true);
    expect(isNameConflict(apiError(409, { error: { code: 'nameAlreadyExists', message: 'x' } }))).toBe(true);
    expect(isThrottled(apiError(429, ''))).toBe(true);
    expect(isThrottled(apiError(503, '', undefined, 2000))).toBe(true);
    expect(isThrottled(apiError(503, ''))).toBe(false);
    expect(isQuota(apiError(507, { error: { code: 'quotaLimitReached', message: 'x' } }))).toBe(true);
    expect(isQuota(apiError(404, ''))).toBe(false);
  });

  it('keeps the server message and a readable summary apart', () => {
    const e = apiError(404, { error: { code: 'itemNotFound', message: 'Item not found' } });
    expect(e.serverMessage).toBe('Item not found');
    expect(e.message).toContain('404 itemNotFound');
    expect(e.code).toBe('GRAPH_404');
    expect(e.withAttempts(3).attempts).toBe(3);
    expect(e.withAttempts(3).serverMessage).toBe('Item not found');
  });
});

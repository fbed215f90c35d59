import { describe, expect, it } from 'vitest';
import { OneMountError, errorMessage, isOneMountError, toError } from './errors.ts';

class StoreError extends OneMountError {}

describe('OneMountError', () => {
  it('carries code, message, cause and its subclass name', () => {
    const cause = new Error('disk full');
    const error = new StoreError('STORE_WRITE', 'could not save', { cause });
    expect(error).toBeInstanceOf(Error);
    expect([error.code, error.message, error.name, error.cause]).toEqual(['STORE_WRITE', 'could not save', 'StoreError', cause]);
    expect(new OneMountError('X', 'no cause')).not.toHaveProperty('cause');
  });

  it('isOneMountError checks class and optionally code', () => {
    const error = new OneMountError('A', 'a');
    expect(isOneMountError(error)).toBe(true);
    expect(isOneMountError(error, 'A')).toBe(true);
    expect(isOneMountError(error, 'B')).toBe(false);
    expect(isOneMountError(Object.assign(new Error('x'), { code: 'A' }), 'A')).toBe(false);
  });

  it('errorMessage and toError handle thrown non-Errors', () => {
    expect(errorMessage(new Error('m'))).toBe('m');
    expect(errorMessage('text')).toBe('text');
    expect(errorMessage({ a: 1 })).toBe('{"a":1}');
    expect(errorMessage(undefined)).toBe('undefined');
    const wrapped = toError(42);
    expect(wrapped).toBeInstanceOf(OneMountError);
    expect([(wrapped as OneMountError).code, wrapped.message, wrapped.cause]).toEqual(['NON_ERROR_THROWN', '42', 42]);
    const same = new Error('e');
    expect(toError(same)).toBe(same);
  });
});

import { describe, expect, it } from 'vitest';
import { TypedEmitter } from './typed-emitter.ts';

interface Events {
  progress: { done: number };
  closed: undefined;
}

function emitterWithErrors() {
  const errors: Array<[unknown, string]> = [];
  const emitter = new TypedEmitter<Events>((error, event) => errors.push([error, event]));
  return { emitter, errors };
}

describe('TypedEmitter', () => {
  it('delivers payloads to listeners of that event only, in subscription order', () => {
    const { emitter } = emitterWithErrors();
    const seen: string[] = [];
    emitter.on('progress', (p) => void seen.push(`a${p.done}`));
    emitter.on('progress', (p) => void seen.push(`b${p.done}`));
    emitter.on('closed', () => void seen.push('closed'));
    emitter.emit('progress', { done: 1 });
    expect(seen).toEqual(['a1', 'b1']);
    expect(emitter.listenerCount('progress')).toBe(2);
  });

  it('unsubscribes through the returned function, off and once', () => {
    const { emitter } = emitterWithErrors();
    const seen: number[] = [];
    const off = emitter.on('progress', (p) => void seen.push(p.done));
    const listener = (p: { done: number }) => void seen.push(p.done * 10);
    emitter.on('progress', listener);
    emitter.once('progress', (p) => void seen.push(p.done * 100));
    emitter.emit('progress', { done: 1 });
    off();
    emitter.off('progress', listener);
    emitter.emit('progress', { done: 2 });
    expect(seen).toEqual([1, 10, 100]);
    expect(emitter.listenerCount('progress')).toBe(0);
  });

  it('reports a throwing listener and still calls the others', () => {
    const { emitter, errors } = emitterWithErrors();
    const seen: number[] = [];
    const boom = new Error('listener failed');
    emitter.on('progress', () => {
      throw boom;
    });
    emitter.on('progress', (p) => void seen.push(p.done));
    emitter.emit('progress', { done: 3 });
    expect(seen).toEqual([3]);
    expect(errors).toEqual([[boom, 'progress']]);
  });

  it('reports a rejecting async listener', async () => {
    const { emitter, errors } = emitterWithErrors();
    const boom = new Error('async failure');
    emitter.on('closed', async () => {
      await Promise.resolve();
      throw boom;
    });
    emitter.emit('closed', undefined);
    await new Promise((resolve) => setImmediate(resolve));
    expect(errors).toEqual([[boom, 'closed']]);
  });
});

import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMemoryLogger } from '../base/logger.ts';
import { TaskRegistry } from '../lifecycle/task-registry.ts';
import { PauseControl, type PauseState } from './pause-control.ts';

function parts() {
  const calls: string[] = [];
  const part = (name: string) => ({ pause: () => calls.push(`${name}:pause`), resume: () => calls.push(`${name}:resume`) });
  return { calls, list: [part('sync'), part('uploads')] };
}

describe('PauseControl', () => {
  const registries: TaskRegistry[] = [];
  const registry = () => {
    const r = new TaskRegistry({ logger: createMemoryLogger().logger });
    registries.push(r);
    return r;
  };
  afterEach(async () => {
    vi.useRealTimers();
    for (const r of registries.splice(0)) await r.stopAll(1000);
  });

  it('pauses every part once and resumes them once', () => {
    const { calls, list } = parts();
    const states: PauseState[] = [];
    const control = new PauseControl(list, registry(), (s) => states.push(s));
    control.pause();
    control.pause();
    expect(calls).toEqual(['sync:pause', 'uploads:pause']);
    expect(control.state).toEqual({ paused: true });
    control.resume();
    control.resume();
    expect(calls).toEqual(['sync:pause', 'uploads:pause', 'sync:resume', 'uploads:resume']);
    expect(states).toEqual([{ paused: true }, { paused: true }, { paused: false }]);
  });

  it('a timed pause resumes by itself, and a later pause replaces its timer', async () => {
    vi.useFakeTimers();
    const { calls, list } = parts();
    const tasks = registry();
    const control = new PauseControl(list, tasks, () => undefined, () => 1000);
    expect(control.pause(60_000)).toEqual({ paused: true, until: 61_000 });
    control.pause(30);
    expect(tasks.list().filter((t) => t.name === 'pause-timer').length).toBeLessThanOrEqual(2);
    await vi.advanceTimersByTimeAsync(29);
    expect(control.state).toEqual({ paused: true, until: 1030 });
    await vi.advanceTimersByTimeAsync(1);
    expect(control.state).toEqual({ paused: false });
    expect(calls).toEqual(['sync:pause', 'uploads:pause', 'sync:resume', 'uploads:resume']);
    // The replaced 60 s timer is gone too, not merely overtaken.
    await vi.runAllTimersAsync();
    expect(tasks.list().filter((t) => t.name === 'pause-timer')).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('refuses a nonsense duration without pausing', () => {
    const { calls, list } = parts();
    const control = new PauseControl(list, registry(), () => undefined);
    expect(() => control.pause(-5)).toThrow(RangeError);
    expect(calls).toEqual([]);
  });
});

/** The connectivity state machine with a scripted probe, an injected sleep and a fake clock. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { abortReason } from '../base/abort.ts';
import { createMemoryLogger } from '../base/logger.ts';
import { NetworkError, GraphApiError } from '../graph/errors.ts';
import { TaskRegistry } from '../lifecycle/task-registry.ts';
import type { Connectivity } from '../../src-shared/model/transfer.ts';
import { ConnectivitySchema } from '../../src-shared/model/transfer.ts';
import { ConnectivityMonitor, OfflineError, describeFailure, type ConnectivityOptions } from './connectivity.ts';

const refused = () => new NetworkError('GET /me/drive failed: ECONNREFUSED', { causeCode: 'ECONNREFUSED' });

interface Pending<T> {
  settle: T;
  signal: AbortSignal;
}

/** A monitor whose probes and backoff waits stay pending until the test settles them. */
function setup(overrides: Partial<ConnectivityOptions> = {}) {
  const { logger, records } = createMemoryLogger();
  const tasks = new TaskRegistry({ logger });
  let clock = 10_000;
  const probes: Array<Pending<(error?: Error) => void>> = [];
  const sleeps: Array<Pending<() => void> & { ms: number }> = [];
  const events: Array<[string, Connectivity]> = [];
  const monitor = new ConnectivityMonitor({
    tasks,
    logger,
    probeTimeoutMs: 5_000,
    now: () => clock,
    probe: (signal) =>
      new Promise<void>((resolve, reject) => {
        const entry = { settle: (error?: Error) => (error ? reject(error) : resolve()), signal };
        probes.push(entry);
        signal.addEventListener('abort', () => reject(abortReason(signal)), { once: true });
      }),
    sleep: (ms, signal) =>
      new Promise<void>((resolve, reject) => {
        sleeps.push({ ms, settle: resolve, signal });
        signal.addEventListener('abort', () => reject(abortReason(signal)), { once: true });
      }),
    ...overrides,
  });
  for (const event of ['change', 'offline', 'online'] as const) monitor.on(event, (c) => void events.push([event, c]));
  const settled = async () => {
    // Enough turns for a probe result to go through the loop, the state and a delivery task.
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  };
  return {
    monitor,
    tasks,
    records,
    events,
    probes,
    sleeps,
    settled,
    advance: (ms: number) => (clock += ms),
    /** The probe in flight (the last one started, not aborted). */
    probe: () => {
      const p = probes.at(-1);
      if (!p || p.signal.aborted) throw new Error('no probe in flight');
      return p;
    },
    /** The backoff wait in progress. */
    waiting: () => {
      const s = sleeps.at(-1);
      if (!s || s.signal.aborted) throw new Error('no backoff wait in progress');
      return s;
    },
    runningProbes: () => tasks.list().filter((t) => t.name === 'connectivity-probe' && t.state === 'running').length,
    named: (name: string) => events.filter(([e]) => e === name).map(([, c]) => c),
  };
}

describe('ConnectivityMonitor', () => {
  it('does not say online while every request fails, even when the probe answers (issue #11 point 6)', async () => {
    const t = setup({ failuresBeforeDistrust: 3 });
    // The probe URL answers; the URLs the work uses (a stale delta link, an upload session) refuse.
    t.monitor.report(false, refused());
    await t.settled();
    t.probe().settle();
    await t.settled();
    expect(t.monitor.current.state).toBe('online');
    for (let i = 0; i < 2; i++) {
      t.monitor.report(false, refused());
      await t.settled();
      t.probe().settle();
      await t.settled();
    }
    // Three requests in a row failed, none answered: the answering probe no longer means online.
    expect(t.monitor.current).toMatchObject({ state: 'offline', reason: 'OneDrive answers, but 3 requests in a row failed (connection refused)' });
    ConnectivitySchema.parse(t.monitor.current);
    // Not an outage: nothing is held back, reads do not fail fast, work keeps trying on its own.
    expect(t.monitor.offline).toBe(false);
    expect(t.monitor.offlineSignal.aborted).toBe(false);
    expect(t.named('offline')).toEqual([]);
    // The probe keeps looking, on its backoff, and still cannot end this state by answering.
    t.monitor.report(false, refused());
    t.advance(t.waiting().ms);
    t.waiting().settle();
    await t.settled();
    t.probe().settle();
    await t.settled();
    expect(t.monitor.current).toMatchObject({ state: 'offline', reason: 'OneDrive answers, but 4 requests in a row failed (connection refused)' });
    // The first request that gets an answer ends it.
    t.monitor.report(true);
    await t.settled();
    expect(t.monitor.current.state).toBe('online');
    expect(t.runningProbes()).toBe(0);
    await t.monitor.stop();
    expect(t.tasks.list()).toEqual([]);
  });

  it('starts online and stays there on answers, whatever their status', async () => {
    const t = setup();
    t.monitor.report(true);
    await t.settled();
    expect(t.monitor.current).toEqual({ state: 'online', since: 10_000 });
    expect(t.monitor.offline).toBe(false);
    expect(t.probes).toHaveLength(0);
    expect(t.events).toHaveLength(0);
  });

  it('a network failure starts a probe at once; a failed probe means offline, with the next retry and the reason', async () => {
    const t = setup();
    const signal = t.monitor.offlineSignal;
    t.monitor.report(false, refused());
    expect(t.monitor.current).toEqual({ state: 'checking', since: 10_000 });
    expect(t.monitor.offline).toBe(false);
    await t.settled();
    expect(t.probes).toHaveLength(1);
    t.advance(30);
    t.probe().settle(refused());
    await t.settled();
    const offline = { state: 'offline', since: 10_000, nextRetryAt: 10_030 + 1_000, reason: 'connection refused' };
    expect(t.monitor.current).toEqual(offline);
    expect(ConnectivitySchema.parse(t.monitor.current)).toEqual(offline);
    expect(t.monitor.offline).toBe(true);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(OfflineError);
    expect(signal.reason).toBeInstanceOf(NetworkError);
    expect(t.named('offline')).toEqual([offline]);
    expect(t.named('change').map((c) => c.state)).toEqual(['checking', 'offline']);
    expect(t.waiting().ms).toBe(1_000);
  });

  it('probes again with a backoff that doubles up to the maximum, and comes back online when a probe answers', async () => {
    const t = setup({ backoff: { baseMs: 1_000, maxMs: 20_000 } });
    t.monitor.report(false, refused());
    await t.settled();
    for (let i = 0; i < 7; i++) {
      t.probe().settle(refused());
      await t.settled();
      expect(t.monitor.current.state).toBe('offline');
      t.advance(t.waiting().ms);
      t.waiting().settle();
      await t.settled();
      expect(t.monitor.current).toMatchObject({ state: 'checking', since: 10_000 });
      expect(t.monitor.offline).toBe(true);
    }
    expect(t.sleeps.map((s) => s.ms)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 20_000, 20_000]);
    const lostSignal = t.monitor.offlineSignal;
    t.probe().settle();
    await t.settled();
    expect(t.monitor.current).toEqual({ state: 'online', since: 10_000 + 71_000 });
    expect(t.monitor.offline).toBe(false);
    expect(lostSignal.aborted).toBe(true);
    expect(t.monitor.offlineSignal.aborted).toBe(false);
    expect(t.named('offline')).toHaveLength(1);
    expect(t.named('online')).toEqual([t.monitor.current]);
    expect(t.runningProbes()).toBe(0);
  });

  it('a request answering during the backoff ends the outage and the probe at once', async () => {
    const t = setup();
    t.monitor.report(false, refused());
    await t.settled();
    t.probe().settle(refused());
    await t.settled();
    const wait = t.waiting();
    t.monitor.report(true);
    expect(t.monitor.current.state).toBe('online');
    await t.settled();
    expect(wait.signal.aborted).toBe(true);
    expect(t.runningProbes()).toBe(0);
    expect(t.tasks.list().filter((task) => task.name === 'connectivity-probe')).toEqual([]);
    expect(t.probes).toHaveLength(1);
    expect(t.named('online')).toHaveLength(1);
  });

  it('one failure whose probe answers is a glitch, not an outage: no offline event', async () => {
    const t = setup();
    t.monitor.report(false, refused());
    await t.settled();
    t.monitor.report(false, refused());
    await t.settled();
    expect(t.probes).toHaveLength(1);
    t.probe().settle();
    await t.settled();
    expect(t.monitor.current.state).toBe('online');
    expect(t.named('change').map((c) => c.state)).toEqual(['checking', 'online']);
    expect(t.named('offline')).toEqual([]);
    expect(t.named('online')).toEqual([]);
  });

  it('a probe that gets no answer within probeTimeoutMs counts as failed', async () => {
    const { logger } = createMemoryLogger();
    const tasks = new TaskRegistry({ logger });
    const never = (signal: AbortSignal) => new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(abortReason(signal)), { once: true }));
    const monitor = new ConnectivityMonitor({ tasks, logger, probeTimeoutMs: 20, probe: never, backoff: { baseMs: 60_000, maxMs: 60_000 } });
    monitor.report(false, refused());
    const offline = await new Promise<Connectivity>((resolve) => monitor.on('offline', resolve));
    expect(offline).toMatchObject({ state: 'offline', reason: 'no answer in time' });
    await monitor.stop();
    expect(tasks.list()).toEqual([]);
  });

  it('runs handlers as named tasks, in the order of the changes; a failing handler is logged and the next still runs', async () => {
    const t = setup();
    const seen: string[] = [];
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    t.monitor.on('offline', async (_c, signal) => {
      seen.push(`offline-start:${signal.aborted}`);
      await slow;
      seen.push('offline-end');
    });
    t.monitor.on('offline', () => {
      throw new Error('handler broke');
    });
    t.monitor.on('offline', () => void seen.push('offline-after-broken'));
    t.monitor.on('online', () => void seen.push('online'));
    t.monitor.report(false, refused());
    await t.settled();
    t.probe().settle(refused());
    await t.settled();
    expect(t.tasks.list().map((task) => task.name)).toContain('connectivity-listeners:offline');
    t.monitor.report(true);
    await t.settled();
    // The online handlers wait for the offline ones still running.
    expect(seen).toEqual(['offline-start:false']);
    release();
    await t.settled();
    expect(seen).toEqual(['offline-start:false', 'offline-end', 'offline-after-broken', 'online']);
    expect(t.records().some((r) => r['msg'] === 'a connectivity "offline" handler failed')).toBe(true);
  });

  it('stop() ends the probe and waits for deliveries; later outcomes are ignored and no task is left', async () => {
    const t = setup();
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    let finished = false;
    t.monitor.on('offline', async () => {
      await slow;
      finished = true;
    });
    t.monitor.report(false, refused());
    await t.settled();
    t.probe().settle(refused());
    await t.settled();
    const stopping = t.monitor.stop();
    let stopped = false;
    void stopping.then(() => (stopped = true));
    await t.settled();
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(finished).toBe(true);
    expect(t.tasks.list()).toEqual([]);
    t.monitor.report(true);
    t.monitor.report(false, refused());
    t.monitor.checkNow();
    await t.settled();
    expect(t.tasks.list()).toEqual([]);
    expect(t.monitor.current.state).toBe('offline');
  });

  it('checkNow() cuts the backoff short', async () => {
    const t = setup();
    t.monitor.report(false, refused());
    await t.settled();
    t.probe().settle(refused());
    await t.settled();
    const wait = t.waiting();
    t.monitor.checkNow();
    await t.settled();
    expect(wait.signal.aborted).toBe(true);
    expect(t.probes).toHaveLength(2);
    expect(t.monitor.current.state).toBe('checking');
    t.probe().settle(refused());
    await t.settled();
    // The failure count goes on: a probe asked for early is still a failed probe.
    expect(t.waiting().ms).toBe(2_000);
    await t.monitor.stop();
  });

  it('describes failures in words', () => {
    expect(describeFailure(refused())).toBe('connection refused');
    expect(describeFailure(new NetworkError('x', { causeCode: 'EAI_AGAIN' }))).toBe('DNS lookup failed');
    expect(describeFailure(new GraphApiError({ status: 500, graphCode: 'generalException', message: 'boom', request: 'GET /' }))).toMatch(/500/);
  });

  it('keeps its invariants under any interleaving of outcomes, probe results and backoff ends', async () => {
    type Step = 'ok' | 'fail' | 'probe-ok' | 'probe-fail' | 'wake' | 'check-now';
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom<Step>('ok', 'fail', 'probe-ok', 'probe-fail', 'wake', 'check-now'), { maxLength: 40 }), async (steps) => {
        const t = setup();
        for (const step of steps) {
          const probe = t.probes.at(-1);
          const wait = t.sleeps.at(-1);
          if (step === 'ok') t.monitor.report(true);
          else if (step === 'fail') t.monitor.report(false, refused());
          else if (step === 'check-now') t.monitor.checkNow();
          else if (step === 'probe-ok' && probe && !probe.signal.aborted) probe.settle();
          else if (step === 'probe-fail' && probe && !probe.signal.aborted) probe.settle(refused());
          else if (step === 'wake' && wait && !wait.signal.aborted) wait.settle();
          await t.settled();
          const state = t.monitor.current.state;
          if (step === 'ok') expect(state).toBe('online');
          expect(t.runningProbes()).toBeLessThanOrEqual(1);
          if (state === 'online') {
            expect(t.runningProbes()).toBe(0);
            expect(t.monitor.offline).toBe(false);
            expect(t.monitor.offlineSignal.aborted).toBe(false);
          } else {
            // Checking or offline: exactly one probe is in flight or waiting out its backoff.
            expect(t.runningProbes()).toBe(1);
            expect(state === 'checking' ? t.probe() : t.waiting()).toBeDefined();
            expect(t.monitor.offlineSignal.aborted).toBe(t.monitor.offline);
            // Offline is an outage, unless requests fail while the probe answers (no outage then).
            const c = t.monitor.current;
            if (c.state === 'offline') expect(t.monitor.offline).toBe(!c.reason?.startsWith('OneDrive answers, but'));
          }
          ConnectivitySchema.parse(t.monitor.current);
        }
        // Outages begin and end in turn, each once.
        const edges = t.events.filter(([e]) => e !== 'change').map(([e]) => e);
        edges.forEach((e, i) => expect(e).toBe(i % 2 === 0 ? 'offline' : 'online'));
        await t.monitor.stop();
        expect(t.tasks.list()).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });
});

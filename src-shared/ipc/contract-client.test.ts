import { describe, expect, it } from 'vitest';
import { ContractClient } from './contract-client.ts';
import type { EngineLink } from './api.ts';

function connectedClient() {
  const sent: Array<{ id: number; method: string; params: unknown }> = [];
  const client = new ContractClient({ send: (t) => sent.push(JSON.parse(t)) });
  client.setLink({ state: 'connected' });
  return { client, sent };
}

describe('ContractClient', () => {
  it('matches answers to calls by id and validates results', async () => {
    const { client, sent } = connectedClient();
    const a = client.call('syncNow', {});
    const b = client.call('pause', { durationMs: 7_200_000 });
    expect(sent.map((m) => m.method)).toEqual(['syncNow', 'pause']);
    client.receive(JSON.stringify({ id: sent[1]!.id, result: { paused: true, until: 123 } }));
    client.receive(JSON.stringify({ id: sent[0]!.id, result: { started: true } }));
    await expect(a).resolves.toEqual({ started: true });
    await expect(b).resolves.toEqual({ paused: true, until: 123 });
  });

  it('rejects with the engine error code, and results outside the contract', async () => {
    const { client, sent } = connectedClient();
    const a = client.call('resume', {});
    client.receive(JSON.stringify({ id: sent[0]!.id, error: { code: 'NOT_SUPPORTED', message: 'cannot pause yet' } }));
    await expect(a).rejects.toMatchObject({ code: 'NOT_SUPPORTED', message: 'cannot pause yet' });
    const b = client.call('syncNow', {});
    client.receive(JSON.stringify({ id: sent[1]!.id, result: { started: 'yes' } }));
    await expect(b).rejects.toMatchObject({ code: 'BAD_RESULT' });
  });

  it('checks params before sending', async () => {
    const { client, sent } = connectedClient();
    await expect(client.call('pause', { durationMs: -5 })).rejects.toMatchObject({ code: 'BAD_PARAMS' });
    expect(sent).toHaveLength(0);
  });

  it('fails pending calls when the link drops and refuses calls while down', async () => {
    const { client } = connectedClient();
    const links: EngineLink[] = [];
    client.onLink((l) => links.push(l));
    const a = client.call('status', {});
    client.setLink({ state: 'disconnected', reason: 'the engine is not running' });
    await expect(a).rejects.toMatchObject({ code: 'ENGINE_UNREACHABLE', message: 'the engine is not running' });
    await expect(client.call('status', {})).rejects.toMatchObject({ code: 'ENGINE_UNREACHABLE' });
    expect(links.map((l) => l.state)).toEqual(['connected', 'disconnected']);
  });

  it('times out a call without an answer', async () => {
    const timers: Array<() => void> = [];
    const client = new ContractClient({ send: () => undefined, setTimer: (fn) => timers.push(fn), clearTimer: () => undefined, callTimeoutMs: 5000 });
    client.setLink({ state: 'connected' });
    const a = client.call('status', {});
    timers[0]!();
    await expect(a).rejects.toMatchObject({ code: 'IPC_TIMEOUT' });
  });

  it('delivers validated events to listeners until removed, ignores unknown events', () => {
    const { client } = connectedClient();
    const got: unknown[] = [];
    const off = client.on('shutdown', (p) => got.push(p.phase));
    const progress = { phase: 'uploads', phaseIndex: 2, phases: ['stop-new-work', 'stop-sync', 'uploads'], itemsLeft: 3, budgetLeftMs: 1000, done: false };
    client.receive(JSON.stringify({ event: 'shutdown', payload: progress }));
    client.receive(JSON.stringify({ event: 'from-the-future', payload: {} }));
    off();
    client.receive(JSON.stringify({ event: 'shutdown', payload: progress }));
    expect(got).toEqual(['uploads']);
    expect(() => client.receive(JSON.stringify({ event: 'shutdown', payload: { phase: 'nope' } }))).toThrow();
    expect(() => client.receive('not json')).toThrow(/not in the contract/);
  });
});

import { describe, expect, it } from 'vitest';
import { ContractClient } from '../../src-shared/ipc/contract-client.ts';
import type { EngineStatus } from '../../src-shared/ipc/contract.ts';
import { feedStores, panelActions } from './feed.ts';
import { createPanelStores } from './stores.ts';

const status = (o: Partial<EngineStatus> = {}): EngineStatus => ({ account: 'me', mountpoint: '/m', state: 'ready', items: 3, cachedBytes: 0, transfers: [], pid: 1, ...o });

/** A client wired to a scripted engine: each request is answered by `answer`. */
function scriptedEngine(answer: (method: string, params: unknown) => { result?: unknown; error?: { code: string; message: string } }) {
  const calls: string[] = [];
  const client: ContractClient = new ContractClient({
    send: (text) => {
      const { id, method, params } = JSON.parse(text) as { id: number; method: string; params: unknown };
      calls.push(method);
      queueMicrotask(() => client.receive(JSON.stringify({ id, ...answer(method, params) })));
    },
  });
  return { client, calls };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe('feedStores', () => {
  it('loads everything on connect, polls status, and stops polling when the link drops', async () => {
    const polls: Array<() => void> = [];
    let cleared = 0;
    const { client, calls } = scriptedEngine((method) => {
      if (method === 'status') return { result: status({ conflicts: 1, transfers: [{ id: 't', itemId: 'i', path: '/a', direction: 'upload', state: 'active', bytes: 1, total: 2, updatedAt: 0 }] }) };
      if (method === 'conflicts') return { result: { conflicts: [{ id: 7, itemId: 'i', path: '/a.docx', reason: 'both-modified', localCopyName: 'a (conflict).docx', detectedAt: 5 }] } };
      if (method === 'settings') return { error: { code: 'NOT_SUPPORTED', message: 'this engine cannot report its settings yet' } };
      return { result: { ok: true } };
    });
    const stores = createPanelStores();
    const stop = feedStores(client, stores, { setInterval: (fn) => polls.push(fn), clearInterval: () => cleared++ });
    expect(stores.engine.getState().link.state).toBe('connecting');
    client.setLink({ state: 'connected' });
    await settle();
    expect(calls.slice(0, 4).sort()).toEqual(['conflicts', 'settings', 'status', 'subscribe']);
    expect(stores.engine.getState().status?.items).toBe(3);
    expect(stores.transfers.getState().uploads.map((u) => u.id)).toEqual(['t']);
    expect(stores.conflicts.getState().conflicts.map((c) => c.id)).toEqual([7]);
    expect(stores.view.getState().settingsUnavailable).toBe('this engine cannot report its settings yet');
    expect(polls).toHaveLength(1);
    polls[0]!();
    await settle();
    expect(calls.filter((c) => c === 'status')).toHaveLength(2);
    client.setLink({ state: 'disconnected', reason: 'gone' });
    expect(cleared).toBe(1);
    expect(stores.engine.getState().link).toEqual({ state: 'disconnected', reason: 'gone' });
    stop();
  });

  it('applies pushed events', async () => {
    const { client } = scriptedEngine((method) => (method === 'status' ? { result: status() } : method === 'conflicts' ? { result: { conflicts: [] } } : { result: { ok: true } }));
    const stores = createPanelStores();
    feedStores(client, stores, { setInterval: () => 0, clearInterval: () => undefined });
    client.setLink({ state: 'connected' });
    await settle();
    client.receive(JSON.stringify({ event: 'status', payload: status({ connectivity: { state: 'offline', since: 1, nextRetryAt: 2 } }) }));
    expect(stores.engine.getState().status?.connectivity?.state).toBe('offline');
    client.receive(JSON.stringify({ event: 'shutdown', payload: { phase: 'stop-sync', phaseIndex: 1, phases: ['stop-new-work', 'stop-sync'], itemsLeft: 0, budgetLeftMs: 9000, done: false } }));
    client.receive(JSON.stringify({ event: 'shutdown', payload: { phase: 'stop-sync', phaseIndex: 1, phases: ['stop-new-work', 'stop-sync'], itemsLeft: 0, budgetLeftMs: 4000, done: true } }));
    expect(stores.shutdown.getState()).toMatchObject({ budgetMs: 9000, progress: { budgetLeftMs: 4000, done: true } });
  });
});

describe('panelActions', () => {
  it('turns an engine that cannot do something into a notice, not a silent failure', async () => {
    const { client } = scriptedEngine((method) => (method === 'pause' ? { error: { code: 'NOT_SUPPORTED', message: 'this engine cannot pause syncing yet' } } : { result: status() }));
    client.setLink({ state: 'connected' });
    const stores = createPanelStores();
    await panelActions(client, stores).pause(7_200_000);
    expect(stores.engine.getState().notices.map((n) => n.text)).toEqual(['Could not pause: this engine cannot pause syncing yet']);
  });

  it('resolves a conflict and reloads the list', async () => {
    let listed = [{ id: 7, itemId: 'i', path: '/a.docx', reason: 'both-modified', localCopyName: null, detectedAt: 5 }];
    const seen: unknown[] = [];
    const { client } = scriptedEngine((method, params) => {
      if (method === 'resolveConflict') {
        seen.push(params);
        listed = [];
        return { result: { ok: true } };
      }
      return { result: { conflicts: listed } };
    });
    client.setLink({ state: 'connected' });
    const stores = createPanelStores();
    await panelActions(client, stores).resolveConflict(7, 'keep-both');
    expect(seen).toEqual([{ id: 7, choice: 'keep-both' }]);
    expect(stores.conflicts.getState().conflicts).toEqual([]);
    expect(stores.conflicts.getState().resolving.size).toBe(0);
  });
});

describe('quitting with uploads pending', () => {
  const upload = { id: 'u', itemId: 'u', path: '/a.bin', direction: 'upload', state: 'queued', bytes: 0, total: 9, updatedAt: 0 } as const;

  it('asks first; uploads that finish meanwhile let it quit; Cancel keeps running', async () => {
    const { client, calls } = scriptedEngine(() => ({ result: { ok: true } }));
    client.setLink({ state: 'connected' });
    const stores = createPanelStores();
    const actions = panelActions(client, stores);
    stores.transfers.getState().applySnapshot([upload], 1);
    await actions.requestQuit();
    expect(stores.view.getState().quitFlow).toBe('asking');
    expect(calls).toEqual([]);
    actions.cancelQuit();
    stores.transfers.getState().applySnapshot([], 2);
    await settle();
    expect(calls).toEqual([]);

    stores.transfers.getState().applySnapshot([upload], 3);
    await actions.requestQuit();
    stores.transfers.getState().applySnapshot([], 4);
    await settle();
    expect(calls).toEqual(['quit']);
    expect(stores.view.getState().quitFlow).toBe('none');
    expect(stores.shutdown.getState().requested).toBe(true);
  });

  it('quits at once when nothing is waiting to upload', async () => {
    const { client, calls } = scriptedEngine(() => ({ result: { ok: true } }));
    client.setLink({ state: 'connected' });
    const stores = createPanelStores();
    await panelActions(client, stores).requestQuit();
    expect(calls).toEqual(['quit']);
  });
});

describe('shutdown end', () => {
  it('takes a lost link during a shutdown as its end, and not otherwise', async () => {
    const { client } = scriptedEngine((method) => (method === 'status' ? { result: status() } : method === 'conflicts' ? { result: { conflicts: [] } } : { result: { ok: true } }));
    const stores = createPanelStores();
    feedStores(client, stores, { setInterval: () => 0, clearInterval: () => undefined });
    client.setLink({ state: 'connected' });
    await settle();
    client.setLink({ state: 'disconnected', reason: 'the OneMount engine is not running' });
    expect(stores.shutdown.getState().ended).toBeUndefined();
    client.setLink({ state: 'connected' });
    client.receive(JSON.stringify({ event: 'shutdown', payload: { phase: 'unmount', phaseIndex: 1, phases: ['stop-new-work', 'unmount'], itemsLeft: 0, budgetLeftMs: 9000, done: false } }));
    client.setLink({ state: 'disconnected', reason: 'the OneMount engine stopped' });
    expect(stores.shutdown.getState().ended).toBe('the OneMount engine stopped');
  });
});

describe('sign-in events', () => {
  it('shows a sign-in prompt until the account is signed in, and follows auth changes', async () => {
    const { client } = scriptedEngine((method) => (method === 'status' ? { result: status({ auth: { state: 'signed-out' } }) } : method === 'conflicts' ? { result: { conflicts: [] } } : { result: { ok: true } }));
    const stores = createPanelStores();
    feedStores(client, stores, { setInterval: () => 0, clearInterval: () => undefined });
    client.setLink({ state: 'connected' });
    await settle();
    client.receive(JSON.stringify({ event: 'signInPrompt', payload: { account: 'me', url: 'https://login.test/device', userCode: 'ABCD-EFGH' } }));
    expect(stores.engine.getState().signInPrompt?.userCode).toBe('ABCD-EFGH');
    client.receive(JSON.stringify({ event: 'auth', payload: { state: 'signed-in', user: 'me@example.com' } }));
    expect(stores.engine.getState().status?.auth).toEqual({ state: 'signed-in', user: 'me@example.com' });
    expect(stores.engine.getState().signInPrompt).toBeUndefined();
  });
});

/**
 * Asks a Node process started with `--inspect` (through the DevTools protocol) how much of its heap
 * is in use, forces a full garbage collection, and asks again: tells live data from garbage that
 * an idle process has not collected yet. Diagnostic only; the process itself is not changed.
 */
import WebSocket from 'ws';

export interface HeapAfterGc {
  heapUsedBefore: number;
  heapUsedAfter: number;
}

export async function collectGarbage(wsUrl: string, timeoutMs = 60_000): Promise<HeapAfterGc> {
  const ws = new WebSocket(wsUrl);
  const pending = new Map<number, (result: unknown) => void>();
  let nextId = 0;
  ws.on('message', (data: WebSocket.RawData) => {
    const msg = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: { message: string } };
    if (msg.id === undefined) return;
    const done = pending.get(msg.id);
    pending.delete(msg.id);
    done?.(msg.error ? new Error(`inspector: ${msg.error.message}`) : msg.result);
  });
  const call = async <T>(method: string): Promise<T> => {
    const id = ++nextId;
    const result = await new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`inspector: ${method} got no answer within ${timeoutMs} ms`)), timeoutMs);
      pending.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      ws.send(JSON.stringify({ id, method, params: {} }));
    });
    if (result instanceof Error) throw result;
    return result as T;
  };
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  try {
    const before = await call<{ usedSize: number }>('Runtime.getHeapUsage');
    await call('HeapProfiler.collectGarbage');
    const after = await call<{ usedSize: number }>('Runtime.getHeapUsage');
    return { heapUsedBefore: before.usedSize, heapUsedAfter: after.usedSize };
  } finally {
    ws.close();
  }
}

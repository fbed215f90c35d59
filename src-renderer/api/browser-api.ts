/**
 * `window.onemount` for a browser tab: the contract over the WebSocket `onemount ui` serves next to
 * the page (same origin, same secret path), reconnecting with a doubling delay when it drops.
 */
import { ContractClient } from '../../src-shared/ipc/contract-client.ts';
import type { OneMountApi } from '../../src-shared/ipc/api.ts';

const FIRST_RETRY_MS = 500;
const LAST_RETRY_MS = 10_000;

/** The socket's address: the page's own folder (it carries the per-run secret) + `ipc`. */
export function ipcUrl(page: Location): string {
  const dir = page.pathname.endsWith('/') ? page.pathname : page.pathname.slice(0, page.pathname.lastIndexOf('/') + 1);
  return `${page.protocol === 'https:' ? 'wss:' : 'ws:'}//${page.host}${dir}ipc`;
}

export function connectBrowserApi(url: string): OneMountApi {
  let socket: WebSocket | undefined;
  let delay = FIRST_RETRY_MS;
  const client = new ContractClient({
    send: (text) => {
      if (!socket || socket.readyState !== WebSocket.OPEN) throw new Error('the connection to the engine is not open');
      socket.send(text);
    },
  });
  const open = () => {
    const ws = new WebSocket(url);
    socket = ws;
    ws.onopen = () => {
      delay = FIRST_RETRY_MS;
      client.setLink({ state: 'connected' });
    };
    ws.onmessage = (m) => {
      try {
        client.receive(String(m.data));
      } catch (e) {
        console.error('onemount: dropped a message from the engine', e);
      }
    };
    ws.onclose = (e) => {
      const reason = e.reason || (e.code === 1006 ? 'the connection to the OneMount engine was lost' : `the connection closed (${e.code})`);
      client.setLink({ state: 'disconnected', reason, retryAt: Date.now() + delay });
      setTimeout(open, delay);
      delay = Math.min(LAST_RETRY_MS, delay * 2);
    };
  };
  open();
  return client;
}

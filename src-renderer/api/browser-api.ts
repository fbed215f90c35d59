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

/**
 * Whether the page's own address still answers. A refused connection or a 404 means the panel
 * server that served it has stopped or now serves another secret address.
 */
export async function pageStillServed(pageUrl: string, fetcher: typeof fetch = fetch): Promise<boolean> {
  try {
    const r = await fetcher(pageUrl, { method: 'HEAD', cache: 'no-store' });
    return r.status !== 404;
  } catch {
    return false;
  }
}

export function connectBrowserApi(url: string, pageUrl: string = location.href): OneMountApi {
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
      const wait = delay;
      delay = Math.min(LAST_RETRY_MS, delay * 2);
      // A close without the panel server's own words may mean the server is gone or was restarted
      // with a new secret address: then this page can never reconnect, and it says so.
      if (e.reason) setTimeout(open, wait);
      else
        void pageStillServed(pageUrl).then((served) => {
          if (served) setTimeout(open, wait);
          else client.setLink({ state: 'disconnected', reason: 'this page’s address is no longer served', expired: true });
        });
    };
  };
  open();
  return client;
}

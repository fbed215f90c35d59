// The two parts of undici the transport uses, imported on their own: undici's index also loads
// fetch, WebSocket, cookies, mocks and caches, about 50 ms of CPU at every engine start.
declare module 'undici/lib/dispatcher/agent.js' {
  import { Agent } from 'undici';
  export default Agent;
}

declare module 'undici/lib/api/api-request.js' {
  import type { Dispatcher } from 'undici';
  /** undici's `request`, called with the dispatcher as `this` (what `undici.request` does after parsing the URL). */
  export default function request(this: Dispatcher, options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData>;
}

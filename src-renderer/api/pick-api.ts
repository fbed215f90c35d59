/** The Electron preload puts the API on `window.onemount`; without it, this is a browser tab. */
import type { OneMountApi } from '../../src-shared/ipc/api.ts';
import { connectBrowserApi, ipcUrl } from './browser-api.ts';

declare global {
  interface Window {
    onemount?: OneMountApi;
  }
}

export function pickApi(w: Window): OneMountApi {
  return w.onemount ?? connectBrowserApi(ipcUrl(w.location));
}

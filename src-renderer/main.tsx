import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { pickApi } from './api/pick-api.ts';
import { PanelContext } from './context.ts';
import { feedStores, panelActions } from './state/feed.ts';
import { createPanelStores } from './state/stores.ts';
import { App } from './views/App.tsx';
import './styles.css';

const api = pickApi(window);
const stores = createPanelStores();
feedStores(api, stores);
const actions = panelActions(api, stores);
// The desktop app opens the panel at #settings (tray "Settings…") or #quit (tray "Quit" with uploads pending).
const followHash = () => {
  if (location.hash === '#settings') stores.view.getState().show('settings');
  else if (location.hash === '#quit') actions.askBeforeQuit();
  else return;
  history.replaceState(null, '', location.pathname + location.search);
};
window.addEventListener('hashchange', followHash);
followHash();
const root = document.getElementById('root');
if (!root) throw new Error('the page has no #root element');
createRoot(root).render(
  <StrictMode>
    <PanelContext.Provider value={{ stores, actions }}>
      <App />
    </PanelContext.Provider>
  </StrictMode>,
);

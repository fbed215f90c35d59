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
const root = document.getElementById('root');
if (!root) throw new Error('the page has no #root element');
createRoot(root).render(
  <StrictMode>
    <PanelContext.Provider value={{ stores, actions: panelActions(api, stores) }}>
      <App />
    </PanelContext.Provider>
  </StrictMode>,
);

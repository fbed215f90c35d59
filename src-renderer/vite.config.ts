import { defineConfig } from 'vite';

// Built with `vite build src-renderer` (this folder is the root). The page is served from a secret
// path (`/<secret>/`), so every asset URL is relative.
export default defineConfig({
  base: './',
  build: {
    outDir: '../dist/renderer',
    emptyOutDir: true,
  },
});

/**
 * The desktop app in a real Electron: `npx playwright test -c e2e/electron`. Where no Electron
 * binary exists (it cannot be downloaded on the development machines) every test skips and says so.
 * Needs `npm run build:renderer` first; the spec bundles the Electron entry points itself.
 */
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: '.',
  testMatch: '*.spec.ts',
  outputDir: '../../test-results/electron',
  workers: 1,
  fullyParallel: false,
  timeout: 180_000,
  expect: { timeout: 30_000 },
  reporter: [['list']],
  use: { screenshot: 'off', trace: 'retain-on-failure' },
});

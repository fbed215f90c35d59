import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['eslint-rules/**/*.test.ts', 'src-main/**/*.test.ts', 'src-shared/**/*.test.ts', 'src-renderer/**/*.test.ts', 'emulator/**/*.test.ts', 'e2e/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});

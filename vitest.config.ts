import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['eslint-rules/**/*.test.ts', 'src-main/**/*.test.ts', 'src-shared/**/*.test.ts', 'src-renderer/**/*.test.ts', 'emulator/**/*.test.ts', 'e2e/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two files at a time even on two cores (vitest's default there is one): most files spend their
    // time waiting on processes of their own (the emulator, an engine, a FUSE mount), so two side by
    // side take about half the time; the e2e suites assert nothing about wall-clock speed, so the
    // extra load only slows them (docs/testing.md, "Waiting in tests").
    maxWorkers: 2,
  },
});

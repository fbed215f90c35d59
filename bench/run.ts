/**
 * `npm run bench [-- name…]`: runs the named benchmarks (all by default) and prints their tables.
 * Sizes can be reduced for a quick look, e.g. BENCH_LARGE_FILE=268435456 BENCH_ITEMS=10000 BENCH_SMALL_FILES=200
 * (`peers` also takes BENCH_CP_SIZE, BENCH_STAT_FILES, BENCH_PEER_ROUNDS, BENCH_PEER_ROWS=cp,creates for the write
 * rows alone, BENCH_CPU_PROF; see bench/peers.ts).
 */
const benches: Record<string, () => Promise<{ run: () => Promise<void> }>> = {
  emulator: () => import('./emulator.ts'),
  mount: () => import('./mount.ts'),
  upload: () => import('./upload.ts'),
  lifecycle: () => import('./lifecycle.ts'),
  peers: () => import('./peers.ts'),
  startup: () => import('./startup.ts'),
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length ? wanted : Object.keys(benches);
for (const name of names) {
  const load = benches[name];
  if (!load) {
    console.error(`unknown benchmark '${name}'; known: ${Object.keys(benches).join(', ')}`);
    process.exit(2);
  }
  await (await load()).run();
}

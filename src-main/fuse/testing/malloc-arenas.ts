/**
 * A probe of glibc's malloc arenas for a child process's script (CommonJS or an ES module: it
 * loads what it needs through process.getBuiltinModule). It defines:
 * - `arenaCount()`: the arenas beside glibc's first, counted in /proc/self/maps: each is a 64 MiB
 *   reservation at a 64 MiB boundary, its start writable and the rest not;
 * - `allocateInThreads(n)`: n threads that each allocate native buffers (32 KiB: from an arena,
 *   not mmap) and end; resolves once all have. Each makes an arena of its own unless a cap
 *   (M_ARENA_MAX) makes it share one.
 */
export const ARENA_PROBE = `
function arenaCount() {
  const HEAP = 64n * 1024n * 1024n;
  const maps = process.getBuiltinModule('node:fs').readFileSync('/proc/self/maps', 'utf8').trim().split('\\n').map((line) => {
    const [range, perms, , , inode, name] = line.split(/\\s+/);
    const [start, end] = range.split('-').map((x) => BigInt('0x' + x));
    return { start, end, perms, anonymous: inode === '0' && !name };
  });
  let count = 0;
  for (let i = 0; i < maps.length; i++) {
    const m = maps[i];
    if (!m.anonymous || m.start % HEAP !== 0n || !m.perms.startsWith('rw')) continue;
    let end = m.end;
    for (let j = i + 1; j < maps.length && maps[j].start === end && maps[j].anonymous && end - m.start < HEAP; j++) end = maps[j].end;
    if (end - m.start === HEAP) count++;
  }
  return count;
}
function allocateInThreads(n) {
  const { Worker } = process.getBuiltinModule('node:worker_threads');
  const source = "const kept = []; for (let i = 0; i < 200; i++) kept.push(Buffer.allocUnsafeSlow(32768).fill(1)); require('node:worker_threads').parentPort.postMessage(kept.length);";
  return Promise.all(Array.from({ length: n }, () => new Promise((resolve, reject) => {
    const w = new Worker(source, { eval: true, execArgv: [] });
    w.once('message', () => w.terminate().then(resolve, reject));
    w.once('error', reject);
  })));
}
`;

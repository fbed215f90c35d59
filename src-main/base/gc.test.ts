import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

// Run where the engine runs (a plain Node process through tsx): the test runner's own process
// keeps references of its own and is no place to measure collections.
const script = `
import { collectGarbage } from ${JSON.stringify(new URL('./gc.ts', import.meta.url).pathname)};
const holder = { junk: [] };
for (let i = 0; i < 500000; i++) holder.junk.push({ n: i, s: 'item ' + i });
setImmediate(() => {
  holder.junk = undefined;
  const before = process.memoryUsage().heapUsed;
  collectGarbage();
  const after = process.memoryUsage().heapUsed;
  console.log(JSON.stringify({ before, after }));
});
`;

describe('collectGarbage', () => {
  it('gives back the heap that garbage held, in an ordinary Node process', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]);
    const { before, after } = JSON.parse(stdout) as { before: number; after: number };
    // 500 000 small objects and strings are tens of MiB; most of it must be gone.
    expect(before - after).toBeGreaterThan(10 * 1024 * 1024);
  });
});

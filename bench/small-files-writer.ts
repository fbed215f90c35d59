/**
 * The small-file workload of bench/upload.ts, run as its own process so the bench process never
 * touches a mount: creates `count` files of `size` bytes in `dir` (which must exist), each one
 * open(O_CREAT|O_TRUNC) + write + close, one after another, and prints `{"ms":…}` — the time of the
 * loop alone, so process start-up is not part of the number.
 *
 *   node --import tsx bench/small-files-writer.ts <dir> <count> <size>
 *
 * With `missing` for <size>, it looks up `count` names that are not in `dir` instead (one stat
 * each, ENOENT): each is one FUSE round trip to the filesystem and back, what every create starts
 * with (the kernel looks a new name up before it creates it).
 */
import { statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const [dir, countArg, sizeArg] = process.argv.slice(2);
const count = Number(countArg);
const missing = sizeArg === 'missing';
const size = missing ? 0 : Number(sizeArg);
if (!dir || !Number.isInteger(count) || count <= 0 || !Number.isInteger(size) || size < 0) {
  process.stderr.write('usage: small-files-writer.ts <dir> <count> <size | missing>\n');
  process.exit(2);
}
if (missing) {
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    try {
      statSync(path.join(dir, `missing-${i}`));
      throw new Error(`${dir}/missing-${i} exists`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  process.stdout.write(JSON.stringify({ ms: performance.now() - t0 }) + '\n');
  process.exit(0);
}
const body = Buffer.alloc(size);
for (let i = 0; i < size; i++) body[i] = (i * 31 + 7) & 0xff;
const names = Array.from({ length: count }, (_, i) => path.join(dir, `f${String(i).padStart(5, '0')}.bin`));
const t0 = performance.now();
for (let i = 0; i < count; i++) {
  // Every file has different bytes (its number up front), as real small files would.
  if (size >= 4) body.writeUInt32LE(i, 0);
  writeFileSync(names[i]!, body);
}
const ms = performance.now() - t0;
process.stdout.write(JSON.stringify({ ms }) + '\n');

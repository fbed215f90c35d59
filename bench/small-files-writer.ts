/**
 * The small-file workload of bench/upload.ts, run as its own process so the bench process never
 * touches a mount: creates `count` files of `size` bytes in `dir` (which must exist), each one
 * open(O_CREAT|O_TRUNC) + write + close, one after another, and prints `{"ms":…}` — the time of the
 * loop alone, so process start-up is not part of the number.
 *
 *   node --import tsx bench/small-files-writer.ts <dir> <count> <size>
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

const [dir, countArg, sizeArg] = process.argv.slice(2);
const count = Number(countArg);
const size = Number(sizeArg);
if (!dir || !Number.isInteger(count) || count <= 0 || !Number.isInteger(size) || size < 0) {
  process.stderr.write('usage: small-files-writer.ts <dir> <count> <size>\n');
  process.exit(2);
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

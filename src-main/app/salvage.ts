/**
 * The engine's side of recovering unsent edits from a corrupt database (vfs/recovery.ts does the
 * placing). When the store is rebuilt, the cache folder is moved aside at once, with a note naming
 * the old database, so no download can reuse a file holding an unsent edit; once the rebuilt store
 * holds the drive again, every such folder is recovered and removed. A start that fails in between
 * (offline) leaves it for the next one.
 */
import { rename, writeFile, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Logger } from '../base/logger.ts';
import { ensurePrivateDir, readdirIfExists } from '../base/files.ts';
import type { Store } from '../store/index.ts';
import { readSalvage } from '../store/salvage-reader.ts';
import { cacheFilePath } from '../transfers/cache-files.ts';
import { recoverEdits, type RecoveryResult } from '../vfs/recovery.ts';

const NOTE = 'salvage.json';

/** Moves the cache folder aside for recovery from `oldDatabase` (the moved-aside corrupt file). */
export async function setCacheAside(cacheDir: string, oldDatabase: string, nowMs: number): Promise<string> {
  const target = `${cacheDir}.salvage-${new Date(nowMs).toISOString().replace(/[:.]/g, '-')}`;
  await ensurePrivateDir(cacheDir);
  await rename(cacheDir, target);
  await writeFile(join(target, NOTE), JSON.stringify({ database: oldDatabase }), { mode: 0o600 });
  await ensurePrivateDir(cacheDir);
  return target;
}

/** Recovers every cache folder set aside for this account. */
export async function recoverSetAside(cacheDir: string, store: Store, logger: Logger): Promise<RecoveryResult | undefined> {
  const prefix = `${basename(cacheDir)}.salvage-`;
  const folders = (await readdirIfExists(dirname(cacheDir))).filter((name) => name.startsWith(prefix)).sort();
  let total: RecoveryResult | undefined;
  for (const name of folders) {
    const dir = join(dirname(cacheDir), name);
    const { database } = JSON.parse(await readFile(join(dir, NOTE), 'utf8')) as { database: string };
    const report = readSalvage(database);
    if (report.problems.length > 0) logger.warn({ database, problems: report.problems.slice(0, 10) }, 'parts of the corrupt database could not be read');
    const result = await recoverEdits({ store, cachePath: (key) => cacheFilePath(cacheDir, key), logger }, dir, report);
    total = {
      restored: (total?.restored ?? 0) + result.restored,
      recovered: (total?.recovered ?? 0) + result.recovered,
      folder: result.folder ?? total?.folder ?? null,
    };
  }
  return total;
}

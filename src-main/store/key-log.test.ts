import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KEY_LOG_SUFFIX, KeyLog, readKeyLog } from './key-log.ts';
import { newLocalId } from './local-id.ts';
import { openStore } from './open-store.ts';
import { readSalvage } from './salvage-reader.ts';
import { makeTempDir, recordingLogger, ROOT, type TempDir } from './testing/temp-store.ts';

let dir: TempDir;
let dbPath: string;
beforeEach(() => {
  dir = makeTempDir();
  dbPath = join(dir.path, 'drive.sqlite');
});
afterEach(() => dir.remove());

describe('the key log beside the database', () => {
  it('pairs a file made here with its server id, and goes with the database when it is moved aside as corrupt', () => {
    const { store } = openStore({ path: dbPath, logger: recordingLogger() });
    store.items.upsert(ROOT);
    const made = newLocalId();
    const folderMade = newLocalId();
    store.items.insert({ id: made, parentId: 'ROOT', name: 'made here.txt', kind: 'file', size: 3, ctimeMs: 1, mtimeMs: 1 });
    store.items.insert({ id: folderMade, parentId: 'ROOT', name: 'Folder', kind: 'folder', size: 0, ctimeMs: 1, mtimeMs: 1 });
    store.items.setRemoteId(made, 'SERVER!1');
    // Folders have no cache file: nothing to tell apart.
    store.items.setRemoteId(folderMade, 'SERVER!2');
    store.close();
    expect(readKeyLog(dbPath + KEY_LOG_SUFFIX)).toEqual(new Map([[made, 'SERVER!1']]));

    // Unreadable from its first page on: only the log still knows the pair.
    const bytes = readFileSync(dbPath);
    bytes.fill(0x5a, 0, 4096);
    writeFileSync(dbPath, bytes);
    const { store: rebuilt, rebuiltFrom } = openStore({ path: dbPath, logger: recordingLogger() });
    rebuilt.close();
    expect(rebuiltFrom).toBeDefined();
    expect(readKeyLog(dbPath + KEY_LOG_SUFFIX).size).toBe(0);
    const report = readSalvage(rebuiltFrom!);
    expect(report.complete).toBe(false);
    expect(report.serverIds).toEqual(new Map([[made, 'SERVER!1']]));
  });

  it('skips a torn last line and drops it at open, and is compacted at open to what the database holds once it is large', () => {
    const { store } = openStore({ path: dbPath, logger: recordingLogger() });
    store.items.upsert(ROOT);
    const kept = newLocalId();
    store.items.insert({ id: kept, parentId: 'ROOT', name: 'kept.txt', kind: 'file', size: 3, ctimeMs: 1, mtimeMs: 1 });
    store.items.setRemoteId(kept, 'SERVER!kept');
    store.close();
    const log = dbPath + KEY_LOG_SUFFIX;
    appendFileSync(log, `local:gone-long-ago\tSERVER!gone\nlocal:torn\tSERV`);
    expect(readKeyLog(log)).toEqual(new Map([[kept, 'SERVER!kept'], ['local:gone-long-ago', 'SERVER!gone']]));

    // Small: left as it is, but the torn line goes, so the next pair is a line of its own.
    const keyLog = new KeyLog(log, recordingLogger());
    keyLog.tidy(() => [], 1024 * 1024);
    keyLog.note('local:next', 'SERVER!next');
    expect(readKeyLog(log)).toEqual(new Map([[kept, 'SERVER!kept'], ['local:gone-long-ago', 'SERVER!gone'], ['local:next', 'SERVER!next']]));
    appendFileSync(log, `local:filler\tSERVER!filler\n`.repeat(50_000));
    expect(statSync(log).size).toBeGreaterThan(1024 * 1024);
    openStore({ path: dbPath, logger: recordingLogger() }).store.close();
    expect(readKeyLog(log)).toEqual(new Map([[kept, 'SERVER!kept']]));
  });
});

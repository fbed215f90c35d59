// Child process for the kill-safety test: commits small transactions as fast as it can and
// reports each one on stdout only after it has committed, until it is killed.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { openStore } from '../open-store.ts';

const dbPath = process.argv[2];
if (dbPath === undefined) throw new Error('usage: kill-writer.ts <db path>');

const { store } = openStore({ path: dbPath });
store.items.upsert({ id: 'ROOT', parentId: null, name: 'root', kind: 'folder', size: 0, ctimeMs: 0, mtimeMs: 0 });
const upload = store.journal.append({ kind: 'write', itemId: 'ROOT', baseEtag: 'e0' });
process.stdout.write(`upload ${upload.seq}\n`);

for (let i = 0; i < 10_000_000; i++) {
  store.transaction(() => {
    store.items.insert({ id: `F${i}`, parentId: 'ROOT', name: `file ${i}`, kind: 'file', size: i, ctimeMs: i, mtimeMs: i });
    store.journal.append({ kind: 'create', itemId: `F${i}`, parentId: 'ROOT', name: `file ${i}` });
  });
  store.journal.updateSession(upload.seq, { sessionUrl: 'https://upload.test/session', confirmedOffset: (i + 1) * 327_680 });
  process.stdout.write(`committed ${i}\n`);
  if (i % 64 === 0) await yieldToLoop();
}

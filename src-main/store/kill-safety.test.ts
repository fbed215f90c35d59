import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from './open-store.ts';
import { makeTempDir, recordingLogger, type TempDir } from './testing/temp-store.ts';

let dir: TempDir;
beforeEach(() => {
  dir = makeTempDir();
});
afterEach(() => dir.remove());

/** Runs the writer until it has reported `minimum` commits, then SIGKILLs it mid-stream. */
function runWriterAndKill(dbPath: string, minimum: number): Promise<{ lastCommitted: number; uploadSeq: number; signal: string | null }> {
  const script = join(import.meta.dirname, 'testing', 'kill-writer.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', script, dbPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let buffered = '';
    let stderr = '';
    let lastCommitted = -1;
    let uploadSeq = -1;
    let killed = false;
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const [word, value] = line.split(' ');
        if (word === 'committed') lastCommitted = Number(value);
        if (word === 'upload') uploadSeq = Number(value);
      }
      if (!killed && lastCommitted >= minimum) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (!killed) reject(new Error(`writer exited on its own (code ${code}): ${stderr}`));
      else resolve({ lastCommitted, uploadSeq, signal });
    });
  });
}

describe('kill safety', () => {
  it('keeps every transaction committed before a SIGKILL', async () => {
    const dbPath = join(dir.path, 'drive.sqlite');
    const { lastCommitted, uploadSeq, signal } = await runWriterAndKill(dbPath, 500);
    expect(signal).toBe('SIGKILL');
    expect(lastCommitted).toBeGreaterThanOrEqual(500);

    const { store, rebuiltFrom } = openStore({ path: dbPath, logger: recordingLogger() });
    try {
      expect(rebuiltFrom).toBeUndefined();
      const files = store.items.countChildren('ROOT');
      // Everything reported is there; commits after the last report may be there too.
      expect(files).toBeGreaterThanOrEqual(lastCommitted + 1);
      for (let i = 0; i <= lastCommitted; i++) {
        expect(store.items.get(`F${i}`)?.size).toBe(i);
      }
      expect(store.items.get(`F${files}`)).toBeUndefined();
      const creates = store.journal.list().filter((entry) => entry.kind === 'create');
      expect(creates).toHaveLength(files);
      expect(store.journal.get(uploadSeq)?.confirmedOffset).toBeGreaterThanOrEqual((lastCommitted + 1) * 327_680);
    } finally {
      store.close();
    }
  });
});

/**
 * A worker program for the concurrency tests: `node --import tsx e2e/fs-worker.ts <plan.json>`.
 * Runs every worker of the plan at once (each worker's ops in order) with asynchronous fs calls,
 * checks each answer against what the plan says it must be, times it, and prints the results as
 * one JSON array. A call that does not answer within the op timeout is reported as 'timeout' and
 * that worker stops (the call cannot be taken back); the others go on.
 *
 * The parent sets UV_THREADPOOL_SIZE so that the workers' calls really run at the same time.
 */
import { appendFile, mkdir, open, readdir, readFile, rename, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { contentOf, sha256, targetOf, type FsOp, type OpResult, type ProcessPlan, type ProcessResult, type WorkerPlan } from './fs-ops.ts';

class Mismatch extends Error {}

async function perform(op: FsOp): Promise<void> {
  switch (op.op) {
    case 'write':
      await writeFile(op.path, contentOf(op.content));
      return;
    case 'append':
      await appendFile(op.path, contentOf(op.content));
      return;
    case 'read': {
      const bytes = await readFile(op.path);
      if (op.sha256 !== undefined && sha256(bytes) !== op.sha256) throw new Mismatch(`read ${bytes.length} bytes that differ from the expected content`);
      return;
    }
    case 'readRange': {
      const fh = await open(op.path, 'r');
      try {
        const buf = Buffer.alloc(op.length);
        let got = 0;
        while (got < op.length) {
          const { bytesRead } = await fh.read(buf, got, op.length - got, op.offset + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        if (sha256(buf.subarray(0, got)) !== op.sha256) throw new Mismatch(`bytes ${op.offset}+${got} (asked ${op.length}) differ from the server's`);
      } finally {
        await fh.close();
      }
      return;
    }
    case 'stat': {
      const s = await stat(op.path);
      if (op.size !== undefined && s.size !== op.size) throw new Mismatch(`size ${s.size}, expected ${op.size}`);
      return;
    }
    case 'rename':
      await rename(op.from, op.to);
      return;
    case 'unlink':
      await unlink(op.path);
      return;
    case 'mkdir':
      await mkdir(op.path);
      return;
    case 'rmdir':
      await rmdir(op.path);
      return;
    case 'readdir': {
      const names = (await readdir(op.path)).sort();
      if (op.names && JSON.stringify(names) !== JSON.stringify(op.names)) throw new Mismatch(`listed [${names.join(', ')}], expected [${op.names.join(', ')}]`);
      const missing = (op.includes ?? []).filter((n) => !names.includes(n));
      if (missing.length) throw new Mismatch(`listing [${names.join(', ')}] lacks ${missing.join(', ')}`);
      return;
    }
  }
}

async function runWorker(w: WorkerPlan, opTimeoutMs: number, out: OpResult[]): Promise<void> {
  for (const [index, op] of w.ops.entries()) {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), opTimeoutMs)));
    const attempt = perform(op).then(
      () => (op.expectError ? { outcome: 'failed' as const, detail: `succeeded, expected ${op.expectError}` } : { outcome: 'ok' as const }),
      (e: unknown) => {
        const code = (e as NodeJS.ErrnoException).code;
        if (code && code === op.expectError) return { outcome: 'ok' as const };
        if (code && op.allow?.includes(code)) return { outcome: `allowed:${code}` as const };
        return { outcome: 'failed' as const, detail: e instanceof Mismatch ? e.message : `${code ?? ''} ${e instanceof Error ? e.message : String(e)}`.trim() };
      },
    );
    const settled = await Promise.race([attempt, hung]);
    clearTimeout(timer);
    const ms = performance.now() - started;
    if (settled === 'timeout') {
      out.push({ worker: w.name, index, op: op.op, target: targetOf(op), ms, outcome: 'timeout', detail: `no answer after ${opTimeoutMs} ms` });
      return;
    }
    out.push({ worker: w.name, index, op: op.op, target: targetOf(op), ms, ...settled });
  }
}

const planFile = process.argv[2];
if (!planFile) throw new Error('usage: fs-worker.ts <plan.json>');
const plan = JSON.parse(await readFile(planFile, 'utf8')) as ProcessPlan;
const results: OpResult[] = [];
const started = performance.now();
await Promise.all(plan.workers.map((w) => runWorker(w, plan.opTimeoutMs, results)));
const out: ProcessResult = { wallMs: performance.now() - started, results };
process.stdout.write(JSON.stringify(out) + '\n');
// A call stuck in a hung mount would keep the process alive; the results are out, so leave.
process.exit(0);

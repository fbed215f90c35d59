/**
 * The emulator as a process (issue #11 item 5): it dies with whatever started it, and a data folder
 * is served by one emulator at a time — a killed engine must not leave one behind for the next demo
 * to run beside.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmulatorProcess } from '../src/spawn.ts';
import { LOCK_FILE } from '../src/data-dir-lock.ts';

const SPAWN = path.join(import.meta.dirname, '..', 'src', 'spawn.ts');
const MAIN = path.join(import.meta.dirname, '..', 'src', 'main.ts');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resolves once `pid` is gone; the test's own timeout bounds the wait. */
async function gone(pid: number): Promise<void> {
  while (alive(pid)) await new Promise((resolve) => setTimeout(resolve, 50));
}

function runMain(args: string[]): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', MAIN, ...args], { timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
    );
  });
}

describe('the emulator process', () => {
  let dataDir: string;
  const started: EmulatorProcess[] = [];
  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'onemount-emu-life-'));
  });
  afterEach(async () => {
    await Promise.all(started.splice(0).map((e) => e.stop()));
    await rm(dataDir, { recursive: true, force: true });
  });

  it('exits when the process that started it is killed (kill -9, no chance to clean up)', { timeout: 60_000 }, async () => {
    const script = `const { EmulatorProcess } = await import(${JSON.stringify(SPAWN)});
const e = await EmulatorProcess.start({ dataDir: ${JSON.stringify(dataDir)} });
console.log(e.child.pid);
setInterval(() => {}, 1 << 30);`;
    const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const emulatorPid = await new Promise<number>((resolve, reject) => {
      createInterface({ input: parent.stdout! }).once('line', (line) => resolve(Number(line)));
      parent.once('exit', (code) => reject(new Error(`the parent exited first (${code})`)));
    });
    expect(alive(emulatorPid)).toBe(true);
    parent.kill('SIGKILL');
    await gone(emulatorPid);
    // It stopped as it does on SIGTERM: the lock is released for the next one.
    const next = await EmulatorProcess.start({ dataDir });
    started.push(next);
  });

  it('refuses a second emulator on the same data folder, and takes over the lock of a dead one', { timeout: 60_000 }, async () => {
    const first = await EmulatorProcess.start({ dataDir });
    started.push(first);
    const second = await runMain(['--json', '--no-demo', '--data-dir', dataDir]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`another emulator (pid ${first.child.pid}) already serves ${dataDir}`);
    expect(second.stdout).toBe('');
    await first.stop();
    started.length = 0;

    // A lock left by a process that no longer exists (kill -9 gives no chance to release it).
    const dead = spawn('true');
    await new Promise((resolve) => dead.once('exit', resolve));
    await writeFile(path.join(dataDir, LOCK_FILE), `${dead.pid}\n`);
    const after = await EmulatorProcess.start({ dataDir });
    started.push(after);
    expect(after.info.dataDir).toBe(dataDir);
  });
});

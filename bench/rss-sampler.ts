/** A process's resident memory from /proc/<pid>/status, read once or sampled on a timer; its CPU time from /proc/<pid>/stat. */
import { readdir, readFile } from 'node:fs/promises';

/** A /proc/<pid>/status field in MiB (VmRSS, RssAnon, RssFile …). */
export async function statusMiB(pid: number, field = 'VmRSS'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]) / 1024;
}

export interface RssSample {
  /** performance.now() of the sample. */
  at: number;
  mib: number;
}

/** Samples VmRSS every `everyMs` until stop(); a failed read ends the sampling and stop() rethrows it. */
export class RssSampler {
  readonly samples: RssSample[] = [];
  private stopped = false;
  private failure: unknown;
  private readonly loop: Promise<void>;

  constructor(
    private readonly pid: number,
    private readonly everyMs: number,
  ) {
    // Held until stop(), which rethrows it (a process that exited, say).
    this.loop = this.sample().catch((e: unknown) => {
      this.failure = e ?? new Error('RSS sampling failed');
    });
  }

  private async sample(): Promise<void> {
    while (!this.stopped) {
      this.samples.push({ at: performance.now(), mib: await statusMiB(this.pid) });
      await new Promise((r) => setTimeout(r, this.everyMs));
    }
  }

  async stop(): Promise<RssSample[]> {
    this.stopped = true;
    await this.loop;
    if (this.failure !== undefined) throw this.failure;
    return this.samples;
  }

  get peak(): number {
    return Math.max(...this.samples.map((s) => s.mib));
  }
}

/** utime + stime of a process (all its threads), in clock ticks (`getconf CLK_TCK` per second). */
export async function cpuTicks(pid: number): Promise<number> {
  return ticksOf(await readFile(`/proc/${pid}/stat`, 'utf8'));
}

/** utime + stime of each thread of a process, by thread id (clock ticks); a thread that ended meanwhile is left out. */
export async function threadTicks(pid: number): Promise<Map<number, number>> {
  const ticks = new Map<number, number>();
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    try {
      ticks.set(Number(tid), ticksOf(await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8')));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' && (e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    }
  }
  return ticks;
}

function ticksOf(stat: string): number {
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** A process's resident memory from /proc/<pid>/status, read once or sampled on a timer; its CPU time from /proc/<pid>/stat. */
import { readFile } from 'node:fs/promises';

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
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/**
 * "Pause syncing" (docs/ui.md's menu: 2 h / 8 h / 24 h / until resumed): no new transfers and no delta
 * polls; uploads in flight stop with their sessions kept. Reading and writing through the mount
 * keep working — writes are journaled as usual and upload after resume. A timed pause resumes by
 * itself through a named task.
 */
import { abortableSleep } from '../base/abort.ts';
import type { TaskHandle, TaskRegistry } from '../lifecycle/task-registry.ts';

export interface Pausable {
  pause(): void;
  resume(): void;
}

export interface PauseState {
  paused: boolean;
  /** Epoch ms of the automatic resume; absent for "until I resume". */
  until?: number;
}

export class PauseControl {
  private current: PauseState = { paused: false };
  private timer: TaskHandle | undefined;

  constructor(
    private readonly parts: Pausable[],
    private readonly tasks: TaskRegistry,
    private readonly onChange: (state: PauseState) => void,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): PauseState {
    return { ...this.current };
  }

  pause(durationMs?: number): PauseState {
    if (durationMs !== undefined && (!Number.isFinite(durationMs) || durationMs <= 0)) {
      throw new RangeError(`a pause lasts a positive number of milliseconds, not ${durationMs}`);
    }
    this.timer?.abort();
    this.timer = undefined;
    if (!this.current.paused) for (const p of this.parts) p.pause();
    this.current = durationMs === undefined ? { paused: true } : { paused: true, until: this.now() + durationMs };
    if (durationMs !== undefined) {
      this.timer = this.tasks.start('pause-timer', async (signal) => {
        await abortableSleep(durationMs, signal);
        this.timer = undefined;
        this.resume();
      });
    }
    this.onChange(this.state);
    return this.state;
  }

  resume(): PauseState {
    this.timer?.abort();
    this.timer = undefined;
    if (this.current.paused) {
      this.current = { paused: false };
      for (const p of this.parts) p.resume();
      this.onChange(this.state);
    }
    return this.state;
  }
}

/**
 * Notices a mount that went away without the engine: `fusermount -u` by hand, a file manager's
 * eject. fuse-native reports no end of its FUSE session, so the engine reads /proc/self/mountinfo
 * (the kernel's table, never the mount itself) at a modest pace and runs its normal shutdown once
 * the mount point is gone from it.
 */
import { readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../base/logger.ts';
import { DEFAULT_TIMEOUTS } from '../lifecycle/timeout-policy.ts';

/** Mount points in a mountinfo table (field 5), with the kernel's `\040`-style escapes decoded. */
export function parseMountPoints(mountinfo: string): string[] {
  const points: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const field = line.split(' ')[4];
    if (field) points.push(field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8))));
  }
  return points;
}

/**
 * A mount point's path as the kernel's table shows it: symlinks above it resolved. Only the parent
 * is resolved, never the mount itself (a call on the mount could wait on the engine serving it).
 */
export async function canonicalMountPoint(mountpoint: string): Promise<string> {
  const parent = path.dirname(path.resolve(mountpoint));
  return path.join(await realpath(parent).catch(() => parent), path.basename(mountpoint));
}

export async function isMountPoint(dir: string, mountinfoFile = '/proc/self/mountinfo'): Promise<boolean> {
  const points = parseMountPoints(await readFile(mountinfoFile, 'utf8'));
  return points.includes(dir) || points.includes(await canonicalMountPoint(dir));
}

export interface MountWatch {
  stop(): void;
}

export interface MountWatchOptions {
  logger: Logger;
  /** Called once, when the mount point has left the table after having been in it. */
  onGone: () => void;
  intervalMs?: number;
  mountinfoFile?: string;
}

export function watchMount(mountpoint: string, o: MountWatchOptions): MountWatch {
  const intervalMs = o.intervalMs ?? DEFAULT_TIMEOUTS.mountWatchIntervalMs;
  let seen = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const check = async (): Promise<void> => {
    let present: boolean;
    try {
      present = await isMountPoint(mountpoint, o.mountinfoFile);
    } catch (e) {
      o.logger.warn({ err: e }, 'cannot read the mount table; the next check tries again');
      return;
    }
    if (stopped) return;
    // Only a mount seen in the table counts as gone when it leaves it: a path written differently
    // there (a symlink in it) must not end the engine at once.
    if (present) seen = true;
    else if (seen) {
      stopped = true;
      o.logger.info({ mountpoint }, 'the mount point was unmounted from outside the engine');
      o.onGone();
    }
  };
  const tick = () => {
    void check()
      .catch((e: unknown) => o.logger.error({ err: e }, 'the mount watch failed'))
      .finally(() => {
        if (!stopped) {
          timer = setTimeout(tick, intervalMs);
          timer.unref();
        }
      });
  };
  tick();
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

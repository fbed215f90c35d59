/**
 * Turns what a user typed after `onemount pin|unpin|free` into a path inside the mount (`/a/b`).
 *
 * - An absolute path must lie inside the mount point.
 * - A relative path is taken from the current directory when that directory is inside the mount
 *   (`cd ~/OneDrive/Photos && onemount pin 2024`), else from the mount point itself
 *   (`onemount pin Photos/2024` from anywhere).
 */
import path from 'node:path';
import { OneMountError } from '../../base/errors.ts';

export class PathOutsideMountError extends OneMountError {
  constructor(given: string, mountpoint: string) {
    super('PATH_OUTSIDE_MOUNT', `${given} is not inside the OneMount folder ${mountpoint}`);
  }
}

export function toMountPath(given: string, mountpoint: string, cwd: string): string {
  const root = path.resolve(mountpoint);
  const inside = (p: string) => p === root || p.startsWith(root.endsWith('/') ? root : root + '/');
  let absolute: string;
  if (path.isAbsolute(given)) absolute = path.resolve(given);
  else {
    const fromCwd = path.resolve(cwd, given);
    absolute = inside(path.resolve(cwd)) ? fromCwd : path.resolve(root, given);
  }
  if (!inside(absolute)) throw new PathOutsideMountError(given, root);
  const relative = path.relative(root, absolute);
  return relative === '' ? '/' : '/' + relative.split(path.sep).join('/');
}

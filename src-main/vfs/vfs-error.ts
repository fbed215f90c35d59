/**
 * Filesystem errors carry a POSIX errno name; the FUSE adapter turns it into the number. Every error
 * also carries a readable message for the log line the user will read.
 */
import { OneMountError } from '../base/errors.ts';
import {
  DownloadUrlExpiredError,
  GraphApiError,
  isNameConflict,
  isNotFound,
  isPreconditionFailed,
  isQuota,
  isThrottled,
  NetworkError,
} from '../graph/index.ts';
import { isTimeoutError } from '../base/abort.ts';

export type Errno =
  | 'ENOENT'
  | 'EEXIST'
  | 'ENOTDIR'
  | 'EISDIR'
  | 'ENOTEMPTY'
  | 'EINVAL'
  | 'ENAMETOOLONG'
  | 'EIO'
  | 'EROFS'
  | 'EACCES'
  | 'EPERM'
  | 'ENOSPC'
  | 'EBADF'
  | 'EBUSY'
  | 'ENODATA'
  | 'ERANGE'
  | 'ENOTSUP'
  | 'EXDEV'
  | 'EAGAIN'
  | 'ENETDOWN'
  | 'ETIMEDOUT';

export class VfsError extends OneMountError {
  constructor(
    readonly errno: Errno,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`VFS_${errno}`, message, options);
  }
}

/** What a failed server call means to a program on the mount. */
export function errnoFromError(e: unknown): Errno {
  if (e instanceof VfsError) return e.errno;
  if (e instanceof GraphApiError) {
    if (isNotFound(e)) return 'ENOENT';
    if (isNameConflict(e)) return 'EEXIST';
    if (isQuota(e)) return 'ENOSPC';
    if (isPreconditionFailed(e)) return 'EAGAIN';
    if (isThrottled(e)) return 'EAGAIN';
    if (e.status === 403) return 'EACCES';
    if (e.status === 400) return 'EINVAL';
    return 'EIO';
  }
  if (e instanceof NetworkError) return 'ENETDOWN';
  if (e instanceof DownloadUrlExpiredError) return 'EIO';
  if (isTimeoutError(e)) return 'ETIMEDOUT';
  return 'EIO';
}

export function toVfsError(e: unknown, what: string): VfsError {
  if (e instanceof VfsError) return e;
  const errno = errnoFromError(e);
  const reason = e instanceof Error ? e.message : String(e);
  return new VfsError(errno, `${what}: ${reason}`, { cause: e });
}

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
  | 'EDQUOT'
  | 'EFBIG'
  | 'EMFILE'
  | 'ENFILE'
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

/**
 * ENOENT for a path that names nothing: an answer rather than a failure (the kernel's look-up
 * before every new file's create gets it), so it is made without a stack, which costs ten times
 * the rest of the error.
 */
export function noSuchPath(path: string): VfsError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new VfsError('ENOENT', `no such file or folder: ${path}`);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * Failures of this device's own filesystem (the cache disk) that a program on the mount can act
 * on, passed through as they are: a full cache disk is ENOSPC to `cp`, not an I/O error.
 */
const LOCAL_ERRNOS: ReadonlySet<string> = new Set<Errno>(['ENOSPC', 'EDQUOT', 'EROFS', 'EFBIG', 'EMFILE', 'ENFILE']);

/** The errno of a Node system call's error (one with `syscall` and a code such as ENOSPC) worth passing on. */
export function localErrno(e: unknown): Errno | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const { code, syscall } = e as { code?: unknown; syscall?: unknown };
  return typeof code === 'string' && typeof syscall === 'string' && LOCAL_ERRNOS.has(code) ? (code as Errno) : undefined;
}

/** What a failed server call, or a failed write to the cache disk, means to a program on the mount. */
export function errnoFromError(e: unknown): Errno {
  if (e instanceof VfsError) return e.errno;
  const local = localErrno(e);
  if (local) return local;
  if (e instanceof GraphApiError) {
    if (isNotFound(e)) return 'ENOENT';
    if (isNameConflict(e)) return 'EEXIST';
    if (isQuota(e)) return 'ENOSPC';
    if (isPreconditionFailed(e)) return 'EAGAIN';
    if (isThrottled(e)) return 'EAGAIN';
    if (e.status === 403) return 'EACCES';
    // Names are checked here before any request (checkName), so the server refusing a path means the
    // rule only it can check: the whole path, with everything below a moved folder, is too long.
    if (e.status === 400 && e.hasCode('invalidPath')) return 'ENAMETOOLONG';
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

/**
 * The only importer of fuse-native: a thin adapter from FUSE operations onto the vfs. Every op runs
 * on the event loop, so nothing here blocks; errors become negative errno values with the vfs's
 * message logged once.
 *
 * fuse-native facts this relies on (checked against its source): `read` and `write` answer with
 * cb(bytes) or cb(-errno); readdir takes names plus stats in one go. OneMount's patch of it
 * (native/, docs/indexers.md) hands utimens the modification time (the stock module passes the
 * access time), answers getxattr outside `user.` in the FUSE thread, and keeps what readdir and getattr
 * answered to answer later getattrs there (kept attributes, docs/architecture.md).
 */
import type Fuse from 'fuse-native';
import { execFile } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { createRequire } from 'node:module';
import { constants as osConstants } from 'node:os';
import { promisify } from 'node:util';
import { stat } from 'node:fs/promises';
import type { Logger } from '../base/logger.ts';
import type { IndexerGuard } from './indexer-guard.ts';
import { isMountPoint } from './mount-watch.ts';
import { localErrno, VfsError, type Errno } from '../vfs/vfs-error.ts';
import type { Attr, Listing, StatFs, Vfs } from '../vfs/vfs.ts';

const execFileAsync = promisify(execFile);

let fuseNative: typeof Fuse | undefined;
/**
 * fuse-native on first use, not at import: loading it loads libfuse.so.2, and commands that never
 * mount (`--help`, `status`, `sign-in`) must work before FUSE is installed. Through require, not
 * import(): a failed load is not cached, so it can be retried once the package is installed.
 */
export function loadFuseNative(): typeof Fuse {
  fuseNative ??= createRequire(import.meta.url)('fuse-native') as typeof Fuse;
  return fuseNative;
}

/**
 * Hands the pages free()d memory leaves inside the C heap back to the system (the patched
 * fuse-native's malloc_trim; nothing with a stock build): after a full garbage collection has
 * freed a burst's buffers, glibc would keep all but the top of its heap.
 */
export function trimNativeHeap(): void {
  loadFuseNative().trimMalloc?.();
}

export interface FuseMountOptions {
  mountpoint: string;
  vfs: Vfs;
  logger: Logger;
  /** Seconds the kernel may cache attributes and name lookups (warm `ls -l` speed vs. remote freshness). */
  attrTimeoutSec: number;
  entryTimeoutSec: number;
  fsname?: string;
  debug?: boolean;
  /** Refuses indexers' and thumbnailers' opens of files not on this device (needs the patched fuse-native). */
  indexerGuard?: IndexerGuard;
  /** How long the attributes getattr and readdir answered with are kept (the policy's keptAttrsMs; 0: not at all). */
  keptAttrsMs: number;
}

function errnoValue(name: Errno): number {
  const n = (osConstants.errno as Record<string, number | undefined>)[name];
  return -(n ?? osConstants.errno.EIO);
}

/**
 * The answer to getxattr for a namespace other than `user.` (security.selinux, system.posix_acl_*):
 * "not supported". GNU ls remembers that answer per device and stops asking, where "no such
 * attribute" (ENODATA) makes it ask again for every file of an `ls -l` — two round trips per entry.
 * Not ENOSYS: the kernel would take that as "no getxattr at all" and refuse user.onemount.status too.
 * The patched fuse-native gives the same answer in its FUSE thread (docs/indexers.md), so only the
 * stock module's requests get here.
 */
const XATTR_UNSUPPORTED = -osConstants.errno.EOPNOTSUPP;
const O_ACCMODE = 3;
const O_RDONLY = 0;

function toStat(a: Attr): Record<string, unknown> {
  return a as unknown as Record<string, unknown>;
}

function statfsArray(s: StatFs): Record<string, number> {
  return { ...s };
}

/** `Transport endpoint is not connected` after a killed engine: clear it before mounting again. */
export async function clearStaleMount(mountpoint: string, logger: Logger): Promise<void> {
  try {
    await stat(mountpoint);
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOTCONN' && code !== 'ECONNABORTED' && code !== 'EIO') return;
  }
  logger.warn({ mountpoint }, 'clearing a stale mount left by a previous engine (fusermount -u -z)');
  await execFileAsync('fusermount', ['-u', '-z', mountpoint]);
}

export class FuseMount {
  private constructor(
    private readonly fuse: Fuse,
    readonly mountpoint: string,
    private readonly logger: Logger,
    private readonly stopForgetting: () => void,
  ) {}

  static async mount(o: FuseMountOptions): Promise<FuseMount> {
    await clearStaleMount(o.mountpoint, o.logger);
    const { vfs, logger } = o;
    const fail = (op: string, path: string, e: unknown): number => {
      if (e instanceof VfsError) {
        const level = e.errno === 'ENOENT' || e.errno === 'ENODATA' ? 'debug' : 'warn';
        logger[level]({ op, path, errno: e.errno }, e.message);
        return errnoValue(e.errno);
      }
      // The cache disk full or read-only: the program gets that errno, not EIO.
      const local = localErrno(e);
      if (local) {
        logger.warn({ op, path, errno: local, err: e }, `${op} failed on this device's disk: ${local}`);
        return errnoValue(local);
      }
      logger.error({ op, path, err: e }, `unexpected failure in ${op}`);
      return errnoValue('EIO');
    };
    // OneDrive has no symbolic links, hard links, fifos or device files. EPERM is what POSIX names for
    // a filesystem that does not support the kind of link or node asked for; without these handlers
    // FUSE answers ENOSYS, which rsync and tar report as a bug rather than skipping the entry.
    const refusedKinds = new Set<string>();
    const unsupported = (what: string, path: string): number => {
      if (!refusedKinds.has(what)) {
        refusedKinds.add(what);
        logger.warn({ path }, `${what} cannot be stored on OneDrive; refused with EPERM (logged once)`);
      }
      return errnoValue('EPERM');
    };
    // Synchronous vfs answers (store lookups) and asynchronous ones (network) share one shape.
    const run = <T>(op: string, path: string, work: () => T | Promise<T>, done: (value: T) => void, failed: (errno: number) => void) => {
      try {
        const value = work();
        if (value instanceof Promise) value.then(done, (e: unknown) => failed(fail(op, path, e)));
        else done(value);
      } catch (e) {
        failed(fail(op, path, e));
      }
    };
    // The ops need the instance they are given to (its caller context), made after them.
    const self: { fuse?: Fuse } = {};
    const guard = o.indexerGuard;
    // The thread that made the request, while its op runs synchronously (0: not known).
    const callerTid = (): number => self.fuse?.context?.()?.pid ?? 0;
    // The kernel sends OPEN and a path's SETATTR only for a name its dentry cache holds; the item
    // gone here means that entry went stale (a change from the server, or the engine's own rename,
    // within --kernel-cache). ESTALE makes the kernel look the name up again and retry once: an
    // open(O_CREAT) then creates the file and any other open gets ENOENT, instead of an O_CREAT
    // failing with ENOENT on a name that is free.
    const staleIfGone = (err: number): number => (err === errnoValue('ENOENT') ? -osConstants.errno.ESTALE : err);
    // libfuse asks for a new file's attributes right after its create (fgetattr): kept, they are
    // answered in the FUSE thread. Read after the create's own change; if the file cannot be looked
    // at now (gone again already), nothing is kept and that fgetattr asks the vfs as usual.
    const keepCreated = (path: string): void => {
      const fuse = self.fuse;
      const at = fuse?.keptGeneration?.();
      if (at === undefined || !fuse?.keepAttrs) return;
      // Gone again already (a VfsError) is no error; anything else is, though the create stands.
      const notKept = (e: unknown): void => {
        if (!(e instanceof VfsError)) logger.warn({ err: e, path }, 'could not keep the attributes of a new file');
      };
      try {
        const attr = vfs.getattr(path);
        // A lookup that has to wait (the name went and the first enumeration runs) is not kept.
        if (attr instanceof Promise) attr.catch(notKept);
        else fuse.keepAttrs(path, toStat(attr), at);
      } catch (e) {
        notKept(e);
      }
    };
    // keepCache: the kernel keeps the pages it holds of the file when they are of the content this
    // open reads (docs/architecture.md, "Kept pages"; a build without the patch's keepCache ignores it).
    const open = (path: string, flags: number, cb: (err: number, fd?: number, keepCache?: boolean) => void) =>
      run('open', path, () => vfs.open(path, flags), (fh) => cb(0, fh, vfs.keepsPages(fh)), (err) => cb(staleIfGone(err)));
    const ops = {
      init: (cb: (err: number) => void) => cb(0),
      statfs: (path: string, cb: (err: number, s?: Record<string, number>) => void) =>
        run('statfs', path, () => vfs.statfs(), (s) => cb(0, statfsArray(s)), (err) => cb(err)),
      getattr: (path: string, cb: (err: number, s?: Record<string, unknown>) => void) =>
        run('getattr', path, () => vfs.getattr(path), (a) => cb(0, toStat(a)), (err) => cb(err)),
      fgetattr: (path: string, _fd: number, cb: (err: number, s?: Record<string, unknown>) => void) =>
        run('fgetattr', path, () => vfs.getattr(path), (a) => cb(0, toStat(a)), (err) => cb(err)),
      readdir: (path: string, cb: (err: number, names?: string[], stats?: Record<string, unknown>[], keptGeneration?: number, complete?: boolean) => void) => {
        // The patched fuse-native keeps the stats it is given (kept attributes) unless anything
        // changed since the generation handed back with them, taken before they were read. A listing
        // that waited for the server is read again from the store for that (when its answer was read
        // is not known here).
        let at = self.fuse?.keptGeneration?.();
        let waited = false;
        const listing = () => {
          const r = vfs.readdir(path, { cacheEntries: !keepingAttrs });
          waited = r instanceof Promise;
          return r;
        };
        run('readdir', path, listing, (r) => {
          if (!waited || at === undefined) return cb(0, r.names, r.attrs.map(toStat), at, r.complete === true);
          at = self.fuse?.keptGeneration?.();
          let now: Listing;
          try {
            now = vfs.listStored(path, { cacheEntries: !keepingAttrs });
          } catch (e) {
            // Gone or changed since it was listed: the names as listed, without stats to keep.
            logger[e instanceof VfsError ? 'debug' : 'warn']({ path, err: e }, 'the folder listed could not be read again as it was answered; its stats are not kept');
            return cb(0, r.names);
          }
          cb(0, now.names, now.attrs.map(toStat), at, now.complete === true);
        }, (err) => cb(err));
      },
      open: (path: string, flags: number, cb: (err: number, fd?: number, keepCache?: boolean) => void) => {
        // Only a read-only open of a file not on this device can start a download nobody asked for;
        // the /proc lookup is spent on those alone.
        const tid = guard?.active && (flags & O_ACCMODE) === O_RDONLY ? callerTid() : 0;
        let local = true;
        if (tid > 0) {
          try {
            local = vfs.isLocal(path);
          } catch {
            // Not found and the like: vfs.open gives the program the errno and logs it.
          }
        }
        if (!guard || local) return open(path, flags, cb);
        guard.refuses(tid, path).then(
          (refused) => (refused ? cb(errnoValue('EACCES')) : open(path, flags, cb)),
          (e: unknown) => {
            logger.error({ err: e, path }, 'could not tell which program opened a file; reading it as a person would');
            open(path, flags, cb);
          },
        );
      },
      read: (path: string, fd: number, buf: Buffer, len: number, pos: number, cb: (result: number) => void) =>
        run('read', path, () => vfs.read(fd, buf, len, pos), (n) => cb(n), (err) => cb(err)),
      release: (path: string, fd: number, cb: (err: number) => void) =>
        run('release', path, () => vfs.release(fd), () => cb(0), (err) => cb(err)),
      mkdir: (path: string, _mode: number, cb: (err: number) => void) =>
        run('mkdir', path, () => vfs.mkdir(path), () => cb(0), (err) => cb(err)),
      rmdir: (path: string, cb: (err: number) => void) => run('rmdir', path, () => vfs.rmdir(path), () => cb(0), (err) => cb(err)),
      unlink: (path: string, cb: (err: number) => void) => run('unlink', path, () => vfs.unlink(path), () => cb(0), (err) => cb(err)),
      // The caller tells libfuse's two steps of a rename over an open file from an unlink (vfs.rename).
      rename: (src: string, dest: string, cb: (err: number) => void) =>
        run('rename', src, () => vfs.rename(src, dest, callerTid()), () => cb(0), (err) => cb(err)),
      utimens: (path: string, _atime: number, mtime: number, cb: (err: number) => void) =>
        run('utimens', path, () => vfs.utimens(path, mtime), () => cb(0), (err) => cb(err)),
      getxattr: (path: string, name: string, _pos: number, cb: (err: number, value?: Buffer) => void) => {
        if (!name.startsWith('user.')) return cb(XATTR_UNSUPPORTED);
        run('getxattr', path, () => vfs.getxattr(path, name), (v) => (v ? cb(0, v) : cb(errnoValue('ENODATA'))), (err) => cb(err));
      },
      listxattr: (path: string, cb: (err: number, list?: string[]) => void) =>
        run('listxattr', path, () => vfs.listxattr(path), (l) => cb(0, l), (err) => cb(err)),
      create: (path: string, _mode: number, cb: (err: number, fd?: number) => void) =>
        run(
          'create',
          path,
          () => vfs.create(path),
          (fh) => {
            keepCreated(path);
            cb(0, fh);
          },
          (err) => cb(err),
        ),
      write: (path: string, fd: number, buf: Buffer, len: number, pos: number, cb: (result: number) => void) =>
        run('write', path, () => vfs.write(fd, buf, len, pos), (n) => cb(n), (err) => cb(err)),
      truncate: (path: string, size: number, cb: (err: number) => void) =>
        run('truncate', path, () => vfs.truncate(path, size), () => cb(0), (err) => cb(staleIfGone(err))),
      ftruncate: (path: string, fd: number, size: number, cb: (err: number) => void) =>
        run('ftruncate', path, () => vfs.ftruncate(fd, size), () => cb(0), (err) => cb(err)),
      // No flush: libfuse answers ENOSYS and the kernel stops sending FLUSH, so close(2) returns
      // without a round trip here. The change is scheduled for upload at release (the last close),
      // which the kernel sends after close(2) has returned; written bytes are recorded at each write.
      fsync: (path: string, _datasync: boolean, fd: number, cb: (err: number) => void) =>
        run('fsync', path, () => vfs.fsync(fd), () => cb(0), (err) => cb(err)),
      symlink: (_target: string, path: string, cb: (err: number) => void) => cb(unsupported('a symbolic link', path)),
      link: (_existing: string, path: string, cb: (err: number) => void) => cb(unsupported('a hard link', path)),
      mknod: (path: string, mode: number, _dev: number, cb: (err: number) => void) => {
        // A regular file made with mknod (no open handle wanted) is an ordinary create.
        if ((mode & fsConstants.S_IFMT) === fsConstants.S_IFREG) {
          run('mknod', path, () => vfs.create(path), (fh) => run('mknod', path, () => vfs.release(fh), () => cb(0), (err) => cb(err)), (err) => cb(err));
          return;
        }
        cb(unsupported('a fifo, socket or device file', path));
      },
      chmod: (_path: string, _mode: number, cb: (err: number) => void) => cb(0),
      chown: (_path: string, _uid: number, _gid: number, cb: (err: number) => void) => cb(0),
    };

    const FuseNative = loadFuseNative();
    if (o.indexerGuard) {
      o.indexerGuard.setCallerKnown(FuseNative.hasCallerContext === true);
      if (FuseNative.hasCallerContext !== true) {
        logger.warn('this fuse-native does not report which program makes a request (the patched build is missing: `npm run build:fuse-native`); indexers and thumbnailers read files like anyone');
      }
    }
    // Only this patch's build keeps attributes safely (its first version kept a listing's stats
    // without the generation they were read at; later ones dropped everything at every change, and
    // know no change that drops less): with an older build in node_modules, none are kept.
    const keepsAttrs = FuseNative.hasKeptAttrs === true && FuseNative.hasKeptNames === true && typeof FuseNative.prototype.keptGeneration === 'function';
    // Then the kernel's look-ups of what readdir listed are answered in the FUSE thread: the vfs
    // need not cache the entries for them (ListingOptions.cacheEntries).
    const keepingAttrs = keepsAttrs && o.keptAttrsMs > 0;
    const fuse = new FuseNative(o.mountpoint, ops, {
      // Reads may wait for the network; the vfs bounds every wait itself.
      timeout: false,
      force: true,
      mkdir: true,
      // fuse-native has no option for big_writes, and without it the kernel sends writes 4 KiB at
      // a time (a 1 GiB cp: 262 144 calls, ~19× slower). It joins its options with commas, so the
      // flag rides along after the fsname.
      fsname: `${o.fsname ?? 'onemount'},big_writes`,
      subtype: 'onemount',
      attrTimeout: o.attrTimeoutSec,
      entryTimeout: o.entryTimeoutSec,
      keptAttrsMs: keepsAttrs ? o.keptAttrsMs : 0,
      debug: o.debug ?? false,
    });
    self.fuse = fuse;
    // From before the mount: no answer may be kept across a change. A change that says what it
    // is drops only that (a write: the file's attributes; a create: no ENOENT for its name).
    const stopForgetting = vfs.onAttributesChange((change) => {
      if (change === undefined) fuse.forgetKeptAttrs?.();
      else if ('inode' in change) fuse.forgetKeptInode?.(change.inode);
      else if ('newPath' in change) fuse.keepName?.(change.newPath);
      else if ('emptyFolder' in change) fuse.keepEmptyFolder?.(change.emptyFolder);
      else fuse.forgetKeptAbsent?.();
    });
    try {
      await new Promise<void>((resolve, reject) => fuse.mount((err?: Error | null) => (err ? reject(err) : resolve())));
    } catch (e) {
      stopForgetting();
      throw e;
    }
    logger.info({ mountpoint: o.mountpoint, keptAttrs: keepsAttrs, keptPages: FuseNative.hasKeepCache === true }, 'mounted');
    return new FuseMount(fuse, o.mountpoint, logger, stopForgetting);
  }

  async unmount(): Promise<void> {
    let already = false;
    try {
      await new Promise<void>((resolve, reject) => this.fuse.unmount((err?: Error | null) => (err ? reject(err) : resolve())));
    } catch (e) {
      // Unmounted from outside (fusermount -u, an eject) before the engine's own shutdown got here:
      // fusermount then fails, but the mount is gone, which is all this step is for.
      if (await isMountPoint(this.mountpoint).catch(() => true)) throw e;
      already = true;
    }
    this.stopForgetting();
    this.fuse.stopKeepingAttrs?.();
    this.logger.info({ mountpoint: this.mountpoint }, already ? 'the mount point was already unmounted' : 'unmounted');
  }
}

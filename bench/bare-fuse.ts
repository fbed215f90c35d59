/**
 * The floor for bench/mount.ts and bench/upload.ts: a bare fuse-native filesystem, run as its own
 * process, that answers every getattr and readdir from memory (a folder of named entries given in a
 * manifest) and serves one local file by reading it with fs from its read callback; optionally it
 * answers xattr calls too, and mirrors a local directory read-write (a passthrough: create, write,
 * truncate, unlink … each one fs call on the local directory). It mounts with the same attr/entry
 * timeouts as the engine, so the difference to the engine is the engine's own work.
 *
 *   node --import tsx bench/bare-fuse.ts <manifest.json>
 *
 * Prints one JSON line `{"mounted":"<dir>"}` once mounted; SIGTERM or SIGINT unmounts and exits.
 */
import Fuse from 'fuse-native';
import { chmod, close, constants as fsConstants, fsync, ftruncate, lstat, mkdir, open, read, readdir, rename, rmdir, truncate, unlink, utimes, write, type Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { constants } from 'node:os';

export interface BareFuseManifest {
  mountpoint: string;
  /** Seconds the kernel may cache attributes and entries (the engine's `--kernel-cache`). */
  kernelCacheSec: number;
  /** A folder at `/<name>` whose entries are answered from memory. */
  folder: { name: string; entries: Array<{ name: string; size: number; mtimeMs: number }> };
  /** A file at `/<name>` served from a local file (a passthrough). */
  file: { name: string; localPath: string; size: number };
  /**
   * Answer getxattr/listxattr as the engine does (an empty list; "not supported" outside `user.`,
   * "no such attribute" inside) instead of leaving them unimplemented, where the kernel learns
   * ENOSYS once and stops asking. GNU ls then asks once per mount, not for every entry.
   */
  xattrs?: boolean;
  /**
   * Mount with `big_writes`: the kernel sends writes of up to 128 KiB instead of one 4 KiB page per
   * call. The engine mounts without it (fuse-native offers no option for it).
   */
  bigWrites?: boolean;
  /** A folder at `/<name>` mirroring a local directory read-write. */
  passthrough?: { name: string; localDir: string };
}

interface Stat {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  ino: number;
  blksize: number;
  blocks: number;
  atime: Date;
  mtime: Date;
  ctime: Date;
}

const DIR_MODE = 0o040755;
const FILE_MODE = 0o100644;

function statFromLocal(s: Stats): Stat {
  return { mode: s.mode, uid: s.uid, gid: s.gid, size: s.size, nlink: s.nlink, ino: s.ino, blksize: s.blksize, blocks: s.blocks, atime: s.atime, mtime: s.mtime, ctime: s.ctime };
}

type Done = (err: number) => void;
const errno = (err: NodeJS.ErrnoException | null): number => (err ? -(err.errno !== undefined ? Math.abs(err.errno) : constants.errno.EIO) : 0);

/** The read-write ops of a local directory mounted at `/<name>`; each FUSE call is one async fs call. */
function passthroughOps(name: string, localDir: string) {
  const prefix = `/${name}`;
  const local = (p: string): string | undefined => (p === prefix ? localDir : p.startsWith(prefix + '/') ? localDir + p.slice(prefix.length) : undefined);
  return {
    local,
    getattr: (lp: string, cb: (err: number, s?: Stat) => void) => lstat(lp, (err, s) => (err ? cb(errno(err)) : cb(0, statFromLocal(s)))),
    readdir: (lp: string, cb: (err: number, names?: string[]) => void) => readdir(lp, (err, names) => (err ? cb(errno(err)) : cb(0, names))),
    create: (lp: string, mode: number, cb: (err: number, fd?: number) => void) =>
      open(lp, fsConstants.O_CREAT | fsConstants.O_RDWR, mode & 0o7777, (err, fd) => (err ? cb(errno(err)) : cb(0, fd))),
    open: (lp: string, flags: number, cb: (err: number, fd?: number) => void) => open(lp, flags & ~fsConstants.O_CREAT, (err, fd) => (err ? cb(errno(err)) : cb(0, fd))),
    write: (fd: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void) => write(fd, buf, 0, len, pos, (err, n) => cb(err ? errno(err) : n)),
    truncate: (lp: string, size: number, cb: Done) => truncate(lp, size, (err) => cb(errno(err))),
    ftruncate: (fd: number, size: number, cb: Done) => ftruncate(fd, size, (err) => cb(errno(err))),
    fsync: (fd: number, cb: Done) => fsync(fd, (err) => cb(errno(err))),
    unlink: (lp: string, cb: Done) => unlink(lp, (err) => cb(errno(err))),
    mkdir: (lp: string, mode: number, cb: Done) => mkdir(lp, { mode: mode & 0o7777 }, (err) => cb(errno(err))),
    rmdir: (lp: string, cb: Done) => rmdir(lp, (err) => cb(errno(err))),
    rename: (from: string, to: string, cb: Done) => rename(from, to, (err) => cb(errno(err))),
    chmod: (lp: string, mode: number, cb: Done) => chmod(lp, mode & 0o7777, (err) => cb(errno(err))),
    utimens: (lp: string, atime: Date, mtime: Date, cb: Done) => utimes(lp, atime, mtime, (err) => cb(errno(err))),
  };
}

function statOf(kind: 'dir' | 'file', ino: number, size: number, mtimeMs: number): Stat {
  const when = new Date(mtimeMs);
  return {
    mode: kind === 'dir' ? DIR_MODE : FILE_MODE,
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    size,
    nlink: kind === 'dir' ? 2 : 1,
    ino,
    blksize: 4096,
    blocks: Math.ceil(size / 512),
    atime: when,
    mtime: when,
    ctime: when,
  };
}

async function main(): Promise<void> {
  const manifestPath = process.argv[2];
  if (!manifestPath) throw new Error('usage: bare-fuse.ts <manifest.json>');
  const m = JSON.parse(await readFile(manifestPath, 'utf8')) as BareFuseManifest;
  const now = Date.now();
  let ino = 1;
  const stats = new Map<string, Stat>([['/', statOf('dir', ino++, 4096, now)]]);
  const folderPath = `/${m.folder.name}`;
  const filePath = `/${m.file.name}`;
  stats.set(folderPath, statOf('dir', ino++, 4096, now));
  stats.set(filePath, statOf('file', ino++, m.file.size, now));
  const folderNames: string[] = [];
  const folderStats: Stat[] = [];
  for (const e of m.folder.entries) {
    const s = statOf('file', ino++, e.size, e.mtimeMs);
    stats.set(`${folderPath}/${e.name}`, s);
    folderNames.push(e.name);
    folderStats.push(s);
  }
  const pt = m.passthrough ? passthroughOps(m.passthrough.name, m.passthrough.localDir) : undefined;
  const rootNames = [m.folder.name, m.file.name, ...(m.passthrough ? [m.passthrough.name] : [])];
  const rootStats = [stats.get(folderPath)!, stats.get(filePath)!, ...(m.passthrough ? [statOf('dir', ino++, 4096, now)] : [])];
  const ENOENT = -constants.errno.ENOENT;
  const ENOTDIR = -constants.errno.ENOTDIR;
  const EROFS = -constants.errno.EROFS;
  /** Descriptors handed out for passthrough files: FUSE passes them back to write/fsync/release. */
  const passthroughFds = new Set<number>();

  const ENODATA = -constants.errno.ENODATA;
  const EOPNOTSUPP = -constants.errno.EOPNOTSUPP;
  const xattrOps = {
    getxattr: (p: string, name: string, _pos: number, cb: (err: number, value?: Buffer) => void) =>
      cb(!name.startsWith('user.') ? EOPNOTSUPP : stats.has(p) || pt?.local(p) ? ENODATA : ENOENT),
    listxattr: (p: string, cb: (err: number, list?: string[]) => void) => (stats.has(p) || pt?.local(p) ? cb(0, []) : cb(ENOENT)),
  };
  /** Runs a passthrough op when `p` is under the passthrough folder; false: the in-memory tree answers. */
  const onLocal = <A extends unknown[]>(p: string, op: ((lp: string, ...a: A) => void) | undefined, ...args: A): boolean => {
    const lp = pt?.local(p);
    if (lp === undefined || !op) return false;
    op(lp, ...args);
    return true;
  };

  const ops = {
    ...(m.xattrs ? xattrOps : {}),
    getattr: (p: string, cb: (err: number, s?: Stat) => void) => {
      if (onLocal(p, pt?.getattr, cb)) return;
      const s = stats.get(p);
      return s ? cb(0, s) : cb(ENOENT);
    },
    readdir: (p: string, cb: (err: number, names?: string[], st?: Stat[]) => void) => {
      if (onLocal(p, pt?.readdir, cb)) return;
      if (p === '/') return cb(0, rootNames, rootStats);
      if (p === folderPath) return cb(0, folderNames, folderStats);
      return cb(stats.has(p) ? ENOTDIR : ENOENT);
    },
    open: (p: string, flags: number, cb: (err: number, fd?: number) => void) => {
      const track = (err: number, fd?: number) => {
        if (!err && fd !== undefined) passthroughFds.add(fd);
        cb(err, fd);
      };
      if (onLocal(p, pt?.open, flags, track)) return;
      if (p !== filePath) return cb(stats.has(p) ? 0 : ENOENT, 0);
      open(m.file.localPath, flags & 3, (err, fd) => (err ? cb(-(err.errno ?? constants.errno.EIO)) : cb(0, fd)));
    },
    create: (p: string, mode: number, cb: (err: number, fd?: number) => void) => {
      const track = (err: number, fd?: number) => {
        if (!err && fd !== undefined) passthroughFds.add(fd);
        cb(err, fd);
      };
      if (!onLocal(p, pt?.create, mode, track)) cb(EROFS);
    },
    read: (_p: string, fd: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void) => {
      if (fd === 0) return cb(0);
      read(fd, buf, 0, len, pos, (err, n) => cb(err ? -(err.errno ?? constants.errno.EIO) : n));
    },
    write: (_p: string, fd: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void) => {
      if (!pt || !passthroughFds.has(fd)) return cb(EROFS);
      pt.write(fd, buf, len, pos, cb);
    },
    ftruncate: (_p: string, fd: number, size: number, cb: (err: number) => void) => {
      if (!pt || !passthroughFds.has(fd)) return cb(EROFS);
      pt.ftruncate(fd, size, cb);
    },
    fsync: (_p: string, _datasync: boolean, fd: number, cb: (err: number) => void) => {
      if (!pt || !passthroughFds.has(fd)) return cb(0);
      pt.fsync(fd, cb);
    },
    truncate: (p: string, size: number, cb: (err: number) => void) => void (onLocal(p, pt?.truncate, size, cb) || cb(EROFS)),
    unlink: (p: string, cb: (err: number) => void) => void (onLocal(p, pt?.unlink, cb) || cb(EROFS)),
    mkdir: (p: string, mode: number, cb: (err: number) => void) => void (onLocal(p, pt?.mkdir, mode, cb) || cb(EROFS)),
    rmdir: (p: string, cb: (err: number) => void) => void (onLocal(p, pt?.rmdir, cb) || cb(EROFS)),
    chmod: (p: string, mode: number, cb: (err: number) => void) => void (onLocal(p, pt?.chmod, mode, cb) || cb(EROFS)),
    utimens: (p: string, atime: Date, mtime: Date, cb: (err: number) => void) => void (onLocal(p, pt?.utimens, atime, mtime, cb) || cb(EROFS)),
    rename: (from: string, to: string, cb: (err: number) => void) => {
      const a = pt?.local(from);
      const b = pt?.local(to);
      if (!pt || a === undefined || b === undefined) return cb(EROFS);
      pt.rename(a, b, cb);
    },
    release: (_p: string, fd: number, cb: (err: number) => void) => {
      if (fd === 0) return cb(0);
      passthroughFds.delete(fd);
      close(fd, (err) => cb(err ? -(err.errno ?? constants.errno.EIO) : 0));
    },
  };

  const fuse = new Fuse(m.mountpoint, ops, {
    timeout: false,
    force: true,
    mkdir: true,
    // fuse-native has no option for big_writes, but joins its options with commas: it rides on fsname.
    fsname: m.bigWrites ? 'bare-fuse,big_writes' : 'bare-fuse',
    subtype: 'bare-fuse',
    attrTimeout: m.kernelCacheSec,
    entryTimeout: m.kernelCacheSec,
  });
  await new Promise<void>((resolve, reject) => fuse.mount((err?: Error | null) => (err ? reject(err) : resolve())));
  process.stdout.write(JSON.stringify({ mounted: m.mountpoint }) + '\n');

  const stop = () => {
    fuse.unmount((err?: Error | null) => {
      if (err) {
        process.stderr.write(`bare-fuse: unmount failed: ${err.message}\n`);
        process.exit(1);
      }
      process.exit(0);
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`bare-fuse: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});

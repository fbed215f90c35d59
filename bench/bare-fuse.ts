/**
 * The floor for bench/mount.ts: a bare fuse-native filesystem, run as its own process, that answers
 * every getattr and readdir from memory (a folder of named entries given in a manifest) and serves one
 * local file by reading it with fs from its read callback; optionally it answers xattr calls too. It mounts with the same attr/entry
 * timeouts as the engine, so the difference to the engine is the engine's own work.
 *
 *   node --import tsx bench/bare-fuse.ts <manifest.json>
 *
 * Prints one JSON line `{"mounted":"<dir>"}` once mounted; SIGTERM or SIGINT unmounts and exits.
 */
import Fuse from 'fuse-native';
import { read, open, close } from 'node:fs';
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
   * Answer getxattr/listxattr (with "no such attribute" / an empty list) instead of leaving them
   * unimplemented. Unimplemented, the kernel learns ENOSYS once and stops asking; implemented, every
   * `ls -l` entry costs two more round trips (security.selinux and system.posix_acl_access), as on
   * a filesystem that offers xattrs.
   */
  xattrs?: boolean;
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
  const rootNames = [m.folder.name, m.file.name];
  const rootStats = [stats.get(folderPath)!, stats.get(filePath)!];
  const ENOENT = -constants.errno.ENOENT;
  const ENOTDIR = -constants.errno.ENOTDIR;

  const ENODATA = -constants.errno.ENODATA;
  const xattrOps = {
    getxattr: (p: string, _name: string, _pos: number, cb: (err: number, value?: Buffer) => void) => cb(stats.has(p) ? ENODATA : ENOENT),
    listxattr: (p: string, cb: (err: number, list?: string[]) => void) => (stats.has(p) ? cb(0, []) : cb(ENOENT)),
  };

  const ops = {
    ...(m.xattrs ? xattrOps : {}),
    getattr: (p: string, cb: (err: number, s?: Stat) => void) => {
      const s = stats.get(p);
      return s ? cb(0, s) : cb(ENOENT);
    },
    readdir: (p: string, cb: (err: number, names?: string[], st?: Stat[]) => void) => {
      if (p === '/') return cb(0, rootNames, rootStats);
      if (p === folderPath) return cb(0, folderNames, folderStats);
      return cb(stats.has(p) ? ENOTDIR : ENOENT);
    },
    open: (p: string, flags: number, cb: (err: number, fd?: number) => void) => {
      if (p !== filePath) return cb(stats.has(p) ? 0 : ENOENT, 0);
      open(m.file.localPath, flags & 3, (err, fd) => (err ? cb(-(err.errno ?? constants.errno.EIO)) : cb(0, fd)));
    },
    read: (_p: string, fd: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void) => {
      if (fd === 0) return cb(0);
      read(fd, buf, 0, len, pos, (err, n) => cb(err ? -(err.errno ?? constants.errno.EIO) : n));
    },
    release: (_p: string, fd: number, cb: (err: number) => void) => {
      if (fd === 0) return cb(0);
      close(fd, (err) => cb(err ? -(err.errno ?? constants.errno.EIO) : 0));
    },
  };

  const fuse = new Fuse(m.mountpoint, ops, {
    timeout: false,
    force: true,
    mkdir: true,
    fsname: 'bare-fuse',
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

// The parts of fuse-native 2.2.6 this adapter uses (the package ships no types), with the caller
// context and kept attributes of native/fuse-native-2.2.6-onemount.patch (absent from an unpatched build).
declare module 'fuse-native' {
  interface FuseOptions {
    timeout?: number | false;
    force?: boolean;
    mkdir?: boolean;
    fsname?: string;
    subtype?: string;
    attrTimeout?: number;
    entryTimeout?: number;
    kernelCache?: boolean;
    autoCache?: boolean;
    maxRead?: number;
    debug?: boolean;
    /** The patch's kept attributes: how long what getattr and readdir answered is kept. */
    keptAttrsMs?: number;
  }
  class Fuse {
    constructor(mountpoint: string, ops: Record<string, unknown>, options?: FuseOptions);
    mount(cb: (err?: Error | null) => void): void;
    unmount(cb: (err?: Error | null) => void): void;
    /** The request's caller (pid: the calling thread) while an op runs synchronously; null outside one or without it. */
    context?(): { pid: number; uid: number; gid: number } | null;
    /** Whether the loaded binding reports callers. */
    static readonly hasCallerContext?: boolean;
    /** Drops every kept attribute (absent from an unpatched build). */
    forgetKeptAttrs?(): void;
    /** The kept attributes' generation, handed back with a readdir's stats (undefined when nothing is kept). */
    keptGeneration?(): number | undefined;
    /** Keeps `stat` as getattr's answer for `path`, read at `generation` (absent before this patch version). */
    keepAttrs?(path: string, stat: Record<string, unknown>, generation: number | undefined): void;
    /** Drops what is kept of inode `ino`'s attributes, under every name; the names stay known (a write). */
    forgetKeptInode?(ino: number): void;
    /** A new item is about to appear at `path` (a create): a complete folder does not answer it ENOENT. */
    keepName?(path: string): void;
    /** New items are about to appear where it is not said (a batch from the server): no folder is complete any more. */
    forgetKeptAbsent?(): void;
    /** The folder at `path` was just made, empty: complete until a change says otherwise. */
    keepEmptyFolder?(path: string): void;
    /** Whether the loaded binding answers names a complete folder leaves out (the four above; a readdir's `complete`). */
    static readonly hasKeptNames?: boolean;
    /** Nothing is kept from now on, and what was kept is dropped (at unmount). */
    stopKeepingAttrs?(): void;
    /** Whether the loaded binding takes an open's keepCache (the third value of its callback: keep the kernel's cached pages). */
    static readonly hasKeepCache?: boolean;
    /** Whether the loaded binding keeps attributes. */
    static readonly hasKeptAttrs?: boolean;
    /** Hands the C heap's free pages back to the system (absent before this patch version). */
    static trimMalloc?(): boolean;
    static unmount(mountpoint: string, cb: (err?: Error | null) => void): void;
  }
  export default Fuse;
}

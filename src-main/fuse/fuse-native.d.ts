// The parts of fuse-native 2.2.6 this adapter uses (the package ships no types).
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
  }
  class Fuse {
    constructor(mountpoint: string, ops: Record<string, unknown>, options?: FuseOptions);
    mount(cb: (err?: Error | null) => void): void;
    unmount(cb: (err?: Error | null) => void): void;
    static unmount(mountpoint: string, cb: (err?: Error | null) => void): void;
  }
  export default Fuse;
}

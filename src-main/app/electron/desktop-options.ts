/**
 * How the desktop app is told what to run: switches on its command line (`--account`, `--mount`,
 * `--emulator-url`, `--hidden`) or the same as ONEMOUNT_* variables, and the engine command they
 * turn into. Electron's own and Chromium's switches pass through untouched.
 *
 * The engine runs on a Node runtime, not on Electron's: its native modules (better-sqlite3,
 * fuse-native) are built for Node, and fuse-native's external buffers are refused by Electron's V8
 * memory cage (docs/architecture.md). Which Node: ONEMOUNT_NODE, else the one the packaged app ships
 * (resources/node/bin/node), else `node` from PATH (a development checkout). It runs the compiled
 * engine, dist/engine/onemount.js.
 */
import path from 'node:path';

export interface DesktopOptions {
  account: string;
  mountpoint: string;
  /** A OneMount emulator's Graph URL (the demo, tests); absent means Microsoft's service. */
  emulatorUrl?: string;
  /** Start in the tray without showing the panel (the autostart entry passes it). */
  hidden: boolean;
  nodePath: string;
}

function flag(argv: readonly string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === `--${name}`) return argv[i + 1];
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  return undefined;
}

export function parseDesktopOptions(argv: readonly string[], env: NodeJS.ProcessEnv, home: string, bundledNode?: string): DesktopOptions {
  const emulatorUrl = flag(argv, 'emulator-url') ?? env.ONEMOUNT_EMULATOR_URL;
  const mount = flag(argv, 'mount') ?? env.ONEMOUNT_MOUNTPOINT ?? path.join(home, 'OneDrive');
  return {
    account: flag(argv, 'account') ?? env.ONEMOUNT_ACCOUNT ?? 'default',
    mountpoint: path.resolve(home, mount),
    ...(emulatorUrl ? { emulatorUrl } : {}),
    hidden: argv.includes('--hidden'),
    nodePath: env.ONEMOUNT_NODE || bundledNode || 'node',
  };
}

/** `node <app>/dist/engine/onemount.js daemon <mountpoint> --account <a> [--emulator-url <u>]`. */
export function engineCommand(o: DesktopOptions, appRoot: string): { command: string; args: string[] } {
  return {
    command: o.nodePath,
    args: [
      path.join(appRoot, 'dist', 'engine', 'onemount.js'),
      'daemon',
      o.mountpoint,
      '--account',
      o.account,
      ...(o.emulatorUrl ? ['--emulator-url', o.emulatorUrl] : []),
    ],
  };
}

/**
 * The engine's environment: the app's, with glibc's malloc capped at two arenas unless the user
 * set MALLOC_ARENA_MAX. glibc reads it at exec, before V8's helper threads start, so it caps theirs
 * too, which the engine's own cap (engine-loader.js) comes too late for: measured at rest after a
 * 10 000-entry listing, about 6 MiB less resident instead of 3 (docs/architecture.md, "The C heap
 * keeps two arenas"). The systemd unit (assets/onemount-engine@.service) sets the same.
 */
export function engineEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, MALLOC_ARENA_MAX: env.MALLOC_ARENA_MAX || '2' };
}

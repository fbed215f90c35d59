/**
 * `onemount`: the engine's own front door (docs/architecture.md). `mount` and `demo` run the engine in the
 * foreground until Ctrl-C (or SIGTERM), which unmounts through the ordered, lossless shutdown.
 */
import { Command, InvalidArgumentError } from 'commander';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger, type LogLevel } from '../../base/logger.ts';
import { errorMessage } from '../../base/errors.ts';
import { applyEngineV8Flags } from '../../base/v8-flags.ts';
import { installShutdownSignals } from '../../lifecycle/shutdown-signals.ts';
import type { SocketClient } from '../../ipc/socket-client.ts';
import { clearStaleMount } from '../../fuse/fuse-mount.ts';
import { loadSettings } from '../saved-settings.ts';
import { accountPaths } from '../paths.ts';
import { ensureFuse } from './preflight.ts';
import { connectEngine } from './find-engine.ts';
import { EmulatorProcess } from '../../../emulator/src/spawn.ts';
import { formatStatus } from './status-format.ts';
import type { EngineStatus } from '../../../src-shared/ipc/contract.ts';
import { toMountPath } from './mount-path.ts';
import { BandwidthLimitSchema } from '../../../src-shared/ipc/desktop-calls.ts';
import { parseByteSize } from '../../vfs/cache-cleaner.ts';
import { addUiCommand, startPanel } from '../ui/ui-command.ts';
import { chooseTokenSource, EMULATOR_STATIC_TOKEN } from './token-source.ts';
import { addSignInCommands } from './sign-in-command.ts';
import { EXIT_ALREADY_RUNNING, InstanceLock, InstanceLockedError } from './instance-lock.ts';
import { unmount } from './unmount-command.ts';
import { watchMount } from '../../fuse/mount-watch.ts';
import { DEFAULT_TIMEOUTS } from '../../lifecycle/timeout-policy.ts';
import { DEFAULT_INDEXER_PROGRAMS } from '../../fuse/indexer-guard.ts';
import { startFinished } from './code-cache-hook.ts';

const print = (line: string) => process.stdout.write(line + '\n');

/** `2h`, `30m`, `90s`, `1d` → milliseconds. */
function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h|d)$/.exec(text.trim());
  if (!m) throw new InvalidArgumentError(`'${text}' is not a duration like 30m, 2h or 1d`);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
  return Math.round(Number(m[1]) * unit);
}
const byteSize = (v: string) => {
  try {
    return parseByteSize(v);
  } catch (e) {
    throw new InvalidArgumentError(errorMessage(e));
  }
};
/** `1M`, `500K`, `2.5M/s`, `0` or `off` (no limit) → bytes per second. */
const bandwidthLimit = (v: string) => {
  const text = v.trim().toLowerCase();
  const bytes = text === 'off' || text === 'none' ? 0 : byteSize(text.replace(/\/s$/, ''));
  const parsed = BandwidthLimitSchema.safeParse(bytes);
  if (!parsed.success) throw new InvalidArgumentError(`'${v}' is not a bandwidth limit: 0 or off for none, else at least 32K (per second)`);
  return parsed.data;
};
const indexerChoice = (v: string): 'refuse' | 'allow' => {
  if (v !== 'refuse' && v !== 'allow') throw new InvalidArgumentError("must be 'refuse' or 'allow'");
  return v;
};
const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive whole number');
  return n;
};

interface MountFlags {
  emulatorUrl?: string;
  token?: string;
  account: string;
  pollInterval: number;
  transfers: number;
  uploads: number;
  writeBack: number;
  logLevel: LogLevel;
  kernelCache: number;
  cacheLimit?: number;
  bwlimitUp?: number;
  bwlimitDown?: number;
  indexers?: 'refuse' | 'allow';
}

/** Option defaults; a saved setting replaces an option left at its default. */
const DEFAULTS = { transfers: 4, uploads: 2, logLevel: 'info' as LogLevel } as const;

/** One engine per account (instance-lock.ts): taken again by runMount after `demo` took it first. */
const lockAccount = (account: string, mountpoint: string) =>
  InstanceLock.acquire({ stateDir: accountPaths(account).stateDir, holder: { pid: process.pid, account, mountpoint: path.resolve(mountpoint) } });

async function runMount(mountpoint: string, emulatorUrl: string | undefined, flags: MountFlags, onStop?: () => Promise<void>): Promise<void> {
  applyEngineV8Flags();
  await ensureFuse(print);
  // The engine (SQLite, FUSE: native modules) loads only once the preflight has passed.
  const { Engine } = await import('../engine.ts');
  const paths = accountPaths(flags.account);
  // One engine per account, before anything touches its socket, store, cache or mount point.
  await lockAccount(flags.account, mountpoint);
  // Settings saved from the panel apply where the command line left an option at its default.
  const saved = await loadSettings(paths.configDir);
  flags = {
    ...flags,
    transfers: flags.transfers === DEFAULTS.transfers ? (saved.downloadConcurrency ?? flags.transfers) : flags.transfers,
    uploads: flags.uploads === DEFAULTS.uploads ? (saved.uploadConcurrency ?? flags.uploads) : flags.uploads,
    logLevel: flags.logLevel === DEFAULTS.logLevel ? (saved.logLevel ?? flags.logLevel) : flags.logLevel,
    cacheLimit: flags.cacheLimit ?? saved.cacheLimitBytes,
    bwlimitUp: flags.bwlimitUp ?? saved.uploadLimitBytesPerSecond,
    bwlimitDown: flags.bwlimitDown ?? saved.downloadLimitBytesPerSecond,
  };
  const logger = createLogger({ name: 'onemount', level: flags.logLevel, destination: paths.logFile });
  const absolute = path.resolve(mountpoint);
  // A mount point left by a killed engine answers ENOTCONN to everything, mkdir included.
  await clearStaleMount(absolute, logger);
  await mkdir(absolute, { recursive: true });
  const { graphUrl, tokenProvider, session, notes } = await chooseTokenSource({ paths, token: flags.token, emulatorUrl, logger });
  for (const note of notes) print(note);
  print(`Starting the engine for account '${flags.account}' (log: ${paths.logFile})…`);
  const engine = await Engine.start({
    paths,
    mountpoint: absolute,
    graphUrl,
    tokenProvider,
    ...(session ? { session } : {}),
    logger,
    pollIntervalMs: flags.pollInterval * 1000,
    downloadConcurrency: flags.transfers,
    uploadConcurrency: flags.uploads,
    writeBackDelayMs: flags.writeBack,
    kernelCacheSec: flags.kernelCache,
    ...(flags.cacheLimit !== undefined ? { cacheLimitBytes: flags.cacheLimit } : {}),
    ...(flags.bwlimitUp !== undefined ? { uploadLimitBytesPerSecond: flags.bwlimitUp } : {}),
    ...(flags.bwlimitDown !== undefined ? { downloadLimitBytesPerSecond: flags.bwlimitDown } : {}),
    // The panel's list and switch, unless the command line says refuse or allow.
    indexers: {
      refuse: flags.indexers !== undefined ? flags.indexers === 'refuse' : (saved.refuseIndexers ?? true),
      programs: saved.indexerPrograms ?? DEFAULT_INDEXER_PROGRAMS,
    },
    onShutdownProgress: (p) => {
      if (!p.done) print(`  shutting down: ${p.phase} (${p.phaseIndex + 1}/${p.phases.length})${p.itemsLeft ? `, ${p.itemsLeft} left` : ''}`);
    },
  });
  // Before the line that says Ctrl-C works: a signal sent the moment it is read must find the
  // handlers, not Node's default (which kills the process and leaves the mount behind).
  installShutdownSignals(engine.shutdownCoordinator, { logger });
  const status = engine.status();
  // A first start mounts before the drive is listed (folders are listed as they are opened).
  print(status.indexing ? `Mounted at ${absolute}; the drive is listed in the background. Ctrl-C unmounts.` : `Mounted ${status.items} item${status.items === 1 ? '' : 's'} at ${absolute}. Ctrl-C unmounts.`);
  // The start's compiled functions go into the code cache when it held none (a few ms, after the line).
  const codeCache = startFinished();
  if (codeCache) logger.info({ codeCache }, 'started from the compiled engine');
  // An unmount from outside (fusermount -u, an eject) ends the engine as Ctrl-C would.
  const mountWatch = watchMount(absolute, {
    logger,
    intervalMs: engine.policy.ms('mountWatchIntervalMs'),
    onGone: () => {
      print(`${absolute} was unmounted from outside; shutting down.`);
      void engine.shutdown('the mount point was unmounted from outside');
    },
  });
  await new Promise<void>((resolve) => engine.shutdownCoordinator.requested.addEventListener('abort', () => resolve(), { once: true }));
  mountWatch.stop();
  const result = await engine.shutdown('signal');
  await onStop?.();
  const unfinished = result.phases.flatMap((p) => p.unfinished);
  print(`Unmounted ${absolute}${unfinished.length ? ` (unfinished, resumed next start: ${unfinished.join(', ')})` : ''}.`);
  // Every background task must have ended; e2e/harness.ts checks this line after each stop.
  print(`Background tasks left: ${engine.tasksLeft}.`);
  process.exit(0);
}

const program = new Command()
  .name('onemount')
  .description('Microsoft OneDrive as a Linux folder: files on demand, uploads in the background')
  .addHelpText(
    'after',
    `
Also:
  bandwidth limits   mount --bwlimit-up 1M --bwlimit-down 4M holds all uploads / all downloads
                     together to a rate; the panel's settings change them while transfers run
  safe suspend       while changes wait to upload, sleep and shutdown wait a few seconds for them
                     (a logind delay lock: systemd-inhibit --list shows OneMount); what had to wait
                     continues on waking. The system bus is $DBUS_SYSTEM_BUS_ADDRESS, else the standard one
  business names     # and % work on OneDrive for Business unless the organisation turned them off;
                     then, once the drive has refused one, such names fail with EINVAL
  shared folders     folders shared with you and added to your drive are folders on the mount, read and
                     written in their owner's drive; a read-only one refuses changes with EACCES.
                     getfattr -n user.onemount.status says shared on them, user.onemount.share says
                     read-only or read-write`,
  )
  .addHelpText('after', "\nDesktop indexers and thumbnailers (tracker, baloo, *-thumbnailer…) get EACCES when they open a file\nthat is not on this device, so they do not download the drive (`mount --indexers allow` lets them).");

const mountOptions = (cmd: Command) =>
  cmd
    .option('--account <name>', 'account name (separate config, cache and state per account)', 'default')
    .option('--token <token>', 'a fixed bearer token for the emulator (default: the account\'s sign-in, else one the emulator accepts)')
    .option('--poll-interval <seconds>', 'how often remote changes are fetched', positiveInt, DEFAULT_TIMEOUTS.deltaPollIntervalMs / 1000)
    .option('--transfers <n>', 'parallel downloads', positiveInt, DEFAULTS.transfers)
    .option('--uploads <n>', 'parallel uploads', positiveInt, DEFAULTS.uploads)
    .option('--write-back <ms>', 'quiet time after the last write before a file uploads', positiveInt, DEFAULT_TIMEOUTS.uploadWriteBackDelayMs)
    .option('--kernel-cache <seconds>', 'how long the kernel may cache names and attributes', positiveInt, DEFAULT_TIMEOUTS.kernelCacheTimeoutMs / 1000)
    .option('--cache-limit <size>', 'largest size of downloaded content kept on this device, e.g. 64M or 20G (default: 10G or 10% of the disk, whichever is smaller)', byteSize)
    .option('--bwlimit-up <rate>', 'bandwidth limit for all uploads together, per second, e.g. 1M or 500K (default: none; 0 or off: none)', bandwidthLimit)
    .option('--bwlimit-down <rate>', 'bandwidth limit for all downloads together, per second, e.g. 4M (default: none; 0 or off: none)', bandwidthLimit)
    .option('--log-level <level>', 'fatal, error, warn, info, debug or trace', DEFAULTS.logLevel)
    .option(
      '--indexers <refuse|allow>',
      'what desktop indexers and thumbnailers (tracker, baloo, updatedb, *-thumbnailer…; the list is in the panel\'s settings) get when they open a file not on this device: refuse (EACCES, the default: they do not download the drive) or allow; files on this device read normally for everyone',
      indexerChoice,
    );

mountOptions(
  program
    .command('mount')
    .description('mount a drive at <dir> and serve it until Ctrl-C')
    .argument('<dir>', 'mount point (created if missing)')
    .option('--emulator-url <url>', 'Graph API base URL of a OneMount emulator, e.g. http://127.0.0.1:8080/v1.0'),
).action(async (dir: string, flags: MountFlags) => runMount(dir, flags.emulatorUrl, flags));

mountOptions(
  program
    .command('daemon')
    .description('run the engine (as the desktop app starts it): mount <dir> and serve until stopped')
    .argument('<dir>', 'mount point')
    .option('--emulator-url <url>', 'Graph API base URL of a OneMount emulator'),
).action(async (dir: string, flags: MountFlags) => runMount(dir, flags.emulatorUrl, flags));

mountOptions(
  program
    .command('demo')
    .description('start the built-in emulator with the demo drive and mount it')
    .argument('[dir]', 'mount point', path.join(os.homedir(), 'OneMount-demo'))
    .option('--data-dir <dir>', 'where the demo drive lives', path.join(process.env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share'), 'onemount', 'demo-drive')),
).action(async (dir: string, flags: MountFlags & { dataDir: string }) => {
  await ensureFuse(print);
  // A second demo must not start a second emulator on the same demo drive.
  await lockAccount(flags.account === 'default' ? 'demo' : flags.account, dir);
  await mkdir(flags.dataDir, { recursive: true });
  print('Starting the OneDrive emulator with the demo drive…');
  const emulator = await EmulatorProcess.start({ dataDir: flags.dataDir, demo: true });
  print(`  API ${emulator.info.apiUrl} · admin ${emulator.info.adminUrl}/info`);
  const account = flags.account === 'default' ? 'demo' : flags.account;
  // The panel waits for the engine's socket, so it starts first and its address is printed early.
  const panel = await startPanel({ account }).catch((e: unknown) => {
    print(`  No transfer panel: ${errorMessage(e)}`);
    return undefined;
  });
  if (panel) print(`  Transfer panel: ${panel.url}`);
  const stop = async () => {
    await panel?.close();
    await emulator.stop();
  };
  try {
    // The demo drive runs on the lenient emulator: a fixed token, whatever the account signed in to.
    await runMount(dir, emulator.info.apiUrl, { ...flags, account, token: flags.token ?? EMULATOR_STATIC_TOKEN }, stop);
  } catch (e) {
    await stop();
    throw e;
  }
});

program
  .command('status')
  .description("show a running engine's state and transfers")
  .option('--account <name>', 'account name (default: the one running engine)')
  .option('--json', 'print the status as JSON')
  .option('--watch', 'keep showing live progress until Ctrl-C')
  .action(async (flags: { account?: string; json?: boolean; watch?: boolean }) => {
    const client = await connectEngine(flags.account);
    const show = (status: EngineStatus) => print(flags.json ? JSON.stringify(status, flags.watch ? undefined : null, flags.watch ? undefined : 2) : formatStatus(status));
    if (!flags.watch) {
      try {
        show(await client.call('status', {}));
      } finally {
        client.close();
      }
      return;
    }
    // Live: state changes arrive as events; transfers move between them, so refresh every second too.
    const clear = () => {
      if (!flags.json && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
    };
    client.on('status', (s) => (clear(), show(s)));
    client.on('shutdown', (p) => print(`engine shutting down: ${p.phase}${p.itemsLeft ? ` (${p.itemsLeft} left)` : ''}${p.done ? ' — done' : ''}`));
    await client.call('subscribe', { events: ['status', 'shutdown'] });
    const closed = new Promise<void>((resolve) => client.onClose(resolve));
    const timer = setInterval(() => {
      client.call('status', {}).then((s) => (clear(), show(s)), () => undefined);
    }, DEFAULT_TIMEOUTS.statusWatchRefreshMs);
    process.once('SIGINT', () => client.close());
    await closed;
    clearInterval(timer);
    print('the engine closed the connection');
  });

program
  .command('pause')
  .description('pause syncing (no uploads, no remote changes; the mount keeps working)')
  .option('--account <name>', 'account name (default: the one running engine)')
  .option('--for <duration>', 'how long, e.g. 2h, 8h, 24h, 30m (default: until `onemount resume`)')
  .action(async (flags: { account?: string; for?: string }) => {
    const durationMs = flags.for === undefined ? undefined : parseDuration(flags.for);
    const client = await connectEngine(flags.account);
    try {
      const state = await client.call('pause', durationMs === undefined ? {} : { durationMs });
      print(state.until ? `Syncing paused until ${new Date(state.until).toLocaleString()}.` : 'Syncing paused until you resume it.');
    } finally {
      client.close();
    }
  });

program
  .command('resume')
  .description('resume syncing')
  .option('--account <name>', 'account name (default: the one running engine)')
  .action(async (flags: { account?: string }) => {
    const client = await connectEngine(flags.account);
    try {
      await client.call('resume', {});
      print('Syncing resumed.');
    } finally {
      client.close();
    }
  });

const sizeText = (bytes: number) => (bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`);

/** A large folder tree takes a while to walk; the answer comes once it is queued or freed. */
const PATH_CALL_TIMEOUT_MS = DEFAULT_TIMEOUTS.ipcLongCallTimeoutMs;

/** Runs a path call (pin, unpin, free) against the account's running engine, with the path mapped into the mount. */
async function pathCall<R>(given: string, account: string | undefined, call: (client: SocketClient, path: string) => Promise<R>): Promise<R> {
  const client = await connectEngine(account);
  try {
    const { mountpoint } = await client.call('status', {});
    return await call(client, toMountPath(given, mountpoint, process.cwd()));
  } finally {
    client.close();
  }
}

program
  .command('pin')
  .description('always keep a file or folder on this device (downloads it in the background)')
  .argument('<path>', 'inside the mount point (absolute, or relative to it)')
  .option('--account <name>', 'account name (default: the one running engine)')
  .action(async (given: string, flags: { account?: string }) => {
    const r = await pathCall(given, flags.account, (c, path) => c.call('pin', { path }, PATH_CALL_TIMEOUT_MS));
    print(`Pinned ${r.path}: ${r.files} file(s), ${sizeText(r.bytes)}; ${r.queued} to download in the background.`);
  });

program
  .command('unpin')
  .description('stop keeping a file or folder on this device (its cached content may be cleaned later)')
  .argument('<path>', 'inside the mount point (absolute, or relative to it)')
  .option('--account <name>', 'account name (default: the one running engine)')
  .action(async (given: string, flags: { account?: string }) => {
    const r = await pathCall(given, flags.account, (c, path) => c.call('unpin', { path }, PATH_CALL_TIMEOUT_MS));
    print(`Unpinned ${r.path} (${r.unpinned} pin(s) cleared).`);
    if (r.stillPinnedBy) print(`It stays on this device: ${r.stillPinnedBy} is pinned.`);
  });

program
  .command('free')
  .description('free up space: drop the downloaded content of a file or folder (it stays online)')
  .argument('<path>', 'inside the mount point (absolute, or relative to it)')
  .option('--account <name>', 'account name (default: the one running engine)')
  .action(async (given: string, flags: { account?: string }) => {
    const r = await pathCall(given, flags.account, (c, path) => c.call('free', { path }, PATH_CALL_TIMEOUT_MS));
    print(`Freed ${sizeText(r.freedBytes)} (${r.freedFiles} file(s)) in ${r.path}.`);
    const kept = [
      r.skippedPinned ? `${r.skippedPinned} pinned (unpin first)` : '',
      r.skippedDirty ? `${r.skippedDirty} with changes not uploaded yet` : '',
      r.skippedOpen ? `${r.skippedOpen} open` : '',
    ].filter(Boolean);
    if (kept.length) print(`Kept: ${kept.join(', ')}.`);
  });

program
  .command('unmount')
  .description('unmount a OneMount folder (the engine shuts down cleanly)')
  .argument('<dir>', 'mount point')
  .action(async (dir: string) => unmount(dir, path.dirname(accountPaths('default').socketPath), print));

addSignInCommands(program, print);

addUiCommand(program, print);

// No top-level await: the compiled engine is a CommonJS script (see build-engine.js).
program.parseAsync().catch((e: unknown) => {
  process.stderr.write(`onemount: ${errorMessage(e)}\n`);
  process.exit(e instanceof InstanceLockedError ? EXIT_ALREADY_RUNNING : 1);
});

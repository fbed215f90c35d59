/** `onemount ui`: browser mode's front door, and the panel `onemount demo` starts next to its engine. */
import type { Command } from 'commander';
import os from 'node:os';
import path from 'node:path';
import { ensurePrivateDir } from '../../base/files.ts';
import { createLogger } from '../../base/logger.ts';
import { accountPaths } from '../paths.ts';
import type { UiServer } from './ui-server.ts';
import { runningAccount } from '../cli/find-engine.ts';
import { Autostart, autostartDir } from '../electron/autostart.ts';

/**
 * The command's own script, which the autostart entry runs: the one this process was started with
 * (source or compiled engine alike), else the launcher next to this file in a checkout.
 */
const ONEMOUNT_SCRIPT = process.argv[1]?.endsWith('onemount.js') ? path.resolve(process.argv[1]) : path.resolve(import.meta.dirname, '../cli/onemount.js');

export interface PanelOptions {
  account: string;
  port?: number;
  staticDir?: string;
}

/** Starts the panel server for an account's engine (running or not yet: the page waits for it). */
export async function startPanel(o: PanelOptions): Promise<UiServer> {
  const paths = accountPaths(o.account);
  await ensurePrivateDir(paths.stateDir);
  const logger = createLogger({ name: 'onemount-ui', level: 'info', destination: path.join(paths.stateDir, 'ui.log') });
  // In browser mode start on login means the engine: `onemount daemon <mount point>` at login.
  const autostartFor = (mountpoint: string) => new Autostart(autostartDir(process.env, os.homedir()), [process.execPath, ONEMOUNT_SCRIPT, 'daemon', mountpoint, '--account', o.account], { hidden: false });
  // Loaded here, not with the command line: `mount` and `daemon` never need the panel (nor ws).
  const { BUILT_RENDERER_DIR, UiServer } = await import('./ui-server.ts');
  return UiServer.start({
    staticDir: o.staticDir ?? BUILT_RENDERER_DIR,
    socketPath: paths.socketPath,
    logger,
    desktop: { configDir: paths.configDir, autostartFor },
    ...(o.port !== undefined ? { port: o.port } : {}),
  });
}

export function addUiCommand(program: Command, print: (line: string) => void): void {
  program
    .command('ui')
    .description("serve the transfer panel on 127.0.0.1 for a browser (headless machines); it follows the account's engine")
    .option('--account <name>', 'account name (default: the one running engine, else default)')
    .option('--port <n>', 'port (default: any free one)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new Error('--port must be 0..65535');
      return n;
    })
    .action(async (flags: { account?: string; port?: number }) => {
      const account = flags.account ?? (await runningAccount()) ?? 'default';
      const ui = await startPanel({ ...flags, account });
      if (flags.account === undefined) print(`Following account '${account}'.`);
      print(`Transfer panel: ${ui.url}`);
      print('The address holds a secret for this run; share it with no one. Ctrl-C stops the panel (the drive stays mounted).');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await ui.close();
    });
}

/**
 * The Electron main process (design.md, Runtime shape): supervises the engine process, shows the
 * tray, the panel and the sign-in window, relays the contract to the panel, and quits through the
 * engine's graceful shutdown. Only this file and preload.ts import 'electron'; every decision lives
 * in the tested modules next to it (supervisor, tray model, IPC validation, relay, autostart,
 * notifications, app protocol), so this file only wires them to Electron's objects.
 *
 * Runs as the bundle dist/electron/main.js (build.ts); the app's root is two folders up from it.
 * Electron cannot be installed with its binary on the development machines, so this file is
 * typechecked here and run where Electron exists (e2e/electron).
 */
import {
  app,
  BrowserWindow,
  ipcMain,
  Menu,
  nativeImage,
  nativeTheme,
  Notification,
  protocol,
  shell,
  Tray,
  type IpcMainEvent,
  type MenuItemConstructorOptions,
} from 'electron';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { errorMessage } from '../../base/errors.ts';
import { ensurePrivateDir } from '../../base/files.ts';
import { createLogger } from '../../base/logger.ts';
import { SocketClient } from '../../ipc/socket-client.ts';
import type { EngineStatus } from '../../../src-shared/ipc/contract.ts';
import { Events, type EventName } from '../../../src-shared/ipc/contract.ts';
import { accountPaths } from '../paths.ts';
import { panelHeaders, resolveAppUrl } from './app-protocol.ts';
import { Autostart, autostartDir } from './autostart.ts';
import { engineCommand, parseDesktopOptions } from './desktop-options.ts';
import { EngineSupervisor } from './engine-supervisor.ts';
import { APP_ORIGIN, HELLO_CHANNEL, LINK_CHANNEL, MESSAGE_CHANNEL, REQUEST_CHANNEL, checkSender, validateHello, validateRequest, type SenderInfo } from './ipc-validation.ts';
import { notificationsFor } from './notifications.ts';
import { PanelRelay, linkOf, refusalLine } from './panel-relay.ts';
import { trayIconFile, trayView, type TrayAction, type TrayMenuItem } from './tray-model.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const appRoot = path.resolve(here, '..', '..');
const rendererDir = path.join(appRoot, 'dist', 'renderer');
const assetsDir = path.join(appRoot, 'assets');
/** Time-dependent words in the tray ("resuming in 45 s") are refreshed this often. */
const TRAY_REFRESH_MS = 5000;

protocol.registerSchemesAsPrivileged([{ scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true } }]);

async function main(): Promise<void> {
  app.setName('OneMount');
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  // The packaged app's own Node (electron-builder.yml's extraResources); absent when run from a checkout.
  const bundledNode = path.join(process.resourcesPath, 'node', 'bin', 'node');
  const options = parseDesktopOptions(process.argv, process.env, os.homedir(), existsSync(bundledNode) ? bundledNode : undefined);
  const paths = accountPaths(options.account);
  await ensurePrivateDir(paths.stateDir);
  const logger = createLogger({ name: 'onemount-desktop', level: 'info', destination: path.join(paths.stateDir, 'desktop.log') });
  const engineOutput = path.join(paths.stateDir, 'engine-output.log');
  // An AppImage is started again through its own path; otherwise electron + this script.
  const relaunch = process.env.APPIMAGE ? [process.env.APPIMAGE] : app.isPackaged ? [process.execPath] : [process.execPath, path.join(here, 'main.js')];
  const autostart = new Autostart(autostartDir(process.env, os.homedir()), relaunch);
  const { command, args } = engineCommand(options, appRoot);

  const supervisor = new EngineSupervisor({
    command,
    args,
    socketPath: paths.socketPath,
    logger: logger.child({ part: 'supervisor' }),
    connect: (p) => SocketClient.connect(p),
    spawn: (cmd, argv) => {
      // Own session and no pipes to this process: the engine (and the mount) outlives a UI crash,
      // and its prints never hit a closed pipe. Its own log is paths.logFile.
      const out = openSync(engineOutput, 'a', 0o600);
      try {
        return spawn(cmd, argv, { stdio: ['ignore', out, out], detached: true, env: process.env });
      } finally {
        closeSync(out);
      }
    },
  });

  await app.whenReady();

  protocol.handle('app', async (request) => {
    const target = resolveAppUrl(request.url, rendererDir);
    if (!target) return new Response('not found', { status: 404 });
    try {
      return new Response(await readFile(target.file), { headers: panelHeaders(target.contentType) });
    } catch (e) {
      logger.warn({ err: e, url: request.url }, 'app:// could not serve a file');
      return new Response('not found', { status: 404 });
    }
  });

  let quitting = false;
  let engineStopped = false;
  let notificationsOn = true;
  let previousStatus: EngineStatus | undefined;
  let panel: { window: BrowserWindow; relay: PanelRelay } | undefined;
  let signInWindow: BrowserWindow | undefined;

  const trusted = { webContentsIds: new Set<number>(), rendererDirUrl: pathToFileURL(rendererDir + path.sep).href };
  const desktop = {
    quit: () => app.quit(),
    openSignIn: (url: string) => openSignIn(url),
    autostart,
    settingsSeen: (s: { notifications: boolean }) => (notificationsOn = s.notifications),
  };

  const lockDown = (win: BrowserWindow) => {
    win.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
    win.webContents.on('will-attach-webview', (e) => e.preventDefault());
  };

  const showPanel = (view: 'panel' | 'settings' = 'panel') => {
    if (!panel || panel.window.isDestroyed()) {
      const window = new BrowserWindow({
        width: 440,
        height: 640,
        minWidth: 360,
        minHeight: 420,
        show: false,
        title: 'OneMount',
        autoHideMenuBar: true,
        icon: path.join(assetsDir, 'onemount.png'),
        webPreferences: {
          preload: path.join(here, 'preload.cjs'),
          contextIsolation: true,
          sandbox: true,
          nodeIntegration: false,
          webSecurity: true,
          spellcheck: false,
          navigateOnDragDrop: false,
        },
      });
      lockDown(window);
      // The panel never leaves the app's origin (a hash change is not a navigation).
      window.webContents.on('will-navigate', (e, url) => {
        if (!url.startsWith(`${APP_ORIGIN}/`)) e.preventDefault();
      });
      window.webContents.on('render-process-gone', (_e, details) => {
        // The engine and the mount are another process: only the page is reloaded.
        logger.error({ details }, 'the panel renderer went away: reloading it');
        if (!window.isDestroyed() && details.reason !== 'clean-exit') window.reload();
      });
      const id = window.webContents.id;
      trusted.webContentsIds.add(id);
      window.on('close', (e) => {
        if (!quitting) {
          e.preventDefault();
          window.hide();
        }
      });
      window.on('closed', () => trusted.webContentsIds.delete(id));
      panel = { window, relay: new PanelRelay(supervisor, desktop) };
      window.once('ready-to-show', () => window.show());
      window.loadURL(`${APP_ORIGIN}/index.html${view === 'settings' ? '#settings' : ''}`).catch((e: unknown) => logger.error({ err: e }, 'the panel did not load'));
      return;
    }
    if (view === 'settings') {
      panel.window.webContents.executeJavaScript("location.hash = '#settings'").catch((e: unknown) => logger.warn({ err: e }, 'could not open the settings view'));
    }
    panel.window.show();
    panel.window.focus();
  };

  const sendToPanel = (channel: string, message: unknown) => {
    if (panel && !panel.window.isDestroyed()) panel.window.webContents.send(channel, message);
  };

  const openSignIn = (url: string) => {
    if (!/^https?:\/\//.test(url)) {
      logger.error('the engine gave a sign-in address that is not http(s): ignored');
      return;
    }
    signInWindow?.close();
    const window = new BrowserWindow({
      width: 480,
      height: 640,
      title: 'Sign in to OneDrive',
      autoHideMenuBar: true,
      webPreferences: { contextIsolation: true, sandbox: true, nodeIntegration: false, partition: 'persist:onemount-sign-in' },
    });
    lockDown(window);
    window.on('closed', () => {
      if (signInWindow === window) signInWindow = undefined;
    });
    signInWindow = window;
    window.loadURL(url).catch((e: unknown) => logger.warn({ err: e }, 'the sign-in page did not load'));
  };

  const senderOf = (event: IpcMainEvent): SenderInfo => ({
    webContentsId: event.sender.id,
    frameUrl: event.senderFrame?.url,
    isMainFrame: event.senderFrame !== null && event.senderFrame.parent === null,
  });

  ipcMain.on(REQUEST_CHANNEL, (event, raw: unknown) => {
    const refusal = checkSender(senderOf(event), trusted);
    if (refusal || !panel) {
      logger.warn({ refusal }, 'ipc: message refused');
      return;
    }
    const { relay } = panel;
    const checked = validateRequest(raw);
    if (!checked.ok) {
      logger.warn({ refusal: checked.refusal }, 'ipc: request refused');
      const line = refusalLine(checked.refusal);
      if (line) event.sender.send(MESSAGE_CHANNEL, line);
      return;
    }
    relay.answer(checked.request).then(
      (line) => {
        if (!event.sender.isDestroyed()) event.sender.send(MESSAGE_CHANNEL, line);
      },
      (e: unknown) => logger.error({ err: e }, 'ipc: answering failed'),
    );
  });

  ipcMain.on(HELLO_CHANNEL, (event, ...rest: unknown[]) => {
    const refusal = checkSender(senderOf(event), trusted) ?? validateHello(rest);
    if (refusal) {
      logger.warn({ refusal }, 'ipc: hello refused');
      return;
    }
    event.sender.send(LINK_CHANNEL, linkOf(supervisor.state));
  });

  for (const name of Object.keys(Events) as EventName[]) {
    supervisor.on(name, (payload) => {
      if (panel?.relay.wantsEvent(name)) sendToPanel(MESSAGE_CHANNEL, JSON.stringify({ event: name, payload }));
    });
  }

  // Tray
  const tray = new Tray(nativeImage.createEmpty());
  let shownTray = '';
  const runAction = (action: TrayAction) => {
    const attempt = (what: string, work: () => Promise<unknown>) =>
      work().catch((e: unknown) => {
        logger.warn({ err: e, action }, `${what} failed`);
        if (Notification.isSupported()) new Notification({ title: what, body: errorMessage(e) }).show();
      });
    switch (action.kind) {
      case 'open-folder': {
        const mountpoint = supervisor.lastStatus?.mountpoint;
        if (mountpoint) void attempt('Could not open the OneDrive folder', async () => {
          const failure = await shell.openPath(mountpoint);
          if (failure) throw new Error(failure);
        });
        return;
      }
      case 'show-panel':
        return showPanel();
      case 'settings':
        return showPanel('settings');
      case 'pause':
        return void attempt('Could not pause syncing', () => supervisor.call('pause', action.durationMs !== undefined ? { durationMs: action.durationMs } : {}));
      case 'resume':
        return void attempt('Could not resume syncing', () => supervisor.call('resume', {}));
      case 'sync-now':
        return void attempt('Could not start a sync', () => supervisor.call('syncNow', {}));
      case 'sign-in':
        return void attempt('Could not start signing in', async () => openSignIn((await supervisor.call('signIn', {}, 60_000)).authorizationUrl));
      case 'sign-out':
        return void attempt('Could not sign out', () => supervisor.call('signOut', {}));
      case 'start-engine':
        return void attempt('Could not start OneMount', () => supervisor.start());
      case 'quit':
        return app.quit();
    }
  };
  const toElectron = (items: TrayMenuItem[]): MenuItemConstructorOptions[] =>
    items.map((m) => {
      if (m.type === 'separator') return { type: 'separator' };
      if (m.type === 'submenu') return { label: m.label, enabled: m.enabled, submenu: toElectron(m.items) };
      const action = m.action;
      return { label: m.label, enabled: m.enabled, ...(action ? { click: () => runAction(action) } : {}) };
    });
  const refreshTray = () => {
    const view = trayView({ engine: supervisor.state, status: supervisor.lastStatus, now: Date.now() });
    const key = JSON.stringify([view, nativeTheme.shouldUseDarkColors]);
    if (key === shownTray) return;
    shownTray = key;
    const theme = nativeTheme.shouldUseDarkColors ? 'dark' : 'light';
    const image = nativeImage.createFromPath(trayIconFile(assetsDir, view.icon, theme, 22));
    image.addRepresentation({ scaleFactor: 2, buffer: nativeImage.createFromPath(trayIconFile(assetsDir, view.icon, theme, 48)).toPNG() });
    tray.setImage(image);
    tray.setToolTip(view.tooltip);
    tray.setContextMenu(Menu.buildFromTemplate(toElectron(view.menu)));
  };
  tray.on('click', () => showPanel());
  const trayTimer = setInterval(refreshTray, TRAY_REFRESH_MS);
  nativeTheme.on('updated', refreshTray);

  supervisor.onState((s) => {
    sendToPanel(LINK_CHANNEL, linkOf(s));
    if (!s.connected) previousStatus = undefined;
    refreshTray();
  });
  supervisor.on('status', (status) => {
    if (signInWindow && status.auth?.state === 'signed-in') signInWindow.close();
    if (notificationsOn && Notification.isSupported()) {
      for (const n of notificationsFor(previousStatus, status)) {
        const note = new Notification({ title: n.title, body: n.body, icon: path.join(assetsDir, 'onemount.png') });
        note.on('click', () => (n.opens === 'sign-in' ? runAction({ kind: 'sign-in' }) : showPanel()));
        note.show();
      }
    }
    previousStatus = status;
    refreshTray();
  });

  // Quit (tray, panel, SIGTERM, logout): the engine's graceful shutdown first, its progress in the panel.
  app.on('before-quit', (e) => {
    if (engineStopped) return;
    e.preventDefault();
    if (quitting) return;
    quitting = true;
    showPanel();
    supervisor.stop().then(
      (exit) => logger.info({ exit }, 'engine stopped; quitting'),
      (err: unknown) => logger.error({ err }, 'stopping the engine failed; quitting anyway'),
    ).finally(() => {
      engineStopped = true;
      clearInterval(trayTimer);
      app.quit();
    });
  });
  app.on('window-all-closed', () => {
    // A tray app keeps running with no window open.
  });
  app.on('second-instance', () => showPanel());

  refreshTray();
  await supervisor.start();
  if (!options.hidden) showPanel();
}

main().catch((e: unknown) => {
  process.stderr.write(`onemount: ${errorMessage(e)}\n`);
  app.exit(1);
});

/**
 * The Electron main process (docs/architecture.md, Runtime shape): supervises the engine process, shows the
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
  screen,
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
import { engineCommand, engineEnvironment, parseDesktopOptions } from './desktop-options.ts';
import { EngineSupervisor } from './engine-supervisor.ts';
import { APP_ORIGIN, HELLO_CHANNEL, LINK_CHANNEL, MESSAGE_CHANNEL, REQUEST_CHANNEL, checkSender, validateHello, validateRequest, type SenderInfo } from './ipc-validation.ts';
import { notificationsFor } from './notifications.ts';
import { PanelRelay, linkOf, refusalLine } from './panel-relay.ts';
import { popoverPosition, trayIconFile, trayIconVariant, trayView, uploadsBeforeQuit, type TrayAction, type TrayMenuItem } from './tray-model.ts';
import { firstRunAutostart, notificationsOn as notificationsOnSaved } from '../saved-settings.ts';
import { DEFAULT_TIMEOUTS } from '../../lifecycle/timeout-policy.ts';

type PanelMode = 'popover' | 'window';

const here = path.dirname(fileURLToPath(import.meta.url));
const appRoot = path.resolve(here, '..', '..');
const rendererDir = path.join(appRoot, 'dist', 'renderer');
const assetsDir = path.join(appRoot, 'assets');

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
        return spawn(cmd, argv, { stdio: ['ignore', out, out], detached: true, env: engineEnvironment(process.env) });
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
  // On by default (docs/ui.md); a person's "off" is in the account's settings file.
  let notificationsOn = await notificationsOnSaved(paths.configDir).catch((e: unknown) => {
    logger.warn({ err: e }, 'could not read the saved settings; notifications stay on');
    return true;
  });
  // Start on login is on by default: the first run writes the autostart entry once.
  await firstRunAutostart(paths.configDir, autostart).then(
    (wrote) => wrote && logger.info({ file: autostart.file }, 'first run: start on login switched on'),
    (e: unknown) => logger.warn({ err: e }, 'could not switch start on login on'),
  );
  let previousStatus: EngineStatus | undefined;
  /** The popover next to the tray (frameless, hides when it loses focus) and the ordinary window. */
  const panels = new Map<PanelMode, { window: BrowserWindow; relay: PanelRelay }>();
  let signInWindow: BrowserWindow | undefined;

  const trusted = { webContentsIds: new Set<number>(), rendererDirUrl: pathToFileURL(rendererDir + path.sep).href };
  const desktop = {
    quit: () => app.quit(),
    openSignIn: (url: string) => openSignIn(url),
    autostart,
    configDir: paths.configDir,
    openInWindow: () => {
      panels.get('popover')?.window.hide();
      showPanel('window');
    },
    openFolder: async (o: { folder: string } | { select: string }) => {
      if ('select' in o) return shell.showItemInFolder(o.select);
      const failure = await shell.openPath(o.folder);
      if (failure) throw new Error(failure);
    },
    settingsSeen: (s: { notifications: boolean }) => (notificationsOn = s.notifications),
  };

  const lockDown = (win: BrowserWindow) => {
    win.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
    win.webContents.on('will-attach-webview', (e) => e.preventDefault());
  };

  const POPOVER_SIZE = { width: 400, height: 600 };
  /** Where the pointer was when the tray was clicked: the popover's anchor when the tray has no bounds. */
  let trayPointer = { x: 0, y: 0 };

  const placePopover = (window: BrowserWindow) => {
    const bounds = tray.getBounds();
    const display = screen.getDisplayNearestPoint(bounds.width > 0 ? { x: bounds.x, y: bounds.y } : trayPointer);
    const { x, y } = popoverPosition({ tray: bounds, pointer: trayPointer, workArea: display.workArea, size: POPOVER_SIZE });
    window.setPosition(x, y);
  };

  /** `hash`: the view to open at (#settings, or #quit to ask before quitting with uploads pending). */
  const showPanel = (mode: PanelMode = 'popover', hash: '' | '#settings' | '#quit' = '') => {
    const existing = panels.get(mode);
    if (!existing || existing.window.isDestroyed()) {
      const popover = mode === 'popover';
      const window = new BrowserWindow({
        ...(popover
          ? { ...POPOVER_SIZE, frame: false, resizable: false, movable: false, minimizable: false, maximizable: false, skipTaskbar: true, alwaysOnTop: true }
          : { width: 440, height: 640, minWidth: 360, minHeight: 420 }),
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
      // A popover goes away when the person clicks elsewhere, as the tray popovers of other sync clients do.
      if (popover) window.on('blur', () => !quitting && !window.isDestroyed() && window.hide());
      window.on('closed', () => trusted.webContentsIds.delete(id));
      panels.set(mode, { window, relay: new PanelRelay(supervisor, desktop) });
      window.once('ready-to-show', () => {
        if (popover) placePopover(window);
        window.show();
        window.focus();
      });
      // The popover's page offers "Open in a window" (?popover); the window's page does not.
      window.loadURL(`${APP_ORIGIN}/index.html${popover ? '?popover' : ''}${hash}`).catch((e: unknown) => logger.error({ err: e }, 'the panel did not load'));
      return;
    }
    const { window } = existing;
    if (hash) window.webContents.executeJavaScript(`location.hash = ${JSON.stringify(hash)}`).catch((e: unknown) => logger.warn({ err: e, hash }, 'could not open the panel view'));
    if (mode === 'popover') placePopover(window);
    window.show();
    window.focus();
  };

  const sendToPanels = (channel: string, message: unknown, only?: (relay: PanelRelay) => boolean) => {
    for (const { window, relay } of panels.values()) {
      if (!window.isDestroyed() && (!only || only(relay))) window.webContents.send(channel, message);
    }
  };
  const relayOf = (webContentsId: number) => [...panels.values()].find((p) => !p.window.isDestroyed() && p.window.webContents.id === webContentsId)?.relay;

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
    const relay = relayOf(event.sender.id);
    if (refusal || !relay) {
      logger.warn({ refusal }, 'ipc: message refused');
      return;
    }
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
      sendToPanels(MESSAGE_CHANNEL, JSON.stringify({ event: name, payload }), (relay) => relay.wantsEvent(name));
    });
  }

  // Tray
  // KDE draws its panel in the colour scheme's colours; the tray icon's variant follows them.
  const kdeglobals = await readFile(path.join(process.env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'), 'kdeglobals'), 'utf8').catch((e: unknown) => {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn({ err: e }, 'could not read kdeglobals; the tray icon follows the system theme');
    return undefined;
  });
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
        return showPanel('popover');
      case 'open-window':
        return showPanel('window');
      case 'settings':
        return showPanel('window', '#settings');
      case 'pause':
        return void attempt('Could not pause syncing', () => supervisor.call('pause', action.durationMs !== undefined ? { durationMs: action.durationMs } : {}));
      case 'resume':
        return void attempt('Could not resume syncing', () => supervisor.call('resume', {}));
      case 'sync-now':
        return void attempt('Could not start a sync', () => supervisor.call('syncNow', {}));
      case 'sign-in':
        return void attempt('Could not start signing in', async () => openSignIn((await supervisor.call('signIn', {}, DEFAULT_TIMEOUTS.ipcLongCallTimeoutMs)).authorizationUrl));
      case 'sign-out':
        return void attempt('Could not sign out', () => supervisor.call('signOut', {}));
      case 'start-engine':
        return void attempt('Could not start OneMount', () => supervisor.start());
      case 'quit':
        // With uploads pending the panel asks first; its answer quits through the relay.
        if (uploadsBeforeQuit(supervisor.lastStatus) > 0) return showPanel('window', '#quit');
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
    const theme = trayIconVariant({ desktop: process.env.XDG_CURRENT_DESKTOP, override: process.env.ONEMOUNT_TRAY_THEME, kdeglobals, systemDark: nativeTheme.shouldUseDarkColors });
    const key = JSON.stringify([view, theme]);
    if (key === shownTray) return;
    shownTray = key;
    const image = nativeImage.createFromPath(trayIconFile(assetsDir, view.icon, theme, 22));
    image.addRepresentation({ scaleFactor: 2, buffer: nativeImage.createFromPath(trayIconFile(assetsDir, view.icon, theme, 48)).toPNG() });
    tray.setImage(image);
    tray.setToolTip(view.tooltip);
    tray.setContextMenu(Menu.buildFromTemplate(toElectron(view.menu)));
  };
  tray.on('click', () => {
    trayPointer = screen.getCursorScreenPoint();
    const open = panels.get('popover');
    if (open && !open.window.isDestroyed() && open.window.isVisible()) open.window.hide();
    else showPanel('popover');
  });
  const trayTimer = setInterval(refreshTray, DEFAULT_TIMEOUTS.trayRefreshMs);
  nativeTheme.on('updated', refreshTray);

  supervisor.onState((s) => {
    sendToPanels(LINK_CHANNEL, linkOf(s));
    if (!s.connected) previousStatus = undefined;
    refreshTray();
  });
  supervisor.on('status', (status) => {
    if (signInWindow && status.auth?.state === 'signed-in') signInWindow.close();
    if (notificationsOn && Notification.isSupported()) {
      for (const n of notificationsFor(previousStatus, status)) {
        const note = new Notification({ title: n.title, body: n.body, icon: path.join(assetsDir, 'onemount.png') });
        note.on('click', () => (n.opens === 'sign-in' ? runAction({ kind: 'sign-in' }) : showPanel('window')));
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
    // The shutdown's progress shows in the ordinary window: a popover would hide when focus moves.
    showPanel('window');
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
  app.on('second-instance', () => showPanel('window'));

  refreshTray();
  await supervisor.start();
  if (!options.hidden) showPanel('window');
}

main().catch((e: unknown) => {
  process.stderr.write(`onemount: ${errorMessage(e)}\n`);
  app.exit(1);
});

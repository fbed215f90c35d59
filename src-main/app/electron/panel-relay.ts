/**
 * The main process's half of one panel window's contract link: answers its (already validated)
 * requests — most by forwarding them to the engine, a few by the desktop itself — and says which
 * engine events the window asked for. Answers are the engine's own wire lines, so the preload's
 * ContractClient reads them exactly as a browser reads the WebSocket's.
 *
 * Handled here rather than by the engine:
 *   subscribe      the main process is the engine's subscriber; this records what the window wants
 *   quit           the app's graceful quit (the supervisor stops the engine; the panel shows progress)
 *   quitNow        cut that shutdown short
 *   signIn         forwarded, then the sign-in window opens the authorization URL
 *   settings, updateSettings   "start on login" (the autostart entry) and notifications are the desktop's switches
 *   openFolder     the file manager is the desktop's
 *   openInWindow   the popover's "Open in a window"
 */
import type { EngineLink } from '../../../src-shared/ipc/api.ts';
import type { CallName, CallParams, CallResult, EventName } from '../../../src-shared/ipc/contract.ts';
import type { Settings } from '../../../src-shared/ipc/desktop-calls.ts';
import { errorMessage } from '../../base/errors.ts';
import { saveDesktopSwitches, withDesktopSwitches, type AutostartSwitch } from '../saved-settings.ts';
import type { SupervisorState } from './engine-supervisor.ts';
import type { Refusal, ValidRequest } from './ipc-validation.ts';
import { DEFAULT_TIMEOUTS } from '../../lifecycle/timeout-policy.ts';

export interface RelayEngine {
  call<M extends CallName>(method: M, params: CallParams<M>, timeoutMs?: number): Promise<CallResult<M>>;
  quitNow(): Promise<void>;
}

export interface RelayDesktop {
  /** Starts the app's graceful quit; returns at once. */
  quit(): void;
  openSignIn(authorizationUrl: string): void;
  autostart: AutostartSwitch;
  /** The account's config folder, where the desktop's switches are kept next to the engine's settings. */
  configDir: string;
  /** The popover's "Open in a window": the ordinary window shows, the popover hides. */
  openInWindow(): void;
  /** Opens a folder of the mount in the file manager (`select`: a file to show selected in it). */
  openFolder(o: { folder: string } | { select: string }): Promise<void>;
  /** Told about every settings answer (the main process follows the notifications switch). */
  settingsSeen?(settings: Settings): void;
}

/** Walking a large folder tree to pin or free it takes a while (as `onemount pin` allows). */
const SLOW = DEFAULT_TIMEOUTS.ipcLongCallTimeoutMs;
const SLOW_CALLS: Partial<Record<CallName, number>> = { pin: SLOW, unpin: SLOW, free: SLOW, signIn: SLOW };

export class PanelRelay {
  #wanted: ReadonlySet<string> | 'all' | undefined;

  constructor(
    private readonly engine: RelayEngine,
    private readonly desktop: RelayDesktop,
  ) {}

  /** Whether the window subscribed to this event. */
  wantsEvent(event: EventName): boolean {
    return this.#wanted === 'all' || (this.#wanted?.has(event) ?? false);
  }

  /** The answer line for one request (never throws: failures become contract errors). */
  async answer(request: ValidRequest): Promise<string> {
    try {
      return JSON.stringify({ id: request.id, result: await this.#serve(request) });
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      return JSON.stringify({ id: request.id, error: { code: typeof code === 'string' ? code : 'FAILED', message: errorMessage(e) } });
    }
  }

  async #serve({ method, params }: ValidRequest): Promise<unknown> {
    switch (method) {
      case 'subscribe': {
        const events = (params as CallParams<'subscribe'>).events;
        this.#wanted = events ? new Set(events) : 'all';
        return { ok: true };
      }
      case 'quit':
        this.desktop.quit();
        return { ok: true };
      case 'quitNow':
        await this.engine.quitNow();
        return { ok: true };
      case 'signIn': {
        const r = await this.engine.call('signIn', {}, SLOW_CALLS.signIn);
        this.desktop.openSignIn(r.authorizationUrl);
        return r;
      }
      case 'openInWindow':
        this.desktop.openInWindow();
        return { ok: true };
      case 'openFolder': {
        // The mount point is the engine's to say; the path is checked by the contract (inside the mount).
        const { path: inside } = params as CallParams<'openFolder'>;
        const { mountpoint } = await this.engine.call('status', {});
        await this.desktop.openFolder(inside === undefined || inside === '/' ? { folder: mountpoint } : { select: mountpoint + inside });
        return { ok: true };
      }
      case 'settings':
        return this.#withDesktop(await this.engine.call('settings', {}));
      case 'updateSettings': {
        const update = params as CallParams<'updateSettings'>;
        await saveDesktopSwitches(this.desktop.configDir, this.desktop.autostart, update);
        const { startOnLogin: _, notifications: __, ...engineUpdate } = update;
        const settings = Object.keys(engineUpdate).length > 0 ? await this.engine.call('updateSettings', engineUpdate) : await this.engine.call('settings', {});
        return this.#withDesktop(settings);
      }
      default:
        return this.engine.call(method, params as never, SLOW_CALLS[method]);
    }
  }

  /** The engine does not know the desktop's switches (it would say notifications are off): they are read here. */
  async #withDesktop(settings: Settings): Promise<Settings> {
    const merged = await withDesktopSwitches(this.desktop.configDir, this.desktop.autostart, settings);
    this.desktop.settingsSeen?.(merged);
    return merged;
  }
}

/** The answer to a refused request that carried an id (without one, there is nobody to answer). */
export function refusalLine(refusal: Refusal): string | undefined {
  return refusal.id === undefined ? undefined : JSON.stringify({ id: refusal.id, error: { code: refusal.code, message: refusal.message } });
}

/** The engine link as the panel shows it, from the supervisor's state. */
export function linkOf(s: SupervisorState): EngineLink {
  if (s.connected) return { state: 'connected' };
  switch (s.phase) {
    case 'starting':
      return { state: 'connecting' };
    case 'restarting':
      return {
        state: 'disconnected',
        reason: `The OneMount engine stopped unexpectedly (${s.lastExit?.message ?? 'unknown'})`,
        ...(s.restartAt !== undefined ? { retryAt: s.restartAt } : {}),
      };
    case 'stopping':
      return { state: 'disconnected', reason: 'OneMount is shutting down' };
    default:
      return { state: 'disconnected', reason: 'The OneMount engine is not running' };
  }
}

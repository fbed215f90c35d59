/**
 * The gate between the renderer and the main process. The preload speaks the contract's wire form
 * (one JSON request per message, answered by id, as ContractClient sends it), and main.ts lets a
 * message through only when
 *   - it comes from the panel's own webContents, from its main frame, at the app's own origin
 *     (app://onemount, or a file:// page inside the built renderer) — never from the sign-in window,
 *     which shows a remote page, nor from a frame that page might embed;
 *   - it is a string within the size cap, a well-formed request, for a method of the contract,
 *     with params its schema accepts.
 * The engine validates again; this is the main process protecting itself and its own handlers
 * (quit, sign-in, settings) which never reach the engine's checks.
 */
import { Calls, RequestSchema, type CallName, type CallParams } from '../../../src-shared/ipc/contract.ts';

/** Renderer → main. */
export const REQUEST_CHANNEL = 'onemount:request';
/** Renderer → main: "send me the link state" (the preload's first message). */
export const HELLO_CHANNEL = 'onemount:hello';
/** Main → renderer: answers and events, as the engine's own lines. */
export const MESSAGE_CHANNEL = 'onemount:message';
/** Main → renderer: the EngineLink. */
export const LINK_CHANNEL = 'onemount:link';

/** Same cap as the engine's request lines. */
export const MAX_REQUEST_CHARS = 64 * 1024;

/** The app's own origin for the panel (a privileged standard scheme registered by main.ts). */
export const APP_ORIGIN = 'app://onemount';

/** What main.ts knows of a message's sender (from IpcMainEvent.sender and .senderFrame). */
export interface SenderInfo {
  webContentsId: number;
  /** The sending frame's URL; undefined when the frame is gone. */
  frameUrl: string | undefined;
  isMainFrame: boolean;
}

export interface TrustedSenders {
  /** webContents ids of the app's own panel windows. */
  webContentsIds: ReadonlySet<number>;
  /** file:// pages are trusted only inside this folder (the built renderer), as a file:// URL ending in '/'. */
  rendererDirUrl?: string;
}

export type Refusal = { code: 'FORBIDDEN_SENDER' | 'BAD_REQUEST' | 'TOO_LARGE' | 'UNKNOWN_METHOD' | 'BAD_PARAMS'; message: string; id?: number };

/** undefined when the sender may talk to the main process, or why it may not. */
export function checkSender(sender: SenderInfo, trusted: TrustedSenders): Refusal | undefined {
  const refuse = (why: string): Refusal => ({ code: 'FORBIDDEN_SENDER', message: `refused a message ${why}` });
  if (!trusted.webContentsIds.has(sender.webContentsId)) return refuse(`from webContents ${sender.webContentsId}, which is not the panel`);
  if (!sender.isMainFrame) return refuse('from a sub-frame');
  if (sender.frameUrl === undefined) return refuse('from a frame that is gone');
  let url: URL;
  try {
    url = new URL(sender.frameUrl);
  } catch {
    return refuse(`from an unparseable URL`);
  }
  if (url.protocol === 'app:') {
    // Node's URL gives custom schemes the origin 'null'; protocol + host is the origin Chromium uses.
    return `${url.protocol}//${url.host}` === APP_ORIGIN ? undefined : refuse(`from ${url.protocol}//${url.host}`);
  }
  if (url.protocol === 'file:') {
    const dir = trusted.rendererDirUrl;
    // URL() resolves ../ segments, so a prefix check on the normalised href is a containment check.
    return dir !== undefined && dir.endsWith('/') && url.href.startsWith(dir) ? undefined : refuse('from a file outside the app');
  }
  return refuse(`from ${url.protocol}//${url.host}`);
}

export interface ValidRequest<M extends CallName = CallName> {
  id: number;
  method: M;
  params: CallParams<M>;
}

/** A request message checked against the contract: the parsed request, or a refusal (with the id to answer, when it had one). */
export function validateRequest(raw: unknown): { ok: true; request: ValidRequest } | { ok: false; refusal: Refusal } {
  const refuse = (code: Refusal['code'], message: string, id?: number) => ({ ok: false as const, refusal: { code, message, ...(id !== undefined ? { id } : {}) } });
  if (typeof raw !== 'string') return refuse('BAD_REQUEST', 'a request is one JSON text');
  if (raw.length > MAX_REQUEST_CHARS) return refuse('TOO_LARGE', `a request is at most ${MAX_REQUEST_CHARS} characters`);
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return refuse('BAD_REQUEST', 'not JSON');
  }
  const req = RequestSchema.safeParse(json);
  if (!req.success) return refuse('BAD_REQUEST', 'not a request of the contract');
  const { id, method } = req.data;
  if (!Object.hasOwn(Calls, method)) return refuse('UNKNOWN_METHOD', `unknown method ${method}`, id);
  const name = method as CallName;
  const params = Calls[name].params.safeParse(req.data.params ?? {});
  if (!params.success) return refuse('BAD_PARAMS', params.error.message, id);
  return { ok: true, request: { id, method: name, params: params.data as CallParams<CallName> } };
}

/** A hello carries nothing; anything else on that channel is not from our preload. */
export function validateHello(args: readonly unknown[]): Refusal | undefined {
  return args.length === 0 ? undefined : { code: 'BAD_REQUEST', message: 'hello carries no arguments' };
}

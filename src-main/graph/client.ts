/**
 * The engine's client of the OneDrive part of Microsoft Graph (docs/graph-api.md). Operations return
 * parsed driveItems; server-given URLs (nextLink, deltaLink, download and upload URLs) are used
 * verbatim, and pre-authenticated URLs never see the bearer token.
 *
 * Which requests are repeated after a transient failure (5xx, 408, network error, timeout):
 * - GET, PUT, DELETE, PATCH: yes. PATCH here only sets absolute values (name, parent, times), so
 *   a repeat is harmless; with If-Match a repeat after a lost answer can fail with 412, which the
 *   caller treats like any stale eTag (re-read). A DELETE that answers 404 on a repeat succeeded.
 * - createUploadSession (POST): yes; a session orphaned by a lost answer simply expires.
 * - createFolder (POST) and simple upload: yes unless conflictBehavior is `rename`, where a repeat
 *   could create a second item. With `fail`, a repeat can answer 409 for the folder the first
 *   attempt made (the error's `attempts` > 1 tells the caller to look it up).
 * - Upload fragments: yes when the body is replayable; a 416 on a repeat means the first attempt
 *   landed, so the session is asked for its next expected range.
 * - Requests with a one-shot Readable body: never.
 * Throttled (429/503 + Retry-After) and 401 answers were not processed, so those are repeated
 * for every replayable request.
 */
import { Readable } from 'node:stream';
import { OneMountError } from '../base/errors.ts';
import type { Logger } from '../base/logger.ts';
import { encodeDrivePath, encodeItemId, encodePathSegment } from './drive-path.ts';
import { parseDrive, parseDriveItem, parsePage, type Drive, type DriveItem, type FileSystemInfo } from './drive-item.ts';
import {
  DownloadUrlExpiredError,
  GraphApiError,
  GraphProtocolError,
  RangeNotSatisfiableError,
} from './errors.ts';
import { GraphTransport, discardBody, headerValue, type BodySource, type SendRequest, type SendResult } from './graph-transport.ts';
import type { ThrottleState } from './throttle-gate.ts';
import { parseThumbnailSets, type ThumbnailSet } from './thumbnails.ts';
import type { TokenProvider } from './token-provider.ts';
import type { DriveRouter, ItemAddress, PermissionRole } from './drive-router.ts';
import { FRAGMENT_UNIT, MAX_FRAGMENT, SIMPLE_UPLOAD_LIMIT } from './upload-limits.ts';

export type ConflictBehavior = 'fail' | 'replace' | 'rename';

export interface GraphClientOptions {
  /** e.g. `https://graph.microsoft.com/v1.0` or the emulator's `http://127.0.0.1:PORT/v1.0`. */
  baseUrl: string;
  tokenProvider: TokenProvider;
  /** A drive id to address as `/drives/{id}`; default the signed-in user's `/me/drive`. */
  driveId?: string;
  logger?: Logger;
  requestTimeoutMs: number;
  connectTimeoutMs?: number;
  /** An idle connection is kept this long for the next request (unless the server says less). */
  idleConnectionMs?: number;
  /** A transfer body that moves no bytes for this long fails; default requestTimeoutMs. */
  stallTimeoutMs?: number;
  maxRetries: number;
  maxThrottleRetries?: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** Connections per origin. */
  connections?: number;
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal | undefined) => Promise<void>;
  random?: () => number;
  /** Once per attempt: did it reach the server (any HTTP answer) or not (network error, timeout). */
  onOutcome?: (ok: boolean, error?: Error) => void;
  /** While true, network failures are not repeated (the connectivity probe takes over). */
  isOffline?: () => boolean;
  /** Where items of shared folders live (other drives); without one every id is the user's drive's. */
  router?: DriveRouter;
}

/**
 * Personal (since 2025) lists shared folders added to the drive (shortcuts with remoteItem) in
 * children and delta only when asked to (docs/graph-api.md §2.2, §15 #15); Business ignores it.
 */
const SHORTCUTS_PREFER = 'Include-Feature=AddToOneDrive';

export interface CallOptions {
  signal?: AbortSignal;
}

export interface ListOptions extends CallOptions {
  top?: number;
  select?: readonly string[];
}

export interface DeltaOptions extends ListOptions {
  /** Told about each page as it arrives (the batch is still returned whole). */
  onPage?: (items: readonly DriveItem[]) => void;
  /** Awaited before each page after the first is asked for (lets more urgent requests go first). */
  beforeNextPage?: () => Promise<void>;
}

export interface DeltaPage {
  items: DriveItem[];
  nextLink: string | undefined;
  deltaLink: string | undefined;
}

export interface DeltaBatch {
  /** Every item of every page, in server order (the last occurrence of an id wins, §5). */
  items: DriveItem[];
  deltaLink: string;
  pages: number;
}

export interface ItemPatch {
  name?: string;
  /** Move: the new parent's real id (not the alias `root`, §8.2). */
  parentReference?: { id: string; driveId?: string };
  fileSystemInfo?: Pick<FileSystemInfo, 'createdDateTime' | 'lastModifiedDateTime'>;
  description?: string;
}

export interface ConditionalOptions extends CallOptions {
  ifMatch?: string;
}

export interface RangeDownload {
  /** Exactly the bytes [start, start + length) of the file (fewer only if the file is shorter). */
  stream: Readable;
  /** The file size, from Content-Range or, on a 200, Content-Length. */
  totalSize: number | undefined;
  /** False when the server ignored Range and the client is skipping to `start` itself. */
  partial: boolean;
}

export interface SimpleUploadOptions extends ConditionalOptions {
  conflictBehavior?: ConflictBehavior;
  /** Required for stream bodies (sent as Content-Length); checked against Buffer bodies. */
  size?: number;
}

export type UploadTarget = { parentId: string; name: string } | { itemId: string };

export interface UploadSessionOptions extends ConditionalOptions {
  conflictBehavior?: ConflictBehavior;
  fileSystemInfo?: Pick<FileSystemInfo, 'createdDateTime' | 'lastModifiedDateTime'>;
  fileSize?: number;
  /** The file is created only by commitUploadSession once every byte is in (§7.4). */
  deferCommit?: boolean;
}

export interface UploadSession {
  uploadUrl: string;
  expirationDateTime: string | undefined;
  nextExpectedRanges: string[];
}

export type FragmentResult = { done: false; nextExpectedRanges: string[] } | { done: true; item: DriveItem };

export class UploadTooLargeError extends OneMountError {
  constructor(size: number) {
    super('UPLOAD_TOO_LARGE', `simple upload takes at most ${SIMPLE_UPLOAD_LIMIT} bytes, got ${size}; use an upload session`);
  }
}

const REDIRECTS = [301, 302, 303, 307, 308] as const;

export class GraphClient {
  readonly #transport: GraphTransport;
  readonly #base: string;
  readonly #drive: string;
  #router: DriveRouter | undefined;

  constructor(options: GraphClientOptions) {
    this.#router = options.router;
    this.#base = options.baseUrl.replace(/\/+$/, '');
    this.#drive = options.driveId === undefined ? '/me/drive' : `/drives/${encodePathSegment(options.driveId)}`;
    this.#transport = new GraphTransport({
      tokenProvider: options.tokenProvider,
      requestTimeoutMs: options.requestTimeoutMs,
      maxRetries: options.maxRetries,
      retryBaseMs: options.retryBaseMs,
      retryMaxMs: options.retryMaxMs,
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
      ...(options.idleConnectionMs === undefined ? {} : { idleConnectionMs: options.idleConnectionMs }),
      ...(options.stallTimeoutMs === undefined ? {} : { stallTimeoutMs: options.stallTimeoutMs }),
      ...(options.maxThrottleRetries === undefined ? {} : { maxThrottleRetries: options.maxThrottleRetries }),
      ...(options.connections === undefined ? {} : { connections: options.connections }),
      ...(options.now ? { now: options.now } : {}),
      ...(options.sleep ? { sleep: options.sleep } : {}),
      ...(options.random ? { random: options.random } : {}),
      ...(options.onOutcome ? { onOutcome: options.onOutcome } : {}),
      ...(options.isOffline ? { isOffline: options.isOffline } : {}),
    });
  }

  /** Epoch ms until which every request waits because the server throttled us, or undefined. */
  get throttledUntil(): number | undefined {
    return this.#transport.gate.throttledUntil;
  }

  /** Called when a throttle pause starts or is extended (a time) and when it ends (undefined). */
  onThrottle(listener: (state: ThrottleState) => void): () => void {
    return this.#transport.gate.events.on('throttle', listener);
  }

  /** Sets where items of shared folders live (the store knows once it is open). */
  setRouter(router: DriveRouter | undefined): void {
    this.#router = router;
  }

  /** New connections from now on (GraphTransport.dropIdleConnections): after a sleep, a network change. */
  dropIdleConnections(): void {
    this.#transport.dropIdleConnections();
  }

  /** Closes the connection pool once the requests in flight are answered (undici's close waits for them); a request sent after it fails. */
  close(): Promise<void> {
    return this.#transport.close();
  }

  /**
   * One cheap request (`GET /me/drive?$select=id`), never repeated: resolves when the service
   * answered anything at all (an error status still proves it is reachable, and so does a throttle
   * pause, which only an answer can start); rejects with the network failure or the signal's reason.
   */
  async probe(options: CallOptions = {}): Promise<void> {
    if (this.throttledUntil !== undefined) return;
    try {
      await this.#send({ method: 'GET', url: this.#url(this.#drive, { select: ['id'] }), authenticated: true, retry: false, probe: true, signal: options.signal });
    } catch (error) {
      if (error instanceof GraphApiError) return;
      throw error;
    }
  }

  // ── metadata ──────────────────────────────────────────────────────────────

  async getDrive(options: CallOptions = {}): Promise<Drive> {
    return parseDrive(await this.#getJson(this.#url(this.#drive), options.signal));
  }

  async getItem(id: string, options: CallOptions & { select?: readonly string[] } = {}): Promise<DriveItem> {
    return this.#item(await this.#getJson(this.#url(this.#itemPath(id), { select: options.select }), options.signal));
  }

  /**
   * `path` relative to the drive root (`a/b.txt`, `/a/b.txt`); `''` or `/` is the root. A path
   * through a shared folder is asked of that folder's drive, relative to the folder.
   */
  async getItemByPath(path: string, options: CallOptions & { select?: readonly string[] } = {}): Promise<DriveItem> {
    const shared = this.#router?.path(path);
    const encoded = encodeDrivePath(shared ? shared.rest : path);
    const base = shared ? addressPath(shared.folder) : `${this.#drive}/root`;
    const route = encoded.length === 0 ? base : `${base}:/${encoded}`;
    return this.#item(await this.#getJson(this.#url(route, { select: options.select }), options.signal));
  }

  /**
   * The roles the signed-in user holds on an item (`GET …/permissions`): `read`, `write`, `owner`.
   * For an item of a shared folder, what the share grants.
   */
  async getPermissionRoles(at: ItemAddress, options: CallOptions = {}): Promise<PermissionRole[]> {
    const page = parsePage(await this.#getJson(this.#url(`${addressPath(at)}/permissions`), options.signal));
    const roles = new Set<PermissionRole>();
    for (const permission of page.value) {
      const granted = (permission as { roles?: unknown }).roles;
      if (Array.isArray(granted)) for (const role of granted) if (typeof role === 'string') roles.add(role);
    }
    return [...roles];
  }

  /** The item's thumbnail sets; empty when it has none (not an image, video or document). Their URLs are fetched with downloadRange. */
  async listThumbnails(id: string, options: CallOptions = {}): Promise<ThumbnailSet[]> {
    return parseThumbnailSets(await this.#getJson(this.#url(`${this.#itemPath(id)}/thumbnails`), options.signal));
  }

  /** The children of a folder, one page at a time, following `@odata.nextLink` verbatim. */
  async *listChildren(id: string, options: ListOptions = {}): AsyncGenerator<DriveItem[], void, undefined> {
    let url: string | undefined = this.#url(`${this.#itemPath(id, 'folder')}/children`, { top: options.top, select: options.select });
    while (url !== undefined) {
      const page = parsePage(await this.#getJson(url, options.signal));
      yield page.value.map((value) => this.#item(value));
      url = page.nextLink;
    }
  }

  /**
   * The pages of one delta batch: from `link` (a stored deltaLink, used verbatim) or, without one,
   * a full enumeration. The last page carries the deltaLink. A 410 or expired token throws a
   * GraphApiError for which isResyncRequired() holds (its `location` restarts the enumeration).
   */
  async *deltaPages(link: string | undefined, options: ListOptions = {}): AsyncGenerator<DeltaPage, void, undefined> {
    let url: string | undefined = link ?? this.#url(`${this.#drive}/root/delta`, { top: options.top, select: options.select });
    while (url !== undefined) {
      const page = parsePage(await this.#getJson(url, options.signal));
      if (page.nextLink === undefined && page.deltaLink === undefined) {
        throw new GraphProtocolError('a delta page with neither nextLink nor deltaLink');
      }
      yield { items: page.value.map(parseDriveItem), nextLink: page.nextLink, deltaLink: page.deltaLink };
      url = page.nextLink;
    }
  }

  /**
   * The first delta link of a folder in another drive (a shared folder's own delta, §5):
   * `/drives/{d}/items/{id}/delta`, or with `root` that drive's `/drives/{d}/root/delta` (Business
   * serves delta only on a drive's root). Pass it to `delta` as the link.
   */
  deltaStart(at: ItemAddress, options: { root?: boolean; top?: number; select?: readonly string[] } = {}): string {
    const base = options.root ? `/drives/${encodePathSegment(at.driveId)}/root` : addressPath(at);
    return this.#url(`${base}/delta`, { top: options.top, select: options.select });
  }

  /** A whole delta batch, every page collected, so the caller can apply it at once (§5). */
  async delta(link: string | undefined, options: DeltaOptions = {}): Promise<DeltaBatch> {
    const items: DriveItem[] = [];
    let pages = 0;
    for await (const page of this.deltaPages(link, options)) {
      pages++;
      options.onPage?.(page.items);
      for (const item of page.items) items.push(item);
      if (page.deltaLink !== undefined) return { items, deltaLink: page.deltaLink, pages };
      await options.beforeNextPage?.();
    }
    throw new GraphProtocolError('the delta feed ended without a deltaLink');
  }

  /** A deltaLink for "now", without enumerating (`token=latest`). */
  async deltaLatest(options: CallOptions = {}): Promise<string> {
    const page = parsePage(await this.#getJson(this.#url(`${this.#drive}/root/delta`, { token: 'latest' }), options.signal));
    if (page.deltaLink === undefined) throw new GraphProtocolError('token=latest answered without a deltaLink');
    return page.deltaLink;
  }

  // ── namespace changes ─────────────────────────────────────────────────────

  /** Creates a folder; read the answer's `name`, which differs from `name` under `rename` (§8.1). */
  async createFolder(parentId: string, name: string, conflictBehavior: ConflictBehavior = 'fail', options: CallOptions = {}): Promise<DriveItem> {
    const result = await this.#send({
      method: 'POST',
      url: this.#url(`${this.#itemPath(parentId, 'folder')}/children`),
      authenticated: true,
      json: { name, folder: {}, '@microsoft.graph.conflictBehavior': conflictBehavior },
      retry: conflictBehavior !== 'rename',
      signal: options.signal,
    });
    return this.#item(parseJson(result));
  }

  /** Rename, move and/or set times. An answer without a body (seen as 204, §8.2) is followed by a re-read. */
  async update(id: string, patch: ItemPatch, options: ConditionalOptions = {}): Promise<DriveItem> {
    // A move into a shared folder's shortcut names the folder it points to.
    const newParent = patch.parentReference && patch.parentReference.driveId === undefined ? this.#router?.folder(patch.parentReference.id) : undefined;
    const result = await this.#send({
      method: 'PATCH',
      url: this.#url(this.#itemPath(id)),
      authenticated: true,
      json: newParent ? { ...patch, parentReference: { id: newParent.itemId, driveId: newParent.driveId } } : patch,
      headers: options.ifMatch === undefined ? {} : { 'if-match': options.ifMatch },
      retry: true,
      signal: options.signal,
    });
    if (result.status === 204 || result.text.trim().length === 0) return this.getItem(id, options);
    return this.#item(parseJson(result));
  }

  /** Moves an item to the recycle bin. */
  async deleteItem(id: string, options: ConditionalOptions = {}): Promise<void> {
    await this.#send({
      method: 'DELETE',
      url: this.#url(this.#itemPath(id)),
      authenticated: true,
      headers: options.ifMatch === undefined ? {} : { 'if-match': options.ifMatch },
      retry: true,
      doneOnRepeat: [404],
      signal: options.signal,
    });
  }

  // ── download ──────────────────────────────────────────────────────────────

  /** A fresh pre-authenticated URL for a file's bytes: the `Location` of `/content`'s 302 (§6). */
  async downloadUrl(id: string, options: CallOptions = {}): Promise<string> {
    const result = await this.#send({
      method: 'GET',
      url: this.#url(`${this.#itemPath(id)}/content`),
      authenticated: true,
      accept: REDIRECTS,
      stream: true,
      retry: true,
      signal: options.signal,
    });
    if (result.body) await discardBody(result.body);
    const location = headerValue(result.headers, 'location');
    if (!REDIRECTS.includes(result.status as (typeof REDIRECTS)[number]) || location === undefined) {
      throw new GraphProtocolError(`/content answered ${result.status} without a redirect`);
    }
    return location;
  }

  /**
   * Bytes [start, endExclusive) from a download URL (no Authorization header). Without
   * `endExclusive` the rest of the file. Handles a 200 answer to a ranged request by skipping to
   * `start`. Throws RangeNotSatisfiableError on 416 and DownloadUrlExpiredError when the storage
   * host refuses the URL.
   */
  async downloadRange(url: string, start: number, endExclusive: number | undefined, signal?: AbortSignal): Promise<RangeDownload> {
    if (!Number.isSafeInteger(start) || start < 0 || (endExclusive !== undefined && endExclusive < start)) {
      throw new RangeError(`bad byte range ${start}-${endExclusive}`);
    }
    if (endExclusive === start) return { stream: Readable.from([]), totalSize: undefined, partial: true };
    let result: SendResult;
    try {
      result = await this.#transport.send({
        method: 'GET',
        url,
        authenticated: false,
        headers: { range: `bytes=${start}-${endExclusive === undefined ? '' : endExclusive - 1}` },
        accept: [416],
        stream: true,
        retry: true,
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (error instanceof GraphApiError && [401, 403, 404, 410].includes(error.status)) {
        throw new DownloadUrlExpiredError(error.status, { cause: error });
      }
      throw error;
    }
    const body = result.body!;
    const length = endExclusive === undefined ? Number.POSITIVE_INFINITY : endExclusive - start;
    if (result.status === 416) {
      await discardBody(body);
      const total = /\/(\d+)\s*$/.exec(headerValue(result.headers, 'content-range') ?? '');
      throw new RangeNotSatisfiableError(start, total ? Number(total[1]) : undefined);
    }
    if (result.status === 206) {
      const contentRange = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)/i.exec(headerValue(result.headers, 'content-range') ?? '');
      if (!contentRange || Number(contentRange[1]) !== start) {
        await discardBody(body);
        throw new GraphProtocolError(`206 with Content-Range "${headerValue(result.headers, 'content-range')}" for a range starting at ${start}`);
      }
      const totalSize = contentRange[3] === '*' ? undefined : Number(contentRange[3]);
      // The usual answer holds no more than was asked for: its body is the range as it comes
      // (slicing it through an async generator cost two promises per network chunk).
      const stream = Number(contentRange[2]) + 1 <= start + length ? body : Readable.from(sliceBody(body, 0, length));
      return { stream, totalSize, partial: true };
    }
    if (result.status !== 200) {
      await discardBody(body);
      throw new GraphProtocolError(`download answered ${result.status}`);
    }
    // The server ignored Range (allowed, §6): skip to `start` ourselves.
    const contentLength = headerValue(result.headers, 'content-length');
    const totalSize = contentLength === undefined ? undefined : Number(contentLength);
    if (totalSize !== undefined && start >= totalSize && start > 0) {
      await discardBody(body);
      throw new RangeNotSatisfiableError(start, totalSize);
    }
    return { stream: Readable.from(sliceBody(body, start, length)), totalSize, partial: false };
  }

  // ── upload ────────────────────────────────────────────────────────────────

  /** Simple upload of a new or replaced file by parent and name (≤ 4 MiB, §7.1). */
  async uploadSmall(parentId: string, name: string, body: BodySource, options: SimpleUploadOptions = {}): Promise<DriveItem> {
    const conflictBehavior = options.conflictBehavior ?? 'replace';
    const url = `${this.#url(`${this.#itemPath(parentId, 'folder')}:/${encodePathSegment(name)}:/content`)}?@microsoft.graph.conflictBehavior=${conflictBehavior}`;
    return this.#simpleUpload(url, body, options, conflictBehavior !== 'rename');
  }

  /** Simple upload replacing an existing file's content by id (≤ 4 MiB). */
  async uploadSmallById(id: string, body: BodySource, options: Omit<SimpleUploadOptions, 'conflictBehavior'> = {}): Promise<DriveItem> {
    return this.#simpleUpload(this.#url(`${this.#itemPath(id)}/content`), body, options, true);
  }

  /** Opens a resumable upload session (§7.2); conflict behaviour is always sent (default replace). */
  async createUploadSession(target: UploadTarget, options: UploadSessionOptions = {}): Promise<UploadSession> {
    const route =
      'itemId' in target
        ? `${this.#itemPath(target.itemId)}/createUploadSession`
        : `${this.#itemPath(target.parentId, 'folder')}:/${encodePathSegment(target.name)}:/createUploadSession`;
    const item: Record<string, unknown> = { '@microsoft.graph.conflictBehavior': options.conflictBehavior ?? 'replace' };
    if ('name' in target) item['name'] = target.name;
    if (options.fileSystemInfo) item['fileSystemInfo'] = options.fileSystemInfo;
    if (options.fileSize !== undefined) item['fileSize'] = options.fileSize;
    const result = await this.#send({
      method: 'POST',
      url: this.#url(route),
      authenticated: true,
      json: options.deferCommit ? { item, deferCommit: true } : { item },
      headers: options.ifMatch === undefined ? {} : { 'if-match': options.ifMatch },
      retry: true,
      signal: options.signal,
    });
    const session = parseSessionJson(parseJson(result));
    if (session.uploadUrl === undefined) throw new GraphProtocolError('createUploadSession answered without an uploadUrl');
    return { ...session, uploadUrl: session.uploadUrl };
  }

  /**
   * Sends bytes [start, endExclusive) of a `total`-byte file to an upload URL (no Authorization).
   * Non-final fragments must be multiples of FRAGMENT_UNIT. The final one answers with the item,
   * unless the session defers its commit (`deferred`): then nothing more is expected.
   */
  async uploadFragment(
    uploadUrl: string,
    start: number,
    endExclusive: number,
    total: number,
    body: BodySource,
    signal?: AbortSignal,
    deferred = false,
  ): Promise<FragmentResult> {
    const length = endExclusive - start;
    if (length <= 0 || endExclusive > total || length > MAX_FRAGMENT) {
      throw new RangeError(`bad fragment ${start}-${endExclusive} of ${total}`);
    }
    if (endExclusive < total && length % FRAGMENT_UNIT !== 0) {
      throw new RangeError(`a non-final fragment must be a multiple of ${FRAGMENT_UNIT} bytes, got ${length}`);
    }
    checkBodyLength(body, length);
    let result: SendResult;
    try {
      result = await this.#transport.send({
        method: 'PUT',
        url: uploadUrl,
        authenticated: false,
        headers: { 'content-length': String(length), 'content-range': `bytes ${start}-${endExclusive - 1}/${total}` },
        body,
        retry: true,
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      // A repeat overlapping what the lost first attempt delivered: continue from the server's offset.
      if (error instanceof GraphApiError && error.status === 416 && error.attempts > 1) {
        const session = await this.getUploadSession(uploadUrl, signal);
        return { done: false, nextExpectedRanges: session.nextExpectedRanges };
      }
      throw error;
    }
    if (result.status === 200 || result.status === 201) return { done: true, item: this.#item(parseJson(result)) };
    const session = parseSessionJson(result.text.trim().length === 0 ? {} : parseJson(result));
    if (endExclusive === total && session.nextExpectedRanges.length === 0 && !deferred) {
      throw new GraphProtocolError(`the final fragment answered ${result.status} without the item`);
    }
    return { done: false, nextExpectedRanges: session.nextExpectedRanges };
  }

  /** The session's state: which ranges it still expects (§7.4). */
  async getUploadSession(uploadUrl: string, signal?: AbortSignal): Promise<Omit<UploadSession, 'uploadUrl'>> {
    const result = await this.#transport.send({
      method: 'GET',
      url: uploadUrl,
      authenticated: false,
      retry: true,
      ...(signal ? { signal } : {}),
    });
    const { expirationDateTime, nextExpectedRanges } = parseSessionJson(parseJson(result));
    return { expirationDateTime, nextExpectedRanges };
  }

  /**
   * Creates the file of a session opened with deferCommit once every byte is in: `POST <uploadUrl>`
   * with an empty body (§7.4). A repeat after a lost answer finds the session gone (404): the
   * caller uploads again, and finds its own version on the server.
   */
  async commitUploadSession(uploadUrl: string, signal?: AbortSignal): Promise<DriveItem> {
    const result = await this.#transport.send({
      method: 'POST',
      url: uploadUrl,
      authenticated: false,
      headers: { 'content-length': '0' },
      retry: true,
      ...(signal ? { signal } : {}),
    });
    return this.#item(parseJson(result));
  }

  /** Discards a session and its uploaded bytes; an already gone session counts as cancelled. */
  async cancelUploadSession(uploadUrl: string, signal?: AbortSignal): Promise<void> {
    await this.#transport.send({
      method: 'DELETE',
      url: uploadUrl,
      authenticated: false,
      retry: true,
      doneOnRepeat: [404],
      ...(signal ? { signal } : {}),
    });
  }

  // ── internals ─────────────────────────────────────────────────────────────

  async #simpleUpload(url: string, body: BodySource, options: SimpleUploadOptions, retry: boolean): Promise<DriveItem> {
    const size = options.size ?? byteLength(body);
    if (size === undefined) throw new RangeError('a stream body needs options.size');
    if (size > SIMPLE_UPLOAD_LIMIT) throw new UploadTooLargeError(size);
    checkBodyLength(body, size);
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'content-length': String(size) };
    if (options.ifMatch !== undefined) headers['if-match'] = options.ifMatch;
    const result = await this.#send({ method: 'PUT', url, authenticated: true, body, headers, retry, signal: options.signal });
    return this.#item(parseJson(result));
  }

  /** Parses an answer's driveItem and tells the router where it lives. */
  #item(value: unknown): DriveItem {
    const item = parseDriveItem(value);
    this.#router?.learn?.(item);
    return item;
  }

  async #send(req: Omit<SendRequest, 'signal'> & { signal: AbortSignal | undefined }): Promise<SendResult> {
    const { signal, ...rest } = req;
    try {
      return await this.#transport.send(signal ? { ...rest, signal } : rest);
    } catch (error) {
      // A change refused in another drive: the shared folder does not let us write (403).
      if (error instanceof GraphApiError && error.status === 403 && req.method !== 'GET') {
        const at = /\/drives\/([^/?]+)\/items\/([^/?:]+)/.exec(new URL(req.url).pathname);
        if (at) this.#router?.denied?.({ driveId: decodeURIComponent(at[1]!), itemId: decodeURIComponent(at[2]!) }, req.method);
      }
      throw error;
    }
  }

  async #getJson(url: string, signal: AbortSignal | undefined): Promise<unknown> {
    return parseJson(await this.#send({ method: 'GET', url, authenticated: true, retry: true, headers: { prefer: SHORTCUTS_PREFER }, signal }));
  }

  /** `role` folder: the id is a parent whose children are asked for or made (a shortcut means its target). */
  #itemPath(id: string, role: 'item' | 'folder' = 'item'): string {
    if (id === 'root') return `${this.#drive}/root`;
    const at = role === 'folder' ? this.#router?.folder(id) : this.#router?.item(id);
    return at ? addressPath(at) : `${this.#drive}/items/${encodeItemId(id)}`;
  }

  #url(route: string, query: { top?: number | undefined; select?: readonly string[] | undefined; token?: string } = {}): string {
    const params: string[] = [];
    if (query.top !== undefined) params.push(`$top=${query.top}`);
    if (query.select !== undefined && query.select.length > 0) {
      params.push(`$select=${query.select.map((field) => encodeURIComponent(field)).join(',')}`);
    }
    if (query.token !== undefined) params.push(`token=${encodeURIComponent(query.token)}`);
    return `${this.#base}${route}${params.length > 0 ? `?${params.join('&')}` : ''}`;
  }
}

function addressPath(at: ItemAddress): string {
  return `/drives/${encodePathSegment(at.driveId)}/items/${encodeItemId(at.itemId)}`;
}

function parseJson(result: SendResult): unknown {
  try {
    return JSON.parse(result.text);
  } catch (error) {
    throw new GraphProtocolError(`an answer (${result.status}) that is not JSON`, { cause: error });
  }
}

function parseSessionJson(value: unknown): { uploadUrl: string | undefined; expirationDateTime: string | undefined; nextExpectedRanges: string[] } {
  const raw = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  const ranges = raw['nextExpectedRanges'];
  return {
    uploadUrl: typeof raw['uploadUrl'] === 'string' ? raw['uploadUrl'] : undefined,
    expirationDateTime: typeof raw['expirationDateTime'] === 'string' ? raw['expirationDateTime'] : undefined,
    nextExpectedRanges: Array.isArray(ranges) ? ranges.filter((r): r is string => typeof r === 'string') : [],
  };
}

function byteLength(body: BodySource): number | undefined {
  if (typeof body === 'string') return Buffer.byteLength(body);
  if (body instanceof Uint8Array) return body.byteLength;
  return undefined;
}

function checkBodyLength(body: BodySource, expected: number): void {
  const actual = byteLength(body);
  if (actual !== undefined && actual !== expected) {
    throw new RangeError(`the body holds ${actual} bytes but ${expected} were declared`);
  }
}

/**
 * Yields `length` bytes of `body` after skipping `skip`, then stops reading (destroying the
 * source, so a whole-file 200 answer is not downloaded past what was asked for).
 */
async function* sliceBody(body: Readable, skip: number, length: number): AsyncGenerator<Buffer, void, undefined> {
  let toSkip = skip;
  let remaining = length;
  // Leaving the for-await early (return, or the consumer stopping) destroys the source stream.
  for await (const chunk of body) {
    let buffer = chunk as Buffer;
    if (toSkip > 0) {
      if (buffer.length <= toSkip) {
        toSkip -= buffer.length;
        continue;
      }
      buffer = buffer.subarray(toSkip);
      toSkip = 0;
    }
    if (buffer.length >= remaining) {
      if (remaining > 0) yield buffer.subarray(0, remaining);
      return;
    }
    remaining -= buffer.length;
    yield buffer;
  }
}

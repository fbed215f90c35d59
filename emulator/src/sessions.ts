/**
 * Upload sessions (docs/graph-api.md §7.2–§7.4): create, fragments in order in multiples of 320 KiB and
 * under 60 MiB, status, cancel, expiry, commit with conflict behaviour. Sessions persist in SQLite;
 * fragment bytes go straight to a temp file; each accepted range is hashed from there on the hash
 * thread while the next fragment arrives (hash-thread.ts), and the commit waits for the digest.
 */
import { createWriteStream } from 'node:fs';
import { open, rename, rm, truncate } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { validateName } from '../../src-shared/model/names.ts';
import { parseConflictBehavior, type ConflictBehavior } from './drive.ts';
import type { ItemRow, SessionRow } from './drive-db.ts';
import type { EmulatorState } from './state.ts';
import { badRequest, GraphError, notFound, quotaExceeded } from './errors.ts';
import { header, parseContentRange, readJson, sendEmpty, sendJson, type Ctx } from './http-util.ts';
import { itemJson, jsonContext } from './item-json.ts';
import { randomToken } from './ids.ts';

export const FRAGMENT_UNIT = 320 * 1024;
export const MAX_FRAGMENT = 60 * 1024 * 1024;

export class Sessions {
  /** Sessions whose every accepted byte went to the hash thread (they started while this process ran). */
  private readonly hashed = new Set<string>();
  /** Fragments being received, by session: a concurrent fragment is out of order. */
  private readonly inflight = new Map<string, { socket: Socket; settled: Promise<void> }>();

  constructor(private readonly emu: EmulatorState) {}

  private get stmts() {
    return this.emu.drive.db.statements;
  }

  uploadUrl(id: string, storageBase = this.emu.storageBase): string {
    return `${storageBase}/up/${id}`;
  }

  async create(ctx: Ctx, target: { itemId: string } | { parentId: string; name: string }): Promise<void> {
    if (ctx.req.method !== 'POST') throw new GraphError(405, 'invalidRequest', 'Method not allowed');
    const body = await readJson(ctx.req);
    const item = (body.item ?? {}) as Record<string, unknown>;
    const drive = this.emu.drive;
    let parentId: string;
    let name: string;
    let itemId: string | null = null;
    if ('itemId' in target) {
      const row = drive.get(target.itemId);
      if (row.kind !== 'file') throw badRequest('Upload sessions write files', 'notAFile');
      parentId = row.parent_id!;
      name = row.name;
      itemId = row.id;
    } else {
      parentId = target.parentId;
      name = target.name;
      if (typeof item.name === 'string' && item.name !== name) throw badRequest('item.name must match the name in the path', 'nameMismatch');
      const problem = validateName(name, drive.nameRules);
      if (problem) throw new GraphError(400, 'invalidRequest', problem.message, 'invalidPath');
    }
    const existing = itemId ? drive.get(itemId) : drive.child(parentId, name);
    const ifMatch = header(ctx.req, 'if-match');
    if (ifMatch !== undefined) {
      if (!existing) throw new GraphError(412, 'resourceModified', 'The item does not exist', 'entityTagDoesNotMatch');
      drive.checkIfMatch(existing, ifMatch);
    }
    const ifNoneMatch = header(ctx.req, 'if-none-match');
    if (ifNoneMatch === '*' && existing) throw new GraphError(412, 'resourceModified', 'The item already exists', 'entityTagDoesNotMatch');
    const conflict = parseConflictBehavior(item['@microsoft.graph.conflictBehavior'] ?? item['@name.conflictBehavior'], 'replace');
    if (conflict === 'fail' && existing && !itemId) throw new GraphError(409, 'nameAlreadyExists', `An item with the name '${name}' already exists in this location.`);
    const fileSize = item.fileSize === undefined ? null : Number(item.fileSize);
    if (fileSize !== null) {
      if (!Number.isInteger(fileSize) || fileSize < 0) throw badRequest('fileSize must be a non-negative integer', 'invalidFileSize');
      if (fileSize === 0) throw badRequest('Upload sessions cannot create empty files; use a simple upload', 'invalidFileSize');
      if (fileSize - (existing?.size ?? 0) > drive.quota().remaining) throw quotaExceeded();
    }
    const fsi = (item.fileSystemInfo ?? {}) as Record<string, unknown>;
    const time = (v: unknown) => (v === undefined ? null : Date.parse(String(v)));
    const now = this.emu.now();
    const row: SessionRow = {
      id: randomToken(24),
      parent_id: parentId,
      item_id: itemId,
      name,
      conflict,
      fs_created: time(fsi.createdDateTime),
      fs_modified: time(fsi.lastModifiedDateTime),
      total: fileSize,
      next_offset: 0,
      expires_at: now + this.emu.options.sessionTtlMs,
      created_at: now,
      temp_file: this.emu.content.tempPath(),
      defer_commit: body.deferCommit === true ? 1 : 0,
    };
    if ((row.fs_created !== null && Number.isNaN(row.fs_created)) || (row.fs_modified !== null && Number.isNaN(row.fs_modified))) {
      throw badRequest('Invalid fileSystemInfo date', 'invalidDateTime');
    }
    const fh = await open(row.temp_file, 'w');
    await fh.close();
    this.stmts.sessionInsert.run(row);
    this.hashed.add(row.id);
    sendJson(ctx, 200, {
      uploadUrl: this.uploadUrl(row.id, ctx.storageBase),
      expirationDateTime: new Date(row.expires_at).toISOString(),
      nextExpectedRanges: ['0-'],
    });
  }

  private async live(id: string): Promise<SessionRow> {
    const s = this.stmts.sessionGet.get(id);
    if (!s) throw notFound('The upload session was not found');
    if (s.expires_at <= this.emu.now()) {
      await this.discard(s);
      throw notFound('The upload session was not found');
    }
    return s;
  }

  private async discard(s: SessionRow): Promise<void> {
    this.stmts.sessionDelete.run(s.id);
    if (this.hashed.delete(s.id)) this.emu.hashThread.drop(s.id);
    await rm(s.temp_file, { force: true });
  }

  private statusBody(s: SessionRow): Record<string, unknown> {
    // Every byte arrived but the commit has not happened (a 409 at commit, or deferCommit): nothing is expected.
    const complete = s.total !== null && s.next_offset >= s.total;
    return {
      expirationDateTime: new Date(s.expires_at).toISOString(),
      nextExpectedRanges: complete ? [] : [`${s.next_offset}-${s.total !== null ? s.total - 1 : ''}`],
    };
  }

  /** Storage listener: GET status, PUT fragment, DELETE cancel, POST commit (deferCommit). */
  async handle(ctx: Ctx, id: string): Promise<void> {
    const method = ctx.req.method ?? 'GET';
    if (method === 'GET') {
      sendJson(ctx, 200, this.statusBody(await this.live(id)));
      return;
    }
    if (method === 'DELETE') {
      const s = await this.live(id);
      await this.discard(s);
      sendEmpty(ctx, 204);
      return;
    }
    if (method === 'POST') {
      const s = await this.live(id);
      if (s.total === null || s.next_offset !== s.total) throw badRequest('The upload is not complete', 'uploadIncomplete');
      const drop = this.emu.faults.takeDropAfterCommit();
      await this.commit(ctx, s, undefined, undefined, drop);
      if (drop) ctx.req.socket.destroy();
      return;
    }
    if (method === 'PUT') return this.fragment(ctx, id);
    throw new GraphError(405, 'invalidRequest', 'Method not allowed');
  }

  private async fragment(ctx: Ctx, id: string): Promise<void> {
    const req = ctx.req;
    // A fragment whose connection already died is still being discarded: judge this one on the outcome
    // (a client that saw the drop and resends at once must not get "out of order").
    const running = this.inflight.get(id);
    if (running?.socket.destroyed) await running.settled;
    const s = await this.live(id);
    const range = parseContentRange(header(req, 'content-range'));
    const length = Number(header(req, 'content-length'));
    const refuse = (e: GraphError) => {
      req.resume();
      return e;
    };
    if (!range) throw refuse(badRequest('A Content-Range header of the form bytes a-b/total is required', 'invalidRange'));
    if (!Number.isInteger(length) || length !== range.end - range.start) {
      throw refuse(badRequest('Content-Length does not match Content-Range', 'fragmentLengthMismatch'));
    }
    // The service refuses an unknown total (HTTP's `bytes a-b/*`): an upload cannot start before the file's size is known.
    const total = range.total;
    if (total === undefined) throw refuse(badRequest('The total size is required: an unknown total (*) is not accepted', 'invalidRange'));
    if (total === 0) throw refuse(badRequest('Upload sessions cannot create empty files', 'invalidFileSize'));
    if (s.total !== null && total !== s.total) {
      throw refuse(new GraphError(400, 'invalidRequest', 'The declared total size differs from earlier fragments', 'fragmentLengthMismatch'));
    }
    if (length >= MAX_FRAGMENT) {
      throw refuse(new GraphError(413, 'invalidRequest', 'Fragments must be smaller than 60 MiB', 'maxFragmentLengthExceeded'));
    }
    if (range.end > total) throw refuse(new GraphError(416, 'invalidRange', 'The fragment runs past the declared size', 'invalidRange'));
    if (range.end < total && length % FRAGMENT_UNIT !== 0) {
      throw refuse(badRequest('Fragments other than the last must be a multiple of 320 KiB', 'invalidFragmentLength'));
    }
    if (range.start < s.next_offset) {
      throw refuse(new GraphError(416, 'invalidRange', 'The uploaded fragment overlaps with data that has already been received.', 'fragmentOverlap'));
    }
    if (range.start > s.next_offset || this.inflight.has(id)) {
      throw refuse(new GraphError(416, 'invalidRange', 'Uploaded fragment is out of order.', 'fragmentOutOfOrder'));
    }
    if (total - (s.item_id ? this.emu.drive.get(s.item_id).size : 0) > this.emu.drive.quota().remaining) throw refuse(quotaExceeded());

    // In flight until the session row holds this fragment's outcome, so a racing fragment is judged on it.
    let release!: () => void;
    this.inflight.set(id, { socket: req.socket, settled: new Promise<void>((r) => (release = r)) });
    try {
      // Nothing accepted yet: the running hash can start here even for a session from an earlier run.
      if (s.next_offset === 0) this.hashed.add(id);
      const partial = this.emu.faults.takePartialAccept();
      const dropAt = this.emu.faults.takeDropBody() ? Math.floor(length / 2) : -1;
      try {
        await receiveInto(req, s.temp_file, range.start, length, { dropAt, bytesPerSec: this.emu.faults.bandwidthBytesPerSec });
      } catch {
        // A fragment that did not arrive whole is discarded, as the service does. The session may
        // have been discarded meanwhile (expired or cancelled): then there is nothing to trim.
        await truncate(s.temp_file, s.next_offset).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'ENOENT') throw e;
        });
        if (!ctx.res.headersSent) ctx.res.destroy();
        return;
      }
      let accepted = length;
      if (partial !== undefined && partial < length) {
        accepted = partial;
        await truncate(s.temp_file, range.start + accepted);
      }
      const next = range.start + accepted;
      // Only kept bytes are hashed, so a fragment cut short or partly accepted never enters the hash.
      if (this.hashed.has(id) && accepted > 0) this.emu.hashThread.range(id, s.temp_file, range.start, next);
      const expires = this.emu.now() + this.emu.options.sessionTtlMs;
      this.stmts.sessionProgress.run(next, total, expires, id);
      const updated = { ...s, next_offset: next, total, expires_at: expires };
      // A deferred session's last fragment commits nothing: its commit (POST) takes the fault.
      if (!(s.defer_commit && next === total) && this.emu.faults.takeDropAfterCommit()) {
        if (next === total) await this.commit(ctx, updated, undefined, undefined, true);
        req.socket.destroy();
        return;
      }
      if (next < total || s.defer_commit) {
        sendJson(ctx, 202, this.statusBody(updated));
        return;
      }
      await this.commit(ctx, updated, undefined, undefined);
    } finally {
      this.inflight.delete(id);
      release();
    }
  }

  /** Creates or replaces the file; on a name clash with `fail` the session survives (409). */
  private async commit(ctx: Ctx, s: SessionRow, nameOverride: string | undefined, behaviorOverride: ConflictBehavior | undefined, silent = false): Promise<void> {
    const drive = this.emu.drive;
    // A digest can be taken once; a commit that fails (409) is retried by hashing the file.
    const running = this.hashed.delete(s.id);
    const hashes = await (running ? this.digest(s) : this.hashFile(s)).catch((error: unknown) => {
      this.throwIfCancelled(s);
      throw error;
    });
    // Cancelled (DELETE) while its last fragment was being taken in: its file went with it.
    this.throwIfCancelled(s);
    const ref = await this.emu.content.adopt(s.temp_file);
    let committed = false;
    try {
      const target = s.item_id && !nameOverride ? { itemId: s.item_id } : { parentId: s.parent_id, name: nameOverride ?? s.name };
      const { row, created } = drive.commitContent(target, { ref, size: s.total!, hashes }, {
        behavior: behaviorOverride ?? (s.conflict as ConflictBehavior),
        times: { created: s.fs_created ?? undefined, modified: s.fs_modified ?? undefined },
      });
      committed = true;
      this.stmts.sessionDelete.run(s.id);
      if (!silent) sendJson(ctx, created ? 201 : 200, itemJson(row, jsonContext(this.emu, ctx)));
    } finally {
      if (!committed) {
        // Put the bytes back so the session can be committed later with another name (§7.3).
        await rename(this.emu.content.blobPath(ref), s.temp_file);
      }
    }
  }

  private throwIfCancelled(s: SessionRow): void {
    if (!this.stmts.sessionGet.get(s.id)) throw notFound('The upload session was not found');
  }

  private hashFile(s: SessionRow) {
    return this.emu.hashThread.file(s.temp_file, s.total!);
  }

  /** The running hash; if it went out of step with the file (it should not), the file's own hash, loudly. */
  private async digest(s: SessionRow) {
    try {
      return await this.emu.hashThread.digest(s.id, s.total!);
    } catch (e) {
      this.throwIfCancelled(s); // not out of step: gone (commit answers 404)
      console.error(`emulator: session ${s.id}: ${e instanceof Error ? e.message : String(e)}; hashing the whole file instead`);
      return this.hashFile(s);
    }
  }

  /** `PUT …/{parent}` with `@microsoft.graph.sourceUrl`: commit a finished session under a (new) name (§7.4). */
  async commitBySourceUrl(ctx: Ctx, addressed: ItemRow): Promise<void> {
    const body = await readJson(ctx.req);
    const source = body['@microsoft.graph.sourceUrl'];
    if (typeof source !== 'string') throw badRequest('PUT on an item needs @microsoft.graph.sourceUrl', 'invalidRequest');
    const m = /\/up\/([^/?]+)$/.exec(new URL(source).pathname);
    if (!m) throw badRequest('sourceUrl is not an upload session of this drive', 'invalidRequest');
    const s = await this.live(m[1]!);
    if (s.total === null || s.next_offset !== s.total) throw badRequest('The upload is not complete', 'uploadIncomplete');
    const parentId = addressed.kind === 'folder' ? addressed.id : addressed.parent_id!;
    const name = typeof body.name === 'string' ? body.name : s.name;
    const behavior = parseConflictBehavior(body['@microsoft.graph.conflictBehavior'], 'fail');
    await this.commit(ctx, { ...s, parent_id: parentId, item_id: null }, name, behavior);
  }

  /** Admin knob: every session expires now. */
  expireAll(): void {
    this.stmts.sessionExpire.run(this.emu.now());
  }

  list(): SessionRow[] {
    return this.stmts.sessionsAll.all();
  }
}

/**
 * Writes a request body of `length` bytes into `file` at `start`; rejects when the body ends short or
 * the connection goes. Knobs: with `dropAt` ≥ 0 it cuts the connection after about that many bytes;
 * with `bytesPerSec` > 0 it reads no faster (TCP back-pressure slows the sender).
 */
function receiveInto(
  req: IncomingMessage,
  file: string,
  start: number,
  length: number,
  knobs: { dropAt: number; bytesPerSec: number },
  onChunk?: (chunk: Buffer) => void,
): Promise<void> {
  const { dropAt, bytesPerSec } = knobs;
  return new Promise<void>((resolve, reject) => {
    const startedAt = Date.now();
    let timer: NodeJS.Timeout | undefined;
    // A deep buffer: at the default 16 KiB every socket chunk would pause the body until its write returned.
    const out = createWriteStream(file, { flags: 'r+', start, highWaterMark: 4 << 20 });
    const body = req as Readable;
    const socket = req.socket;
    let received = 0;
    let settled = false;
    // The socket outlives this request on keep-alive connections: take the listener off again.
    const onSocketClose = () => {
      if (!req.complete) fail(new Error('connection closed mid-fragment'));
    };
    const done = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('close', onSocketClose);
      if (err) reject(err);
      else resolve();
    };
    let failing = false;
    // Settle only once the file is closed, so no late write lands after the caller truncates.
    const fail = (err: Error) => {
      if (settled || failing) return;
      failing = true;
      if (out.closed) done(err);
      else {
        out.once('close', () => done(err));
        out.destroy();
      }
    };
    socket.on('close', onSocketClose);
    body.on('data', (c: Buffer) => {
      if (dropAt >= 0 && received + c.length >= dropAt) {
        socket.destroy();
        return;
      }
      received += c.length;
      onChunk?.(c);
      const flushed = out.write(c);
      const wait = bytesPerSec > 0 ? startedAt + (received / bytesPerSec) * 1000 - Date.now() : 0;
      if (flushed && wait <= 0) return;
      // Resume once the file caught up and the bandwidth budget allows the next chunk.
      body.pause();
      let pending = (flushed ? 0 : 1) + (wait > 0 ? 1 : 0);
      const resume = () => {
        if (--pending === 0 && !settled) body.resume();
      };
      if (!flushed) out.once('drain', resume);
      if (wait > 0) timer = setTimeout(resume, wait);
    });
    body.on('end', () => out.end());
    body.on('error', fail);
    req.on('aborted', () => fail(new Error('client aborted the fragment')));
    out.on('error', fail);
    out.on('finish', () => (received === length ? done() : done(new Error(`fragment ended after ${received} of ${length} bytes`))));
  });
}

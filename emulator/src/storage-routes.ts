/**
 * The storage listener: pre-authenticated download URLs (/dl/…), upload session URLs (/up/…),
 * thumbnail bytes (/th/…) and copy monitors (/monitor/…). No Authorization is needed or wanted here.
 */
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Served } from './api-routes.ts';
import { GraphError, notFound } from './errors.ts';
import { header, parseRange, sendJson, type Ctx } from './http-util.ts';
import { serveThumbnail } from './thumbnails.ts';
import { monitorStatus } from './copy.ts';

export async function handleStorage(emu: Served, ctx: Ctx): Promise<void> {
  const m = /^\/(dl|up|th|monitor)\/([^/]+)$/.exec(ctx.url.pathname);
  if (!m) throw notFound('Unknown storage URL');
  const [, kind, token] = m as unknown as [string, string, string];
  if (kind === 'up') return (emu.shares.holdsSession(token) ? emu.shares.otherView(emu) : emu).sessions.handle(ctx, token);
  if (kind === 'monitor') {
    sendJson(ctx, 200, monitorStatus(emu, token));
    return;
  }
  const fields = emu.verify(kind, token);
  if (fields === undefined) throw new GraphError(401, 'unauthenticated', 'The pre-authenticated URL is not valid', 'invalidToken');
  if (fields === 'expired') throw new GraphError(401, 'unauthenticated', 'The pre-authenticated URL has expired', 'expiredToken');
  const scoped = fields.d === undefined ? emu : emu.shares.viewFor(emu, String(fields.d));
  if (!scoped) throw notFound('The content has changed or was removed');
  if (kind === 'th') return serveThumbnail(scoped, ctx, fields);
  return download(scoped, ctx, String(fields.i), Number(fields.v));
}

async function download(emu: Served, ctx: Ctx, itemId: string, version: number): Promise<void> {
  if (ctx.req.method !== 'GET' && ctx.req.method !== 'HEAD') throw new GraphError(405, 'invalidRequest', 'Method not allowed');
  const row = emu.drive.row(itemId);
  // A URL names one content version; after the content changed (or the item went) it no longer serves.
  if (!row || row.deleted || row.ctag_seq !== version || !row.content_ref && row.size > 0) throw notFound('The content has changed or was removed');
  const size = row.size;
  const etag = emu.drive.eTag(row);
  const range = parseRange(header(ctx.req, 'range'), size);
  if (range === 'unsatisfiable') {
    throw new GraphError(416, 'invalidRange', 'The requested range is not satisfiable', undefined, { 'content-range': `bytes */${size}` });
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? size;
  const headers: Record<string, string> = {
    'content-type': row.mime ?? 'application/octet-stream',
    'content-length': String(end - start),
    'accept-ranges': 'bytes',
    etag,
  };
  if (range) headers['content-range'] = `bytes ${start}-${end - 1}/${size}`;
  ctx.res.writeHead(range ? 206 : 200, headers);
  if (ctx.req.method === 'HEAD' || end === start) {
    ctx.res.end();
    return;
  }
  const source = emu.content.open(row.content_ref!, start, end);
  const dropAt = emu.faults.takeDropBody() ? Math.floor((end - start) / 2) : -1;
  const stages: Transform[] = [];
  if (emu.faults.bandwidthBytesPerSec > 0) stages.push(rateLimit(emu.faults.bandwidthBytesPerSec));
  if (dropAt >= 0) stages.push(cutAfter(dropAt, () => ctx.res.destroy()));
  try {
    // pipeline's typings have no variadic overload for a runtime-built chain.
    await (pipeline as (...streams: unknown[]) => Promise<void>)(source, ...stages, ctx.res);
  } catch (e) {
    // The client went away or a fault cut the connection: nothing to answer any more.
    if (!ctx.res.destroyed) ctx.res.destroy(e as Error);
  }
}

/** Passes bytes at no more than `bytesPerSec`, in small slices so the rate is smooth. */
function rateLimit(bytesPerSec: number): Transform {
  const started = Date.now();
  let sent = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      const push = async () => {
        const slice = Math.max(1024, Math.floor(bytesPerSec / 20));
        for (let at = 0; at < chunk.length; at += slice) {
          const part = chunk.subarray(at, at + slice);
          sent += part.length;
          const due = started + (sent / bytesPerSec) * 1000;
          const wait = due - Date.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          this.push(part);
        }
      };
      push().then(() => done(), done);
    },
  });
}

/** Lets `limit` bytes through, then cuts the connection (a fault knob). */
function cutAfter(limit: number, cut: () => void): Transform {
  let passed = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      const room = limit - passed;
      if (room <= 0) {
        cut();
        done();
        return;
      }
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      passed += part.length;
      this.push(part);
      if (passed >= limit) setImmediate(cut);
      done();
    },
  });
}

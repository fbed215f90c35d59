/** Small helpers over node:http for the emulator's handlers. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { badRequest, GraphError } from './errors.ts';

export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  requestId: string;
  /** Base URL of the API listener, e.g. http://127.0.0.1:1234 */
  apiBase: string;
  storageBase: string;
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** OData options may be written with or without `$`. */
export function query(url: URL, name: string): string | null {
  return url.searchParams.get('$' + name) ?? url.searchParams.get(name);
}

export async function readJson(req: IncomingMessage, limit = 1 << 20): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw badRequest('Request body too large');
    chunks.push(c as Buffer);
  }
  if (size === 0) return {};
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch {
    throw badRequest('The request body is not a valid JSON object', 'invalidJson');
  }
}

export function sendJson(ctx: Ctx, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  ctx.res.writeHead(status, {
    'content-type': 'application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  ctx.res.end(text);
}

export function sendEmpty(ctx: Ctx, status: number, headers: Record<string, string> = {}): void {
  ctx.res.writeHead(status, { 'content-length': '0', ...headers });
  ctx.res.end();
}

export function sendError(ctx: Ctx, err: GraphError): void {
  if (ctx.res.headersSent) {
    ctx.res.destroy();
    return;
  }
  sendJson(ctx, err.status, err.body(ctx.requestId, header(ctx.req, 'client-request-id')), err.headers);
}

/** Parses a single `bytes=a-b`, `bytes=a-` or `bytes=-n` range against a size; undefined when absent or not a byte range. */
export function parseRange(value: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (!value) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size };
  }
  const start = Number(m[1]);
  // `bytes=20-10` is not a valid range at all: HTTP says to ignore the header (200, whole file).
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  const last = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return { start, end: last + 1 };
}

/** `Content-Range: bytes a-b/total` on upload fragments. */
export function parseContentRange(value: string | undefined): { start: number; end: number; total: number | undefined } | undefined {
  if (!value) return undefined;
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value.trim());
  if (!m) return undefined;
  const start = Number(m[1]);
  const last = Number(m[2]);
  if (last < start) return undefined;
  return { start, end: last + 1, total: m[3] === '*' ? undefined : Number(m[3]) };
}

export function isGraphError(e: unknown): e is GraphError {
  return e instanceof GraphError;
}

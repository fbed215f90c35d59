/**
 * Delta (docs/graph-api.md §5). Tokens are opaque base64url JSON:
 *  - enumeration: {e: epoch, s: snapshot seq, d: depth, r: rid}  (live items parent-first after the cursor)
 *  - incremental: {e: epoch, s: seq}                              (items and tombstones with seq > s, by seq)
 * A token from an older epoch, or older than the tombstones kept, answers 410 resyncRequired with a
 * Location that restarts a full enumeration. Each item's row holds only its latest state and seq, so
 * "last change wins" and "no parent-first guarantee" (after moves) follow naturally.
 */
import type { ItemRow } from './drive-db.ts';
import type { EmulatorState } from './state.ts';
import { badRequest, GraphError } from './errors.ts';
import { header, query, sendJson, type Ctx } from './http-util.ts';
import { applySelect, itemJson, jsonContext } from './item-json.ts';

interface Token {
  e: number;
  s: number;
  d?: number;
  r?: number;
}

function encode(t: Token): string {
  return Buffer.from(JSON.stringify(t)).toString('base64url');
}

function decode(raw: string): Token | undefined {
  try {
    const t = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Token;
    if (typeof t.e !== 'number' || typeof t.s !== 'number') return undefined;
    return t;
  } catch {
    return undefined;
  }
}

/** Accepts `?token=X` and `delta(token='X')`. */
function tokenFrom(ctx: Ctx, rest: string): string | undefined {
  const fn = /^delta\(token='([^']*)'\)/.exec(rest);
  if (fn) return decodeURIComponent(fn[1]!);
  return ctx.url.searchParams.get('token') ?? undefined;
}

export async function handleDelta(emu: EmulatorState, ctx: Ctx, folder: ItemRow, rest: string): Promise<void> {
  const drive = emu.drive;
  if (folder.kind !== 'folder') throw badRequest('Delta is only supported on folders', 'invalidRequest');
  if (drive.mode === 'business' && folder.id !== drive.rootId) {
    throw badRequest('Delta is only supported on the root of a business drive', 'notSupported');
  }
  const top = query(ctx.url, 'top');
  const topN = Number(top);
  if (top !== null && (!Number.isInteger(topN) || topN < 1)) throw badRequest(`Invalid $top value '${top}'`, 'invalidQueryOption');
  const limit = top === null ? emu.options.pageSize : Math.min(topN, emu.options.maxPageSize);
  const raw = tokenFrom(ctx, rest);
  const base = new URL(ctx.url.pathname.replace(/\/delta.*$/, '/delta'), ctx.apiBase);
  for (const k of ['$select', 'select', '$top', 'top', '$expand', 'expand']) {
    const v = ctx.url.searchParams.get(k);
    if (v !== null) base.searchParams.set(k, v);
  }
  const link = (t: Token) => {
    const u = new URL(base);
    u.searchParams.set('token', encode(t));
    return u.toString();
  };

  let token: Token;
  if (raw === undefined) {
    token = { e: drive.epoch, s: drive.currentSeq, d: -1, r: 0 };
  } else if (raw === 'latest') {
    sendJson(ctx, 200, { value: [], '@odata.deltaLink': link({ e: drive.epoch, s: drive.currentSeq }) });
    return;
  } else {
    const parsed = decode(raw) ?? fromTimestamp(emu, raw);
    if (!parsed) throw badRequest('The delta token is not valid', 'invalidDeltaToken');
    token = parsed;
  }
  if (token.e !== drive.epoch || (token.d === undefined && token.s < drive.purgedThroughSeq)) {
    const restart = link({ e: drive.epoch, s: drive.currentSeq, d: -1, r: 0 });
    throw new GraphError(410, 'resyncRequired', 'Resync required. Replace any local items with the server’s version (including deletes) if you’re sure that the service was up to date with your local changes when you last sync’d. Upload any local changes that the server doesn’t know about.', 'resyncChangesApplyDifferences', { location: restart });
  }

  const folderScope = scopeFilter(emu, folder);
  const visible = emu.shares.visibleInDelta(emu);
  const hideShortcuts = emu.shares.hidesShortcuts(emu, header(ctx.req, 'prefer'));
  const inScope = (r: ItemRow) => folderScope(r) && (!visible || visible(r)) && !(hideShortcuts && r.kind === 'remote');
  const jctx = jsonContext(emu, ctx, { inDelta: true });
  const out: ItemRow[] = [];
  let nextToken: Token | undefined;
  let deltaToken: Token;

  if (token.d !== undefined) {
    // Enumeration: the live tree as it is now, parent-first; then continue from the snapshot seq.
    let cursor = { depth: token.d, rid: token.r ?? 0 };
    for (;;) {
      const rows = drive.treePage(cursor, limit + 1);
      for (const r of rows.slice(0, limit)) if (inScope(r)) out.push(r);
      const more = rows.length > limit;
      const last = rows[Math.min(rows.length, limit) - 1];
      if (last) cursor = { depth: last.depth, rid: last.rid };
      if (!more) break;
      if (out.length >= limit) {
        nextToken = { e: token.e, s: token.s, d: cursor.depth, r: cursor.rid };
        break;
      }
    }
    deltaToken = { e: token.e, s: token.s };
  } else {
    let seq = token.s;
    for (;;) {
      const rows = drive.changesSince(seq, limit + 1);
      for (const r of rows.slice(0, limit)) if (inScope(r)) out.push(r);
      const more = rows.length > limit;
      const last = rows[Math.min(rows.length, limit) - 1];
      if (last) seq = last.seq;
      if (!more) break;
      if (out.length >= limit) {
        nextToken = { e: token.e, s: seq };
        break;
      }
    }
    deltaToken = { e: token.e, s: Math.max(seq, token.s) };
  }

  // Tombstones come back from itemJson unselected; $select applies to them too (the marker survives).
  const value = withAncestors(emu, out, token.d === undefined).filter((r) => !visible || visible(r)).map((r) => applySelect(itemJson(r, jctx), jctx.select));
  const body: Record<string, unknown> = { value };
  if (nextToken) body['@odata.nextLink'] = link(nextToken);
  else body['@odata.deltaLink'] = link(deltaToken);
  sendJson(ctx, 200, body);
}

/** B mode re-sends the ancestor chain of each changed item (docs/graph-api.md §5); P does not. */
function withAncestors(emu: EmulatorState, rows: ItemRow[], incremental: boolean): ItemRow[] {
  if (!incremental || emu.drive.mode !== 'business') return rows;
  const seen = new Set<string>();
  const out: ItemRow[] = [];
  for (const r of rows) {
    const chain = emu.drive.ancestors(r).reverse();
    for (const a of chain) {
      if (!seen.has(a.id) && !a.deleted) {
        seen.add(a.id);
        out.push(a);
      }
    }
    if (!seen.has(r.id)) {
      seen.add(r.id);
      out.push(r);
    }
  }
  return out;
}

/** Folder-scoped delta (P only): items at or below the folder. */
function scopeFilter(emu: EmulatorState, folder: ItemRow): (r: ItemRow) => boolean {
  if (folder.id === emu.drive.rootId) return () => true;
  return (r) => {
    if (r.id === folder.id) return true;
    for (let pid = r.parent_id; pid; pid = emu.drive.row(pid)?.parent_id ?? null) if (pid === folder.id) return true;
    return false;
  };
}

/** B accepts a timestamp as token: changes since then (docs/graph-api.md §5). */
function fromTimestamp(emu: EmulatorState, raw: string): Token | undefined {
  if (emu.drive.mode !== 'business') return undefined;
  const t = Date.parse(raw);
  if (Number.isNaN(t)) return undefined;
  const row = emu.drive.db.db
    .prepare<[number], { s: number | null }>('SELECT MIN(seq) - 1 AS s FROM items WHERE modified_at >= ?')
    .get(t);
  return { e: emu.drive.epoch, s: row?.s ?? emu.drive.currentSeq };
}

/**
 * Copy as a long-running action (docs/graph-api.md §8.4): 202 + a monitor URL; the copy happens after a
 * configurable delay, and the monitor reports inProgress, then completed with the new item's id.
 */
import { linkSync } from 'node:fs';
import type { EmulatorState } from './state.ts';
import type { ItemRow } from './drive-db.ts';
import { parseConflictBehavior } from './drive.ts';
import { badRequest, GraphError, notFound } from './errors.ts';
import { readJson, sendEmpty, type Ctx } from './http-util.ts';
import { randomToken, sameDriveId } from './ids.ts';

interface CopyJob {
  status: 'inProgress' | 'completed' | 'failed';
  startedAt: number;
  resourceId?: string;
  error?: { code: string; message: string };
}

export async function startCopy(emu: EmulatorState, ctx: Ctx, src: ItemRow): Promise<void> {
  const body = await readJson(ctx.req);
  const ref = (body.parentReference ?? {}) as Record<string, unknown>;
  if (ref.driveId !== undefined && !sameDriveId(emu.drive.mode, String(ref.driveId), emu.drive.driveId)) throw notFound('Drive not found');
  const parentId = typeof ref.id === 'string' ? ref.id : src.parent_id;
  if (!parentId) throw badRequest('parentReference.id is required to copy the root', 'invalidRequest');
  const name = typeof body.name === 'string' ? body.name : undefined;
  // Personal drives do not support a conflict behaviour on copy (docs/graph-api.md §13).
  const behavior = emu.drive.mode === 'business' ? parseConflictBehavior(ctx.url.searchParams.get('@microsoft.graph.conflictBehavior'), 'fail') : 'fail';
  // What can be refused at once is refused at once; name clashes surface through the monitor.
  const parent = emu.drive.get(parentId);
  if (parent.kind !== 'folder') throw badRequest('The copy destination is not a folder', 'invalidParent');
  if (parent.id === src.id || emu.drive.ancestors(parent).some((a) => a.id === src.id)) {
    throw badRequest('An item cannot be copied into itself or its own descendant', 'invalidCopy');
  }
  const id = randomToken(16);
  const job: CopyJob = { status: 'inProgress', startedAt: emu.now() };
  emu.copyJobs.set(id, job);
  const run = () => {
    try {
      const row = emu.drive.copy(src.id, parentId, name, behavior, (r) => shareBlob(emu, r));
      job.status = 'completed';
      job.resourceId = row.id;
    } catch (e) {
      job.status = 'failed';
      job.error = e instanceof GraphError ? { code: e.code, message: e.message } : { code: 'generalException', message: String(e) };
    }
  };
  emu.schedule(emu.copyDelayMs, run);
  sendEmpty(ctx, 202, { location: `${ctx.storageBase}/monitor/${id}` });
}

/** Blobs are immutable, so a copy can share the bytes through a hard link. */
function shareBlob(emu: EmulatorState, ref: string): string {
  if (!ref.startsWith('blob:')) return ref;
  const copy = `blob:${randomToken(12)}`;
  linkSync(emu.content.blobPath(ref), emu.content.blobPath(copy));
  return copy;
}

export function monitorStatus(emu: EmulatorState, id: string): Record<string, unknown> {
  const job = emu.copyJobs.get(id);
  if (!job) throw notFound('Unknown monitor');
  const out: Record<string, unknown> = { operation: 'ItemCopy', status: job.status };
  if (job.status === 'inProgress') out.percentageComplete = 50;
  if (job.status === 'completed') {
    out.percentageComplete = 100;
    out.resourceId = job.resourceId;
  }
  if (job.error) out.error = job.error;
  return out;
}

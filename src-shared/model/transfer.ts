// What the engine reports about its work, in the shapes the UI and `onemount status` show. Each is
// a zod schema (the IPC contract validates payloads with it) with its TypeScript type inferred.
// Timestamps are milliseconds since the Unix epoch: cheap to compare and to count down from.

import { z } from 'zod';

export const EpochMsSchema = z.number().int().nonnegative();

const ByteCountSchema = z.number().int().nonnegative();

/** An error as people see it: a stable code for programs, a sentence for people. */
export const ErrorInfoSchema = z.object({
  code: z.string().min(1),
  message: z.string().min(1),
});
export type ErrorInfo = z.infer<typeof ErrorInfoSchema>;

export const TransferDirectionSchema = z.enum(['upload', 'download']);
export type TransferDirection = z.infer<typeof TransferDirectionSchema>;

export const TransferStateSchema = z.enum([
  'queued',
  'active',
  'waiting-for-network',
  'paused',
  'retrying',
  'failed',
  'done',
]);
export type TransferState = z.infer<typeof TransferStateSchema>;

/** One row of the transfer panel: a file going up or down. */
export const TransferItemSchema = z
  .object({
    /** The transfer's own id (one item can be transferred several times). */
    id: z.string().min(1),
    /** The item's id in the engine's store. */
    itemId: z.string().min(1),
    /** Drive path as the server sees it, e.g. `/Documents/report.docx`. */
    path: z.string().startsWith('/'),
    direction: TransferDirectionSchema,
    state: TransferStateSchema,
    /** Bytes moved so far, of `total`. */
    bytes: ByteCountSchema,
    total: ByteCountSchema,
    bytesPerSecond: z.number().nonnegative().optional(),
    /** When a 'retrying' transfer tries again ("retrying in 30 s"). */
    retryAt: EpochMsSchema.optional(),
    /** Why it failed (or, while retrying, why the last attempt did). */
    error: ErrorInfoSchema.optional(),
    startedAt: EpochMsSchema.optional(),
    updatedAt: EpochMsSchema,
  })
  .refine((t) => t.bytes <= t.total, { path: ['bytes'], error: 'bytes cannot exceed total' })
  .refine((t) => t.state !== 'retrying' || t.retryAt !== undefined, {
    path: ['retryAt'],
    error: 'a retrying transfer says when it retries',
  })
  .refine((t) => t.state !== 'failed' || t.error !== undefined, {
    path: ['error'],
    error: 'a failed transfer says why',
  });
export type TransferItem = z.infer<typeof TransferItemSchema>;

/**
 * The one state a file shows (emblem, `onemount status <path>`). When several apply, the first of
 * this list wins: error, conflict, syncing, modified, pinned, cached, partial, cloud-only.
 * - cloud-only: only metadata is local; reading fetches the bytes.
 * - partial: some byte ranges are cached (a file read in part).
 * - cached: all bytes are local; may be evicted to free space.
 * - pinned: "always keep on this device": all bytes local and never evicted.
 * - modified: local changes waiting to be uploaded (write-back delay, offline, paused).
 * - syncing: a transfer of this file is running.
 * - conflict: changed here and on another device; the user chooses.
 * - error: the last transfer failed for good; the transfer list says why.
 */
export const ItemStateSchema = z.enum([
  'cloud-only',
  'partial',
  'cached',
  'pinned',
  'modified',
  'syncing',
  'conflict',
  'error',
]);
export type ItemState = z.infer<typeof ItemStateSchema>;

/** Whether the engine can reach OneDrive, and since when. */
export const ConnectivitySchema = z.discriminatedUnion('state', [
  z.object({ state: z.literal('online'), since: EpochMsSchema }),
  /** A probe is in flight. */
  z.object({ state: z.literal('checking'), since: EpochMsSchema }),
  z.object({
    state: z.literal('offline'),
    since: EpochMsSchema,
    /** When the next probe runs ("Retrying in 12 s"). */
    nextRetryAt: EpochMsSchema,
    /** What the last attempt ran into, for people ("DNS lookup failed"). */
    reason: z.string().min(1).optional(),
  }),
]);
export type Connectivity = z.infer<typeof ConnectivitySchema>;

/** The ordered phases of a graceful shutdown (docs/architecture.md, Shutdown), as the UI's checklist names them. */
export const SHUTDOWN_PHASES = ['stop-new-work', 'stop-sync', 'uploads', 'downloads', 'save-state', 'unmount'] as const;

export const ShutdownPhaseSchema = z.enum(SHUTDOWN_PHASES);
export type ShutdownPhase = z.infer<typeof ShutdownPhaseSchema>;

/** Where a shutdown stands: emitted at every phase change and as items in a phase finish. */
export const ShutdownProgressSchema = z
  .object({
    phase: ShutdownPhaseSchema,
    /** Position of `phase` in `phases`. */
    phaseIndex: z.number().int().nonnegative(),
    /** The phases this shutdown runs, in order (a headless run without a mount has no 'unmount'). */
    phases: z.array(ShutdownPhaseSchema).min(1),
    /** Work left in the current phase (uploads left, downloads left …). */
    itemsLeft: z.number().int().nonnegative(),
    /** What remains of the whole shutdown budget. */
    budgetLeftMs: z.number().nonnegative(),
    /** The whole shutdown has finished. */
    done: z.boolean(),
  })
  .refine((p) => new Set(p.phases).size === p.phases.length, { path: ['phases'], error: 'phases repeat' })
  .refine((p) => p.phases[p.phaseIndex] === p.phase, {
    path: ['phaseIndex'],
    error: 'phaseIndex must point at phase within phases',
  });
export type ShutdownProgress = z.infer<typeof ShutdownProgressSchema>;

/**
 * A transfer that finished, as Recent lists it. The engine keeps the latest ones (they survive a
 * panel reload and an engine restart); the `recent` call returns them newest first.
 */
export const RecentTransferSchema = z.object({
  id: z.string().min(1),
  path: z.string().startsWith('/'),
  direction: TransferDirectionSchema,
  total: ByteCountSchema,
  finishedAt: EpochMsSchema,
});
export type RecentTransfer = z.infer<typeof RecentTransferSchema>;

/**
 * Pushed progress (docs/ui.md: progress arrives as events, never jumps from 0 to half): the transfers
 * that changed since the last event, each in full, at most a few times a second however many move.
 * A transfer that finished comes once more with state `done`; one that failed with `failed`.
 */
export const TransferProgressSchema = z.object({
  transfers: z.array(TransferItemSchema).max(10_000),
});
export type TransferProgress = z.infer<typeof TransferProgressSchema>;

/**
 * A program's read or write on the mount that failed for a reason the person can act on (offline
 * with the file not on this device, quota exceeded), so it shows in Errors and not only as an errno
 * in a terminal.
 */
export const FileErrorSchema = z.object({
  path: z.string().startsWith('/'),
  operation: z.enum(['read', 'write', 'create', 'delete', 'rename']),
  error: ErrorInfoSchema,
  at: EpochMsSchema,
});
export type FileError = z.infer<typeof FileErrorSchema>;

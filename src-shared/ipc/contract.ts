/**
 * The engine's outside face: calls and events over a Unix socket (and later a loopback WebSocket).
 * One JSON object per line. Payloads are validated on arrival with these schemas.
 *
 *   → {"id": 1, "method": "status", "params": {}}
 *   ← {"id": 1, "result": {...}}            or  {"id": 1, "error": {"code": "...", "message": "..."}}
 *   ← {"event": "transfers", "payload": {...}}   (after "subscribe")
 */
import { z } from 'zod';
import { ConnectivitySchema, EpochMsSchema, FileErrorSchema, RecentTransferSchema, ShutdownProgressSchema, TransferItemSchema, TransferProgressSchema } from '../model/transfer.ts';
import { AuthStateSchema, DesktopCalls, PauseStateSchema } from './desktop-calls.ts';

export const EngineStateSchema = z.enum(['starting', 'syncing', 'ready', 'offline', 'stopping']);
export type EngineState = z.infer<typeof EngineStateSchema>;

export const QuotaSchema = z.object({
  total: z.number().nonnegative(),
  used: z.number().nonnegative(),
  remaining: z.number().nonnegative(),
  state: z.string().optional(),
});

export const EngineStatusSchema = z.object({
  account: z.string(),
  mountpoint: z.string(),
  state: EngineStateSchema,
  driveType: z.string().optional(),
  items: z.number().int().nonnegative(),
  cachedBytes: z.number().nonnegative(),
  quota: QuotaSchema.optional(),
  lastSyncAt: z.number().optional(),
  lastSyncError: z.string().optional(),
  connectivity: ConnectivitySchema.optional(),
  throttledUntil: z.number().optional(),
  transfers: z.array(TransferItemSchema),
  pid: z.number().int(),
  /** Absent from engines that cannot pause. */
  pause: PauseStateSchema.optional(),
  /** Conflicts waiting for the user (the `conflicts` call lists them). */
  conflicts: z.number().int().nonnegative().optional(),
  auth: AuthStateSchema.optional(),
  /**
   * Set when this start found the database corrupt and brought unsent changes back: how many went
   * back where they were, how many (whose place was unknown) went to `folder`.
   */
  /** Changes made here that the server refused for good (the mount shows the server's state again). */
  failedChanges: z.array(z.object({ path: z.string(), change: z.string(), message: z.string() })).optional(),
  /** The first enumeration of the drive is still running (folders are listed on demand meanwhile): items received so far. */
  indexing: z.object({ items: z.number().int().nonnegative() }).optional(),
  /**
   * Opens by indexers and thumbnailers of files not on this device, refused since the engine started
   * (by the program rule that matched). `callerKnown` false: the FUSE module cannot tell who reads,
   * so nothing is refused.
   */
  indexers: z
    .object({
      refuse: z.boolean(),
      callerKnown: z.boolean(),
      refused: z.number().int().nonnegative(),
      byProgram: z.record(z.string(), z.number().int().nonnegative()),
    })
    .optional(),
  recovery: z.object({ restored: z.number().int().nonnegative(), recovered: z.number().int().nonnegative(), folder: z.string().nullable() }).optional(),
  /** The system slept or shut down while `notUploaded` changes still waited (kept until they are uploaded). */
  sleptWithChanges: z.object({ notUploaded: z.number().int().positive(), at: EpochMsSchema }).optional(),
});
export type EngineStatus = z.infer<typeof EngineStatusSchema>;

/** A path inside the mount, from its root: `/Documents/report.docx` (`/` is the root itself). */
export const MountPathSchema = z
  .string()
  .min(1)
  .max(32_768)
  .refine((p) => p.startsWith('/') && !p.includes('\0'), { message: 'a path inside the mount starting with /' });

export const PathParamsSchema = z.object({ path: MountPathSchema }).strict();

export const PinResultSchema = z.object({
  path: z.string(),
  /** Files the pin covers, their total size, and how many were queued for download. */
  files: z.number().int().nonnegative(),
  bytes: z.number().nonnegative(),
  queued: z.number().int().nonnegative(),
});
export type PinResult = z.infer<typeof PinResultSchema>;

export const UnpinResultSchema = z.object({
  path: z.string(),
  /** Pins cleared: the item's own and those below it. */
  unpinned: z.number().int().nonnegative(),
  /** A pinned folder above that still keeps the item on this device. */
  stillPinnedBy: z.string().optional(),
});
export type UnpinResult = z.infer<typeof UnpinResultSchema>;

export const FreeResultSchema = z.object({
  path: z.string(),
  freedFiles: z.number().int().nonnegative(),
  freedBytes: z.number().nonnegative(),
  skippedOpen: z.number().int().nonnegative(),
  skippedDirty: z.number().int().nonnegative(),
  skippedPinned: z.number().int().nonnegative(),
});
export type FreeResult = z.infer<typeof FreeResultSchema>;

export const ThumbnailParamsSchema = z.object({ path: MountPathSchema, size: z.enum(['small', 'medium', 'large']) }).strict();
/** `file`: a local picture file (PNG or JPEG as the service made it); absent when the item has no thumbnail. */
export const ThumbnailResultSchema = z.object({ file: z.string().optional() });

/** Calls: method → params and result schemas. */
export const Calls = {
  status: { params: z.object({}).strict(), result: EngineStatusSchema },
  /** `started: false` with `message` when it cannot run now (paused, offline): the UI shows why. */
  syncNow: { params: z.object({}).strict(), result: z.object({ started: z.boolean(), message: z.string().optional() }) },
  subscribe: { params: z.object({ events: z.array(z.string()).optional() }).strict(), result: z.object({ ok: z.literal(true) }) },
  quit: { params: z.object({}).strict(), result: z.object({ ok: z.literal(true) }) },
  /** "Always keep on this device": pins a file or folder tree and downloads it in the background. */
  pin: { params: PathParamsSchema, result: PinResultSchema },
  unpin: { params: PathParamsSchema, result: UnpinResultSchema },
  /** "Free up space": drops local content of clean, unpinned, closed files. */
  free: { params: PathParamsSchema, result: FreeResultSchema },
  /** The item's thumbnail as a local file (fetched first when missing). */
  thumbnail: { params: ThumbnailParamsSchema, result: ThumbnailResultSchema },
  /** Finished transfers the engine remembers, newest first (Recent survives reloads and restarts). */
  recent: { params: z.object({}).strict(), result: z.object({ recent: z.array(RecentTransferSchema).max(1000) }) },
  /**
   * "Open folder" and a conflict's [Show in folder]: the desktop (Electron, or the browser panel's
   * server on the same machine) opens the folder in the file manager, the file selected when `path`
   * names one. Absent `path`: the mount's root.
   */
  openFolder: { params: z.object({ path: MountPathSchema.optional() }).strict(), result: z.object({ ok: z.literal(true) }) },
  /** The desktop app's popover → the panel in an ordinary window (the full view). */
  openInWindow: { params: z.object({}).strict(), result: z.object({ ok: z.literal(true) }) },
  ...DesktopCalls,
} as const;
export type CallName = keyof typeof Calls;
export type CallParams<M extends CallName> = z.infer<(typeof Calls)[M]['params']>;
export type CallResult<M extends CallName> = z.infer<(typeof Calls)[M]['result']>;

/**
 * "Open this URL to sign in": the desktop app shows it in its sign-in window, the command line opens
 * the system browser or prints it. A device-code sign-in also carries the code the user types there.
 */
export const SignInPromptSchema = z.object({
  account: z.string(),
  url: z.string().url(),
  userCode: z.string().optional(),
  expiresAt: z.number().optional(),
});
export type SignInPrompt = z.infer<typeof SignInPromptSchema>;

/** Events: name → payload schema. */
export const Events = {
  status: EngineStatusSchema,
  transfer: TransferItemSchema,
  shutdown: ShutdownProgressSchema,
  signInPrompt: SignInPromptSchema,
  /** The account signed out (a refresh needs the user) or signed in again. */
  auth: AuthStateSchema,
  /** Transfers that moved or changed state since the last one (a few times a second at most). */
  transferProgress: TransferProgressSchema,
  /** A program's read or write on the mount failed in a way the person should see (Errors). */
  fileError: FileErrorSchema,
} as const;
export type EventName = keyof typeof Events;
export type EventPayload<E extends EventName> = z.infer<(typeof Events)[E]>;

/** The error code of a call this engine does not serve (yet): the UI says so instead of pretending. */
export const NOT_SUPPORTED = 'NOT_SUPPORTED';

export const RequestSchema = z.object({ id: z.number().int(), method: z.string(), params: z.unknown().optional() });
export const ResponseSchema = z.union([
  z.object({ id: z.number().int(), result: z.unknown() }),
  z.object({ id: z.number().int(), error: z.object({ code: z.string(), message: z.string() }) }),
  z.object({ event: z.string(), payload: z.unknown() }),
]);

/**
 * The calls the desktop app and the browser panel need beyond the command line's (docs/ui.md): pause and
 * resume, conflicts, settings, sign-in. Engines that cannot serve one yet answer NOT_SUPPORTED.
 */
import { z } from 'zod';
import { EpochMsSchema } from '../model/transfer.ts';

/** Syncing paused by the user: `until` absent means "until I resume". */
export const PauseStateSchema = z.object({
  paused: z.boolean(),
  until: EpochMsSchema.optional(),
});
export type PauseState = z.infer<typeof PauseStateSchema>;

/** Whether the engine holds a usable sign-in; `user` is the account's sign-in name (user@example.com). */
export const AuthStateSchema = z.object({
  state: z.enum(['signed-in', 'signed-out']),
  user: z.string().optional(),
});
export type AuthState = z.infer<typeof AuthStateSchema>;

/** At most a week: "pause for 2 h / 8 h / 24 h"; longer means "until I resume" (no duration). */
export const MAX_PAUSE_MS = 7 * 24 * 3600_000;

export const PauseParamsSchema = z
  .object({ durationMs: z.number().int().positive().max(MAX_PAUSE_MS).optional() })
  .strict();

export const ConflictReasonSchema = z.enum(['both-modified', 'remote-deleted', 'name-clash']);

/** A file changed here and on another device (or otherwise clashing), waiting for the user's choice. */
export const ConflictSchema = z.object({
  id: z.number().int().nonnegative(),
  itemId: z.string(),
  /** Drive path when the conflict was found. */
  path: z.string(),
  reason: ConflictReasonSchema,
  /** The name the local version was kept under, when it was renamed (keep both is the default). */
  localCopyName: z.string().nullable(),
  detectedAt: EpochMsSchema,
});
export type Conflict = z.infer<typeof ConflictSchema>;

export const ConflictChoiceSchema = z.enum(['keep-mine', 'keep-theirs', 'keep-both']);
export type ConflictChoice = z.infer<typeof ConflictChoiceSchema>;

export const LogLevelSchema = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']);

/**
 * The slowest bandwidth limit, bytes per second (32 KiB/s): the smallest upload fragment (320 KiB)
 * must go through within a third of a request's 30 s timeout.
 */
export const MIN_BANDWIDTH_LIMIT = 32 * 1024;

/** A bandwidth limit in bytes per second for all transfers of one direction together; 0 is none. */
export const BandwidthLimitSchema = z.union([z.literal(0), z.number().int().min(MIN_BANDWIDTH_LIMIT)]);

/**
 * One program of the indexer list: a program or process name, `name/arg` (that name run with `arg`
 * among its arguments), `*` for any characters in the name. No spaces at the ends, one slash at most.
 */
export const IndexerProgramSchema = z
  .string()
  .min(1)
  .max(255)
  .refine((t) => t.trim() === t && !t.includes('\0') && t.split('/').length <= 2 && t.split('/').every((p) => p.length > 0), {
    message: 'a program name, or name/argument',
  });
export const MAX_INDEXER_PROGRAMS = 200;

/** What the settings view shows and edits (docs/ui.md, Settings). */
export const SettingsSchema = z.object({
  mountpoint: z.string(),
  cacheLimitBytes: z.number().int().nonnegative(),
  downloadConcurrency: z.number().int().min(1).max(32),
  uploadConcurrency: z.number().int().min(1).max(32),
  startOnLogin: z.boolean(),
  notifications: z.boolean(),
  logLevel: LogLevelSchema,
  /** Absent from engines older than the bandwidth limits. */
  uploadLimitBytesPerSecond: BandwidthLimitSchema.optional(),
  downloadLimitBytesPerSecond: BandwidthLimitSchema.optional(),
  /**
   * Known indexers and thumbnailers get EACCES when they open a file not on this device, so they do
   * not download the drive (docs/indexers.md). Absent from engines without it.
   */
  refuseIndexers: z.boolean().optional(),
  /** The programs `refuseIndexers` is about. */
  indexerPrograms: z.array(IndexerProgramSchema).max(MAX_INDEXER_PROGRAMS).optional(),
});
export type Settings = z.infer<typeof SettingsSchema>;

/** The mount point changes only with a remount, so it is not editable here. */
export const SettingsUpdateSchema = SettingsSchema.omit({ mountpoint: true }).partial().strict();
export type SettingsUpdate = z.infer<typeof SettingsUpdateSchema>;

const NoParams = z.object({}).strict();

/** Spread into the contract's Calls. */
export const DesktopCalls = {
  /** Pauses uploads and remote sync (reads keep working) for `durationMs`, or until resumed. */
  pause: { params: PauseParamsSchema, result: PauseStateSchema },
  resume: { params: NoParams, result: PauseStateSchema },
  conflicts: { params: NoParams, result: z.object({ conflicts: z.array(ConflictSchema) }) },
  resolveConflict: {
    params: z.object({ id: z.number().int().nonnegative(), choice: ConflictChoiceSchema }).strict(),
    /** `message` says what the choice did, for the panel to show ("Kept your version of …"). */
    result: z.object({ ok: z.literal(true), message: z.string().optional() }),
  },
  settings: { params: NoParams, result: SettingsSchema },
  updateSettings: { params: SettingsUpdateSchema, result: SettingsSchema },
  /** Starts an interactive sign-in; the identity provider's page is at `authorizationUrl`. */
  signIn: { params: NoParams, result: z.object({ authorizationUrl: z.string().url() }) },
  signOut: { params: NoParams, result: z.object({ ok: z.literal(true) }) },
  /** A failed transfer's [Retry]: try it again now (`id` is the TransferItem's id). */
  retryTransfer: { params: z.object({ id: z.string().min(1) }).strict(), result: z.object({ ok: z.literal(true) }) },
  /** During a shutdown: cut the budget short (what is unfinished is persisted and resumes next start). */
  quitNow: { params: NoParams, result: z.object({ ok: z.literal(true) }) },
} as const;

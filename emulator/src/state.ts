/**
 * What a request handler sees of the running emulator. The handlers (api-routes, storage-routes,
 * sessions, copy, delta, thumbnails, seed, admin) take this interface rather than the Emulator class,
 * so none of them imports emulator.ts, which imports them all: the emulator's modules form no cycle
 * (checked by `npm run lint`, eslint-rules/import-cycles.js). Emulator (emulator.ts) implements it.
 */
import type { ContentStore } from './content-store.ts';
import type { Drive } from './drive.ts';
import type { ItemRow } from './drive-db.ts';
import type { Faults } from './faults.ts';
import type { HashThread } from './hash-thread.ts';
import type { DriveMode } from './ids.ts';
import type { IdentityProvider } from './identity.ts';
import type { RequestLog } from './request-log.ts';

export const MiB = 1024 * 1024;

export interface ResolvedOptions {
  mode: DriveMode;
  host: string;
  quotaTotal: number;
  simpleUploadLimit: number;
  downloadUrlTtlMs: number;
  sessionTtlMs: number;
  pageSize: number;
  maxPageSize: number;
  strictTokens: boolean;
  publicApiBase: string | undefined;
  publicStorageBase: string | undefined;
}

export interface CopyJob {
  status: 'inProgress' | 'completed' | 'failed';
  startedAt: number;
  resourceId?: string;
  error?: { code: string; message: string };
}

export type ShareAccess = 'read' | 'write';

export interface ShareInfo {
  /** The other drive and the shared folder in it. */
  driveId: string;
  itemId: string;
  /** The folder's path in the other drive. */
  path: string;
  access: ShareAccess;
  /** The shortcut in the user's drive, when the share was added to it. */
  shortcutId: string | undefined;
}

/**
 * The other user's drive and the folders it shares with the signed-in user (shares.ts). Views are
 * the emulator as seen by requests to the other drive: `drive`, `sessions` and `admin` are that
 * drive's, everything else the emulator's own.
 */
export interface SharesState {
  readonly drive: Drive | undefined;
  /** `base` itself for the user's drive, its view for the other drive, undefined for any other id. */
  viewFor<T extends EmulatorState>(base: T, driveId: string): T | undefined;
  /** The other drive's view of `base` (the drive is created on first use). */
  otherView<T extends EmulatorState>(base: T): T;
  /** True when `emu` is the other drive's view. */
  isOther(emu: EmulatorState): boolean;
  /** Whether the other drive's sessions hold upload session `id`. */
  holdsSession(id: string): boolean;
  share(folderPath: string, access: ShareAccess, options?: { name?: string; addToDrive?: boolean }): ShareInfo;
  unshare(folderPath: string): void;
  list(): ShareInfo[];
  guardRead(emu: EmulatorState, row: ItemRow): void;
  guardWrite(emu: EmulatorState, row: ItemRow, ownItem?: boolean): void;
  visibleInDelta(emu: EmulatorState): ((row: ItemRow) => boolean) | undefined;
  hidesShortcuts(emu: EmulatorState, prefer: string | undefined): boolean;
  permissionsJson(emu: EmulatorState, row: ItemRow): Record<string, unknown>[];
}

export interface EmulatorState {
  /** The other user's drive and its shares (shares.ts). */
  readonly shares: SharesState;
  readonly log: RequestLog;
  readonly faults: Faults;
  /** Upload hashing, off the thread that serves requests. */
  readonly hashThread: HashThread;
  readonly options: ResolvedOptions;
  /** Strict-mode tokens: token → expiry (ms) and, for tokens the identity provider issued, the account. */
  readonly tokens: Map<string, { expiresAt: number; account?: string }>;
  /** The identity provider (sign-in for MSAL), served on the API listener below `/<tenant>/…`. */
  readonly identity: IdentityProvider;
  /** Copy jobs by monitor id, and how long a copy takes. */
  readonly copyJobs: Map<string, CopyJob>;
  copyDelayMs: number;
  /** How many thumbnail images were rendered (each size once per content version). */
  thumbnailRenders: number;
  readonly drive: Drive;
  readonly content: ContentStore;
  readonly dataDir: string;
  readonly now: () => number;
  readonly apiUrl: string;
  readonly apiBase: string;
  readonly storageBase: string;
  readonly adminUrl: string;
  readonly isOffline: boolean;
  /** Offline: the API and storage ports refuse connections (ECONNREFUSED); the admin port stays up. */
  setOffline(offline: boolean): Promise<void>;
  /** Runs `fn` later; pending runs are cancelled by close(). */
  schedule(ms: number, fn: () => void): void;
  /** Removes blobs the last mutation orphaned. */
  flushGarbage(): Promise<void>;
  /** A signed, expiring storage URL: `{storageBase}/{kind}/{payload}.{sig}`. */
  signedUrl(kind: string, fields: Record<string, string | number>, ttlMs: number, storageBase?: string): string;
  /** Verifies a signed URL token; 'expired' after its TTL, undefined when forged. */
  verify(kind: string, token: string): Record<string, string | number> | 'expired' | undefined;
  /** Knob: every download URL issued so far stops working. */
  expireDownloadUrls(): void;
  downloadUrl(row: ItemRow, storageBase?: string): string;
}

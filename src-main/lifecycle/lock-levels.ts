/**
 * The lock order of the whole engine, written down in this one place. A lock may only be taken
 * while every lock the current async context already holds has a *lower* level; the checker in
 * leveled-mutex.ts enforces it in development and tests. Locks of one level that must be held
 * together (two directories in a rename, two inodes) are taken as one batch with `withLocks`, which
 * orders them by name.
 *
 * Gaps between the numbers leave room to slot a level in without renumbering.
 */
export const LockLevels = {
  /** Serializes applying a delta batch; taken before anything it changes in the tree. */
  'sync.delta': 10,
  /** The namespace: parent/child links, create, rename, unlink. */
  'vfs.tree': 20,
  /** One inode's metadata (size, times, dirty flag). Named instances: `inode:<n>`. */
  'vfs.inode': 30,
  /** One file's cache content and range map. Named instances: `content:<itemId>`. */
  'vfs.content': 40,
  /** The upload/download queues' bookkeeping (enqueue, dequeue, reprioritize). */
  'transfers.queue': 50,
  /** Token refresh: a request made under any lock above may need a fresh token. */
  'auth.token': 60,
  /** A multi-statement store transaction; innermost, it never calls out while held. */
  store: 70,
} as const satisfies Record<string, number>;

export type LockLevel = keyof typeof LockLevels;

/** The levels in acquisition order, for messages and documentation. */
export function lockOrder(): LockLevel[] {
  return (Object.keys(LockLevels) as LockLevel[]).sort((a, b) => LockLevels[a] - LockLevels[b]);
}

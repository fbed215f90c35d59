import { randomUUID } from 'node:crypto';

/**
 * Items created while the server has not yet given them an id (offline, or before the first
 * upload returns) carry a local id. Graph ids never contain a colon-prefixed "local:" scheme,
 * so the two spaces cannot collide. The local id stays the item's key for good: the server's id
 * fills `items.remote_id` once it is known (docs/architecture.md, "one key per item").
 */
const LOCAL_ID_PREFIX = 'local:';

export function newLocalId(): string {
  return `${LOCAL_ID_PREFIX}${randomUUID()}`;
}

export function isLocalId(id: string): boolean {
  return id.startsWith(LOCAL_ID_PREFIX);
}

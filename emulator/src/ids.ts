/**
 * Identifier, eTag and cTag shapes per mode (docs/graph-api.md §1, §13). Ids never encode the path.
 */
import { createHash, randomBytes } from 'node:crypto';

export type DriveMode = 'personal' | 'business';

/**
 * P drive ids are compared case-insensitively and without leading zeros (docs/graph-api.md §15 #7); B ids
 * are base64url, where case matters, so they must match exactly.
 */
export function sameDriveId(mode: DriveMode, a: string, b: string): boolean {
  if (a === b) return true;
  if (mode !== 'personal') return false;
  const norm = (s: string) => s.toLowerCase().replace(/^0+/, '');
  return norm(a) === norm(b);
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function newDriveId(mode: DriveMode): string {
  if (mode === 'personal') return randomBytes(8).toString('hex');
  return 'b!' + randomBytes(48).toString('base64url');
}

/** A new item id; `counter` makes personal ids look like `DRIVEID!123`. */
export function newItemId(mode: DriveMode, driveId: string, counter: number): string {
  if (mode === 'personal') return `${driveId.toUpperCase()}!${counter}`;
  const bytes = randomBytes(20);
  let out = '01';
  for (let i = 0; i < 32; i++) out += BASE32[bytes[i % 20]! % 32];
  return out;
}

function guidOf(id: string): string {
  const h = createHash('sha1').update(id).digest('hex').toUpperCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export function eTagOf(mode: DriveMode, id: string, seq: number): string {
  if (mode === 'personal') return 'a' + Buffer.from(`${id}.${seq}`).toString('base64').replace(/=+$/, '');
  return `"{${guidOf(id)}},${seq}"`;
}

export function cTagOf(mode: DriveMode, id: string, seq: number): string {
  if (mode === 'personal') return 'a' + Buffer.from(`c:${id}.${seq}`).toString('base64').replace(/=+$/, '');
  return `"c:{${guidOf(id)}},${seq}"`;
}

export function randomToken(bytes = 18): string {
  return randomBytes(bytes).toString('base64url');
}

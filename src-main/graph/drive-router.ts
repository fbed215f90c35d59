/**
 * Items of shared folders live in other drives (docs/graph-api.md §2.2): a request for one goes to
 * `/drives/{driveId}/items/{id}`, and a request for the children of a shared folder's shortcut goes
 * to the folder it points to. The engine names items by server id everywhere; a DriveRouter, given
 * to the GraphClient, tells where an id lives, so no call site has to carry drive ids around.
 */
import type { DriveItem } from './drive-item.ts';

/** An item addressed in a given drive. */
export interface ItemAddress {
  driveId: string;
  itemId: string;
}

export interface DriveRouter {
  /** Where the item itself is (read, update, delete, content); undefined: the user's own drive. */
  item(remoteId: string): ItemAddress | undefined;
  /**
   * Where the children of the item are (list, create, upload into): for a shared folder's shortcut
   * the folder it points to; undefined: the user's own drive.
   */
  folder(remoteId: string): ItemAddress | undefined;
  /**
   * A path from the root of the mount that goes through a shared folder: that folder and the path
   * below it (`''` for the folder itself); undefined: a path of the user's own drive.
   */
  path(path: string): { folder: ItemAddress; rest: string } | undefined;
  /** Every driveItem the server answered with, so new items of other drives are found before the store knows them. */
  learn?(item: DriveItem): void;
  /** Where an item the store no longer holds is (an offline delete's entry names its drive). */
  remember?(at: ItemAddress): void;
  /** The server refused a change (403) of an item of another drive, or of something inside it. */
  denied?(at: ItemAddress, method: string): void;
}

/** What a permission grants the signed-in user on an item (`GET …/permissions`, `roles`). */
export type PermissionRole = 'read' | 'write' | 'owner' | string;

/**
 * The naming rules of the mounted drive, as far as the drive has shown them. OneDrive for Business
 * and SharePoint accept `#` and `%` in names unless the organisation turned them off (a tenant
 * setting no Graph call reveals), so names are checked by the lenient rule until the drive refuses
 * one for exactly that: a `400 invalidRequest` for a name that only the strict rule refuses. From
 * then on the strict rule applies (names with them fail at once with EINVAL, before any request),
 * and it is remembered in the account's state folder for the next start.
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../base/files.ts';
import type { Logger } from '../base/logger.ts';
import type { GraphClient } from '../graph/client.ts';
import { GraphApiError } from '../graph/errors.ts';
import { VfsError } from '../vfs/vfs-error.ts';
import { validateName, type DriveMode, type NameRules } from '../../src-shared/model/names.ts';

interface SavedRules {
  refuseHashAndPercent?: boolean;
}

export class DriveNameRules implements NameRules {
  #refuseHashAndPercent: boolean;

  private constructor(
    readonly mode: DriveMode,
    refuseHashAndPercent: boolean,
    private readonly file: string,
    private readonly logger: Logger,
  ) {
    this.#refuseHashAndPercent = refuseHashAndPercent;
  }

  /** The rules remembered in `file` (none yet: the lenient ones). */
  static async load(file: string, mode: DriveMode, logger: Logger): Promise<DriveNameRules> {
    let saved: SavedRules = {};
    try {
      saved = JSON.parse(await readFile(file, 'utf8')) as SavedRules;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn({ err: e, file }, 'could not read the remembered naming rules of the drive; starting from the default ones');
    }
    return new DriveNameRules(mode, mode === 'business' && saved.refuseHashAndPercent === true, file, logger);
  }

  get refuseHashAndPercent(): boolean {
    return this.#refuseHashAndPercent;
  }

  /**
   * The drive refused a request that named `name`: when that is the tenant's rule on `#` and `%`,
   * learns it and answers the error a program should see (EINVAL, saying which character); any
   * other refusal is returned unchanged.
   */
  refused(name: string, error: unknown): unknown {
    if (this.mode !== 'business' || this.#refuseHashAndPercent) return error;
    if (!(error instanceof GraphApiError) || error.status !== 400 || error.graphCode !== 'invalidRequest') return error;
    // Only a name the lenient rule accepts and the strict one refuses tells the tenant's choice.
    if (validateName(name, this) !== undefined) return error;
    const strict = validateName(name, { mode: this.mode, refuseHashAndPercent: true });
    if (strict?.code !== 'invalidCharacter') return error;
    this.#refuseHashAndPercent = true;
    this.logger.warn({ name, server: error.serverMessage }, 'this OneDrive for Business drive refuses # and % in names (its organisation turned them off): names with them are refused from now on');
    writeFileAtomic(this.file, JSON.stringify({ refuseHashAndPercent: true } satisfies SavedRules) + '\n').catch((e: unknown) =>
      this.logger.warn({ err: e, file: this.file }, 'could not remember the naming rule; it is learned again at the next refusal'),
    );
    return new VfsError('EINVAL', `${name}: ${strict.message}`, { cause: error });
  }
}

type NamingCalls = Pick<GraphClient, 'createFolder' | 'update' | 'uploadSmall' | 'createUploadSession'>;

/** `graph` whose calls that name an item report a refused name to `rules` (DriveNameRules.refused). */
export function withNameRules<T extends NamingCalls>(graph: T, rules: DriveNameRules): T {
  const named = async <R>(name: string | undefined, call: () => Promise<R>): Promise<R> => {
    try {
      return await call();
    } catch (e) {
      throw name === undefined ? e : rules.refused(name, e);
    }
  };
  const methods: NamingCalls = {
    createFolder: (parentId, name, behavior, options) => named(name, () => graph.createFolder(parentId, name, behavior, options)),
    update: (id, patch, options) => named(patch.name, () => graph.update(id, patch, options)),
    uploadSmall: (parentId, name, body, options) => named(name, () => graph.uploadSmall(parentId, name, body, options)),
    createUploadSession: (target, options) => named('name' in target ? target.name : undefined, () => graph.createUploadSession(target, options)),
  };
  return new Proxy(graph, {
    get(object, key) {
      if (typeof key === 'string' && Object.hasOwn(methods, key)) return methods[key as keyof NamingCalls];
      const value: unknown = Reflect.get(object, key, object);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(object) : value;
    },
  });
}

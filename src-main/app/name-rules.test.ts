import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { tempDirs } from '../base/testing/temp-dirs.ts';
import { createLogger } from '../base/logger.ts';
import { GraphApiError } from '../graph/errors.ts';
import { VfsError } from '../vfs/vfs-error.ts';
import { validateName } from '../../src-shared/model/names.ts';
import { DriveNameRules, withNameRules } from './name-rules.ts';

const logger = createLogger({ name: 'test', level: 'silent' });
const refusal = (status = 400, graphCode = 'invalidRequest') => new GraphApiError({ status, graphCode, innerCodes: ['invalidPath'], message: 'no', request: 'POST /children' });
const temp = tempDirs('onemount-rules-');
const rulesDir = temp.make;
afterEach(temp.removeAll);
const rulesFile = () => path.join(rulesDir(), 'name-rules.json');

describe('DriveNameRules', () => {
  it('learns the tenant rule from a 400 for a name only # or % makes invalid, and remembers it', { timeout: 10_000 }, async () => {
    const file = rulesFile();
    const rules = await DriveNameRules.load(file, 'business', logger);
    expect(validateName('a#b', rules)).toBeUndefined();
    const error = rules.refused('a#b', refusal());
    expect(error).toBeInstanceOf(VfsError);
    expect((error as VfsError).errno).toBe('EINVAL');
    expect((error as VfsError).message).toMatch(/"#"/);
    expect(validateName('50%', rules)?.code).toBe('invalidCharacter');
    await expect.poll(() => readFileSync(file, 'utf8'), { timeout: 5000 }).toContain('"refuseHashAndPercent":true');
    expect((await DriveNameRules.load(file, 'business', logger)).refuseHashAndPercent).toBe(true);
  });

  it('leaves every other refusal as it was', { timeout: 10_000 }, async () => {
    const business = await DriveNameRules.load(rulesFile(), 'business', logger);
    for (const [name, error] of [
      ['plain.txt', refusal()],
      ['a#b', refusal(403, 'accessDenied')],
      ['a#b', refusal(400, 'badArgument')],
      ['a#b', new Error('socket hang up')],
    ] as const) {
      expect(business.refused(name, error)).toBe(error);
    }
    expect(business.refuseHashAndPercent).toBe(false);
    // A personal drive has no tenant to refuse them.
    const personal = await DriveNameRules.load(rulesFile(), 'personal', logger);
    const error = refusal();
    expect(personal.refused('a#b', error)).toBe(error);
    expect(personal.refuseHashAndPercent).toBe(false);
  });

  it('the Graph wrapper reports refusals of named calls and passes the rest through', { timeout: 10_000 }, async () => {
    const rules = await DriveNameRules.load(rulesFile(), 'business', logger);
    const graph = {
      createFolder: async (_parentId: string, _name: string) => {
        throw refusal();
      },
      update: async (_id: string, _patch: { name?: string }) => {
        throw refusal();
      },
      uploadSmall: async () => ({ id: 'x' }),
      createUploadSession: async () => ({ uploadUrl: 'u' }),
      other: () => 'other',
    };
    const named = withNameRules(graph as never, rules) as unknown as typeof graph;
    // A rename without a new name (a move) is not about a name.
    await expect(named.update('id', {})).rejects.toBeInstanceOf(GraphApiError);
    await expect(named.createFolder('p', 'Q#1')).rejects.toMatchObject({ errno: 'EINVAL' });
    expect(named.other()).toBe('other');
  });
});

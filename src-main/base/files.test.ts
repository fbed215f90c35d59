import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OneMountError } from './errors.ts';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, ensurePrivateDir, ensurePrivateDirSync, writeFileAtomic } from './files.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'onemount-files-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const modeOf = (path: string) => statSync(path).mode & 0o777;

describe('writeFileAtomic', () => {
  it('creates a private file by default and replaces existing content', async () => {
    const file = join(dir, 'tokens.json');
    await writeFileAtomic(file, '{"v":1}');
    expect(readFileSync(file, 'utf8')).toBe('{"v":1}');
    expect(modeOf(file)).toBe(PRIVATE_FILE_MODE);
    await writeFileAtomic(file, new TextEncoder().encode('{"v":2}'));
    expect(readFileSync(file, 'utf8')).toBe('{"v":2}');
    expect(readdirSync(dir)).toEqual(['tokens.json']);
  });

  it('applies the requested mode exactly, also over a looser existing file', async () => {
    const file = join(dir, 'settings.json');
    writeFileSync(file, 'old', { mode: 0o666 });
    chmodSync(file, 0o666);
    await writeFileAtomic(file, 'new', { mode: 0o640 });
    expect(modeOf(file)).toBe(0o640);
    await writeFileAtomic(file, 'newer');
    expect(modeOf(file)).toBe(PRIVATE_FILE_MODE);
  });

  it('concurrent writers leave one complete version and no temp files', async () => {
    const file = join(dir, 'state.json');
    const versions = Array.from({ length: 20 }, (_, i) => JSON.stringify({ i, pad: 'x'.repeat(10_000) }));
    await Promise.all(versions.map((v) => writeFileAtomic(file, v)));
    expect(versions).toContain(readFileSync(file, 'utf8'));
    expect(readdirSync(dir)).toEqual(['state.json']);
  });

  it('fails with a coded error and leaves no temp file when the directory is missing', async () => {
    const error = await writeFileAtomic(join(dir, 'missing', 'x'), 'data').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OneMountError);
    expect((error as OneMountError).code).toBe('ATOMIC_WRITE_FAILED');
  });

  it('does not leave a temp file behind when the rename fails', async () => {
    const target = join(dir, 'a-directory');
    mkdirSync(join(target, 'child'), { recursive: true });
    await expect(writeFileAtomic(target, 'data')).rejects.toMatchObject({ code: 'ATOMIC_WRITE_FAILED' });
    expect(readdirSync(dir)).toEqual(['a-directory']);
  });
});

describe.each([
  ['ensurePrivateDir', ensurePrivateDir],
  ['ensurePrivateDirSync', async (path: string) => ensurePrivateDirSync(path)],
])('%s', (_name, ensure) => {
  it('creates missing directories with mode 0700', async () => {
    const target = join(dir, 'a', 'b');
    await ensure(target);
    expect(modeOf(target)).toBe(PRIVATE_DIR_MODE);
    expect(modeOf(join(dir, 'a'))).toBe(PRIVATE_DIR_MODE);
  });

  it('tightens an existing directory and is idempotent', async () => {
    const target = join(dir, 'open');
    mkdirSync(target);
    chmodSync(target, 0o755);
    await ensure(target);
    expect(modeOf(target)).toBe(PRIVATE_DIR_MODE);
    await ensure(target);
    expect(modeOf(target)).toBe(PRIVATE_DIR_MODE);
  });

  it('refuses a path that is a file', async () => {
    const file = join(dir, 'file');
    writeFileSync(file, '');
    await expect(ensure(file)).rejects.toThrow();
  });
});

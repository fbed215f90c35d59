/**
 * The keyring store's conversation with `secret-tool` (store reads the secret from stdin, lookup
 * prints it, a missing item exits 1 silently, clear forgets it), checked against a stand-in program
 * that keeps items in a folder: these machines have no Secret Service to talk to.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../base/logger.ts';
import { KeyringSecretStore, openSecretStore } from './secret-store.ts';

const FAKE_SECRET_TOOL = `#!/bin/sh
# usage: secret-tool store --label=L k v... | lookup k v... | clear k v...
dir="$FAKE_KEYRING"
cmd="$1"; shift
[ "$cmd" = store ] && shift
key=$(printf '%s_' "$@" | tr -c 'A-Za-z0-9_' '_')
case "$cmd" in
  store) cat > "$dir/$key"; printf '%s' "$*" > "$dir/$key.args" ;;
  lookup) [ -f "$dir/$key" ] || exit 1; cat "$dir/$key" ;;
  clear) rm -f "$dir/$key" ;;
esac
`;

describe('KeyringSecretStore', () => {
  let dir: string;
  let program: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'onemount-keyring-'));
    program = path.join(dir, 'secret-tool');
    await writeFile(program, FAKE_SECRET_TOOL);
    await chmod(program, 0o755);
    process.env.FAKE_KEYRING = dir;
  });
  afterAll(async () => {
    delete process.env.FAKE_KEYRING;
    await rm(dir, { recursive: true, force: true });
  });

  it('stores through stdin (never the command line), looks up, and clears', async () => {
    const store = new KeyringSecretStore({ program, attributes: { service: 'onemount', account: 'k1' }, label: 'OneMount sign-in (k1)' });
    expect(await store.read()).toBeUndefined();
    await store.write('{"RefreshToken":{"x":"secret-value"}}');
    expect(await store.read()).toBe('{"RefreshToken":{"x":"secret-value"}}');
    const args = await readFile(path.join(dir, 'service_onemount_account_k1_.args'), 'utf8');
    expect(args).toBe('service onemount account k1');
    await store.clear();
    expect(await store.read()).toBeUndefined();
  });

  it('is chosen when available, and its absence falls back to the file with a logged warning', async () => {
    const log = createMemoryLogger();
    const keyring = await openSecretStore({ account: 'k2', configDir: path.join(dir, 'cfg'), logger: log.logger, secretToolProgram: program });
    expect(keyring.store.kind).toBe('keyring');
    expect(keyring.warning).toBeUndefined();
    const file = await openSecretStore({ account: 'k2', configDir: path.join(dir, 'cfg'), logger: log.logger, secretToolProgram: path.join(dir, 'missing') });
    expect(file.store.kind).toBe('file');
    expect(file.warning).toMatch(/no desktop keyring/);
    expect(log.records().some((r) => r.level === 40 && String(r.msg).includes('no desktop keyring'))).toBe(true);
    await expect(openSecretStore({ account: 'k2', configDir: path.join(dir, 'cfg'), logger: log.logger, secretToolProgram: path.join(dir, 'missing'), prefer: 'keyring' })).rejects.toMatchObject({ code: 'TOKEN_STORE' });
  });
});

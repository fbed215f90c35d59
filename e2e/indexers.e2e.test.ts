/**
 * Indexers and thumbnailers on a real mount (docs/indexers.md): a program named like an indexer
 * (a copy of cat called tracker-extract-3: its /proc comm is "tracker-extract", its exe the copy)
 * gets EACCES when it opens a file that is not on this device, and nothing is downloaded for it;
 * cat itself reads the file, after which the "indexer" reads it too. The refusals are counted in
 * status; the settings switch and list apply at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFile, mkdir, readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import { SocketClient } from '../src-main/ipc/socket-client.ts';
import { DEFAULT_INDEXER_PROGRAMS } from '../src-main/fuse/indexer-guard.ts';
import { ACCOUNT, eventually, logPosition, MountHarness, run, settledLog } from './harness.ts';

let h: MountHarness;
/** A copy of /bin/cat named like GNOME's extractor. */
let indexer: string;

const TEXT = 'what an indexer would like to read\n';
const BIG = 3 * 1024 * 1024;

async function engine(): Promise<SocketClient> {
  return SocketClient.connect(path.join(h.env.XDG_RUNTIME_DIR!, 'onemount', `${ACCOUNT}.sock`));
}

/** Runs `program file` from its own process: its output, or the error it printed. */
const readWith = (program: string, file: string) => run(program, [file], { timeoutMs: 30_000 });

/** Content downloads (GETs on the storage listener) since `since`. */
async function downloadsSince(since: number): Promise<number> {
  return (await settledLog(h, 'storage', since)).filter((e) => e.method === 'GET').length;
}

describe('indexers and thumbnailers do not hydrate the drive', () => {
  beforeAll(async () => {
    h = await MountHarness.start({
      seed: async (admin) => {
        await admin.remote({ op: 'mkdir', path: 'Docs' });
        await admin.remote({ op: 'mkdir', path: 'Videos' });
        for (const name of ['a.txt', 'b.txt', 'c.txt', 'd.txt', 'e.txt']) await admin.remote({ op: 'write', path: `Docs/${name}`, content: TEXT });
        await admin.remote({ op: 'write', path: 'Videos/clip.mp4', size: BIG });
      },
    });
    await mkdir(path.join(h.root, 'bin'));
    indexer = path.join(h.root, 'bin', 'tracker-extract-3');
    await copyFile('/bin/cat', indexer);
    await run('chmod', ['755', indexer]);
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  }, 60_000);

  it('the mount knows who reads (the patched fuse-native is built: npm run build:fuse-native)', async () => {
    const status = await h.status();
    expect(status.indexers).toEqual({ refuse: true, callerKnown: true, refused: 0, byProgram: {} });
  });

  it('an indexer opening a cloud-only file gets EACCES at once and nothing is downloaded; cat reads it, then so does the indexer', { timeout: 60_000 }, async () => {
    const file = h.at('Docs', 'a.txt');
    const since = await logPosition(h.admin);
    const refused = await readWith(indexer, file);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('Permission denied');
    expect(await downloadsSince(since)).toBe(0);
    expect((await run('getfattr', ['--only-values', '-n', 'user.onemount.status', file])).stdout).toBe('cloud-only');

    const person = await readWith('cat', file);
    expect(person.code).toBe(0);
    expect(person.stdout).toBe(TEXT);
    // Now on this device: anyone reads it, indexers too.
    const cached = await readWith(indexer, file);
    expect(cached.code, cached.stderr).toBe(0);
    expect(cached.stdout).toBe(TEXT);

    const status = await h.status();
    expect(status.indexers).toMatchObject({ refused: 1, byProgram: { 'tracker-extract-3': 1 } });
    const words = await h.onemount(['status', '--account', ACCOUNT]);
    expect(words.stdout).toContain('indexers: 1 read of files not on this device refused (tracker-extract-3 1)');
    expect(await h.engineLog()).toMatch(/tracker-extract \(an indexer or thumbnailer: \\"tracker-extract-3\\"\) opened \/Docs\/a\.txt/);
  });

  it("an open from another thread of an indexer is its process's (FUSE names the calling thread)", { timeout: 60_000 }, async () => {
    // Python named like the extractor, opening from a second thread: the request carries that
    // thread's id, which the engine traces to the process through /proc/<tid>/status.
    const python = path.join(h.root, 'bin', 'py', 'tracker-extract-3');
    await mkdir(path.dirname(python));
    await copyFile(await realpath('/usr/bin/python3'), python);
    await run('chmod', ['755', python]);
    const script = [
      'import os, sys, threading',
      'out = {}',
      'def read():',
      '    out["tid"] = threading.get_native_id()',
      '    try:',
      '        with open(sys.argv[1], "rb") as f: out["result"] = "read %d bytes" % len(f.read())',
      '    except OSError as e: out["result"] = os.strerror(e.errno)',
      't = threading.Thread(target=read); t.start(); t.join()',
      'print(out["result"], out["tid"] != os.getpid())',
    ].join('\n');
    const r = await run(python, ['-c', script, h.at('Docs', 'b.txt')], { timeoutMs: 30_000 });
    expect(r.stdout.trim(), r.stderr).toBe('Permission denied True');
    expect((await h.status()).indexers).toMatchObject({ refused: 2, byProgram: { 'tracker-extract-3': 2 } });
  });

  it('a file only partly on this device is still refused to the indexer (its first bytes read by a person)', { timeout: 60_000 }, async () => {
    const clip = h.at('Videos', 'clip.mp4');
    const head = await run('dd', [`if=${clip}`, 'of=/dev/null', 'bs=4096', 'count=1'], { timeoutMs: 30_000 });
    expect(head.code, head.stderr).toBe(0);
    await eventually('the clip partly cached', async () => {
      const state = (await run('getfattr', ['--only-values', '-n', 'user.onemount.status', clip])).stdout;
      return state === 'partial' ? state : undefined;
    });
    const since = await logPosition(h.admin);
    const refused = await readWith(indexer, clip);
    expect(refused.code).not.toBe(0);
    expect(await downloadsSince(since)).toBe(0);
    expect((await h.status()).indexers?.refused).toBe(3);
  });

  it('only reads are refused: a program named like an indexer may open a cloud-only file to append to it', { timeout: 60_000 }, async () => {
    // tee opens the file itself (a shell's `>>` would be the shell's open).
    await mkdir(path.join(h.root, 'bin2'));
    const tee = path.join(h.root, 'bin2', 'tracker-extract-3');
    await copyFile('/usr/bin/tee', tee);
    await run('chmod', ['755', tee]);
    const r = await run('/bin/sh', ['-c', 'echo appended | "$0" -a "$1" >/dev/null', tee, h.at('Docs', 'e.txt')], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(h.at('Docs', 'e.txt'), 'utf8')).toBe(`${TEXT}appended\n`);
    expect((await h.status()).indexers?.refused).toBe(3);
  });

  it('the settings switch and list apply to the next open, and status follows', { timeout: 60_000 }, async () => {
    const client = await engine();
    try {
      const off = await client.call('updateSettings', { refuseIndexers: false });
      expect(off.refuseIndexers).toBe(false);
      expect(off.indexerPrograms).toEqual(DEFAULT_INDEXER_PROGRAMS);
      const allowed = await readWith(indexer, h.at('Docs', 'b.txt'));
      expect(allowed.code, allowed.stderr).toBe(0);
      expect(allowed.stdout).toBe(TEXT);

      // A list of one: cat counts as an indexer now, and tracker-extract-3 does not.
      const custom = await client.call('updateSettings', { refuseIndexers: true, indexerPrograms: ['cat'] });
      expect(custom).toMatchObject({ refuseIndexers: true, indexerPrograms: ['cat'] });
      const catRefused = await readWith('cat', h.at('Docs', 'c.txt'));
      expect(catRefused.code).not.toBe(0);
      expect(catRefused.stderr).toContain('Permission denied');
      const indexerReads = await readWith(indexer, h.at('Docs', 'c.txt'));
      expect(indexerReads.stdout).toBe(TEXT);

      const status = await client.call('status', {});
      expect(status.indexers).toMatchObject({ refuse: true, refused: 4, byProgram: { 'tracker-extract-3': 3, cat: 1 } });
      const saved = JSON.parse(await readFile(path.join(h.env.XDG_CONFIG_HOME!, 'onemount', ACCOUNT, 'settings.json'), 'utf8')) as Record<string, unknown>;
      expect(saved).toMatchObject({ refuseIndexers: true, indexerPrograms: ['cat'] });
      await client.call('updateSettings', { indexerPrograms: [...DEFAULT_INDEXER_PROGRAMS] });
    } finally {
      client.close();
    }
  });

  it('`--indexers allow` on the command line lets them read for this run', { timeout: 120_000 }, async () => {
    await h.stopEngine();
    await h.startEngine(['--indexers', 'allow']);
    const r = await readWith(indexer, h.at('Docs', 'd.txt'));
    expect(r.code, r.stderr).toBe(0);
    expect((await h.status()).indexers).toMatchObject({ refuse: false, refused: 0 });
  });
});

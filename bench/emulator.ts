/**
 * Issue 2's numbers: the emulator's raw loopback download and upload speed for a 1 GiB file (later
 * benchmarks are ratios against these), compared with a bare node:http server; and a 100 000-item
 * drive fully enumerated through delta, checked for completeness.
 */
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { request } from 'undici';
import { EmulatorProcess } from '../emulator/src/spawn.ts';
import { QuickXorHash } from '../src-main/graph/quickxor.ts';
import { envNumber, fmt, GiB, mbps, median, MiB, printTable, put, timed, type Row } from './lib.ts';
import { emulatorDataDir, withBenchRoot, type Cleanup } from './bench-root.ts';
import { cpuTicks, threadTicks } from './rss-sampler.ts';

const AUTH = { authorization: 'Bearer bench' };
const FRAGMENT = 10 * MiB;

/** GETs `url` through undici's request API (as put(), lib.ts); a 3xx is returned as it is. */
async function get(url: string, headers: Record<string, string> = {}) {
  return request(url, { headers });
}

async function drain(res: Awaited<ReturnType<typeof get>>, hasher?: QuickXorHash): Promise<number> {
  if (res.statusCode !== 200) throw new Error(`GET answered ${res.statusCode}`);
  let n = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    n += chunk.length;
    hasher?.update(chunk);
  }
  return n;
}

/** The bare node:http server in its own process (like the emulator); stopped by `cleanup`. */
async function loopbackServer(cleanup: Cleanup): Promise<{ base: string; pid: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'loopback-server.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanup.add('stop the loopback server', async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await exited;
  });
  const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve));
  return { base: `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`, pid: child.pid! };
}

/**
 * Runs `fn` and returns its time and the CPU seconds `pid` and this process spent meanwhile, and
 * `pid`'s by thread id.
 */
async function withCpu(pid: number, fn: () => Promise<unknown>): Promise<{ ms: number; serverCpu: number; clientCpu: number; threads: Map<number, number> }> {
  const hz = Number((await runProgramOutput('getconf', ['CLK_TCK'])).trim()) || 100;
  const server0 = await cpuTicks(pid);
  const threads0 = await threadTicks(pid);
  const client0 = process.cpuUsage();
  const t = await timed(fn);
  const client = process.cpuUsage(client0);
  const threads = new Map([...(await threadTicks(pid))].map(([tid, ticks]) => [tid, (ticks - (threads0.get(tid) ?? 0)) / hz]));
  return { ms: t.ms, serverCpu: ((await cpuTicks(pid)) - server0) / hz, clientCpu: (client.user + client.system) / 1e6, threads };
}

/**
 * What storing bytes costs on this machine: 1 GiB files written into /dev/shm one after another,
 * each timed. These machines are virtual: memory freed for a while goes back to the host (free page
 * reporting), and memory the host must provide anew costs several times what writing it costs. A
 * few GiB freed lately stay with the machine, so the cliff shows once the files outgrow them.
 */
async function storeGiBs(count: number): Promise<number[]> {
  const files = Array.from({ length: count }, (_, i) => `/dev/shm/onemount-bench-store-${process.pid}-${i}`);
  try {
    const ms: number[] = [];
    for (const file of files) ms.push((await timed(() => runProgramOutput('dd', ['if=/dev/zero', `of=${file}`, 'bs=1M', `count=${GiB / MiB}`, 'status=none']))).ms);
    return ms;
  } finally {
    await Promise.all(files.map((f) => rm(f, { force: true })));
  }
}

async function runProgramOutput(cmd: string, args: string[]): Promise<string> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  const code = await new Promise<number | null>((resolve, reject) => child.once('error', reject).once('close', resolve));
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${code}`);
  return out;
}

/** Sends `size` bytes in 10 MiB requests from one reused buffer (memory stays flat). */
async function uploadChunks(send: (body: Buffer, start: number, end: number) => Promise<unknown>, size: number): Promise<void> {
  const buf = Buffer.alloc(FRAGMENT);
  for (let i = 0; i < buf.length; i++) buf[i] = (i * 31 + 7) & 0xff;
  for (let at = 0; at < size; at += FRAGMENT) {
    const end = Math.min(size, at + FRAGMENT);
    await send(end - at === buf.length ? buf : buf.subarray(0, end - at), at, end);
  }
}

export async function run(): Promise<void> {
  const size = Number(process.env.BENCH_LARGE_FILE ?? GiB);
  const items = Number(process.env.BENCH_ITEMS ?? 100_000);
  const rounds = envNumber('BENCH_EMU_ROUNDS', 3);

  await withBenchRoot('onemount-bench-emu-', async (root, cleanup) => {
    const store = await storeGiBs(4);
    const loopback = await loopbackServer(cleanup);
    const ceilingDown = await timed(async () => drain(await get(`${loopback.base}/?size=${size}`)));
    const ceiling = { down: mbps(ceilingDown.value, ceilingDown.ms) };
    const emu = await EmulatorProcess.start({ dataDir: await emulatorDataDir(root, 'emu', cleanup) });
    cleanup.add('stop the emulator', () => emu.stop());
    const api = emu.info.apiUrl;
    await emu.admin.generate({ largeFile: size });
    const item = (await emu.admin.item('/large.bin')) as { id: string; file: { hashes: { quickXorHash: string } } };

    // Download: /content → 302 → storage URL, whole file.
    const contentLocation = async () => {
      const r = await get(`${api}/me/drive/items/${item.id}/content`, AUTH);
      await r.body.dump();
      const location = r.headers['location'];
      if (r.statusCode !== 302 || typeof location !== 'string') throw new Error(`/content answered ${r.statusCode} without a location`);
      return location;
    };
    const down = await timed(async () => drain(await get(await contentLocation())));
    const hasher = new QuickXorHash();
    const verify = await timed(async () => drain(await get(await contentLocation()), hasher));
    const hashOk = hasher.digest() === item.file.hashes.quickXorHash;

    // Upload: one session, 10 MiB fragments; alternating with the loopback ceiling (this machine is noisy).
    const upload = () => withCpu(emu.child.pid!, async () => {
      const s = await fetch(`${api}/me/drive/root:/upload.bin:/createUploadSession`, {
        method: 'POST',
        headers: { ...AUTH, 'content-type': 'application/json' },
        body: '{}',
      });
      const { uploadUrl } = (await s.json()) as { uploadUrl: string };
      await uploadChunks((body, start, end) => put(uploadUrl, body, { 'content-range': `bytes ${start}-${end - 1}/${size}` }), size);
    });
    const ups: number[] = [];
    const ceilingUps: number[] = [];
    const cpu = { ceiling: [] as number[], emulator: [] as number[], ceilingClient: [] as number[], emulatorClient: [] as number[] };
    const byThread = { main: [] as number[], hash: [] as number[], rest: [] as number[] };
    const perGiB = (s: number) => (s * GiB) / size;
    const emulatorPid = emu.child.pid!;
    // The hash thread is the worker the first upload starts: the threads that were not there before it.
    const threadsBefore = new Set((await threadTicks(emulatorPid)).keys());
    for (let i = 0; i < rounds; i++) {
      const c = await withCpu(loopback.pid, () => uploadChunks((body) => put(loopback.base, body), size));
      ceilingUps.push(mbps(size, c.ms));
      cpu.ceiling.push(perGiB(c.serverCpu));
      cpu.ceilingClient.push(perGiB(c.clientCpu));
      const e = await upload();
      ups.push(mbps(size, e.ms));
      cpu.emulator.push(perGiB(e.serverCpu));
      cpu.emulatorClient.push(perGiB(e.clientCpu));
      const sum = (pick: (tid: number) => boolean) => perGiB([...e.threads].reduce((n, [tid, s]) => n + (pick(tid) ? s : 0), 0));
      byThread.main.push(sum((tid) => tid === emulatorPid));
      byThread.hash.push(sum((tid) => !threadsBefore.has(tid)));
      byThread.rest.push(sum((tid) => tid !== emulatorPid && threadsBefore.has(tid)));
    }
    const up = median(ups);
    const ceilingUp = median(ceilingUps);
    const ratios = ups.map((u, i) => fmt(u / ceilingUps[i]!, 2)).join(' ');

    // A 100 000-item drive, fully enumerated through delta.
    const seed = await timed(() => emu.admin.generate({ under: 'many', folders: 100, filesPerFolder: Math.max(1, Math.round(items / 100) - 1), fileSize: 100 }));
    const expected = (await emu.admin.info()).files + (await emu.admin.info()).folders + 1;
    let pages = 0;
    const seen = new Set<string>();
    const enumerate = await timed(async () => {
      let url: string | undefined = `${api}/me/drive/root/delta?$top=1000`;
      while (url) {
        const r = await fetch(url, { headers: AUTH });
        const page = (await r.json()) as { value: Array<{ id: string }>; '@odata.nextLink'?: string };
        pages++;
        for (const v of page.value) seen.add(v.id);
        url = page['@odata.nextLink'];
      }
    });

    const rows: Row[] = [
      { what: 'loopback ceiling: bare node:http download', value: `${fmt(ceiling.down)} MiB/s`, note: `${fmt(size / GiB, 2)} GiB from memory` },
      { what: 'loopback ceiling: bare node:http upload', value: `${fmt(ceilingUp)} MiB/s`, note: `10 MiB requests; median of ${rounds}: ${ceilingUps.map((x) => fmt(x, 0)).join(' ')}` },
      { what: 'emulator download (302 + storage GET)', value: `${fmt(mbps(size, down.ms))} MiB/s`, note: `${fmt(mbps(size, down.ms) / ceiling.down, 2)}× ceiling` },
      { what: 'emulator download + client quickXorHash', value: `${fmt(mbps(size, verify.ms))} MiB/s`, note: hashOk ? 'hash matches' : 'HASH MISMATCH' },
      {
        what: 'emulator upload (session, 10 MiB fragments)',
        value: `${fmt(up)} MiB/s`,
        note: `${fmt(up / ceilingUp, 2)}× ceiling (medians; per round ${ratios}); median of ${rounds}: ${ups.map((x) => fmt(x, 0)).join(' ')}; quickXor+SHA-256 on the emulator's hash thread, drive in /dev/shm`,
      },
      {
        what: '  CPU per GiB uploaded: server (ceiling → emulator)',
        value: `${fmt(median(cpu.ceiling), 2)} → ${fmt(median(cpu.emulator), 2)} s`,
        note: `all threads; the sending client (undici's request) spends ${fmt(median(cpu.ceilingClient), 2)} / ${fmt(median(cpu.emulatorClient), 2)} s. Load-independent, unlike the MiB/s on a busy machine`,
      },
      {
        what: '    of it: main thread / hash thread / the rest',
        value: `${fmt(median(byThread.main), 2)} / ${fmt(median(byThread.hash), 2)} / ${fmt(median(byThread.rest), 2)} s`,
        note: `the rest: the thread pool writing the fragments into /dev/shm, and V8's helpers; per round ${byThread.rest.map((x) => fmt(x, 2)).join(' ')}`,
      },
      {
        what: 'this machine: 4 × 1 GiB written into /dev/shm (dd)',
        value: store.map((ms) => fmt(ms / 1000, 2)).join(' / ') + ' s',
        note: "one after another: a virtual machine keeps a few GiB of the memory freed lately and hands the rest back to its host, which must provide it anew when it is touched again, at several times the cost. Every row that stores new bytes (the emulator's upload, cp, a cold read's cache file) pays it, some runs more than others",
      },
      { what: `seed ${items} items`, value: `${fmt(seed.ms / 1000, 2)} s` },
      { what: 'full delta enumeration ($top=1000)', value: `${fmt(enumerate.ms / 1000, 2)} s`, note: `${pages} pages, ${seen.size} unique of ${expected} items ${seen.size === expected ? '(complete)' : '(INCOMPLETE)'}` },
    ];
    printTable('Emulator (issue 2): raw loopback throughput and delta enumeration', rows);
  });
}

/**
 * `npm run emulator`: serves a drive on 127.0.0.1 until Ctrl-C.
 *   --data-dir <dir>   keep the drive there (default: ~/.local/share/onemount/emulator)
 *   --mode personal|business [--refuse-hash-percent]
 *   --port / --storage-port / --admin-port
 *   --demo             seed the demo drive when the drive is empty (default on)
 *   --generate <json>  seed a generated tree, e.g. '{"folders":10,"filesPerFolder":100}'
 *   --strict-tokens    accept only bearer tokens the identity provider (or the admin) issued
 *   --public-api-url / --public-storage-url
 *                      where clients reach the listeners (e.g. https://graph.microsoft.com behind a
 *                      TLS-terminating proxy): requests with that Host get links on these bases
 *   --exit-with-parent stop when stdin reaches end-of-file (the spawning process is gone)
 *
 * One emulator per data folder: a second one on the same folder is refused (a lock file with the
 * owner's pid; a lock whose process is gone is taken over).
 */
import { Command } from 'commander';
import os from 'node:os';
import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { startEmulator } from './emulator.ts';
import { lockDataDir } from './data-dir-lock.ts';

const program = new Command()
  .name('onemount-emulator')
  .description('A local emulator of the Microsoft Graph OneDrive API (tests, benchmarks and the demo drive)')
  .option('--data-dir <dir>', 'where the drive lives', path.join(process.env.XDG_DATA_HOME ?? path.join(os.homedir(), '.local', 'share'), 'onemount', 'emulator'))
  .option('--mode <mode>', 'personal or business', 'personal')
  .option('--port <n>', 'API port (0 = any free port)', '0')
  .option('--storage-port <n>', 'storage port', '0')
  .option('--admin-port <n>', 'admin port', '0')
  .option('--no-demo', 'do not seed the demo drive')
  .option('--generate <json>', 'seed a generated tree (JSON GenerateSpec)')
  .option('--refuse-hash-percent', 'business mode: the tenant refuses # and % in names (OneDrive for Business accepts them by default)')
  .option('--simple-upload-limit <bytes>', 'simple PUT limit (4 MiB default; 250000000 for the current documented limit)')
  .option('--strict-tokens', 'accept only tokens issued by the built-in identity provider (sign-in tests)')
  .option('--public-api-url <origin>', 'public address of the API listener, for links in answers to requests sent there')
  .option('--public-storage-url <origin>', 'public address of the storage listener (with --public-api-url)')
  .option('--json', 'print the listening addresses as one JSON line (for scripts)')
  .option('--exit-with-parent', 'stop when stdin closes (the process that started the emulator is gone)')
  .parse();

const o = program.opts<{
  dataDir: string;
  mode: string;
  port: string;
  storagePort: string;
  adminPort: string;
  demo: boolean;
  generate?: string;
  simpleUploadLimit?: string;
  refuseHashPercent?: boolean;
  strictTokens?: boolean;
  publicApiUrl?: string;
  publicStorageUrl?: string;
  json?: boolean;
  exitWithParent?: boolean;
}>();

if (o.mode !== 'personal' && o.mode !== 'business') program.error(`--mode must be personal or business, not ${o.mode}`);
await mkdir(o.dataDir, { recursive: true });
const lock = await lockDataDir(o.dataDir).catch((e: unknown) => {
  process.stderr.write(`onemount-emulator: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
const emu = await startEmulator({
  dataDir: o.dataDir,
  mode: o.mode as 'personal' | 'business',
  apiPort: Number(o.port),
  storagePort: Number(o.storagePort),
  adminPort: Number(o.adminPort),
  simpleUploadLimit: o.simpleUploadLimit ? Number(o.simpleUploadLimit) : undefined,
  refuseHashAndPercent: o.refuseHashPercent === true,
  strictTokens: o.strictTokens === true,
  publicApiBase: o.publicApiUrl,
  publicStorageBase: o.publicStorageUrl,
});
const admin = emu.emulator.admin;
if (o.demo) await admin.seedDemo();
if (o.generate) await admin.generate(JSON.parse(o.generate));
const info = admin.info();
if (o.json) {
  process.stdout.write(JSON.stringify(info) + '\n');
} else {
  console.log(`OneDrive emulator (${info.mode}) serving ${info.files} files in ${info.folders} folders from ${info.dataDir}`);
  console.log(`  API      ${info.apiUrl}   (send any "Authorization: Bearer <token>")`);
  console.log(`  storage  ${info.storageUrl}`);
  console.log(`  admin    ${info.adminUrl}/info`);
  console.log(`  sign-in  ${emu.emulator.apiBase}/consumers/oauth2/v2.0/authorize (identity provider, authority https://login.test/consumers)`);
  console.log('Ctrl-C stops it; the drive stays in the data directory.');
}

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await emu.close();
  await lock.release();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
if (o.exitWithParent) {
  process.stdin.on('end', () => void stop());
  process.stdin.on('error', () => void stop());
  process.stdin.resume();
}

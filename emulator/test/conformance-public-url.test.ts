/**
 * The public base URL: behind a TLS-terminating proxy (how the benchmark lets rclone, which only
 * talks to https://graph.microsoft.com, reach the emulator) every link the emulator hands out must
 * point at the public address, not at its own listener; clients that talk to the listener directly
 * keep getting listener links from the same drive.
 */
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { BEARER, useEmulator, type EmulatorHandle } from './helpers.ts';

const PUBLIC_API = 'https://graph.example.test';
const PUBLIC_STORAGE = 'https://storage.example.test';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

/**
 * A request to a listener with a chosen Host header, as the proxy forwards it (fetch cannot set Host).
 * `url` may be a public link: its path and query are sent to `listener`.
 */
function send(listener: string, url: string, o: { host?: string; method?: string; body?: Buffer | string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const target = new URL(url, listener);
  const base = new URL(listener);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: base.hostname,
        port: base.port,
        method: o.method ?? 'GET',
        path: target.pathname + target.search,
        headers: { authorization: BEARER, ...(o.host ? { host: o.host } : {}), ...(o.body !== undefined ? { 'content-length': String(Buffer.byteLength(o.body)) } : {}), ...o.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: Record<string, unknown> = {};
          if (text && /json/.test(String(res.headers['content-type']))) body = JSON.parse(text) as Record<string, unknown>;
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

const apiOrigin = (h: EmulatorHandle) => new URL(h.apiUrl).origin;

/** Every link a client is handed, gathered from the answers a small session produces. */
type Links = Record<'childrenNextLink' | 'downloadUrl' | 'deltaNextLink' | 'deltaLink' | 'contentLocation' | 'uploadUrl' | 'monitor', string>;

async function linksSeen(h: EmulatorHandle, host: string | undefined): Promise<Links> {
  const api = apiOrigin(h);
  const out = {} as Links;
  const children = await send(api, '/v1.0/me/drive/root:/pub:/children?$top=2', { host });
  expect(children.status).toBe(200);
  out.childrenNextLink = String(children.body['@odata.nextLink']);
  out.downloadUrl = String((children.body.value as Array<Record<string, unknown>>)[0]!['@microsoft.graph.downloadUrl']);
  const deltaPage = await send(api, '/v1.0/me/drive/root/delta?$top=2', { host });
  out.deltaNextLink = String(deltaPage.body['@odata.nextLink']);
  const latest = await send(api, '/v1.0/me/drive/root/delta?token=latest', { host });
  out.deltaLink = String(latest.body['@odata.deltaLink']);
  const content = await send(api, '/v1.0/me/drive/root:/pub/file-00000.txt:/content', { host });
  expect(content.status).toBe(302);
  out.contentLocation = String(content.headers.location);
  const session = await send(api, `/v1.0/me/drive/root:/up-${host ?? 'direct'}.bin:/createUploadSession`, { host, method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
  expect(session.status).toBe(200);
  out.uploadUrl = String(session.body.uploadUrl);
  const copy = await send(api, '/v1.0/me/drive/root:/pub/file-00001.txt:/copy', {
    host,
    method: 'POST',
    body: JSON.stringify({ name: `copy-${host ?? 'direct'}.txt` }),
    headers: { 'content-type': 'application/json' },
  });
  expect(copy.status).toBe(202);
  out.monitor = String(copy.headers.location);
  return out;
}

describe('public base URL', () => {
  const emu = useEmulator({ publicApiBase: PUBLIC_API, publicStorageBase: PUBLIC_STORAGE, pageSize: 2 });

  it('puts the public bases into every link answered to a request for the public host', async () => {
    const h = emu();
    await h.emulator.admin.remote({ op: 'mkdir', path: '/pub' });
    for (let i = 0; i < 5; i++) await h.emulator.admin.remote({ op: 'write', path: `/pub/file-0000${i}.txt`, size: 10 });
    const links = await linksSeen(h, new URL(PUBLIC_API).host);
    expect(links.childrenNextLink.startsWith(`${PUBLIC_API}/v1.0/`), links.childrenNextLink).toBe(true);
    expect(links.deltaNextLink.startsWith(`${PUBLIC_API}/v1.0/`), links.deltaNextLink).toBe(true);
    expect(links.deltaLink.startsWith(`${PUBLIC_API}/v1.0/`), links.deltaLink).toBe(true);
    for (const k of ['downloadUrl', 'contentLocation', 'uploadUrl', 'monitor'] as const) expect(links[k].startsWith(`${PUBLIC_STORAGE}/`), `${k}: ${links[k]}`).toBe(true);

    // The links work once the proxy delivers them to the listeners (path and query kept).
    const storage = h.storageUrl;
    const storageHost = new URL(PUBLIC_STORAGE).host;
    const next = await send(apiOrigin(h), links.childrenNextLink, { host: new URL(PUBLIC_API).host });
    expect(next.status).toBe(200);
    expect(String(next.body['@odata.nextLink']).startsWith(PUBLIC_API)).toBe(true);
    const dl = await send(storage, links.downloadUrl, { host: storageHost, headers: { authorization: '' } });
    expect(dl.status).toBe(200);
    const put = await send(storage, links.uploadUrl, { host: storageHost, method: 'PUT', body: Buffer.alloc(7, 1), headers: { 'content-range': 'bytes 0-6/7' } });
    expect(put.status).toBe(201);
    expect(put.body['@microsoft.graph.downloadUrl']).toMatch(new RegExp(`^${PUBLIC_STORAGE}/dl/`));
  });

  it('keeps listener links for requests sent to the listener address', async () => {
    const h = emu();
    const links = await linksSeen(h, undefined);
    for (const k of ['childrenNextLink', 'deltaNextLink', 'deltaLink'] as const) expect(links[k].startsWith(`${apiOrigin(h)}/v1.0/`), `${k}: ${links[k]}`).toBe(true);
    for (const k of ['downloadUrl', 'contentLocation', 'uploadUrl', 'monitor'] as const) expect(links[k].startsWith(`${h.storageUrl}/`), `${k}: ${links[k]}`).toBe(true);
  });
});

describe('public base URL options', () => {
  it('refuses a public base with a path, and one base without the other', async () => {
    const { startEmulator } = await import('../src/emulator.ts');
    await expect(startEmulator({ publicApiBase: 'https://graph.example.test/v1.0', publicStorageBase: PUBLIC_STORAGE })).rejects.toThrow(/origin/);
    await expect(startEmulator({ publicApiBase: PUBLIC_API })).rejects.toThrow(/go together/);
  });
});

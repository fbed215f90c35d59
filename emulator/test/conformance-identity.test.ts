/**
 * The identity provider over raw HTTP, as MSAL speaks to it: discovery, authorize (consent page and
 * form_post answer), PKCE redemption, device code polling, refresh-token rotation, and the API's
 * view of issued, expired and revoked tokens in strict mode.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { EMULATOR_LOGIN_ORIGIN } from '../src/identity.ts';
import { playBrowser } from '../src/test-browser.ts';
import { useEmulator, type EmulatorHandle } from './helpers.ts';

const CLIENT = '11111111-2222-3333-4444-555555555555';
const SCOPE = 'Files.ReadWrite.All offline_access User.Read openid profile';

async function token(h: EmulatorHandle, tenant: string, form: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${h.emulator.apiBase}/${tenant}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: CLIENT, ...form }).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function driveStatus(h: EmulatorHandle, accessToken: string): Promise<{ status: number; body: { error?: { code: string; message: string } } }> {
  const res = await fetch(`${h.apiUrl}/me/drive`, { headers: { authorization: `Bearer ${accessToken}` } });
  return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
}

/** A stand-in for MSAL's loopback listener: records what the browser POSTs. */
async function loopback(): Promise<{ server: Server; url: string; received: Promise<URLSearchParams> }> {
  let deliver!: (form: URLSearchParams) => void;
  const received = new Promise<URLSearchParams>((resolve) => (deliver = resolve));
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      res.end('signed in');
      deliver(new URLSearchParams(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://localhost:${(server.address() as AddressInfo).port}`, received };
}

describe('identity provider', () => {
  const emu = useEmulator({ strictTokens: true });
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
    emu().emulator.identity.setKnobs({ failRefresh: false, autoApprove: false });
  });

  it('publishes discovery metadata under the https://login.test origin', async () => {
    const h = emu();
    const res = await fetch(`${h.emulator.apiBase}/consumers/v2.0/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    const meta = (await res.json()) as Record<string, string>;
    expect(meta.token_endpoint).toBe(`${EMULATOR_LOGIN_ORIGIN}/consumers/oauth2/v2.0/token`);
    expect(meta.authorization_endpoint).toBe(`${EMULATOR_LOGIN_ORIGIN}/consumers/oauth2/v2.0/authorize`);
    expect(meta.device_authorization_endpoint).toBe(`${EMULATOR_LOGIN_ORIGIN}/consumers/oauth2/v2.0/devicecode`);
    // Identity calls are logged apart from Graph calls.
    expect(h.emulator.log.list({ listener: 'identity' }).some((e) => e.path.includes('openid-configuration'))).toBe(true);
    expect(h.emulator.log.list({ listener: 'api' }).some((e) => e.path.includes('openid-configuration'))).toBe(false);
  });

  it('authorization code with PKCE: consent page → form_post to the loopback → code redeemed once, with the right verifier only', async () => {
    const h = emu();
    const lb = await loopback();
    servers.push(lb.server);
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const q = new URLSearchParams({
      client_id: CLIENT,
      scope: SCOPE,
      redirect_uri: lb.url,
      response_type: 'code',
      response_mode: 'form_post',
      state: 'state-123',
      nonce: 'nonce-456',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    const steps = await playBrowser(`${EMULATOR_LOGIN_ORIGIN}/consumers/oauth2/v2.0/authorize?${q}`, { identityOrigin: h.emulator.apiBase, choose: 'accept' });
    expect(steps[0]!.html).toContain('Accept');
    expect(steps[1]!.html).toContain('name="hiddenform"');
    const form = await lb.received;
    expect(form.get('state')).toBe('state-123');
    const code = form.get('code')!;
    expect(code).toBeTruthy();

    const wrong = await token(h, 'consumers', { grant_type: 'authorization_code', code, redirect_uri: lb.url, code_verifier: 'not-the-verifier', scope: SCOPE });
    expect(wrong.status).toBe(400);
    expect(wrong.body).toMatchObject({ error: 'invalid_grant', error_codes: [501481] });

    const ok = await token(h, 'consumers', { grant_type: 'authorization_code', code, redirect_uri: lb.url, code_verifier: verifier, scope: SCOPE });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
    expect(String(ok.body.access_token)).toMatch(/^EwB/);
    const idClaims = JSON.parse(Buffer.from(String(ok.body.id_token).split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(idClaims).toMatchObject({ nonce: 'nonce-456', aud: CLIENT, preferred_username: h.emulator.identity.user.username });
    expect((await driveStatus(h, String(ok.body.access_token))).status).toBe(200);

    const again = await token(h, 'consumers', { grant_type: 'authorization_code', code, redirect_uri: lb.url, code_verifier: verifier, scope: SCOPE });
    expect(again.body).toMatchObject({ error: 'invalid_grant', error_codes: [54005] });
  });

  it('a denied consent posts access_denied back to the app', async () => {
    const h = emu();
    const lb = await loopback();
    servers.push(lb.server);
    const q = new URLSearchParams({ client_id: CLIENT, scope: SCOPE, redirect_uri: lb.url, response_type: 'code', response_mode: 'form_post', state: 's', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' });
    await playBrowser(`${h.emulator.apiBase}/consumers/oauth2/v2.0/authorize?${q}`, { identityOrigin: h.emulator.apiBase, choose: 'deny' });
    const form = await lb.received;
    expect(form.get('error')).toBe('access_denied');
    expect(form.get('code')).toBeNull();
  });

  it('device code: authorization_pending until approved, then tokens once', async () => {
    const h = emu();
    const res = await fetch(`${h.emulator.apiBase}/organizations/oauth2/v2.0/devicecode`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: CLIENT, scope: SCOPE }).toString(),
    });
    const dc = (await res.json()) as Record<string, string | number>;
    expect(dc).toMatchObject({ interval: 1, verification_uri: `${EMULATOR_LOGIN_ORIGIN}/organizations/oauth2/v2.0/deviceauth` });
    const poll = () => token(h, 'organizations', { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: String(dc.device_code) });
    expect((await poll()).body).toMatchObject({ error: 'authorization_pending', error_codes: [70016] });

    // The user types the code on the verification page.
    const steps = await playBrowser(String(dc.verification_uri), { identityOrigin: h.emulator.apiBase, fill: { user_code: String(dc.user_code) } });
    expect(steps.at(-1)!.html).toContain('You have signed in');
    const ok = await poll();
    expect(ok.status).toBe(200);
    expect(ok.body.refresh_token).toBeTruthy();
    expect((await poll()).body).toMatchObject({ error: 'invalid_grant' });
  });

  it('refresh tokens rotate; a spent or failing refresh answers invalid_grant; expired and revoked access tokens get the real 401', async () => {
    const h = emu();
    const idp = h.emulator.identity;
    idp.setKnobs({ autoApprove: true });
    // Device flow is the shortest way to a first pair of tokens.
    const dc = (await (
      await fetch(`${h.emulator.apiBase}/consumers/oauth2/v2.0/devicecode`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `client_id=${CLIENT}&scope=${encodeURIComponent(SCOPE)}` })
    ).json()) as Record<string, string>;
    idp.approveDevice(dc.user_code);
    const first = (await token(h, 'consumers', { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: dc.device_code! })).body;

    const second = await token(h, 'consumers', { grant_type: 'refresh_token', refresh_token: String(first.refresh_token), scope: SCOPE });
    expect(second.status).toBe(200);
    expect(second.body.refresh_token).not.toBe(first.refresh_token);
    const spent = await token(h, 'consumers', { grant_type: 'refresh_token', refresh_token: String(first.refresh_token), scope: SCOPE });
    expect(spent.body).toMatchObject({ error: 'invalid_grant', error_codes: [50173] });

    idp.setKnobs({ failRefresh: true });
    const failing = await token(h, 'consumers', { grant_type: 'refresh_token', refresh_token: String(second.body.refresh_token), scope: SCOPE });
    expect(failing.body).toMatchObject({ error: 'invalid_grant', suberror: 'bad_token' });

    const access = String(second.body.access_token);
    expect((await driveStatus(h, access)).status).toBe(200);
    idp.expireAccessTokens();
    const expired = await driveStatus(h, access);
    expect(expired.status).toBe(401);
    expect(expired.body.error).toMatchObject({ code: 'InvalidAuthenticationToken', message: 'Access token has expired or is not yet valid.' });
    idp.revokeAll();
    expect((await driveStatus(h, access)).body.error?.code).toBe('InvalidAuthenticationToken');
  });
});

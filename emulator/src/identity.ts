/**
 * The emulator's identity provider: just enough of the Microsoft identity platform (v2.0 endpoints)
 * for MSAL's public-client flows, served on the API listener below `/<tenant>/…`:
 *
 *   GET  /<tenant>/v2.0/.well-known/openid-configuration   discovery metadata
 *   GET  /common/discovery/instance                         cloud discovery (aliases)
 *   GET  /<tenant>/oauth2/v2.0/authorize                    consent page, or straight to form_post
 *   POST /<tenant>/oauth2/v2.0/authorize                    the consent page's accept/deny
 *   POST /<tenant>/oauth2/v2.0/devicecode                   device code grant, step 1
 *   GET  /<tenant>/oauth2/v2.0/deviceauth                   the page where a user types the code
 *   POST /<tenant>/oauth2/v2.0/deviceauth                   … and approves it
 *   POST /<tenant>/oauth2/v2.0/token                        authorization_code (PKCE), device_code, refresh_token
 *
 * Endpoints are published under the public origin `https://login.test` (MSAL refuses http://
 * authorities); a client maps that origin onto the API listener (see src-main/auth/authority.ts).
 * Issued access tokens go into the emulator's token table with their expiry, so the API accepts
 * them in strict mode and rejects expired or revoked ones with Graph's real 401.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { sendJson, type Ctx } from './http-util.ts';
import type { DriveMode } from './ids.ts';

/** The origin the identity provider's metadata names; clients reach it on the API listener. */
export const EMULATOR_LOGIN_ORIGIN = 'https://login.test';

export interface IdentityUser {
  username: string;
  name: string;
  /** Object id (the user) and tenant id. */
  oid: string;
  tid: string;
}

export interface IdentityKnobs {
  /** Access token lifetime; default 3600 s. */
  accessTokenTtlSec: number;
  /** Refresh token lifetime (unused), default 90 days. */
  refreshTokenTtlSec: number;
  /** Skip the consent page: the authorize URL answers with the form_post page at once. */
  autoApprove: boolean;
  /** Every refresh_token grant fails with invalid_grant / bad_token (interaction required). */
  failRefresh: boolean;
  /** Device code polling interval MSAL is told to use (seconds; fractions allowed for tests). */
  deviceIntervalSec: number;
  deviceExpiresInSec: number;
}

interface AuthorizeRequest {
  clientId: string;
  redirectUri: string;
  scope: string;
  state: string;
  nonce: string | undefined;
  challenge: string;
  expiresAt: number;
}

interface AuthCode extends AuthorizeRequest {
  user: IdentityUser;
  redeemed: boolean;
}

interface DeviceCode {
  clientId: string;
  scope: string;
  userCode: string;
  expiresAt: number;
  status: 'pending' | 'approved' | 'declined' | 'redeemed';
  user: IdentityUser;
}

interface RefreshGrant {
  clientId: string;
  scope: string;
  user: IdentityUser;
  expiresAt: number;
}

/** Where the identity provider keeps its access tokens: the emulator's strict-mode token table. */
export interface AccessTokenTable {
  set(token: string, entry: { expiresAt: number; account?: string }): unknown;
  delete(token: string): unknown;
  entries(): IterableIterator<[string, { expiresAt: number; account?: string }]>;
}

/** An OAuth error answer, in the identity platform's JSON shape. */
class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly aadsts: number,
    readonly description: string,
    readonly suberror?: string,
  ) {
    super(`${error}: AADSTS${aadsts}: ${description}`);
  }
}

const CODE_TTL_MS = 10 * 60 * 1000;
const FORM_LIMIT = 64 * 1024;

export class IdentityProvider {
  readonly knobs: IdentityKnobs = {
    accessTokenTtlSec: 3600,
    refreshTokenTtlSec: 90 * 24 * 3600,
    autoApprove: false,
    failRefresh: false,
    deviceIntervalSec: 1,
    deviceExpiresInSec: 900,
  };
  user: IdentityUser;
  private readonly pendingAuthorizations = new Map<string, AuthorizeRequest>();
  private readonly codes = new Map<string, AuthCode>();
  private readonly deviceCodes = new Map<string, DeviceCode>();
  private readonly refreshTokens = new Map<string, RefreshGrant>();
  /** Every access and refresh token ever issued (tests grep logs for them). */
  private readonly everIssued: string[] = [];
  /** Counts of token grants answered with tokens, by grant type. */
  readonly grants = { authorization_code: 0, device_code: 0, refresh_token: 0 };

  constructor(
    private readonly mode: DriveMode,
    private readonly accessTokens: AccessTokenTable,
    private readonly now: () => number,
  ) {
    const tid = mode === 'personal' ? '9188040d-6c67-4c5b-b112-36a304b66dad' : randomUUID();
    this.user = { username: mode === 'personal' ? 'someone@outlook.test' : 'someone@contoso.test', name: 'Emulated User', oid: randomUUID(), tid };
  }

  // ---- admin knobs -------------------------------------------------------------------------

  setKnobs(k: Partial<IdentityKnobs>): IdentityKnobs {
    for (const [key, value] of Object.entries(k) as Array<[keyof IdentityKnobs, unknown]>) {
      if (!(key in this.knobs)) throw new Error(`unknown identity knob ${key}`);
      if (typeof value !== typeof this.knobs[key]) throw new Error(`identity knob ${key} must be a ${typeof this.knobs[key]}`);
      (this.knobs as unknown as Record<string, unknown>)[key] = value;
    }
    return { ...this.knobs };
  }

  /** Approves a pending device code ("the user typed it and signed in"); the newest one when no code is given. */
  approveDevice(userCode?: string, decision: 'approved' | 'declined' = 'approved'): string {
    const pending = [...this.deviceCodes.values()].filter((d) => d.status === 'pending' && d.expiresAt > this.now());
    const target = userCode === undefined ? pending.at(-1) : pending.find((d) => d.userCode === userCode.toUpperCase());
    if (!target) throw new Error(userCode === undefined ? 'no device code is waiting' : `no device code ${userCode} is waiting`);
    target.status = decision;
    target.user = this.user;
    return target.userCode;
  }

  /** Device codes still waiting for the user. */
  pendingDeviceCodes(): string[] {
    return [...this.deviceCodes.values()].filter((d) => d.status === 'pending' && d.expiresAt > this.now()).map((d) => d.userCode);
  }

  /** Every access token issued so far stops working (as if an hour had passed); refresh tokens still work. */
  expireAccessTokens(): number {
    let n = 0;
    for (const [token, entry] of this.accessTokens.entries()) {
      if (entry.expiresAt > this.now()) n++;
      this.accessTokens.set(token, { ...entry, expiresAt: this.now() - 1 });
    }
    return n;
  }

  /** Revokes every access and refresh token (a password change, "sign out everywhere"). */
  revokeAll(): void {
    for (const [token] of [...this.accessTokens.entries()]) this.accessTokens.delete(token);
    this.refreshTokens.clear();
  }

  /** Every token string issued so far, access and refresh. */
  issuedTokens(): string[] {
    return [...this.everIssued];
  }

  // ---- HTTP --------------------------------------------------------------------------------

  /** True when the path belongs to the identity provider rather than Graph. */
  static handles(pathname: string): boolean {
    return /^\/[^/]+\/(oauth2\/v2\.0\/|v2\.0\/\.well-known\/openid-configuration$|discovery\/instance$)/.test(pathname);
  }

  async handle(ctx: Ctx): Promise<void> {
    const method = ctx.req.method ?? 'GET';
    const m = /^\/([^/]+)\/(.*)$/.exec(ctx.url.pathname);
    const tenant = m?.[1] ?? 'common';
    const route = `${method} ${m?.[2] ?? ''}`;
    try {
      switch (route) {
        case 'GET v2.0/.well-known/openid-configuration':
          return sendJson(ctx, 200, this.openIdConfiguration(tenant));
        case 'GET discovery/instance':
          return sendJson(ctx, 200, cloudDiscovery(tenant));
        case 'GET oauth2/v2.0/authorize':
          return this.authorize(ctx, tenant);
        case 'POST oauth2/v2.0/authorize':
          return this.consent(ctx, await readForm(ctx.req));
        case 'POST oauth2/v2.0/devicecode':
          return this.deviceCode(ctx, tenant, await readForm(ctx.req));
        case 'GET oauth2/v2.0/deviceauth':
          return sendHtml(ctx, 200, page('Enter code', deviceForm(tenant, '')));
        case 'POST oauth2/v2.0/deviceauth':
          return this.deviceAuth(ctx, tenant, await readForm(ctx.req));
        case 'POST oauth2/v2.0/token':
          return this.token(ctx, await readForm(ctx.req));
        default:
          throw new OAuthError(404, 'invalid_request', 90010, `The endpoint ${method} /${tenant}/${m?.[2] ?? ''} does not exist.`);
      }
    } catch (e) {
      if (!(e instanceof OAuthError)) throw e;
      sendJson(ctx, e.status, {
        error: e.error,
        error_description: `AADSTS${e.aadsts}: ${e.description} Trace ID: ${ctx.requestId} Correlation ID: ${randomUUID()} Timestamp: ${new Date(this.now()).toISOString()}`,
        error_codes: [e.aadsts],
        timestamp: new Date(this.now()).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
        trace_id: ctx.requestId,
        correlation_id: randomUUID(),
        ...(e.suberror ? { suberror: e.suberror } : {}),
      });
    }
  }

  private openIdConfiguration(tenant: string): Record<string, unknown> {
    const base = `${EMULATOR_LOGIN_ORIGIN}/${tenant}`;
    const issuerTenant = tenant === 'consumers' || tenant === 'common' || tenant === 'organizations' ? '{tenantid}' : tenant;
    return {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${base}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${EMULATOR_LOGIN_ORIGIN}/${issuerTenant}/v2.0`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: 'https://graph.microsoft.com/oidc/userinfo',
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'preferred_username', 'name', 'tid', 'ver', 'oid'],
      kerberos_endpoint: `${base}/kerberos`,
      tenant_region_scope: null,
      cloud_instance_name: 'login.test',
      cloud_graph_host_name: 'graph.test',
      msgraph_host: 'graph.test',
      rbac_url: 'https://pas.test',
    };
  }

  private authorize(ctx: Ctx, tenant: string): void {
    const q = ctx.url.searchParams;
    const redirectUri = q.get('redirect_uri') ?? '';
    // A bad redirect is shown, never followed: that is how the real service answers too.
    if (!isLoopback(redirectUri)) {
      return sendHtml(ctx, 400, page('Sign in error', `<p>AADSTS50011: The redirect URI '${esc(redirectUri)}' is not a loopback address registered for this public client.</p>`));
    }
    const request: AuthorizeRequest = {
      clientId: q.get('client_id') ?? '',
      redirectUri,
      scope: q.get('scope') ?? '',
      state: q.get('state') ?? '',
      nonce: q.get('nonce') ?? undefined,
      challenge: q.get('code_challenge') ?? '',
      expiresAt: this.now() + CODE_TTL_MS,
    };
    const problem =
      !request.clientId ? 'AADSTS900144: The request body must contain the following parameter: client_id.'
      : q.get('response_type') !== 'code' ? 'AADSTS700054: response_type must be code.'
      : q.get('response_mode') !== 'form_post' ? 'AADSTS900148: this emulator answers loopback redirects with response_mode=form_post only.'
      : !request.challenge || q.get('code_challenge_method') !== 'S256' ? 'AADSTS9002325: Proof Key for Code Exchange is required for cross-origin authorization code redemption.'
      : undefined;
    if (problem) return sendHtml(ctx, 200, formPost(redirectUri, { error: 'invalid_request', error_description: problem, state: request.state }));
    if (this.knobs.autoApprove) return this.issueCode(ctx, request);
    const id = randomToken(16);
    this.pendingAuthorizations.set(id, request);
    const action = `/${encodeURIComponent(tenant)}/oauth2/v2.0/authorize`;
    return sendHtml(
      ctx,
      200,
      page(
        'Sign in',
        `<p>Sign in to the OneMount emulator as <b>${esc(this.user.username)}</b> and let this app read and write your files?</p>` +
          `<form id="accept" method="post" action="${action}"><input type="hidden" name="request" value="${id}"/><input type="hidden" name="decision" value="accept"/><button type="submit">Accept</button></form>` +
          `<form id="deny" method="post" action="${action}"><input type="hidden" name="request" value="${id}"/><input type="hidden" name="decision" value="deny"/><button type="submit">Cancel</button></form>`,
      ),
    );
  }

  private consent(ctx: Ctx, form: URLSearchParams): void {
    const id = form.get('request') ?? '';
    const request = this.pendingAuthorizations.get(id);
    this.pendingAuthorizations.delete(id);
    if (!request || request.expiresAt <= this.now()) {
      return sendHtml(ctx, 400, page('Sign in error', '<p>AADSTS50058: This sign-in request is no longer valid. Start again from the app.</p>'));
    }
    if (form.get('decision') !== 'accept') {
      return sendHtml(ctx, 200, formPost(request.redirectUri, { error: 'access_denied', error_description: 'AADSTS65004: User declined to consent to access the app.', state: request.state }));
    }
    this.issueCode(ctx, request);
  }

  private issueCode(ctx: Ctx, request: AuthorizeRequest): void {
    const code = `M.C5${randomToken(2)}_BAY.2.U.${randomToken(48)}`;
    this.codes.set(code, { ...request, user: this.user, redeemed: false });
    sendHtml(ctx, 200, formPost(request.redirectUri, { code, state: request.state, client_info: clientInfo(this.user) }));
  }

  private deviceCode(ctx: Ctx, tenant: string, form: URLSearchParams): void {
    const clientId = form.get('client_id');
    if (!clientId) throw new OAuthError(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'client_id'.");
    const deviceCode = randomToken(48);
    const userCode = randomBytes(6).toString('hex').slice(0, 9).toUpperCase().replace(/[^A-Z0-9]/g, 'X');
    this.deviceCodes.set(deviceCode, {
      clientId,
      scope: form.get('scope') ?? '',
      userCode,
      expiresAt: this.now() + this.knobs.deviceExpiresInSec * 1000,
      status: 'pending',
      user: this.user,
    });
    const verificationUri = `${EMULATOR_LOGIN_ORIGIN}/${tenant}/oauth2/v2.0/deviceauth`;
    sendJson(ctx, 200, {
      user_code: userCode,
      device_code: deviceCode,
      verification_uri: verificationUri,
      expires_in: this.knobs.deviceExpiresInSec,
      interval: this.knobs.deviceIntervalSec,
      message: `To sign in, use a web browser to open the page ${verificationUri} and enter the code ${userCode} to authenticate.`,
    });
  }

  private deviceAuth(ctx: Ctx, tenant: string, form: URLSearchParams): void {
    const code = (form.get('user_code') ?? '').trim();
    try {
      this.approveDevice(code);
    } catch {
      return sendHtml(ctx, 400, page('Enter code', `<p>That code is not valid or has expired.</p>${deviceForm(tenant, code)}`));
    }
    sendHtml(ctx, 200, page('Signed in', `<p>You have signed in to the OneMount application on your device as ${esc(this.user.username)}. You may now close this window.</p>`));
  }

  private token(ctx: Ctx, form: URLSearchParams): void {
    const grant = form.get('grant_type');
    const clientId = form.get('client_id') ?? '';
    if (!clientId) throw new OAuthError(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'client_id'.");
    if (grant === 'authorization_code') {
      const code = this.codes.get(form.get('code') ?? '');
      if (!code || code.expiresAt <= this.now()) throw new OAuthError(400, 'invalid_grant', 70000, 'The provided value for the \'code\' parameter is not valid. The code has expired.', 'bad_token');
      if (code.redeemed) throw new OAuthError(400, 'invalid_grant', 54005, 'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.');
      if (code.clientId !== clientId) throw new OAuthError(400, 'invalid_grant', 70000, 'The code was issued to another client.');
      if (code.redirectUri !== form.get('redirect_uri')) throw new OAuthError(400, 'invalid_grant', 50011, 'The redirect URI does not match the one the code was issued for.');
      const verifier = form.get('code_verifier') ?? '';
      if (createHash('sha256').update(verifier).digest('base64url') !== code.challenge) {
        throw new OAuthError(400, 'invalid_grant', 501481, 'The Code_Verifier does not match the code_challenge supplied in the authorization request.');
      }
      code.redeemed = true;
      this.grants.authorization_code++;
      return sendJson(ctx, 200, this.issueTokens(clientId, code.scope, code.user, code.nonce));
    }
    if (grant === 'urn:ietf:params:oauth:grant-type:device_code' || grant === 'device_code') {
      const device = this.deviceCodes.get(form.get('device_code') ?? '');
      if (!device || device.clientId !== clientId) throw new OAuthError(400, 'invalid_grant', 70000, 'The provided device code is not valid.');
      if (device.expiresAt <= this.now()) throw new OAuthError(400, 'expired_token', 70019, 'Verification code expired.');
      if (device.status === 'pending') throw new OAuthError(400, 'authorization_pending', 70016, 'OAuth 2.0 device flow error. Authorization is pending. Continue polling.');
      if (device.status === 'declined') throw new OAuthError(400, 'authorization_declined', 70018, 'The user declined the authorization request.');
      if (device.status === 'redeemed') throw new OAuthError(400, 'invalid_grant', 54005, 'The device code was already redeemed.');
      device.status = 'redeemed';
      this.grants.device_code++;
      return sendJson(ctx, 200, this.issueTokens(clientId, device.scope, device.user, undefined));
    }
    if (grant === 'refresh_token') {
      const presented = form.get('refresh_token') ?? '';
      if (this.knobs.failRefresh) {
        throw new OAuthError(400, 'invalid_grant', 700082, 'The refresh token has expired due to inactivity. The token was issued on a date long ago and was inactive for 90.00:00:00.', 'bad_token');
      }
      const held = this.refreshTokens.get(presented);
      if (!held) throw new OAuthError(400, 'invalid_grant', 50173, 'The provided grant has expired due to it being revoked, a fresh auth token is needed.');
      if (held.expiresAt <= this.now()) throw new OAuthError(400, 'invalid_grant', 700082, 'The refresh token has expired due to inactivity.', 'bad_token');
      if (held.clientId !== clientId) throw new OAuthError(400, 'invalid_grant', 70000, 'The refresh token was issued to another client.');
      // Rotation: the presented refresh token is spent; the answer carries its successor.
      this.refreshTokens.delete(presented);
      this.grants.refresh_token++;
      return sendJson(ctx, 200, this.issueTokens(clientId, form.get('scope') ?? held.scope, held.user, undefined));
    }
    throw new OAuthError(400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grant ?? ''}'.`);
  }

  private issueTokens(clientId: string, scope: string, user: IdentityUser, nonce: string | undefined): Record<string, unknown> {
    const now = this.now();
    const ttl = this.knobs.accessTokenTtlSec;
    const access = this.mode === 'personal' ? `EwB${randomToken(96)}` : jwt({ aud: '00000003-0000-0000-c000-000000000000', tid: user.tid, oid: user.oid, scp: scope, jti: randomToken(12), exp: Math.floor(now / 1000) + ttl });
    this.accessTokens.set(access, { expiresAt: now + ttl * 1000, account: user.username });
    this.everIssued.push(access);
    const answer: Record<string, unknown> = {
      token_type: 'Bearer',
      scope: grantedScopes(scope),
      expires_in: ttl,
      ext_expires_in: ttl,
      access_token: access,
    };
    if (/\boffline_access\b/.test(scope)) {
      const refresh = `M.C5${randomToken(2)}_BL2.0.U.-${randomToken(96)}`;
      this.refreshTokens.set(refresh, { clientId, scope, user, expiresAt: now + this.knobs.refreshTokenTtlSec * 1000 });
      this.everIssued.push(refresh);
      answer.refresh_token = refresh;
    }
    if (/\bopenid\b/.test(scope)) {
      answer.id_token = jwt({
        ver: '2.0',
        iss: `${EMULATOR_LOGIN_ORIGIN}/${user.tid}/v2.0`,
        sub: createHash('sha256').update(user.oid + clientId).digest('base64url').slice(0, 43),
        aud: clientId,
        exp: Math.floor(now / 1000) + 3600,
        iat: Math.floor(now / 1000),
        nbf: Math.floor(now / 1000),
        name: user.name,
        preferred_username: user.username,
        oid: user.oid,
        tid: user.tid,
        ...(nonce ? { nonce } : {}),
        aio: randomToken(24),
      });
      answer.client_info = clientInfo(user);
    }
    return answer;
  }
}

/** Cloud discovery: the emulator's single cloud, known by one name. */
function cloudDiscovery(tenant: string): Record<string, unknown> {
  const host = new URL(EMULATOR_LOGIN_ORIGIN).host;
  return {
    tenant_discovery_endpoint: `${EMULATOR_LOGIN_ORIGIN}/${tenant}/v2.0/.well-known/openid-configuration`,
    'api-version': '1.1',
    metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
  };
}

function grantedScopes(requested: string): string {
  const scopes = requested.split(/\s+/).filter(Boolean);
  return [...new Set(scopes)].join(' ');
}

function clientInfo(user: IdentityUser): string {
  return Buffer.from(JSON.stringify({ uid: user.oid, utid: user.tid })).toString('base64url');
}

/** A JWT-shaped token; the emulator's signature is random bytes (clients must never check it or decode access tokens). */
function jwt(claims: Record<string, unknown>): string {
  const header = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'RS256', kid: 'emulator' })).toString('base64url');
  return `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${randomBytes(64).toString('base64url')}`;
}

function randomToken(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

function isLoopback(uri: string): boolean {
  try {
    const u = new URL(uri);
    return u.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname);
  } catch {
    return false;
  }
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > FORM_LIMIT) throw new OAuthError(413, 'invalid_request', 90015, 'The request body is too large.');
    chunks.push(c as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head><body><h1>${esc(title)}</h1>${body}</body></html>`;
}

function deviceForm(tenant: string, code: string): string {
  return `<form id="device" method="post" action="/${encodeURIComponent(tenant)}/oauth2/v2.0/deviceauth"><label>Code <input type="text" name="user_code" value="${esc(code)}"/></label><button type="submit">Next</button></form>`;
}

/** The identity platform's form_post answer: the browser POSTs the fields to the app's redirect URI. */
function formPost(action: string, fields: Record<string, string>): string {
  const inputs = Object.entries(fields)
    .map(([name, value]) => `<input type="hidden" name="${esc(name)}" value="${esc(value)}"/>`)
    .join('');
  return (
    `<html><head><title>Working...</title></head><body><form method="POST" name="hiddenform" action="${esc(action)}">${inputs}` +
    '<noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit"/></noscript></form>' +
    '<script language="javascript">window.setTimeout(function(){document.forms[0].submit();},0);</script></body></html>'
  );
}

function sendHtml(ctx: Ctx, status: number, html: string): void {
  ctx.res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html), 'cache-control': 'no-store' });
  ctx.res.end(html);
}

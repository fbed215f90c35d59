import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { REDACTED, redactSecrets, redactUrl } from './redact.ts';

const JWT = 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJodHRwczovL2dyYXBoIn0.c2lnbmF0dXJlLXBhcnQ';
const MSA = 'EwBwA8l6BAAUkj1234567890abcdefghijklmnopqrstuvwxyzABCDEFGH+/==';
const MSA_REFRESH = 'M.C105_BAY.0.U.-Cs7vZ!abcdefghijklmnopqrstuvwxyz0123456789*ABCDEFGH$$';

describe('redactSecrets', () => {
  it.each([
    ['Authorization: Bearer opaque-access-1', 'opaque-access-1', 'Authorization: Bearer [REDACTED]'],
    ['authorization: bearer abc', 'abc', 'authorization: bearer [REDACTED]'],
    ['Authorization: Basic dXNlcjpwYXNzd29yZA==', 'dXNlcjpwYXNzd29yZA', 'Authorization: Basic [REDACTED]'],
    ['GET https://h/dl?tempauth=s3cr3t&x=1', 's3cr3t', 'GET https://h/dl?tempauth=[REDACTED]&x=1'],
    ['POST /token body grant_type=refresh_token&refresh_token=rt-9&client_id=c', 'rt-9', undefined],
    ['https://h/cb?code=0.AXoA-auth&state=st', '0.AXoA-auth', 'https://h/cb?code=[REDACTED]&state=st'],
    ['redeem code_verifier=pkce-verifier-123', 'pkce-verifier-123', undefined],
    ['{"access_token":"at-1","expires_in":3599}', 'at-1', '{"access_token":"[REDACTED]","expires_in":3599}'],
    ['{"refresh_token" : "rt-2"}', 'rt-2', undefined],
    ['{"msg":"{\\"id_token\\":\\"idt-3\\"}"}', 'idt-3', undefined],
    [`token ${JWT} seen`, JWT, `token ${REDACTED} seen`],
    [`msa ${MSA}`, 'EwBwA8l6BAAUkj', undefined],
    [`rt ${MSA_REFRESH}`, '-Cs7vZ', undefined],
    ['https://g/delta?token=opaque-3', 'opaque-3', 'https://g/delta?token=[REDACTED]'],
    ['password: hunter2', 'hunter2', 'password: [REDACTED]'],
  ])('masks %s', (input, secret, expected) => {
    const out = redactSecrets(input);
    expect(out).not.toContain(secret);
    expect(out).toContain(REDACTED);
    if (expected !== undefined) expect(out).toBe(expected);
  });

  it.each([
    'WWW-Authenticate: Bearer realm="", authorization_uri="https://login.microsoftonline.com/common"',
    '{"code":"TIMEOUT","message":"request timed out"}',
    'next page $skiptoken=abc error_code=5',
    'Basic mode is on',
    'item 01ABCDEF renamed to report.docx',
  ])('leaves ordinary text alone: %s', (input) => {
    expect(redactSecrets(input)).toBe(input);
  });

  it('is idempotent', () => {
    const samples = fc.constantFrom(
      'Bearer abc',
      '?tempauth=x&y=1',
      '"access_token":"v"',
      JWT,
      MSA,
      'plain',
      ' ',
      '&token=t',
      '\\"refresh_token\\":\\"r\\"',
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(samples, fc.string()), { maxLength: 8 }), (parts) => {
        const once = redactSecrets(parts.join(''));
        expect(redactSecrets(once)).toBe(once);
      }),
    );
  });

  it('never lets a token placed in any of the known contexts through', () => {
    const token = fc.stringMatching(/^[A-Za-z0-9._~-]{6,40}$/);
    const context = fc.constantFrom(
      (t: string) => `Authorization: Bearer ${t}`,
      (t: string) => `https://x/y?a=1&access_token=${t}&b=2`,
      (t: string) => `{"refresh_token":"${t}"}`,
      (t: string) => JSON.stringify({ body: JSON.stringify({ access_token: t }) }),
      (t: string) => `https://x.sharepoint.com/dl?tempauth=${t}`,
    );
    fc.assert(
      fc.property(token, context, fc.string(), (t, wrap, noise) => {
        const out = redactSecrets(`${noise} ${wrap(t)} ${noise}`);
        expect(out.includes(wrap(t))).toBe(false);
        expect(out).toContain(REDACTED);
      }),
    );
  });
});

describe('redactUrl', () => {
  it('keeps origin and path and masks every query value', () => {
    expect(redactUrl('https://h.example/dl/file?tempauth=abc&x=1#frag')).toBe(
      'https://h.example/dl/file?tempauth=[REDACTED]&x=[REDACTED]',
    );
    expect(redactUrl('https://h.example/a')).toBe('https://h.example/a');
  });

  it('falls back to text redaction for unparsable input', () => {
    expect(redactUrl('not a url access_token=zzz')).toBe('not a url access_token=[REDACTED]');
  });
});

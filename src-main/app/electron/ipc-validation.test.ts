import { describe, expect, it } from 'vitest';
import { MAX_REQUEST_CHARS, checkSender, validateHello, validateRequest, type SenderInfo, type TrustedSenders } from './ipc-validation.ts';

const trusted: TrustedSenders = { webContentsIds: new Set([3]), rendererDirUrl: 'file:///opt/OneMount/resources/app/dist/renderer/' };
const panel = (frameUrl: string | undefined, o: Partial<SenderInfo> = {}): SenderInfo => ({ webContentsId: 3, frameUrl, isMainFrame: true, ...o });

describe('checkSender', () => {
  it("accepts the panel's main frame at the app's origin or inside the built renderer", () => {
    expect(checkSender(panel('app://onemount/index.html'), trusted)).toBeUndefined();
    expect(checkSender(panel('app://onemount/index.html#settings'), trusted)).toBeUndefined();
    expect(checkSender(panel('file:///opt/OneMount/resources/app/dist/renderer/index.html'), trusted)).toBeUndefined();
  });

  it('refuses other webContents (the sign-in window), sub-frames and vanished frames', () => {
    expect(checkSender(panel('app://onemount/index.html', { webContentsId: 4 }), trusted)).toMatchObject({ code: 'FORBIDDEN_SENDER', message: /webContents 4/ });
    expect(checkSender(panel('app://onemount/index.html', { isMainFrame: false }), trusted)).toMatchObject({ message: /sub-frame/ });
    expect(checkSender(panel(undefined), trusted)).toMatchObject({ message: /gone/ });
  });

  it('refuses the panel webContents once it navigated elsewhere', () => {
    for (const url of [
      'https://login.microsoftonline.com/common/oauth2/v2.0/authorize',
      'http://127.0.0.1:8080/',
      'app://evil/index.html',
      'file:///etc/passwd',
      'file:///opt/OneMount/resources/app/dist/renderer/../../../../../../tmp/x.html',
      'file:///opt/OneMount/resources/app/dist/renderer-evil/index.html',
      'data:text/html,<script>1</script>',
      'not a url',
    ]) {
      expect(checkSender(panel(url), trusted), url).toMatchObject({ code: 'FORBIDDEN_SENDER' });
    }
  });

  it('trusts no file:// page when no renderer folder is configured', () => {
    expect(checkSender(panel('file:///opt/OneMount/resources/app/dist/renderer/index.html'), { webContentsIds: new Set([3]) })).toMatchObject({ code: 'FORBIDDEN_SENDER' });
  });
});

describe('validateRequest', () => {
  it('passes contract requests with parsed params', () => {
    expect(validateRequest(JSON.stringify({ id: 1, method: 'status', params: {} }))).toEqual({ ok: true, request: { id: 1, method: 'status', params: {} } });
    expect(validateRequest(JSON.stringify({ id: 2, method: 'pause', params: { durationMs: 7_200_000 } }))).toMatchObject({ ok: true, request: { method: 'pause', params: { durationMs: 7_200_000 } } });
    expect(validateRequest(JSON.stringify({ id: 3, method: 'syncNow' }))).toMatchObject({ ok: true, request: { params: {} } });
    expect(validateRequest(JSON.stringify({ id: 4, method: 'resolveConflict', params: { id: 9, choice: 'keep-both' } }))).toMatchObject({ ok: true });
  });

  it('refuses what is not a request, naming the id when there is one', () => {
    expect(validateRequest({ id: 1, method: 'status' })).toMatchObject({ ok: false, refusal: { code: 'BAD_REQUEST' } });
    expect(validateRequest('{')).toMatchObject({ ok: false, refusal: { code: 'BAD_REQUEST' } });
    expect(validateRequest(JSON.stringify({ method: 'status' }))).toMatchObject({ ok: false, refusal: { code: 'BAD_REQUEST' } });
    expect(validateRequest(' '.repeat(MAX_REQUEST_CHARS + 1))).toMatchObject({ ok: false, refusal: { code: 'TOO_LARGE' } });
    expect(validateRequest(JSON.stringify({ id: 5, method: 'runShell', params: {} }))).toEqual({ ok: false, refusal: { code: 'UNKNOWN_METHOD', message: 'unknown method runShell', id: 5 } });
    expect(validateRequest(JSON.stringify({ id: 6, method: 'constructor', params: {} }))).toMatchObject({ ok: false, refusal: { code: 'UNKNOWN_METHOD', id: 6 } });
    expect(validateRequest(JSON.stringify({ id: 7, method: '__proto__', params: {} }))).toMatchObject({ ok: false, refusal: { code: 'UNKNOWN_METHOD' } });
  });

  it("refuses params the method's schema rejects", () => {
    const bad = [
      { id: 8, method: 'pause', params: { durationMs: -1 } },
      { id: 9, method: 'pause', params: { durationMs: 1000, extra: true } },
      { id: 10, method: 'pin', params: { path: 'relative/path' } },
      { id: 11, method: 'resolveConflict', params: { id: 1, choice: 'delete-everything' } },
      { id: 12, method: 'updateSettings', params: { mountpoint: '/elsewhere' } },
      { id: 13, method: 'status', params: { sneaky: 1 } },
    ];
    for (const r of bad) expect(validateRequest(JSON.stringify(r)), r.method).toMatchObject({ ok: false, refusal: { code: 'BAD_PARAMS', id: r.id } });
  });
});

describe('validateHello', () => {
  it('carries nothing', () => {
    expect(validateHello([])).toBeUndefined();
    expect(validateHello(['x'])).toMatchObject({ code: 'BAD_REQUEST' });
  });
});

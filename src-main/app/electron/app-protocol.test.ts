import { describe, expect, it } from 'vitest';
import { PANEL_CSP, panelHeaders, resolveAppUrl } from './app-protocol.ts';

const DIR = '/opt/OneMount/dist/renderer';

describe('resolveAppUrl', () => {
  it('maps app://onemount paths into the renderer folder, index.html by default', () => {
    expect(resolveAppUrl('app://onemount/', DIR)).toEqual({ file: `${DIR}/index.html`, contentType: 'text/html; charset=utf-8' });
    expect(resolveAppUrl('app://onemount/index.html#settings', DIR)?.file).toBe(`${DIR}/index.html`);
    expect(resolveAppUrl('app://onemount/assets/index-abc.js?x=1', DIR)).toEqual({ file: `${DIR}/assets/index-abc.js`, contentType: 'text/javascript; charset=utf-8' });
  });

  it('refuses other hosts, escapes from the folder and unknown types', () => {
    for (const url of [
      'app://other/index.html',
      'file:///etc/passwd',
      'app://onemount/..%2f..%2fsecret.js',
      'app://onemount/assets/x.exe',
      'app://onemount/a%00.js',
      'app://onemount/%E0%A4%A',
    ]) {
      expect(resolveAppUrl(url, DIR), url).toBeUndefined();
    }
    // The URL parser already folds encoded dot segments into the root.
    expect(resolveAppUrl('app://onemount/%2e%2e/%2e%2e/secret.js', DIR)?.file).toBe(`${DIR}/secret.js`);
  });

  it('sends a strict CSP with every page', () => {
    expect(panelHeaders('text/html')['content-security-policy']).toBe(PANEL_CSP);
    expect(PANEL_CSP).toContain("default-src 'none'");
    expect(PANEL_CSP).not.toContain('unsafe');
  });
});

/**
 * A tiny "browser" for sign-in tests: loads a page, submits one of its forms (as a user clicking
 * a button, or the form_post page's script), and follows on until the answer leaves the identity
 * provider, i.e. reaches the app's loopback redirect. Handles exactly the pages identity.ts serves.
 */
import { EMULATOR_LOGIN_ORIGIN } from './identity.ts';

export interface BrowserStep {
  url: string;
  status: number;
  html: string;
}

export interface PlayOptions {
  /** The API listener's origin (http://127.0.0.1:port): where https://login.test really lives. */
  identityOrigin: string;
  /** Which form to submit on a page with several (by id); default: the first. */
  choose?: string;
  /** Values to type into the form's fields (e.g. a device code). */
  fill?: Record<string, string>;
  /** Pages to follow at most. */
  maxSteps?: number;
}

interface Form {
  id: string | undefined;
  action: string;
  fields: Record<string, string>;
}

/** Opens `url` and keeps submitting forms; returns every page seen, the last one being the loopback's answer. */
export async function playBrowser(url: string, o: PlayOptions): Promise<BrowserStep[]> {
  const steps: BrowserStep[] = [];
  let current = toReachable(url, o.identityOrigin);
  let res = await fetch(current, { redirect: 'follow' });
  for (let i = 0; i < (o.maxSteps ?? 6); i++) {
    const html = await res.text();
    steps.push({ url: current, status: res.status, html });
    // Left the identity provider: this was the app's own page.
    if (new URL(current).origin !== new URL(o.identityOrigin).origin) return steps;
    const forms = parseForms(html);
    const form = forms.find((f) => f.id === o.choose) ?? forms[0];
    if (!form || res.status >= 400) return steps;
    current = toReachable(new URL(form.action, current).toString(), o.identityOrigin);
    const fields = { ...form.fields, ...(form.fields.user_code !== undefined ? o.fill : {}) };
    res = await fetch(current, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
      redirect: 'follow',
    });
  }
  throw new Error(`the sign-in pages did not reach the app within ${o.maxSteps ?? 6} steps`);
}

/** https://login.test/… → the emulator; localhost → 127.0.0.1 (MSAL's loopback listens on IPv4 only). */
export function toReachable(url: string, identityOrigin: string): string {
  if (url.startsWith(EMULATOR_LOGIN_ORIGIN + '/')) return identityOrigin + url.slice(EMULATOR_LOGIN_ORIGIN.length);
  const u = new URL(url);
  if (u.hostname === 'localhost') u.hostname = '127.0.0.1';
  return u.toString();
}

function parseForms(html: string): Form[] {
  const forms: Form[] = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const attrs = m[1] ?? '';
    const fields: Record<string, string> = {};
    for (const input of (m[2] ?? '').matchAll(/<input\b([^>]*)\/?>/gi)) {
      const name = attr(input[1] ?? '', 'name');
      if (name !== undefined) fields[name] = attr(input[1] ?? '', 'value') ?? '';
    }
    forms.push({ id: attr(attrs, 'id'), action: attr(attrs, 'action') ?? '', fields });
  }
  return forms;
}

function attr(attrs: string, name: string): string | undefined {
  const m = new RegExp(`\\b${name}="([^"]*)"`, 'i').exec(attrs);
  return m ? unescapeHtml(m[1]!) : undefined;
}

function unescapeHtml(text: string): string {
  return text.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code))).replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"');
}

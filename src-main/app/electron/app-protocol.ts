/**
 * The panel's pages come from `app://onemount/…` (a privileged standard scheme main.ts registers),
 * not from file://: a real origin for the sender check and the CSP's 'self', and no way for the page
 * to read other local files. This maps such URLs to files of the built renderer, and nothing else.
 */
import path from 'node:path';
import { APP_ORIGIN } from './ipc-validation.ts';
import { STATIC_TYPES } from '../static-types.ts';

export const PANEL_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'none'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');


/** The file and its content type for an app:// URL, or undefined (another host, outside the folder, an unknown type). */
export function resolveAppUrl(url: string, rendererDir: string): { file: string; contentType: string } | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (`${u.protocol}//${u.host}` !== APP_ORIGIN) return undefined;
  let rest: string;
  try {
    rest = decodeURIComponent(u.pathname).replace(/^\/+/, '') || 'index.html';
  } catch {
    return undefined;
  }
  if (rest.includes('\0')) return undefined;
  const root = path.resolve(rendererDir);
  const file = path.resolve(root, rest);
  const contentType = STATIC_TYPES[path.extname(file)];
  if (!file.startsWith(root + path.sep) || !contentType) return undefined;
  return { file, contentType };
}

/** Headers of every app:// answer. */
export function panelHeaders(contentType: string): Record<string, string> {
  return {
    'content-type': contentType,
    'content-security-policy': PANEL_CSP,
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
  };
}

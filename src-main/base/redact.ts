/** What a secret is replaced with, in text and in structured log fields alike. */
export const REDACTED = '[REDACTED]';

/**
 * Field names whose values are secrets wherever they appear (any depth, any case). Pre-authenticated
 * download and upload URLs are credentials too: whoever has one can read or write the file.
 * `code` alone is not listed because it is every error's code; OAuth codes in URLs are caught by
 * redactSecrets' parameter rule instead.
 */
export const SENSITIVE_KEY_PATTERN =
  /token|authorization|password|passwd|secret|code_?verifier|auth_?code|cookie|api_?key|tempauth|credential|assertion|download_?url|upload_?url/i;

// Where a parameter or JSON key may start: not in the middle of a word, so `$skiptoken` and
// `error_code` stay readable. `\\` covers keys inside JSON that was itself logged as a string.
const KEY_START = `(^|[?&#;,\\s"'{(\\\\])`;
// A value already masked, or an auth scheme (handled by its own rule), is left as it is.
const VALUE = `(?!\\[REDACTED\\]|(?:Bearer|Basic)\\s)([^\\s"'&,;#\\\\}\\])<>]+)`;

// Any Bearer credential; Basic only when it looks like base64, so prose such as "Basic mode" stays.
const SCHEME_TOKEN =
  /\b(Bearer|Basic)(\s+)(?!(?:realm|error|error_description|authorization_uri|scope|client_id)=)(?!\[REDACTED\])(?:(?<=Bearer\s+)|(?=[A-Za-z0-9+/]{8,}))[A-Za-z0-9\-._~+/]+=*/gi;

// URL query / form parameters: `?access_token=…`, `&code=…`, `tempauth=…`.
const URL_PARAM = new RegExp(
  `${KEY_START}(access_token|refresh_token|id_token|token|code|code_verifier|device_code|client_secret|client_assertion|assertion|password|secret|tempauth|sig|api_key|apikey)(=)${VALUE}`,
  'gi',
);

// JSON or header style: `"refresh_token": "…"`, `password: …`, and the escaped `\"token\":\"…\"`.
const KEY_VALUE = new RegExp(
  `${KEY_START}(access_token|refresh_token|id_token|token|code_verifier|device_code|client_secret|client_assertion|password|secret|tempauth|authorization)(\\\\?["']?\\s*[:=]\\s*\\\\?["']?)${VALUE}`,
  'gi',
);

// Three base64url segments starting with `{"` encoded: a JWT (work/school access and id tokens).
const JWT = /\beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*/g;

// Personal-account (MSA) access tokens are opaque "compact tickets" starting EwA…/EwB…, and its
// refresh tokens look like `M.C5xx_BAY.0.U.…`; both are long, so short words never match.
const MSA_ACCESS_TOKEN = /\bEw[A-D][A-Za-z0-9+/=_%-]{40,}/g;
const MSA_REFRESH_TOKEN = /\bM\.[A-Za-z0-9_]{1,16}\.[A-Za-z0-9_.!*$%+/=-]{40,}/g;

/**
 * Masks bearer/basic credentials, token-carrying URL parameters and JSON fields, JWTs and
 * personal-account tokens in free text. Idempotent. A last line of defence: code should not put
 * secrets in messages in the first place.
 */
export function redactSecrets(text: string): string {
  return text
    .replace(SCHEME_TOKEN, `$1$2${REDACTED}`)
    .replace(URL_PARAM, `$1$2$3${REDACTED}`)
    .replace(KEY_VALUE, `$1$2$3${REDACTED}`)
    .replace(JWT, REDACTED)
    .replace(MSA_ACCESS_TOKEN, REDACTED)
    .replace(MSA_REFRESH_TOKEN, REDACTED);
}

/** A URL fit for a log: origin and path kept, every query value and the fragment masked. */
export function redactUrl(url: string | URL): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return redactSecrets(String(url));
  }
  const params = [...parsed.searchParams.keys()].map((key) => `${encodeURIComponent(key)}=${REDACTED}`);
  return `${parsed.origin}${parsed.pathname}${params.length > 0 ? `?${params.join('&')}` : ''}`;
}

// OneDrive's naming rules (docs/graph-api.md §3), in one place for the engine (reject a bad name with the
// right errno before any network call), the Graph emulator (refuse it as OneDrive does:
// 400 invalidRequest / inner invalidPath) and the UI (explain it).

export type DriveMode = 'personal' | 'business';

/**
 * A drive's naming rules: its kind, and what its tenant chose. OneDrive for Business and SharePoint
 * accept `#` and `%` unless the tenant turned them off (SharePoint's older rule), which no drive
 * property tells: a client learns it from a refusal (src-main/app/name-rules.ts).
 */
export interface NameRules {
  readonly mode: DriveMode;
  /** The tenant refuses `#` and `%` in names (business drives only). */
  readonly refuseHashAndPercent?: boolean;
}

function rulesOf(rules: DriveMode | NameRules): NameRules {
  return typeof rules === 'string' ? { mode: rules } : rules;
}

export type NameProblemCode =
  | 'empty'
  | 'invalidCharacter'
  | 'reservedName'
  | 'trailingDotOrSpace'
  | 'leadingTilde'
  | 'tooLong'
  | 'reservedPattern'
  | 'dotName';

export interface NameProblem {
  readonly code: NameProblemCode;
  /** A sentence for people; names the offending character, name or pattern. */
  readonly message: string;
}

export type PathProblemCode = NameProblemCode | 'pathTooLong';

export interface PathProblem {
  readonly code: PathProblemCode;
  readonly message: string;
  /** The path component at fault; absent when the whole path is (pathTooLong). */
  readonly component?: string;
}

/** Longest name component, in UTF-8 bytes (what Linux programs expect as NAME_MAX). */
export const MAX_NAME_BYTES = 255;

/** OneDrive refuses paths of this many characters or more (docs/graph-api.md §3: "< 400"). */
export const MAX_PATH_CHARS = 400;

/** Characters refused in every drive. */
const ALWAYS_INVALID_CHARACTERS = new Set(['/', '\\', '*', '<', '>', '?', ':', '|', '"']);

/** Refused by business tenants that keep SharePoint's older rule (NameRules.refuseHashAndPercent). */
const TENANT_REFUSED_CHARACTERS = new Set(['#', '%']);

/** Windows device names; refused with or without an extension (`con`, `CON.txt`, `lpt1.tar.gz`). */
const RESERVED_DEVICE_NAME = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/i;

/** Whole names OneDrive keeps for itself (compared case-insensitively). */
const RESERVED_WHOLE_NAMES = new Set(['.lock', 'desktop.ini']);

/** SharePoint's FrontPage-extension marker, refused anywhere in a name. */
const VTI_MARKER = '_vti_';

/** The case-folding OneDrive uses to match names within a folder: one function for everyone. */
export function nameKey(name: string): string {
  return name.normalize('NFC').toLowerCase();
}

/** Bytes `text` takes in UTF-8 (an unpaired surrogate counts as the 3 bytes of U+FFFD). */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (const char of text) {
    const cp = char.codePointAt(0)!;
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return bytes;
}

/**
 * The first problem OneDrive would have with `name` as a single path component, or undefined when
 * it is acceptable. Never throws.
 */
export function validateName(name: string, rules: DriveMode | NameRules): NameProblem | undefined {
  const { mode } = rulesOf(rules);
  if (name.length === 0) return { code: 'empty', message: 'A name cannot be empty.' };
  if (name === '.' || name === '..') {
    return { code: 'dotName', message: `"${name}" cannot be used as a name: it means a folder, not an item.` };
  }
  const bytes = utf8ByteLength(name);
  if (bytes > MAX_NAME_BYTES) {
    return {
      code: 'tooLong',
      message: `The name is ${bytes} bytes long in UTF-8; names can be at most ${MAX_NAME_BYTES} bytes.`,
    };
  }
  const badCharacter = findInvalidCharacter(name, rulesOf(rules));
  if (badCharacter !== undefined) return { code: 'invalidCharacter', message: badCharacter };
  if (name.endsWith('.') || name.endsWith(' ')) {
    const what = name.endsWith('.') ? 'a dot (.)' : 'a space';
    return { code: 'trailingDotOrSpace', message: `Names cannot end with ${what}.` };
  }
  // Checked before the leading tilde so Office's owner files get the more specific explanation.
  if (mode === 'business' && name.startsWith('~$')) {
    return {
      code: 'reservedPattern',
      message: `"${name}" starts with "~$", which OneDrive for Business keeps for Office lock files.`,
    };
  }
  if (mode === 'business' && name.startsWith('~')) {
    return { code: 'leadingTilde', message: 'OneDrive for Business names cannot start with a tilde (~).' };
  }
  const stem = name.split('.', 1)[0]!;
  if (RESERVED_DEVICE_NAME.test(stem)) {
    return {
      code: 'reservedName',
      message: `"${name}" cannot be used: ${stem.toUpperCase()} is a reserved Windows device name.`,
    };
  }
  if (RESERVED_WHOLE_NAMES.has(name.toLowerCase())) {
    return { code: 'reservedPattern', message: `"${name}" is a name OneDrive reserves for itself.` };
  }
  if (name.toLowerCase().includes(VTI_MARKER)) {
    return { code: 'reservedPattern', message: `Names cannot contain "${VTI_MARKER}" (reserved by SharePoint).` };
  }
  return undefined;
}

/** A message naming the first refused character, or undefined when every character is allowed. */
function findInvalidCharacter(name: string, rules: NameRules): string | undefined {
  const tenantRefuses = rules.mode === 'business' && rules.refuseHashAndPercent === true;
  for (const char of name) {
    const cp = char.codePointAt(0)!;
    if (cp <= 0x1f) return `Names cannot contain control characters (found ${codePointLabel(cp)}).`;
    if (cp >= 0xd800 && cp <= 0xdfff) {
      // Only an unpaired surrogate reaches here (for…of yields pairs whole); it has no UTF-8 form.
      return `Names cannot contain an unpaired UTF-16 surrogate (found ${codePointLabel(cp)}).`;
    }
    if (ALWAYS_INVALID_CHARACTERS.has(char)) return `Names cannot contain "${char}".`;
    if (tenantRefuses && TENANT_REFUSED_CHARACTERS.has(char)) {
      return `This OneDrive for Business drive does not accept "${char}" in names (its organisation turned that off).`;
    }
  }
  return undefined;
}

function codePointLabel(cp: number): string {
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Checks a drive path as the server sees it (`/a/b/c.txt`; the leading slash is optional, `/` alone
 * is the root): every component with validateName, then the whole path's length. An empty
 * component (`/a//b`, a trailing slash) is an 'empty' problem. Never throws.
 */
export function validatePath(path: string, rules: DriveMode | NameRules): PathProblem | undefined {
  const relative = path.startsWith('/') ? path.slice(1) : path;
  if (relative.length === 0) return undefined;
  const components = relative.split('/');
  for (const component of components) {
    const problem = validateName(component, rules);
    if (problem !== undefined) return { ...problem, component };
  }
  // OneDrive counts UTF-16 code units (its services are .NET), so string length is the right measure.
  const serverPathLength = relative.length + 1;
  if (serverPathLength >= MAX_PATH_CHARS) {
    return {
      code: 'pathTooLong',
      message: `The path is ${serverPathLength} characters long; OneDrive paths must be shorter than ${MAX_PATH_CHARS}.`,
    };
  }
  return undefined;
}

/** POSIX errno names (src-shared cannot import node's constants; map them where errno numbers live). */
export type ErrnoName = 'EINVAL' | 'ENAMETOOLONG' | 'ENOENT';

/** The errno a filesystem call should fail with for each naming problem. */
export const nameProblemErrno: Readonly<Record<PathProblemCode, ErrnoName>> = {
  // An empty component is how Linux spells "no such entry" (open("") → ENOENT).
  empty: 'ENOENT',
  invalidCharacter: 'EINVAL',
  reservedName: 'EINVAL',
  trailingDotOrSpace: 'EINVAL',
  leadingTilde: 'EINVAL',
  tooLong: 'ENAMETOOLONG',
  reservedPattern: 'EINVAL',
  dotName: 'EINVAL',
  pathTooLong: 'ENAMETOOLONG',
};

/**
 * Splits `name` at its last dot into stem and extension (the extension keeps its dot). A leading
 * dot does not start an extension (`.bashrc` has none), nor does a trailing one.
 */
export function splitExtension(name: string): { stem: string; extension: string } {
  const dot = name.lastIndexOf('.');
  if (dot <= 0 || dot === name.length - 1) return { stem: name, extension: '' };
  return { stem: name.slice(0, dot), extension: name.slice(dot) };
}

/**
 * OneDrive's `rename` conflict behaviour: `name` itself when free, else the first of `name 1.ext`,
 * `name 2.ext`, … whose key (nameKey) is not taken. The stem is shortened when needed so the
 * result stays within MAX_NAME_BYTES. Terminates as long as only finitely many names are taken.
 */
export function conflictFreeName(name: string, taken: (key: string) => boolean): string {
  if (!taken(nameKey(name))) return name;
  for (let n = 1; ; n++) {
    const candidate = withSuffix(name, ` ${n}`);
    if (!taken(nameKey(candidate))) return candidate;
  }
}

/**
 * The name of the copy kept when both sides changed a file: `name (conflict 2026-11-27 143005
 * host).ext`. The time is UTC, because the copy syncs to every device and must read the same
 * on each. Characters of `host` that OneDrive refuses become `-`. Two conflicts of one file within
 * the same second on one host give the same name: pass the result through conflictFreeName.
 */
export function conflictCopyName(name: string, date: Date, host: string): string {
  const stamp =
    `${date.getUTCFullYear()}-${pad2(date.getUTCMonth() + 1)}-${pad2(date.getUTCDate())} ` +
    `${pad2(date.getUTCHours())}${pad2(date.getUTCMinutes())}${pad2(date.getUTCSeconds())}`;
  const safeHost = sanitizeHost(host);
  const label = safeHost.length > 0 ? `conflict ${stamp} ${safeHost}` : `conflict ${stamp}`;
  return withSuffix(name, ` (${label})`);
}

function pad2(value: number): string {
  return String(value).padStart(2, '0');
}

function sanitizeHost(host: string): string {
  let safe = '';
  for (const char of host) {
    const cp = char.codePointAt(0)!;
    const refused =
      cp <= 0x1f ||
      (cp >= 0xd800 && cp <= 0xdfff) ||
      ALWAYS_INVALID_CHARACTERS.has(char) ||
      // A conflict copy must be accepted by every drive, strict tenants included.
      TENANT_REFUSED_CHARACTERS.has(char) ||
      char === '(' ||
      char === ')';
    safe += refused ? '-' : char;
  }
  safe = safe.replace(/_vti_/gi, (marker) => `-${marker.slice(1, 4)}-`);
  // Bounded so a silly host name cannot crowd the original name out of the result.
  return truncateToBytes(safe.trim(), 64).trim();
}

/**
 * `stem + suffix + extension`, shortening the stem so the whole fits MAX_NAME_BYTES. An extension
 * too long to leave room for the suffix is treated as part of the stem.
 */
export function withSuffix(name: string, suffix: string): string {
  let { stem, extension } = splitExtension(name);
  const suffixBytes = utf8ByteLength(suffix);
  if (utf8ByteLength(extension) + suffixBytes >= MAX_NAME_BYTES / 2) {
    stem = name;
    extension = '';
  }
  const room = MAX_NAME_BYTES - suffixBytes - utf8ByteLength(extension);
  return truncateToBytes(stem, room) + suffix + extension;
}

/** The longest prefix of `text` of at most `maxBytes` UTF-8 bytes, never splitting a code point. */
function truncateToBytes(text: string, maxBytes: number): string {
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = utf8ByteLength(char);
    if (bytes + size > maxBytes) break;
    bytes += size;
    end += char.length;
  }
  return text.slice(0, end);
}

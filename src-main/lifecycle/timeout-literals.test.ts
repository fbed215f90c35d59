import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TIMEOUTS } from './timeout-policy.ts';

/**
 * Keeps docs/concurrency.md §5 true: every timeout, retry delay, interval and pacing period of
 * src-main comes from lifecycle/timeout-policy.ts. A duration literal anywhere else fails this
 * test unless its line (or the line above) says why it is not the policy's:
 * - `protocol:` a fact of a protocol or a file format (a desktop file's key that counts seconds);
 * - `user choice:` a value offered to the user in a list (the tray's snooze lengths).
 */

const SRC_MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const POLICY_FILE = path.join('lifecycle', 'timeout-policy.ts');
const CONCURRENCY_DOC = path.resolve(SRC_MAIN, '..', 'docs', 'concurrency.md');
const MARKER = /\b(protocol|user choice):/;

// Zero is no duration (none, never, at once): `retryAfterMs ?? 0` may stay.
const NUMBER = String.raw`\(?\s*(?:[1-9]|0[\d_.])`;
const PATTERNS: ReadonlyArray<{ what: string; re: RegExp }> = [
  {
    what: 'a duration name given a number',
    // fooMs = 5, FOO_MS: 5, timeoutMs ?? 5, `Delay=5`, { timeout: 5 } (optionally typed: `X_MS: number = 5`)
    re: new RegExp(
      String.raw`(?:\b[\w$]*(?:Ms|MS|Timeout|TIMEOUT|Delay|DELAY|Interval|INTERVAL|Sec|SEC|Seconds|SECONDS)|\b(?:timeout|delay|interval|seconds))` +
        String.raw`\s*(?::\s*[\w.]+\s*)?(?:=(?!=)|:|\?\?|\|\|)\s*${NUMBER}`,
    ),
  },
  { what: 'a timer with a number', re: new RegExp(String.raw`\b(?:setTimeout|setInterval)\s*\(.*,\s*${NUMBER}[\d_]*\s*\)`) },
  // The end of a timer whose callback spans lines: `}, 1000);`
  { what: 'a callback closed with a number', re: new RegExp(String.raw`^\s*\}\s*,\s*${NUMBER}[\d_]*\s*\)`) },
  {
    what: 'a wait with a number',
    re: new RegExp(String.raw`(?:\bAbortSignal\.timeout|\b(?:abortable)?[sS]leep|\btimeoutSignal|\bsettledWithin|\.stopAll)\s*\(\s*(?:[\w.]+\s*,\s*)?${NUMBER}`),
  },
  { what: 'a deadline from now', re: new RegExp(String.raw`\bnow\(\)\s*[-+]\s*${NUMBER}`, 'i') },
  { what: 'a command-line duration defaulting to a number', re: new RegExp(String.raw`\.option\(\s*'[^']*<(?:seconds|ms|minutes|duration)>'.*,\s*${NUMBER}[\d_]*\s*\)`) },
  { what: 'minutes or hours in milliseconds', re: /\b\d[\d_]*\s*\*\s*(?:1000|60_?000|3_?600_?000|86_?400_?000)\b/ },
];

/** Where the lines of `source` hold a duration literal that is not marked; code after `//` and comment lines are not read. */
function durationLiterals(source: string): Array<{ line: number; what: string; text: string }> {
  const lines = source.split('\n');
  const found: Array<{ line: number; what: string; text: string }> = [];
  lines.forEach((raw, index) => {
    const trimmed = raw.trim();
    if (trimmed.startsWith('//') || trimmed.startsWith('*') || trimmed.startsWith('/*')) return;
    const code = raw.replace(/\s\/\/.*$/, '');
    const hit = PATTERNS.find((p) => p.re.test(code));
    if (!hit) return;
    if (MARKER.test(raw) || (index > 0 && MARKER.test(lines[index - 1]!))) return;
    found.push({ line: index + 1, what: hit.what, text: trimmed });
  });
  return found;
}

function sourceFiles(): string[] {
  return readdirSync(SRC_MAIN, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'))
    .filter((file) => !file.split(path.sep).includes('testing') && file !== POLICY_FILE)
    .sort();
}

describe('duration literals outside the timeout policy', () => {
  it.each([
    ['const FLUSH_EVERY_MS = 250;'],
    ['  static async open(address: string, timeoutMs = 5000): Promise<void> {'],
    ['    this.#quietMs = options.quietMs ?? 100;'],
    ["  { label: '2 hours', durationMs: 2 * 3600_000 },"],
    ["    execFile('xdg-open', [url], { timeout: 15_000 }, done);"],
    ["    'X-GNOME-Autostart-Delay=5',"],
    ['const RETRY_DELAY: number = 1_000;'],
    ['  const trayTimer = setInterval(refreshTray, 5000);'],
    ['    timer = setTimeout(() => resolve(false), 250);'],
    ['    }, 1000).unref();'],
    ['  signal: AbortSignal.timeout(5_000),'],
    ['  await abortableSleep(100, signal);'],
    ['  await this.#alarm.sleep(2_000, signal);'],
    ['  const wait = timeoutSignal(300, undefined, "x");'],
    ['  expiresAt: Date.now() + 60_000,'],
    ['  ttl: 15 * 60_000,'],
    ["    .option('--kernel-cache <seconds>', 'how long the kernel may cache', positiveInt, 10)"],
    ['  const HALF_SECOND_MS = 0.5e3;'],
  ])('finds %s', (line) => {
    expect(durationLiterals(line)).toHaveLength(1);
  });

  it.each([
    ['const X_MS = DEFAULT_TIMEOUTS.fooMs;'],
    ['  timeoutMs = DEFAULT_TIMEOUTS.localCallTimeoutMs,'],
    ['  if (elapsedMs === 0) return;'],
    ['  const items = 5;'],
    ["    .option('--transfers <n>', 'parallel downloads', positiveInt, 4)"],
    ['  const retryAfter = error.retryAfterMs ?? 0;'],
    ['  setTimeout(done, Math.max(0, ms));'],
    ['    }, this.policy.ms("indexerStatusPushMs")).unref();'],
    ['  }, 0);'],
    ['  await sleep(policy.ms("parentWaitMs"), signal);'],
    ['  const seconds = Math.floor(mtimeMs / 1000) * 1000;'],
    ['// a comment saying timeoutMs = 5000'],
    [' * a doc line: delayMs = 5'],
    ["    'X-GNOME-Autostart-Delay=5', // protocol: the desktop entry key counts seconds"],
    ['  // user choice: the snooze lengths the tray offers\n  { durationMs: 2 * 3600_000 },'],
  ])('lets %s be', (line) => {
    expect(durationLiterals(line)).toEqual([]);
  });

  it('finds none in src-main outside the policy (mark protocol facts with `protocol:`)', () => {
    const files = sourceFiles();
    expect(files.length).toBeGreaterThan(50);
    expect(files).toContain(path.join('app', 'engine.ts'));
    const found = files.flatMap((file) =>
      durationLiterals(readFileSync(path.join(SRC_MAIN, file), 'utf8')).map((f) => `src-main/${file}:${f.line} (${f.what}): ${f.text}`),
    );
    expect(found).toEqual([]);
  });
});

describe('the timeout policy itself', () => {
  const keys = Object.keys(DEFAULT_TIMEOUTS);
  // The policy's own methods read some keys (this.config.phaseAbortGraceMs); its schema and defaults name them without a dot or quotes.
  const sources = [...sourceFiles(), POLICY_FILE].map((file) => readFileSync(path.join(SRC_MAIN, file), 'utf8'));

  it('has no dead key: each one is read somewhere in src-main', () => {
    // policy.ms('key'), policy.signal('key'), DEFAULT_TIMEOUTS.key or config.key
    const unread = keys.filter((key) => !sources.some((text) => new RegExp(String.raw`(?:\.${key}\b|['"]${key}['"])`).test(text)));
    expect(unread).toEqual([]);
  });

  it('documents every key in the table of docs/concurrency.md §5', () => {
    const doc = readFileSync(CONCURRENCY_DOC, 'utf8');
    const table = doc.slice(doc.indexOf('### Timeouts'), doc.indexOf('### One of each helper'));
    expect(table.length).toBeGreaterThan(0);
    expect(keys.filter((key) => !table.includes(`\`${key}\``))).toEqual([]);
  });
});

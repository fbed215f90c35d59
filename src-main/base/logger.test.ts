import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OneMountError } from './errors.ts';
import { censorFields, createLogger, createMemoryLogger, flushLogger } from './logger.ts';
import { REDACTED } from './redact.ts';

const memoryLogger = () => createMemoryLogger('info');

const SECRET = 'sekr1t-value-42';

describe('createLogger', () => {
  it('writes JSON lines with name, level and message', () => {
    const { logger, records } = memoryLogger();
    logger.info({ itemId: 'abc' }, 'hello');
    logger.debug('not at info level');
    expect(records()).toEqual([expect.objectContaining({ name: 'test', level: 30, itemId: 'abc', msg: 'hello' })]);
  });

  it('censors sensitive field names at any depth, including in child bindings', () => {
    const { logger, lines, records } = memoryLogger();
    const child = logger.child({ component: 'auth', refreshToken: SECRET });
    child.info(
      {
        token: SECRET,
        request: { headers: { Authorization: `Bearer ${SECRET}`, accept: 'json' } },
        list: [{ password: SECRET }, { client_secret: SECRET }],
        item: { '@microsoft.graph.downloadUrl': `https://h/dl/${SECRET}` },
        session: { uploadUrl: `https://h/up/${SECRET}` },
        pkce: { code_verifier: SECRET },
      },
      'signed in',
    );
    child.child({ cookie: SECRET, step: 2 }).info('grandchild');
    expect(lines().join('')).not.toContain(SECRET);
    expect(records()[1]).toMatchObject({ component: 'auth', refreshToken: REDACTED, cookie: REDACTED, step: 2 });
    const [record] = records();
    expect(record).toMatchObject({
      component: 'auth',
      refreshToken: REDACTED,
      token: REDACTED,
      request: { headers: { Authorization: REDACTED, accept: 'json' } },
      list: [{ password: REDACTED }, { client_secret: REDACTED }],
      pkce: { code_verifier: REDACTED },
    });
  });

  it('masks tokens inside messages, interpolated arguments and error stacks', () => {
    const { logger, lines } = memoryLogger();
    logger.info(`GET https://graph/v1.0/me?access_token=${SECRET}`);
    logger.warn('header was %s', `Bearer ${SECRET}`);
    const error = new OneMountError('AUTH_FAILED', `refresh failed: refresh_token=${SECRET}`, {
      cause: Object.assign(new Error(`upstream said {"access_token":"${SECRET}"}`), { authorization: SECRET }),
    });
    logger.error(error);
    logger.error({ err: error, attempt: 2 }, 'giving up');
    const text = lines().join('');
    expect(text).not.toContain(SECRET);
    expect(lines()).toHaveLength(4);
    const last = JSON.parse(lines()[3]!) as { err: { type: string; code: string; cause: { authorization: string } } };
    expect(last.err.type).toBe('OneMountError');
    expect(last.err.code).toBe('AUTH_FAILED');
    expect(last.err.cause.authorization).toBe(REDACTED);
  });

  it('survives circular structures', () => {
    const { logger, records } = memoryLogger();
    const node: Record<string, unknown> = { name: 'root' };
    node['self'] = node;
    logger.info({ node }, 'cyclic');
    expect(records()[0]).toMatchObject({ node: { name: 'root', self: '[Circular]' } });
  });

  it('writes to a private file that can be flushed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onemount-log-'));
    try {
      const file = join(dir, 'logs', 'engine.log');
      const logger = createLogger({ name: 'engine', destination: file });
      logger.info({ access_token: SECRET }, 'to file');
      await flushLogger(logger);
      const content = readFileSync(file, 'utf8');
      expect(content).toContain('to file');
      expect(content).not.toContain(SECRET);
      expect(statSync(file).mode & 0o777).toBe(0o600);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('censorFields', () => {
  it('returns a censored copy and leaves the input untouched', () => {
    const input = { user: 'a', secret: SECRET, nested: { apiKey: SECRET, n: 1 }, when: new Date(0) };
    const out = censorFields(input);
    expect(out).toEqual({ user: 'a', secret: REDACTED, nested: { apiKey: REDACTED, n: 1 }, when: new Date(0) });
    expect(input.secret).toBe(SECRET);
  });

  it('keeps null and undefined sensitive fields as they are (their absence is not a secret)', () => {
    expect(censorFields({ token: null, password: undefined })).toEqual({ token: null, password: undefined });
  });
});

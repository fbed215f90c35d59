import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quickXorHash } from '../graph/quickxor.ts';
import { UploadHasher } from './upload-hasher.ts';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function file(content: Buffer): string {
  dir = mkdtempSync(join(tmpdir(), 'onemount-hasher-test-'));
  const path = join(dir, 'f');
  writeFileSync(path, content);
  return path;
}

describe('UploadHasher', () => {
  it('tells onDigest once, when a body has carried the last byte', async () => {
    const content = Buffer.from('some bytes to hash');
    const heard: string[] = [];
    const hasher = new UploadHasher(file(content), content.length, (d) => heard.push(d));
    for await (const _ of hasher.body(0, content.length)()) void _;
    expect(heard).toEqual([quickXorHash(content)]);
    expect(hasher.digestIfComplete()).toBe(quickXorHash(content));
    expect(await hasher.digest(new AbortController().signal)).toBe(quickXorHash(content));
    expect(heard).toHaveLength(1);
  });

  it('tells onDigest of an empty file when digestIfComplete asks first (the upload watches the place with it)', async () => {
    const heard: string[] = [];
    const hasher = new UploadHasher(file(Buffer.alloc(0)), 0, (d) => heard.push(d));
    expect(hasher.digestIfComplete()).toBe(quickXorHash(Buffer.alloc(0)));
    expect(await hasher.digest(new AbortController().signal)).toBe(quickXorHash(Buffer.alloc(0)));
    expect(heard).toEqual([quickXorHash(Buffer.alloc(0))]);
  });
});

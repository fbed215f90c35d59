import { describe, expect, it } from 'vitest';
import type { EngineStatus } from '../../../src-shared/ipc/contract.ts';
import { formatSize, formatStatus } from './status-format.ts';

describe('status in words', () => {
  it('sizes in the unit a person reads', () => {
    expect(formatSize(0)).toBe('0 B');
    expect(formatSize(999)).toBe('999 B');
    expect(formatSize(434_500_000)).toBe('434.5 MB');
    expect(formatSize(1_099_511_627_776)).toBe('1.1 TB');
    expect(formatSize(5_368_709_120)).toBe('5.4 GB');
  });

  it('the quota line reads "434.5 MB used of 1.1 TB"', () => {
    const status = {
      account: 'demo',
      mountpoint: '/home/me/OneMount-demo',
      state: 'idle',
      items: 3,
      cachedBytes: 2_000,
      quota: { used: 434_500_000, total: 1_099_511_627_776, remaining: 1_099_077_127_776, deleted: 0, state: 'normal' },
      transfers: [],
    } as unknown as EngineStatus;
    expect(formatStatus(status)).toContain('storage: 434.5 MB used of 1.1 TB');
    expect(formatStatus(status)).toContain('3 items, 2.0 kB cached');
  });

  it('the indexer line: refusals by program, most first; a reason when nothing can be refused; nothing when allowed or none', () => {
    const base = { account: 'a', mountpoint: '/m', state: 'ready', items: 0, cachedBytes: 0, transfers: [] } as unknown as EngineStatus;
    const line = (indexers: EngineStatus['indexers']) => formatStatus({ ...base, ...(indexers ? { indexers } : {}) }).split('\n').find((l) => l.includes('indexers'));
    const on = { refuse: true, callerKnown: true, refused: 0, byProgram: {} };
    expect(line(undefined)).toBeUndefined();
    expect(line(on)).toBeUndefined();
    expect(line({ ...on, refuse: false, refused: 4 })).toBeUndefined();
    expect(line({ ...on, refused: 12, byProgram: { baloo_file: 2, 'tracker-extract-3': 10 } })).toBe('  indexers: 12 reads of files not on this device refused (tracker-extract-3 10, baloo_file 2)');
    expect(line({ ...on, callerKnown: false })).toMatch(/^ {2}indexers: not told apart/);
  });
});

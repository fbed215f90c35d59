import { describe, expect, it } from 'vitest';
import { bytesOfGb, bytesOfMbps, gbOfBytes, indexerLine, mbpsOfBytes, parsePrograms, programsText } from './settings-form.ts';
import { DEFAULT_INDEXER_PROGRAMS } from '../src-shared/model/indexer-programs.ts';

describe('cache limit field', () => {
  it('shows a limit in bytes as GB with at most two decimals', () => {
    expect(gbOfBytes(10_737_418_240)).toBe('10.74');
    expect(gbOfBytes(20e9)).toBe('20');
    expect(gbOfBytes(1_500_000_000)).toBe('1.5');
  });
  it('reads typed sizes back as whole bytes, refusing what the engine would not take', () => {
    expect(bytesOfGb('10.74')).toBe(10_740_000_000);
    expect(bytesOfGb(' 2,5 ')).toBe(2_500_000_000);
    expect(bytesOfGb('10.')).toBe(10e9);
    expect(bytesOfGb('0.1')).toBe(100_000_000);
    for (const bad of ['', '0', '0.05', '-3', 'ten', '1e3', '1.2.3']) expect(bytesOfGb(bad)).toBeUndefined();
  });
});

describe('bandwidth limit fields', () => {
  it('show a limit as MB/s, and no limit as an empty field', () => {
    expect(mbpsOfBytes(2_000_000)).toBe('2');
    expect(mbpsOfBytes(1_048_576)).toBe('1.05');
    expect(mbpsOfBytes(0)).toBe('');
    expect(mbpsOfBytes(undefined)).toBe('');
  });
  it('read typed limits back as bytes per second: empty or 0 is none, below the minimum is refused', () => {
    expect(bytesOfMbps('', 32_768)).toBe(0);
    expect(bytesOfMbps(' 0 ', 32_768)).toBe(0);
    expect(bytesOfMbps('2,5', 32_768)).toBe(2_500_000);
    expect(bytesOfMbps('0.04', 32_768)).toBe(40_000);
    for (const bad of ['0.01', '-1', 'fast', '1e3']) expect(bytesOfMbps(bad, 32_768)).toBeUndefined();
  });
});

describe('indexer list field', () => {
  it('one program per line, back to the list without blank lines, padding or repeats', () => {
    expect(parsePrograms(programsText(DEFAULT_INDEXER_PROGRAMS))).toEqual({ programs: [...DEFAULT_INDEXER_PROGRAMS] });
    expect(parsePrograms('  baloo_file \n\n\nkioworker/thumbnail\nbaloo_file\n*-thumbnailer\n')).toEqual({ programs: ['baloo_file', 'kioworker/thumbnail', '*-thumbnailer'] });
    expect(parsePrograms('')).toEqual({ programs: [] });
  });
  it('names the first line the engine would refuse', () => {
    expect(parsePrograms('cat\na/b/c\n/x')).toEqual({ bad: '“a/b/c” is not a program name or name/argument' });
    expect(parsePrograms(Array.from({ length: 201 }, (_, i) => `p${i}`).join('\n'))).toEqual({ bad: 'At most 200 programs' });
  });
});

describe('indexer line', () => {
  const status = { refuse: true, callerKnown: true, refused: 0, byProgram: {} };
  it('says what was refused, by whom, most first', () => {
    expect(indexerLine(undefined)).toBeUndefined();
    expect(indexerLine(status)).toBe('None refused yet');
    expect(indexerLine({ ...status, refused: 1, byProgram: { 'tracker-extract-3': 1 } })).toBe('1 read of files not on this device refused (tracker-extract-3 1)');
    expect(indexerLine({ ...status, refused: 10, byProgram: { a: 1, b: 5, c: 2, d: 2 } })).toBe('10 reads of files not on this device refused (b 5, c 2, d 2, …)');
  });
  it('says when nothing is refused by choice, or cannot be', () => {
    expect(indexerLine({ ...status, refuse: false, refused: 3 })).toBe('Allowed to download files');
    expect(indexerLine({ ...status, callerKnown: false })).toMatch(/^Not told apart/);
  });
});

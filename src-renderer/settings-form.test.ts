import { describe, expect, it } from 'vitest';
import { bytesOfGb, bytesOfMbps, gbOfBytes, mbpsOfBytes } from './settings-form.ts';

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

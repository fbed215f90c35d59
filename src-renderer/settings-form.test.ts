import { describe, expect, it } from 'vitest';
import { bytesOfGb, gbOfBytes } from './settings-form.ts';

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

import { describe, expect, it } from 'vitest';
import { isLocalId, newLocalId } from './local-id.ts';
import { nameKey } from './name-key.ts';

describe('nameKey', () => {
  it('folds case and Unicode normalisation', () => {
    expect(nameKey('Report.DOCX')).toBe(nameKey('report.docx'));
    // "é" precomposed vs e + combining acute accent
    expect(nameKey('Caf\u00e9')).toBe(nameKey('CAFE\u0301'));
    expect(nameKey('a.txt')).not.toBe(nameKey('b.txt'));
  });
});

describe('local ids', () => {
  it('are unique and recognisable', () => {
    const a = newLocalId();
    const b = newLocalId();
    expect(a).not.toBe(b);
    expect(isLocalId(a)).toBe(true);
    expect(isLocalId('D4648F06C91D9D3D!54927')).toBe(false);
  });
});

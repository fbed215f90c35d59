// The layer rule keeps src-shared to zod but does not yet exempt its tests from that (reported).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  MAX_NAME_BYTES,
  MAX_PATH_CHARS,
  conflictCopyName,
  conflictFreeName,
  nameKey,
  nameProblemErrno,
  splitExtension,
  utf8ByteLength,
  validateName,
  validatePath,
  type DriveMode,
} from './names.ts';

const modes: DriveMode[] = ['personal', 'business'];
/** The strictest rules there are: names made for any drive must pass them. */
const STRICT = { mode: 'business', refuseHashAndPercent: true } as const;

describe('validateName', () => {
  it.each(modes)('accepts ordinary names (%s)', (mode) => {
    for (const name of ['a', 'report.docx', 'Ünïcødé ñame.txt', '日本語のファイル', '😀 emoji', '.bashrc', '..hidden',
      'a.b.c', 'con2', 'xcon', 'icon.png', 'com10', 'lpt', 'file.lock', 'desktop.ini.bak', 'a~b', 'name (1).txt',
      ' leading space', '[brackets]{}&+=,;!@$^']) {
      expect(validateName(name, mode), name).toBeUndefined();
    }
  });

  it.each(modes)('refuses the empty name (%s)', (mode) => {
    expect(validateName('', mode)?.code).toBe('empty');
  });

  it.each(modes)('refuses . and .. (%s)', (mode) => {
    expect(validateName('.', mode)?.code).toBe('dotName');
    expect(validateName('..', mode)?.code).toBe('dotName');
  });

  it.each(modes)('refuses each always-invalid character and names it (%s)', (mode) => {
    for (const char of ['/', '\\', '*', '<', '>', '?', ':', '|', '"']) {
      const problem = validateName(`a${char}b.txt`, mode);
      expect(problem?.code, char).toBe('invalidCharacter');
      expect(problem?.message).toContain(`"${char}"`);
    }
  });

  it('accepts # and % everywhere by default; refuses them only on a business tenant that turned them off', () => {
    for (const char of ['#', '%']) {
      expect(validateName(`100${char} done.txt`, 'personal')).toBeUndefined();
      expect(validateName(`100${char} done.txt`, 'business')).toBeUndefined();
      expect(validateName(`100${char} done.txt`, { mode: 'business', refuseHashAndPercent: false })).toBeUndefined();
      const problem = validateName(`100${char} done.txt`, { mode: 'business', refuseHashAndPercent: true });
      expect(problem?.code).toBe('invalidCharacter');
      expect(problem?.message).toContain(`"${char}"`);
      // A personal drive has no tenant to turn them off.
      expect(validateName(`100${char} done.txt`, { mode: 'personal', refuseHashAndPercent: true })).toBeUndefined();
      expect(validatePath(`/a/100${char}.txt`, { mode: 'business', refuseHashAndPercent: true })?.component).toBe(`100${char}.txt`);
    }
  });

  it.each(modes)('refuses control characters and shows their code point (%s)', (mode) => {
    for (let cp = 0; cp <= 0x1f; cp++) {
      const problem = validateName(`a${String.fromCharCode(cp)}b`, mode);
      expect(problem?.code).toBe('invalidCharacter');
      expect(problem?.message).toContain(`U+${cp.toString(16).toUpperCase().padStart(4, '0')}`);
    }
    expect(validateName('tab\there', mode)?.message).toContain('U+0009');
  });

  it.each(modes)('refuses unpaired surrogates, which have no UTF-8 form (%s)', (mode) => {
    expect(validateName('a\uD800b', mode)?.code).toBe('invalidCharacter');
    expect(validateName('a\uDC00', mode)?.message).toContain('U+DC00');
    expect(validateName('a\uD83D\uDE00', mode)).toBeUndefined();
  });

  it.each(modes)('refuses a trailing dot or space (%s)', (mode) => {
    expect(validateName('name.', mode)?.code).toBe('trailingDotOrSpace');
    expect(validateName('name.', mode)?.message).toContain('dot');
    expect(validateName('name ', mode)?.code).toBe('trailingDotOrSpace');
    expect(validateName('name ', mode)?.message).toContain('space');
    expect(validateName('...', mode)?.code).toBe('trailingDotOrSpace');
  });

  it('refuses a leading tilde on business only', () => {
    expect(validateName('~backup', 'personal')).toBeUndefined();
    expect(validateName('~backup', 'business')?.code).toBe('leadingTilde');
    expect(validateName('a~', 'business')).toBeUndefined();
  });

  it('refuses Office owner files (~$…) on business with a specific message', () => {
    expect(validateName('~$report.docx', 'personal')).toBeUndefined();
    const problem = validateName('~$report.docx', 'business');
    expect(problem?.code).toBe('reservedPattern');
    expect(problem?.message).toContain('~$');
  });

  it.each(modes)('refuses reserved device names in any case, with or without extension (%s)', (mode) => {
    const devices = ['CON', 'PRN', 'AUX', 'NUL', ...Array.from({ length: 10 }, (_, i) => `COM${i}`),
      ...Array.from({ length: 10 }, (_, i) => `LPT${i}`)];
    for (const device of devices) {
      for (const name of [device, device.toLowerCase(), `${device}.txt`, `${device.toLowerCase()}.tar.gz`]) {
        const problem = validateName(name, mode);
        expect(problem?.code, name).toBe('reservedName');
        expect(problem?.message).toContain(device);
      }
    }
  });

  it.each(modes)('refuses reserved patterns (%s)', (mode) => {
    for (const name of ['.lock', '.LOCK', 'desktop.ini', 'Desktop.INI', '_vti_', 'my_vti_file', 'A_VTI_B.txt']) {
      expect(validateName(name, mode)?.code, name).toBe('reservedPattern');
    }
    expect(validateName('my_vti_file', mode)?.message).toContain('_vti_');
  });

  it.each(modes)('measures length in UTF-8 bytes (%s)', (mode) => {
    expect(validateName('a'.repeat(255), mode)).toBeUndefined();
    expect(validateName('a'.repeat(256), mode)?.code).toBe('tooLong');
    // 85 × 3 bytes = 255, 86 × 3 = 258
    expect(validateName('あ'.repeat(85), mode)).toBeUndefined();
    const problem = validateName('あ'.repeat(86), mode);
    expect(problem?.code).toBe('tooLong');
    expect(problem?.message).toContain('258');
    // 63 × 4 + 3 = 255
    expect(validateName('😀'.repeat(63) + 'abc', mode)).toBeUndefined();
    expect(validateName('😀'.repeat(64), mode)?.code).toBe('tooLong');
  });

  const allowedChar = fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: 1 })
    .filter((c) => validateName(`a${c}a`, { mode: 'business', refuseHashAndPercent: true }) === undefined);

  it('never throws, and any problem has a known code and a message', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), fc.constantFrom(...modes), (name, mode) => {
        const problem = validateName(name, mode);
        if (problem !== undefined) {
          expect(Object.keys(nameProblemErrno)).toContain(problem.code);
          expect(problem.message.length).toBeGreaterThan(10);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('accepts any name of allowed characters under 256 bytes (property)', () => {
    const safeName = fc
      .array(fc.oneof(fc.constantFrom('a', 'Z', '0', '_', '-', 'é', '日', '😀', '~', '$', '.', ' '), allowedChar), {
        minLength: 1,
        maxLength: 120,
      })
      .map((chars) => `n_${chars.join('')}x`)
      .filter((name) => utf8ByteLength(name) <= MAX_NAME_BYTES)
      .filter((name) => !name.toLowerCase().includes('_vti_'));
    fc.assert(
      fc.property(safeName, fc.constantFrom(...modes), (name, mode) => {
        expect(validateName(name, mode)).toBeUndefined();
      }),
      { numRuns: 1000 },
    );
  });

  it('business is at least as strict as personal (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme-ascii', maxLength: 40 }), (name) => {
        if (validateName(name, 'personal') !== undefined) {
          expect(validateName(name, 'business')).toBeDefined();
        }
        if (validateName(name, 'business') !== undefined) {
          expect(validateName(name, { mode: 'business', refuseHashAndPercent: true })).toBeDefined();
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('validatePath', () => {
  it('accepts the root and ordinary paths, with or without a leading slash', () => {
    expect(validatePath('/', 'personal')).toBeUndefined();
    expect(validatePath('', 'personal')).toBeUndefined();
    expect(validatePath('/a/b/c.txt', 'business')).toBeUndefined();
    expect(validatePath('a/b/c.txt', 'business')).toBeUndefined();
  });

  it('reports the first bad component', () => {
    const problem = validatePath('/docs/a:b/CON/x', 'personal');
    expect(problem).toMatchObject({ code: 'invalidCharacter', component: 'a:b' });
    expect(validatePath('/docs/CON.txt', 'personal')).toMatchObject({ code: 'reservedName', component: 'CON.txt' });
    expect(validatePath('/a/../b', 'personal')).toMatchObject({ code: 'dotName', component: '..' });
  });

  it('treats empty components as empty names', () => {
    expect(validatePath('/a//b', 'personal')?.code).toBe('empty');
    expect(validatePath('/a/b/', 'personal')?.code).toBe('empty');
  });

  it('refuses paths of 400 characters or more, counting the leading slash', () => {
    const segment = 'x'.repeat(98);
    // four segments: "/" + 98, four times = 396 characters
    const path396 = `/${segment}/${segment}/${segment}/${segment}`;
    expect(path396.length).toBe(396);
    expect(validatePath(path396 + '/ab', 'personal')).toBeUndefined(); // 399
    expect(validatePath((path396 + '/abc').slice(1), 'personal')?.code).toBe('pathTooLong'); // 400 as the server sees it
    const problem = validatePath(path396 + '/abc', 'personal');
    expect(problem?.code).toBe('pathTooLong');
    expect(problem?.message).toContain('400');
    expect(problem?.component).toBeUndefined();
  });

  it('never throws (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 600 }), fc.constantFrom(...modes), (path, mode) => {
        validatePath(path, mode);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('nameKey', () => {
  it('folds case and Unicode normalisation forms together', () => {
    expect(nameKey('Report.DOCX')).toBe(nameKey('report.docx'));
    expect(nameKey('Cafe\u0301')).toBe(nameKey('café'));
    expect(nameKey('ÄRGER')).toBe('ärger');
    expect(nameKey('a.txt')).not.toBe(nameKey('b.txt'));
  });

  it('is idempotent (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 30 }), (name) => {
        expect(nameKey(nameKey(name))).toBe(nameKey(name));
      }),
    );
  });
});

describe('nameProblemErrno', () => {
  it('maps each problem to a POSIX errno name', () => {
    expect(nameProblemErrno.invalidCharacter).toBe('EINVAL');
    expect(nameProblemErrno.reservedName).toBe('EINVAL');
    expect(nameProblemErrno.tooLong).toBe('ENAMETOOLONG');
    expect(nameProblemErrno.pathTooLong).toBe('ENAMETOOLONG');
    expect(nameProblemErrno.empty).toBe('ENOENT');
  });
});

describe('splitExtension', () => {
  it('splits at the last dot, but not a leading or trailing one', () => {
    expect(splitExtension('a.txt')).toEqual({ stem: 'a', extension: '.txt' });
    expect(splitExtension('a.tar.gz')).toEqual({ stem: 'a.tar', extension: '.gz' });
    expect(splitExtension('.bashrc')).toEqual({ stem: '.bashrc', extension: '' });
    expect(splitExtension('.config.json')).toEqual({ stem: '.config', extension: '.json' });
    expect(splitExtension('Makefile')).toEqual({ stem: 'Makefile', extension: '' });
    expect(splitExtension('odd.')).toEqual({ stem: 'odd.', extension: '' });
  });
});

describe('conflictFreeName', () => {
  const takenSet = (...names: string[]) => {
    const keys = new Set(names.map(nameKey));
    return (key: string) => keys.has(key);
  };

  it('keeps a free name as it is', () => {
    expect(conflictFreeName('a.txt', takenSet('b.txt'))).toBe('a.txt');
  });

  it('numbers before the extension, case-insensitively', () => {
    expect(conflictFreeName('a.txt', takenSet('A.TXT'))).toBe('a 1.txt');
    expect(conflictFreeName('a.txt', takenSet('a.txt', 'a 1.txt', 'A 2.txt'))).toBe('a 3.txt');
    expect(conflictFreeName('Folder', takenSet('folder'))).toBe('Folder 1');
    expect(conflictFreeName('.bashrc', takenSet('.bashrc'))).toBe('.bashrc 1');
    expect(conflictFreeName('a.tar.gz', takenSet('a.tar.gz'))).toBe('a.tar 1.gz');
  });

  it('passes name keys to the predicate', () => {
    const asked: string[] = [];
    conflictFreeName('Ab.TXT', (key) => {
      asked.push(key);
      return asked.length < 3;
    });
    expect(asked).toEqual(['ab.txt', 'ab 1.txt', 'ab 2.txt']);
  });

  it('shortens the stem so the result stays within 255 bytes', () => {
    const long = 'é'.repeat(125) + '.docx'; // 250 + 5 bytes
    const result = conflictFreeName(long, takenSet(long));
    expect(result.endsWith(' 1.docx')).toBe(true);
    expect(utf8ByteLength(result)).toBeLessThanOrEqual(MAX_NAME_BYTES);
    expect(validateName(result, STRICT)).toBeUndefined();
  });

  it('never returns a taken name, and the result stays valid (property)', () => {
    const validName = fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 80 })
      .filter((name) => validateName(name, STRICT) === undefined);
    fc.assert(
      fc.property(validName, fc.array(fc.nat({ max: 30 }), { maxLength: 30 }), (name, numbers) => {
        const { stem, extension } = splitExtension(name);
        const taken = new Set([nameKey(name), ...numbers.map((n) => nameKey(`${stem} ${n}${extension}`))]);
        const result = conflictFreeName(name, (key) => taken.has(key));
        expect(taken.has(nameKey(result))).toBe(false);
        expect(validateName(result, STRICT)).toBeUndefined();
      }),
      { numRuns: 500 },
    );
  });
});

describe('conflictCopyName', () => {
  const when = new Date(Date.UTC(2026, 10, 27, 14, 30, 5));

  it('keeps the extension and stamps the UTC time and host', () => {
    expect(conflictCopyName('report.docx', when, 'laptop')).toBe('report (conflict 2026-11-27 143005 laptop).docx');
    expect(conflictCopyName('Makefile', when, 'laptop')).toBe('Makefile (conflict 2026-11-27 143005 laptop)');
    expect(conflictCopyName('.bashrc', when, 'laptop')).toBe('.bashrc (conflict 2026-11-27 143005 laptop)');
    expect(conflictCopyName('a.tar.gz', when, 'pc')).toBe('a.tar (conflict 2026-11-27 143005 pc).gz');
  });

  it('pads single-digit fields', () => {
    const early = new Date(Date.UTC(2027, 0, 2, 3, 4, 5));
    expect(conflictCopyName('x.txt', early, 'h')).toBe('x (conflict 2027-01-02 030405 h).txt');
  });

  it('makes the host safe for both drive kinds, or leaves it out', () => {
    expect(conflictCopyName('x.txt', when, 'a/b:c#d%(e)')).toBe('x (conflict 2026-11-27 143005 a-b-c-d--e-).txt');
    expect(conflictCopyName('x.txt', when, '')).toBe('x (conflict 2026-11-27 143005).txt');
    expect(conflictCopyName('x.txt', when, '   ')).toBe('x (conflict 2026-11-27 143005).txt');
    expect(conflictCopyName('x.txt', when, 'my_VTI_box')).toBe('x (conflict 2026-11-27 143005 my-VTI-box).txt');
  });

  it('gives a valid name within 255 bytes for any valid name and host (property)', () => {
    const validName = fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 200 })
      .filter((name) => validateName(name, STRICT) === undefined);
    fc.assert(
      fc.property(
        validName,
        fc.date({ min: new Date(Date.UTC(2000, 0, 1)), max: new Date(Date.UTC(2200, 0, 1)), noInvalidDate: true }),
        fc.string({ unit: 'binary', maxLength: 300 }),
        (name, date, host) => {
          const result = conflictCopyName(name, date, host);
          expect(validateName(result, STRICT)).toBeUndefined();
          expect(nameKey(result)).not.toBe(nameKey(name));
          // The suffix is at most 94 bytes, so a short extension always fits after it.
          const { extension } = splitExtension(name);
          if (utf8ByteLength(extension) <= 20) expect(result.endsWith(`)${extension}`)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('limits', () => {
  it('match OneDrive', () => {
    expect(MAX_NAME_BYTES).toBe(255);
    expect(MAX_PATH_CHARS).toBe(400);
  });
});

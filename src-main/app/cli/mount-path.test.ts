import { describe, expect, it } from 'vitest';
import { PathOutsideMountError, toMountPath } from './mount-path.ts';

describe('toMountPath', () => {
  const mnt = '/home/ann/OneDrive';

  it('maps absolute paths inside the mount point', () => {
    expect(toMountPath('/home/ann/OneDrive/Photos/2024', mnt, '/tmp')).toBe('/Photos/2024');
    expect(toMountPath('/home/ann/OneDrive', mnt, '/tmp')).toBe('/');
    expect(toMountPath('/home/ann/OneDrive/', mnt, '/tmp')).toBe('/');
    expect(toMountPath('/home/ann/OneDrive/a/../b', mnt, '/tmp')).toBe('/b');
  });

  it('refuses absolute paths outside it, including look-alike prefixes', () => {
    expect(() => toMountPath('/home/ann/OneDrive2/x', mnt, '/tmp')).toThrow(PathOutsideMountError);
    expect(() => toMountPath('/etc/passwd', mnt, '/tmp')).toThrow(/not inside the OneMount folder/);
    expect(() => toMountPath('../../etc', mnt, '/tmp')).toThrow(PathOutsideMountError);
  });

  it('takes relative paths from the current directory inside the mount, else from the mount point', () => {
    expect(toMountPath('2024', mnt, '/home/ann/OneDrive/Photos')).toBe('/Photos/2024');
    expect(toMountPath('.', mnt, '/home/ann/OneDrive/Photos')).toBe('/Photos');
    expect(toMountPath('Photos/2024', mnt, '/home/ann')).toBe('/Photos/2024');
    expect(toMountPath('..', mnt, '/home/ann/OneDrive/Photos')).toBe('/');
  });
});

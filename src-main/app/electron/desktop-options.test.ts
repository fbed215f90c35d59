import { describe, expect, it } from 'vitest';
import { engineCommand, engineEnvironment, parseDesktopOptions } from './desktop-options.ts';

describe('desktop options', () => {
  it('defaults: the default account at ~/OneDrive on the system node', () => {
    expect(parseDesktopOptions(['/opt/OneMount/onemount', '--no-sandbox'], {}, '/home/me')).toEqual({
      account: 'default',
      mountpoint: '/home/me/OneDrive',
      hidden: false,
      nodePath: 'node',
    });
  });

  it('takes switches in both spellings, then ONEMOUNT_* variables', () => {
    const o = parseDesktopOptions(['electron', 'main.js', '--account=work', '--mount', 'Drives/Work', '--hidden'], { ONEMOUNT_EMULATOR_URL: 'http://127.0.0.1:9/v1.0', ONEMOUNT_NODE: '/usr/bin/node20' }, '/home/me');
    expect(o).toEqual({ account: 'work', mountpoint: '/home/me/Drives/Work', emulatorUrl: 'http://127.0.0.1:9/v1.0', hidden: true, nodePath: '/usr/bin/node20' });
    expect(parseDesktopOptions(['x', '--emulator-url', 'http://e/v1.0'], { ONEMOUNT_EMULATOR_URL: 'http://ignored' }, '/h').emulatorUrl).toBe('http://e/v1.0');
  });

  it("the packaged app's own Node unless ONEMOUNT_NODE names another", () => {
    const bundled = '/opt/OneMount/resources/node/bin/node';
    expect(parseDesktopOptions([], {}, '/h', bundled).nodePath).toBe(bundled);
    expect(parseDesktopOptions([], { ONEMOUNT_NODE: '/usr/bin/node' }, '/h', bundled).nodePath).toBe('/usr/bin/node');
  });

  it('turns into the daemon command line', () => {
    const o = parseDesktopOptions(['x', '--emulator-url=http://e/v1.0'], {}, '/home/me');
    expect(engineCommand(o, '/opt/OneMount/resources/app')).toEqual({
      command: 'node',
      args: ['/opt/OneMount/resources/app/dist/engine/onemount.js', 'daemon', '/home/me/OneDrive', '--account', 'default', '--emulator-url', 'http://e/v1.0'],
    });
    expect(engineCommand(parseDesktopOptions([], {}, '/h'), '/a').args).not.toContain('--emulator-url');
  });

  it("runs the engine with glibc's malloc capped at two arenas, unless the user set a cap", () => {
    expect(engineEnvironment({ HOME: '/home/me' })).toEqual({ HOME: '/home/me', MALLOC_ARENA_MAX: '2' });
    expect(engineEnvironment({ MALLOC_ARENA_MAX: '8' }).MALLOC_ARENA_MAX).toBe('8');
    expect(engineEnvironment({ MALLOC_ARENA_MAX: '' }).MALLOC_ARENA_MAX).toBe('2');
  });
});

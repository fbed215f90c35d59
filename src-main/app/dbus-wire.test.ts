import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { DBusConnection, DBusError, socketPathOf, splitSignature, systemBusAddress } from './dbus-wire.ts';

describe('D-Bus addresses and signatures', () => {
  it('finds the socket of an address, abstract ones included', () => {
    expect(socketPathOf('unix:path=/run/dbus/system_bus_socket')).toBe('/run/dbus/system_bus_socket');
    expect(socketPathOf('unix:path=/tmp/dbus-abc,guid=0123')).toBe('/tmp/dbus-abc');
    expect(socketPathOf('tcp:host=x,port=1;unix:abstract=/tmp/dbus-XY,guid=1')).toBe('\0/tmp/dbus-XY');
    expect(() => socketPathOf('tcp:host=localhost,port=1')).toThrow(/no unix socket/);
    expect(systemBusAddress({})).toBe('unix:path=/var/run/dbus/system_bus_socket');
    expect(systemBusAddress({ DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/x' })).toBe('unix:path=/x');
  });

  it('splits signatures into complete types', () => {
    expect(splitSignature('ssa(ssssuu)u')).toEqual(['s', 's', 'a(ssssuu)', 'u']);
    expect(splitSignature('a{sv}aay(b(x))')).toEqual(['a{sv}', 'aay', '(b(x))']);
    expect(splitSignature('')).toEqual([]);
    expect(() => splitSignature('(ss')).toThrow();
  });
});

describe('a connection to a real dbus-daemon', () => {
  it('says Hello, calls methods, hears matched signals and reports errors', { timeout: 20_000 }, async () => {
    const daemon = spawn('dbus-daemon', ['--session', '--print-address', '--nofork'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const address = await new Promise<string>((resolve) => createInterface({ input: daemon.stdout! }).once('line', resolve));
      const bus = await DBusConnection.open(address);
      try {
        expect(bus.uniqueName).toMatch(/^:1\.\d+$/);
        const [names] = await bus.call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'ListNames' });
        expect(names).toContain(bus.uniqueName);
        await expect(bus.call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'NoSuchMethod' })).rejects.toBeInstanceOf(DBusError);
        await bus.addMatch("type='signal',interface='org.freedesktop.login1.Manager'");
        const heard = new Promise((resolve) => bus.once('signal', (m) => resolve([m.member, m.body])));
        spawn('dbus-send', [`--bus=${address}`, '--type=signal', '/org/freedesktop/login1', 'org.freedesktop.login1.Manager.PrepareForSleep', 'boolean:true']);
        expect(await heard).toEqual(['PrepareForSleep', [true]]);
      } finally {
        bus.close();
      }
    } finally {
      daemon.kill();
    }
  });

  it('refuses an address where no bus listens', { timeout: 10_000 }, async () => {
    await expect(DBusConnection.open('unix:path=/nonexistent/bus')).rejects.toThrow();
  });
});

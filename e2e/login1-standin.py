#!/usr/bin/env python3
"""A stand-in for systemd-logind's org.freedesktop.login1.Manager on a private D-Bus bus, for tests.

It serves what a sleep inhibitor needs: Inhibit(what, who, why, mode) answers a file descriptor (the
write end of a pipe, passed with SCM_RIGHTS as logind does; the lock holds while any copy of it is
open), ListInhibitors() answers the locks held (what `systemd-inhibit --list` shows), the
InhibitDelayMaxUSec property answers how long a delay lock may hold the system (3 s), and the test
makes it announce PrepareForSleep / PrepareForShutdown by writing lines to its standard input:
`sleep true`, `sleep false`, `shutdown true`. It reports on standard output, one JSON object a line:
{"event": "ready"}, {"event": "inhibit", ...}, {"event": "released", ...}. It exits when its
standard input closes. Python's standard library only: its sockets can pass descriptors, Node's cannot.
"""
import json
import os
import selectors
import socket
import struct
import sys

NAME = 'org.freedesktop.login1'
PATH = '/org/freedesktop/login1'
IFACE = 'org.freedesktop.login1.Manager'
# logind's InhibitDelayMaxSec (5 s by default), shorter here so the test shows the engine reads it.
DELAY_USEC = int(os.environ.get('STANDIN_DELAY_USEC', '3000000'))


def say(**event):
    sys.stdout.write(json.dumps(event) + '\n')
    sys.stdout.flush()


def socket_path(address):
    for entry in address.split(';'):
        transport, _, rest = entry.partition(':')
        if transport != 'unix':
            continue
        params = dict(kv.split('=', 1) for kv in rest.split(','))
        if 'path' in params:
            return params['path']
        if 'abstract' in params:
            return '\0' + params['abstract']
    raise SystemExit(f'no unix socket in {address}')


class Writer:
    def __init__(self):
        self.buf = bytearray()

    def align(self, n):
        self.buf += b'\0' * ((n - len(self.buf) % n) % n)

    def u32(self, v):
        self.align(4)
        self.buf += struct.pack('<I', v)

    def string(self, v):
        data = v.encode()
        self.u32(len(data))
        self.buf += data + b'\0'

    def sig(self, v):
        self.buf += bytes([len(v)]) + v.encode() + b'\0'

    def value(self, t, v):
        if t in 'uh':
            self.u32(v)
        elif t == 'b':
            self.u32(1 if v else 0)
        elif t in 'so':
            self.string(v)
        elif t == 'g':
            self.sig(v)
        elif t == 't':
            self.align(8)
            self.buf += struct.pack('<Q', v)
        elif t == 'v':
            inner, value = v
            self.sig(inner)
            self.value(inner, value)
        elif t == 'a(ssssuu)':
            self.align(4)
            at = len(self.buf)
            self.u32(0)
            self.align(8)
            start = len(self.buf)
            for item in v:
                self.align(8)
                for tt, vv in zip('ssssuu', item):
                    self.value(tt, vv)
            struct.pack_into('<I', self.buf, at, len(self.buf) - start)
        else:
            raise ValueError(t)


def split_sig(sig):
    out, i = [], 0
    while i < len(sig):
        j = i
        while sig[j] == 'a':
            j += 1
        if sig[j] == '(':
            depth = 0
            while True:
                depth += sig[j] == '('
                depth -= sig[j] == ')'
                j += 1
                if depth == 0:
                    break
        else:
            j += 1
        out.append(sig[i:j])
        i = j
    return out


def message(kind, serial, fields, sig='', body=(), fds=0):
    b = Writer()
    for t, v in zip(split_sig(sig), body):
        b.value(t, v)
    h = Writer()
    h.buf += b'l' + bytes([kind, 0, 1])
    h.u32(len(b.buf))
    h.u32(serial)
    all_fields = list(fields)
    if sig:
        all_fields.append((8, 'g', sig))
    if fds:
        all_fields.append((9, 'u', fds))
    arr = Writer()
    for code, t, v in all_fields:
        arr.align(8)
        arr.buf += bytes([code])
        arr.sig(t)
        arr.value(t, v)
    h.u32(len(arr.buf))
    h.align(8)
    h.buf += arr.buf
    h.align(8)
    return bytes(h.buf + b.buf)


class Reader:
    def __init__(self, buf, at):
        self.buf, self.at = buf, at

    def align(self, n):
        self.at += (n - self.at % n) % n

    def value(self, t):
        if t in 'ubh':
            self.align(4)
            v = struct.unpack_from('<I', self.buf, self.at)[0]
            self.at += 4
            return bool(v) if t == 'b' else v
        if t in 'so':
            n = self.value('u')
            v = self.buf[self.at:self.at + n].decode()
            self.at += n + 1
            return v
        if t == 'g':
            n = self.buf[self.at]
            v = self.buf[self.at + 1:self.at + 1 + n].decode()
            self.at += n + 2
            return v
        if t == 'y':
            self.at += 1
            return self.buf[self.at - 1]
        if t == 'v':
            return self.value(self.value('g'))
        if t == 'a(yv)':
            n = self.value('u')
            self.align(8)
            end, out = self.at + n, {}
            while self.at < end:
                self.align(8)
                code = self.value('y')
                out[code] = self.value('v')
            return out
        raise ValueError(t)


def parse(buf):
    r = Reader(buf, 12)
    fields = r.value('a(yv)')
    r.align(8)
    sig = fields.get(8, '')
    body = [r.value(t) for t in split_sig(sig)] if all(t in 'ubhsog' for t in sig) else []
    return buf[1], struct.unpack_from('<I', buf, 8)[0], fields, body


class Bus:
    def __init__(self, address):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(socket_path(address))
        self.serial = 0
        self.input = b''
        uid = str(os.getuid()).encode().hex()
        self.sock.sendall(b'\0AUTH EXTERNAL ' + uid.encode() + b'\r\n')
        self.expect(b'OK ')
        self.sock.sendall(b'NEGOTIATE_UNIX_FD\r\n')
        self.expect(b'AGREE_UNIX_FD')
        self.sock.sendall(b'BEGIN\r\n')

    def expect(self, prefix):
        while b'\r\n' not in self.input:
            self.input += self.sock.recv(4096)
        line, self.input = self.input.split(b'\r\n', 1)
        if not line.startswith(prefix):
            raise SystemExit(f'bus said {line!r}')

    def send(self, kind, fields, sig='', body=(), fd=None):
        self.serial += 1
        data = message(kind, self.serial, fields, sig, body, fds=1 if fd is not None else 0)
        if fd is None:
            self.sock.sendall(data)
        else:
            self.sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack('i', fd))])
        return self.serial

    def call(self, dest, path, iface, member, sig='', body=()):
        return self.send(1, [(1, 'o', path), (2, 's', iface), (3, 's', member), (6, 's', dest)], sig, body)

    def messages(self):
        """Complete messages received so far (call after the socket was readable)."""
        chunk = self.sock.recv(65536)
        if not chunk:
            raise SystemExit('the bus closed the connection')
        self.input += chunk
        while len(self.input) >= 16:
            body_len, fields_len = struct.unpack_from('<I', self.input, 4)[0], struct.unpack_from('<I', self.input, 12)[0]
            total = (16 + fields_len + 7) // 8 * 8 + body_len
            if len(self.input) < total:
                return
            raw, self.input = self.input[:total], self.input[total:]
            yield parse(raw)


def main():
    bus = Bus(sys.argv[1])
    bus.call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'Hello')
    bus.call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'RequestName', 'su', (NAME, 4))
    held = {}  # read end of the pipe -> inhibitor
    sel = selectors.DefaultSelector()
    sel.register(bus.sock, selectors.EVENT_READ, 'bus')
    sel.register(sys.stdin, selectors.EVENT_READ, 'stdin')
    ready = False
    while True:
        for key, _ in sel.select():
            if key.data == 'stdin':
                line = sys.stdin.readline()
                if not line:
                    return
                what, _, value = line.strip().partition(' ')
                member = {'sleep': 'PrepareForSleep', 'shutdown': 'PrepareForShutdown'}[what]
                bus.send(4, [(1, 'o', PATH), (2, 's', IFACE), (3, 's', member)], 'b', (value == 'true',))
                say(event='signal', member=member, value=value == 'true')
            elif key.data == 'bus':
                for kind, serial, fields, body in bus.messages():
                    if kind == 2 and not ready and fields.get(5) == 2:
                        ready = True
                        say(event='ready')
                    if kind != 1:
                        continue
                    reply = [(5, 'u', serial), (6, 's', fields.get(7, ''))]
                    member = fields.get(3)
                    if member == 'Inhibit' and fields.get(2) == IFACE:
                        r, w = os.pipe()
                        what, who, why, mode = body
                        held[r] = (what, who, why, mode, os.getuid(), 0)
                        sel.register(r, selectors.EVENT_READ, 'lock')
                        bus.send(2, reply, 'h', (0,), fd=w)
                        os.close(w)
                        say(event='inhibit', what=what, who=who, why=why, mode=mode)
                    elif member == 'ListInhibitors' and fields.get(2) == IFACE:
                        bus.send(2, reply, 'a(ssssuu)', (list(held.values()),))
                    elif member == 'Get' and fields.get(2) == 'org.freedesktop.DBus.Properties' and body == [IFACE, 'InhibitDelayMaxUSec']:
                        bus.send(2, reply, 'v', (('t', DELAY_USEC),))
                    else:
                        bus.send(3, reply + [(4, 's', 'org.freedesktop.DBus.Error.UnknownMethod')], 's', (f'no method {member}',))
            else:
                # Every copy of the write end is closed: the lock is released.
                fd = key.fd
                if not os.read(fd, 1):
                    sel.unregister(fd)
                    os.close(fd)
                    what, who, why, mode, _, _ = held.pop(fd)
                    say(event='released', what=what, who=who, why=why, mode=mode)


if __name__ == '__main__':
    main()

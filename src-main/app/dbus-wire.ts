/**
 * A small D-Bus client: enough to call methods with basic arguments and to hear signals, on the
 * system bus or any bus address (the D-Bus specification: SASL EXTERNAL, the little-endian wire
 * format, Hello, AddMatch). It does not pass file descriptors — Node's sockets cannot carry them —
 * so what needs one (logind's Inhibit lock) is left to a program that can (systemd-inhibit).
 */
import { connect, type Socket } from 'node:net';
import { EventEmitter } from 'node:events';
import { DEFAULT_TIMEOUTS } from '../lifecycle/timeout-policy.ts';

export const SYSTEM_BUS_DEFAULT = 'unix:path=/var/run/dbus/system_bus_socket';

/** The system bus's address: $DBUS_SYSTEM_BUS_ADDRESS (as libdbus and sd-bus take it), else the standard socket. */
export function systemBusAddress(env: NodeJS.ProcessEnv = process.env): string {
  return env.DBUS_SYSTEM_BUS_ADDRESS || SYSTEM_BUS_DEFAULT;
}

/** A socket path from a D-Bus address (`unix:path=…` or `unix:abstract=…`; the first usable of a `;` list). */
export function socketPathOf(address: string): string {
  for (const entry of address.split(';')) {
    const [transport, rest = ''] = entry.split(/:(.*)/s, 2) as [string, string?];
    if (transport !== 'unix') continue;
    const params = new Map(rest.split(',').map((kv) => kv.split(/=(.*)/s, 2) as [string, string]));
    const unescape = (v: string) => decodeURIComponent(v);
    if (params.has('path')) return unescape(params.get('path')!);
    if (params.has('abstract')) return '\0' + unescape(params.get('abstract')!);
  }
  throw new Error(`no unix socket in the D-Bus address '${address}'`);
}

const enum MessageType {
  MethodCall = 1,
  MethodReturn = 2,
  Error = 3,
  Signal = 4,
}

const enum Field {
  Path = 1,
  Interface = 2,
  Member = 3,
  ErrorName = 4,
  ReplySerial = 5,
  Destination = 6,
  Sender = 7,
  Signature = 8,
}

export type DBusValue = number | bigint | boolean | string | DBusValue[] | { signature: string; value: DBusValue };

export interface DBusMessage {
  type: number;
  serial: number;
  path?: string;
  interface?: string;
  member?: string;
  errorName?: string;
  replySerial?: number;
  sender?: string;
  signature: string;
  body: DBusValue[];
}

// ── marshalling ───────────────────────────────────────────────────────────

class Writer {
  private buf = Buffer.alloc(256);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  align(n: number): void {
    const pad = (n - (this.length % n)) % n;
    this.room(pad);
    this.buf.fill(0, this.length, this.length + pad);
    this.length += pad;
  }
  byte(v: number): void {
    this.room(1);
    this.buf.writeUInt8(v, this.length++);
  }
  uint32(v: number): void {
    this.align(4);
    this.room(4);
    this.buf.writeUInt32LE(v, this.length);
    this.length += 4;
  }
  string(v: string): void {
    const bytes = Buffer.from(v, 'utf8');
    this.uint32(bytes.length);
    this.room(bytes.length + 1);
    bytes.copy(this.buf, this.length);
    this.length += bytes.length;
    this.buf.writeUInt8(0, this.length++);
  }
  signature(v: string): void {
    const bytes = Buffer.from(v, 'ascii');
    this.byte(bytes.length);
    this.room(bytes.length + 1);
    bytes.copy(this.buf, this.length);
    this.length += bytes.length;
    this.buf.writeUInt8(0, this.length++);
  }
  value(type: string, v: DBusValue): void {
    switch (type) {
      case 'y':
        return this.byte(Number(v));
      case 'b':
        return this.uint32(v ? 1 : 0);
      case 'u':
      case 'h':
        return this.uint32(Number(v));
      case 'i':
        this.align(4);
        this.room(4);
        this.buf.writeInt32LE(Number(v), this.length);
        this.length += 4;
        return;
      case 's':
      case 'o':
        return this.string(String(v));
      case 'g':
        return this.signature(String(v));
      case 'v': {
        const variant = v as { signature: string; value: DBusValue };
        this.signature(variant.signature);
        return this.value(variant.signature, variant.value);
      }
      default:
        throw new Error(`cannot send D-Bus type '${type}'`);
    }
  }
  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

/** Splits a signature into its complete types (`ssa(ss)u` → `s`, `s`, `a(ss)`, `u`). */
export function splitSignature(signature: string): string[] {
  const types: string[] = [];
  let at = 0;
  while (at < signature.length) {
    const end = completeTypeEnd(signature, at);
    types.push(signature.slice(at, end));
    at = end;
  }
  return types;
}

function completeTypeEnd(sig: string, at: number): number {
  const c = sig[at];
  if (c === 'a') return completeTypeEnd(sig, at + 1);
  if (c === '(' || c === '{') {
    const close = c === '(' ? ')' : '}';
    let i = at + 1;
    while (sig[i] !== close) {
      if (i >= sig.length) throw new Error(`unbalanced D-Bus signature '${sig}'`);
      i = completeTypeEnd(sig, i);
    }
    return i + 1;
  }
  if (c === undefined) throw new Error(`truncated D-Bus signature '${sig}'`);
  return at + 1;
}

function alignmentOf(type: string): number {
  switch (type[0]) {
    case 'y':
    case 'g':
    case 'v':
      return 1;
    case 'n':
    case 'q':
      return 2;
    case 'x':
    case 't':
    case 'd':
    case '(':
    case '{':
      return 8;
    default:
      return 4;
  }
}

class Reader {
  constructor(
    private readonly buf: Buffer,
    public at: number,
  ) {}

  align(n: number): void {
    this.at += (n - (this.at % n)) % n;
  }
  value(type: string): DBusValue {
    this.align(alignmentOf(type));
    switch (type[0]) {
      case 'y':
        return this.buf.readUInt8(this.at++);
      case 'b':
        return this.u32() !== 0;
      case 'n':
        return this.take(2, () => this.buf.readInt16LE(this.at));
      case 'q':
        return this.take(2, () => this.buf.readUInt16LE(this.at));
      case 'i':
        return this.take(4, () => this.buf.readInt32LE(this.at));
      case 'u':
      case 'h':
        return this.u32();
      case 'x':
        return this.take(8, () => this.buf.readBigInt64LE(this.at));
      case 't':
        return this.take(8, () => this.buf.readBigUInt64LE(this.at));
      case 'd':
        return this.take(8, () => this.buf.readDoubleLE(this.at));
      case 's':
      case 'o': {
        const length = this.u32();
        const text = this.buf.toString('utf8', this.at, this.at + length);
        this.at += length + 1;
        return text;
      }
      case 'g': {
        const length = this.buf.readUInt8(this.at++);
        const text = this.buf.toString('ascii', this.at, this.at + length);
        this.at += length + 1;
        return text;
      }
      case 'v': {
        const signature = this.value('g') as string;
        return { signature, value: this.value(signature) };
      }
      case 'a': {
        const length = this.u32();
        const element = type.slice(1);
        this.align(alignmentOf(element));
        const end = this.at + length;
        const items: DBusValue[] = [];
        while (this.at < end) items.push(this.value(element));
        return items;
      }
      case '(':
      case '{':
        return splitSignature(type.slice(1, -1)).map((t) => this.value(t));
      default:
        throw new Error(`cannot read D-Bus type '${type}'`);
    }
  }
  private u32(): number {
    return this.take(4, () => this.buf.readUInt32LE(this.at));
  }
  private take<T>(size: number, read: () => T): T {
    const v = read();
    this.at += size;
    return v;
  }
}

function encodeMessage(m: { type: MessageType; serial: number; flags?: number; path?: string; interface?: string; member?: string; destination?: string; signature?: string; body?: DBusValue[] }): Buffer {
  const body = new Writer();
  const types = m.signature ? splitSignature(m.signature) : [];
  types.forEach((t, i) => body.value(t, m.body![i]!));
  const w = new Writer();
  w.byte('l'.charCodeAt(0));
  w.byte(m.type);
  w.byte(m.flags ?? 0);
  w.byte(1);
  w.uint32(body.length);
  w.uint32(m.serial);
  const fields: Array<[Field, string, DBusValue]> = [];
  if (m.path) fields.push([Field.Path, 'o', m.path]);
  if (m.interface) fields.push([Field.Interface, 's', m.interface]);
  if (m.member) fields.push([Field.Member, 's', m.member]);
  if (m.destination) fields.push([Field.Destination, 's', m.destination]);
  if (m.signature) fields.push([Field.Signature, 'g', m.signature]);
  const array = new Writer();
  for (const [code, type, value] of fields) {
    array.align(8);
    array.byte(code);
    array.signature(type);
    array.value(type, value);
  }
  w.uint32(array.length);
  // The array's elements are structs, aligned to 8 from the message start (offset 16 is).
  w.align(8);
  const out = Buffer.concat([w.bytes(), array.bytes()]);
  const padded = Buffer.alloc(Math.ceil(out.length / 8) * 8);
  out.copy(padded);
  return Buffer.concat([padded, body.bytes()]);
}

/** The length of the message at the start of `buf`, or undefined while its header is incomplete. */
function messageLength(buf: Buffer): number | undefined {
  if (buf.length < 16) return undefined;
  if (buf[0] !== 'l'.charCodeAt(0)) throw new Error('big-endian D-Bus messages are not supported');
  const bodyLength = buf.readUInt32LE(4);
  const fieldsLength = buf.readUInt32LE(12);
  return Math.ceil((16 + fieldsLength) / 8) * 8 + bodyLength;
}

function decodeMessage(buf: Buffer): DBusMessage {
  const r = new Reader(buf, 12);
  const fields = r.value('a(yv)') as Array<[number, { value: DBusValue }]>;
  const headerEnd = Math.ceil(r.at / 8) * 8;
  const get = (code: Field) => fields.find(([c]) => c === code)?.[1].value;
  const signature = (get(Field.Signature) as string | undefined) ?? '';
  const body = new Reader(buf, headerEnd);
  const message: DBusMessage = { type: buf[1]!, serial: buf.readUInt32LE(8), signature, body: splitSignature(signature).map((t) => body.value(t)) };
  const text = (code: Field) => get(code) as string | undefined;
  const path = text(Field.Path);
  if (path !== undefined) message.path = path;
  const iface = text(Field.Interface);
  if (iface !== undefined) message.interface = iface;
  const member = text(Field.Member);
  if (member !== undefined) message.member = member;
  const errorName = text(Field.ErrorName);
  if (errorName !== undefined) message.errorName = errorName;
  const sender = text(Field.Sender);
  if (sender !== undefined) message.sender = sender;
  const replySerial = get(Field.ReplySerial);
  if (typeof replySerial === 'number') message.replySerial = replySerial;
  return message;
}

export class DBusError extends Error {
  constructor(
    readonly errorName: string,
    message: string,
  ) {
    super(`${errorName}: ${message}`);
  }
}

interface DBusEvents {
  signal: [DBusMessage];
  close: [Error | undefined];
}

/** One connection to a bus. */
export class DBusConnection extends EventEmitter<DBusEvents> {
  private serial = 0;
  private readonly pending = new Map<number, { resolve: (m: DBusMessage) => void; reject: (e: Error) => void }>();
  private input: Buffer = Buffer.alloc(0);
  private closed = false;
  uniqueName = '';

  private constructor(private readonly socket: Socket) {
    super();
  }

  /** Connects, authenticates as this process's user and says Hello. */
  static async open(address: string, timeoutMs = DEFAULT_TIMEOUTS.localCallTimeoutMs): Promise<DBusConnection> {
    const socket = connect({ path: socketPathOf(address) });
    const timer = setTimeout(() => socket.destroy(new Error(`the D-Bus at ${address} did not answer within ${timeoutMs} ms`)), timeoutMs);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      const uid = String(process.getuid?.() ?? 0);
      socket.write(Buffer.concat([Buffer.from([0]), Buffer.from(`AUTH EXTERNAL ${Buffer.from(uid).toString('hex')}\r\n`)]));
      const line = await new Promise<string>((resolve, reject) => {
        let got = '';
        const onData = (d: Buffer) => {
          got += d.toString('latin1');
          const end = got.indexOf('\r\n');
          if (end < 0) return;
          socket.off('data', onData);
          if (got.length > end + 2) socket.unshift(Buffer.from(got.slice(end + 2), 'latin1'));
          resolve(got.slice(0, end));
        };
        socket.on('data', onData);
        socket.once('error', reject);
        socket.once('close', () => reject(new Error('the bus closed the connection during authentication')));
      });
      if (!line.startsWith('OK ')) throw new Error(`the bus refused authentication: ${line}`);
      socket.write('BEGIN\r\n');
      const connection = new DBusConnection(socket);
      connection.listen();
      const hello = await connection.call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'Hello' });
      connection.uniqueName = String(hello[0]);
      return connection;
    } catch (e) {
      socket.destroy();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  private listen(): void {
    this.socket.on('data', (chunk: Buffer) => {
      this.input = this.input.length ? Buffer.concat([this.input, chunk]) : chunk;
      for (;;) {
        const length = messageLength(this.input);
        if (length === undefined || this.input.length < length) return;
        const raw = this.input.subarray(0, length);
        this.input = this.input.subarray(length);
        let message: DBusMessage;
        try {
          message = decodeMessage(raw);
        } catch (e) {
          this.socket.destroy(e as Error);
          return;
        }
        this.dispatch(message);
      }
    });
    // The error ends the connection: 'close' follows and carries it to every caller waiting.
    let failure: Error | undefined;
    this.socket.on('error', (e) => (failure = e));
    this.socket.on('close', () => {
      this.closed = true;
      const error = new Error(`the D-Bus connection closed${failure ? `: ${failure.message}` : ''}`, { cause: failure });
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
      this.emit('close', undefined);
    });
  }

  private dispatch(m: DBusMessage): void {
    if (m.type === MessageType.Signal) {
      this.emit('signal', m);
      return;
    }
    if ((m.type === MessageType.MethodReturn || m.type === MessageType.Error) && m.replySerial !== undefined) {
      const waiter = this.pending.get(m.replySerial);
      if (!waiter) return;
      this.pending.delete(m.replySerial);
      if (m.type === MessageType.Error) waiter.reject(new DBusError(m.errorName ?? 'org.freedesktop.DBus.Error.Failed', typeof m.body[0] === 'string' ? m.body[0] : ''));
      else waiter.resolve(m);
    }
    // Method calls to us: this client exports nothing, and the bus does not require an answer.
  }

  /** Calls a method; resolves with the reply's body. */
  async call(c: { destination: string; path: string; interface: string; member: string; signature?: string; body?: DBusValue[] }): Promise<DBusValue[]> {
    if (this.closed) throw new Error('the D-Bus connection is closed');
    const serial = ++this.serial;
    const reply = new Promise<DBusMessage>((resolve, reject) => this.pending.set(serial, { resolve, reject }));
    this.socket.write(encodeMessage({ type: MessageType.MethodCall, serial, ...c }));
    return (await reply).body;
  }

  /** Asks the bus for signals matching `rule` (the AddMatch syntax). */
  async addMatch(rule: string): Promise<void> {
    await this.call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'AddMatch', signature: 's', body: [rule] });
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }
}

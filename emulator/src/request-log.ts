/** Every request the emulator saw, for tests to assert on (and client faults such as a token sent to storage). */
/** `identity`: the sign-in endpoints, served on the API listener but logged apart from Graph calls. */
export type Listener = 'api' | 'storage' | 'identity';

export interface LogEntry {
  seq: number;
  at: number;
  listener: Listener;
  method: string;
  path: string;
  status: number;
  authorization: boolean;
  range?: string;
  contentRange?: string;
  bytesIn: number;
  bytesOut: number;
  ms: number;
  /** Set when the connection ended before the response finished. */
  aborted?: boolean;
  /** Set when a fault knob produced the answer. */
  fault?: string;
}

export interface ClientFault {
  at: number;
  kind: 'authorization-on-storage' | 'retry-after-ignored';
  method: string;
  path: string;
  detail: string;
}

export class RequestLog {
  private entries: LogEntry[] = [];
  private faults: ClientFault[] = [];
  private seq = 0;
  /** API and storage requests begun and not yet answered (a long download is logged only when it ends). */
  inflight = 0;

  constructor(private readonly capacity = 200_000) {}

  add(entry: Omit<LogEntry, 'seq'>): LogEntry {
    const e = { ...entry, seq: ++this.seq };
    this.entries.push(e);
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
    return e;
  }

  addFault(f: ClientFault): void {
    this.faults.push(f);
  }

  /** Entries after `sinceSeq` (exclusive), optionally filtered. */
  list(filter: { since?: number; listener?: Listener; method?: string; pathIncludes?: string } = {}): LogEntry[] {
    return this.entries.filter(
      (e) =>
        e.seq > (filter.since ?? 0) &&
        (!filter.listener || e.listener === filter.listener) &&
        (!filter.method || e.method === filter.method) &&
        (!filter.pathIncludes || e.path.includes(filter.pathIncludes)),
    );
  }

  get lastSeq(): number {
    return this.seq;
  }

  clientFaults(): ClientFault[] {
    return [...this.faults];
  }

  clear(): void {
    this.entries = [];
    this.faults = [];
  }
}

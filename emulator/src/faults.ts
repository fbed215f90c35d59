/**
 * Fault knobs (docs/graph-api.md §10 and the emulator issue): latency, bandwidth, throttling with
 * Retry-After (and a detector for clients that ignore it), scripted errors, dropped connections.
 * Offline (refused connections) is the Emulator's job: it closes its listeners.
 */
import type { ClientFault, Listener } from './request-log.ts';

export interface ThrottleRule {
  status: 429 | 503;
  /** Seconds for the Retry-After header; omitted → no header (clients must back off on their own). */
  retryAfterSec?: number;
  /** Throttle the next N requests (default: until cleared). */
  count?: number;
  /** Or throttle each request with this probability (0..1). */
  rate?: number;
  listener?: Listener | 'both';
}

export interface ScriptedError {
  status: number;
  code: string;
  message?: string;
  innerCode?: string;
  /** How many matching requests fail (default 1). */
  count?: number;
  /** Skip this many matching requests first (e.g. fail the 3rd fragment: skip 2). */
  skip?: number;
  method?: string;
  pathIncludes?: string;
  listener?: Listener | 'both';
}

export interface FaultDecision {
  status: number;
  code: string;
  message: string;
  innerCode?: string;
  headers: Record<string, string>;
  fault: string;
}

export interface FaultSettings {
  latencyMs?: number;
  /** Caps downloads and upload-session fragments (each transfer on its own). */
  bandwidthBytesPerSec?: number;
  /** Cut the connection halfway through the body of the next N storage transfers (downloads and fragment uploads). */
  dropNextBodies?: number;
  /**
   * On the next N fragment uploads: store the fragment (committing the file if it was the last) but
   * drop the connection before answering. A session whose commit is deferred is dropped at its
   * commit (`POST <uploadUrl>`) instead of at its last fragment.
   */
  dropAfterCommitNext?: number;
  /** On the next N fragment uploads: accept only the first k bytes of the fragment (docs/graph-api.md §7.3). */
  partialAcceptNext?: { count: number; bytes: number };
  /** Send 401 when a storage request carries an Authorization header (the real service can). */
  rejectAuthOnStorage?: boolean;
}

export class Faults {
  latencyMs = 0;
  bandwidthBytesPerSec = 0;
  dropNextBodies = 0;
  dropAfterCommitNext = 0;
  partialAcceptNext: { count: number; bytes: number } = { count: 0, bytes: 0 };
  rejectAuthOnStorage = false;
  private throttles: ThrottleRule[] = [];
  private scripted: ScriptedError[] = [];
  /** Until this time (ms) the client was told to wait; a request before it is a violation. */
  private waitUntil = 0;
  private lastRetryAfterSec = 0;

  constructor(
    private readonly now: () => number,
    private readonly onClientFault: (f: ClientFault) => void,
  ) {}

  set(s: FaultSettings): void {
    if (s.latencyMs !== undefined) this.latencyMs = s.latencyMs;
    if (s.bandwidthBytesPerSec !== undefined) this.bandwidthBytesPerSec = s.bandwidthBytesPerSec;
    if (s.dropNextBodies !== undefined) this.dropNextBodies = s.dropNextBodies;
    if (s.dropAfterCommitNext !== undefined) this.dropAfterCommitNext = s.dropAfterCommitNext;
    if (s.partialAcceptNext !== undefined) this.partialAcceptNext = { ...s.partialAcceptNext };
    if (s.rejectAuthOnStorage !== undefined) this.rejectAuthOnStorage = s.rejectAuthOnStorage;
  }

  throttle(rule: ThrottleRule): void {
    this.throttles.push({ ...rule });
  }

  failNext(err: ScriptedError): void {
    this.scripted.push({ ...err });
  }

  reset(): void {
    this.latencyMs = 0;
    this.bandwidthBytesPerSec = 0;
    this.dropNextBodies = 0;
    this.dropAfterCommitNext = 0;
    this.partialAcceptNext = { count: 0, bytes: 0 };
    this.rejectAuthOnStorage = false;
    this.throttles = [];
    this.scripted = [];
    this.waitUntil = 0;
    this.lastRetryAfterSec = 0;
  }

  snapshot(): Record<string, unknown> {
    return {
      latencyMs: this.latencyMs,
      bandwidthBytesPerSec: this.bandwidthBytesPerSec,
      dropNextBodies: this.dropNextBodies,
      dropAfterCommitNext: this.dropAfterCommitNext,
      partialAcceptNext: this.partialAcceptNext,
      rejectAuthOnStorage: this.rejectAuthOnStorage,
      throttles: this.throttles,
      scripted: this.scripted,
      throttledUntil: this.waitUntil,
    };
  }

  /** Decides whether this request is answered by a fault instead of the service. */
  decide(listener: Listener, method: string, path: string): FaultDecision | undefined {
    const now = this.now();
    if (now < this.waitUntil) {
      // The client came back before Retry-After ran out: record it and escalate, as the real service does.
      this.onClientFault({
        at: now,
        kind: 'retry-after-ignored',
        method,
        path,
        detail: `request ${this.waitUntil - now} ms before Retry-After expired`,
      });
      const sec = Math.max(1, this.lastRetryAfterSec * 2);
      return this.throttleAnswer(429, sec, 'retry-after-ignored');
    }
    for (const t of this.throttles) {
      const where = t.listener ?? 'both';
      if (where !== 'both' && where !== listener) continue;
      if (t.count !== undefined && t.count <= 0) continue;
      if (t.rate !== undefined && Math.random() >= t.rate) continue;
      if (t.count !== undefined) t.count--;
      this.throttles = this.throttles.filter((r) => r.count === undefined || r.count > 0);
      return this.throttleAnswer(t.status, t.retryAfterSec, 'throttle');
    }
    for (const s of this.scripted) {
      const where = s.listener ?? 'both';
      if (where !== 'both' && where !== listener) continue;
      if (s.method && s.method !== method) continue;
      if (s.pathIncludes && !path.includes(s.pathIncludes)) continue;
      if (s.skip && s.skip > 0) {
        s.skip--;
        continue;
      }
      s.count = (s.count ?? 1) - 1;
      this.scripted = this.scripted.filter((r) => (r.count ?? 1) > 0);
      return {
        status: s.status,
        code: s.code,
        message: s.message ?? `Injected ${s.status}`,
        innerCode: s.innerCode,
        headers: {},
        fault: `scripted-${s.status}`,
      };
    }
    return undefined;
  }

  private throttleAnswer(status: 429 | 503, retryAfterSec: number | undefined, fault: string): FaultDecision {
    const headers: Record<string, string> = {};
    if (retryAfterSec !== undefined) {
      headers['retry-after'] = String(retryAfterSec);
      this.waitUntil = this.now() + retryAfterSec * 1000;
      this.lastRetryAfterSec = retryAfterSec;
    }
    return status === 429
      ? { status, code: 'activityLimitReached', message: 'The request has been throttled', innerCode: 'throttledRequest', headers, fault }
      : { status, code: 'serviceNotAvailable', message: 'The service is temporarily unavailable', headers, fault };
  }

  takeDropBody(): boolean {
    if (this.dropNextBodies <= 0) return false;
    this.dropNextBodies--;
    return true;
  }

  takeDropAfterCommit(): boolean {
    if (this.dropAfterCommitNext <= 0) return false;
    this.dropAfterCommitNext--;
    return true;
  }

  takePartialAccept(): number | undefined {
    if (this.partialAcceptNext.count <= 0) return undefined;
    this.partialAcceptNext.count--;
    return this.partialAcceptNext.bytes;
  }
}

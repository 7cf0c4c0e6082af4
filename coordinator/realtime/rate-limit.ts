/** Token buckets per institution for connections, messages and inbound bytes, with refusals tallied into one audit entry per window. */
import type { WireError } from '../../protocol/index.js';
import { Windows } from './windows.js';

/** A bucket holds up to `capacity` tokens and regains `refillPerSecond` of them each second. */
export interface BucketSpec {
  capacity: number;
  refillPerSecond: number;
}

export interface RateLimits {
  /** Connection attempts per institution and address (per address alone for an unknown or malformed one). */
  connections: BucketSpec;
  /** Inbound events per institution (per address before authentication). */
  messages: BucketSpec;
  /** Inbound payload bytes per institution (per address before authentication). */
  bytes: BucketSpec;
  /** Refusals are counted and written as one `rate.limited` audit entry per key and limit per window. */
  auditWindowMs: number;
}

/**
 * Generous for an honest agent (a few connects, a dozen events and one upload per round) and tight
 * enough that a flood is refused within a second. Bytes hold 64 MiB, several CNN-sized updates.
 */
export const DEFAULT_RATE_LIMITS: RateLimits = {
  connections: { capacity: 20, refillPerSecond: 1 },
  messages: { capacity: 200, refillPerSecond: 50 },
  bytes: { capacity: 64 * 1024 * 1024, refillPerSecond: 16 * 1024 * 1024 },
  auditWindowMs: 60_000,
};

/**
 * Token buckets by key, holding at most `maxKeys` keys (the least recently used one is dropped first).
 * @example const b = new TokenBuckets({ capacity: 2, refillPerSecond: 1 }); b.take('site-a'); b.take('site-a'); b.take('site-a') // false
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly spec: BucketSpec,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 10_000,
  ) {}

  /** Takes `cost` tokens from `key`'s bucket; false (and nothing taken) when it holds fewer. */
  take(key: string, cost = 1): boolean {
    const t = this.now();
    const held = this.buckets.get(key);
    const bucket = held
      ? { tokens: Math.min(this.spec.capacity, held.tokens + ((t - held.at) / 1000) * this.spec.refillPerSecond), at: t }
      : { tokens: this.spec.capacity, at: t };
    this.buckets.delete(key);
    if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
    const ok = bucket.tokens >= cost;
    if (ok) bucket.tokens -= cost;
    this.buckets.set(key, bucket);
    return ok;
  }

  get size(): number {
    return this.buckets.size;
  }
}

/** What one window of refusals adds up to, as written in the audit log. */
export interface RefusalSummary {
  limit: keyof Omit<RateLimits, 'auditWindowMs'>;
  count: number;
  windowMs: number;
  firstAt: string;
  lastAt: string;
}

/**
 * Counts refusals per key and limit; the first of a window opens it and its end writes one summary.
 * @example const t = new RefusalTally(60_000, (key, s) => audit('rate.limited', key, s)); t.record('site-a', 'messages')
 */
export class RefusalTally {
  private readonly windows: Windows<{ actor: string; summary: RefusalSummary }>;

  constructor(
    private readonly windowMs: number,
    flush: (actor: string, summary: RefusalSummary) => void,
    maxOpen = 10_000,
  ) {
    this.windows = new Windows(windowMs, ({ actor, summary }) => flush(actor, summary), maxOpen);
  }

  /** Counts one refusal; true when it is the first of its window (worth a log line). */
  record(actor: string, limit: RefusalSummary['limit']): boolean {
    const now = new Date().toISOString();
    return this.windows.hit(
      `${limit}\u0000${actor}`,
      () => ({ actor, summary: { limit, count: 1, windowMs: this.windowMs, firstAt: now, lastAt: now } }),
      ({ summary }) => {
        summary.count++;
        summary.lastAt = now;
      },
    );
  }

  /** Writes every open window now (at shutdown). */
  flushAll(): void {
    this.windows.flushAll();
  }
}

/**
 * Approximate wire size of an event's arguments: bytes of binary data, UTF-16 length of strings, 8 per
 * number; stops counting at `cap` so a deep or huge payload costs no more than the check itself.
 * @example approxBytes([{ uploadId: 'abcdefgh', data: new Uint8Array(1024) }]) // 1024 + 8 + ...
 */
export function approxBytes(value: unknown, cap = 1 << 30): number {
  let total = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0 && total < cap) {
    const v = stack.pop();
    if (typeof v === 'string') total += v.length;
    else if (ArrayBuffer.isView(v)) total += v.byteLength;
    else if (v instanceof ArrayBuffer) total += v.byteLength;
    else if (Array.isArray(v)) for (let i = 0; i < Math.min(v.length, 100_000); i++) stack.push(v[i]);
    else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v).slice(0, 100_000)) {
        total += k.length;
        stack.push(x);
      }
    } else total += 8;
  }
  return Math.min(total, cap);
}

/**
 * The socket.io side's limits in one place: each check answers a wire error (RATE_LIMITED) or undefined,
 * and refusals reach the audit log through `onSummary`, one entry per key, limit and window.
 * @example const limiter = new RealtimeLimiter(DEFAULT_RATE_LIMITS, (actor, s) => audit('rate.limited', actor, s)); limiter.message('site-a', 'agent:ready', 120)
 */
export class RealtimeLimiter {
  readonly limits: RateLimits;
  private readonly connections: TokenBuckets;
  private readonly messages: TokenBuckets;
  private readonly bytes: TokenBuckets;
  private readonly tally: RefusalTally;

  constructor(
    limits: Partial<RateLimits> | undefined,
    onSummary: (actor: string, summary: RefusalSummary) => void,
    private readonly onFirst: (actor: string, error: WireError) => void = () => undefined,
    now: () => number = Date.now,
  ) {
    this.limits = { ...DEFAULT_RATE_LIMITS, ...limits };
    this.connections = new TokenBuckets(this.limits.connections, now);
    this.messages = new TokenBuckets(this.limits.messages, now);
    this.bytes = new TokenBuckets(this.limits.bytes, now);
    this.tally = new RefusalTally(this.limits.auditWindowMs, onSummary);
  }

  /**
   * A connection attempt claiming `claimed` (an enrolled institution, or `address:<ip>`) from `address`. The bucket is
   * per claim and address, so an outsider cannot use up a site's; a refusal is tallied under the address, since
   * nothing is authenticated yet.
   */
  connection(claimed: string, address: string): WireError | undefined {
    if (this.connections.take(`${claimed}\u0000${address}`)) return undefined;
    const { capacity, refillPerSecond } = this.limits.connections;
    return this.refuse(
      `address:${address}`,
      'connections',
      `too many connection attempts from ${claimed} (burst ${capacity}, then ${refillPerSecond}/s): retry later`,
    );
  }

  /** One inbound event of about `size` bytes from `actor`. */
  message(actor: string, event: string, size: number): WireError | undefined {
    if (!this.messages.take(actor)) {
      const { capacity, refillPerSecond } = this.limits.messages;
      return this.refuse(
        actor,
        'messages',
        `${event.slice(0, 64)}: too many messages from ${actor} (burst ${capacity}, then ${refillPerSecond}/s): slow down`,
      );
    }
    if (!this.bytes.take(actor, size)) {
      const { capacity, refillPerSecond } = this.limits.bytes;
      return this.refuse(
        actor,
        'bytes',
        `${event.slice(0, 64)}: ${actor} sent more than its byte budget (burst ${capacity}, then ${refillPerSecond} bytes/s): slow down`,
      );
    }
    return undefined;
  }

  close(): void {
    this.tally.flushAll();
  }

  private refuse(actor: string, limit: RefusalSummary['limit'], message: string): WireError {
    const error: WireError = { code: 'RATE_LIMITED', message };
    if (this.tally.record(actor, limit)) this.onFirst(actor, error);
    return error;
  }
}

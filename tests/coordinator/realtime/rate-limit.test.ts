/** The socket.io side's limits: token buckets, refusals tallied once per window, and the limiter that answers RATE_LIMITED. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RealtimeLimiter, RefusalTally, TokenBuckets, approxBytes, type RefusalSummary } from '../../../coordinator/realtime/rate-limit.js';

afterEach(() => vi.useRealTimers());

describe('TokenBuckets', () => {
  it('lets a burst of `capacity` through, refuses the next, and refills at the given rate', () => {
    let now = 0;
    const buckets = new TokenBuckets({ capacity: 3, refillPerSecond: 2 }, () => now);

    const burst = [1, 2, 3, 4].map(() => buckets.take('site-a'));
    now = 499;
    const tooSoon = buckets.take('site-a');
    now = 1000;
    const refilled = [buckets.take('site-a'), buckets.take('site-a'), buckets.take('site-a')];

    expect(burst).toEqual([true, true, true, false]);
    expect(tooSoon).toBe(false);
    expect(refilled).toEqual([true, true, false]); // 0.998 tokens at 499 ms, 2 at 1000 ms
    expect(buckets.take('site-b')).toBe(true);
  });

  it('charges a cost, never takes a partial one, and refuses a cost above the capacity', () => {
    const buckets = new TokenBuckets({ capacity: 100, refillPerSecond: 0 }, () => 0);

    expect(buckets.take('a', 60)).toBe(true);
    expect(buckets.take('a', 60)).toBe(false);
    expect(buckets.take('a', 40)).toBe(true);
    expect(buckets.take('b', 101)).toBe(false);
  });

  it('holds at most maxKeys keys, dropping the least recently used', () => {
    const buckets = new TokenBuckets({ capacity: 1, refillPerSecond: 0 }, () => 0, 3);
    for (const k of ['a', 'b', 'c']) buckets.take(k);
    buckets.take('a'); // a used again: b is now the oldest
    buckets.take('d');

    expect(buckets.size).toBe(3);
    expect(buckets.take('a')).toBe(false); // still held, empty
    expect(buckets.take('b')).toBe(true); // dropped, so a fresh bucket
  });
});

describe('RefusalTally', () => {
  it('writes one summary per actor and limit per window, with the count of refusals in it', () => {
    vi.useFakeTimers();
    const written: [string, RefusalSummary][] = [];
    const tally = new RefusalTally(1000, (actor, s) => written.push([actor, s]));

    const firsts = Array.from({ length: 50 }, () => tally.record('site-a', 'messages'));
    tally.record('site-b', 'messages');
    tally.record('site-a', 'bytes');
    vi.advanceTimersByTime(999);
    const beforeEnd = written.length;
    vi.advanceTimersByTime(1);
    tally.record('site-a', 'messages');
    tally.flushAll();

    expect(firsts.filter(Boolean)).toHaveLength(1);
    expect(beforeEnd).toBe(0);
    expect(written.map(([a, s]) => [a, s.limit, s.count, s.windowMs])).toEqual([
      ['site-a', 'messages', 50, 1000],
      ['site-b', 'messages', 1, 1000],
      ['site-a', 'bytes', 1, 1000],
      ['site-a', 'messages', 1, 1000],
    ]);
  });
});

describe('RealtimeLimiter', () => {
  it('answers RATE_LIMITED naming the limit, for messages and then bytes, per actor', () => {
    const summaries: string[] = [];
    const limiter = new RealtimeLimiter(
      {
        messages: { capacity: 2, refillPerSecond: 0 },
        bytes: { capacity: 1000, refillPerSecond: 0 },
        connections: { capacity: 1, refillPerSecond: 0 },
      },
      (actor, s) => summaries.push(`${actor}:${s.limit}:${s.count}`),
      undefined,
      () => 0,
    );

    const results = [
      limiter.message('a', 'agent:ready', 10),
      limiter.message('a', 'update:chunk', 2000),
      limiter.message('a', 'agent:ready', 10),
    ];
    const connects = [limiter.connection('a', '10.0.0.1'), limiter.connection('a', '10.0.0.1'), limiter.connection('a', '10.0.0.2')];
    limiter.close();

    expect(results[0]).toBeUndefined();
    expect(results[1]).toMatchObject({ code: 'RATE_LIMITED', message: expect.stringContaining('byte budget') });
    expect(results[2]).toMatchObject({ code: 'RATE_LIMITED', message: expect.stringContaining('too many messages from a') });
    expect(connects.map((c) => c?.code)).toEqual([undefined, 'RATE_LIMITED', undefined]);
    // A refused connection is not authenticated: its tally is the address's, whatever institution it claimed.
    expect(summaries.sort()).toEqual(['a:bytes:1', 'a:messages:1', 'address:10.0.0.1:connections:1']);
  });
});

describe('approxBytes', () => {
  it('counts binary data, strings and keys, stops at the cap, and takes a large array without a deep stack', () => {
    expect(approxBytes([{ uploadId: 'abcdefgh', index: 0, data: new Uint8Array(1024) }])).toBe(1024 + 8 + 8 + 'uploadIdindexdata'.length);
    expect(approxBytes(['x'.repeat(5000)], 100)).toBe(100);
    expect(approxBytes([null, undefined, 1, true])).toBe(32);
    expect(approxBytes([new Array(300_000).fill(0)])).toBe(8 * 100_000); // counts the first 100,000 elements
  });
});

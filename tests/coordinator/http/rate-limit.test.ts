/** The failure counter behind the API's 429: per key, per fixed window, forgotten when the window ends. */
import { describe, expect, it } from 'vitest';
import { FailureCounter } from '../../../coordinator/http/rate-limit.js';

describe('FailureCounter', () => {
  it('blocks a key at max failures until its window ends, and no other key', () => {
    let now = 1_000;
    const counter = new FailureCounter({ max: 3, windowMs: 10_000 }, () => now);

    counter.add('a');
    counter.add('a');
    const beforeMax = counter.blocked('a');
    counter.add('a');
    now += 4_000;
    const atMax = counter.blocked('a');
    const other = counter.blocked('b');
    now += 6_000;
    const after = counter.blocked('a');

    expect(beforeMax).toBe(0);
    expect(atMax).toBe(6_000);
    expect(other).toBe(0);
    expect(after).toBe(0);
  });

  it('starts a fresh window after the old one ends', () => {
    let now = 0;
    const counter = new FailureCounter({ max: 2, windowMs: 100 }, () => now);
    counter.add('a');
    now = 150;

    counter.add('a');

    expect(counter.blocked('a')).toBe(0);
    counter.add('a');
    expect(counter.blocked('a')).toBe(100);
  });

  it('holds at most maxKeys keys (it forgets them all rather than grow without bound)', () => {
    const counter = new FailureCounter({ max: 1, windowMs: 1_000 }, () => 0, 3);
    for (const k of ['a', 'b', 'c']) counter.add(k);
    expect(counter.blocked('a')).toBe(1_000);

    counter.add('d');

    expect(counter.blocked('a')).toBe(0);
    expect(counter.blocked('d')).toBe(1_000);
  });
});

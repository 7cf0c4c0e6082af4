/** A fixed-window counter per key (a remote address): how the API slows down token guessing. */

export interface WindowLimit {
  /** Failures allowed per window before the key is refused. */
  max: number;
  windowMs: number;
}

/**
 * Counts events per key in fixed windows; `blocked(key)` says how many ms are left when the key
 * reached `max` in its current window. Old windows are dropped as keys are touched, and all of
 * them when more than `maxKeys` are held.
 * @example const failures = new FailureCounter({ max: 20, windowMs: 60_000 }); failures.add(ip); failures.blocked(ip)
 */
export class FailureCounter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly limit: WindowLimit,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 10_000,
  ) {}

  private current(key: string): { start: number; count: number } | undefined {
    const w = this.windows.get(key);
    if (w && this.now() - w.start >= this.limit.windowMs) {
      this.windows.delete(key);
      return undefined;
    }
    return w;
  }

  add(key: string): void {
    const w = this.current(key);
    if (w) w.count += 1;
    else {
      if (this.windows.size >= this.maxKeys) this.windows.clear();
      this.windows.set(key, { start: this.now(), count: 1 });
    }
  }

  /** Milliseconds until the key may try again, or 0 when it is not blocked. */
  blocked(key: string): number {
    const w = this.current(key);
    return w && w.count >= this.limit.max ? w.start + this.limit.windowMs - this.now() : 0;
  }
}

/** Keyed time windows for aggregated audit entries: the first event of a key opens a window, its end hands the window on. */

/**
 * At most `maxOpen` windows are open at once (the oldest is ended early to make room); each ends `windowMs` after it
 * opened, or at flushAll().
 * @example const w = new Windows<number>(60_000, (n) => audit(n)); w.hit('site-a', () => 1, (n) => n + 1)
 */
export class Windows<T> {
  private readonly open = new Map<string, { value: T; timer: NodeJS.Timeout }>();

  constructor(
    private readonly windowMs: number,
    private readonly onEnd: (value: T) => void,
    private readonly maxOpen = 10_000,
  ) {}

  /** Opens `key`'s window with `first()` (true), or updates the open one in place with `again` (false). */
  hit(key: string, first: () => T, again: (value: T) => void): boolean {
    const held = this.open.get(key);
    if (held) {
      again(held.value);
      return false;
    }
    if (this.open.size >= this.maxOpen) this.end(this.open.keys().next().value as string);
    const timer = setTimeout(() => this.end(key), this.windowMs);
    timer.unref();
    this.open.set(key, { value: first(), timer });
    return true;
  }

  /** Ends every open window now (at shutdown). */
  flushAll(): void {
    for (const key of [...this.open.keys()]) this.end(key);
  }

  private end(key: string): void {
    const held = this.open.get(key);
    if (!held) return;
    clearTimeout(held.timer);
    this.open.delete(key);
    this.onEnd(held.value);
  }
}

/** Samples this process's memory while a load run goes: peak RSS and heap overall and per window, and memory after a full GC. */

/**
 * Samples `process.memoryUsage()` every `intervalMs`.
 * @example const m = new ResourceMonitor(200); ...; m.afterGc().rss; m.peakRss; m.stop();
 */
export class ResourceMonitor {
  peakRss = 0;
  peakHeap = 0;
  windowPeakRss = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs: number) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
    this.sample();
  }

  /** Starts a new window (e.g. a round) for `windowPeakRss`. */
  resetWindow(): void {
    this.windowPeakRss = 0;
    this.sample();
  }

  /** Memory after a full garbage collection (a plain sample when node runs without --expose-gc). */
  afterGc(): NodeJS.MemoryUsage {
    this.sample();
    (globalThis as { gc?: () => void }).gc?.();
    return process.memoryUsage();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    const { rss, heapUsed } = process.memoryUsage();
    this.peakRss = Math.max(this.peakRss, rss);
    this.peakHeap = Math.max(this.peakHeap, heapUsed);
    this.windowPeakRss = Math.max(this.windowPeakRss, rss);
  }
}

/**
 * Least-squares slope of y over x.
 * @example slope([[1, 10], [2, 12], [3, 14]]) // 2
 */
export function slope(points: [number, number][]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const num = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const den = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

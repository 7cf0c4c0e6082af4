/** Agreed bins: "nice" edges over a pooled range (steps of 1, 2, 2.5 or 5 times a power of ten). */

/**
 * About `bins` equal bins covering [lo, hi], on round numbers.
 * @example niceEdges(17, 93, 8) // [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
 */
export function niceEdges(lo: number, hi: number, bins: number): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || hi < lo) throw new RangeError(`bad range [${lo}, ${hi}]`);
  const raw = (hi - lo || Math.abs(hi) || 1) / Math.max(1, bins);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * power >= raw * (1 - 1e-9)) as number) * power;
  const start = Math.floor(lo / step + 1e-9) * step;
  const edges = [start];
  while ((edges[edges.length - 1] as number) < hi - step * 1e-9 || edges.length < 2)
    edges.push(Number((start + edges.length * step).toPrecision(12)));
  return edges.map((e) => Number(e.toPrecision(12)));
}

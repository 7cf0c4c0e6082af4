"""numpy comparison for the aggregation bench: Flower's aggregate() and a numpy running sum over N streamed updates.

Usage: python3 aggregation-numpy.py VARIANT N PARAMS SEED  (VARIANT: idle | flower | running); prints one JSON line.
Peak memory is this process's ru_maxrss (KiB on Linux); generation of the updates is not timed.
"""
import json
import resource
import sys
import time
from functools import reduce

import numpy as np


def shapes_for(params):
    width = 1000
    rows = max(1, params // width - 2)
    first = round(rows * 0.78)
    return [(width, first), (width,), (width, rows - first), (width,)]


def stream(shapes, n, seed):
    sizes = [int(np.prod(s)) for s in shapes]
    total = sum(sizes)
    rng = np.random.default_rng(seed)
    base = ((rng.random(total, dtype=np.float32) - 0.5) * 0.2).astype(np.float32)
    flat = np.empty(total, dtype=np.float32)
    views, at = [], 0
    for size, shape in zip(sizes, shapes):
        views.append(flat[at:at + size].reshape(shape))
        at += size
    for _ in range(n):
        r = int(rng.integers(total))
        flat[: total - r] = base[r:]
        flat[total - r:] = base[:r]
        yield views, int(1 + rng.integers(100))


def main():
    variant, n, params, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    shapes = shapes_for(params)
    previous = [np.full(s, 0.01, dtype=np.float32) for s in shapes]
    spent = 0.0
    checksum = float(previous[0].flat[0]) * 0
    if variant == "idle":
        for views, _ in stream(shapes, n, seed):
            checksum += float(views[0].flat[0])
    elif variant == "flower":
        # flwr/server/strategy/aggregate.py aggregate(): verbatim algorithm.
        weighted = []
        total = 0
        for views, weight in stream(shapes, n, seed):
            t0 = time.perf_counter()
            weighted.append([layer * weight for layer in views])
            total += weight
            spent += time.perf_counter() - t0
        t0 = time.perf_counter()
        result = [reduce(np.add, layer_updates) / total for layer_updates in zip(*weighted)]
        spent += time.perf_counter() - t0
        checksum = sum(float(r.flat[0]) + float(r.flat[-1]) for r in result)
    else:
        sums = [np.zeros(s, dtype=np.float64) for s in shapes]
        total = 0
        for views, weight in stream(shapes, n, seed):
            t0 = time.perf_counter()
            for acc, layer in zip(sums, views):
                acc += layer * weight
            total += weight
            spent += time.perf_counter() - t0
        t0 = time.perf_counter()
        result = [(acc / total).astype(np.float32) for acc in sums]
        spent += time.perf_counter() - t0
        checksum = sum(float(r.flat[0]) + float(r.flat[-1]) for r in result)
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"variant": "numpy-" + variant, "n": n, "params": params, "aggregateMs": spent * 1000,
                      "maxRssKiB": max_rss, "checksum": checksum}))


if __name__ == "__main__":
    main()

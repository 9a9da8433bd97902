#!/usr/bin/python3
"""Peer side of bench/drift.ts: the same drift computation in numpy and scipy.

    /usr/bin/python3 bench/drift_peers.py PREFIX

PREFIX.json holds the row count, the number of timed runs and, per feature (the prediction last),
its baseline as Ballast laid it out: for numbers the grid points with the baseline CDF at and
just below each, whether points are cells of their own ("atoms"), the PSI bin of each cell, the
PSI bins' baseline shares, the missing rate and the training std; for categories the baseline
share of each code. PREFIX.f64 holds the loaded columns, little-endian float64, one after the
other (NaN = missing; categories as codes).

Per feature, timed over all features: cells by np.searchsorted, PSI (empty shares replaced by
1e-4) over the PSI bins plus a missing bin, the KS statistic read at the grid points (live and
baseline CDF at and just below each point), its p-value from scipy's Kolmogorov limit
distribution (kstwobign.sf) at the same corrected lambda Ballast uses, and the test for n > 1000 rows: Wasserstein-1 between the two
piecewise-linear CDFs plus the tails beyond the grid, over the training std (numbers), or the
Jensen-Shannon distance (scipy, natural log) over the categories or a few-valued number's bins.
Prints one JSON line: the median seconds of the runs and the numbers per feature, with (not
timed: it takes up to seconds per feature at n = 10^6) scipy's exact kstwo.sf of each statistic,
which Ballast's p-values are checked against.
"""

import json
import statistics
import sys
import time

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import kstwo, kstwobign

EPS = 1e-4


def psi(base, live):
    b = np.maximum(base, EPS)
    a = np.maximum(live, EPS)
    return float(np.sum((a - b) * np.log(a / b)))


def numeric(meta, x):
    points = np.asarray(meta["points"])
    k = len(points)
    missing = np.isnan(x)
    v = x[~missing]
    n = len(v)
    if not meta["atoms"]:
        raise SystemExit("the bench's baselines all have the percentile grid")
    j = np.searchsorted(points, v, side="left")
    eq = (j < k) & (points[np.minimum(j, k - 1)] == v)
    cells = 2 * j + eq
    counts = np.bincount(cells, minlength=2 * k + 1).astype(np.float64)
    psi_of_cell = np.asarray(meta["psiOfCell"])
    psi_base = np.asarray(meta["psiBase"])
    live_bins = np.bincount(psi_of_cell, weights=counts, minlength=len(psi_base))
    total = n + int(missing.sum())
    rate = meta["missingRate"]
    base = psi_base * (1 - rate)
    live = live_bins / total
    if rate > 0 or missing.any():
        base = np.append(base, rate)
        live = np.append(live, missing.sum() / total)
    value = psi(base, live)

    cum = np.cumsum(counts)
    base_at = np.asarray(meta["baseAt"])
    base_before = np.asarray(meta["baseBefore"])
    live_at = cum[1::2][:k] / n
    live_before = cum[0::2][:k] / n
    d = max(np.max(np.abs(live_at - base_at)), np.max(np.abs(live_before - base_before)))
    # Timed: the limit distribution at Vrbik's corrected lambda, as Ballast does for n > 140.
    t = np.sqrt(n) * d
    p = float(kstwobign.sf(t + 1 / (6 * np.sqrt(n)) + (t - 1) / (4 * n)))

    if meta["lowCardinality"]:
        test = float(jensenshannon(psi_base, live_bins))
    else:
        width = np.diff(points)
        s = live_at[:-1] - base_at[:-1]
        e = live_before[1:] - base_before[1:]
        same = (s >= 0) & (e >= 0) | (s <= 0) & (e <= 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_abs = np.where(same, (np.abs(s) + np.abs(e)) / 2, (s * s + e * e) / (2 * (np.abs(s) + np.abs(e))))
        inside = float(np.sum(width * mean_abs))
        below = float(np.sum(points[0] - v[v < points[0]]))
        above = float(np.sum(v[v > points[-1]] - points[-1]))
        w = inside + (below + above) / n
        test = w / max(meta["std"], 1e-12)
    return {"psi": value, "ks": float(d), "ksP": p, "n": n, "test": test}


def categorical(meta, x):
    base_cells = np.asarray(meta["baseCells"])
    c = len(base_cells)
    missing = np.isnan(x)
    codes = np.clip(np.trunc(x[~missing]).astype(np.int64), 0, c - 1)
    counts = np.bincount(codes, minlength=c).astype(np.float64)
    total = len(codes) + int(missing.sum())
    rate = meta["missingRate"]
    base = base_cells * (1 - rate)
    live = counts / total
    if rate > 0 or missing.any():
        base = np.append(base, rate)
        live = np.append(live, missing.sum() / total)
    return {"psi": psi(base, live), "ks": None, "ksP": None, "test": float(jensenshannon(base_cells, counts))}


def main():
    prefix = sys.argv[1]
    with open(prefix + ".json") as f:
        meta = json.load(f)
    rows = meta["rows"]
    features = meta["features"]
    data = np.fromfile(prefix + ".f64", dtype="<f8").reshape(len(features), rows)
    times = []
    result = None
    for run in range(meta["runs"] + 1):
        start = time.perf_counter()
        result = [numeric(m, data[i]) if m["kind"] == "numeric" else categorical(m, data[i]) for i, m in enumerate(features)]
        if run > 0:
            times.append(time.perf_counter() - start)
    # Not timed: scipy's exact distribution (slow for some D at n = 10^6), to check the p-values.
    for r in result:
        if r["ks"] is not None:
            r["ksExact"] = float(kstwo.sf(r["ks"], r["n"]))
    print(json.dumps({"seconds": statistics.median(times), "features": result}))


if __name__ == "__main__":
    main()

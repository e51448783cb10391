"""How much luck the best result holds (PB-13): a bootstrap of "the best objective found
with k trials".

For each budget k, `best_of_k` draws `samples` sets of k finished values with replacement
and keeps the best of each set; it reports the median and the 10th and 90th percentiles
(`LOW_PERCENTILE`, `HIGH_PERCENTILE`) of those bests. The best of k draws with replacement
from n sorted values is the value at the smallest of k uniform indices, so each sample
draws that index directly (the smallest of k uniform numbers on [0, n) is
n·(1 − U^(1/k)) for a uniform U): the same distribution as drawing all k values, at the
cost of one number per sample, which keeps a 1,000-trial study well under a tenth of a
second. By default k runs over 1 … n; past `MAX_ALL_KS` trials it takes about `LOG_KS`
log-spaced budgets instead. The default budgets always hold 1, n // 2 and n, which the
sampling-density check compares.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: The percentiles of the best value that bound the band around the median.
LOW_PERCENTILE = 10.0
HIGH_PERCENTILE = 90.0
#: Up to this many values, every budget 1 … n is drawn; past it, about `LOG_KS` of them.
MAX_ALL_KS = 40
LOG_KS = 20


@dataclass(frozen=True)
class BootstrapPoint:
    """The best objective found with `k` trials: its median and 10th/90th percentiles."""

    k: int
    median: float
    low: float
    high: float


def default_ks(n: int) -> tuple[int, ...]:
    """The budgets `best_of_k` draws by default for `n` values: 1 … n, or about `LOG_KS`
    log-spaced ones past `MAX_ALL_KS`, always with 1, n // 2 and n."""
    if n <= 0:
        return ()
    if n <= MAX_ALL_KS:
        return tuple(range(1, n + 1))
    spaced = np.unique(np.round(np.geomspace(1, n, LOG_KS)).astype(int))
    return tuple(sorted({*(int(k) for k in spaced), 1, max(1, n // 2), n}))


def best_of_k(
    values: Sequence[float],
    mode: str,
    ks: Sequence[int] | None = None,
    samples: int = 1000,
    seed: int = 0,
) -> tuple[BootstrapPoint, ...]:
    """The spread of the best of k values drawn with replacement from the finite `values`
    (`mode` 'min' or 'max'), for each k in `ks` (default `default_ks`); empty without
    values. Reproducible for a given `seed`."""
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', not {mode!r}")
    finite = np.array([v for v in values if math.isfinite(v)], dtype=float)
    n = len(finite)
    budgets = default_ks(n) if ks is None else tuple(int(k) for k in ks)
    if any(k < 1 for k in budgets):
        raise ValueError(f"every k must be at least 1, got {list(budgets)}")
    if n == 0:
        return ()
    ordered = np.sort(finite) if mode == "min" else -np.sort(-finite)  # best first
    rng = np.random.default_rng(seed)
    points = []
    for k in budgets:
        u = rng.random(samples)
        index = np.minimum(np.floor(n * (1.0 - u ** (1.0 / k))).astype(int), n - 1)
        best = ordered[index]
        low, median, high = np.percentile(best, [LOW_PERCENTILE, 50.0, HIGH_PERCENTILE])
        points.append(BootstrapPoint(k=k, median=float(median), low=float(low), high=float(high)))
    return tuple(points)

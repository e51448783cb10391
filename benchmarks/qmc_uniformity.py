"""How uniform are tunebook's quasi-random points? Centered-L2 discrepancy (lower is better).

Compares, at N = 16, 64, 256 points in d = 2, 4, 8 dimensions, mean over 20 seeds:

* ours: `QuasiRandomSampler` through its public API on a unit `Float` space (scipy's
  scrambled Halton, points 0..N-1 of the study's sequence);
* random: `RandomSampler` (independent uniform points);
* reference: a re-implementation of the tuning playbook's reference `halton.py`
  (algorithmic-efficiency): Halton over the largest primes below 1000, each base's digits
  permuted by a fixed random permutation and shifted by a random offset, both drawn from
  `RandomState(base)`, the first 100 points skipped, the points shuffled. Its permutations and
  shifts depend only on the base, so its point set is the same for every seed (the seed
  only changes the shuffle, which does not change discrepancy).

Goal: ours at least 5x lower than the reference at N >= 64. Run: python benchmarks/qmc_uniformity.py
The last line printed is the results as JSON.
"""

from __future__ import annotations

import json
import math
import time

import numpy as np
from scipy.stats import qmc

from tunebook.core.search import Float, QuasiRandomSampler, RandomSampler, Sampler, SearchSpace

SIZES = (16, 64, 256)
DIMS = (2, 4, 8)
SEEDS = 20
GOAL = 5.0


def primes_below(n: int) -> list[int]:
    """Odd primes below n (the reference's Sieve of Sundaram leaves out 2)."""
    half = (n - 2) // 2
    sieve = [False] * (half + 1)
    for i in range(1, half + 1):
        j = i
        while i + j + 2 * i * j <= half:
            sieve[i + j + 2 * i * j] = True
            j += 1
    return [2 * i + 1 for i in range(1, half + 1) if not sieve[i]]


def reference_dim(n: int, base: int) -> list[float]:
    """One shuffled-and-shifted van der Corput dimension, as the reference builds it."""
    rng = np.random.RandomState(base)
    digits = list(range(1, base))
    rng.shuffle(digits)
    digits = [0, *digits]
    shift = rng.random_sample()
    out = []
    for i in range(1, n + 1):
        num, denominator = 0.0, base
        while i:
            num += digits[i % base] / denominator
            denominator *= base
            i //= base
        out.append(math.fmod(num + shift, 1.0))
    return out


def reference_points(n: int, d: int, seed: int, skip: int = 100) -> np.ndarray:
    """The playbook reference's `generate_sequence(n, d)` with its defaults."""
    primes = primes_below(1000)[-d - 1 : -1]
    columns = [reference_dim(n + skip, base)[skip:] for base in primes]
    points = np.array(columns).T
    np.random.RandomState(seed).shuffle(points)
    return points


def sampler_points(sampler: Sampler, n: int, d: int, seed: int) -> np.ndarray:
    """Points 0..n-1 of a study on the unit cube, through the public sampler API."""
    space = SearchSpace({f"x{j}": Float(0.0, 1.0) for j in range(d)})
    return np.array([list(sampler.sample(space, seed, i).values()) for i in range(n)])


def mean_discrepancy(make_points, n: int, d: int) -> float:
    return float(
        np.mean([qmc.discrepancy(make_points(n, d, seed), method="CD") for seed in range(SEEDS)])
    )


def main() -> None:
    start = time.perf_counter()
    rows = []
    header = (
        f"{'d':>2} {'N':>4} {'ours':>10} {'random':>10} {'reference':>10} "
        f"{'ref/ours':>9} {'rand/ours':>9}"
    )
    print(f"centered-L2 discrepancy, mean of {SEEDS} seeds (lower is better)")
    print(header)
    for d in DIMS:
        for n in SIZES:
            ours = mean_discrepancy(
                lambda n, d, s: sampler_points(QuasiRandomSampler(), n, d, s), n, d
            )
            rand = mean_discrepancy(lambda n, d, s: sampler_points(RandomSampler(), n, d, s), n, d)
            ref = mean_discrepancy(reference_points, n, d)
            rows.append(
                {
                    "d": d,
                    "n": n,
                    "ours": ours,
                    "random": rand,
                    "reference": ref,
                    "reference_over_ours": ref / ours,
                    "random_over_ours": rand / ours,
                }
            )
            print(
                f"{d:>2} {n:>4} {ours:>10.3e} {rand:>10.3e} {ref:>10.3e} "
                f"{ref / ours:>9.1f} {rand / ours:>9.1f}"
            )
    large = [r["reference_over_ours"] for r in rows if r["n"] >= 64]
    print(f"worst reference/ours ratio at N >= 64: {min(large):.1f} (goal >= {GOAL})")
    print(
        json.dumps(
            {
                "benchmark": "qmc_uniformity",
                "metric": "centered L2 discrepancy",
                "seeds": SEEDS,
                "results": rows,
                "min_ratio_vs_reference_n_ge_64": min(large),
                "goal": GOAL,
                "goal_met": min(large) >= GOAL,
                "seconds": round(time.perf_counter() - start, 1),
            }
        )
    )


if __name__ == "__main__":
    main()

"""Search spaces and search algorithms (PB-29, PB-18; listed points for PB-20), by name.

``make_sampler("quasi-random")`` returns the algorithm a study names; every sampler obeys
the contract of `tunebook.core.search.sampler.Sampler`. Nothing here imports torch or
textual; the bayesian sampler imports optuna (and through it torch) only when it runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tunebook.core.search.bayesian import DEFAULT_STARTUP_TRIALS, BayesianSampler
from tunebook.core.search.grid import MAX_GRID_DIMS, GridSampler
from tunebook.core.search.listed import ListedSampler
from tunebook.core.search.quasi_random import QuasiRandomSampler
from tunebook.core.search.random_search import RandomSampler
from tunebook.core.search.sampler import Observation, Params, Sampler
from tunebook.core.search.space import (
    Categorical,
    Dimension,
    Discrete,
    Float,
    Int,
    SearchSpace,
    SpaceError,
)
from tunebook.sessions.errors import BadInput

#: Algorithm names, the default (exploration, PB-29) first.
ALGORITHMS = ("quasi-random", "random", "grid", "bayesian", "listed")


def make_sampler(
    algorithm: str,
    *,
    mode: str = "min",
    grid_points: int | Mapping[str, int] | None = None,
    startup_trials: int = DEFAULT_STARTUP_TRIALS,
    points: Sequence[Mapping[str, Any]] = (),
) -> Sampler:
    """Build the sampler a study names; `mode` and `startup_trials` matter to bayesian,
    `grid_points` to grid, `points` (the configurations to run) to listed."""
    if algorithm == QuasiRandomSampler.name:
        return QuasiRandomSampler()
    if algorithm == RandomSampler.name:
        return RandomSampler()
    if algorithm == GridSampler.name:
        return GridSampler(grid_points)
    if algorithm == BayesianSampler.name:
        return BayesianSampler(mode, startup_trials)
    if algorithm == ListedSampler.name:
        return ListedSampler(points)
    raise BadInput(
        f"unknown search algorithm {algorithm!r} (expected one of: {', '.join(ALGORITHMS)})"
    )


__all__ = [
    "ALGORITHMS",
    "DEFAULT_STARTUP_TRIALS",
    "MAX_GRID_DIMS",
    "BayesianSampler",
    "Categorical",
    "Dimension",
    "Discrete",
    "Float",
    "GridSampler",
    "Int",
    "ListedSampler",
    "Observation",
    "Params",
    "QuasiRandomSampler",
    "RandomSampler",
    "Sampler",
    "SearchSpace",
    "SpaceError",
    "make_sampler",
]

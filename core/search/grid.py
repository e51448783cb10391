"""Grid search: every combination of a few values per dimension, only in 1–2 dimensions (PB-29)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tunebook.core.search.sampler import Observation, Params, Sampler, check_position
from tunebook.core.search.space import Categorical, Discrete, Int, SearchSpace
from tunebook.sessions.errors import BadInput
from tunebook.sessions.text import plural

#: PB-29: a grid spends its budget unevenly beyond two dimensions (most points repeat the
#: values of each single hyperparameter), so quasi-random search replaces it there.
MAX_GRID_DIMS = 2


class GridSampler(Sampler):
    """Point i is the i-th cell of the grid, the last dimension varying fastest.

    Discrete and categorical dimensions use all their values; float and int ranges use
    `points` evenly spaced values on their own scale, both ends included. `points` is one
    count for every range, or a count per range name.
    """

    name = "grid"

    def __init__(self, points: int | Mapping[str, int] | None = None) -> None:
        counts = points.values() if isinstance(points, Mapping) else [points]
        for count in counts:
            if count is not None and (
                isinstance(count, bool) or not isinstance(count, int) or count < 2
            ):
                raise BadInput(f"grid_points must be integers of at least 2, got {count!r}")
        self.points = points

    def _count(self, name: str) -> int:
        count = self.points.get(name) if isinstance(self.points, Mapping) else self.points
        if count is None:
            raise BadInput(f"grid search needs a number of grid_points for the range {name!r}")
        return count

    def axes(self, space: SearchSpace) -> list[list[Any]]:
        """The values each dimension takes on the grid, in space order."""
        if len(space) > MAX_GRID_DIMS:
            raise BadInput(
                f"grid search covers at most {MAX_GRID_DIMS} hyperparameters, got {len(space)} "
                f"({', '.join(space.names)}); use quasi-random search, which samples every "
                "dimension evenly with the same budget (PB-29)"
            )
        if isinstance(self.points, Mapping):
            for name in self.points:
                if name not in space:
                    raise BadInput(f"grid_points names {name!r}, which is not searched")
                if isinstance(space[name], (Discrete, Categorical)):
                    raise BadInput(
                        f"grid_points cannot set {name!r}: the grid uses all of its values"
                    )
        axes = []
        for name, dim in space.items():
            if isinstance(dim, (Discrete, Categorical)):
                axes.append(list(dim.values))
                continue
            count = self._count(name)
            values = [dim.decode(u) for u in np.linspace(0.0, 1.0, count)]
            if isinstance(dim, Int) and len(set(values)) < count:
                raise BadInput(
                    f"grid_points for {name!r} ({count}) exceeds the integers its range "
                    "offers on its scale"
                )
            axes.append(values)
        return axes

    def budget(self, space: SearchSpace) -> int:
        """The number of grid cells."""
        return int(np.prod([len(axis) for axis in self.axes(space)]))

    def sample(
        self,
        space: SearchSpace,
        seed: int,
        index: int,
        history: Sequence[Observation] = (),
        pending: Sequence[Params] = (),
    ) -> dict[str, Any]:
        """Return grid cell `index`; the seed plays no part in a grid."""
        check_position(seed, index)
        axes = self.axes(space)
        size = int(np.prod([len(axis) for axis in axes]))
        if index >= size:
            raise BadInput(
                f"the grid has {plural(size, 'point')}; trial index {index} is past its end"
            )
        cell = np.unravel_index(index, [len(axis) for axis in axes]) if axes else ()
        return {name: axis[int(i)] for name, axis, i in zip(space.names, axes, cell)}

"""Listed points: a study that runs exactly the configurations it is given (PB-20).

A longer round of compute-bound tuning re-runs the best few configurations of a shorter
one with a larger step budget; no search chooses them, so the study lists them. Point i
is the i-th listed configuration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from tunebook.core.search.sampler import Observation, Params, Sampler, check_position
from tunebook.core.search.space import SearchSpace
from tunebook.sessions.errors import BadInput
from tunebook.sessions.text import plural


class ListedSampler(Sampler):
    """Point `index` is ``points[index]`` restricted to the space's names; the seed plays
    no part and the budget is the number of points."""

    name = "listed"

    def __init__(self, points: Sequence[Mapping[str, Any]] = ()) -> None:
        for point in points:
            if not isinstance(point, Mapping):
                raise BadInput(f"listed points must be tables of values, got {point!r}")
        self.points = tuple(MappingProxyType(dict(point)) for point in points)

    def budget(self, space: SearchSpace) -> int:
        """The number of listed points."""
        return len(self.points)

    def sample(
        self,
        space: SearchSpace,
        seed: int,
        index: int,
        history: Sequence[Observation] = (),
        pending: Sequence[Params] = (),
    ) -> dict[str, Any]:
        """Return listed point `index`, refusing one that lacks a name of `space` or has a
        value outside its dimension."""
        check_position(seed, index)
        if index >= len(self.points):
            raise BadInput(
                f"the study lists {plural(len(self.points), 'point')}; trial index {index} "
                "is past its end"
            )
        point = self.points[index]
        missing = [name for name in space.names if name not in point]
        if missing:
            raise BadInput(f"listed point {index} has no value for {', '.join(missing)}")
        outside = [name for name, dim in space.items() if not dim.contains(point[name])]
        if outside:
            raise BadInput(
                f"listed point {index} has {outside[0]} = {point[outside[0]]!r}, outside "
                "its dimension"
            )
        return {name: point[name] for name in space.names}

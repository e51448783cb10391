"""Random search (PB-29's fallback): independent uniform points in the unit cube."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tunebook.core.search.sampler import Observation, Params, Sampler, check_position
from tunebook.core.search.space import SearchSpace


class RandomSampler(Sampler):
    """Uniform random points; point i comes from its own stream seeded with (seed, i).

    Seeding each point separately makes point i independent of how many points were drawn
    before it and by which worker.
    """

    name = "random"

    def sample(
        self,
        space: SearchSpace,
        seed: int,
        index: int,
        history: Sequence[Observation] = (),
        pending: Sequence[Params] = (),
    ) -> dict[str, Any]:
        """Return a uniform random point drawn from the stream of (seed, index)."""
        check_position(seed, index)
        if len(space) == 0:
            return {}
        return space.decode(np.random.default_rng([seed, index]).random(len(space)))

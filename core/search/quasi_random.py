"""Quasi-random search (PB-29): scrambled Halton points, the default exploration algorithm."""

from __future__ import annotations

import functools
import importlib
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from tunebook.core.search.sampler import Observation, Params, Sampler, check_position
from tunebook.core.search.space import SearchSpace

#: Points are generated in blocks of this many and cached, so drawing a study point by point
#: costs about as much as drawing it at once. A block's content does not depend on its size.
BLOCK = 64


@functools.lru_cache(maxsize=256)
def _halton_block(d: int, seed: int, block: int) -> np.ndarray:
    from scipy.stats import qmc  # here, not at the top: scipy.stats costs a command 0.5 s

    engine = qmc.Halton(d, scramble=True, rng=seed)
    engine.fast_forward(block * BLOCK)
    points = engine.random(BLOCK)
    points.setflags(write=False)
    return points


def import_in_background() -> None:
    """Import scipy.stats (half a second) in a thread, so that a caller about to wait (the
    runner, for its workers) draws its first point without paying for it then."""
    threading.Thread(
        target=importlib.import_module, args=("scipy.stats",), name="tunebook-import", daemon=True
    ).start()


def halton_point(d: int, seed: int, index: int) -> np.ndarray:
    """Point `index` of the d-dimensional scrambled Halton sequence seeded with `seed`."""
    check_position(seed, index)
    block, offset = divmod(index, BLOCK)
    return _halton_block(d, seed, block)[offset]


class QuasiRandomSampler(Sampler):
    """Scrambled Halton sequence (scipy's `qmc.Halton`, Owen's randomized Halton).

    Point i is the i-th point of the sequence seeded with the study seed; categorical and
    discrete dimensions take value floor(u·k), so each value gets an equal share.
    """

    name = "quasi-random"

    def sample(
        self,
        space: SearchSpace,
        seed: int,
        index: int,
        history: Sequence[Observation] = (),
        pending: Sequence[Params] = (),
    ) -> dict[str, Any]:
        """Return point `index` of the study's Halton sequence, decoded into values."""
        check_position(seed, index)
        if len(space) == 0:
            return {}
        return space.decode(halton_point(len(space), seed, index))

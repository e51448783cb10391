"""The search-algorithm interface: one abstract class whose docstring is the contract."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from tunebook.core.search.space import SearchSpace
from tunebook.sessions.errors import BadInput

Params = Mapping[str, Any]
#: A finished trial as a sampler sees it: its hyperparameters and its objective value,
#: or None when the trial was infeasible (diverged, non-finite loss).
Observation = tuple[Params, float | None]


class Sampler(abc.ABC):
    """Proposes the hyperparameters of trial `index` of a study.

    Contract, for every implementation:

    * ``sample(space, seed, index, history, pending)`` returns a dict with a value for
      every name of `space`, each inside its dimension. `seed` is the study's search seed
      and `index` the trial's 0-based position in the study; both are non-negative ints
      and are what the session file stores to reproduce the point.
    * Non-adaptive samplers (``adaptive = False``: quasi-random, random, grid, listed) ignore
      `history` and `pending`: point `index` is a pure function of (space, seed, index).
      So the same study yields the same points whatever the number of workers and the
      order in which they ask, adding trials to a study continues its sequence, and a
      study re-created from its stored space and seed yields identical points.
    * Adaptive samplers (``adaptive = True``: bayesian) depend on `history` (finished
      trials, `Observation`, in the order they were created) and `pending` (the params of
      trials proposed but not finished, so parallel workers are not all sent to the same
      point). They may keep a model between calls (bayesian keeps its Gaussian process),
      so one object serves one study and is given histories that extend each other; its
      proposals are a function of the calls it was given: two objects given the same calls
      propose the same points, in any process. A history that is not an extension of the
      previous one (a trial re-run or removed) makes it start again from that history,
      as a new object would.
    * ``chooser(space, history)`` names the algorithm whose rule picks the next point: the
      sampler's own name, or the one it delegates to (bayesian search's quasi-random
      start-up).
    * ``budget(space)`` is how many distinct points the sampler can give (the grid size,
      the number of listed points), or None when the sequence does not end.
    * Raises `BadInput` when the space or index does not suit the algorithm (a grid over
      three dimensions, an index past the end of a grid, a negative seed).
    """

    #: The algorithm's name in specs and in the session file.
    name: ClassVar[str]
    #: Whether proposals depend on finished trials.
    adaptive: ClassVar[bool] = False

    @abc.abstractmethod
    def sample(
        self,
        space: SearchSpace,
        seed: int,
        index: int,
        history: Sequence[Observation] = (),
        pending: Sequence[Params] = (),
    ) -> dict[str, Any]:
        """Return the hyperparameters of trial `index` (see the class docstring)."""

    def chooser(self, space: SearchSpace, history: Sequence[Observation] = ()) -> str:
        """The algorithm that chooses the next point after `history` (the session records it
        per trial): this sampler's name, unless it hands the choice to another algorithm."""
        return self.name

    def budget(self, space: SearchSpace) -> int | None:
        """How many distinct points this sampler gives for `space`; None when unbounded."""
        return None


def check_position(seed: Any, index: Any) -> None:
    """Refuse seeds and indices that are not non-negative integers (they are stored keys)."""
    for key, value in (("seed", seed), ("index", index)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise BadInput(f"the search {key} must be a non-negative integer, got {value!r}")

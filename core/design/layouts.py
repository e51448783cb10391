"""Study layouts (PB-9): how an experiment's trials are split into studies.

* ``per-value`` (default): one study per combination of scientific values, each searching
  its own (conditional) nuisance space with the full trial budget; the review compares the
  best trial of each. All studies share the design's seed, so studies with the same
  nuisance space try the same nuisance points (a paired comparison).
* ``combined``: one study that samples the scientific values uniformly alongside the
  nuisance ones with quasi-random (or random) search, or runs the listed points of a
  ``listed`` search (each names its scientific and nuisance values); scientific
  hyperparameters become categorical dimensions placed first, where the Halton sequence is
  most even, and
  `coverage` reports how evenly their values were sampled. A conditional nuisance
  hyperparameter gets its own coordinate per scientific value
  (``learning_rate[optimizer=nesterov]``): it is a different hyperparameter (PB-8).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from tunebook.core.design.spec import ExperimentDesign, Objective, value_key
from tunebook.core.search import (
    DEFAULT_STARTUP_TRIALS,
    Categorical,
    Sampler,
    SearchSpace,
    make_sampler,
)
from tunebook.core.search.sampler import Observation, Params
from tunebook.core.search.space import Dimension, Scalar, same_value
from tunebook.sessions.errors import BadInput


@dataclass(frozen=True)
class Variant:
    """One coordinate of a combined study's space and the hyperparameter it feeds.

    ``when = (scientific name, value)`` makes it feed `hparam` only for that value; a
    variant without `when` feeds `hparam` unless a matching conditional variant does.
    """

    coordinate: str
    hparam: str
    when: tuple[str, Scalar] | None = None


@dataclass(frozen=True)
class StudyPlan:
    """One study of an experiment: what it holds fixed, what it samples, and how."""

    name: str
    layout: str
    #: Hyperparameters every trial of the study uses as they are: the design's fixed values
    #: and, in a per-value study, its scientific values.
    fixed: Mapping[str, Any]
    #: Per-value: this study's scientific values. Combined: empty.
    scientific: Mapping[str, Scalar]
    #: What the sampler draws from (the unit cube's named coordinates).
    space: SearchSpace
    algorithm: str
    trials: int
    seed: int
    objective: Objective | None = None
    grid_points: int | Mapping[str, int] | None = None
    #: Combined only: the scientific names sampled as dimensions of `space`.
    sampled_scientific: tuple[str, ...] = ()
    #: Combined only: how the coordinates of `space` feed nuisance hyperparameters.
    variants: tuple[Variant, ...] = ()
    #: Bayesian only: trials drawn quasi-randomly before the model proposes points.
    startup_trials: int = DEFAULT_STARTUP_TRIALS
    #: Listed only: the configurations to run, keyed by the names of `space`.
    points: tuple[Mapping[str, Any], ...] = ()

    def hparams(self, point: Params) -> dict[str, Any]:
        """Turn a sampled point of `space` into the trial's hyperparameters (fixed included)."""
        values: dict[str, Any] = dict(self.fixed)
        values.update(self.scientific)
        if not self.variants:
            values.update(point)
            return values
        values.update({name: point[name] for name in self.sampled_scientific})
        for variant in self.variants:
            if variant.when is None:
                values[variant.hparam] = point[variant.coordinate]
        for variant in self.variants:
            if variant.when is not None and same_value(values[variant.when[0]], variant.when[1]):
                values[variant.hparam] = point[variant.coordinate]
        return values

    def sampler(self) -> Sampler:
        """The study's search algorithm, configured as the plan says."""
        mode = self.objective.mode if self.objective is not None else "min"
        return make_sampler(
            self.algorithm,
            mode=mode,
            grid_points=self.grid_points,
            startup_trials=self.startup_trials,
            points=self.points,
        )

    def draw(
        self,
        index: int,
        history: Sequence[Observation] = (),
        pending: Sequence[Params] = (),
        sampler: Sampler | None = None,
    ) -> tuple[dict[str, Any], str]:
        """Trial `index`'s hyperparameters (see `trial_hparams`) and the name of the
        algorithm that chose its point (``quasi-random`` during a bayesian start-up).

        `sampler` is one kept between draws (the scheduler's, so that a bayesian study's
        model lives on between proposals); by default a new one from `sampler()`.
        """
        sampler = self.sampler() if sampler is None else sampler
        chooser = sampler.chooser(self.space, history)
        point = sampler.sample(self.space, self.seed, index, history, pending)
        return self.hparams(point), chooser

    def trial_hparams(
        self, index: int, history: Sequence[Observation] = (), pending: Sequence[Params] = ()
    ) -> dict[str, Any]:
        """Hyperparameters of trial `index`: sample the study's algorithm, then `hparams`.

        `history` and `pending` are points of `space` (what the sampler returned), used by
        bayesian search only.
        """
        return self.draw(index, history, pending)[0]

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON-safe data for the session file."""
        return {
            "name": self.name,
            "layout": self.layout,
            "fixed": {k: list(v) if isinstance(v, tuple) else v for k, v in self.fixed.items()},
            "scientific": dict(self.scientific),
            "space": self.space.to_dict(),
            "algorithm": self.algorithm,
            "trials": self.trials,
            "seed": self.seed,
            "objective": None
            if self.objective is None
            else {"metric": self.objective.metric, "mode": self.objective.mode},
            "grid_points": dict(self.grid_points)
            if isinstance(self.grid_points, Mapping)
            else self.grid_points,
            "sampled_scientific": list(self.sampled_scientific),
            "variants": [
                [v.coordinate, v.hparam, None if v.when is None else list(v.when)]
                for v in self.variants
            ],
            "startup_trials": self.startup_trials,
            "points": [dict(point) for point in self.points],
        }

    def to_json(self) -> str:
        """JSON text for the session file."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> StudyPlan:
        """Rebuild a plan stored with `to_json`; the space is validated again."""
        try:
            data = json.loads(text)
            objective = data["objective"]
            return cls(
                name=data["name"],
                layout=data["layout"],
                fixed=MappingProxyType(
                    {k: tuple(v) if isinstance(v, list) else v for k, v in data["fixed"].items()}
                ),
                scientific=MappingProxyType(dict(data["scientific"])),
                space=SearchSpace.from_dict(data["space"]),
                algorithm=data["algorithm"],
                trials=int(data["trials"]),
                seed=int(data["seed"]),
                objective=None if objective is None else Objective(**objective),
                grid_points=data["grid_points"],
                sampled_scientific=tuple(data["sampled_scientific"]),
                variants=tuple(
                    Variant(coord, hparam, None if when is None else (when[0], when[1]))
                    for coord, hparam, when in data["variants"]
                ),
                startup_trials=int(data.get("startup_trials", DEFAULT_STARTUP_TRIALS)),
                points=tuple(MappingProxyType(dict(p)) for p in data.get("points", ())),
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise BadInput(f"the stored study plan is malformed ({exc!r})") from None


def _study_name(values: Mapping[str, Scalar], fallback: str) -> str:
    return ", ".join(f"{k}={value_key(v)}" for k, v in values.items()) or fallback


def _trials(design: ExperimentDesign, space: SearchSpace) -> int:
    if design.search.trials is not None:
        return design.search.trials
    budget = make_sampler(design.search.algorithm, grid_points=design.search.grid_points).budget(
        space
    )
    if budget is None:  # only a spec-less design can get here; specs require trials
        raise BadInput(f"{design.name}: [search] trials is missing")
    return budget


def _per_value(design: ExperimentDesign) -> list[StudyPlan]:
    plans = []
    for point in design.scientific_points():
        space = design.nuisance_space(point)
        plans.append(
            StudyPlan(
                name=_study_name(point, design.name),
                layout="per-value",
                fixed=design.fixed,
                scientific=MappingProxyType(point),
                space=space,
                algorithm=design.search.algorithm,
                trials=_trials(design, space),
                seed=design.search.seed,
                objective=design.objective,
                grid_points=design.search.grid_points,
                startup_trials=design.search.startup_trials,
            )
        )
    return plans


def _combined(design: ExperimentDesign) -> StudyPlan:
    coordinates: dict[str, tuple[Variant, Dimension]] = {}
    for point in design.scientific_points():
        active = {name: (Variant(name, name), dim) for name, dim in design.nuisance.items()}
        for cond in design.conditional:
            if same_value(point[cond.scientific], cond.value):
                for name, dim in cond.space.items():
                    coordinate = f"{name}[{cond.scientific}={value_key(cond.value)}]"
                    active[name] = (Variant(coordinate, name, (cond.scientific, cond.value)), dim)
        for variant, dim in active.values():
            coordinates.setdefault(variant.coordinate, (variant, dim))
    dims = [(name, Categorical(values)) for name, values in design.scientific.items()]
    dims += [(coordinate, dim) for coordinate, (_, dim) in coordinates.items()]
    space = SearchSpace(dims)
    return StudyPlan(
        name=design.name,
        layout="combined",
        fixed=design.fixed,
        scientific=MappingProxyType({}),
        space=space,
        algorithm=design.search.algorithm,
        trials=_trials(design, space),
        seed=design.search.seed,
        objective=design.objective,
        sampled_scientific=tuple(design.scientific),
        variants=tuple(variant for variant, _ in coordinates.values()),
        points=tuple(MappingProxyType(dict(point)) for point in design.search.points),
    )


def plan_studies(design: ExperimentDesign) -> list[StudyPlan]:
    """The studies that run the experiment, by its layout (PB-9)."""
    if design.search.layout == "combined":
        return [_combined(design)]
    return _per_value(design)


@dataclass(frozen=True)
class Coverage:
    """How evenly one scientific hyperparameter's values were sampled (combined layout)."""

    #: Trials per value, in the order of the scientific values.
    counts: Mapping[Scalar, int]
    #: Most-sampled count over least-sampled count; inf when a value was never sampled.
    ratio: float
    #: Chi-square test of equal counts; small means uneven; nan without any trial.
    p_value: float


def coverage(
    points: Iterable[Params], scientific: Mapping[str, Sequence[Scalar]]
) -> dict[str, Coverage]:
    """Count each scientific value over trial hyperparameters `points`, per scientific name."""
    from scipy import stats  # here, not at the top: scipy.stats costs a command 0.5 s

    rows = list(points)
    result = {}
    for name, values in scientific.items():
        counts = [
            sum(1 for row in rows if name in row and same_value(row[name], value))
            for value in values
        ]
        low, high = min(counts), max(counts)
        ratio = math.inf if low == 0 else high / low
        p_value = float(stats.chisquare(counts).pvalue) if sum(counts) else math.nan
        result[name] = Coverage(MappingProxyType(dict(zip(values, counts))), ratio, p_value)
    return result

"""Bayesian optimization for exploitation (PB-18): Optuna's GPSampler, rebuilt per proposal.

Optuna never touches the session file: each proposal builds an in-memory study from the
finished trials, asks it for one point and throws it away. Infeasible (diverged) trials
enter as completed with a pessimistic value (the worst feasible value seen) and the
constraint ``diverged = 1.0``, so the Gaussian process learns where training diverges
(constrained expected improvement); feasible trials carry ``diverged = 0.0``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from tunebook.core.search.quasi_random import QuasiRandomSampler
from tunebook.core.search.sampler import Observation, Params, Sampler, check_position
from tunebook.core.search.space import Categorical, Discrete, Float, Int, SearchSpace
from tunebook.sessions.errors import BadInput

MODES = ("min", "max")
#: Usable finished trials a bayesian study waits for before its model proposes points; until
#: then it takes the study's quasi-random points (settable per spec: [search] startup_trials).
DEFAULT_STARTUP_TRIALS = 10


def import_optuna() -> Any:
    """Import optuna quietly, or say how to install it."""
    try:
        import optuna
    except ImportError:
        raise BadInput("bayesian search needs optuna: pip install 'tunebook[bayes]'") from None
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna


def optuna_distributions(space: SearchSpace) -> dict[str, Any]:
    """Optuna distributions for `space` (a discrete dimension becomes its value's index)."""
    optuna = import_optuna()
    dists: dict[str, Any] = {}
    for name, dim in space.items():
        if isinstance(dim, Float):
            dists[name] = optuna.distributions.FloatDistribution(
                dim.low, dim.high, log=dim.scale == "log"
            )
        elif isinstance(dim, Int):
            dists[name] = optuna.distributions.IntDistribution(
                dim.low, dim.high, log=dim.scale == "log"
            )
        elif isinstance(dim, Discrete):
            # The value's index: an ordered integer, so the GP sees 64 < 128 < 256.
            dists[name] = optuna.distributions.IntDistribution(0, len(dim.values) - 1)
        else:
            dists[name] = optuna.distributions.CategoricalDistribution(list(dim.values))
    return dists


def to_optuna_params(space: SearchSpace, params: Params) -> dict[str, Any]:
    """Our values as the params of `optuna_distributions`."""
    out: dict[str, Any] = {}
    for name, dim in space.items():
        value = params[name]
        if isinstance(dim, Float):
            out[name] = float(value)
        elif isinstance(dim, Int):
            out[name] = int(value)
        elif isinstance(dim, Discrete):
            out[name] = round(dim.encode(value) * len(dim.values) - 0.5)
        else:
            out[name] = value
    return out


def from_optuna_params(space: SearchSpace, params: Params) -> dict[str, Any]:
    """Params of `optuna_distributions` back as our values, in our types."""
    out: dict[str, Any] = {}
    for name, dim in space.items():
        value = params[name]
        if isinstance(dim, Discrete):
            out[name] = dim.values[int(value)]
        elif isinstance(dim, Categorical):
            out[name] = value
        else:
            out[name] = type(dim.low)(value)
    return out


class BayesianSampler(Sampler):
    """GP-based Bayesian optimization that models infeasible trials (PB-18).

    Until `n_startup` usable finished trials exist (or while none is feasible) it returns
    the study's quasi-random point `index`, so a bayesian study explores first and then
    exploits. Finished trials outside `space` (e.g. from before the space was refined) and
    non-finite values are left out of the model; non-finite values count as infeasible.
    """

    name = "bayesian"
    adaptive = True

    def __init__(self, mode: str = "min", n_startup: int = DEFAULT_STARTUP_TRIALS) -> None:
        if mode not in MODES:
            raise BadInput(f"the objective mode must be 'min' or 'max', got {mode!r}")
        if isinstance(n_startup, bool) or not isinstance(n_startup, int) or n_startup < 1:
            raise BadInput(f"n_startup must be a positive integer, got {n_startup!r}")
        self.mode = mode
        self.n_startup = n_startup

    def _model_history(
        self, space: SearchSpace, history: Sequence[Observation]
    ) -> list[Observation] | None:
        """The finished trials the model learns from (non-finite values as infeasible), or
        None while the study is still in its quasi-random start-up."""
        usable = [
            (params, value if value is not None and math.isfinite(value) else None)
            for params, value in history
            if space.contains(params)
        ]
        feasible = any(value is not None for _, value in usable)
        if len(space) == 0 or len(usable) < self.n_startup or not feasible:
            return None
        return usable

    def chooser(self, space: SearchSpace, history: Sequence[Observation] = ()) -> str:
        """``bayesian`` once the model proposes points, ``quasi-random`` during the start-up."""
        if self._model_history(space, history) is None:
            return QuasiRandomSampler.name
        return self.name

    def sample(
        self,
        space: SearchSpace,
        seed: int,
        index: int,
        history: Sequence[Observation] = (),
        pending: Sequence[Params] = (),
    ) -> dict[str, Any]:
        """Propose the point with the best constrained expected improvement given `history`."""
        check_position(seed, index)
        usable = self._model_history(space, history)
        if usable is None:
            return QuasiRandomSampler().sample(space, seed, index)
        feasible = [value for _, value in usable if value is not None]
        optuna = import_optuna()
        worst = max(feasible) if self.mode == "min" else min(feasible)
        any_infeasible = len(feasible) < len(usable)
        dists = optuna_distributions(space)
        # One integer per (seed, index): the same history always gives the same proposal.
        sampler_seed = int(np.random.SeedSequence([seed, index]).generate_state(1)[0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = optuna.samplers.GPSampler(
                seed=sampler_seed, n_startup_trials=1, warn_independent_sampling=False
            )
            study = optuna.create_study(
                direction="minimize" if self.mode == "min" else "maximize", sampler=sampler
            )
            for params, value in usable:
                study.add_trial(
                    optuna.trial.create_trial(
                        params=to_optuna_params(space, params),
                        distributions=dists,
                        value=worst if value is None else value,
                        constraints=(
                            {"diverged": 0.0 if value is not None else 1.0}
                            if any_infeasible
                            else None
                        ),
                    )
                )
            for params in pending:
                if space.contains(params):
                    study.add_trial(
                        optuna.trial.create_trial(
                            state=optuna.trial.TrialState.RUNNING,
                            params=to_optuna_params(space, params),
                            distributions=dists,
                        )
                    )
            trial = study.ask(dists)
        return from_optuna_params(space, trial.params)

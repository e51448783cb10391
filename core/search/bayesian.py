"""Bayesian optimization for exploitation (PB-18): Optuna's GPSampler, kept between proposals.

A `BayesianSampler` object keeps one in-memory Optuna study and one `GPSampler` (a
`BayesianModel`) for the study it serves; the scheduler keeps that object for the runner's
lifetime. Each proposal adds only the trials finished since the previous one, so what
GPSampler keeps between asks (the fitted kernel parameters it starts the next fit from, its
random stream) carries over. Optuna never touches the session file. Infeasible (diverged)
trials enter as completed with a pessimistic value (the worst feasible value seen) and the
constraint ``diverged = 1.0``, so the Gaussian process learns where training diverges
(constrained expected improvement); feasible trials carry ``diverged = 0.0`` (no constraint
at all while no trial is infeasible).

Values reach the Gaussian process through an `OutputWarp` fitted when the model is built: a
heavy tail of bad values (a learning rate near divergence, the walls of a valley) is
compressed, so that it does not flatten the model where the good points are; the good side
is never compressed. The warp is kept with the model, so later trials are told the same way.

The model is rebuilt from the whole history, exactly as a new runner builds it the first
time it needs it (its warp fitted again), when the history is not an extension of what it
holds (a trial re-run or removed, another space or seed) or when what it holds would now be
told differently (the first infeasible trial brings the constraint to every trial; a new
worst feasible value changes what infeasible trials carry). Proposals are therefore a
function of the sequence of histories the object was given: the same seed and the same calls
give the same points in any process, but a resumed runner, which builds its model from the
history at hand, may propose differently than an uninterrupted one would have.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class OutputWarp:
    """A monotone map from objective values to what the GP models, lower being better.

    Values are turned to "lower is better" (`sign`), standardized (`center`, `scale`) and
    passed through a Yeo-Johnson transform of power `power` <= 1: below 1 it compresses the
    bad (positive) side and spreads the good side apart; a power above 1 would do the
    reverse and blur the differences between the best points, so it is capped.
    """

    sign: float
    center: float
    scale: float
    power: float

    @classmethod
    def fit(cls, mode: str, values: Sequence[float]) -> OutputWarp:
        """The warp that makes `values` look most normal, its power capped at 1 (identity on
        the standardized values); the identity too when the values are all the same."""
        from scipy import stats  # here, not at the top: scipy.stats costs a command 0.5 s

        sign = 1.0 if mode == "min" else -1.0
        data = sign * np.asarray(values, dtype=float)
        center, scale = float(data.mean()), float(data.std())
        if not scale > 0:
            return cls(sign, center, 1.0, 1.0)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            power = float(stats.yeojohnson_normmax((data - center) / scale))
        return cls(sign, center, scale, min(power, 1.0) if math.isfinite(power) else 1.0)

    def __call__(self, value: float) -> float:
        """The warped value (lower is better)."""
        from scipy import stats

        z = np.array([(self.sign * value - self.center) / self.scale])
        return float(stats.yeojohnson(z, self.power)[0])


def _encoding(mode: str, usable: Sequence[Observation]) -> tuple[bool, float | None]:
    """How `usable` is told to Optuna: whether trials carry the ``diverged`` constraint, and
    the value infeasible trials carry (the worst feasible one; None without infeasible)."""
    feasible = [value for _, value in usable if value is not None]
    if len(feasible) == len(usable):
        return False, None
    return True, max(feasible) if mode == "min" else min(feasible)


class BayesianModel:
    """One in-memory Optuna study and its `GPSampler`, holding a study's usable trials.

    Built from the history at hand; `extends` says whether a later history can be told by
    adding its new trials (`add`), so one GPSampler serves every later proposal.
    """

    def __init__(
        self, space: SearchSpace, seed: int, index: int, mode: str, usable: Sequence[Observation]
    ) -> None:
        optuna = import_optuna()
        self.space, self.seed, self.mode = space, seed, mode
        self.dists = optuna_distributions(space)
        self.encoding = _encoding(mode, usable)
        self.warp = OutputWarp.fit(mode, [value for _, value in usable if value is not None])
        #: The usable observations told so far, in the order they were told.
        self.held: list[Observation] = []
        # One integer per (seed, index it was built at): a fresh process that builds the
        # model from the same history at the same index proposes the same points.
        sampler_seed = int(np.random.SeedSequence([seed, index]).generate_state(1)[0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self.gp = optuna.samplers.GPSampler(
                seed=sampler_seed, n_startup_trials=1, warn_independent_sampling=False
            )
        self.study = optuna.create_study(direction="minimize", sampler=self.gp)
        self.add(usable)

    def extends(self, space: SearchSpace, seed: int, usable: Sequence[Observation]) -> bool:
        """Whether `usable` is what this model holds plus trials after it, told the same way."""
        return (
            space == self.space
            and seed == self.seed
            and list(usable[: len(self.held)]) == self.held
            and _encoding(self.mode, usable) == self.encoding
        )

    def add(self, observations: Sequence[Observation]) -> None:
        """Tell the study finished trials, warped (infeasible ones as the module docstring
        says)."""
        optuna = import_optuna()
        constrained, worst = self.encoding
        for params, value in observations:
            self.study.add_trial(
                optuna.trial.create_trial(
                    params=to_optuna_params(self.space, params),
                    distributions=self.dists,
                    value=self.warp(worst if value is None else value),
                    constraints=(
                        {"diverged": 0.0 if value is not None else 1.0} if constrained else None
                    ),
                )
            )
            self.held.append((dict(params), value))

    def ask(self, pending: Sequence[Params]) -> dict[str, Any]:
        """The next point, steered away from `pending`; the asked trial and the pending ones
        end as failed trials, which the GP ignores (finished trials arrive through `add`)."""
        optuna = import_optuna()
        for params in pending:
            if self.space.contains(params):
                self.study.add_trial(
                    optuna.trial.create_trial(
                        state=optuna.trial.TrialState.RUNNING,
                        params=to_optuna_params(self.space, params),
                        distributions=self.dists,
                    )
                )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            point = self.study.ask(self.dists).params
        for trial in self.study.get_trials(
            deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)
        ):
            self.study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
        return from_optuna_params(self.space, point)


class BayesianSampler(Sampler):
    """GP-based Bayesian optimization that models infeasible trials (PB-18).

    Until `n_startup` usable finished trials exist (or while none is feasible) it returns
    the study's quasi-random point `index`, so a bayesian study explores first and then
    exploits. Finished trials outside `space` (e.g. from before the space was refined) and
    non-finite values are left out of the model; non-finite values count as infeasible.
    The object keeps its `model` between proposals (see the module docstring): use one
    object per study.
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
        #: The model behind the latest proposal; None until the start-up is over.
        self.model: BayesianModel | None = None

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
        """Propose the point with the best constrained expected improvement given `history`,
        adding to the kept model only the trials it does not hold yet (or rebuilding it)."""
        check_position(seed, index)
        usable = self._model_history(space, history)
        if usable is None:
            return QuasiRandomSampler().sample(space, seed, index)
        model = self.model
        if model is not None and model.extends(space, seed, usable):
            model.add(usable[len(model.held) :])
        else:
            model = self.model = BayesianModel(space, seed, index, self.mode, usable)
        return model.ask(pending)
